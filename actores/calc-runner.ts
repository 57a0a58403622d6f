/**
 * Runs a calculo actor's tasks, at most `concurrency` at a time, and turns every outcome,
 * failures included, into a ResultadoCalculo for the GC. No sockets: `report` is a plain
 * function, so tests drive it directly. Like TaskRunner, a copy of a task already here (a
 * re-publication) runs once and its result goes to every GC that sent it.
 */
import type { ResultadoCalculo, TareaCalculo } from '../common/protocol/calc.js';
import { evaluarSimple, sumaCuadradosRango, type Evaluacion } from '../common/calculo.js';
import type { Logger } from '../common/logger.js';

export interface CalcRunnerDeps {
  /** `origins`: every GC (by link index) that sent this task while it ran. */
  report(r: ResultadoCalculo, tarea: TareaCalculo, ms: number, origins: number[]): void;
  concurrency: number;
  log: Logger;
  /** Between chunks of a suma_cuadrados part (default: yield to the event loop, so heartbeats go out). */
  pause?: () => Promise<void>;
}

/** One task's outcome; never rejects. */
async function compute(t: TareaCalculo, pause?: () => Promise<void>): Promise<Evaluacion> {
  const c = t.calculo;
  if (c.operacion !== 'suma_cuadrados') return evaluarSimple(c);
  if (c.a > c.b) return { codigo: 'SOLICITUD_INVALIDA', mensaje: `Parte vacía: ${c.a} > ${c.b}` };
  return { codigo: 'OK', valor: (await sumaCuadradosRango(c.a, c.b, pause)).toString() };
}

export class CalcRunner {
  private readonly queue: TareaCalculo[] = [];
  private readonly ids = new Map<string, Set<number>>();
  private running = 0;
  private idleWaiters: Array<() => void> = [];
  completed = 0;
  failed = 0;

  constructor(private readonly d: CalcRunnerDeps) {}

  /** Tasks accepted and not yet reported (the heartbeat's enCurso). */
  get inFlight(): number {
    return this.ids.size;
  }

  submit(t: TareaCalculo, origin = 0): 'started' | 'queued' | 'duplicate' {
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

  private run(t: TareaCalculo): void {
    this.running++;
    const t0 = performance.now();
    compute(t, this.d.pause)
      .catch((err: unknown): Evaluacion => {
        this.d.log.error({ err, tarea: t.id }, 'calculation failed');
        return { codigo: 'ERROR_INTERNO', mensaje: 'Error interno del actor de cálculo' };
      })
      .then((e) => {
        if (e.codigo === 'OK') this.completed++;
        else this.failed++;
        const r: ResultadoCalculo = e.codigo === 'OK' ? { id: t.id, codigo: 'OK', valor: e.valor } : { id: t.id, codigo: e.codigo, mensaje: e.mensaje };
        this.d.log.debug({ tarea: t.id, operacion: t.calculo.operacion, codigo: r.codigo, intento: t.intento }, 'calculation done');
        try {
          this.d.report(r, t, performance.now() - t0, [...(this.ids.get(t.id) ?? [])]);
        } catch (err) {
          this.d.log.error({ err, tarea: t.id }, 'reporting a calculation failed');
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
