/**
 * Runs a calculo actor's tasks (concurrency, duplicates and origins: work-queue.ts) and
 * turns every outcome, failures included, into a ResultadoCalculo for the GC. No sockets:
 * `report` is a plain function, so tests drive it directly.
 */
import type { ResultadoCalculo, TareaCalculo } from '../common/protocol/calc.js';
import { evaluarSimple, sumaCuadradosRango, type Evaluacion } from '../common/calculo.js';
import type { Logger } from '../common/logger.js';
import { WorkQueue } from './work-queue.js';

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

/** A calculo actor's tasks: each computed, every outcome (failures too) a ResultadoCalculo. */
export class CalcRunner extends WorkQueue<TareaCalculo, ResultadoCalculo> {
  constructor(d: CalcRunnerDeps) {
    super({
      concurrency: d.concurrency,
      log: d.log,
      report: d.report,
      work: async (t) => {
        const e = await compute(t, d.pause).catch((err: unknown): Evaluacion => {
          d.log.error({ err, tarea: t.id }, 'calculation failed');
          return { codigo: 'ERROR_INTERNO', mensaje: 'Error interno del actor de cálculo' };
        });
        const outcome: ResultadoCalculo = e.codigo === 'OK' ? { id: t.id, codigo: 'OK', valor: e.valor } : { id: t.id, codigo: e.codigo, mensaje: e.mensaje };
        d.log.debug({ tarea: t.id, operacion: t.calculo.operacion, codigo: outcome.codigo, intento: t.intento }, 'calculation done');
        return { outcome, ok: e.codigo === 'OK' };
      },
    });
  }
}
