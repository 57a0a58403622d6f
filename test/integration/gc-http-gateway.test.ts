/**
 * The GC's two doors with the real GC in-process: its ZeroMQ frontend and its HTTP port
 * (common/http-server.ts with the gateway, as gestor_carga/main.ts wires them). Bytes that
 * are not UTF-8 are refused on both rather than read as U+FFFD; POST /operaciones/ is
 * POST /operaciones; /errors/stats records the status the gateway actually sent (405).
 */
import { describe, expect, it } from 'vitest';
import { Dealer } from 'zeromq';
import { freePorts } from '../harness/ports.js';
import { startGc } from '../../gestor_carga/gc.js';
import { RUTAS_GATEWAY, httpGateway } from '../../gestor_carga/http-gateway.js';
import { startHttpServer } from '../../common/http-server.js';
import { GC_VARS, readConfig } from '../../common/config.js';
import type { Respuesta } from '../../common/protocol/ps-gc.js';
import { stubStorage } from '../harness/stub-storage.js';
import { RELAXED_GC_TIMING, cleanupAfterEach, testLog as log } from '../harness/fixtures.js';

const defer = cleanupAfterEach();

async function system() {
  const [f, p, b] = await freePorts(3);
  const front = `tcp://127.0.0.1:${f}`;
  const g = await startGc(readConfig(GC_VARS, { ...RELAXED_GC_TIMING, GC_FRONTEND_BIND: front, GC_PUB_BIND: `tcp://127.0.0.1:${p}`, GC_BACKEND_BIND: `tcp://127.0.0.1:${b}` }), log, { storage: stubStorage() });
  defer(() => g.close());
  const http = await startHttpServer({ host: '127.0.0.1', port: 0, registry: g.registry, status: () => g.status(), routes: { '/errors/stats': () => g.errorStats() }, api: httpGateway(g, log), apiRoutes: RUTAS_GATEWAY, log });
  defer(() => http.close());
  const base = `http://127.0.0.1:${http.port}`;
  const call = async (method: string, path: string, body?: Buffer | string) => {
    const r = await fetch(`${base}${path}`, { method, body: typeof body === 'string' || body === undefined ? body : new Uint8Array(body) });
    return { status: r.status, body: (await r.json()) as Respuesta & Record<string, unknown> };
  };
  return { g, front, base, call };
}

/** "Cien años" in Latin-1: the ñ is the lone byte 0xF1, no UTF-8 sequence. */
const LATIN1 = Buffer.from('{"operacion":"consulta","titulo":"Cien años de soledad","id":"l1"}', 'latin1');

describe('GC doors: bytes that are not UTF-8', () => {
  it('are refused SOLICITUD_INVALIDA on the ZeroMQ frontend and 400 over HTTP, never looked up altered', async () => {
    const { front, call } = await system();
    const d = new Dealer({ linger: 0, receiveTimeout: 10_000 });
    defer(() => d.close());
    d.connect(front);
    await d.send(LATIN1);
    const [frame] = await d.receive();
    expect(JSON.parse(frame!.toString())).toMatchObject({ exito: false, codigo: 'SOLICITUD_INVALIDA', mensaje: 'El mensaje no es texto UTF-8 válido' });

    expect(await call('POST', '/operaciones', LATIN1)).toMatchObject({ status: 400, body: { codigo: 'SOLICITUD_INVALIDA', mensaje: 'El mensaje no es texto UTF-8 válido' } });
    // An eco of the same bytes is not echoed with U+FFFD either.
    const eco = await call('POST', '/operaciones', Buffer.from('{"operacion":"eco","texto":"año"}', 'latin1'));
    expect(eco).toMatchObject({ status: 400, body: { codigo: 'SOLICITUD_INVALIDA' } });
    // The same request in UTF-8 is read (the stub catalogue has no titles: LIBRO_NO_EXISTE, with the title intact).
    const utf8 = await call('POST', '/operaciones', Buffer.from(LATIN1.toString('latin1'), 'utf8'));
    expect(utf8).toMatchObject({ status: 404, body: { codigo: 'LIBRO_NO_EXISTE', datos: { titulo: 'Cien años de soledad' } } });
  });
});

describe('GC HTTP gateway', () => {
  it('POST /operaciones/ is POST /operaciones; a 405 is counted as 405 in /errors/stats', async () => {
    const { call } = await system();
    expect(await call('POST', '/operaciones/', JSON.stringify({ operacion: 'consulta', isbn: '978-1', id: 'barra' }))).toMatchObject({ status: 200, body: { codigo: 'OK', id: 'barra' } });
    expect(await call('GET', '/operaciones/')).toMatchObject({ status: 405, body: { codigo: 'SOLICITUD_INVALIDA' } });
    expect(await call('GET', '/libros/')).toMatchObject({ status: 404, body: { error: 'no existe', ruta: '/libros/', rutas: expect.arrayContaining(['GET /libros/{isbn}']) } });
    expect(await call('PUT', '/operaciones', '{}')).toMatchObject({ status: 405 });
    expect(await call('POST', '/operaciones', '{')).toMatchObject({ status: 400 });

    const stats = (await call('GET', '/errors/stats')).body as unknown as { porEstadoHttp: Record<string, number>; porClase: Record<string, number>; recientes: Array<{ estadoHttp: number }> };
    expect(stats.porEstadoHttp).toEqual({ '400': 1, '404': 0, '405': 2, '409': 0, '500': 0, '503': 0 });
    expect(stats.porClase).toEqual({ invalid: 3 });
    expect(stats.recientes.map((r) => r.estadoHttp)).toEqual([400, 405, 405]);
  });
});
