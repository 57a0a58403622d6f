/**
 * ABBA rounds of a bench (`--rondas`): what one round says and which is the median one
 * (the table both reports print: informes/tabla-rondas.ts). No I/O.
 */

export type OrdenRonda = 'sistema-techo' | 'techo-sistema';

/** One ABBA round of `--rondas`: the two neighbouring phases and their ratios. */
export interface RondaBench {
  orden: OrdenRonda;
  sistemaOps: number;
  techoOps: number;
  /** system / ceiling: throughput and p99 over all operations; null when the ceiling's was 0. */
  throughput: number | null;
  p99: number | null;
  /** Total µs of CPU per operation, every process. */
  cpuSistema: number;
  cpuTecho: number;
}

/** The median of the numbers (the mean of the two middle values for an even count); NaN for none. */
export function mediana(xs: readonly (number | null)[]): number {
  const s = xs.filter((x): x is number => typeof x === 'number' && !Number.isNaN(x)).sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length ? (s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2) : NaN;
}

/** Index of the round with the median throughput ratio (the lower of the two middle ones for an even count). */
export function rondaMediana(rondas: readonly RondaBench[]): number {
  const orden = rondas.map((r, i) => ({ i, x: r.throughput === null || Number.isNaN(r.throughput) ? -Infinity : r.throughput })).sort((a, b) => a.x - b.x);
  return orden[Math.floor((orden.length - 1) / 2)]!.i;
}
