/**
 * Storage-side failover drills on one two-hosts system with SYNCHRONOUS
 * replication, where not one acknowledged op may be lost even when the
 * PostgreSQL primary dies. In order, each starting where the last left off:
 *  - almacenamiento-pc1: pc1's PostgreSQL primary and GA primary die together;
 *    pc2's GA promotes its standby (timeline 2); pc1 is then rejoined as standby;
 *  - pg-primario: the PostgreSQL primary (now pc2's) dies under its active GA;
 *    that GA steps down and pc1's GA promotes its standby (timeline 3);
 *  - reinicio-ga-primario: pc1's storage side dies again; after pc2's takeover
 *    the old GA primary restarts (first without its PostgreSQL, then with it
 *    rejoined through restartAsStandby/reclone): it must stay out of ACTIVE and
 *    accept 0 writes;
 *  - pg-congelado: the primary (pc2's) is frozen, not killed: no error, no reset,
 *    only deadlines; pc1's GA promotes (timeline 5); the frozen server wakes up under
 *    load read-write on timeline 4 and must get no write.
 * With CURVE on the internal sockets (as compose deploys it): the GA pair's
 * heartbeats, the clients' reconnections to a GA that came back, all authenticated.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { drill, expectSound, restore, startDrillSystem, type DrillSystem } from '../harness/drill.js';

let sys: DrillSystem;
let failed = false;

beforeAll(async () => {
  sys = await startDrillSystem('sync', { seguro: true });
}, 120_000);

afterEach((ctx) => {
  if (ctx.task.result?.state === 'fail') failed = true;
});

afterAll(async () => {
  await sys?.stopAndClean(failed);
});

describe.sequential('storage failover drills, sync replication', () => {
  it('almacenamiento-pc1: PostgreSQL primary + GA primary die together; the backup promotes its standby, nothing acknowledged is lost', async () => {
    const d = await drill(sys, 'almacenamiento-pc1', 'sync', 'da-alm');
    expect(d.report.replicacionInicio).toBe('sync');
    expectSound(d.report);
    expect(d.report.primarioFinal).toMatchObject({ host: 'pc2', timeline: 2 });
    await restore(sys, d, 'sync');
  }, 90_000);

  it('pg-primario: the PostgreSQL primary dies under its active GA; the peer promotes, nothing acknowledged is lost', async () => {
    const d = await drill(sys, 'pg-primario', 'sync', 'da-pg');
    expect(d.report.replicacionInicio).toBe('sync');
    expectSound(d.report);
    expect(d.report.primarioFinal).toMatchObject({ host: 'pc1', timeline: 3 });
    expect(d.report.antiguoPrimario?.escrituras).toBe(0);
    await restore(sys, d, 'sync');
  }, 90_000);

  it('reinicio-ga-primario: the old GA primary returns after a takeover; it stays passive/fenced and accepts 0 writes', async () => {
    const d = await drill(sys, 'reinicio-ga-primario', 'sync', 'da-rei');
    expect(d.report.replicacionInicio).toBe('sync');
    expectSound(d.report);
    const old = d.report.antiguoPrimario!;
    expect(old.ga).toBe('pc1');
    expect(old.escrituras).toBe(0);
    expect(old.estados).not.toContain('ACTIVE');
    expect(old.retorno?.estadoFinal).toBe('PASSIVE');
    expect(d.report.primarioFinal).toMatchObject({ host: 'pc2', timeline: 4, splitBrain: false });
    await restore(sys, d, 'sync');
  }, 120_000);

  it('pg-congelado: the primary freezes (SIGSTOP: no answer, no reset); the peer promotes, and once woken under load nobody writes to it', async () => {
    const d = await drill(sys, 'pg-congelado', 'sync', 'da-frz');
    expect(d.report.replicacionInicio).toBe('sync');
    expectSound(d.report);
    expect(d.report.primarioFinal).toMatchObject({ host: 'pc1', timeline: 5, splitBrain: false });
    expect(d.report.antiguoPrimario?.ga).toBe('pc2');
    expect(d.report.antiguoPrimario?.escrituras).toBe(0);
    expect(d.report.antiguoPrimario?.estados).not.toContain('ACTIVE');
  }, 120_000);
});
