/**
 * One launcher per data dir. A second `npm start` on the same .data/ used to
 * take the first one's running PostgreSQL nodes for its own ("already
 * running") and stop or SIGKILL them when it failed on taken ports or exited.
 * The launcher lock is a file in the data dir naming the launcher's pid,
 * created with O_EXCL ('wx'), so only one launcher can hold it; a second one
 * refuses before it touches anything. A lock whose owner is gone (dead, its pid
 * reused by another process, or no longer a node process) is stale and taken
 * over: a SIGKILLed launcher must not block the next start.
 */
import { closeSync, openSync, readFileSync, renameSync, rmSync, linkSync, writeSync } from 'node:fs';
import { basename, join } from 'node:path';
import { procFacts, procState, procStatFields } from '../../common/proc.js';

export const LOCK_FILE = 'launcher.lock';

export interface LockOwner {
  pid: number;
  /** The owner's start time (/proc/<pid>/stat field 22): tells a reused pid apart. */
  inicio?: string;
  fecha: string;
  comando: string;
}

/** What the staleness rule needs to know about a pid (the real one reads /proc). */
export interface ProcProbe {
  alive(pid: number): boolean;
  startTime(pid: number): string | undefined;
  /** undefined: cannot tell (no /proc, no permission). */
  isNode(pid: number): boolean | undefined;
}

export class DataDirLockedError extends Error {
  constructor(
    readonly dataDir: string,
    readonly owner: LockOwner,
  ) {
    super(
      `ya hay un lanzador en marcha sobre ${dataDir} (pid ${owner.pid}, desde ${owner.fecha}: ${owner.comando}). ` +
        `Deténgalo antes (Ctrl-C en su terminal o kill ${owner.pid}) o use otro directorio con --data; no se ha tocado nada.`,
    );
    this.name = 'DataDirLockedError';
  }
}

/** The rule: a lock is stale when its owner is dead, its pid now names another process, or that process is not node. */
export function isStale(owner: LockOwner, probe: ProcProbe): boolean {
  if (!probe.alive(owner.pid)) return true;
  const start = probe.startTime(owner.pid);
  if (owner.inicio !== undefined && start !== undefined && start !== owner.inicio) return true;
  return probe.isNode(owner.pid) === false;
}

export function parseOwner(text: string): LockOwner | undefined {
  try {
    const o = JSON.parse(text) as Partial<LockOwner>;
    if (!Number.isSafeInteger(o.pid) || (o.pid as number) <= 0) return undefined;
    return { pid: o.pid as number, inicio: typeof o.inicio === 'string' ? o.inicio : undefined, fecha: String(o.fecha ?? '?'), comando: String(o.comando ?? '?') };
  } catch {
    return undefined;
  }
}

export const procProbe: ProcProbe = {
  alive(pid) {
    try {
      process.kill(pid, 0);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
    }
    return procState(pid) !== 'Z';
  },
  startTime: (pid) => procStatFields(pid)?.[19],
  isNode(pid) {
    const f = procFacts(pid);
    const exe = f.exe ?? f.argv?.[0];
    return exe === undefined ? undefined : /node/i.test(basename(exe));
  },
};

export interface LauncherLock {
  file: string;
  owner: LockOwner;
  /** Removes the lock if it is still ours. Idempotent. */
  release(): void;
}

/** Reads the lock; a file caught between its creation and its write reads as empty, so retry briefly. */
function readOwner(file: string): { text: string; owner?: LockOwner } | undefined {
  for (let i = 0; ; i++) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
    const owner = parseOwner(text);
    if (owner || i >= 20) return { text, owner };
    const until = Date.now() + 10;
    while (Date.now() < until) {
      /* a few ms, synchronously: this runs once per start */
    }
  }
}

/**
 * Takes the data dir's launcher lock or throws DataDirLockedError naming its holder.
 * The dir must exist. A stale lock is moved aside first (rename is atomic), and
 * only deleted if what was moved is still the stale lock that was judged, so two
 * launchers racing over one stale lock cannot both win.
 */
export function acquireLauncherLock(dataDir: string, probe: ProcProbe = procProbe): LauncherLock {
  const file = join(dataDir, LOCK_FILE);
  const me: LockOwner = { pid: process.pid, inicio: probe.startTime(process.pid), fecha: new Date().toISOString(), comando: process.argv.slice(1).join(' ') };
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      try {
        writeSync(fd, JSON.stringify(me) + '\n');
      } finally {
        closeSync(fd);
      }
      return { file, owner: me, release: () => releaseIfOurs(file, me) };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const seen = readOwner(file);
    if (!seen) continue; // released meanwhile
    if (seen.owner && !isStale(seen.owner, probe)) throw new DataDirLockedError(dataDir, seen.owner);
    // Stale (or unreadable garbage): move it aside, then make sure it was the one judged.
    const aside = `${file}.stale-${process.pid}`;
    try {
      renameSync(file, aside);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw e;
    }
    const moved = readFileSync(aside, 'utf8');
    if (moved !== seen.text) {
      // Another launcher replaced the stale lock in between: give it back (unless a third one holds the name now).
      try {
        linkSync(aside, file);
      } catch {
        /* EEXIST: the name is held again; the next attempt reads who holds it */
      }
    }
    rmSync(aside, { force: true });
  }
  const holder = readOwner(file)?.owner;
  throw holder ? new DataDirLockedError(dataDir, holder) : new Error(`no se pudo tomar el cerrojo ${file}`);
}

function releaseIfOurs(file: string, me: LockOwner): void {
  const seen = readOwner(file);
  if (seen?.owner?.pid === me.pid && seen.owner.inicio === me.inicio) rmSync(file, { force: true });
}
