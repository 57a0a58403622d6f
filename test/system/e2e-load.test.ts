/**
 * Concurrency and redundancy under load, through real processes: mixed load
 * keeps the invariant; killing one actor of each type or restarting the GC
 * loses nothing that was acknowledged and applies nothing twice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { effectLedgerMismatches, invariantViolations, startTestSystem, type TestSystem } from '../harness/system.js';
import { waitNoPending } from '../../gestor_almacenamiento/consistency.js';
import { runWorkload, type WorkloadResult } from '../harness/workload.js';

const ISBNS = ['978-1-00-000001-0', '978-1-00-000002-0', '978-1-00-000003-0', '978-1-00-000004-0'];
let sys: TestSystem;

beforeAll(async () => {
  sys = await startTestSystem(ISBNS.map((isbn) => ({ isbn, ejemplares: 4 })));
});
afterAll(async () => {
  await sys?.stop();
});

async function ledgerState(ids: string[]): Promise<Map<string, string>> {
  const r = await sys.db.query('SELECT id, estado FROM operaciones WHERE id = ANY($1)', [ids]);
  return new Map(r.rows.map((x) => [x.id as string, x.estado as string]));
}

async function expectConsistent(w: WorkloadResult) {
  // Every acknowledged async op reaches a final state…
  expect(await waitNoPending(sys.db, 20_000), 'ops still PENDIENTE in the ledger after 20 s').toBe(0);
  const states = await ledgerState(w.accepted);
  expect(w.accepted.filter((id) => !['COMPLETADA', 'RECHAZADA'].includes(states.get(id) ?? 'MISSING'))).toEqual([]);
  // …every APROBADO reply is in the ledger as COMPLETADA…
  const approved = w.replies.filter((r) => r.codigo === 'APROBADO').map((r) => r.clave!);
  const approvedStates = await ledgerState(approved);
  expect(approved.filter((id) => approvedStates.get(id) !== 'COMPLETADA')).toEqual([]);
  // …and no effect is applied twice or without its ledger row; stock adds up.
  expect(await effectLedgerMismatches(sys.db)).toEqual([]);
  expect(await invariantViolations(sys.db)).toEqual([]);
}

describe('under load', () => {
  it('10 clients of mixed load keep stock consistent and complete every ACEPTADO op', async () => {
    const w = await runWorkload(sys, { clients: 10, durationMs: 4000, isbns: ISBNS, prefix: 'mix' });
    // Functional, not a rate (that is `npm run bench`): replies came, every request was answered.
    console.info(`[e2e-load] mixed load, 10 clients, 4 s: ${w.replies.length} replies`);
    expect(w.replies.length).toBeGreaterThan(0);
    expect(w.unanswered).toBe(0);
    expect(w.replies.filter((r) => r.codigo === 'ERROR_INTERNO')).toEqual([]);
    await expectConsistent(w);
  });

  it('kill -9 of one actor of each type: requests keep succeeding, nothing applied twice', async () => {
    const load = runWorkload(sys, { clients: 6, durationMs: 5000, isbns: ISBNS, prefix: 'kill' });
    await new Promise((r) => setTimeout(r, 1500));
    const victims = ['prestamo-1', 'devolucion-1', 'renovacion-1'].map((n) => sys.actors.find((a) => a.spec.name === n)!);
    await Promise.all(victims.map((a) => a.stop('SIGKILL')));
    const killedAt = Date.now();
    const w = await load;
    expect(w.unanswered).toBe(0);
    const after = w.replies.filter((r) => Date.parse(r.fechaOperacion) > killedAt + 1500);
    // "Keep succeeding" is the check, not how many (a rate is `npm run bench`'s): successes after the kill.
    console.info(`[e2e-load] actor kill: ${after.length} replies from 1.5 s after the kill on`);
    expect(after.filter((r) => r.exito).length).toBeGreaterThan(0);
    expect(after.filter((r) => !r.exito && ['SIN_ACTORES', 'TIEMPO_AGOTADO', 'ERROR_INTERNO'].includes(r.codigo))).toEqual([]);
    await expectConsistent(w);
    for (const a of victims) a.start();
    await sys.waitForActors(2);
  });

  it('a GC restart under load completes every ACEPTADO op', async () => {
    const load = runWorkload(sys, { clients: 6, durationMs: 6000, isbns: ISBNS, prefix: 'gcr' });
    await new Promise((r) => setTimeout(r, 1500));
    await sys.gc.stop('SIGKILL');
    sys.gc.start();
    await sys.gc.waitHealthy();
    const w = await load;
    expect(w.unanswered).toBe(0);
    await expectConsistent(w);
  });
});
