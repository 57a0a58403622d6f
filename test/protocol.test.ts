import { describe, expect, it } from 'vitest';
import { MAX_REQUEST_BYTES, parseSolicitud } from '../common/protocol.js';
import { ALL_CODES, errorClass } from '../common/codes.js';

const mk = () => 'gen-1';
const parse = (x: unknown) => parseSolicitud(typeof x === 'string' ? x : JSON.stringify(x), mk);

describe('PS ⇄ GC request codec', () => {
  it('accepts the original client message and makes an id', () => {
    const r = parse({ operacion: 'prestamo', isbn: '978-84-376-0494-7', usuario: 'u123' });
    expect(r).toEqual({ ok: true, solicitud: { operacion: 'prestamo', isbn: '978-84-376-0494-7', usuario: 'u123', id: 'gen-1' } });
  });

  it('normalises case and accents of the operation', () => {
    const r = parse({ operacion: 'Devolución', isbn: '1', usuario: 'a', id: 'x-1' });
    expect(r.ok && r.solicitud.operacion).toBe('devolucion');
    expect(r.ok && r.solicitud.id).toBe('x-1');
  });

  it.each([
    ['empty', '', 'SOLICITUD_INVALIDA'],
    ['not JSON', '{operacion:', 'SOLICITUD_INVALIDA'],
    ['JSON array', '[1,2]', 'SOLICITUD_INVALIDA'],
    ['JSON string', '"prestamo"', 'SOLICITUD_INVALIDA'],
    ['null', 'null', 'SOLICITUD_INVALIDA'],
    ['too large', JSON.stringify({ operacion: 'prestamo', isbn: '1', usuario: 'x'.repeat(MAX_REQUEST_BYTES) }), 'SOLICITUD_INVALIDA'],
    ['missing usuario', { operacion: 'prestamo', isbn: '1' }, 'SOLICITUD_INVALIDA'],
    ['missing isbn', { operacion: 'consulta' }, 'SOLICITUD_INVALIDA'],
    ['estado without id', { operacion: 'estado' }, 'SOLICITUD_INVALIDA'],
    ['extra field', { operacion: 'prestamo', isbn: '1', usuario: 'a', admin: true }, 'SOLICITUD_INVALIDA'],
    ['wrong type', { operacion: 'prestamo', isbn: 9788437604947, usuario: 'a' }, 'SOLICITUD_INVALIDA'],
    ['operacion not a string', { operacion: 7, isbn: '1', usuario: 'a' }, 'SOLICITUD_INVALIDA'],
    ['SQL in isbn', { operacion: 'prestamo', isbn: "1'; DROP TABLE libros;--", usuario: 'a' }, 'SOLICITUD_INVALIDA'],
    ['control chars in usuario', { operacion: 'prestamo', isbn: '1', usuario: 'a\u0000b' }, 'SOLICITUD_INVALIDA'],
    ['huge id', { operacion: 'prestamo', isbn: '1', usuario: 'a', id: 'i'.repeat(200) }, 'SOLICITUD_INVALIDA'],
    ['unknown operation', { operacion: 'borrar', isbn: '1', usuario: 'a' }, 'OPERACION_DESCONOCIDA'],
  ])('%s → %s', (_name, input, codigo) => {
    const r = parse(input);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.codigo).toBe(codigo);
      expect(r.mensaje.length).toBeGreaterThan(5);
    }
  });

  it('echoes a valid id of a rejected request', () => {
    const r = parse({ operacion: 'borrar', isbn: '1', usuario: 'a', id: 'op-9' });
    expect(!r.ok && r.id).toBe('op-9');
  });

  it('classifies every error code', () => {
    for (const c of ALL_CODES) {
      if (!['APROBADO', 'ACEPTADO', 'OK'].includes(c)) expect(errorClass(c)).toBeDefined();
    }
    expect(errorClass('SIN_EJEMPLARES')).toBe('conflict');
    expect(errorClass('APROBADO')).toBeUndefined();
  });
});
