/**
 * `npm run pg -- rejoin` stops what runs on --data and may wipe it: pointed at the
 * primary's own data directory (arguments swapped or mistyped) it must refuse and
 * leave the primary running, untouched.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIST } from '../harness/fixtures.js';
import { freePort } from '../harness/ports.js';
import { pgConfig, startTestPostgres, type TestPostgres } from '../harness/postgres.js';

const run = promisify(execFile);
let pgs: TestPostgres;
beforeAll(async () => {
  pgs = await startTestPostgres();
});
afterAll(async () => {
  await pgs?.stop();
});

describe('pg-cli rejoin guard', () => {
  it("--data naming the primary's own data directory: refused, the primary keeps running with its data", async () => {
    const c = new pg.Client(pgConfig(pgs));
    await c.connect();
    await c.query('CREATE TABLE guardia (x int); INSERT INTO guardia VALUES (42)');
    await c.end();
    const other = await freePort();
    const r = await run(process.execPath, [path.join(DIST, 'postgres', 'cli.js'), 'rejoin', '--data', pgs.dataDir, '--listen', `127.0.0.1:${other}`, '--primary', `${pgs.host}:${pgs.port}`], {
      env: { ...process.env, PGUSER: pgs.user, PGPASSWORD: pgs.password, PGDATABASE: pgs.database, LOG_LEVEL: 'info' },
      timeout: 30_000,
    }).then(
      (x) => ({ code: 0, stderr: x.stderr }),
      (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^Error: --data .* es el directorio de datos del primario/m);
    const after = new pg.Client(pgConfig(pgs));
    await after.connect();
    expect((await after.query('SELECT x FROM guardia')).rows).toEqual([{ x: 42 }]);
    await after.end();
  });
});
