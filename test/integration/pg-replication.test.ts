/**
 * PostgreSQL replication toolkit on real servers: two simulated hosts
 * (127.0.1.1 = pc1, 127.0.1.2 = pc2) on the same port. Clone a streaming
 * standby, sync mode with the degrade watchdog, kill -9 + promote, fence the
 * returning former primary, force a divergence and re-clone.
 *
 * The tests run in order and share the two nodes (each step starts from the
 * state the previous one left); every server and dir is removed in afterAll.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { cloneStandby, waitStreaming } from '../../postgres/clone.js';
import { killNode, killOnExit, startNode, startPrimary, stopNode } from '../../postgres/lifecycle.js';
import { nodeConn, type PgNodeSpec } from '../../postgres/node-config.js';
import { divergedDirOf, reclone, restartAsStandby } from '../../postgres/rejoin.js';
import { pgRole, promote, replicationStatus, setSynchronousStandby, standbyStatus, synchronousStandbyNames, type PgConn } from '../../postgres/admin.js';
import { createSyncWatchdog, type SyncWatchdog } from '../../gestor_almacenamiento/replication/sync-watchdog.js';
import { PC1, PC2, freePortOnAll } from '../../scripts/launcher/hosts.js';
import { eventually } from '../harness/eventually.js';
import { testLog as log } from '../harness/fixtures.js';

const timings: Record<string, number> = {};

let root = '';
let port = 0;
let pc1: PgNodeSpec;
let pc2: PgNodeSpec;
const clients: pg.Client[] = [];

async function connect(conn: PgConn): Promise<pg.Client> {
  const c = new pg.Client({ ...conn, connectionTimeoutMillis: 2000 });
  c.on('error', () => undefined); // servers are killed under these clients on purpose
  await c.connect();
  clients.push(c);
  return c;
}

async function count(conn: PgConn): Promise<number> {
  const c = await connect(conn);
  try {
    return (await c.query<{ n: number }>('SELECT count(*)::int AS n FROM t')).rows[0]!.n;
  } finally {
    await c.end().catch(() => undefined);
  }
}

async function insertError(conn: PgConn): Promise<{ code?: string; message: string } | undefined> {
  try {
    const c = await connect(conn);
    await c.query("INSERT INTO t VALUES ('must-not-be-written')");
    return undefined;
  } catch (err) {
    return err as { code?: string; message: string };
  }
}

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'pg-repl-'));
  port = await freePortOnAll([PC1, PC2]);
  pc1 = { dataDir: path.join(root, 'pc1'), host: PC1, port };
  pc2 = { dataDir: path.join(root, 'pc2'), host: PC2, port };
  killOnExit(pc1.dataDir);
  killOnExit(pc2.dataDir);
  const t0 = Date.now();
  await startPrimary({ ...pc1, log });
  timings.initPrimaryMs = Date.now() - t0;
  const c = await connect(nodeConn(pc1));
  await c.query('CREATE TABLE t (v text)');
  await c.end();
});

afterAll(async () => {
  for (const c of clients) await c.end().catch(() => undefined);
  for (const n of [pc1, pc2]) if (n) await stopNode(n.dataDir, { mode: 'immediate' }).catch(() => killNode(n.dataDir));
  if (root) await rm(root, { recursive: true, force: true });
  // Shown with --reporter=verbose; the numbers quoted in reports come from here.
  process.stdout.write(`pg-replication timings: ${JSON.stringify(timings)}\n`);
});

describe.sequential('replication toolkit on two simulated hosts', () => {
  it('clones a streaming standby; a committed row shows up on it (ms here; the time is recorded)', async () => {
    const r = await cloneStandby({ primary: nodeConn(pc1), primaryDataDir: pc1.dataDir, ...pc2, slot: 'pc2', applicationName: 'pc2', log });
    timings.cloneMs = r.totalMs;
    timings.cloneCopyMs = r.copyMs;
    // How long a clone takes is recorded (timings, printed after the file), not asserted: `npm run bench` territory.

    const c = await connect(nodeConn(pc1));
    await c.query("INSERT INTO t VALUES ('a')");
    const t0 = Date.now();
    await eventually('row on the standby', async () => (await count(nodeConn(pc2))) === 1, 5000);
    timings.rowArrivesMs = Date.now() - t0;

    const [role1, role2, rows, sb] = await Promise.all([pgRole(nodeConn(pc1)), pgRole(nodeConn(pc2)), replicationStatus(nodeConn(pc1)), standbyStatus(nodeConn(pc2), { primary: nodeConn(pc1) })]);
    expect(role1).toMatchObject({ inRecovery: false, timeline: 1 });
    expect(role2).toMatchObject({ inRecovery: true, timeline: 1 });
    expect(rows).toEqual([expect.objectContaining({ applicationName: 'pc2', state: 'streaming', syncState: 'async' })]);
    expect(rows[0]!.lagBytes).toEqual(expect.any(Number));
    expect(sb).toMatchObject({ inRecovery: true, receiving: true, timeline: 1 });
    expect(sb.lagBytes).toEqual(expect.any(Number));
    // Nothing written since the row arrived: both sides see the standby caught up.
    await eventually('lag 0 seen from the primary and from the standby', async () => {
      const [p, s] = await Promise.all([replicationStatus(nodeConn(pc1)), standbyStatus(nodeConn(pc2), { primary: nodeConn(pc1) })]);
      return p[0]?.lagBytes === 0 && s.lagBytes === 0;
    }, 5000);
    expect(sb.lastMsgAgeMs).toBeLessThan(5000);
    expect(await synchronousStandbyNames(nodeConn(pc2))).toBe('');
  });

  it('sync mode: commits wait for the standby; without it they block until the watchdog degrades to async; it re-enables sync', async () => {
    // Longer than a slow host's fast shutdown of pc2: the watchdog counts from the moment its
    // walsender goes, so a short one could degrade before the INSERT below is even sent.
    const degradeMs = 4000;
    const watchdog: SyncWatchdog = createSyncWatchdog(nodeConn(pc1), { GA_REPLICACION: 'sync', GA_SYNC_DEGRADE_MS: degradeMs, GA_STANDBY_NAME: 'pc2' }, log).start(50);
    try {
      await eventually('sync enabled', async () => watchdog.state().mode === 'sync', 3000);
      await eventually('pc2 reported sync', async () => (await replicationStatus(nodeConn(pc1)))[0]?.syncState === 'sync', 3000);
      const c = await connect(nodeConn(pc1));
      await c.query("INSERT INTO t VALUES ('sync-1')");

      const tStop = Date.now();
      await stopNode(pc2.dataDir, { mode: 'fast' });
      const blocked = c.query("INSERT INTO t VALUES ('sync-2')").then(() => Date.now());
      let done = false;
      void blocked.then(() => (done = true));
      await new Promise((r) => setTimeout(r, 300));
      expect(done).toBe(false); // waiting for a standby that is gone
      const tDone = await Promise.race([blocked, new Promise<number>((_, rej) => setTimeout(() => rej(new Error('commit still blocked')), degradeMs + 3000))]);
      timings.syncDegradeReleaseMs = tDone - tStop;
      // Functional bound (what the test is about): released by the watchdog's GA_SYNC_DEGRADE_MS, not left blocked.
      expect(tDone - tStop).toBeLessThan(degradeMs + 2500);
      // The release can be seen a moment before the watchdog's own call returns.
      await eventually('watchdog reports degraded-async', async () => watchdog.state().mode === 'degraded-async', 5000);
      expect(await synchronousStandbyNames(nodeConn(pc1))).toBe('');

      await startNode(pc2);
      await waitStreaming(pc2, 5000);
      await eventually('sync re-enabled', async () => watchdog.state().mode === 'sync', 3000);
      await c.query("INSERT INTO t VALUES ('sync-3')");
      expect(await count(nodeConn(pc2))).toBe(4); // the sync commit is on the standby when acknowledged
    } finally {
      await watchdog.stop();
      await setSynchronousStandby(nodeConn(pc1), null);
    }
  });

  it('kill -9 of the primary, promote the standby: first write accepted on timeline + 1 (the time is recorded)', async () => {
    const before = await pgRole(nodeConn(pc1));
    await killNode(pc1.dataDir);
    const t0 = Date.now();
    const p = await promote(nodeConn(pc2));
    timings.promoteMs = Date.now() - t0;
    const c = await connect(nodeConn(pc2));
    await c.query("INSERT INTO t VALUES ('after-failover')");
    timings.killToFirstWriteMs = Date.now() - t0;
    expect(p).toMatchObject({ promoted: true, timeline: before.timeline + 1 });
    expect(await pgRole(nodeConn(pc2))).toMatchObject({ inRecovery: false, timeline: before.timeline + 1 });
    // The write itself is the check (it committed on the promoted node, the new timeline); kill-to-first-write
    // (~0.3-1 s here) is recorded in timings, not asserted: the GA pair's failover deadline has its own tests.
    expect(await count(nodeConn(pc2))).toBe(5);
    expect(await promote(nodeConn(pc2))).toMatchObject({ promoted: false, timeline: before.timeline + 1 });
  });

  it('the returning former primary is fenced: it never accepts a write and reports streaming or diverged', async () => {
    const t0 = Date.now();
    const outcome = await restartAsStandby({ ...pc1, newPrimary: nodeConn(pc2), slot: 'pc1', applicationName: 'pc1', timeoutMs: 5000, log });
    timings.restartAsStandbyMs = Date.now() - t0;
    expect(['streaming', 'diverged']).toContain(outcome);
    const err = await insertError(nodeConn(pc1));
    expect(err?.code).toBe('25006'); // read_only_sql_transaction
    expect(err?.message).toMatch(/read-only/);
    if (outcome === 'streaming') {
      await eventually('new rows on the former primary', async () => (await count(nodeConn(pc1))) === 5, 5000);
      expect(await pgRole(nodeConn(pc1))).toMatchObject({ inRecovery: true, timeline: 2 });
    }
  });

  it('a node that wrote past the fork point is reported diverged, stays read-only, and a re-clone makes it stream again', async () => {
    // Make pc2 (the primary now) diverge: its standby pc1 is down while it commits, then it dies and pc1 is promoted.
    await stopNode(pc1.dataDir, { mode: 'fast' });
    const c = await connect(nodeConn(pc2));
    await c.query("INSERT INTO t VALUES ('only-on-pc2')");
    await killNode(pc2.dataDir);
    await startNode(pc1, { timeoutMs: 10_000 });
    const p = await promote(nodeConn(pc1));
    expect(p.timeline).toBeGreaterThanOrEqual(3);

    const t0 = Date.now();
    const outcome = await restartAsStandby({ ...pc2, newPrimary: nodeConn(pc1), slot: 'pc2', applicationName: 'pc2', timeoutMs: 5000, log });
    timings.divergedVerdictMs = Date.now() - t0;
    expect(outcome).toBe('diverged');
    const err = await insertError(nodeConn(pc2));
    expect(err?.code).toBe('25006');

    // Re-clone over SQL (no access to the primary's files, as across real hosts).
    const r = await reclone({ primary: nodeConn(pc1), ...pc2, slot: 'pc2', applicationName: 'pc2', log });
    timings.recloneSqlMs = r.totalMs;
    const c1 = await connect(nodeConn(pc1));
    await c1.query("INSERT INTO t VALUES ('after-reclone')");
    await eventually('row on the re-cloned standby', async () => {
      const rows = (await (await connect(nodeConn(pc2))).query<{ v: string }>('SELECT v FROM t ORDER BY v')).rows.map((x) => x.v);
      return rows.includes('after-reclone') && !rows.includes('only-on-pc2');
    }, 2000);
    expect(await replicationStatus(nodeConn(pc1))).toEqual([expect.objectContaining({ applicationName: 'pc2', state: 'streaming' })]);
    expect(await pgRole(nodeConn(pc2))).toMatchObject({ inRecovery: true, timeline: p.timeline });
    // What only the diverged node had is not thrown away: its whole data dir sits beside the clone.
    const aside = divergedDirOf(pc2.dataDir);
    expect(existsSync(path.join(aside, 'PG_VERSION'))).toBe(true);
    expect(existsSync(path.join(aside, 'standby.signal'))).toBe(false);
    expect(readFileSync(path.join(aside, 'DIVERGIDO.txt'), 'utf8')).toContain(`replaced by a clone of ${pc1.host}:${pc1.port}`);
  });
});
