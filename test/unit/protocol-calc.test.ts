/** Validation of calculation requests: the GC's one request path (common/protocol/request.ts) fed bytes. */
import { describe, expect, it } from 'vitest';
import { parseRequest, type RequestParse } from '../../common/protocol/request.js';
import { MAX_N_SUMA_CUADRADOS, MAX_NUMEROS, MAX_TEXTO, tareaCalculoSchema } from '../../common/protocol/calc.js';
import { MAX_REQUEST_BYTES } from '../../common/protocol/ps-gc.js';
import { httpStatusOf } from '../../common/protocol/codes.js';

let n = 0;
const parse = (x: unknown): RequestParse => parseRequest(typeof x === 'string' ? x : JSON.stringify(x), () => `k-${++n}`);
const calculo = (x: unknown) => {
  const r = parse(x);
  if (!r.ok || !('calculo' in r)) throw new Error(`not a calculation: ${JSON.stringify(r)}`);
  return r.calculo;
};
const refused = (x: unknown) => {
  const r = parse(x);
  if (r.ok) throw new Error(`accepted: ${JSON.stringify(r)}`);
  return r;
};

describe('calculation requests', () => {
  it('each operation with its fields; case and accents of operacion ignored; the GC makes a clave', () => {
    expect(calculo({ operacion: 'suma', a: 10, b: 5 })).toEqual({ operacion: 'suma', a: 10, b: 5, clave: expect.stringMatching(/^k-/) });
    expect(calculo({ operacion: 'División', a: 1.5, b: -2, id: 'mi-etiqueta', clave: 'c1' })).toEqual({ operacion: 'division', a: 1.5, b: -2, id: 'mi-etiqueta', clave: 'c1' });
    expect(calculo({ operacion: 'MULTIPLICACIÓN', a: 0, b: 3 }).operacion).toBe('multiplicacion');
    expect(calculo({ operacion: 'resta', a: 1, b: 2, sede: null, id: null })).toEqual({ operacion: 'resta', a: 1, b: 2, clave: expect.any(String) });
    expect(calculo({ operacion: 'eco', texto: '' })).toMatchObject({ operacion: 'eco', texto: '' });
    expect(calculo({ operacion: 'Mayúsculas', texto: 'ñandú' })).toMatchObject({ operacion: 'mayusculas', texto: 'ñandú' });
    expect(calculo({ operacion: 'sumar_lista', numeros: [] })).toMatchObject({ numeros: [] });
    expect(calculo({ operacion: 'suma_cuadrados', n: MAX_N_SUMA_CUADRADOS })).toMatchObject({ n: MAX_N_SUMA_CUADRADOS });
  });

  it('a missing field is named', () => {
    expect(refused({ operacion: 'suma', a: 1 })).toMatchObject({ codigo: 'SOLICITUD_INVALIDA', mensaje: "Falta el campo 'b' para suma" });
    expect(refused({ operacion: 'eco' })).toMatchObject({ mensaje: "Falta el campo 'texto' para eco" });
    expect(refused({ operacion: 'suma_cuadrados' })).toMatchObject({ mensaje: "Falta el campo 'n' para suma_cuadrados" });
  });

  it('wrong types, fields of another operation, non-finite numbers, bounds: SOLICITUD_INVALIDA with the id echoed', () => {
    const bad: unknown[] = [
      { operacion: 'suma', a: '10', b: 5 },
      { operacion: 'suma', a: null, b: 5 },
      { operacion: 'suma', a: 1, b: 2, isbn: '978-1' },
      { operacion: 'suma', a: 1, b: 2, texto: 'x' },
      '{"operacion":"suma","a":1e400,"b":1}',
      { operacion: 'sumar_lista', numeros: [1, 'dos'] },
      { operacion: 'sumar_lista', numeros: 3 },
      { operacion: 'sumar_lista', numeros: Array.from({ length: MAX_NUMEROS + 1 }, () => 1) },
      { operacion: 'eco', texto: 'a\u0000b' },
      { operacion: 'eco', texto: '\ud800' },
      { operacion: 'eco', texto: 'x'.repeat(MAX_TEXTO + 1) },
      { operacion: 'suma_cuadrados', n: 0 },
      { operacion: 'suma_cuadrados', n: -3 },
      { operacion: 'suma_cuadrados', n: 2.5 },
      { operacion: 'suma_cuadrados', n: '9' },
      { operacion: 'suma_cuadrados', n: MAX_N_SUMA_CUADRADOS + 1 },
    ];
    for (const b of bad) {
      const withId = typeof b === 'string' ? b : { ...(b as object), id: 'etq-1' };
      const r = refused(withId);
      expect(r.codigo, JSON.stringify(b).slice(0, 80)).toBe('SOLICITUD_INVALIDA');
      if (typeof b !== 'string') expect(r.id).toBe('etq-1');
    }
    expect(refused({ operacion: 'suma_cuadrados', n: MAX_N_SUMA_CUADRADOS + 1 }).mensaje).toBe(`Solicitud inválida en 'n': como mucho ${MAX_N_SUMA_CUADRADOS} (límite de suma_cuadrados)`);
    expect(refused({ operacion: 'suma_cuadrados', n: 0 }).mensaje).toBe("Solicitud inválida en 'n': debe ser al menos 1");
    expect(refused({ operacion: 'suma_cuadrados', n: 2.5 }).mensaje).toBe("Solicitud inválida en 'n': se espera un entero");
    expect(refused({ operacion: 'suma', a: 'x', b: 1 }).mensaje).toBe("Solicitud inválida en 'a': se espera un número finito");
    expect(refused({ operacion: 'eco', texto: 'x'.repeat(MAX_TEXTO + 1) }).mensaje).toBe(`Solicitud inválida en 'texto': como mucho ${MAX_TEXTO} caracteres`);
  });

  it('the same size, JSON and object checks as library requests', () => {
    expect(refused('').mensaje).toBe('Mensaje vacío');
    expect(refused('{"operacion":"suma",').mensaje).toBe('El mensaje no es JSON válido');
    expect(refused('[1,2]').mensaje).toBe('El mensaje debe ser un objeto JSON');
    const big = JSON.stringify({ operacion: 'eco', texto: 'x'.repeat(MAX_REQUEST_BYTES) });
    expect(refused(big).mensaje).toMatch(/demasiado grande/);
    // Only the start of an oversized body: the refusal names the size that was sent.
    expect(parseRequest('{"operacion":"eco"', () => 'k', 1 << 20)).toMatchObject({ ok: false, mensaje: `Mensaje demasiado grande (${1 << 20} bytes; máximo ${MAX_REQUEST_BYTES})` });
  });

  it('library requests are unchanged; an unknown operation lists the calculations too', () => {
    expect(parse({ operacion: 'prestamo', isbn: '978-1', usuario: 'u1', clave: 'c' })).toEqual({ ok: true, solicitud: { operacion: 'prestamo', isbn: '978-1', usuario: 'u1', clave: 'c' } });
    expect(refused({ operacion: 'prestamo', isbn: '978-1', usuario: 'u1', a: 1 }).codigo).toBe('SOLICITUD_INVALIDA');
    const r = refused({ operacion: 'raiz', isbn: '1' });
    expect(r.codigo).toBe('OPERACION_DESCONOCIDA');
    expect(r.mensaje).toMatch(/prestamo.*suma_cuadrados/);
  });

  it('tasks to actors: suma_cuadrados carries a part (a..b), not n', () => {
    expect(tareaCalculoSchema.safeParse({ id: 't1', intento: 1, calculo: { operacion: 'suma_cuadrados', a: 1, b: 10 } }).success).toBe(true);
    expect(tareaCalculoSchema.safeParse({ id: 't1', intento: 1, calculo: { operacion: 'suma_cuadrados', n: 10 } }).success).toBe(false);
    expect(tareaCalculoSchema.safeParse({ id: 't1', intento: 0, calculo: { operacion: 'suma', a: 1, b: 2 } }).success).toBe(false);
  });
});

describe('HTTP status by code class', () => {
  it('400 invalid, 404 not found, 409 conflict, 503 unavailable, 500 internal; 200, 202 for ACEPTADO', () => {
    expect(['SOLICITUD_INVALIDA', 'OPERACION_DESCONOCIDA', 'DIVISION_POR_CERO', 'FUERA_DE_RANGO'].map(httpStatusOf)).toEqual([400, 400, 400, 400]);
    expect(['LIBRO_NO_EXISTE', 'PRESTAMO_NO_ENCONTRADO', 'OPERACION_NO_ENCONTRADA'].map(httpStatusOf)).toEqual([404, 404, 404]);
    expect(['SIN_EJEMPLARES', 'PRESTAMO_ACTIVO', 'LIMITE_RENOVACIONES', 'ID_REUTILIZADO', 'TITULO_AMBIGUO'].map(httpStatusOf)).toEqual([409, 409, 409, 409, 409]);
    expect(['ALMACENAMIENTO_NO_DISPONIBLE', 'SIN_ACTORES', 'TIEMPO_AGOTADO'].map(httpStatusOf)).toEqual([503, 503, 503]);
    expect(httpStatusOf('ERROR_INTERNO')).toBe(500);
    expect([httpStatusOf('APROBADO'), httpStatusOf('OK'), httpStatusOf('ACEPTADO')]).toEqual([200, 200, 202]);
  });

  it('ping: recognised before any other check of the fields, its id and clave echoed', () => {
    expect(parse({ operacion: 'ping', clave: 'ping-1-1' })).toEqual({ ok: true, ping: { clave: 'ping-1-1' } });
    expect(parse({ operacion: 'ping', id: 'x', otro: 1 })).toEqual({ ok: true, ping: { id: 'x' } });
    expect(parse({ operacion: 'volar' })).toMatchObject({ ok: false, codigo: 'OPERACION_DESCONOCIDA', mensaje: expect.stringMatching(/, ping$/) });
  });
});
