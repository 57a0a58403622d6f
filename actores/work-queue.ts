/**
 * What every actor does with the tasks it receives, whatever they are: runs them
 * at most `concurrency` at a time, queues the rest, runs a copy of a task already
 * here (re-published, or sent by another GC after a PS failed over) only once but
 * reports its outcome to every GC that sent it, and tells when it is idle.
 * The library actors' TaskRunner (task-runner.ts) and the calculo actors'
 * CalcRunner (calc-runner.ts) only say how one task is done.
 * No sockets: `work` and `report` are plain functions, so tests drive it directly.
 */
import type { Logger } from '../common/logger.js';

export interface WorkQueueDeps<T extends { id: string }, R> {
  /**
   * What makes two tasks copies of one (default: the id). Library tasks add the op, so another
   * op under a reused clave is run (the GA refuses it: ID_REUTILIZADO), not merged into the first.
   */
  key?(t: T): string;
  /**
   * Does one task. Never rejects: a failure is an outcome too (`ok: false`, counted as failed).
   * A refusal by a rule (the GA's SIN_EJEMPLARES, a calculation's DIVISION_POR_CERO) is `ok`:
   * the task was done and its answer is final.
   */
  work(t: T): Promise<{ outcome: R; ok: boolean }>;
  /** `origins`: every GC (by link index) that handed this task over while it ran (each gets the outcome). */
  report(outcome: R, t: T, ms: number, origins: number[]): void;
  concurrency: number;
  log: Logger;
}

export class WorkQueue<T extends { id: string }, R> {
  /** Waiting tasks, each with its key (computed once, at submit). */
  private readonly queue: Array<{ t: T; k: string }> = [];
  /** Keys of the tasks running or queued, with the GCs (by index) that sent them. */
  private readonly ids = new Map<string, Set<number>>();
  private readonly key: (t: T) => string;
  private running = 0;
  private idleWaiters: Array<() => void> = [];
  completed = 0;
  failed = 0;

  constructor(private readonly d: WorkQueueDeps<T, R>) {
    this.key = d.key ?? ((t) => t.id);
  }

  /** Tasks accepted and not yet reported (what the heartbeat announces as `enCurso`). */
  get inFlight(): number {
    return this.ids.size;
  }

  submit(t: T, origin = 0): 'started' | 'queued' | 'duplicate' {
    const k = this.key(t);
    const origins = this.ids.get(k);
    if (origins) {
      origins.add(origin);
      return 'duplicate';
    }
    this.ids.set(k, new Set([origin]));
    if (this.running < this.d.concurrency) {
      this.run(t, k);
      return 'started';
    }
    this.queue.push({ t, k });
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
    for (const { k } of this.queue.splice(0)) this.ids.delete(k);
    this.checkIdle();
    return n;
  }

  private run(t: T, k: string): void {
    this.running++;
    const t0 = performance.now();
    // The key leaves in the same step its GCs are read: a copy handed over after that
    // (even a microtask later) runs anew instead of joining a report already sent.
    const take = (): number[] => {
      const origins = [...(this.ids.get(k) ?? [])];
      this.ids.delete(k);
      return origins;
    };
    this.d
      .work(t)
      .then(
        ({ outcome, ok }) => {
          if (ok) this.completed++;
          else this.failed++;
          const origins = take();
          try {
            this.d.report(outcome, t, performance.now() - t0, origins);
          } catch (err) {
            this.d.log.error({ err, tarea: t.id }, 'reporting a result failed');
          }
        },
        (err: unknown) => {
          take();
          this.failed++;
          this.d.log.error({ err, tarea: t.id }, 'a task failed without an outcome');
        },
      )
      .finally(() => {
        this.running--;
        const next = this.queue.shift();
        if (next) this.run(next.t, next.k);
        this.checkIdle();
      });
  }

  private checkIdle(): void {
    if (this.ids.size === 0) for (const w of this.idleWaiters.splice(0)) w();
  }
}
