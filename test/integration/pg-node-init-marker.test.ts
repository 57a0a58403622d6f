/**
 * A first initialisation cut short after initdb (its launcher killed: initdb runs on alone and
 * finishes, but the include line and pg_hba are never written) leaves a data dir with PG_VERSION
 * that never starts right. The marker beside it makes the next start build it afresh. Real
 * PostgreSQL binaries.
 */
import { afterAll, expect, test } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { initIncomplete, initMarkOf, killNode, killOnExit, startPrimary, stopNode } from '../../postgres/lifecycle.js';
import { nodeConn, type PgNodeSpec } from '../../postgres/node-config.js';
import { freePort } from '../harness/ports.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const f of cleanups.reverse()) await f().catch(() => undefined);
});

test('a data dir whose first initialisation did not finish is made afresh, and then starts as configured', async () => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'pg-init-marker-'));
  cleanups.push(() => rm(root, { recursive: true, force: true }));
  const spec: PgNodeSpec = { dataDir: path.join(root, 'pc1'), host: '127.0.0.1', port: await freePort() };
  killOnExit(spec.dataDir);
  cleanups.push(() => stopNode(spec.dataDir, { mode: 'immediate' }).catch(() => killNode(spec.dataDir)));

  await startPrimary(spec);
  expect(initIncomplete(spec.dataDir)).toBe(false);
  const query = async (sql: string) => {
    const c = new pg.Client(nodeConn(spec));
    await c.connect();
    try {
      return (await c.query(sql)).rows;
    } finally {
      await c.end();
    }
  };
  await query('CREATE TABLE de_antes (x int)');
  await stopNode(spec.dataDir);

  // What an initdb left running alone leaves: its own config, no include line, and the marker.
  const conf = path.join(spec.dataDir, 'postgresql.conf');
  writeFileSync(conf, readFileSync(conf, 'utf8').replace(/^include_if_exists.*$/m, ''));
  writeFileSync(initMarkOf(spec.dataDir), 'initdb started\n');

  const port = await freePort();
  const again: PgNodeSpec = { ...spec, port };
  await startPrimary(again);
  expect(existsSync(initMarkOf(spec.dataDir))).toBe(false);
  expect(readFileSync(conf, 'utf8')).toMatch(/^include_if_exists = 'biblioteca-node\.conf'$/m);
  const c = new pg.Client(nodeConn(again));
  await c.connect();
  try {
    // Listening where this start asked, and built afresh: nothing of the cut-short dir is left.
    expect((await c.query('SHOW port')).rows[0]).toEqual({ port: String(port) });
    expect((await c.query(`SELECT to_regclass('de_antes') AS t`)).rows[0]).toEqual({ t: null });
  } finally {
    await c.end();
  }
});
