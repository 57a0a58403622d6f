/**
 * The benchmark's parts: ratios and the printed table (pure), and the SQL ceiling
 * phase against a real PostgreSQL (the full run needs the whole system).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { pino } from 'pino';
import { calcularRatios, formatBench, resumenRonda, runSqlCeiling, type BenchReport } from '../../scripts/bench/main.js';
import { rondaMediana, type RondaBench } from '../../scripts/bench/rondas.js';
import { formatComparacion } from '../../scripts/bench/gcs.js';
import { reconocer, vistaDe } from '../../informes/vista.js';
import { createPool } from '../../gestor_almacenamiento/db.js';
import { migrate } from '../../gestor_almacenamiento/migrate.js';
import { startTestPostgres, type TestPostgres } from '../harness/postgres.js';
import { LatencyRecorder } from '../../solicitante/latency.js';
import type { LoadReport } from '../../solicitante/load.js';
import { SeriesRecorder } from '../../solicitante/series.js';

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
      config: { clientes: 4, duracionS: 1, calentamientoS: 0, actoresPorTipo: 2, tiposPorActor: 'uno', env: {}, replicacion: 'ninguna', isbns: [] },
      sistema: { ...sis, porGc: {}, inicio: '', fin: '', duracionMs: 1000, config: { clientes: 4, duracionS: 1, carga: { tipo: 'secuencia' }, isbns: [], transporte: 'dealer', repartir: false, prefijoUsuario: 'x' }, serie: new SeriesRecorder(0).finish(1000) } as LoadReport,
      techo: { ...techo, duracionMs: 1000, clientes: 4, serie: new SeriesRecorder(0).finish(1000) },
      ratios,
      cpuPorOperacion: { sistema: { GC: 400, 'PostgreSQL': 600, 'PS (carga)': 100 }, techo: { GC: 2, 'PostgreSQL': 500, 'PS (carga)': null } },
      despertaresPorOperacion: { sistema: { GC: 2.25, 'PostgreSQL': 1.1, 'PS (carga)': 1.4 }, techo: { GC: 0.05, 'PostgreSQL': 1.2, 'PS (carga)': 0.3 } },
      expulsionesPorOperacion: { sistema: { GC: 0.5, 'PostgreSQL': 0.04, 'PS (carga)': 0.25 }, techo: { GC: 0, 'PostgreSQL': 0.5, 'PS (carga)': null } },
      notas: ['prueba'],
    };
    const text = formatBench(report);
    expect(text).toMatch(/^GC\s+400\s+2\s+2\.25\s+0\.05\s+0\.5\s+0$/m);
    expect(text).toMatch(/^PS \(carga\)\s+100\s+—\s+1\.4\s+0\.3\s+0\.25\s+—$/m);
    expect(text).toMatch(/^total\s+1100\s+502\s+4\.75\s+1\.55\s+0\.79\s+0\.50$/m);
    // A report written before wakes (or preemptions) were counted still prints, with dashes.
    const { despertaresPorOperacion: _, expulsionesPorOperacion: __, ...antiguo } = report;
    expect(formatBench(antiguo)).toMatch(/^GC\s+400\s+2\s+—\s+—\s+—\s+—$/m);
    const { expulsionesPorOperacion: ___, ...sinExpulsiones } = report;
    expect(formatBench(sinExpulsiones)).toMatch(/^GC\s+400\s+2\s+2\.25\s+0\.05\s+—\s+—$/m);
    // The processes' policy, when the report has it.
    expect(text).not.toContain('planificador');
    expect(formatBench({ ...report, config: { ...report.config, planificador: 'SCHED_BATCH' } })).toMatch(/^Banco de pruebas: .*, planificador SCHED_BATCH$/m);
    expect(text).toMatch(/Sistema \(PS → GC → actores → GA → PostgreSQL\)/);
    expect(text).toMatch(/Techo \(SELECT aplicar_operacion/);
    expect(text).toMatch(/^total\s+0\.250\s+/m);
    expect(text).toContain('nota: prueba');
    expect(text).not.toContain('replicación');
    expect(formatBench({ ...report, config: { ...report.config, replicacion: 'sync' } })).toMatch(/2 actores por tipo, replicación sync/);

    // A ceiling phase where one operation got no reply: no ratio (null, JSON has no NaN), and
    // the report still prints and renders as HTML after a round trip through its JSON file.
    const sinTecho = { ...techo, porOperacion: { ...techo.porOperacion, prestamo: { ...techo.porOperacion.prestamo!, throughput: 0, p99: 0 } } };
    const nulos = calcularRatios(sis, sinTecho);
    expect(nulos.prestamo).toEqual({ throughput: null, p99: null });
    const leido = JSON.parse(JSON.stringify({ ...report, ratios: nulos })) as BenchReport;
    expect(formatBench(leido)).toMatch(/^prestamo\s+—\s+—$/m);
    const vista = vistaDe('x', reconocer(leido));
    expect(JSON.stringify(vista)).toContain('["prestamo","—","—"]');
  });
});

describe('bench ABBA rounds (--rondas)', () => {
  const ronda = (throughput: number, p99 = 2): RondaBench => ({ orden: 'sistema-techo', sistemaOps: Math.round(1000 * throughput), techoOps: 1000, throughput, p99, cpuSistema: 1400, cpuTecho: 900 });

  it('picks the round with the median throughput ratio (the lower middle one for an even count)', () => {
    expect(rondaMediana([ronda(0.61), ronda(0.42), ronda(0.5)])).toBe(2);
    expect(rondaMediana([ronda(0.61), ronda(0.42), ronda(0.5), ronda(0.55)])).toBe(2);
    expect(rondaMediana([ronda(0.3)])).toBe(0);
    // A round that measured nothing (NaN) counts as the lowest, never as the median of the good ones.
    expect(rondaMediana([ronda(Number.NaN), ronda(0.5), ronda(0.6)])).toBe(1);
  });

  it('summarises a round from its two phases: ratios over all operations and total CPU per op', () => {
    const r = resumenRonda('techo-sistema', { r: resumen(2, 100), cpu: { GC: 300, PostgreSQL: 600, PS: null } }, { r: resumen(1, 100), cpu: { GC: 1, PostgreSQL: 900 } });
    expect(r).toMatchObject({ orden: 'techo-sistema', throughput: 1, cpuSistema: 900, cpuTecho: 901 });
    expect(r.p99).toBeCloseTo(2, 1);
  });

  it('prints every round and the medians under the tables', () => {
    const sis = resumen(2, 100);
    const report: BenchReport = {
      fecha: new Date().toISOString(),
      config: { clientes: 4, duracionS: 1, calentamientoS: 0, actoresPorTipo: 2, tiposPorActor: 'todos', env: {}, replicacion: 'ninguna', isbns: [] },
      sistema: { ...sis, porGc: {}, inicio: '', fin: '', duracionMs: 1000, config: { clientes: 4, duracionS: 1, carga: { tipo: 'secuencia' }, isbns: [], transporte: 'dealer', repartir: false, prefijoUsuario: 'x' }, serie: new SeriesRecorder(0).finish(1000) } as LoadReport,
      techo: { ...sis, duracionMs: 1000, clientes: 4, serie: new SeriesRecorder(0).finish(1000) },
      ratios: calcularRatios(sis, sis),
      cpuPorOperacion: { sistema: { GC: 400 }, techo: { GC: 2 } },
      rondas: [ronda(0.61, 1.5), { ...ronda(0.42, 2.2), orden: 'techo-sistema' }, ronda(0.5, 1.9)],
      notas: [],
    };
    const text = formatBench(report);
    expect(text).toMatch(/^1\s+sistema-techo\s+610\s+1000\s+0\.610\s+1\.50\s+1400\s+900$/m);
    expect(text).toMatch(/^2\s+techo-sistema\s+420\s+1000\s+0\.420\s+2\.20\s/m);
    expect(text).toContain('mediana: ops/s sistema/techo 0.500, p99 sistema/techo 1.90');
    const { rondas: _, ...sinRondas } = report;
    expect(formatBench(sinRondas)).not.toContain('Rondas ABBA');
  });
});

describe('bench:gcs report', () => {
  it('prints each phase, the replies per GC and the ratio of the medians of p99 and throughput', () => {
    const fase = (f: 'un GC' | 'dos GC', ronda: number, factor: number, porGc: Record<string, number>) => ({
      fase: f,
      ronda,
      informe: { ...resumen(factor, 100), porGc } as unknown as LoadReport,
    });
    const text = formatComparacion([fase('un GC', 1, 2, { a: 300 }), fase('dos GC', 1, 1, { a: 150, b: 150 })], 10, 15);
    expect(text).toMatch(/^un GC\s+1\s+300\s/m);
    expect(text).toContain('dos GC ronda 1: por GC a 150 (50 %), b 150 (50 %)');
    expect(text).toContain('mediana p99: un GC 1.98 ms, dos GC 0.99 ms (dos/un = 0.50)');
  });
});

describe('SQL ceiling phase (real PostgreSQL)', () => {
  let pgs: TestPostgres;
  let pool: pg.Pool;
  beforeAll(async () => {
    pgs = await startTestPostgres();
    pool = createPool(pgs, { max: 2 }, pino({ level: 'silent' }));
    await migrate(pool, pino({ level: 'silent' }));
    await pool.query(`INSERT INTO libros (isbn, titulo, autor, total, disponibles) VALUES ('979-0-T-1', 'T1', 'A', 1000, 1000), ('979-0-T-2', 'T2', 'A', 1000, 1000)`);
  });
  afterAll(async () => {
    await pool?.end().catch(() => undefined);
    await pgs?.stop();
  });

  it('runs the sequence workload with one durable aplicar_operacion per op, more clients than books', async () => {
    const r = await runSqlCeiling(pgs, { clientes: 5, duracionS: 1, isbns: ['979-0-T-1', '979-0-T-2'] });
    // The rate is what `npm run bench` measures; here the phase must run, every op accounted for below.
    console.info(`[ps-bench] SQL ceiling, 5 clients, 1 s: ${r.respuestas} fsynced ops`);
    expect(r.respuestas).toBeGreaterThan(0);
    expect(r.sinRespuesta).toBe(0);
    expect(r.exitosas).toBe(r.respuestas);
    expect(r.clientes).toBe(5);
    for (const op of ['prestamo', 'renovacion', 'devolucion']) expect(r.porOperacion[op]?.count ?? 0).toBeGreaterThan(0);
    // Every reply is a ledger row, each applied once, plus at most one uncounted devolución per client
    // after the clock (a loan the deadline cut short), so no loan is left open.
    const { rows } = await pool.query<{ n: number; completadas: number }>(`SELECT count(*)::int AS n, count(*) FILTER (WHERE estado = 'COMPLETADA')::int AS completadas FROM operaciones WHERE id LIKE 'techo-%'`);
    expect(rows[0]!.completadas).toBe(rows[0]!.n);
    expect(rows[0]!.n).toBeGreaterThanOrEqual(r.respuestas);
    expect(rows[0]!.n).toBeLessThanOrEqual(r.respuestas + 5);
    const activos = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM prestamos WHERE estado = 'ACTIVO'`);
    expect(activos.rows[0]!.n).toBe(0);
    const inv = await pool.query<{ ok: boolean }>(
      `SELECT bool_and(l.disponibles + (SELECT count(*) FROM prestamos p WHERE p.isbn = l.isbn AND p.estado = 'ACTIVO') = l.total) AS ok FROM libros l`,
    );
    expect(inv.rows[0]!.ok).toBe(true);
    // Its connections are closed when it returns.
    const open = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE 'SELECT aplicar_operacion%'`);
    expect(open.rows[0]!.n).toBe(0);
  });
});
