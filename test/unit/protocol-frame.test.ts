/** The one frame reader (common/protocol/frame.ts): size, UTF-8, JSON, schema and salvage, in that order, for every codec. */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { MAX_BATCH_ITEMS, readFrame } from '../../common/protocol/frame.js';
import { parseGaRequests } from '../../common/protocol/ga-request.js';
import { parseRespuesta } from '../../common/protocol/reply.js';
import { decodeRequest } from '../../common/protocol/ps-gc.js';

const schema = z.object({ ref: z.string(), n: z.number() });
const rules = { schema, maxBytes: 100, salvage: (raw: unknown) => (raw as { ref?: string }).ref };

describe('readFrame', () => {
  it('names the frame defect, checked in order: missing, empty, size, JSON, batch size', () => {
    expect(readFrame(undefined, rules)).toEqual([{ ok: false, defect: { kind: 'missing' } }]);
    expect(readFrame(Buffer.alloc(0), rules)).toEqual([{ ok: false, defect: { kind: 'empty' } }]);
    expect(readFrame('x'.repeat(101), rules)).toEqual([{ ok: false, defect: { kind: 'too-big', bytes: 101 } }]);
    expect(readFrame('{', rules)).toEqual([{ ok: false, defect: { kind: 'not-json' } }]);
    expect(readFrame('[]', { ...rules, batch: true })).toEqual([{ ok: false, defect: { kind: 'batch-size', items: 0 } }]);
    const many = JSON.stringify(Array(MAX_BATCH_ITEMS + 1).fill({ ref: 'a', n: 1 }));
    expect(readFrame(many, { ...rules, maxBytes: 1e6, batch: true })[0]).toMatchObject({ ok: false, defect: { kind: 'batch-size', items: MAX_BATCH_ITEMS + 1 } });
    // `bytes` is the size that was sent when only the start of the body was read.
    expect(readFrame('{}', { ...rules, bytes: 5000 })).toEqual([{ ok: false, defect: { kind: 'too-big', bytes: 5000 } }]);
  });

  it('refuses bytes that are not UTF-8 rather than read them as U+FFFD', () => {
    const latin1 = Buffer.from('{"ref":"Cien años","n":1}', 'latin1');
    expect(readFrame(latin1, rules)).toEqual([{ ok: false, defect: { kind: 'not-utf8' } }]);
    // An encoded lone surrogate and a cut-off sequence are not UTF-8 either.
    expect(readFrame(Buffer.from([0x7b, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x7d]), rules)).toEqual([{ ok: false, defect: { kind: 'not-utf8' } }]);
    expect(readFrame(Buffer.concat([Buffer.from('{"ref":"a","n":1}'), Buffer.from([0xc3])]), rules)).toEqual([{ ok: false, defect: { kind: 'not-utf8' } }]);
    // Size first: an oversized frame is refused for its size, whatever its bytes.
    expect(readFrame(Buffer.alloc(101, 0xff), rules)).toEqual([{ ok: false, defect: { kind: 'too-big', bytes: 101 } }]);
    // The same text in UTF-8 reads; a BOM is still not JSON, as before.
    expect(readFrame(Buffer.from('{"ref":"Cien años","n":1}'), rules)).toEqual([{ ok: true, value: { ref: 'Cien años', n: 1 } }]);
    expect(readFrame(Buffer.from('\ufeff{"ref":"a","n":1}'), rules)).toEqual([{ ok: false, defect: { kind: 'not-json' } }]);
  });

  it('checks each message of a batch alone and salvages the id of a bad one', () => {
    const out = readFrame(JSON.stringify([{ ref: 'a', n: 1 }, { ref: 'b', n: 'x' }, 7]), { ...rules, batch: true });
    expect(out[0]).toEqual({ ok: true, value: { ref: 'a', n: 1 } });
    expect(out[1]).toMatchObject({ ok: false, raw: { ref: 'b', n: 'x' }, salvaged: 'b' });
    expect(out[2]).toMatchObject({ ok: false, raw: 7 });
    // Without `batch`, an array is one (invalid) message.
    expect(readFrame('[1]', rules)).toMatchObject([{ ok: false, raw: [1] }]);
  });
});

describe('the codecs on the one reader keep their own refusals', () => {
  it('PS requests (the original clients read these messages)', () => {
    expect(decodeRequest('')).toMatchObject({ ok: false, mensaje: 'Mensaje vacío' });
    expect(decodeRequest('{')).toMatchObject({ ok: false, mensaje: 'El mensaje no es JSON válido' });
    expect(decodeRequest('[1]')).toMatchObject({ ok: false, mensaje: 'El mensaje debe ser un objeto JSON' });
    expect(decodeRequest('null')).toMatchObject({ ok: false, mensaje: 'El mensaje debe ser un objeto JSON' });
    expect(decodeRequest('x'.repeat(20_000))).toMatchObject({ ok: false, mensaje: 'Mensaje demasiado grande (20000 bytes; máximo 16384)' });
    expect(decodeRequest('{"a":1}')).toEqual({ ok: true, obj: { a: 1 } });
    expect(decodeRequest(Buffer.from('{"operacion":"consulta","titulo":"Cien años"}', 'latin1'))).toEqual({ ok: false, codigo: 'SOLICITUD_INVALIDA', mensaje: 'El mensaje no es texto UTF-8 válido' });
  });

  it('GA requests: every item answered, by its ref when it has one', () => {
    expect(parseGaRequests(Buffer.from('[]'))).toEqual([{ ok: false, ref: '', mensaje: `Lote de 0 solicitudes (de 1 a ${MAX_BATCH_ITEMS})` }]);
    expect(parseGaRequests(Buffer.from([0x7b, 0xff, 0x7d]))).toEqual([{ ok: false, ref: '', mensaje: 'La solicitud no es texto UTF-8 válido' }]);
    const [ok, bad] = parseGaRequests(Buffer.from(JSON.stringify([{ ref: 'r1', orden: 'ping' }, { ref: 'r2', orden: 'nada' }])));
    expect(ok).toEqual({ ok: true, req: { ref: 'r1', orden: 'ping' } });
    expect(bad).toMatchObject({ ok: false, ref: 'r2', mensaje: expect.stringMatching(/^Solicitud inválida/) });
  });

  it('GC replies read by a PS: lenient beyond exito and codigo', () => {
    expect(parseRespuesta(undefined)).toBe('mensaje sin cuerpo');
    expect(parseRespuesta(Buffer.from('nope'))).toBe('no es JSON');
    expect(parseRespuesta(Buffer.from([0x7b, 0xff, 0x7d]))).toBe('no es texto UTF-8');
    expect(parseRespuesta(Buffer.from('3'))).toBe('no es un objeto JSON');
    expect(parseRespuesta(Buffer.from('{"exito":true}'))).toBe("faltan 'exito' o 'codigo'");
    expect(parseRespuesta(Buffer.from('{"exito":true,"codigo":"APROBADO","datos":[1],"id":5}'))).toEqual({
      exito: true,
      codigo: 'APROBADO',
      mensaje: '',
      fechaOperacion: '',
      datos: {},
      id: undefined,
      clave: undefined,
    });
    const full = { exito: false, codigo: 'SIN_EJEMPLARES', mensaje: 'm', fechaOperacion: 'f', datos: { a: 1 }, id: 'i', clave: 'c' };
    expect(parseRespuesta(Buffer.from(JSON.stringify(full)))).toEqual(full);
  });
});
