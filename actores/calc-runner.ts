/**
 * Runs a calculo actor's tasks (concurrency, duplicates and origins: work-queue.ts) and
 * turns every outcome, failures included, into a ResultadoCalculo for the GC. No sockets:
 * `report` is a plain function, so tests drive it directly.
 */
import type { ResultadoCalculo, TareaCalculo } from '../common/protocol/calc.js';
import { evaluarSimple, sumaCuadradosRango, type Evaluacion } from '../common/calculo.js';
import type { Logger } from '../common/logger.js';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { WorkQueue } from './work-queue.js';

export interface CalcRunnerDeps {
  /** `origins`: every GC (by link index) that sent this task while it ran. */
  report(r: ResultadoCalculo, tarea: TareaCalculo, ms: number, origins: number[]): void;
  concurrency: number;
  log: Logger;
  /** Before each chunk of a suma_cuadrados part (default: one chunk per event-loop turn across all parts). */
  pause?: () => Promise<void>;
}

/** One task's outcome; never rejects. */
async function compute(t: TareaCalculo, pause?: () => Promise<void>): Promise<Evaluacion> {
  const c = t.calculo;
  if (c.operacion !== 'suma_cuadrados') return evaluarSimple(c);
  if (c.a > c.b) return { codigo: 'SOLICITUD_INVALIDA', mensaje: `Parte vacía: ${c.a} > ${c.b}` };
  return { codigo: 'OK', valor: (await sumaCuadradosRango(c.a, c.b, pause)).toString() };
}

/** A calculo actor's tasks: each computed, every outcome (failures too) a ResultadoCalculo. */
export class CalcRunner extends WorkQueue<TareaCalculo, ResultadoCalculo> {
  constructor(d: CalcRunnerDeps) {
    // One chunk per event-loop turn, whichever part it belongs to: each part pausing on its own
    // (setImmediate) let every running part run a chunk in the same turn — 64 parts at ~5 ms a
    // chunk held the loop ~350 ms, and heartbeats came late enough for the GC to call it dead.
    let turn = Promise.resolve();
    const pause = d.pause ?? (() => (turn = turn.then(() => nextTurn())));
    super({
      concurrency: d.concurrency,
      log: d.log,
      report: d.report,
      work: async (t) => {
        const e = await compute(t, pause).catch((err: unknown): Evaluacion => {
          d.log.error({ err, tarea: t.id }, 'calculation failed');
          return { codigo: 'ERROR_INTERNO', mensaje: 'Error interno del actor de cálculo' };
        });
        const outcome: ResultadoCalculo = e.codigo === 'OK' ? { id: t.id, codigo: 'OK', valor: e.valor } : { id: t.id, codigo: e.codigo, mensaje: e.mensaje };
        d.log.debug({ tarea: t.id, operacion: t.calculo.operacion, codigo: outcome.codigo, intento: t.intento }, 'calculation done');
        // A rule's answer (DIVISION_POR_CERO, FUERA_DE_RANGO…) is work done, like a library
        // actor's SIN_EJEMPLARES from the GA: only a calculation that broke counts as failed.
        return { outcome, ok: e.codigo !== 'ERROR_INTERNO' };
      },
    });
  }
}
