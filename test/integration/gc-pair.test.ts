/**
 * Two GCs at once, in-process, over real ZeroMQ, with a real GA and PostgreSQL
 * and real actors that work for both: each GC serves what it is sent and gets
 * the results of the tasks it published; async work recorded by a GC that dies
 * is taken over by the other once its ledger lease runs out; a live GC keeps
 * its ops; a PS with both GCs in its list fails over with the same ids.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { Dealer } from 'zeromq';
import { ACTOR_VARS, GA_VARS, GC_VARS, readConfig } from '../../common/config.js';
import { createStorageClient, type StorageClient } from '../../common/storage-client.js';
import type { OperacionActor, Respuesta } from '../../common/protocol/ps-gc.js';
import { startGa, type GaHandle } from '../../gestor_almacenamiento/ga.js';
import { loadCatalog } from '../../gestor_almacenamiento/catalog.js';
import { effectLedgerMismatches, invariantViolations } from '../../gestor_almacenamiento/consistency.js';
import { startGc, type GcHandle } from '../../gestor_carga/gc.js';
import { startActor, type ActorHandle } from '../../actores/actor.js';
import { GcPipelineClient } from '../../solicitante/gc-pipeline.js';
import { GcClientClosedError } from '../../solicitante/errors.js';
import { startTestPostgres, type TestPostgres } from '../harness/postgres.js';
import { freePorts } from '../harness/ports.js';
import { eventually } from '../harness/eventually.js';
import { FAST_GC_TIMING, testLog as log } from '../harness/fixtures.js';

const ISBN = '978-84-0000-777-1';
// Lease: long enough that a stalled test process (both GCs and the GA live in it) does not lapse one.
const LEASE_MS = 2000;
const TIMING = { ...FAST_GC_TIMING, GC_LEASE_MS: String(LEASE_MS), GA_TIMEOUT_MS: '500' };

let pgs: TestPostgres;
let ga: GaHandle;
let gaEndpoint: string;
let db: pg.Pool;
const cleanups: Array<() => unknown> = [];

beforeAll(async () => {
  pgs = await startTestPostgres();
  const [zmq, http] = await freePorts(2);
  gaEndpoint = `tcp://127.0.0.1:${zmq}`;
  ga = await startGa(
    readConfig(GA_VARS, { GA_BIND: gaEndpoint, GA_HTTP_PORT: String(http), HTTP_HOST: '127.0.0.1', PGHOST: pgs.host, PGPORT: String(pgs.port), PGUSER: pgs.user, PGPASSWORD: pgs.password, PGDATABASE: pgs.database }),
    log,
  );
  await loadCatalog(ga.pool, [{ isbn: ISBN, titulo: 'Pareja de GC', autor: 'Prueba', ejemplares: 500 }]);
  db = new pg.Pool({ host: pgs.host, port: pgs.port, user: pgs.user, password: pgs.password, database: pgs.database, max: 2 });
  db.on('error', () => undefined);
}, 60_000);

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) {
    try {
      await c();
    } catch {
      /* keep cleaning the rest */
    }
  }
});

afterAll(async () => {
  await db?.end().catch(() => undefined);
  await ga?.close();
  await pgs?.stop();
});

function storage(): StorageClient {
  const s = createStorageClient(readConfig(GC_VARS, { ...TIMING, GA_ENDPOINTS: gaEndpoint }), log);
  cleanups.push(() => s.close());
  return s;
}

interface Gc {
  id: string;
  front: string;
  pub: string;
  back: string;
  h: GcHandle;
}

async function gc(id: string): Promise<Gc> {
  const [f, p, b] = await freePorts(3);
  const e = { front: `tcp://127.0.0.1:${f}`, pub: `tcp://127.0.0.1:${p}`, back: `tcp://127.0.0.1:${b}` };
  const cfg = readConfig(GC_VARS, { ...TIMING, GA_ENDPOINTS: gaEndpoint, GC_ID: id, GC_SEDE: id, GC_FRONTEND_BIND: e.front, GC_PUB_BIND: e.pub, GC_BACKEND_BIND: e.back });
  const h = await startGc(cfg, log, { storage: storage(), ledgerScanMs: 250 });
  cleanups.push(() => h.close());
  return { id, ...e, h };
}

async function actor(gcs: Gc[], tipo: OperacionActor, id: string): Promise<ActorHandle> {
  const cfg = readConfig(ACTOR_VARS, { ...TIMING, GA_ENDPOINTS: gaEndpoint, GC_PUB_ENDPOINTS: gcs.map((g) => g.pub).join(','), GC_BACKEND_ENDPOINTS: gcs.map((g) => g.back).join(',') });
  const a = await startActor({ ...cfg, ACTOR_TIPOS: [tipo], ACTOR_ID: id }, log, { storage: storage() });
  cleanups.push(() => a.kill());
  return a;
}

const live = (g: Gc, tipo: OperacionActor, n: number) => eventually(`${n} live ${tipo} at ${g.id}`, () => g.h.status().actoresVivos[tipo] >= n, 5000);

/** Requests straight to one GC over a DEALER, replies matched by id. */
function client(g: Gc) {
  const sock = new Dealer({ linger: 0, receiveTimeout: 10_000 });
  sock.connect(g.front);
  cleanups.push(() => sock.close());
  return {
    async many(reqs: Array<Record<string, string>>): Promise<Respuesta[]> {
      for (const r of reqs) await sock.send(JSON.stringify(r));
      const got: Respuesta[] = [];
      for (let i = 0; i < reqs.length; i++) got.push(JSON.parse((await sock.receive()).at(-1)!.toString()) as Respuesta);
      return reqs.map((r) => got.find((x) => x.clave === r.clave)!);
    },
  };
}

async function ledger(ids: string[]): Promise<Map<string, { estado: string; gestor: string | null }>> {
  const r = await db.query<{ id: string; estado: string; gestor: string | null }>('SELECT id, estado, gestor FROM operaciones WHERE id = ANY($1)', [ids]);
  return new Map(r.rows.map((x) => [x.id, { estado: x.estado, gestor: x.gestor }]));
}

async function sound(prefix: string): Promise<void> {
  expect(await effectLedgerMismatches(db, prefix)).toEqual([]);
  expect(await invariantViolations(db)).toEqual([]);
}

describe('two GCs, both active', () => {
  it('an actor works for both: each GC serves what it is sent and hears the results of its own tasks', async () => {
    const [a, b] = [await gc('gc-a'), await gc('gc-b')];
    const act = await actor([a, b], 'prestamo', 'p-ambos');
    await Promise.all([live(a, 'prestamo', 1), live(b, 'prestamo', 1)]);
    const reqs = (g: string) => Array.from({ length: 15 }, (_, i) => ({ operacion: 'prestamo', isbn: ISBN, usuario: `ambos-${g}-${i}`, clave: `ambos-${g}-${i}` }));
    const [ra, rb] = await Promise.all([client(a).many(reqs('a')), client(b).many(reqs('b'))]);
    expect([...ra, ...rb].every((r) => r.codigo === 'APROBADO')).toBe(true);
    expect(a.h.status().respuestas).toBe(15);
    expect(b.h.status().respuestas).toBe(15);
    // Nothing left waiting at either GC: every result came back to the GC that published it.
    expect(a.h.status().tareas.total + b.h.status().tareas.total).toBe(0);
    // The actor heard its tasks from both (15 each; a re-delivery after a slow apply adds one).
    for (const n of act.status().gcs.map((l) => l.tareas)) expect(n).toBeGreaterThanOrEqual(15);
    await sound('ambos-');
    // Each lists both GCs, with their load, through the ledger.
    await eventually('both GCs listed', () => a.h.status().gestores.filter((g) => g.id === 'gc-a' || g.id === 'gc-b').length === 2, 3000);
    const listed = new Map(a.h.status().gestores.map((g) => [g.id, g]));
    expect(listed.get('gc-b')).toMatchObject({ vivo: true, informe: { sede: 'gc-b' } });
  });

  it('a GC that dies holding ACEPTADO work not yet applied: the other takes it over when the lease runs out, and completes it', async () => {
    const [a, b] = [await gc('gc-muere'), await gc('gc-sigue')];
    await actor([a, b], 'prestamo', 'p-m');
    await live(a, 'prestamo', 1);
    const users = Array.from({ length: 6 }, (_, i) => `muere-${i}`);
    const ca = client(a);
    expect((await ca.many(users.map((u) => ({ operacion: 'prestamo', isbn: ISBN, usuario: u, clave: `${u}-p` })))).every((r) => r.codigo === 'APROBADO')).toBe(true);
    // No devolución actor anywhere: the returns are recorded (ACEPTADO) and wait at gc-muere.
    const devs = users.map((u) => ({ operacion: 'devolucion', isbn: ISBN, usuario: u, clave: `${u}-d` }));
    expect((await ca.many(devs)).every((r) => r.codigo === 'ACEPTADO')).toBe(true);
    expect(a.h.status().tareas['en-cola']).toBe(6);
    const ids = devs.map((d) => d.clave);
    expect((await ledger(ids)).size).toBe(6);
    expect([...(await ledger(ids)).values()].every((r) => r.estado === 'PENDIENTE' && r.gestor === 'gc-muere')).toBe(true);

    await a.h.abort();
    await actor([a, b], 'devolucion', 'd-m');
    await eventually('returns completed', async () => [...(await ledger(ids)).values()].every((r) => r.estado === 'COMPLETADA'), 8000);
    const rows = await ledger(ids);
    expect([...rows.values()].every((r) => r.gestor === 'gc-sigue')).toBe(true);
    await sound('muere-');
  });

  it('a live GC keeps its op: the same id through the other GC is ACEPTADO there but published only by its holder', async () => {
    const [a, b] = [await gc('gc-duena'), await gc('gc-otra')];
    await actor([a, b], 'prestamo', 'p-d');
    await live(a, 'prestamo', 1);
    const [loan] = await client(a).many([{ operacion: 'prestamo', isbn: ISBN, usuario: 'duena-1', clave: 'duena-1-p' }]);
    expect(loan!.codigo).toBe('APROBADO');
    const dev = { operacion: 'devolucion', isbn: ISBN, usuario: 'duena-1', clave: 'duena-1-d' };
    expect((await client(a).many([dev]))[0]!.codigo).toBe('ACEPTADO');
    // A PS that failed over repeats it at gc-otra while gc-duena is alive and holds it.
    expect((await client(b).many([dev]))[0]!.codigo).toBe('ACEPTADO');
    expect(b.h.status().tareas.total).toBe(0);
    // Several lease periods later it still belongs to gc-duena (renewed), and gc-otra never took it up.
    await new Promise((r) => setTimeout(r, 2 * LEASE_MS));
    expect(b.h.status().tareas.total).toBe(0);
    expect((await ledger([dev.clave])).get(dev.clave)).toEqual({ estado: 'PENDIENTE', gestor: 'gc-duena' });
    const d = await actor([a, b], 'devolucion', 'd-d');
    await eventually('return applied', async () => (await ledger([dev.clave])).get(dev.clave)?.estado === 'COMPLETADA', 5000);
    // Only the holder published it (more than once if a slow first apply outlived GC_TASK_DEADLINE_MS,
    // as on a loaded CI host: a re-delivery to the same actor, which the GA applies once).
    const [fromHolder, fromOther] = d.status().gcs.map((l) => l.tareas);
    expect(fromOther).toBe(0);
    expect(fromHolder).toBeGreaterThanOrEqual(1);
    await sound('duena-');
  });

  it('a PS with both GCs in its list fails over when its own dies mid-load: every request answered, each applied once', async () => {
    const [a, b] = [await gc('gc-ps-a'), await gc('gc-ps-b')];
    await actor([a, b], 'prestamo', 'p-ps');
    await actor([a, b], 'devolucion', 'd-ps');
    await Promise.all([live(a, 'devolucion', 1), live(b, 'devolucion', 1)]);
    // Failover is on disconnect, not on this timeout: a long one keeps a stalled host's slow reply from counting as a failure.
    const ps = new GcPipelineClient({ endpoints: [a.front, b.front], timeoutMs: 10_000, retries: 0 });
    cleanups.push(() => ps.close());
    const byGc = new Map<string, number>();
    const failures: unknown[] = [];
    let stop = false;
    const worker = async (w: number) => {
      for (let n = 0; !stop; n++) {
        const usuario = `ps-${w}-${n}`;
        for (const operacion of ['prestamo', 'devolucion'] as const) {
          try {
            const r = await ps.request({ operacion, isbn: ISBN, usuario, id: `${usuario}-${operacion}` });
            byGc.set(r.endpoint, (byGc.get(r.endpoint) ?? 0) + 1);
            if (!['APROBADO', 'ACEPTADO'].includes(r.respuesta.codigo)) failures.push(r.respuesta);
          } catch (err) {
            // A closed client (the test is over, or failed and its cleanup ran) rejects at once: stop, do not spin.
            if (err instanceof GcClientClosedError) return;
            failures.push(err);
          }
        }
      }
    };
    const workers = [0, 1, 2, 3].map(worker);
    let before: number;
    try {
      await eventually('load through its own GC', () => (byGc.get(a.front) ?? 0) >= 10, 10_000);
      before = byGc.get(a.front) ?? 0;
      await a.h.abort();
      await eventually('load through the other GC', () => (byGc.get(b.front) ?? 0) >= 10, 10_000);
    } finally {
      // Also on failure: workers left running would keep loading the GCs and the GA past the test.
      stop = true;
      await Promise.all(workers);
    }
    expect(failures).toEqual([]);
    expect(before).toBeGreaterThan(0);
    expect(byGc.get(b.front) ?? 0).toBeGreaterThan(0);
    // Every return completes (those gc-ps-a held are taken over once its lease runs out).
    await eventually('no pending returns', async () => (await db.query(`SELECT count(*)::int AS n FROM operaciones WHERE estado = 'PENDIENTE' AND usuario LIKE 'ps-%'`)).rows[0].n === 0, 8000);
    await sound('ps-');
  });
});
