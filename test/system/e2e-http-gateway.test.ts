/**
 * The GC's HTTP gateway end to end: real GC, actors, GA and PostgreSQL as processes; HTTP
 * requests to the GC's HTTP port and, for comparison, one over ZeroMQ. Every status class,
 * malformed and oversized bodies, and /errors/stats counting all of it by class and channel.
 * The 500 comes from a faulty calculo actor played by the test over the real GC sockets:
 * it answers every part wrong, so the GC gives up rather than return a wrong sum.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dealer, Subscriber } from 'zeromq';
import { encode } from '../../common/protocol/ps-gc.js';
import { topicFor } from '../../common/protocol/internal.js';
import { tareaCalculoSchema } from '../../common/protocol/calc.js';
import { MAX_BATCH_BYTES, parseBatch } from '../../common/protocol/frame.js';
import { startTestSystem, type TestSystem } from '../harness/system.js';
import type { GcStatus } from '../../gestor_carga/gc.js';
import { eventually } from '../harness/eventually.js';

const UNICO = '978-0-00-000001-1'; // 1 copy
const OTRO = '978-0-00-000002-2'; // 2 copies
const REPETIDO_A = '978-0-00-000003-3';
const REPETIDO_B = '978-0-00-000004-4';

let sys: TestSystem;
const closers: Array<() => void> = [];

beforeAll(async () => {
  sys = await startTestSystem(
    [
      { isbn: UNICO, ejemplares: 1 },
      { isbn: OTRO, ejemplares: 2 },
      { isbn: REPETIDO_A, ejemplares: 1, titulo: 'Título repetido' },
      { isbn: REPETIDO_B, ejemplares: 1, titulo: 'Título repetido' },
    ],
    { actorsPerType: 1, calcActors: 0 },
  );
});

afterAll(async () => {
  for (const c of closers.splice(0)) c();
  await sys?.stop();
});

interface HttpReply {
  status: number;
  headers: Headers;
  body: Record<string, unknown> & { codigo: string; exito: boolean; mensaje: string; datos: Record<string, unknown> };
}

async function call(method: string, path: string, body?: string): Promise<HttpReply> {
  const r = await fetch(`${sys.gcHttp}${path}`, { method, body, headers: body === undefined ? {} : { 'content-type': 'application/json' } });
  return { status: r.status, headers: r.headers, body: (await r.json()) as HttpReply['body'] };
}
const post = (o: unknown) => call('POST', '/operaciones', typeof o === 'string' ? o : JSON.stringify(o));

/** A raw POST that may be cut off by the server (a body past the transport cap): the reply if one came. */
function rawPost(path: string, size: number): Promise<{ status?: number; error?: string }> {
  const url = new URL(`${sys.gcHttp}${path}`);
  return new Promise((resolve) => {
    const req = http.request({ host: url.hostname, port: url.port, path, method: 'POST', headers: { 'content-length': String(size) } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode }));
      res.on('error', (e) => resolve({ status: res.statusCode, error: e.message }));
    });
    req.on('error', (e) => resolve({ error: e.message }));
    req.end(Buffer.alloc(size, 0x61));
  });
}

const libros = async () => (await sys.db.query('SELECT isbn, disponibles FROM libros ORDER BY isbn')).rows;
const prestamos = async () => Number((await sys.db.query('SELECT count(*) AS n FROM prestamos')).rows[0].n);

describe('HTTP gateway', () => {
  it('POST /operaciones, GET /operaciones/{id}, GET /libros/{isbn}: the same replies as ZeroMQ, status by code class', async () => {
    const prestamo = { operacion: 'prestamo', isbn: UNICO, usuario: 'u1', clave: 'http-1', id: 'mi-etiqueta' };
    const ok = await post(prestamo);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toMatch(/^application\/json/);
    expect(ok.body).toMatchObject({ exito: true, codigo: 'APROBADO', id: 'mi-etiqueta', clave: 'http-1' });
    // The same clave again: the recorded outcome, applied once.
    expect((await post(prestamo)).body).toMatchObject({ codigo: 'APROBADO', clave: 'http-1' });
    expect(await prestamos()).toBe(1);

    const estado = await call('GET', '/operaciones/http-1');
    expect(estado.status).toBe(200);
    expect(estado.body).toMatchObject({ codigo: 'OK', datos: { estado: 'COMPLETADA', clave: 'http-1' } });
    const libro = await call('GET', `/libros/${UNICO}`);
    expect(libro.status).toBe(200);
    expect(libro.body).toMatchObject({ codigo: 'OK', datos: { isbn: UNICO, disponibles: 0 } });

    expect(await post({ operacion: 'prestamo', isbn: UNICO, usuario: 'u2' })).toMatchObject({ status: 409, body: { codigo: 'SIN_EJEMPLARES' } });
    const ambiguo = await post({ operacion: 'consulta', titulo: 'título  REPETIDO' });
    expect(ambiguo).toMatchObject({ status: 409, body: { codigo: 'TITULO_AMBIGUO' } });
    expect(await call('GET', '/libros/978-9-99-999999-9')).toMatchObject({ status: 404, body: { codigo: 'LIBRO_NO_EXISTE' } });
    expect(await call('GET', '/operaciones/no-existe')).toMatchObject({ status: 404, body: { codigo: 'OPERACION_NO_ENCONTRADA' } });
    // A path that is no route: the 404 lists the gateway's routes too, not only the fixed ones.
    expect(await call('GET', '/libros')).toMatchObject({ status: 404, body: { error: 'no existe', ruta: '/libros', rutas: expect.arrayContaining(['/status', 'POST /operaciones', 'GET /libros/{isbn}']) } });
    // Async by default: recorded, applied later.
    const devolucion = await post({ operacion: 'devolucion', isbn: UNICO, usuario: 'u1', clave: 'http-2' });
    expect(devolucion).toMatchObject({ status: 202, body: { codigo: 'ACEPTADO' } });
    await eventually('the devolución applied', async () => (await call('GET', '/operaciones/http-2')).body.datos.estado === 'COMPLETADA', 10_000);
    // A calculation with no calculo actor: unavailable.
    const calc = await post({ operacion: 'suma', a: 1, b: 2 });
    expect(calc).toMatchObject({ status: 503, body: { codigo: 'SIN_ACTORES' } });
    expect(calc.body.mensaje).toMatch(/ningún worker disponible/i);
  });

  it('malformed, unknown, badly encoded, wrong method, 1 MiB and past the transport cap: 400/405, nothing changes, the GC keeps serving', async () => {
    const before = { libros: await libros(), prestamos: await prestamos() };
    expect(await post('{"operacion": "prestamo", ')).toMatchObject({ status: 400, body: { codigo: 'SOLICITUD_INVALIDA', mensaje: 'El mensaje no es JSON válido' } });
    expect(await post({ operacion: 'volar', isbn: UNICO })).toMatchObject({ status: 400, body: { codigo: 'OPERACION_DESCONOCIDA' } });
    expect(await call('GET', '/libros/%E0%A4%A')).toMatchObject({ status: 400, body: { codigo: 'SOLICITUD_INVALIDA' } });
    const put = await call('PUT', '/operaciones', '{}');
    expect(put).toMatchObject({ status: 405, body: { codigo: 'SOLICITUD_INVALIDA' } });
    expect(put.headers.get('allow')).toBe('POST');

    // 1 MiB: read and refused for its size, with the same words as on ZeroMQ.
    const mib = 1 << 20;
    const huge = JSON.stringify({ operacion: 'prestamo', isbn: OTRO, usuario: 'u3', titulo: 'x'.repeat(mib - 80) }).padEnd(mib, ' ');
    expect(Buffer.byteLength(huge)).toBe(mib);
    const big = await post(huge);
    expect(big.status).toBe(400);
    expect(big.body).toMatchObject({ codigo: 'SOLICITUD_INVALIDA', mensaje: `Mensaje demasiado grande (${mib} bytes; máximo 16384)` });
    // Past the 4 MiB transport cap (where ZeroMQ disconnects): refused unread, the connection closed.
    const cut = await rawPost('/operaciones', 5 * mib);
    if (cut.status !== undefined) expect(cut.status).toBe(400);

    expect(await libros()).toEqual(before.libros);
    expect(await prestamos()).toBe(before.prestamos);
    expect((await fetch(`${sys.gcHttp}/health`)).status).toBe(200);
    expect(await post({ operacion: 'consulta', isbn: OTRO })).toMatchObject({ status: 200, body: { datos: { disponibles: 2 } } });
    expect(await sys.client().send({ operacion: 'consulta', isbn: OTRO })).toMatchObject({ codigo: 'OK' });
  });

  it('500: a calculo actor that answers every part wrong makes the GC give up (ERROR_INTERNO), never return a wrong sum', async () => {
    const gc = sys.gcs[0]!;
    const actorId = 'mentiroso-1';
    const sub = new Subscriber({ linger: 0 });
    const dealer = new Dealer({ linger: 0 });
    closers.push(() => {
      sub.close();
      dealer.close();
    });
    sub.connect(gc.pub);
    sub.subscribe(topicFor('calculo', actorId));
    dealer.connect(gc.backend);
    await dealer.send(encode({ t: 'hola', actorId, tipo: 'calculo', pid: process.pid }));
    const beat = setInterval(() => void dealer.send(encode({ t: 'latido', actorId, tipo: 'calculo', enCurso: 0 })).catch(() => undefined), 200);
    closers.push(() => clearInterval(beat));
    let wrong = 0;
    void (async () => {
      try {
        for await (const frames of sub) {
          for (const t of parseBatch(tareaCalculoSchema, frames[1], MAX_BATCH_BYTES).items) {
            wrong++;
            await dealer.send(encode({ t: 'calculado', actorId, tipo: 'calculo', resultado: { id: t.id, codigo: 'OK', valor: '12345' } }));
          }
        }
      } catch {
        // closed
      }
    })();
    await eventually('the faulty actor live', async () => (await sys.gc.status<GcStatus>())?.calculo.actoresVivos === 1, 10_000);

    const r = await post({ operacion: 'suma_cuadrados', n: 10 });
    expect(r.status).toBe(500);
    expect(r.body).toMatchObject({ exito: false, codigo: 'ERROR_INTERNO' });
    expect(r.body.datos.resultado).toBeUndefined();
    expect(wrong).toBe(3);
    for (const c of closers.splice(0)) c();
  });

  it('/errors/stats counts every HTTP and ZeroMQ error by class and status sent (400/404/405/409/500/503) and channel, with the recent ones', async () => {
    // One error over ZeroMQ: a message that is not JSON.
    const d = new Dealer({ linger: 0, receiveTimeout: 5000 });
    try {
      d.connect(sys.gcEndpoint);
      await d.send('esto no es json');
      const [reply] = await d.receive();
      expect(JSON.parse(reply!.toString())).toMatchObject({ codigo: 'SOLICITUD_INVALIDA' });
    } finally {
      d.close();
    }

    const stats = (await (await fetch(`${sys.gcHttp}/errors/stats`)).json()) as {
      total: number;
      porEstadoHttp: Record<string, number>;
      porClase: Record<string, number>;
      porCanal: Record<string, number>;
      porCodigo: Record<string, number>;
      recientes: Array<{ codigo: string; canal: string; estadoHttp: number; operacion: string }>;
    };
    // HTTP: 409 ×2, 404 ×2, 503 ×1 (first test); 400 ×5 (second: JSON, unknown, encoding, 1 MiB, 5 MiB) and 405 ×1 (method),
    // counted as the status sent; 500 ×1. ZeroMQ: 400 ×1.
    expect(stats.porEstadoHttp).toEqual({ '400': 6, '404': 2, '405': 1, '409': 2, '500': 1, '503': 1 });
    expect(stats.porCanal).toEqual({ http: 12, zeromq: 1 });
    expect(stats.total).toBe(13);
    expect(stats.porClase).toEqual({ invalid: 7, not_found: 2, conflict: 2, internal: 1, unavailable: 1 });
    expect(stats.porCodigo).toMatchObject({ SIN_EJEMPLARES: 1, TITULO_AMBIGUO: 1, LIBRO_NO_EXISTE: 1, OPERACION_NO_ENCONTRADA: 1, SIN_ACTORES: 1, ERROR_INTERNO: 1, OPERACION_DESCONOCIDA: 1, SOLICITUD_INVALIDA: 6 });
    // Most recent first: the ZeroMQ one, then the 500.
    expect(stats.recientes[0]).toMatchObject({ codigo: 'SOLICITUD_INVALIDA', canal: 'zeromq', estadoHttp: 400 });
    expect(stats.recientes[1]).toMatchObject({ codigo: 'ERROR_INTERNO', canal: 'http', estadoHttp: 500, operacion: 'suma_cuadrados' });
    expect(stats.recientes).toHaveLength(13);
  });
});
