/** Text rendering of load results and of the live progress line. Pure. */
import { formatCodigos } from './format.js';
import type { LatenciaStats } from './latency.js';
import type { LoadReport, Progreso } from './load.js';

export function tabla(filas: string[][]): string {
  const anchos = filas[0]!.map((_, c) => Math.max(...filas.map((f) => (f[c] ?? '').length)));
  return filas.map((f) => f.map((x, c) => (c === 0 ? x.padEnd(anchos[c]!) : x.padStart(anchos[c]!))).join('  ')).join('\n');
}

const f1 = (x: number) => x.toFixed(1);
const f2 = (x: number) => x.toFixed(2);

export function filaLatencia(nombre: string, s: LatenciaStats, throughput: number): string[] {
  return [nombre, String(s.count), f1(throughput), f2(s.p50), f2(s.p95), f2(s.p99), f2(s.max)];
}

export function formatLoadReport(r: LoadReport): string {
  const filas = [['operación', 'respuestas', 'resp/s', 'p50 ms', 'p95 ms', 'p99 ms', 'máx ms']];
  for (const [op, s] of Object.entries(r.porOperacion)) filas.push(filaLatencia(op, s, s.throughput));
  filas.push(filaLatencia('total', r.global, r.throughput));
  const codigos = formatCodigos(r.porCodigo);
  const carga = r.config.carga.tipo === 'secuencia' ? 'secuencia préstamo→renovación→devolución' : `mezcla ${JSON.stringify(r.config.carga.pesos)}`;
  return [
    `Carga: ${r.config.clientes} clientes, ${carga}, ${(r.duracionMs / 1000).toFixed(1)} s, transporte ${r.config.transporte}`,
    tabla(filas),
    `por código: ${codigos}`,
    `exitosas: ${r.exitosas}  rechazadas: ${r.respuestas - r.exitosas}  sin respuesta: ${r.sinRespuesta}`,
    '',
  ].join('\n');
}

export function formatProgreso(p: Progreso): string {
  return `${(p.transcurridoMs / 1000).toFixed(1)} s  respuestas ${p.respuestas}  ${p.opsPorSegundo.toFixed(0)} ops/s  rechazadas ${p.rechazadas}  sin respuesta ${p.sinRespuesta}`;
}
