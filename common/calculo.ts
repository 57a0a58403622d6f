/**
 * The arithmetic of the calculation operations. Pure: the calculo actors run it, the GC
 * uses the closed formula to check the parts it gathers, tests call it directly.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { CalculoSimple, CodigoCalculo } from './protocol/calc.js';

export type Evaluacion = { codigo: 'OK'; valor: number | string } | { codigo: Exclude<CodigoCalculo, 'OK'>; mensaje: string };

/** A double result, or FUERA_DE_RANGO: JSON has no Infinity (it would travel as null). */
function numerico(x: number, que: string): Evaluacion {
  return Number.isFinite(x) ? { codigo: 'OK', valor: x } : { codigo: 'FUERA_DE_RANGO', mensaje: `${que}: el resultado no cabe en un número de doble precisión` };
}

/** One simple calculation, in double precision (sumar_lista adds left to right). */
export function evaluarSimple(c: CalculoSimple): Evaluacion {
  switch (c.operacion) {
    case 'suma':
      return numerico(c.a + c.b, 'suma');
    case 'resta':
      return numerico(c.a - c.b, 'resta');
    case 'multiplicacion':
      return numerico(c.a * c.b, 'multiplicacion');
    case 'division':
      // -0 too; 0/0 as well: NaN is no answer.
      if (c.b === 0) return { codigo: 'DIVISION_POR_CERO', mensaje: `División por cero (${c.a} / 0)` };
      return numerico(c.a / c.b, 'division');
    case 'eco':
      return { codigo: 'OK', valor: c.texto };
    case 'mayusculas':
      return { codigo: 'OK', valor: c.texto.toLocaleUpperCase('es') };
    case 'sumar_lista': {
      let s = 0;
      for (const x of c.numeros) s += x;
      return numerico(s, 'sumar_lista');
    }
  }
}

/** Σ i² for i in 1..n: n(n+1)(2n+1)/6, exact. */
function prefijo(n: bigint): bigint {
  return (n * (n + 1n) * (2n * n + 1n)) / 6n;
}

/** Σ i² for i in a..b (a ≤ b), by the closed formula: exact for any size. */
export function sumaCuadradosFormula(a: number, b: number): bigint {
  return prefijo(BigInt(b)) - prefijo(BigInt(a - 1));
}

/** Largest i whose square a double holds exactly (i² < 2^53). */
export const MAX_EXACTO = 94_906_265;
const LIMB = 2 ** 26;
/** Squares summed between pauses; also keeps both limb sums below 2^53 (2^20 · 2^27). */
export const TROZO = 2 ** 20;

/**
 * Σ i² for i in a..b by actually adding the squares: the work a calculo actor does for
 * its part. Exact: each square (i ≤ MAX_EXACTO) is split into two limbs of 26 bits whose
 * running sums stay exact doubles for one chunk, then go into a BigInt. `pause` runs
 * before every chunk (the first too: a batch of parts received at once must not run one
 * chunk each in the same turn) so a long part never starves the actor's heartbeats.
 */
export async function sumaCuadradosRango(a: number, b: number, pause: () => Promise<unknown> = () => nextTurn()): Promise<bigint> {
  if (!Number.isSafeInteger(a) || !Number.isSafeInteger(b) || a < 1 || b > MAX_EXACTO || a > b) throw new RangeError(`rango no admitido: ${a}..${b}`);
  let total = 0n;
  for (let inicio = a; inicio <= b; inicio += TROZO) {
    await pause();
    const fin = Math.min(b, inicio + TROZO - 1);
    let alto = 0;
    let bajo = 0;
    for (let i = inicio; i <= fin; i++) {
      const sq = i * i;
      const h = Math.floor(sq / LIMB); // a power of two: exact
      alto += h;
      bajo += sq - h * LIMB;
    }
    total += BigInt(alto) * BigInt(LIMB) + BigInt(bajo);
  }
  return total;
}
