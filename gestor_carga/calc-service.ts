/**
 * The GC's rules for one calculation request, free of sockets: a simple calculation is one
 * task on one live calculo actor (the registry's strategy: round-robin or least-load);
 * suma_cuadrados is scatter/gather (scatter-gather.ts). Past live actors × perActor tasks in
 * flight a new one is refused SIN_ACTORES at once. It resolves one Respuesta per
 * request and never rejects; the ZeroMQ frontend or the HTTP gateway sends it.
 * Calculations touch no storage and no ledger.
 */
import { MENSAJES } from '../common/protocol/codes.js';
import { errorReply, now, type Respuesta } from '../common/protocol/ps-gc.js';
import { MAX_PARTES, type CalculoSimple, type ResultadoCalculo, type SolicitudCalculo } from '../common/protocol/calc.js';
import type { Logger } from '../common/logger.js';
import { SIN_WORKERS, type Entrega, type TaskPort } from './calc-tasks.js';
import { sumaCuadrados, type SumaCuadradosOutcome } from './scatter-gather.js';

export interface CalcServiceDeps {
  tasks: TaskPort;
  /** The live calculo actors now. */
  liveActors(): string[];
  /** Calculation tasks this GC holds now (queued, out, or abandoned but still computing): CalcTasks.size. */
  inFlight(): number;
  /** Tasks in flight per live actor past which a new calculation is refused (GC_CALC_PER_ACTOR). */
  perActor: number;
  /** A calculation with no answer by then is answered TIEMPO_AGOTADO. */
  timeoutMs: number;
  log: Logger;
}

/** Unlike a library op's, a calculation that timed out had no effect: repeating it is safe. */
const TIEMPO = 'El cálculo no terminó a tiempo; no tiene efectos: puede repetirlo';

type SimpleSolicitud = Exclude<SolicitudCalculo, { operacion: 'suma_cuadrados' }>;

/** Tasks a request needs: one, or one per part of a suma_cuadrados (dividirRango's count). */
export function tareasDe(s: SolicitudCalculo, live: number): number {
  return s.operacion === 'suma_cuadrados' ? Math.max(1, Math.min(live, s.n, MAX_PARTES)) : 1;
}

/**
 * Why a calculation needing `nuevas` tasks is refused, or undefined when it fits under live ×
 * perActor. Refused at once: queued behind the others at the actors it would only wait (and
 * make every later request wait) until its timeout. Pure.
 */
export function rechazoPorCupo(enCurso: number, nuevas: number, vivos: number, porActor: number): string | undefined {
  const cupo = vivos * porActor;
  if (enCurso + nuevas <= cupo) return undefined;
  return `Actores de cálculo ocupados: ${enCurso} tareas en curso en este gestor (máximo ${porActor} por actor, ${vivos} ${vivos === 1 ? 'actor vivo' : 'actores vivos'}); reintente en unos segundos`;
}

/** What an actor computes for a simple request: the request without its envelope. */
function calculoDe(s: SimpleSolicitud): CalculoSimple {
  const { id: _id, clave: _clave, sede: _sede, ...calculo } = s;
  return calculo;
}

function simpleReply(s: SimpleSolicitud, r: ResultadoCalculo, e: Entrega): Respuesta {
  const datos: Record<string, unknown> = { operacion: s.operacion };
  if (r.valor !== undefined) datos.resultado = r.valor;
  datos.actor = e.actorId;
  if (r.codigo === 'OK') return { exito: true, codigo: 'OK', mensaje: 'Cálculo hecho', fechaOperacion: now(), datos, id: s.clave };
  return errorReply(r.codigo, r.mensaje ?? MENSAJES[r.codigo], s.clave, datos);
}

function sumaCuadradosReply(n: number, clave: string, o: SumaCuadradosOutcome): Respuesta {
  if (!o.ok) return errorReply(o.codigo, o.mensaje, clave, { operacion: 'suma_cuadrados', n });
  const resultado = o.total.toString();
  return {
    exito: true,
    codigo: 'OK',
    mensaje: `Suma de los cuadrados de 1 a ${n}: ${resultado}`,
    fechaOperacion: now(),
    datos: { operacion: 'suma_cuadrados', n, resultado, partes: o.partes, actores: new Set(o.partes.map((p) => p.actor)).size },
    id: clave,
  };
}

export class CalcService {
  /** Stops for the requests in flight: each answers its caller TIEMPO_AGOTADO. */
  private readonly inFlight = new Set<() => void>();
  private closed = false;
  private turn = 0;

  constructor(private readonly d: CalcServiceDeps) {}

  get waiting(): number {
    return this.inFlight.size;
  }

  handle(s: SolicitudCalculo): Promise<Respuesta> {
    const t0 = performance.now();
    if (this.closed) return Promise.resolve(errorReply('TIEMPO_AGOTADO', TIEMPO, s.clave, { operacion: s.operacion }));
    return new Promise<Respuesta>((resolve) => {
      let cancel = () => undefined as void;
      let over = false;
      const done = (r: Respuesta) => {
        if (over) return;
        over = true;
        clearTimeout(timer);
        this.inFlight.delete(stop);
        cancel();
        this.d.log.debug({ opId: s.clave, operacion: s.operacion, codigo: r.codigo, ms: Math.round(performance.now() - t0) }, 'calculation answered');
        resolve(r);
      };
      const stop = () => done(errorReply('TIEMPO_AGOTADO', TIEMPO, s.clave, { operacion: s.operacion }));
      const timer = setTimeout(stop, this.d.timeoutMs);
      this.inFlight.add(stop);
      try {
        const live = this.d.liveActors();
        const lleno = live.length === 0 ? undefined : rechazoPorCupo(this.d.inFlight(), tareasDe(s, live.length), live.length, this.d.perActor);
        if (lleno !== undefined) {
          done(errorReply('SIN_ACTORES', lleno, s.clave, { operacion: s.operacion }));
        } else if (s.operacion === 'suma_cuadrados') {
          const run = sumaCuadrados(s.n, this.rotated(live), this.d.tasks);
          cancel = run.cancel;
          void run.outcome.then((o) => done(sumaCuadradosReply(s.n, s.clave, o)));
        } else if (live.length === 0) {
          done(errorReply('SIN_ACTORES', SIN_WORKERS, s.clave, { operacion: s.operacion }));
        } else {
          const id = this.d.tasks.submit(calculoDe(s), {
            done: (r, e) => done(simpleReply(s, r, e)),
            fail: (codigo, mensaje) => done(errorReply(codigo, mensaje, s.clave, { operacion: s.operacion })),
          });
          cancel = () => this.d.tasks.cancel(id);
        }
      } catch (err) {
        this.d.log.error({ err, opId: s.clave }, 'calculation failed unexpectedly');
        done(errorReply('ERROR_INTERNO', undefined, s.clave, { operacion: s.operacion }));
      }
    });
  }

  /** Answers every request still waiting (shutdown). */
  close(): void {
    this.closed = true;
    for (const stop of [...this.inFlight]) stop();
  }

  /** The live actors from a moving start, so the larger first part (and, past MAX_PARTES, which actors get work) rotates. */
  private rotated(actores: string[]): string[] {
    if (actores.length < 2) return actores;
    const i = this.turn++ % actores.length;
    return [...actores.slice(i), ...actores.slice(0, i)];
  }
}
