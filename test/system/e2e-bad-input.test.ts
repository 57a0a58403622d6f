/**
 * Bad input through the real GC: every malformed request gets a clear error
 * code, nothing changes in the database and every process stays up.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dealer, Request } from 'zeromq';
import { startTestSystem, type TestSystem } from '../harness/system.js';

const ISBN = '978-2-00-000001-0';
let sys: TestSystem;
let req: Request;

beforeAll(async () => {
  sys = await startTestSystem([{ isbn: ISBN, ejemplares: 2 }]);
});
afterAll(async () => {
  req?.close();
  await sys?.stop();
});

async function snapshot() {
  const r = await sys.db.query(`SELECT (SELECT json_agg(l ORDER BY isbn) FROM libros l) AS libros,
                                       (SELECT count(*) FROM prestamos) AS prestamos,
                                       (SELECT count(*) FROM operaciones) AS operaciones`);
  return r.rows[0];
}

async function send(raw: Buffer | string): Promise<Record<string, unknown>> {
  req ??= (() => {
    const s = new Request({ receiveTimeout: 5000, sendTimeout: 5000, linger: 0 });
    s.connect(sys.gcEndpoint);
    return s;
  })();
  await req.send(raw);
  const [reply] = await req.receive();
  return JSON.parse(reply!.toString());
}

const cases: Array<[string, Buffer | string, string]> = [
  ['not JSON', 'hola mundo', 'SOLICITUD_INVALIDA'],
  ['empty', '', 'SOLICITUD_INVALIDA'],
  ['1 MiB', Buffer.alloc(1024 * 1024, 0x61), 'SOLICITUD_INVALIDA'],
  ['1 MiB of valid JSON', JSON.stringify({ operacion: 'prestamo', isbn: ISBN, usuario: 'u'.repeat(1024 * 1024) }), 'SOLICITUD_INVALIDA'],
  ['missing usuario', JSON.stringify({ operacion: 'prestamo', isbn: ISBN }), 'SOLICITUD_INVALIDA'],
  ['extra field', JSON.stringify({ operacion: 'prestamo', isbn: ISBN, usuario: 'u', disponibles: 99 }), 'SOLICITUD_INVALIDA'],
  ['wrong-typed isbn', JSON.stringify({ operacion: 'prestamo', isbn: 978, usuario: 'u' }), 'SOLICITUD_INVALIDA'],
  ['wrong-typed id', JSON.stringify({ operacion: 'prestamo', isbn: ISBN, usuario: 'u', id: { $ne: 1 } }), 'SOLICITUD_INVALIDA'],
  ['unknown operation', JSON.stringify({ operacion: 'reservar', isbn: ISBN, usuario: 'u' }), 'OPERACION_DESCONOCIDA'],
  ['SQL injection in isbn', JSON.stringify({ operacion: 'prestamo', isbn: `${ISBN}'; UPDATE libros SET disponibles=0;--`, usuario: 'u' }), 'SOLICITUD_INVALIDA'],
  ['script in usuario', JSON.stringify({ operacion: 'prestamo', isbn: ISBN, usuario: '<script>alert(1)</script>' }), 'SOLICITUD_INVALIDA'],
  ['unicode tricks in usuario', JSON.stringify({ operacion: 'prestamo', isbn: ISBN, usuario: 'u\u202e\u0000' }), 'SOLICITUD_INVALIDA'],
  ['JSON array', '[{"operacion":"prestamo"}]', 'SOLICITUD_INVALIDA'],
  ['invalid UTF-8', Buffer.from([0xff, 0xfe, 0x7b]), 'SOLICITUD_INVALIDA'],
];

describe('bad input', () => {
  it.each(cases)('%s → %s', async (_name, raw, codigo) => {
    const before = await snapshot();
    const r = await send(raw);
    expect(r).toMatchObject({ exito: false, codigo });
    expect(typeof r.mensaje).toBe('string');
    expect(typeof r.fechaOperacion).toBe('string');
    expect(await snapshot()).toEqual(before);
  });

  it('echoes the op id of a rejected request', async () => {
    const r = await send(JSON.stringify({ operacion: 'reservar', isbn: ISBN, usuario: 'u', id: 'mal-1' }));
    expect(r).toMatchObject({ codigo: 'OPERACION_DESCONOCIDA', id: 'mal-1' });
  });

  it('survives multi-frame garbage from a DEALER and keeps serving', async () => {
    const d = new Dealer({ linger: 0 });
    d.connect(sys.gcEndpoint);
    await d.send([Buffer.from('a'), Buffer.from('b'), Buffer.from('c')]);
    await d.send(Buffer.alloc(0));
    d.close();
    const ok = await send(JSON.stringify({ operacion: 'consulta', isbn: ISBN }));
    expect(ok).toMatchObject({ exito: true, codigo: 'OK' });
    expect(ok.datos).toMatchObject({ isbn: ISBN, disponibles: 2, total: 2 });
  });

  it('leaves every process running', async () => {
    for (const p of [sys.ga, sys.gc, ...sys.actors]) expect(p.running, p.spec.name).toBe(true);
    const r = await send(JSON.stringify({ operacion: 'prestamo', isbn: ISBN, usuario: 'despues' }));
    expect(r).toMatchObject({ exito: true, codigo: 'APROBADO' });
  });
});
