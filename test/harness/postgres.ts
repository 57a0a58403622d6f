/**
 * A throw-away PostgreSQL for one test file: fresh temp data dir, free port,
 * and stop() removes everything. Start it once per file (beforeAll).
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from '../../postgres/embedded.js';
import { freePort } from './ports.js';

export type TestPostgres = EmbeddedPostgresHandle;

export async function startTestPostgres(opts: { settings?: Record<string, string | number> } = {}): Promise<TestPostgres> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'ga-pg-'));
  const port = await freePort();
  let handle: EmbeddedPostgresHandle;
  try {
    handle = await startEmbeddedPostgres({ dataDir: path.join(root, 'data'), port, persistent: false, settings: opts.settings });
  } catch (err) {
    await fs.rm(root, { recursive: true, force: true });
    throw err;
  }
  let done = false;
  return {
    ...handle,
    async stop() {
      if (done) return;
      done = true;
      try {
        await handle.stop();
      } finally {
        await fs.rm(root, { recursive: true, force: true });
      }
    },
  };
}

/** pg connection settings for a started test server. */
export function pgConfig(p: { host: string; port: number; user: string; password: string; database: string }): pg.ClientConfig {
  return { host: p.host, port: p.port, user: p.user, password: p.password, database: p.database };
}
