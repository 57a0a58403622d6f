/**
 * A book held locked by another session (a catalog load, an idle admin transaction) under
 * the real GA server and storage client, many writes for it and for another book in one
 * frame: the other book's writes are answered as soon as they commit, not when the locked
 * book's are done; the locked book's are answered busy (nothing applied) inside the client's
 * attempt, never "no answer" (outcome unknown); the healthy GA's breaker never opens.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import pg from 'pg';
import { GA_VARS, readConfig } from '../../common/config.js';
import { createStorageClient, type StorageClient } from '../../common/storage-client.js';
import { StorageUnavailableError } from '../../common/errors.js';
import { loadCatalog } from '../../gestor_almacenamiento/catalog.js';
import { startGa, type GaHandle } from '../../gestor_almacenamiento/ga.js';
import { captureLogger, clientConfig } from '../harness/fake-ga.js';
import { testLog } from '../harness/fixtures.js';
import { freePorts } from '../harness/ports.js';
import { pgConfig, startTestPostgres, type TestPostgres } from '../harness/postgres.js';

const LOCKED = '978-84-0000-901-1';
const FREE = '978-84-0000-902-8';
let pgs: TestPostgres;
let ga: GaHandle;
let endpoint: string;
let client: StorageClient | undefined;

beforeAll(async () => {
  pgs = await startTestPostgres();
  const [zmqPort, httpPort] = await freePorts(2);
  endpoint = `tcp://127.0.0.1:${zmqPort}`;
  const cfg = readConfig(GA_VARS, {
    LOG_LEVEL: 'silent', GA_BIND: endpoint, GA_HTTP_PORT: String(httpPort), HTTP_HOST: '127.0.0.1', GA_POOL_SIZE: '20',
    PGHOST: pgs.host, PGPORT: String(pgs.port), PGUSER: pgs.user, PGPASSWORD: pgs.password, PGDATABASE: pgs.database,
  });
  ga = await startGa(cfg, testLog, { healthProbeMs: 0 });
  await loadCatalog(ga.pool, [
    { isbn: LOCKED, titulo: 'Retenido', autor: 'A', ejemplares: 100 },
    { isbn: FREE, titulo: 'Libre', autor: 'B', ejemplares: 100 },
  ]);
}, 60_000);

afterAll(async () => {
  await client?.close();
  await ga?.close();
  await pgs?.stop();
});

test('writes beside a locked book are answered when they commit; the locked book\'s are answered busy within the attempt; no breaker opens', async () => {
  const cap = captureLogger();
  // The client's defaults for an attempt (1 s) and its breaker.
  client = createStorageClient(clientConfig([endpoint], { GA_TIMEOUT_MS: 1000, GA_MAX_ATTEMPTS: 4 }), cap.log);
  await client.consultar(FREE);
  const holder = new pg.Client(pgConfig(pgs));
  await holder.connect();
  await holder.query('BEGIN');
  await holder.query('SELECT 1 FROM libros WHERE isbn = $1 FOR UPDATE', [LOCKED]);
  try {
    const t0 = performance.now();
    const outcome = (p: Promise<{ codigo: string }>) =>
      p.then(
        (r) => ({ codigo: r.codigo, ms: performance.now() - t0 }),
        (e: unknown) => ({ codigo: e instanceof StorageUnavailableError ? (e.outcomeUnknown ? 'DESCONOCIDO' : 'NO_APLICADA') : String(e), ms: performance.now() - t0 }),
      );
    // One turn: the client sends them as one batch frame.
    const locked = Array.from({ length: 40 }, (_, i) => outcome(client!.aplicar({ id: `lk-${i}`, operacion: 'prestamo', isbn: LOCKED, usuario: `ul${i}` })));
    const free = Array.from({ length: 20 }, (_, i) => outcome(client!.aplicar({ id: `fr-${i}`, operacion: 'prestamo', isbn: FREE, usuario: `uf${i}` })));
    const f = await Promise.all(free);
    expect(f.map((x) => x.codigo)).toEqual(Array(20).fill('APROBADO'));
    // Answered on commit, not after the locked book's writes gave up (≥ 300 ms lock wait each).
    expect(Math.max(...f.map((x) => x.ms))).toBeLessThan(1000);
    const l = await Promise.all(locked);
    // Busy, nothing applied: never "no answer" (which the caller must treat as maybe applied).
    expect(l.filter((x) => x.codigo === 'DESCONOCIDO')).toEqual([]);
    expect(new Set(l.map((x) => x.codigo))).toEqual(new Set(['NO_APLICADA']));
    expect((await ga.pool.query(`SELECT count(*)::int AS n FROM operaciones WHERE id LIKE 'lk-%'`)).rows[0].n).toBe(0);
    expect(cap.messages().filter((m) => m === 'GA breaker open')).toEqual([]);
  } finally {
    await holder.query('ROLLBACK').catch(() => undefined);
    await holder.end().catch(() => undefined);
  }
}, 60_000);
