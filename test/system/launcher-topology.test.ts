/**
 * The launcher's two-hosts topology: pc1 (127.0.1.1) runs the PostgreSQL
 * primary and the processes, pc2 (127.0.1.2) a streaming standby on the same
 * port. An approved loan reaches the standby; a crashed pc2 comes back as a
 * standby; stop() leaves no server and no dir behind.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import pg from 'pg';
import { PC1, PC2 } from '../../scripts/launcher/hosts.js';
import { postmasterPid } from '../../postgres/lifecycle.js';
import { startTestSystem, type TestSystem } from '../harness/system.js';
import { eventually } from '../harness/eventually.js';

const LIBRO = '978-0-00-000101-1';
let sys: TestSystem;
let dataDirs: string[] = [];

beforeAll(async () => {
  sys = await startTestSystem([{ isbn: LIBRO, ejemplares: 2 }], { topology: 'two-hosts', ports: 'free', actorsPerType: 1 });
  dataDirs = [sys.pgNodes!.primary.dataDir, sys.pgNodes!.standby.dataDir];
});

afterAll(async () => {
  await sys?.stop();
});

async function standbyRow(sql: string, params: unknown[]): Promise<unknown[]> {
  const c = new pg.Client({ ...sys.pgNodes!.standby.info, connectionTimeoutMillis: 2000 });
  c.on('error', () => undefined);
  await c.connect();
  try {
    return (await c.query(sql, params)).rows;
  } finally {
    await c.end().catch(() => undefined);
  }
}

describe('two-hosts topology', () => {
  it('runs the primary on pc1 and a streaming standby on pc2, same port, lag reported', async () => {
    const { primary, standby } = sys.pgNodes!;
    expect(primary.info.host).toBe(PC1);
    expect(standby.info.host).toBe(PC2);
    expect(primary.info.port).toBe(standby.info.port);
    expect(sys.pg).toEqual(primary.info);
    // Each simulated host groups its own processes (a host kill takes exactly these down).
    expect(sys.hosts.pc1!.processes.map((p) => p.spec.name)).toEqual(expect.arrayContaining(['ga-pc1', 'gc-pc1']));
    expect(sys.hosts.pc2!.processes.map((p) => p.spec.name)).toEqual(expect.arrayContaining(['ga-pc2', 'gc-pc2']));
    expect(sys.hosts.pc1!.processes.some((p) => p.spec.host !== 'pc1')).toBe(false);

    const status = await sys.pgStatus();
    expect(status.map((s) => [s.host, s.role?.inRecovery])).toEqual([['pc1', false], ['pc2', true]]);
    expect(status[0]!.replication).toEqual([expect.objectContaining({ applicationName: 'pc2', state: 'streaming' })]);
    expect(status[1]!.standby).toMatchObject({ receiving: true });
    // The lag is measured (a number, not null: the standby reached its primary) and, the system idle, drains to 0.
    expect(status[1]!.standby!.lagBytes).toEqual(expect.any(Number));
    await eventually('the standby caught up (lag 0 bytes)', async () => (await sys.pgStatus())[1]!.standby?.lagBytes === 0, 10_000);
  });

  it('an approved loan reaches the standby', async () => {
    const r = await sys.client().send({ operacion: 'prestamo', isbn: LIBRO, usuario: 'topo-1' });
    expect(r.codigo).toBe('APROBADO');
    await eventually('loan on the standby', async () => (await standbyRow("SELECT 1 FROM prestamos WHERE usuario = $1 AND estado = 'ACTIVO'", ['topo-1'])).length === 1, 5000);
  });

  it('kills a whole host; its standby restarts as a standby and streams again', async () => {
    const pc2 = sys.hosts.pc2!;
    await pc2.kill();
    expect(pc2.pg!.running()).toBe(false);
    const down = await sys.pgStatus();
    expect(down[1]!.error).toBeDefined();
    expect(down[0]!.replication).toEqual([]);

    await pc2.pg!.restart();
    await eventually('pc2 streaming again', async () => (await sys.pgStatus())[1]!.standby?.receiving === true, 5000);
    expect((await pc2.pg!.role()).inRecovery).toBe(true);
  });

  it('stop() leaves no PostgreSQL running and removes the data dir', async () => {
    const dir = sys.dataDir;
    const pids = dataDirs.map((d) => postmasterPid(d));
    expect(pids.every((p) => p !== undefined)).toBe(true);
    await sys.stop();
    for (const d of dataDirs) expect(postmasterPid(d)).toBeUndefined();
    expect(existsSync(dir)).toBe(false);
  });
});
