/**
 * Async préstamos (GC_MODO_PRESTAMO=async) through real processes: a devolución accepted
 * while its préstamo was still pending waits for it, however the actors are scheduled,
 * and the book ends up returned (migrations/010_devolucion_tras_prestamo.sql).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { effectLedgerMismatches, invariantViolations, startTestSystem, type TestSystem } from '../harness/system.js';
import { eventually } from '../harness/eventually.js';

const LIBRO = '978-0-00-000010-1';
let sys: TestSystem;

beforeAll(async () => {
  // One process per actor and type: the préstamo actor can be frozen alone.
  sys = await startTestSystem([{ isbn: LIBRO, ejemplares: 5 }], { actorsPerType: 1, tiposPorActor: 'uno', env: { GC_MODO_PRESTAMO: 'async' } });
});
afterAll(async () => {
  await sys?.stop();
});

it('a devolución applied before its préstamo waits for it: the loan is applied, then returned', async () => {
  const c = sys.client();
  const prestamoActor = sys.actors.find((a) => a.spec.name.startsWith('prestamo'))!;
  expect(prestamoActor).toBeDefined();
  // The préstamo is recorded but its actor is frozen: the devolución's actor gets there first.
  prestamoActor.freeze();
  try {
    expect((await c.send({ operacion: 'prestamo', isbn: LIBRO, usuario: 'desorden', clave: 'desorden-p' })).codigo).toBe('ACEPTADO');
    expect((await c.send({ operacion: 'devolucion', isbn: LIBRO, usuario: 'desorden', clave: 'desorden-d' })).codigo).toBe('ACEPTADO');
    // The devolución was tried: its actor reports a task answered "not applied yet" (the GA's
    // ALMACENAMIENTO_NO_DISPONIBLE while the préstamo it follows is pending, migration 010) …
    const devolucionActor = sys.actors.find((a) => a.spec.name.startsWith('devolucion'))!;
    expect(devolucionActor).toBeDefined();
    let metrics = '';
    await eventually(
      () => `the devolución tried by its actor (actor_tasks_total of ${devolucionActor.spec.name}:\n${metrics.split('\n').filter((l) => l.startsWith('actor_tasks_total')).join('\n')})`,
      async () => {
        metrics = await (await fetch(`http://${devolucionActor.spec.httpHost ?? '127.0.0.1'}:${devolucionActor.spec.httpPort}/metrics`, { signal: AbortSignal.timeout(1000) })).text();
        return Number(/^actor_tasks_total\{[^}]*codigo="ALMACENAMIENTO_NO_DISPONIBLE"[^}]*\} (\d+)/m.exec(metrics)?.[1] ?? 0) >= 1;
      },
      20_000,
    );
    // … and not applied: still pending, the loan not there to return.
    expect((await c.send({ operacion: 'estado', id: 'desorden-d' })).datos.estado).toBe('PENDIENTE');
  } finally {
    prestamoActor.thaw();
  }
  for (const id of ['desorden-p', 'desorden-d']) {
    await eventually(`${id} applied`, async () => (await c.send({ operacion: 'estado', id })).datos.estado === 'COMPLETADA', 20_000);
  }
  const { rows } = await sys.db.query(`SELECT disponibles FROM libros WHERE isbn = $1`, [LIBRO]);
  expect(rows[0].disponibles).toBe(5);
  expect(await invariantViolations(sys.db)).toEqual([]);
  expect(await effectLedgerMismatches(sys.db)).toEqual([]);
});
