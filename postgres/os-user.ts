/**
 * The `postgres` OS user. PostgreSQL refuses to run as root, so as root (CI,
 * containers) every binary runs as `postgres` (created if missing), and data dirs,
 * their parents and the files we write there are chowned to it; every ancestor of a
 * data dir must be traversable by it. Not root: nothing to do, we run as ourselves.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { execFileSync } from 'node:child_process';

export interface Ids {
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

export async function chownTree(dir: string, ids: Ids): Promise<void> {
  await fs.lchown(dir, ids.uid, ids.gid);
  for (const e of await fs.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) await chownTree(p, ids);
    else await fs.lchown(p, ids.uid, ids.gid);
  }
}

/** The server user must traverse and write the data dir's parent (mkdtemp makes 0700 root dirs) and own the data dir (0700). */
export async function prepareDataDir(dataDir: string): Promise<void> {
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

/** As root: hands a file we wrote in a data dir to the postgres user. */
export async function chownToPostgres(file: string): Promise<void> {
  const ids = postgresIds();
  if (ids) await fs.chown(file, ids.uid, ids.gid);
}
