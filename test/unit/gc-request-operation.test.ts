/**
 * The operation a refused request is counted under (/errors/stats, the panel, metrics):
 * the one its body named when only a field was wrong; 'invalida' only when the body was
 * unreadable or named no known operation.
 */
import { describe, expect, it } from 'vitest';
import { testLog } from '../harness/fixtures.js';
import { requestHandler } from '../../gestor_carga/request-handler.js';
import { ErrorStats } from '../../gestor_carga/error-stats.js';

const handle = requestHandler({
  dispatcher: { handle: () => Promise.reject(new Error('a refused request reaches no dispatcher')) },
  calculos: { handle: () => Promise.reject(new Error('a refused request reaches no calculation')) },
  makeKey: () => 'k',
  log: testLog,
});

describe('the operation of a refused request', () => {
  it('a known operation with a wrong or missing field keeps its (normalised) name', async () => {
    for (const [body, operacion] of [
      [{ operacion: 'suma_cuadrados', n: 0 }, 'suma_cuadrados'],
      [{ operacion: 'División', a: 1 }, 'division'],
      [{ operacion: 'prestamo', isbn: '978-1' }, 'prestamo'],
      [{ operacion: 'Préstamo', isbn: 5, usuario: 'u' }, 'prestamo'],
      [{ operacion: 'estado' }, 'estado'],
    ] as const) {
      const h = await handle(JSON.stringify(body));
      expect(h.respuesta.codigo, JSON.stringify(body)).toBe('SOLICITUD_INVALIDA');
      expect(h.operacion, JSON.stringify(body)).toBe(operacion);
    }
  });

  it("an unreadable body, no operation or an unknown one: 'invalida'", async () => {
    for (const body of ['hola', '{"operacion":', '[]', '{}', '{"operacion":7}', '{"operacion":"raiz","n":4}', '']) {
      expect((await handle(body)).operacion, body).toBe('invalida');
    }
  });

  it('/errors/stats names the operation', async () => {
    const stats = new ErrorStats();
    const h = await handle('{"operacion":"suma_cuadrados","n":0}');
    stats.record(h.operacion, h.respuesta);
    expect(stats.snapshot().recientes.map((r) => [r.operacion, r.codigo])).toEqual([['suma_cuadrados', 'SOLICITUD_INVALIDA']]);
  });
});
