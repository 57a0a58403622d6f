import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { TaskRunner, failureResultado } from '../../actores/task-runner.js';
import { StorageRequestError, StorageUnavailableError } from '../../common/errors.js';
import type { Tarea } from '../../common/protocol/internal.js';
import type { OperacionSolicitada, Resultado } from '../../common/protocol/ps-gc.js';

const log = pino({ level: 'silent' });
const tarea = (id: string): Tarea => ({ operacion: 'prestamo', isbn: '978-1', usuario: 'u1', id, intento: 1 });
const ok = (op: OperacionSolicitada): Resultado => ({ id: op.id, estado: 'COMPLETADA', exito: true, codigo: 'APROBADO', mensaje: 'ok', datos: {}, fechaOperacion: new Date().toISOString() });

describe('actor task runner', () => {
  it('runs at most `concurrency` at once and reports every task', async () => {
    let running = 0;
    let peak = 0;
    const reported: Resultado[] = [];
    const runner = new TaskRunner({
      concurrency: 3,
      log,
      async aplicar(op) {
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, 10));
        running--;
        return ok(op);
      },
      report: (r) => reported.push(r),
    });
    for (let i = 0; i < 10; i++) runner.submit(tarea(`t${i}`));
    expect(runner.inFlight).toBe(10);
    await runner.idle();
    expect(peak).toBe(3);
    expect(reported.map((r) => r.id).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `t${i}`).sort());
    expect(runner.inFlight).toBe(0);
  });

  it('does not run a copy of a task it is already running', async () => {
    let calls = 0;
    const runner = new TaskRunner({ concurrency: 2, log, aplicar: async (op) => { calls++; await new Promise((r) => setTimeout(r, 5)); return ok(op); }, report: () => {} });
    expect(runner.submit(tarea('x'))).toBe('started');
    expect(runner.submit({ ...tarea('x'), intento: 2 })).toBe('duplicate');
    await runner.idle();
    expect(calls).toBe(1);
  });

  it('another op under a clave it is running is run too (the GA refuses it), not merged into the first', async () => {
    const applied: OperacionSolicitada[] = [];
    const reported: Array<{ r: Resultado; t: Tarea }> = [];
    const runner = new TaskRunner({ concurrency: 2, log, aplicar: async (op) => { applied.push(op); await new Promise((r) => setTimeout(r, 5)); return { ...ok(op), operacion: op.operacion }; }, report: (r, t) => reported.push({ r, t }) });
    expect(runner.submit(tarea('x'))).toBe('started');
    expect(runner.submit({ ...tarea('x'), operacion: 'devolucion' })).toBe('started');
    expect(runner.submit({ ...tarea('x'), usuario: 'u2' })).toBe('queued');
    await runner.idle();
    expect(applied.map((o) => `${o.operacion}/${o.usuario}`)).toEqual(['prestamo/u1', 'devolucion/u1', 'prestamo/u2']);
    // Each reported with its own task.
    expect(reported.map(({ r, t }) => `${r.operacion}:${t.operacion}`).sort()).toEqual(['devolucion:devolucion', 'prestamo:prestamo', 'prestamo:prestamo']);
  });

  it('storage unavailable → ALMACENAMIENTO_NO_DISPONIBLE without estado; other failures → their code', async () => {
    const reported: Resultado[] = [];
    const runner = new TaskRunner({
      concurrency: 2,
      log,
      aplicar: async (op) => { throw op.id === 'a' ? new StorageUnavailableError('all down') : new StorageRequestError('bad'); },
      report: (r) => reported.push(r),
    });
    runner.submit(tarea('a'));
    runner.submit(tarea('b'));
    await runner.idle();
    const a = reported.find((r) => r.id === 'a')!;
    expect(a).toMatchObject({ exito: false, codigo: 'ALMACENAMIENTO_NO_DISPONIBLE' });
    expect(a.estado).toBeUndefined();
    expect(reported.find((r) => r.id === 'b')).toMatchObject({ exito: false, codigo: 'ERROR_INTERNO' });
    const op = { operacion: 'devolucion', isbn: 'x', usuario: 'u', id: 'z' } as const;
    expect(failureResultado(op, new Error('boom')).codigo).toBe('ERROR_INTERNO');
    // A write a GA got and never answered may have committed: the user is told to ask estado, not to retry.
    const unknown = failureResultado(op, new StorageUnavailableError('silent GA', { outcomeUnknown: true }));
    expect(unknown).toMatchObject({ exito: false, codigo: 'TIEMPO_AGOTADO' });
    expect(unknown.estado).toBeUndefined();
  });
});
