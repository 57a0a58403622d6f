/** Text rendering of load results and of the live progress line. Pure. */
import { formatCodigos } from './format.js';
import type { LatencyStats } from './latency.js';
import type { LoadReport, LoadProgress } from './load.js';
import { OPERACIONES_ACTOR, type OperacionActor } from '../common/protocol/ps-gc.js';

export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((f) => (f[c] ?? '').length)));
  return rows.map((f) => f.map((x, c) => (c === 0 ? x.padEnd(widths[c]!) : x.padStart(widths[c]!))).join('  ')).join('\n');
}

const f1 = (x: number) => x.toFixed(1);
const f2 = (x: number) => x.toFixed(2);

export function latencyRow(name: string, s: LatencyStats, throughput: number): string[] {
  return [name, String(s.count), f1(throughput), f2(s.p50), f2(s.p95), f2(s.p99), f2(s.max)];
}

const NOMBRE_OPERACION: Record<OperacionActor, string> = { prestamo: 'préstamo', devolucion: 'devolución', renovacion: 'renovación' };

/**
 * "préstamo 50 %, devolución 25 %, renovación 25 %": each weight as its share of the mix
 * (`--mezcla pres=2,devo=1` reads 67 % / 33 %); operations left at 0 are not drawn, so not named.
 */
export function formatMezcla(pesos: Partial<Record<OperacionActor, number>>): string {
  const total = OPERACIONES_ACTOR.reduce((a, o) => a + (pesos[o] ?? 0), 0);
  return OPERACIONES_ACTOR.filter((o) => (pesos[o] ?? 0) > 0)
    .map((o) => `${NOMBRE_OPERACION[o]} ${Number((((pesos[o] ?? 0) * 100) / total).toFixed(1))} %`)
    .join(', ');
}

export function formatLoadReport(r: LoadReport): string {
  // resp/s here is the run's average, the figure the live line calls "media".
  const rows = [['operación', 'respuestas', 'resp/s (media)', 'p50 ms', 'p95 ms', 'p99 ms', 'máx ms']];
  for (const [op, s] of Object.entries(r.porOperacion)) rows.push(latencyRow(op, s, s.throughput));
  rows.push(latencyRow('total', r.global, r.throughput));
  const codigos = formatCodigos(r.porCodigo);
  const pattern = r.config.carga.tipo === 'secuencia' ? 'secuencia préstamo→renovación→devolución' : `mezcla ${formatMezcla(r.config.carga.pesos)}`;
  return [
    `Carga: ${r.config.clientes} clientes, ${pattern}, ${(r.duracionMs / 1000).toFixed(1)} s, transporte ${r.config.transporte}`,
    table(rows),
    `por código: ${codigos}`,
    `exitosas: ${r.exitosas}  rechazadas: ${r.respuestas - r.exitosas}  sin respuesta: ${r.sinRespuesta}`,
    ...(Object.keys(r.porGc).length ? [`por GC: ${formatPorGc(r.porGc)}`] : []),
    '',
  ].join('\n');
}

/** "tcp://a:5555 612 (51 %), tcp://b:5555 590 (49 %)": the load each GC took. */
export function formatPorGc(porGc: Record<string, number>): string {
  const total = Object.values(porGc).reduce((a, b) => a + b, 0);
  return Object.entries(porGc)
    .sort((a, b) => b[1] - a[1])
    .map(([gc, n]) => `${gc} ${n} (${total ? Math.round((n * 100) / total) : 0} %)`)
    .join(', ');
}

/** Both rates, labelled: the last interval's moves with the load, the average is the final report's resp/s. */
export function formatProgress(p: LoadProgress): string {
  return `${(p.transcurridoMs / 1000).toFixed(1)} s  respuestas ${p.respuestas}  resp/s: ahora ${p.respPorSegundoAhora.toFixed(0)}, media ${p.respPorSegundoMedia.toFixed(0)}  rechazadas ${p.rechazadas}  sin respuesta ${p.sinRespuesta}`;
}
