/**
 * A result answers only the op it is about: a slow actor may still report an earlier op
 * that used the same clave after the GC has moved on to another one (its outcome must not
 * be handed to the new op's requester).
 */
import { describe, expect, it } from 'vitest';
import { resultOf } from '../../gestor_carga/dispatcher.js';
import type { OperacionSolicitada, Resultado } from '../../common/protocol/ps-gc.js';

const op: OperacionSolicitada = { operacion: 'renovacion', isbn: '978-2', usuario: 'u2', id: 'k1' };
const res = (x: Partial<Resultado>): Resultado => ({ id: 'k1', exito: true, codigo: 'APROBADO', mensaje: '', datos: {}, fechaOperacion: '', ...x });

describe('resultOf', () => {
  it('the same op: yes, also when the result names only some of it', () => {
    expect(resultOf(res({ operacion: 'renovacion', datos: { isbn: '978-2', usuario: 'u2' } }), op)).toBe(true);
    expect(resultOf(res({ operacion: 'renovacion', codigo: 'ID_REUTILIZADO', exito: false, datos: { operacionRegistrada: 'prestamo' } }), op)).toBe(true);
    expect(resultOf(res({ codigo: 'ERROR_INTERNO', exito: false }), op)).toBe(true);
  });

  it('another operation, book or user under the clave: no', () => {
    expect(resultOf(res({ operacion: 'prestamo', datos: { isbn: '978-2', usuario: 'u2' } }), op)).toBe(false);
    expect(resultOf(res({ operacion: 'renovacion', datos: { isbn: '978-1', usuario: 'u2' } }), op)).toBe(false);
    expect(resultOf(res({ operacion: 'renovacion', datos: { isbn: '978-2', usuario: 'u1' } }), op)).toBe(false);
  });
});
