/**
 * suma_cuadrados as scatter/gather over the live calculo actors: 1..n split into equal
 * contiguous parts, one per actor; each part's sum computed by one actor (reassigned by
 * CalcTasks when that actor dies, misses its deadline or answers wrong); the parts gathered
 * into the exact total.
 *
 * The rules (split, check, gather) are pure functions; `sumaCuadrados` drives them over a
 * task port, so tests run it without sockets. Exactness: the parts travel as decimal
 * digits and add up as BigInt; every part, and the total, must equal the closed formula
 * n(n+1)(2n+1)/6 — a wrong answer is never returned.
 */
import { MAX_PARTES, type CalculoTarea, type ResultadoCalculo } from '../common/protocol/calc.js';
import { sumaCuadradosFormula } from '../common/calculo.js';
import { SIN_WORKERS, type TaskPort } from './calc-tasks.js';

export interface Parte {
  a: number;
  b: number;
}

/** A part as the reply shows it: its range, its sum (decimal digits), who computed it. */
export interface ParteHecha extends Parte {
  resultado: string;
  actor: string;
  intentos: number;
  /** Only when it was reassigned: the actors that held it before, in order. */
  reasignadaDesde?: string[];
}

/**
 * 1..n in min(k, n) contiguous parts whose sizes differ by at most one (the larger first).
 * k is capped at MAX_PARTES.
 */
export function dividirRango(n: number, k: number): Parte[] {
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`n no válido: ${n}`);
  const partes = Math.max(1, Math.min(k, n, MAX_PARTES));
  const base = Math.floor(n / partes);
  const extra = n % partes;
  const out: Parte[] = [];
  let a = 1;
  for (let i = 0; i < partes; i++) {
    const b = a + base - 1 + (i < extra ? 1 : 0);
    out.push({ a, b });
    a = b + 1;
  }
  return out;
}

/** Whether an actor's value for a part is its exact sum (decimal digits only). */
export function parteCorrecta(p: Parte, valor: unknown): valor is string {
  return typeof valor === 'string' && /^[0-9]{1,40}$/.test(valor) && BigInt(valor) === sumaCuadradosFormula(p.a, p.b);
}

export type Reunion = { ok: true; total: bigint } | { ok: false; motivo: string };

/** The total of parts that must cover 1..n exactly once, checked against the closed formula. */
export function reunir(n: number, partes: readonly ParteHecha[]): Reunion {
  const orden = [...partes].sort((x, y) => x.a - y.a);
  let siguiente = 1;
  let total = 0n;
  for (const p of orden) {
    if (p.a !== siguiente || p.b < p.a) return { ok: false, motivo: `las partes no cubren 1..${n} (hueco o solape en ${p.a}..${p.b})` };
    siguiente = p.b + 1;
    total += BigInt(p.resultado);
  }
  if (siguiente !== n + 1) return { ok: false, motivo: `las partes no cubren 1..${n} (llegan hasta ${siguiente - 1})` };
  const esperado = sumaCuadradosFormula(1, n);
  if (total !== esperado) return { ok: false, motivo: `la suma de las partes (${total}) no es la exacta (${esperado})` };
  return { ok: true, total };
}

export type SumaCuadradosOutcome =
  | { ok: true; total: bigint; partes: ParteHecha[] }
  | { ok: false; codigo: 'SIN_ACTORES' | 'ERROR_INTERNO'; mensaje: string };

export interface SumaCuadradosRun {
  outcome: Promise<SumaCuadradosOutcome>;
  /** Drops every part still out (the caller stopped waiting). */
  cancel(): void;
}

/**
 * Scatters 1..n over `actores` (part i to actors[i]), gathers the parts. With no actor:
 * SIN_ACTORES at once. One part failing (no actor left for it, wrong too often) fails the
 * whole and drops the other parts.
 */
export function sumaCuadrados(n: number, actores: readonly string[], port: TaskPort): SumaCuadradosRun {
  if (actores.length === 0) return { outcome: Promise.resolve({ ok: false, codigo: 'SIN_ACTORES', mensaje: SIN_WORKERS }), cancel: () => undefined };
  const partes = dividirRango(n, actores.length);
  /** Task ids of the parts still out. */
  const out = new Set<string>();
  const hechas: ParteHecha[] = [];
  let settle!: (o: SumaCuadradosOutcome) => void;
  let settled = false;
  const outcome = new Promise<SumaCuadradosOutcome>((resolve) => (settle = resolve));
  const cancel = () => {
    for (const id of out) port.cancel(id);
    out.clear();
  };
  const finish = (o: SumaCuadradosOutcome) => {
    if (settled) return;
    settled = true;
    cancel();
    settle(o);
  };
  partes.forEach((p, i) => {
    if (settled) return;
    let id: string | undefined;
    let over = false;
    const end = () => {
      over = true;
      if (id !== undefined) out.delete(id);
    };
    id = port.submit(
      { operacion: 'suma_cuadrados', a: p.a, b: p.b },
      {
        // A part's input is always valid: any answer but its exact sum means a faulty actor.
        // The task port hands `done` only results that passed this check.
        check: (r: ResultadoCalculo) => r.codigo === 'OK' && parteCorrecta(p, r.valor),
        done(r, e) {
          end();
          const hecha: ParteHecha = { ...p, resultado: r.valor as string, actor: e.actorId, intentos: e.intentos, ...(e.reasignadaDesde.length ? { reasignadaDesde: [...e.reasignadaDesde] } : {}) };
          hechas.push(hecha);
          if (hechas.length < partes.length) return;
          const g = reunir(n, hechas);
          finish(g.ok ? { ok: true, total: g.total, partes: hechas.sort((x, y) => x.a - y.a) } : { ok: false, codigo: 'ERROR_INTERNO', mensaje: g.motivo });
        },
        fail(codigo, mensaje) {
          end();
          finish({ ok: false, codigo, mensaje: codigo === 'SIN_ACTORES' ? mensaje : `La parte ${p.a}..${p.b}: ${mensaje}` });
        },
      },
      actores[i],
    );
    // A part already over (settled within submit) or a whole already failed is not tracked.
    if (over || settled) port.cancel(id);
    else out.add(id);
  });
  return { outcome, cancel };
}
