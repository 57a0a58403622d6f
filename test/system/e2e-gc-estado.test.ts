/**
 * A sync op that outlasts its GC's patience, seen from the other GC (two-hosts, two GCs,
 * one actor per type):
 *  - the renovación actor freezes with the task: pc1's GC answers TIEMPO_AGOTADO ("consulte su
 *    estado"), and `estado` through pc2's GC finds the op PENDIENTE (it was recorded in the ledger
 *    before the reply), then, once the actor wakes, COMPLETADA: the loan is renewed once;
 *  - pc1's GC stopped in order (SIGTERM) with a sync request waiting: it does not answer it, so
 *    the PS resends it, same clave, to pc2's GC and gets the real outcome.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSystem, type TestSystem } from '../harness/system.js';
import { GcPipelineClient } from '../../solicitante/gc-pipeline.js';
import { eventually } from '../harness/eventually.js';
import type { GcStatus } from '../../gestor_carga/gc.js';

const ISBN = '978-84-9999-001-1';
let sys: TestSystem;
const clients: GcPipelineClient[] = [];
const client = (endpoints: string[], timeoutMs = 8000, retries = 0) => {
  const c = new GcPipelineClient({ endpoints, timeoutMs, retries });
  clients.push(c);
  return c;
};

beforeAll(async () => {
  sys = await startTestSystem([{ isbn: ISBN, ejemplares: 5 }], { topology: 'two-hosts', actorsPerType: 1, tiposPorActor: 'uno', env: { GC_SYNC_TIMEOUT_MS: '1500' } });
}, 180_000);

afterAll(async () => {
  for (const c of clients) c.close();
  for (const a of sys?.actors ?? []) a.thaw();
  await sys?.stop();
});

/** Renewals of `usuario`'s active loan of the book. */
async function renovaciones(usuario: string): Promise<Array<{ renovaciones: number }>> {
  return (await sys.db.query<{ renovaciones: number }>(`SELECT renovaciones FROM prestamos WHERE isbn = $1 AND usuario = $2 AND estado = 'ACTIVO'`, [ISBN, usuario])).rows;
}

const renovacionActor = () => {
  const a = sys.actors.find((x) => (x.spec.env?.ACTOR_TIPOS ?? '') === 'renovacion');
  if (!a) throw new Error('no renovación actor');
  return a;
};

describe.sequential('a sync op that times out, through two GCs', () => {
  it('TIEMPO_AGOTADO from one GC: estado through the other finds it PENDIENTE, then COMPLETADA; applied once', async () => {
    const [gc1, gc2] = sys.gcEndpoints as [string, string];
    const ps1 = client([gc1]);
    const ps2 = client([gc2]);
    expect((await ps1.send({ operacion: 'prestamo', isbn: ISBN, usuario: 'ana', clave: 'es-p1' })).codigo).toBe('APROBADO');
    const ren = renovacionActor();
    ren.freeze();
    try {
      const r = await ps1.send({ operacion: 'renovacion', isbn: ISBN, usuario: 'ana', clave: 'es-r1' });
      expect(r).toMatchObject({ codigo: 'TIEMPO_AGOTADO', id: 'es-r1' });
      const e = await ps2.send({ operacion: 'estado', id: 'es-r1', clave: 'es-e1' });
      expect(e).toMatchObject({ codigo: 'OK', datos: { estado: 'PENDIENTE', operacion: 'renovacion' } });
    } finally {
      ren.thaw();
    }
    await eventually('es-r1 applied', async () => (await ps2.send({ operacion: 'estado', id: 'es-r1', clave: `es-e-${Date.now()}` })).datos.estado === 'COMPLETADA', 20_000);
    expect(await renovaciones('ana')).toEqual([{ renovaciones: 1 }]);
  }, 60_000);

  it('a GC stopped in order leaves its waiting sync request unanswered: the PS resends it to the other GC and gets the real outcome', async () => {
    const [gc1, gc2] = sys.gcEndpoints as [string, string];
    const ps = client([gc1, gc2], 8000, 1);
    expect((await ps.send({ operacion: 'prestamo', isbn: ISBN, usuario: 'bea', clave: 'es-p2' })).codigo).toBe('APROBADO');
    const ren = renovacionActor();
    ren.freeze();
    let answer: Awaited<ReturnType<GcPipelineClient['request']>>;
    try {
      const pending = ps.request({ operacion: 'renovacion', isbn: ISBN, usuario: 'bea', clave: 'es-r2' });
      await eventually('es-r2 waiting at pc1\'s GC', async () => ((await sys.gcs[0]!.process.status<GcStatus>())?.tareas.total ?? 0) >= 1, 5000);
      await sys.gcs[0]!.process.stop('SIGTERM');
      // The other GC publishes it to the same (frozen) actor: thawed, it answers both.
      setTimeout(() => ren.thaw(), 500);
      answer = await pending;
    } finally {
      ren.thaw();
      sys.gcs[0]!.process.start();
    }
    expect(answer.endpoint).toBe(gc2);
    expect(answer.respuesta).toMatchObject({ codigo: 'APROBADO', id: 'es-r2' });
    expect(await renovaciones('bea')).toEqual([{ renovaciones: 1 }]);
    await sys.gcs[0]!.process.waitHealthy();
  }, 60_000);
});
