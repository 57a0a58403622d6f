/**
 * The GC drills on one two-hosts system (a GC on pc1 and one on pc2, both
 * active; every PS has both in its list, its own sede's first), shortened load
 * (6 PS, 1.5 s before the fault, 4 s after):
 *  - gc-pc1: kill -9 pc1's GC under load; its PS fail over to pc2's within their
 *    timeout (0 failed requests); it comes back after 2 s and takes its sede's
 *    load again;
 *  - gc-pendientes: pc1's GC dies holding ACEPTADO returns not yet applied (no
 *    devolución actor was up); pc2's GC claims them once their lease runs out and
 *    every one is applied, once;
 *  - gc-congelado: the same, but pc1's GC is frozen (SIGSTOP), not killed: no reset,
 *    its PS each pay a timeout; once pc2's GC finished its work it wakes up (SIGCONT)
 *    believing it still holds its leases: nothing applied twice, its load comes back.
 * Each must also show 0 acknowledged lost, 0 applied twice and the invariant.
 * With CURVE on the internal sockets: a GC that comes back is reached again by every actor.
 * A drill whose target is already down refuses to report.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { drill, expectSound, restore, startDrillSystem, type DrillSystem } from '../harness/drill.js';

let sys: DrillSystem;
let failed = false;

beforeAll(async () => {
  sys = await startDrillSystem('async', { seguro: true });
}, 120_000);

afterEach((ctx) => {
  if (ctx.task.result?.state === 'fail') failed = true;
});

afterAll(async () => {
  await sys?.stopAndClean(failed);
});

describe.sequential('GC drills: two GCs, PS fail over between them', () => {
  it('starts a GC per host, both active, each seeing every actor', async () => {
    expect(sys.gcs.map((g) => g.id)).toEqual(['gc-pc1', 'gc-pc2']);
    const st = await Promise.all(sys.gcs.map((g) => g.process.status<{ actoresVivos: Record<string, number>; gestores: Array<{ id: string; vivo: boolean }> }>()));
    for (const s of st) expect(s?.actoresVivos).toEqual({ prestamo: 2, devolucion: 2, renovacion: 2 });
    // Each GC's /status lists both (through the ledger), alive.
    const deadline = Date.now() + 10_000;
    let listed: string[] = [];
    while (Date.now() < deadline) {
      const s = await sys.gcs[1]!.process.status<{ gestores: Array<{ id: string; vivo: boolean }> }>();
      listed = (s?.gestores ?? []).filter((g) => g.vivo).map((g) => g.id).sort();
      if (listed.length === 2) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(listed).toEqual(['gc-pc1', 'gc-pc2']);
  });

  it('gc-pc1: a GC dies under load from 6 PS: 0 failed requests, nothing lost or doubled; back, it takes its load again', async () => {
    const d = await drill(sys, 'gc-pc1', 'async', 'dg-pc1', { clients: 6 });
    expectSound(d.report);
    expect(d.report.solicitudes.fallidas).toBe(0);
    const gc1 = sys.gcs[0]!.endpoint;
    expect(d.report.porGc.ultimos2s[gc1] ?? 0).toBeGreaterThan(0);
    await restore(sys, d, 'async');
  }, 120_000);

  it('gc-pendientes: a GC dies holding ACEPTADO work not yet applied: every such op completes through the other GC', async () => {
    const d = await drill(sys, 'gc-pendientes', 'async', 'dg-pend', { clients: 6 });
    expectSound(d.report);
    const p = d.report.detalleEscenario?.pendientesDelGcCaido as { alMorir: number; terminadas: number; porOtroGc: number };
    expect(p.alMorir).toBeGreaterThan(0);
    expect(p.terminadas).toBe(p.alMorir);
    expect(p.porOtroGc).toBe(p.alMorir);
    await restore(sys, d, 'async');
  }, 120_000);

  it('gc-congelado: a GC freezes holding ACEPTADO work; the other GC finishes it; woken, the zombie applies nothing twice and takes its load again', async () => {
    const d = await drill(sys, 'gc-congelado', 'async', 'dg-frz', { clients: 6 });
    expectSound(d.report);
    const p = d.report.detalleEscenario?.pendientesDelGcCongelado as { alCongelarse: number; porOtroGc: number };
    expect(p.alCongelarse).toBeGreaterThan(0);
    expect(p.porOtroGc).toBe(p.alCongelarse);
    await restore(sys, d, 'async');
  }, 120_000);

  it('a drill whose target is already down fails with the reason, instead of reporting a fault it never made as survived', async () => {
    const g = sys.gcs[0]!;
    await g.process.kill();
    try {
      await expect(drill(sys, 'gc', 'async', 'dg-down')).rejects.toThrow(`${g.id} is not running: the drill cannot make its fault`);
    } finally {
      g.process.start();
      await g.process.waitHealthy();
      await sys.waitForActors(2);
    }
  }, 60_000);
});
