/**
 * Runs a library actor's tasks through the GA (concurrency, duplicates and origins:
 * work-queue.ts) and turns every outcome — including failures — into a Resultado for
 * the GC. No sockets: `aplicar` and `report` are plain functions, so tests drive it directly.
 */
import { now, opKey, soloOperacion, type OperacionSolicitada, type Resultado } from '../common/protocol/ps-gc.js';
import { ProtocolError } from '../common/errors.js';
import { MENSAJES } from '../common/protocol/codes.js';
import type { Tarea } from '../common/protocol/internal.js';
import type { Logger } from '../common/logger.js';
import { WorkQueue } from './work-queue.js';

export interface TaskRunnerDeps {
  aplicar(op: OperacionSolicitada): Promise<Resultado>;
  /** `origins`: every GC that handed this task over while it ran (each gets the result). */
  report(r: Resultado, tarea: Tarea, ms: number, origins: number[]): void;
  concurrency: number;
  log: Logger;
}

/**
 * The Resultado for a failed `aplicar`. Without `estado` on purpose: it is no
 * recorded outcome (the op was not applied — or, with TIEMPO_AGOTADO, may have
 * been), and the GC decides whether to answer or re-publish.
 */
export function failureResultado(op: OperacionSolicitada, err: unknown): Resultado {
  const codigo = err instanceof ProtocolError ? err.codigo : 'ERROR_INTERNO';
  return { id: op.id, operacion: op.operacion, exito: false, codigo, mensaje: MENSAJES[codigo], datos: {}, fechaOperacion: now() };
}

/** A library actor's tasks: each applied once through the GA, every outcome (failures too) a Resultado. */
export class TaskRunner extends WorkQueue<Tarea, Resultado> {
  constructor(d: TaskRunnerDeps) {
    super({
      concurrency: d.concurrency,
      log: d.log,
      report: d.report,
      key: opKey,
      work: (t) => {
        const op = soloOperacion(t);
        return d.aplicar(op).then(
          (r) => {
            const outcome = { ...r, id: r.id ?? op.id };
            d.log.debug({ opId: op.id, codigo: outcome.codigo, estado: outcome.estado, intento: t.intento }, 'task done');
            return { outcome, ok: true };
          },
          (err: unknown) => {
            d.log.warn({ err, opId: op.id, intento: t.intento }, 'applying task failed');
            return { outcome: failureResultado(op, err), ok: false };
          },
        );
      },
    });
  }
}
