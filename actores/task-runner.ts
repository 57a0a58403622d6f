/**
 * Runs an actor's tasks through the GA, at most `concurrency` at a time, and turns
 * every outcome — including failures — into a Resultado for the GC.
 * No sockets: `aplicar` and `report` are plain functions, so tests drive it directly.
 */
import { now, soloOperacion, type OperacionSolicitada, type Resultado } from '../common/protocol/ps-gc.js';
import { ProtocolError } from '../common/errors.js';
import { MENSAJES } from '../common/protocol/codes.js';
import type { Tarea } from '../common/protocol/internal.js';
import type { Logger } from '../common/logger.js';

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

export class TaskRunner {
  private readonly queue: Tarea[] = [];
  /**
   * Ids running or queued, with the GCs (by index) that sent them: a copy of a task already
   * here (re-published, or sent by another GC after a PS failed over) is not run twice,
   * but the result goes to every GC that asked.
   */
  private readonly ids = new Map<string, Set<number>>();
  private running = 0;
  private idleWaiters: Array<() => void> = [];
  completed = 0;
  failed = 0;

  constructor(private readonly d: TaskRunnerDeps) {}

  /** Tasks accepted and not yet reported (what the heartbeat announces as enCurso). */
  get inFlight(): number {
    return this.ids.size;
  }

  submit(t: Tarea, origin = 0): 'started' | 'queued' | 'duplicate' {
    const origins = this.ids.get(t.id);
    if (origins) {
      origins.add(origin);
      return 'duplicate';
    }
    this.ids.set(t.id, new Set([origin]));
    if (this.running < this.d.concurrency) {
      this.run(t);
      return 'started';
    }
    this.queue.push(t);
    return 'queued';
  }

  /** Resolves when nothing is running or queued. */
  idle(): Promise<void> {
    if (this.ids.size === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /** Forgets queued tasks (shutdown); the GC re-publishes them elsewhere. */
  dropQueued(): number {
    const n = this.queue.length;
    for (const t of this.queue.splice(0)) this.ids.delete(t.id);
    this.checkIdle();
    return n;
  }

  private run(t: Tarea): void {
    this.running++;
    const t0 = performance.now();
    const op = soloOperacion(t);
    this.d
      .aplicar(op)
      .then(
        (r) => {
          this.completed++;
          return { ...r, id: r.id ?? op.id };
        },
        (err: unknown) => {
          this.failed++;
          this.d.log.warn({ err, opId: op.id, intento: t.intento }, 'applying task failed');
          return failureResultado(op, err);
        },
      )
      .then((r) => {
        this.d.log.debug({ opId: op.id, codigo: r.codigo, estado: r.estado, intento: t.intento }, 'task done');
        try {
          this.d.report(r, t, performance.now() - t0, [...(this.ids.get(t.id) ?? [])]);
        } catch (err) {
          this.d.log.error({ err, opId: op.id }, 'reporting a result failed');
        }
      })
      .finally(() => {
        this.running--;
        this.ids.delete(t.id);
        const next = this.queue.shift();
        if (next) this.run(next);
        this.checkIdle();
      });
  }

  private checkIdle(): void {
    if (this.ids.size === 0) for (const w of this.idleWaiters.splice(0)) w();
  }
}
