/**
 * The launcher lock (scripts/launcher/lock.ts): the staleness rule as a pure
 * function, and the real lock file against real processes (a dead node, a live
 * non-node process, a reused pid, a live node).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataDirLockedError, LOCK_FILE, acquireLauncherLock, isStale, parseOwner, procProbe, type LockOwner, type ProcProbe } from '../../scripts/launcher/lock.js';

const dirs: string[] = [];
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'lanzador-cerrojo-'));
  dirs.push(d);
  return d;
}

function started(cmd: string, args: string[]): ChildProcess {
  const c = spawn(cmd, args, { stdio: 'ignore' });
  children.push(c);
  return c;
}

const owner = (pid: number, inicio?: string): LockOwner => ({ pid, inicio, fecha: '2026-11-23T10:00:00.000Z', comando: 'dist/scripts/launcher/main.js' });
const probe = (p: Partial<ProcProbe>): ProcProbe => ({ alive: () => true, startTime: () => '100', isNode: () => true, ...p });
const writeLock = (dir: string, o: LockOwner) => writeFileSync(join(dir, LOCK_FILE), JSON.stringify(o));
const lockOwner = (dir: string) => parseOwner(readFileSync(join(dir, LOCK_FILE), 'utf8'));

describe('isStale', () => {
  it('a live node process with the recorded start time holds the lock', () => {
    expect(isStale(owner(42, '100'), probe({}))).toBe(false);
  });
  it('a dead owner does not', () => {
    expect(isStale(owner(42, '100'), probe({ alive: () => false }))).toBe(true);
  });
  it('a pid now naming a process started at another time (reused) does not', () => {
    expect(isStale(owner(42, '100'), probe({ startTime: () => '999' }))).toBe(true);
  });
  it('a live process that is not node does not', () => {
    expect(isStale(owner(42, '100'), probe({ isNode: () => false }))).toBe(true);
  });
  it('when nothing more can be known, a live pid holds it', () => {
    expect(isStale(owner(42), probe({ startTime: () => undefined, isNode: () => undefined }))).toBe(false);
  });
});

describe('acquireLauncherLock on a real dir', () => {
  it('a second launcher is refused with a message naming the pid and the dir; release frees it', () => {
    const dir = tempDir();
    const lock = acquireLauncherLock(dir);
    expect(lockOwner(dir)?.pid).toBe(process.pid);
    let err: unknown;
    try {
      acquireLauncherLock(dir);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DataDirLockedError);
    expect((err as Error).message).toContain(`pid ${process.pid}`);
    expect((err as Error).message).toContain(dir);
    expect(lockOwner(dir)?.pid).toBe(process.pid);
    lock.release();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    acquireLauncherLock(dir).release();
  });

  it('takes over the lock of a launcher that died', async () => {
    const dir = tempDir();
    const dead = started(process.execPath, ['-e', '0']);
    await new Promise((r) => dead.once('exit', r));
    writeLock(dir, owner(dead.pid!));
    const lock = acquireLauncherLock(dir);
    expect(lockOwner(dir)?.pid).toBe(process.pid);
    lock.release();
  });

  it('takes over a lock whose pid is a live process that is not node', async () => {
    const dir = tempDir();
    const sleeper = started('sleep', ['30']);
    await new Promise((r) => sleeper.once('spawn', r));
    expect(procProbe.alive(sleeper.pid!)).toBe(true);
    writeLock(dir, owner(sleeper.pid!, procProbe.startTime(sleeper.pid!)));
    const lock = acquireLauncherLock(dir);
    expect(lockOwner(dir)?.pid).toBe(process.pid);
    lock.release();
  });

  it('takes over a lock whose pid was reused (start time differs)', () => {
    const dir = tempDir();
    writeLock(dir, owner(process.pid, 'otro-arranque'));
    const lock = acquireLauncherLock(dir);
    expect(lockOwner(dir)?.inicio).toBe(procProbe.startTime(process.pid));
    lock.release();
  });

  it('is refused by another live node launcher, and takes over an unreadable lock', async () => {
    const dir = tempDir();
    const other = started(process.execPath, ['-e', 'setTimeout(() => {}, 30000)']);
    await new Promise((r) => other.once('spawn', r));
    writeLock(dir, owner(other.pid!, procProbe.startTime(other.pid!)));
    expect(() => acquireLauncherLock(dir)).toThrow(`pid ${other.pid}`);

    writeFileSync(join(dir, LOCK_FILE), 'no es json');
    acquireLauncherLock(dir).release();
  });

  it("release leaves a lock that is no longer ours alone", async () => {
    const dir = tempDir();
    const lock = acquireLauncherLock(dir);
    const other = started(process.execPath, ['-e', 'setTimeout(() => {}, 30000)']);
    await new Promise((r) => other.once('spawn', r));
    writeLock(dir, owner(other.pid!, procProbe.startTime(other.pid!)));
    lock.release();
    expect(lockOwner(dir)?.pid).toBe(other.pid);
  });
});
