/** The table of a bench's ABBA rounds (`--rondas`), as the printed and the HTML report show it. */
import type { RondaBench } from '../scripts/bench/rondas.js';

export const TITULO_RONDAS = 'Rondas ABBA (cada relación compara dos fases vecinas en el tiempo)';

/** Header and one row per round. */
export function tablaRondas(rondas: readonly RondaBench[]): string[][] {
  return [
    ['ronda', 'orden', 'ops/s sistema', 'ops/s techo', 'ops/s sistema/techo', 'p99 sistema/techo', 'CPU µs/op sistema', 'CPU µs/op techo'],
    ...rondas.map((x, i) => [String(i + 1), x.orden, String(x.sistemaOps), String(x.techoOps), x.throughput?.toFixed(3) ?? '—', x.p99?.toFixed(2) ?? '—', String(x.cpuSistema), String(x.cpuTecho)]),
  ];
}
