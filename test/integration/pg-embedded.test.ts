/**
 * The embedded PostgreSQL launcher: persistent data survives a restart without
 * re-initialising, stop() leaves no server behind, a failed start cleans up.
 */
import { afterAll, expect, test } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from '../../postgres/embedded.js';
import { freePort } from '../harness/ports.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const f of cleanups.reverse()) await f().catch(() => undefined);
});

async function query(h: EmbeddedPostgresHandle, sql: string): Promise<pg.QueryResult> {
  const c = new pg.Client({ host: h.host, port: h.port, user: h.user, password: h.password, database: h.database });
  await c.connect();
  try {
    return await c.query(sql);
  } finally {
    await c.end();
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test('persistent data survives a restart; stop() leaves no server running', async () => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'ga-epg-'));
  cleanups.push(() => rm(root, { recursive: true, force: true }));
  const dataDir = path.join(root, 'data');
  const port = await freePort();

  const a = await startEmbeddedPostgres({ dataDir, port });
  cleanups.push(() => a.stop());
  expect(a.database).toBe('biblioteca');
  const pid = Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  await query(a, 'CREATE TABLE t (x int); INSERT INTO t VALUES (42)');
  expect((await query(a, 'SHOW synchronous_commit')).rows[0].synchronous_commit).toBe('on');
  await a.stop();
  expect(alive(pid)).toBe(false);
  expect(existsSync(path.join(dataDir, 'PG_VERSION'))).toBe(true);

  const b = await startEmbeddedPostgres({ dataDir, port, persistent: false });
  cleanups.push(() => b.stop());
  expect((await query(b, 'SELECT x FROM t')).rows).toEqual([{ x: 42 }]);
  await b.stop();
  expect(existsSync(dataDir)).toBe(false);
});

test('a start on a busy port fails with a clear error and leaves nothing running', async () => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'ga-epg-'));
  cleanups.push(() => rm(root, { recursive: true, force: true }));
  const port = await freePort();
  const a = await startEmbeddedPostgres({ dataDir: path.join(root, 'a'), port, persistent: false });
  cleanups.push(() => a.stop());
  const err = await startEmbeddedPostgres({ dataDir: path.join(root, 'b'), port, persistent: false }).then(() => undefined, (e: unknown) => e as Error);
  expect(err?.message).toMatch(/PostgreSQL (exited|not ready)/);
  expect(existsSync(path.join(root, 'b', 'postmaster.pid'))).toBe(false);
  await a.stop();
});
