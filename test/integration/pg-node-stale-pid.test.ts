/**
 * A postmaster.pid that outlived its server (reboot, container restart) and
 * names a pid now used by an unrelated process: the helpers must neither take
 * it for a running PostgreSQL (skipping the start) nor signal it or its process
 * group. Real processes: a `sleep` we spawn in its own group, and a real
 * PostgreSQL started on the same dir afterwards.
 */
import { afterAll, describe, expect, test } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startEmbeddedPostgres } from '../../postgres/embedded.js';
import { isPostgresOf, isRunning, killNode, killOnExit, postmasterPid, startNode, startPrimary, stopNode } from '../../postgres/lifecycle.js';
import { freePort } from '../harness/ports.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const f of cleanups.reverse()) await f().catch(() => undefined);
});

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** A long `sleep` leading its own process group (as a pg_ctl-started postmaster does). */
function spawnSleeper(): ChildProcess & { pid: number } {
  const child = spawn('sleep', ['600'], { detached: true, stdio: 'ignore' });
  cleanups.push(async () => child.kill('SIGKILL'));
  if (!child.pid) throw new Error('sleep did not start');
  return child as ChildProcess & { pid: number };
}
function fakePidFile(dataDir: string, pid: number): void {
  // The layout PostgreSQL writes: pid, data dir, start time, port, …
  writeFileSync(path.join(dataDir, 'postmaster.pid'), `${pid}\n${dataDir}\n1700000000\n5432\n`);
}
async function tempRoot(): Promise<string> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'ga-stale-pid-'));
  cleanups.push(() => rm(root, { recursive: true, force: true }));
  return root;
}

describe('isPostgresOf', () => {
  const bin = '/opt/pg/bin/postgres';
  test('a postgres binary whose cwd is the data dir', () => {
    expect(isPostgresOf({ exe: bin, argv: [bin, '-D', '/d/a'], cwd: '/d/a' }, '/d/a')).toBe(true);
    expect(isPostgresOf({ exe: `${bin} (deleted)`, argv: [bin], cwd: '/d/a' }, '/d/a/')).toBe(true);
  });
  test('anything else is not', () => {
    expect(isPostgresOf({ exe: '/usr/bin/sleep', argv: ['sleep', '600'], cwd: '/d/a' }, '/d/a')).toBe(false);
    expect(isPostgresOf({ exe: bin, argv: [bin, '-D', '/d/b'], cwd: '/d/b' }, '/d/a')).toBe(false); // another cluster
    expect(isPostgresOf({}, '/d/a')).toBe(false); // nothing readable: not trusted
  });
  test('without a readable exe or cwd: argv decides', () => {
    expect(isPostgresOf({ argv: [bin, '-D', '/d/a'] }, '/d/a')).toBe(true);
    expect(isPostgresOf({ argv: [bin, '-D', '/d/b'] }, '/d/a')).toBe(false);
    expect(isPostgresOf({ argv: ['postgres: checkpointer ', ''] }, '/d/a')).toBe(true); // a retitled child
    expect(isPostgresOf({ argv: ['/usr/bin/sleep', '600'] }, '/d/a')).toBe(false);
  });
});

test('a stale pid file naming a live sleep: not running, and killNode leaves the sleep and its group alone', async () => {
  const dataDir = path.join(await tempRoot(), 'data');
  await mkdir(dataDir);
  const sleeper = spawnSleeper();
  fakePidFile(dataDir, sleeper.pid);
  expect(postmasterPid(dataDir)).toBeUndefined();
  expect(isRunning(dataDir)).toBe(false);
  await killNode(dataDir);
  expect(alive(sleeper.pid)).toBe(true);
  expect(existsSync(path.join(dataDir, 'postmaster.pid'))).toBe(false); // stale: removed
});

test('startNode starts PostgreSQL on a dir whose stale pid file names a live process', async () => {
  const dataDir = path.join(await tempRoot(), 'node');
  killOnExit(dataDir);
  const spec = await startPrimary({ dataDir, host: '127.0.0.1', port: await freePort() });
  cleanups.push(() => stopNode(spec.dataDir, { mode: 'immediate' }));
  await stopNode(spec.dataDir);
  const sleeper = spawnSleeper();
  fakePidFile(spec.dataDir, sleeper.pid);

  expect(await startNode(spec)).toBe('ready');
  const pid = postmasterPid(spec.dataDir);
  expect(pid).toBeDefined();
  expect(pid).not.toBe(sleeper.pid);
  expect(Number(readFileSync(path.join(spec.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0])).toBe(pid);
  await stopNode(spec.dataDir);
  expect(isRunning(spec.dataDir)).toBe(false);
  expect(alive(sleeper.pid)).toBe(true);
});

test('the embedded launcher starts on a persistent dir whose stale pid file names a live process', async () => {
  const dataDir = path.join(await tempRoot(), 'embedded');
  const port = await freePort();
  const a = await startEmbeddedPostgres({ dataDir, port });
  cleanups.push(() => a.stop());
  await a.stop();
  const sleeper = spawnSleeper();
  fakePidFile(dataDir, sleeper.pid);

  const b = await startEmbeddedPostgres({ dataDir, port, startTimeoutMs: 30_000 });
  cleanups.push(() => b.stop());
  expect(isRunning(dataDir)).toBe(true);
  await b.stop();
  expect(alive(sleeper.pid)).toBe(true);
});
