/**
 * Failover drills on one two-hosts system, asynchronous replication (the
 * default), shortened load (5 PS, 1.5 s before the fault, 4 s after):
 *  - actores: kill -9 one of the two actors of each type;
 *  - actores-congelados: SIGSTOP one actor of each type, SIGCONT once the GCs gave
 *    up on it: zombies that wake holding tasks others already did;
 *  - gc: kill -9 the GC and start it again;
 *  - pg-primario: kill -9 the PostgreSQL primary (async: lost acknowledged ops
 *    are reported, not asserted — that is what async replication allows);
 *  - ga-congelado: SIGSTOP the active GA; the backup takes over on the same primary;
 *    woken, the old one is still ACTIVE and the backup yields (same PostgreSQL: harmless);
 *  - ga-primario: kill -9 the active GA; its peer takes over on the live primary.
 * Each must recover by itself with nothing applied twice and the stock
 * invariant intact; between drills the killed side is put back (restore).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PS_VARS, readConfig } from '../../common/config.js';
import { drill, expectSound, restore, startDrillSystem, type DrillSystem } from '../harness/drill.js';

let sys: DrillSystem;
let failed = false;

beforeAll(async () => {
  sys = await startDrillSystem('async');
}, 120_000);

afterEach((ctx) => {
  if (ctx.task.result?.state === 'fail') failed = true;
});

afterAll(async () => {
  await sys?.stopAndClean(failed);
});

describe.sequential('failover drills, async replication', () => {
  it("the simulated hosts' GCs take PS requests on the PS's default hosts, pc1's first (npm start + npm run ps work without --gc)", () => {
    const hostOf = (endpoint: string) => new URL(endpoint.replace(/^tcp:/, 'http:')).hostname;
    expect(sys.gcEndpoints.map(hostOf)).toEqual(readConfig(PS_VARS, {}).GC_ENDPOINTS.map(hostOf));
  });

  it('actores: one actor of each type dies; the others take the work at once', async () => {
    const d = await drill(sys, 'actores', 'async', 'dp-act');
    expectSound(d.report);
    expect(d.report.recuperacionMs).toBeLessThan(2000);
    await restore(sys, d, 'async');
  }, 90_000);

  it('actores-congelados: one actor of each type freezes; its tasks go to the others, and once it wakes with them nothing is applied twice', async () => {
    const d = await drill(sys, 'actores-congelados', 'async', 'dp-frz');
    expectSound(d.report);
    const datos = d.report.detalleEscenario as { reenviadas: number; actoresVivos: Record<string, number> };
    expect(datos.reenviadas).toBeGreaterThan(0);
    expect(datos.actoresVivos).toEqual({ prestamo: 2, devolucion: 2, renovacion: 2 });
    await restore(sys, d, 'async');
  }, 90_000);

  it('gc: the GC crashes and restarts; PS resend with the same ids, pending work resumes from the ledger', async () => {
    const d = await drill(sys, 'gc', 'async', 'dp-gc');
    expectSound(d.report);
    await restore(sys, d, 'async');
  }, 90_000);

  it('pg-primario: the PostgreSQL primary dies; the other GA promotes its standby (loss reported in async mode)', async () => {
    const d = await drill(sys, 'pg-primario', 'async', 'dp-pg');
    expectSound(d.report, { lossAllowed: true });
    process.stdout.write(`pg-primario async: ${d.report.perdidas} of ${d.report.reconocidas} acknowledged ops lost\n`);
    expect(d.report.primarioFinal.timeline).toBe(2);
    expect(d.report.antiguoPrimario?.escrituras).toBe(0);
    await restore(sys, d, 'async');
  }, 90_000);

  it('ga-congelado: the active GA freezes; its peer takes over on the same primary; woken, one of them yields (the configured backup) and nothing is lost or doubled', async () => {
    const d = await drill(sys, 'ga-congelado', 'async', 'dp-gaf');
    expectSound(d.report);
    // After pg-primario the active GA is pc2's (the configured backup): frozen, pc1's takes over and keeps the lead.
    const finales = (d.report.detalleEscenario as { estadosFinales: Record<string, string> }).estadosFinales;
    expect(Object.values(finales).filter((e) => e === 'ACTIVE')).toHaveLength(1);
    await restore(sys, d, 'async');
  }, 90_000);

  it('ga-primario: the active GA dies; its peer takes over using the live PostgreSQL primary', async () => {
    const d = await drill(sys, 'ga-primario', 'async', 'dp-ga');
    expectSound(d.report);
    expect(d.report.tomaDeControlMs).not.toBeNull();
    // No promotion when the primary is alive.
    expect(d.report.primarioFinal.timeline).toBe(2);
    await restore(sys, d, 'async');
  }, 90_000);
});
