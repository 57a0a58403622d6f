/**
 * A streaming standby cloned from a running primary without pg_basebackup (the
 * FACTS recipe): pg_backup_start, a copy of the data dir (by file when the primary
 * is on this machine, else through the primary's own SQL file functions),
 * pg_backup_stop with its backup_label, standby.signal, primary_conninfo, a slot.
 */
import fs from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import type { Logger } from '../common/logger.js';
import { createReplicationSlot, ensureReplicationRole, standbyStatus, withAdminClient, type PgConn } from './admin.js';
import { startNode } from './lifecycle.js';
import { nodeConn, nodeLogFile, stripSyncStandbyNames, writeNodeConf, writeSignal, type PgNodeSpec } from './node-config.js';
import { chownTree, postgresIds, prepareDataDir } from './os-user.js';

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

/** Beside a data dir while a clone fills it: a clone cut short (Ctrl-C, kill -9) is redone, never started. */
export const cloneMarkOf = (dataDir: string): string => `${path.resolve(dataDir)}.clone-incomplete`;

export function cloneIncomplete(dataDir: string): boolean {
  return existsSync(cloneMarkOf(dataDir));
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
  await fs.mkdir(path.dirname(spec.dataDir), { recursive: true });
  await fs.writeFile(cloneMarkOf(spec.dataDir), `${new Date().toISOString()}: clone of ${o.primary.host}:${o.primary.port} started\n`);
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
  await fs.rm(cloneMarkOf(spec.dataDir), { force: true });
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
