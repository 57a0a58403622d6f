/**
 * The GA pair over real streaming replication on two simulated hosts
 * (pc1 = 127.0.1.1: PostgreSQL primary + GA primary; pc2 = 127.0.1.2: standby +
 * GA backup), with the real storage client under load. In order, sharing state:
 *  1. pc1's storage side dies (PostgreSQL + GA): the backup promotes its standby,
 *     writes continue on timeline 2, nothing acknowledged is lost or doubled;
 *  2. pc1 comes back the dangerous way (PostgreSQL restarted plainly, read-write on
 *     timeline 1) and its GA restarts: the GA is FENCED and writes nothing there;
 *     once pc1 is rejoined as a standby of pc2 the GA leaves FENCED by itself;
 *  3. pc2's PostgreSQL dies under its active GA: that GA steps down, and pc1's GA
 *     takes over by promoting its (rejoined) standby onto timeline 3.
 * Replication is synchronous (GA_REPLICACION=sync, run by the active GA), so not
 * one acknowledged op may be missing on the promoted node.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { GA_VARS, REPLICATION_VARS, readConfig, type GaConfig, type ReplicationConfig } from '../../common/config.js';
import type { OperacionSolicitada } from '../../common/protocol/ps-gc.js';
import { createStorageClient, type StorageClient } from '../../common/storage-client.js';
import { loadCatalog } from '../../gestor_almacenamiento/catalog.js';
import { startGa, type GaHandle } from '../../gestor_almacenamiento/ga.js';
import { migrate } from '../../gestor_almacenamiento/migrate.js';
import { pgRole, type PgConn } from '../../postgres/admin.js';
import { cloneStandby } from '../../postgres/clone.js';
import { killNode, killOnExit, startNode, startPrimary, stopNode } from '../../postgres/lifecycle.js';
import { nodeConn, type PgNodeSpec } from '../../postgres/node-config.js';
import { reclone, restartAsStandby } from '../../postgres/rejoin.js';
import { PC1, PC2, freePortOnAll } from '../../scripts/launcher/hosts.js';
import { clientConfig } from '../harness/fake-ga.js';
import { freePorts } from '../harness/ports.js';
import { eventually } from '../harness/eventually.js';
import { testLog as log } from '../harness/fixtures.js';

const PEER_TIMEOUT_MS = 1000;
const ISBN = '978-0-00-000002-2';
const timings: Record<string, number> = {};

let root = '';
let pc1: PgNodeSpec;
let pc2: PgNodeSpec;
let cfg1: Cfg;
let cfg2: Cfg;
let ga1: GaHandle | undefined;
let ga2: GaHandle | undefined;
let client: StorageClient;

async function withDb<T>(conn: PgConn, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ ...conn, connectionTimeoutMillis: 2000 });
  c.on('error', () => undefined);
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

const ledgerCount = (conn: PgConn) => withDb(conn, async (c) => (await c.query<{ n: number }>('SELECT count(*)::int AS n FROM operaciones')).rows[0]!.n);

type Cfg = GaConfig & ReplicationConfig;

/** Each GA waits (sync mode) for the standby on the OTHER host: pc1's GA for 'pc2', pc2's for 'pc1'. */
function gaConfig(rol: 'primary' | 'backup', host: string, peerHost: string, ports: number[], pgPort: number, standbyName: string): Cfg {
  const [zmq, http, peerBind, peerPeer] = ports;
  const env = {
    LOG_LEVEL: 'silent',
    GA_ROL: rol,
    GA_BIND: `tcp://${host}:${zmq}`,
    GA_HTTP_PORT: String(http),
    HTTP_HOST: host,
    GA_PEER_BIND: `tcp://${host}:${peerBind}`,
    GA_PEER_ENDPOINT: `tcp://${peerHost}:${peerPeer}`,
    GA_HEARTBEAT_MS: '100',
    GA_PEER_TIMEOUT_MS: String(PEER_TIMEOUT_MS),
    GA_POOL_SIZE: '5',
    PGHOST: host,
    PGPORT: String(pgPort),
    PG_PEER_HOST: peerHost,
    PG_PEER_PORT: String(pgPort),
    GA_REPLICACION: 'sync',
    GA_SYNC_DEGRADE_MS: '3000',
    GA_STANDBY_NAME: standbyName,
  };
  return { ...readConfig(GA_VARS, env), ...readConfig(REPLICATION_VARS, env) };
}

/** Every load started, so afterAll can stop the ones a failed test left running. */
const loads: { stop(): Promise<void> }[] = [];

/** Load from 3 concurrent callers until stopped; records acknowledged op ids and failures. */
function load(prefix: string) {
  const acked: string[] = [];
  const failures: string[] = [];
  let n = 0;
  let stopped = false;
  let firstOkAfter = 0;
  let markAt = 0;
  const worker = async () => {
    while (!stopped) {
      const o: OperacionSolicitada = { operacion: 'prestamo', isbn: ISBN, usuario: `${prefix}-u${++n}`, id: `${prefix}-${n}` };
      const startedAt = Date.now();
      try {
        const r = await client.aplicar(o);
        if (r.codigo !== 'APROBADO') failures.push(`${o.id}: ${r.codigo}`);
        acked.push(o.id);
        // Recovery = the first op STARTED after the fault that succeeds.
        if (markAt && startedAt >= markAt && !firstOkAfter) firstOkAfter = Date.now();
      } catch (err) {
        failures.push(`${o.id}: ${(err as Error).message}`);
      }
    }
  };
  const workers = Array.from({ length: 3 }, worker);
  const handle = {
    acked,
    failures,
    mark: () => (markAt = Date.now()),
    recoveredMs: () => (firstOkAfter ? firstOkAfter - markAt : undefined),
    stop: async () => {
      stopped = true;
      await Promise.all(workers);
    },
  };
  loads.push(handle);
  return handle;
}

async function checkLedger(conn: PgConn, acked: string[]): Promise<void> {
  await withDb(conn, async (c) => {
    const rows = await c.query<{ id: string; estado: string }>('SELECT id, estado FROM operaciones WHERE id = ANY($1)', [acked]);
    expect(rows.rowCount).toBe(acked.length); // none lost (ids are unique, so none doubled either)
    expect(rows.rows.every((r) => r.estado === 'COMPLETADA')).toBe(true);
    const inv = await c.query<{ ok: boolean }>(
      `SELECT bool_and(l.total = l.disponibles + (SELECT count(*) FROM prestamos p WHERE p.isbn = l.isbn AND p.estado = 'ACTIVO')) AS ok FROM libros l`,
    );
    expect(inv.rows[0]!.ok).toBe(true);
  });
}

const estado = (g: GaHandle | undefined) => g?.role?.machine.state;
const status = async (g: GaHandle, host: string) => (await (await fetch(`http://${host}:${g.httpPort}/status`)).json()) as Record<string, any>;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'ga-promote-'));
  const pgPort = await freePortOnAll([PC1, PC2]);
  pc1 = { dataDir: path.join(root, 'pc1'), host: PC1, port: pgPort };
  pc2 = { dataDir: path.join(root, 'pc2'), host: PC2, port: pgPort };
  killOnExit(pc1.dataDir);
  killOnExit(pc2.dataDir);
  await startPrimary({ ...pc1, log });
  const db = new pg.Pool({ ...nodeConn(pc1), max: 2 });
  db.on('error', () => undefined);
  await migrate(db, log);
  await loadCatalog(db, [{ isbn: ISBN, titulo: 'Promoción', autor: 'GA', ejemplares: 100_000 }]);
  await db.end();
  await cloneStandby({ primary: nodeConn(pc1), primaryDataDir: pc1.dataDir, ...pc2, slot: 'pc2', applicationName: 'pc2', log });

  const p1 = await freePorts(4, PC1);
  const p2 = await freePorts(4, PC2);
  cfg1 = gaConfig('primary', PC1, PC2, [p1[0]!, p1[1]!, p1[2]!, p2[2]!], pgPort, 'pc2');
  cfg2 = gaConfig('backup', PC2, PC1, [p2[0]!, p2[1]!, p2[2]!, p1[2]!], pgPort, 'pc1');
  ga1 = await startGa(cfg1, log, { healthProbeMs: 200 });
  ga2 = await startGa(cfg2, log, { healthProbeMs: 200 });
  await eventually('GA primary ACTIVE, backup PASSIVE', () => estado(ga1) === 'ACTIVE' && estado(ga2) === 'PASSIVE', 10_000);
  await eventually('sync replication on pc1', async () => (await status(ga1!, PC1)).replicacion.modo === 'sync', 10_000);
  client = createStorageClient(clientConfig([ga1.endpoint, ga2.endpoint], { GA_TIMEOUT_MS: 500, GA_MAX_ATTEMPTS: 20 }), log);
});

afterAll(async () => {
  // First: a load left running by a failed test would spin on the closed client and starve the event loop.
  await Promise.all(loads.map((l) => l.stop()));
  await client?.close();
  await ga1?.abort().catch(() => undefined);
  await ga2?.abort().catch(() => undefined);
  for (const n of [pc1, pc2]) if (n) await stopNode(n.dataDir, { mode: 'immediate' }).catch(() => killNode(n.dataDir));
  if (root) await rm(root, { recursive: true, force: true });
  process.stdout.write(`ga-role-promote timings: ${JSON.stringify(timings)}\n`);
});

describe.sequential('GA pair over streaming replication on two simulated hosts', () => {
  it("pc1's storage side dies: the backup promotes its standby and writes continue on timeline 2", async () => {
    const l = load('a');
    await eventually('load on pc1', () => l.acked.length >= 50, 10_000);
    const t0 = Date.now();
    await Promise.all([killNode(pc1.dataDir), ga1!.abort()]);
    l.mark();
    ga1 = undefined;
    await eventually('backup ACTIVE', () => estado(ga2) === 'ACTIVE', 15_000);
    timings.storageHostKillToActiveMs = Date.now() - t0;
    await eventually('service back', () => l.recoveredMs() !== undefined, 15_000);
    timings.storageHostKillToFirstOkMs = l.recoveredMs()!;
    const n = l.acked.length;
    await eventually('more load on pc2', () => l.acked.length >= n + 50, 10_000);
    await l.stop();

    expect(l.failures).toEqual([]);
    expect(await pgRole(nodeConn(pc2))).toMatchObject({ inRecovery: false, timeline: 2 });
    await checkLedger(nodeConn(pc2), l.acked);
    const s = await status(ga2!, PC2);
    expect(s.papel).toMatchObject({ estado: 'ACTIVE', timelineMaximo: 2 });
    expect(s.papel.motivo).toMatch(/promoted local/);
    expect(s.postgres).toMatchObject({ rolPg: 'primary', timeline: 2, host: PC2 });
    expect(timings.storageHostKillToFirstOkMs).toBeLessThan(PEER_TIMEOUT_MS + 2500);
    // The new primary keeps WAL for its standby-to-be from the moment its GA took over:
    // a pc1 that comes back as a standby by itself (deploy/postgres) finds its slot.
    await eventually("slot 'pc1' on pc2", async () => (await withDb(nodeConn(pc2), (c) => c.query("SELECT 1 FROM pg_replication_slots WHERE slot_name = 'pc1'"))).rowCount === 1, 5000);
  });

  it('the old primary comes back read-write on timeline 1 with its GA: the GA is fenced and writes nothing; rejoined, it unfences', async () => {
    // The hazard FACTS.md warns about: a plain restart of the former primary.
    await startNode(pc1, { timeoutMs: 10_000 });
    expect(await pgRole(nodeConn(pc1))).toMatchObject({ inRecovery: false, timeline: 1 });
    const before = await ledgerCount(nodeConn(pc1));

    const l = load('b');
    ga1 = await startGa(cfg1, log, { healthProbeMs: 200 });
    await eventually('restarted GA primary fenced', () => estado(ga1) === 'FENCED', 5000);
    await eventually('some load', () => l.acked.length >= 100, 10_000);
    await l.stop();
    expect(l.failures).toEqual([]);
    expect(estado(ga2)).toBe('ACTIVE');
    expect(await ledgerCount(nodeConn(pc1))).toBe(before); // 0 writes on the old timeline
    await checkLedger(nodeConn(pc2), l.acked);
    const s = await status(ga1, PC1);
    expect(s.papel.estado).toBe('FENCED');
    expect(s.papel.aislado.motivo).toMatch(/primary on timeline 1 but timeline 2 exists/);
    expect(s.papel.aislado.reincorporar).toMatch(/npm run pg -- rejoin .*run --rm postgres-rejoin/);

    // Rejoin pc1 as pc2's standby (re-clone if it diverged, as it does after a plain restart).
    const t0 = Date.now();
    const outcome = await restartAsStandby({ ...pc1, newPrimary: nodeConn(pc2), slot: 'pc1', applicationName: 'pc1', timeoutMs: 5000, log });
    if (outcome === 'diverged') await reclone({ primary: nodeConn(pc2), primaryDataDir: pc2.dataDir, ...pc1, slot: 'pc1', applicationName: 'pc1', log });
    timings.rejoinMs = Date.now() - t0;
    timings.rejoinDiverged = outcome === 'diverged' ? 1 : 0;
    await eventually('GA primary leaves FENCED', () => estado(ga1) === 'PASSIVE', 5000);
    // The active GA's watchdog turns sync replication on as soon as the rejoined standby streams.
    await eventually('sync replication on pc2', async () => (await status(ga2!, PC2)).replicacion.modo === 'sync', 10_000);
  });

  it("pc2's PostgreSQL dies under its active GA: it steps down and pc1's GA promotes its standby onto timeline 3", async () => {
    const l = load('c');
    await eventually('load on pc2', () => l.acked.length >= 50, 10_000);
    const t0 = Date.now();
    await killNode(pc2.dataDir);
    l.mark();
    await eventually('pc1 GA ACTIVE', () => estado(ga1) === 'ACTIVE', 15_000);
    timings.pgKillToActiveMs = Date.now() - t0;
    await eventually('service back', () => l.recoveredMs() !== undefined, 15_000);
    timings.pgKillToFirstOkMs = l.recoveredMs()!;
    const n = l.acked.length;
    await eventually('more load on pc1', () => l.acked.length >= n + 50, 10_000);
    await l.stop();

    expect(l.failures).toEqual([]);
    expect(estado(ga2)).toBe('PASSIVE');
    expect(await pgRole(nodeConn(pc1))).toMatchObject({ inRecovery: false, timeline: 3 });
    await checkLedger(nodeConn(pc1), [...l.acked]);
    expect(timings.pgKillToFirstOkMs).toBeLessThan(PEER_TIMEOUT_MS + 3000);
    // pc1's GA took over on its own node: pc2's slot is there for pc2 to come back to.
    await eventually("slot 'pc2' on pc1", async () => (await withDb(nodeConn(pc1), (c) => c.query("SELECT 1 FROM pg_replication_slots WHERE slot_name = 'pc2'"))).rowCount === 1, 5000);
  });

  it("pc1's GA dies, its PostgreSQL lives (pc2's is still down): pc2's GA serves from pc1's primary, and makes no slot there for pc1 itself", async () => {
    const l = load('d');
    await eventually('load on pc1', () => l.acked.length >= 20, 10_000);
    await ga1!.abort();
    ga1 = undefined;
    l.mark();
    await eventually('pc2 GA ACTIVE', () => estado(ga2) === 'ACTIVE', 15_000);
    await eventually('service back', () => l.recoveredMs() !== undefined, 15_000);
    await l.stop();
    expect(l.failures).toEqual([]);
    const s = await status(ga2!, PC2);
    expect(s.postgres).toMatchObject({ rolPg: 'primary', host: PC1 }); // no promotion: pc1's primary still serves
    // A slot named after pc1 on pc1 would be read by nobody and hold its WAL.
    await new Promise((r) => setTimeout(r, 500));
    expect((await withDb(nodeConn(pc1), (c) => c.query("SELECT slot_name FROM pg_replication_slots ORDER BY 1"))).rows).toEqual([{ slot_name: 'pc2' }]);
  });
});
