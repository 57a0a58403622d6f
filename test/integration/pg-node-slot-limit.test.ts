/**
 * Replication slots are bounded: a standby that never comes back cannot pin
 * the primary's WAL forever (max_slot_wal_keep_size, the same value as the
 * containers'), and once the primary has invalidated its slot, a re-clone of
 * that standby gets a fresh slot and streams again. Real PostgreSQL nodes.
 */
import { afterAll, expect, test } from 'vitest';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { PG_SETTINGS } from '../../postgres/settings.js';
import { cloneStandby } from '../../postgres/clone.js';
import { createReplicationSlot } from '../../postgres/admin.js';
import { killNode, killOnExit, startPrimary, stopNode } from '../../postgres/lifecycle.js';
import { nodeConn, type PgNodeSpec } from '../../postgres/node-config.js';
import { projectRoot } from '../../common/project-root.js';
import { freePort } from '../harness/ports.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const f of cleanups.reverse()) await f().catch(() => undefined);
});

test('local nodes bound slot WAL with the same max_slot_wal_keep_size as the container config', () => {
  const conf = readFileSync(path.join(projectRoot(), 'deploy', 'postgres', 'replication.conf'), 'utf8');
  const deployed = /^\s*max_slot_wal_keep_size\s*=\s*(\S+)/m.exec(conf)?.[1];
  expect(deployed).toBeDefined();
  expect(PG_SETTINGS.max_slot_wal_keep_size).toBe(deployed);
});

test('a slot invalidated while its standby was away is replaced when the standby is re-cloned', async () => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'ga-slot-'));
  cleanups.push(() => rm(root, { recursive: true, force: true }));
  const pc1: PgNodeSpec = { dataDir: path.join(root, 'pc1'), host: '127.0.0.1', port: await freePort() };
  const pc2: PgNodeSpec = { dataDir: path.join(root, 'pc2'), host: '127.0.0.1', port: await freePort() };
  for (const n of [pc1, pc2]) {
    killOnExit(n.dataDir);
    cleanups.push(() => stopNode(n.dataDir, { mode: 'immediate' }).catch(() => killNode(n.dataDir)));
  }
  // A small bound (two 16 MB segments) that six segment switches exceed (wal_keep_size 0: nothing else keeps them).
  await startPrimary({ ...pc1, settings: { max_slot_wal_keep_size: '32MB', wal_keep_size: 0 } });
  const c = new pg.Client(nodeConn(pc1));
  await c.connect();
  cleanups.push(() => c.end());
  await cloneStandby({ ...pc2, primary: nodeConn(pc1), primaryDataDir: pc1.dataDir, slot: 'pc2', applicationName: 'pc2' });
  await stopNode(pc2.dataDir, { mode: 'immediate' });
  await rm(pc2.dataDir, { recursive: true, force: true }); // gone for good: its slot must not pin WAL

  await c.query('CREATE TABLE relleno (x text)');
  for (let i = 0; i < 6; i++) {
    await c.query(`INSERT INTO relleno SELECT repeat('x', 100) FROM generate_series(1, 2000)`);
    await c.query('SELECT pg_switch_wal()');
  }
  await c.query('CHECKPOINT');
  const slot = async () => (await c.query(`SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'pc2'`)).rows[0]?.wal_status as string | undefined;
  expect(await slot()).toBe('lost');
  // A GA making sure of its standby's slot (keepLost) leaves it lost and says so: the lost
  // slot is what tells a restarting standby that it must be cloned again.
  expect(await createReplicationSlot(nodeConn(pc1), 'pc2', { keepLost: true })).toBe('lost');
  expect(await slot()).toBe('lost');

  await cloneStandby({ ...pc2, primary: nodeConn(pc1), primaryDataDir: pc1.dataDir, slot: 'pc2', applicationName: 'pc2', streamTimeoutMs: 10_000 });
  expect(await slot()).toBe('reserved');
});
