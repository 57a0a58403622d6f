/**
 * AdminSession (postgres/admin.ts) on a real PostgreSQL: one kept-open connection
 * reused across runs; a connection the server drops is replaced on the next run;
 * a timed-out query's connection is never reused; close() leaves no backend.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { AdminSession, AdminSessions, pgRole, type PgConn } from '../../postgres/admin.js';
import { pgConfig, startTestPostgres, type TestPostgres } from '../harness/postgres.js';
import { freePort } from '../harness/ports.js';
import { eventually } from '../harness/eventually.js';

let pgs: TestPostgres;
let conn: PgConn;
let observer: pg.Client;

beforeAll(async () => {
  pgs = await startTestPostgres();
  conn = { host: pgs.host, port: pgs.port, user: pgs.user, password: pgs.password, database: pgs.database };
  observer = new pg.Client(pgConfig(pgs));
  observer.on('error', () => undefined);
  await observer.connect();
});

afterAll(async () => {
  await observer?.end().catch(() => undefined);
  await pgs?.stop();
});

const backendPid = (s: AdminSession) => s.run(async (c) => (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid);

const adminBackends = async () =>
  (await observer.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE application_name = 'biblioteca-admin' AND pid <> pg_backend_pid()")).rows.map((r) => r.pid);

describe('AdminSession', () => {
  it('reuses one connection across runs and across the query helpers', async () => {
    const s = new AdminSession(conn, { connectTimeoutMs: 1000, queryTimeoutMs: 1000 });
    try {
      const pid = await backendPid(s);
      expect(await pgRole(s)).toMatchObject({ inRecovery: false, timeline: 1 });
      expect(await backendPid(s)).toBe(pid);
      expect(await adminBackends()).toEqual([pid]);
    } finally {
      await s.close();
    }
  });

  it('reconnects on the next run after the server closes its connection', async () => {
    const s = new AdminSession(conn, { connectTimeoutMs: 1000, queryTimeoutMs: 1000 });
    try {
      const pid = await backendPid(s);
      await observer.query('SELECT pg_terminate_backend($1)', [pid]);
      // The idle client gets the server's FATAL as an 'error' event (unhandled, it would crash this process).
      await eventually('the terminated backend to exit', async () => !(await adminBackends()).includes(pid), 5000);
      await new Promise((r) => setTimeout(r, 50)); // let the client read the closed socket
      const again = await backendPid(s);
      expect(again).not.toBe(pid);
      expect(await backendPid(s)).toBe(again);
    } finally {
      await s.close();
    }
  });

  it('a kept connection that died unnoticed is retried once on a fresh one; SQL errors are not retried', async () => {
    const s = new AdminSession(conn, { connectTimeoutMs: 1000, queryTimeoutMs: 1000 });
    try {
      const pid = await backendPid(s);
      // The run's first attempt meets a dead backend (57P01), as a probe would right after a node restart.
      let calls = 0;
      const again = await s.run(async (c) => {
        if (++calls === 1) await c.query('SELECT pg_terminate_backend(pg_backend_pid())');
        return (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      });
      expect(calls).toBe(2);
      expect(again).not.toBe(pid);
      calls = 0;
      await expect(
        s.run(async (c) => {
          calls++;
          return c.query('SELECT * FROM no_such_table');
        }),
      ).rejects.toThrow(/no_such_table/);
      expect(calls).toBe(1);
      expect(await backendPid(s)).toBeGreaterThan(0);
    } finally {
      await s.close();
    }
  });

  it('drops the connection of a timed-out query: the next run works on a new backend', async () => {
    const s = new AdminSession(conn, { connectTimeoutMs: 1000, queryTimeoutMs: 200 });
    try {
      const pid = await backendPid(s);
      const t0 = Date.now();
      await expect(s.run((c) => c.query('SELECT pg_sleep(2)'))).rejects.toThrow(/timeout/i);
      expect(Date.now() - t0).toBeLessThan(1000);
      const again = await backendPid(s);
      expect(again).not.toBe(pid);
      expect(await backendPid(s)).toBe(again);
    } finally {
      await s.close();
    }
  });

  it('a node that is not there fails every run (no stale connection answers for it)', async () => {
    const s = new AdminSession({ ...conn, port: await freePort() }, { connectTimeoutMs: 500, queryTimeoutMs: 500 });
    try {
      await expect(backendPid(s)).rejects.toThrow();
      await expect(backendPid(s)).rejects.toThrow();
    } finally {
      await s.close();
    }
  });

  it('close() ends the connection and later runs reject; sessions by node close together', async () => {
    // The dropped pg_sleep(2) backend of the test above exits only once its sleep ends.
    await eventually("earlier tests' backends to exit", async () => (await adminBackends()).length === 0, 5000);
    const sessions = new AdminSessions({ connectTimeoutMs: 1000, queryTimeoutMs: 1000 });
    const s = sessions.of(conn);
    expect(sessions.of({ ...conn })).toBe(s); // keyed by host:port
    const pid = await backendPid(s);
    expect(await adminBackends()).toEqual([pid]);
    await sessions.close();
    await eventually('no admin backend left', async () => (await adminBackends()).length === 0, 5000);
    await expect(backendPid(s)).rejects.toThrow(/closed/);
    await expect(backendPid(sessions.of(conn))).rejects.toThrow(/closed/);
  });
});
