/**
 * Batching never merges two ops' outcomes nor loses one when a process dies with a
 * batch in flight, through real processes: the actor serving every type is killed
 * while it holds several tasks (batches from the GC, batch requests to the GA), and
 * the active GA is killed while its group commits carry several writes. Every
 * request is answered with its own outcome, nothing acknowledged is lost, nothing
 * is applied twice, stock adds up.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { waitNoPending } from '../../gestor_almacenamiento/consistency.js';
import type { GcStatus } from '../../gestor_carga/gc.js';
import { effectLedgerMismatches, invariantViolations, startTestSystem, type TestSystem } from '../harness/system.js';
import { runWorkload, type WorkloadResult } from '../harness/workload.js';
import { eventually } from '../harness/eventually.js';

const ISBNS = Array.from({ length: 6 }, (_, i) => `978-2-00-00000${i + 1}-0`);
let sys: TestSystem | undefined;
afterEach(async () => {
  await sys?.stop();
  sys = undefined;
});

async function expectSound(s: TestSystem, w: WorkloadResult): Promise<void> {
  expect(w.unanswered).toBe(0);
  // Each reply is its own op's: the clave it answers is one the client sent, once.
  const claves = w.replies.map((r) => r.clave);
  expect(claves.every((c) => typeof c === 'string')).toBe(true);
  expect(new Set(claves).size).toBe(claves.length);
  expect(await waitNoPending(s.db, 20_000), 'ops still PENDIENTE').toBe(0);
  const approved = w.replies.filter((r) => r.codigo === 'APROBADO').map((r) => r.clave!);
  const rows = await s.db.query<{ id: string; estado: string }>('SELECT id, estado FROM operaciones WHERE id = ANY($1)', [[...approved, ...w.accepted]]);
  const byId = new Map(rows.rows.map((r) => [r.id, r]));
  expect(approved.filter((id) => byId.get(id)?.estado !== 'COMPLETADA')).toEqual([]);
  expect(w.accepted.filter((id) => !['COMPLETADA', 'RECHAZADA'].includes(byId.get(id)?.estado ?? 'AUSENTE'))).toEqual([]);
  expect(await effectLedgerMismatches(s.db)).toEqual([]);
  expect(await invariantViolations(s.db)).toEqual([]);
}

describe('a crash with a batch in flight', () => {
  it('kill -9 of the actor process serving every type while it holds several tasks', async () => {
    sys = await startTestSystem(ISBNS.map((isbn) => ({ isbn, ejemplares: 20 })), { actorsPerType: 2, tiposPorActor: 'todos' });
    const s = sys;
    const load = runWorkload(s, { clients: 16, durationMs: 6000, isbns: ISBNS, prefix: 'lote-actor' });
    // 'concentrada' sends everything to actor-1: wait until it holds several tasks and batches arrived.
    const victim = s.actors.find((a) => a.spec.name === 'actor-1')!;
    await eventually('several tasks in flight at actor-1', async () => ((await victim.status<{ enCurso: number }>())?.enCurso ?? 0) >= 3, 10_000);
    const gc = (await s.gc.status<GcStatus>())!;
    expect(gc.publicadas.mensajes).toBeGreaterThan(gc.publicadas.envios); // tasks went out in batches
    await victim.stop('SIGKILL');
    const w = await load;
    // Functional, not a rate (that is `npm run bench`): the load ran, and expectSound accounts for every request.
    console.info(`[e2e-batch-crash] actor kill: ${w.replies.length} replies in 6 s`);
    expect(w.replies.length).toBeGreaterThan(0);
    await expectSound(s, w);
  });

  it('kill -9 of the active GA while its group commits carry several writes (pair, sync replication)', async () => {
    sys = await startTestSystem(ISBNS.map((isbn) => ({ isbn, ejemplares: 20 })), {
      topology: 'two-hosts',
      replicacion: 'sync',
      actorsPerType: 2,
      tiposPorActor: 'todos',
      env: { GA_TIMEOUT_MS: '500', GA_MAX_ATTEMPTS: '20' },
    });
    const s = sys;
    const load = runWorkload(s, { clients: 16, durationMs: 8000, isbns: ISBNS, prefix: 'lote-ga' });
    const ga = s.hosts.pc1!.ga!;
    const multiWriteBatches = async () => {
      const r = await fetch(`http://${ga.spec.httpHost}:${ga.spec.httpPort}/metrics`);
      const text = await r.text();
      const n = (le: string) => Number(new RegExp(`^ga_write_batch_size_bucket\\{le="${le}"[^}]*\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
      return Number(/^ga_write_batch_size_count\{[^}]*\} (\d+)/m.exec(text)?.[1] ?? 0) - n('1');
    };
    await eventually('group commits of several writes at the GA', async () => (await multiWriteBatches()) >= 5, 15_000);
    await ga.kill();
    const w = await load;
    // Functional, not a rate (that is `npm run bench`): the load ran, and expectSound accounts for every request.
    console.info(`[e2e-batch-crash] GA kill: ${w.replies.length} replies in 8 s`);
    expect(w.replies.length).toBeGreaterThan(0);
    await expectSound(s, w);
  });
});
