/** The GC's error statistics (/errors/stats): counted by class, code and door; the recent list bounded in length and size. */
import { describe, expect, it } from 'vitest';
import { ErrorStats, MAX_MENSAJE } from '../../gestor_carga/error-stats.js';
import { errorReply } from '../../common/protocol/ps-gc.js';

describe('ErrorStats', () => {
  it('counts by class, HTTP status, code and door', () => {
    const s = new ErrorStats();
    s.record('prestamo', errorReply('SOLICITUD_INVALIDA'));
    s.record('prestamo', errorReply('LIBRO_NO_EXISTE'), 'http');
    s.record('consulta', errorReply('SIN_ACTORES'));
    const snap = s.snapshot();
    expect(snap.total).toBe(3);
    expect(snap.porCodigo).toEqual({ SOLICITUD_INVALIDA: 1, LIBRO_NO_EXISTE: 1, SIN_ACTORES: 1 });
    expect(snap.porCanal).toEqual({ zeromq: 2, http: 1 });
    expect(snap.recientes.map((r) => r.codigo)).toEqual(['SIN_ACTORES', 'LIBRO_NO_EXISTE', 'SOLICITUD_INVALIDA']);
  });

  it('counts the HTTP status actually sent (the gateway\'s 405), every listed status present also at 0', () => {
    const s = new ErrorStats();
    s.record('invalida', errorReply('SOLICITUD_INVALIDA', 'Método PUT no admitido en /operaciones; use POST'), 'http', 405);
    s.record('invalida', errorReply('SOLICITUD_INVALIDA'), 'http');
    s.record('suma', errorReply('SIN_ACTORES'));
    const snap = s.snapshot();
    expect(snap.porEstadoHttp).toEqual({ '400': 1, '404': 0, '405': 1, '409': 0, '500': 0, '503': 1 });
    expect(snap.porClase).toEqual({ invalid: 2, unavailable: 1 });
    expect(snap.recientes.map((r) => r.estadoHttp)).toEqual([503, 400, 405]);
  });

  it('keeps the last `keep` errors, each message and operation cut to MAX_MENSAJE', () => {
    const s = new ErrorStats(5);
    // A refusal that quotes a 16 KiB request (e.g. every unknown field).
    for (let i = 0; i < 20; i++) s.record('x'.repeat(10_000), errorReply('SOLICITUD_INVALIDA', `campos no admitidos: ${'k,'.repeat(8000)}`, `id-${i}`));
    const { recientes, total } = s.snapshot();
    expect(total).toBe(20);
    expect(recientes.map((r) => r.id)).toEqual(['id-19', 'id-18', 'id-17', 'id-16', 'id-15']);
    for (const r of recientes) {
      expect(r.mensaje.length).toBe(MAX_MENSAJE + 1); // plus the ellipsis
      expect(r.mensaje.startsWith('campos no admitidos: k,k,')).toBe(true);
      expect(r.operacion.length).toBe(MAX_MENSAJE);
    }
    expect(JSON.stringify(recientes).length).toBeLessThan(5 * 2 * (MAX_MENSAJE + 200));
  });
});
