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

/**
 * Neumaier's compensated sum of `xs` times 2^-escala (a power of two: exact for any number
 * above 2^-1000). undefined when a running sum overflows.
 */
function neumaier(xs: readonly number[], escala: number): number | undefined {
  const f = 2 ** -escala;
  let s = 0;
  let c = 0;
  for (const raw of xs) {
    const x = raw * f;
    const t = s + x;
    if (!Number.isFinite(t)) return undefined;
    // The low-order bits the rounded t lost: from x when s is the larger, from s otherwise.
    c += Math.abs(s) >= Math.abs(x) ? s - t + x : x - t + s;
    s = t;
  }
  return s + c;
}

/** Running sums stay finite scaled by 2^-11: at most MAX_NUMEROS (1,000 < 2^10) addends below 2^1024. */
const ESCALA = 11;

/** "1.7e+309" for m × 2^e, a magnitude a double cannot hold. */
function magnitud(m: number, e: number): string {
  const l = Math.log10(Math.abs(m)) + e * Math.log10(2);
  const exp = Math.floor(l);
  const mant = Math.round(10 ** (l - exp) * 100) / 100;
  return `${m < 0 ? '-' : ''}${mant >= 10 ? 1 : mant}e+${mant >= 10 ? exp + 1 : exp}`;
}

/**
 * Σ numeros, compensated (Neumaier): [1e16, 1, -1e16] is 1, not 0. A list whose running sum
 * overflows while the total fits ([1.7e308, 1.7e308, -1.7e308]) is summed again scaled down
 * by a power of two; a total that does not fit is FUERA_DE_RANGO with its magnitude.
 */
export function sumarLista(numeros: readonly number[]): Evaluacion {
  const directa = neumaier(numeros, 0);
  if (directa !== undefined && Number.isFinite(directa)) return { codigo: 'OK', valor: directa };
  // Not undefined: scaled, no running sum can reach 2^1024.
  const escalada = neumaier(numeros, ESCALA)!;
  const total = escalada * 2 ** ESCALA;
  if (Number.isFinite(total)) return { codigo: 'OK', valor: total };
  return {
    codigo: 'FUERA_DE_RANGO',
    mensaje: `sumar_lista: la suma es ${magnitud(escalada, ESCALA)}, fuera de lo que cabe en un número de doble precisión (±${Number.MAX_VALUE})`,
  };
}

/** One simple calculation, in double precision (sumar_lista: compensated, sumarLista). */
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
    case 'sumar_lista':
      return sumarLista(c.numeros);
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
