/** How `ps carga` names its mix in the text report: operations by name, weights as shares, no JSON. */
import { describe, expect, it } from 'vitest';
import { formatLoadReport, formatMezcla } from '../../solicitante/load-report.js';
import { DEFAULT_MIX, parseMix } from '../../solicitante/load.js';
import { SeriesRecorder } from '../../solicitante/series.js';

describe('carga --mezcla in the report', () => {
  it('each operation by its name and its share of the weights; an operation at 0 is left out', () => {
    expect(formatMezcla(DEFAULT_MIX)).toBe('préstamo 50 %, devolución 25 %, renovación 25 %');
    expect(formatMezcla(parseMix('pres=2,devo=1'))).toBe('préstamo 66.7 %, devolución 33.3 %');
    expect(formatMezcla({ renovacion: 5 })).toBe('renovación 100 %');
  });

  it("the report's first line says the mix that way", () => {
    const report = formatLoadReport({
      inicio: '', fin: '', duracionMs: 2_000,
      config: { clientes: 3, duracionS: 2, carga: { tipo: 'mezcla', pesos: parseMix('prestamo=50,devolucion=25,renovacion=25') }, isbns: ['x'], transporte: 'dealer', repartir: false, prefijoUsuario: 'x' },
      respuestas: 10, sinRespuesta: 0, exitosas: 10, throughput: 5, porCodigo: { APROBADO: 10 },
      global: { count: 10, mean: 1, p50: 1, p95: 1, p99: 1, max: 1 },
      porOperacion: {},
      porGc: {},
      serie: new SeriesRecorder(0).finish(2_000),
    });
    expect(report.split('\n')[0]).toBe('Carga: 3 clientes, mezcla préstamo 50 %, devolución 25 %, renovación 25 %, 2.0 s, transporte dealer');
  });
});
