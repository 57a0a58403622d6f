/** The benchmark's pure parts: ratios and the printed table (the full run needs the whole system). */
import { describe, expect, it } from 'vitest';
import { calcularRatios, formatBench, type BenchReport } from '../scripts/bench.js';
import { LatencyRecorder } from '../solicitante/latency.js';
import type { LoadReport } from '../solicitante/load.js';

function resumen(factor: number, n: number) {
  const rec = new LatencyRecorder();
  for (const op of ['prestamo', 'renovacion', 'devolucion']) for (let i = 1; i <= n; i++) rec.record(op, 'APROBADO', true, i * 10 * factor);
  return rec.summary(1000);
}

describe('bench report', () => {
  it('computes system/ceiling ratios per op and overall, and prints both tables', () => {
    const sis = resumen(3, 100);
    const techo = resumen(1, 400);
    const ratios = calcularRatios(sis, techo);
    expect(ratios.total!.throughput).toBeCloseTo(0.25, 3);
    expect(ratios.prestamo!.throughput).toBeCloseTo(0.25, 3);
    expect(ratios.total!.p99).toBeGreaterThan(0.5);
    const report: BenchReport = {
      fecha: new Date().toISOString(),
      config: { clientes: 4, duracionS: 1, actoresPorTipo: 2, env: {}, replicacion: 'ninguna', isbns: [] },
      sistema: { ...sis, inicio: '', fin: '', duracionMs: 1000, config: { clientes: 4, duracionS: 1, carga: { tipo: 'secuencia' }, isbns: [], transporte: 'dealer', prefijoUsuario: 'x' } } as LoadReport,
      techo: { ...techo, duracionMs: 1000, clientes: 4 },
      ratios,
      notas: ['prueba'],
    };
    const text = formatBench(report);
    expect(text).toMatch(/Sistema \(PS → GC → actores → GA → PostgreSQL\)/);
    expect(text).toMatch(/Techo \(SELECT aplicar_operacion/);
    expect(text).toMatch(/^total\s+0\.250\s+/m);
    expect(text).toContain('nota: prueba');
    expect(text).not.toContain('replicación');
    expect(formatBench({ ...report, config: { ...report.config, replicacion: 'sync' } })).toMatch(/2 actores por tipo, replicación sync/);
  });
});
