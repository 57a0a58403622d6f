import { describe, expect, it } from 'vitest';
import { MAX_REQUEST_BYTES, errorReply, labelReply, parseSolicitud } from '../../common/protocol/ps-gc.js';
import { splitEnvelope } from '../../common/envelope.js';
import { ALL_CODES, errorClass } from '../../common/protocol/codes.js';

const mk = () => 'gen-1';
const parse = (x: unknown) => parseSolicitud(typeof x === 'string' ? x : JSON.stringify(x), mk);

describe('PS ⇄ GC request codec', () => {
  it('accepts the original client message and makes its clave', () => {
    const r = parse({ operacion: 'prestamo', isbn: '978-84-376-0494-7', usuario: 'u123' });
    expect(r).toEqual({ ok: true, solicitud: { operacion: 'prestamo', isbn: '978-84-376-0494-7', usuario: 'u123', clave: 'gen-1' } });
  });

  it('refusals read in Spanish and name each field once: a missing field as missing, a wrong type as such', () => {
    const mensaje = (o: object) => {
      const r = parse(o);
      return r.ok ? 'aceptada' : r.mensaje;
    };
    expect(mensaje({})).toBe("Falta el campo 'operacion'");
    expect(mensaje({ operacion: 'consulta', isbn: 12345 })).toBe("Solicitud inválida en 'isbn': Entrada inválida: se esperaba texto, recibido número");
    expect(mensaje({ operacion: 'prestamo', isbn: '1', usuario: 'ñandú' })).toMatch(/^Solicitud inválida en 'usuario': de 1 a 64 caracteres, letras sin acento ni ñ/);
  });

  it('normalises case and accents of the operation', () => {
    const r = parse({ operacion: 'Devolución', isbn: '1', usuario: 'a', id: 'x-1' });
    expect(r.ok && r.solicitud.operacion).toBe('devolucion');
    expect(r.ok && r.solicitud.id).toBe('x-1');
  });

  it('an id is a label, never the key: without a clave every request gets a fresh one', () => {
    let n = 0;
    const again = () => parseSolicitud(JSON.stringify({ operacion: 'renovacion', isbn: '1', usuario: 'a', id: '1_a' }), () => `k-${++n}`);
    const [a, b] = [again(), again()];
    expect(a).toEqual({ ok: true, solicitud: { operacion: 'renovacion', isbn: '1', usuario: 'a', id: '1_a', clave: 'k-1' } });
    expect(b.ok && b.solicitud.clave).toBe('k-2');
  });

  it('a clave sent by the client is the key, with or without an id', () => {
    expect(parse({ operacion: 'prestamo', isbn: '1', usuario: 'a', clave: 'ps-1', id: 'mio' })).toEqual({
      ok: true,
      solicitud: { operacion: 'prestamo', isbn: '1', usuario: 'a', clave: 'ps-1', id: 'mio' },
    });
  });

  it("accepts the original menu's nulls and its préstamo by title", () => {
    expect(parse({ operacion: 'prestamo', isbn: '1', titulo: null, usuario: 'a', id: null, sede: null })).toEqual({
      ok: true,
      solicitud: { operacion: 'prestamo', isbn: '1', usuario: 'a', clave: 'gen-1' },
    });
    expect(parse({ operacion: 'prestamo', isbn: null, titulo: '  Cien años de soledad ', usuario: 'a' })).toEqual({
      ok: true,
      solicitud: { operacion: 'prestamo', titulo: 'Cien años de soledad', usuario: 'a', clave: 'gen-1' },
    });
    // An isbn names the book; the title that came with it is not used.
    expect(parse({ operacion: 'consulta', isbn: '1', titulo: 'Otro', usuario: null })).toEqual({ ok: true, solicitud: { operacion: 'consulta', isbn: '1', clave: 'gen-1' } });
  });

  it('an original id built as <isbn>_<usuario> is valid, @ included', () => {
    const r = parse({ operacion: 'prestamo', isbn: '978-1', usuario: 'ana@x.org', id: '978-1_ana@x.org' });
    expect(r.ok && r.solicitud.id).toBe('978-1_ana@x.org');
  });

  it('a reply echoes the client id and carries the clave (the clave stands in for a missing id)', () => {
    const base = errorReply('SIN_EJEMPLARES', undefined, 'k-1');
    expect(labelReply(base, { id: '1_a', clave: 'k-1' })).toMatchObject({ id: '1_a', clave: 'k-1', codigo: 'SIN_EJEMPLARES' });
    expect(labelReply(base, { clave: 'k-1' })).toMatchObject({ id: 'k-1', clave: 'k-1' });
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
    ['isbn and titulo both null', { operacion: 'prestamo', isbn: null, titulo: null, usuario: 'a' }, 'SOLICITUD_INVALIDA'],
    ['blank titulo', { operacion: 'prestamo', titulo: '   ', usuario: 'a' }, 'SOLICITUD_INVALIDA'],
    ['titulo with control chars', { operacion: 'prestamo', titulo: 'a\u0007b', usuario: 'a' }, 'SOLICITUD_INVALIDA'],
    ['titulo too long', { operacion: 'prestamo', titulo: 't'.repeat(501), usuario: 'a' }, 'SOLICITUD_INVALIDA'],
    ['titulo not a string', { operacion: 'prestamo', titulo: 7, usuario: 'a' }, 'SOLICITUD_INVALIDA'],
    ['bad clave', { operacion: 'prestamo', isbn: '1', usuario: 'a', clave: 'sp ace' }, 'SOLICITUD_INVALIDA'],
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

  it('echoes a valid id and clave of a rejected request', () => {
    const r = parse({ operacion: 'borrar', isbn: '1', usuario: 'a', id: 'op-9', clave: 'k-9' });
    expect(!r.ok && [r.id, r.clave]).toEqual(['op-9', 'k-9']);
  });

  describe('ROUTER envelope', () => {
    const id = Buffer.from('peer');
    const empty = Buffer.alloc(0);
    const b = (t: string) => Buffer.from(t);
    it('REQ peer: identity + delimiter, one body frame', () => {
      expect(splitEnvelope([id, empty, b('x')])).toEqual({ envelope: [id, empty], body: b('x'), parts: 1 });
    });
    it('DEALER peer: identity, one body frame', () => {
      expect(splitEnvelope([id, b('x')])).toEqual({ envelope: [id], body: b('x'), parts: 1 });
    });
    it('a multi-part request is counted, and its first part is not taken for envelope', () => {
      expect(splitEnvelope([id, empty, b('a'), b('b')])).toEqual({ envelope: [id, empty], body: b('a'), parts: 2 });
      expect(splitEnvelope([id, b('a'), b('b')])).toMatchObject({ envelope: [id], parts: 2 });
    });
    it("an empty body: a DEALER's empty message, a REQ's empty message", () => {
      expect(splitEnvelope([id, empty])).toEqual({ envelope: [id], body: empty, parts: 1 });
      expect(splitEnvelope([id, empty, empty])).toEqual({ envelope: [id, empty], body: empty, parts: 1 });
    });
  });

  it('classifies every error code', () => {
    for (const c of ALL_CODES) {
      if (!['APROBADO', 'ACEPTADO', 'OK'].includes(c)) expect(errorClass(c)).toBeDefined();
    }
    expect(errorClass('SIN_EJEMPLARES')).toBe('conflict');
    expect(errorClass('APROBADO')).toBeUndefined();
  });
});
