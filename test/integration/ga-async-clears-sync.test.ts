/**
 * Async replication mode on a real PostgreSQL: a synchronous_standby_names left
 * by an earlier sync run (ALTER SYSTEM persists it) is cleared when the GA
 * becomes active, so commits do not wait for a standby nobody watches; a GA
 * that is not active leaves the node alone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { pino } from 'pino';
import { synchronousStandbyNames } from '../../postgres/admin.js';
import { ReplicationMode } from '../../gestor_almacenamiento/replication/mode.js';
import { startTestPostgres, type TestPostgres } from '../harness/postgres.js';
import { eventually } from '../harness/eventually.js';

interface LogLine {
  level: number;
  msg: string;
  cleared?: string;
}

let server: TestPostgres | undefined;
const LEFT = 'FIRST 1 (pc2)';

function node(s: TestPostgres) {
  return { host: s.host, port: s.port, user: s.user, password: s.password, database: s.database };
}

async function sql(s: TestPostgres, text: string): Promise<void> {
  const c = new pg.Client({ ...node(s), connectionTimeoutMillis: 2000, statement_timeout: 5000, query_timeout: 5000 });
  await c.connect();
  try {
    await c.query(text);
  } finally {
    await c.end();
  }
}

/** What an earlier sync run leaves behind: the setting in postgresql.auto.conf, in effect. */
async function leaveSyncSetting(s: TestPostgres): Promise<void> {
  await sql(s, `ALTER SYSTEM SET synchronous_standby_names = '${LEFT}'`);
  await sql(s, 'SELECT pg_reload_conf()');
  await eventually('synchronous_standby_names in effect', async () => (await synchronousStandbyNames(node(s))) === 'FIRST 1 (pc2)', 5000);
}

function capture() {
  const lines: LogLine[] = [];
  const log = pino({ level: 'trace' }, { write: (l: string) => lines.push(JSON.parse(l) as LogLine) });
  return { lines, log };
}

beforeAll(async () => {
  server = await startTestPostgres();
});

afterAll(async () => {
  await server?.stop();
});

describe('async replication mode clears a leftover sync setting', () => {
  it('an inactive GA (follow(false)) leaves synchronous_standby_names alone', async () => {
    const s = server!;
    await leaveSyncSetting(s);
    const { lines, log } = capture();
    const mode = new ReplicationMode({ GA_REPLICACION: 'async' }, log);
    mode.follow(false, node(s));
    await mode.close(); // waits for anything follow() queued
    expect(await synchronousStandbyNames(node(s))).toBe(LEFT);
    expect(lines.filter((l) => l.level >= 40)).toEqual([]);
    expect(mode.state()).toEqual({ requested: 'async', mode: 'async' });
  });

  it('becoming active (follow(true)) clears it once, with a warning, and commits no longer wait for the standby', async () => {
    const s = server!;
    await leaveSyncSetting(s);
    const { lines, log } = capture();
    const mode = new ReplicationMode({ GA_REPLICACION: 'async', GA_STANDBY_NAME: 'pc2' }, log);
    try {
      mode.follow(true, node(s));
      await eventually('synchronous_standby_names cleared', async () => (await synchronousStandbyNames(node(s))) === '', 10_000);
      await mode.close();
      const warns = lines.filter((l) => l.level === 40);
      expect(warns).toHaveLength(1);
      expect(warns[0]!.cleared).toBe(LEFT);
      expect(warns[0]!.msg).toMatch(/cleared synchronous_standby_names .*earlier sync run.*asynchronous/);
      // No standby named pc2 exists: with the setting still there this commit would wait forever.
      await sql(s, 'CREATE TABLE after_clear (x int); INSERT INTO after_clear VALUES (1)');
      expect(mode.state()).toEqual({ requested: 'async', mode: 'async' });
    } finally {
      await mode.close();
    }
  });
});
