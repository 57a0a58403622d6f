/**
 * The HTML reports without a browser: per-second series of the recorders, the
 * view built from each kind of JSON report, the self-contained document, and
 * `npm run informe` on files (one report, a comparison, bad input).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { htmlDocument } from '../../informes/html.js';
import { runInforme } from '../../informes/main.js';
import { InformeDesconocidoError, graficosDeSerie, porSegundo, reconocer, vistaComparada, vistaDe } from '../../informes/vista.js';
import type { LoadReport } from '../../solicitante/load.js';
import { SeriesRecorder } from '../../solicitante/series.js';

const dir = mkdtempSync(join(tmpdir(), 'informes-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('SeriesRecorder', () => {
  it('buckets requests per second with their failures and latency percentiles; empty seconds are zeros', () => {
    const r = new SeriesRecorder(1_000_000);
    for (let i = 1; i <= 100; i++) r.record('prestamo', 100 + i, i, false); // second 0: 1..100 ms
    r.record('devolucion', 2500, 7, true); // second 2; nothing in second 1
    r.record('prestamo', 2600, null, true); // no reply
    const s = r.finish(4000);
    expect(s.inicioMs).toBe(1_000_000);
    expect(s.t).toEqual([0, 1, 2, 3]);
    expect(s.porOperacion.prestamo!.n).toEqual([100, 0, 1, 0]);
    expect(s.porOperacion.prestamo!.fallos).toEqual([0, 0, 1, 0]);
    expect(s.porOperacion.prestamo!.p50[0]).toBeCloseTo(50, 0);
    expect(s.porOperacion.prestamo!.p99[0]).toBeCloseTo(99, 0);
    expect(s.porOperacion.prestamo!.p50.slice(1)).toEqual([null, null, null]); // the no-reply has no latency
    // An operation first seen later is back-filled, so every column has one value per bucket.
    expect(s.porOperacion.devolucion).toEqual({ n: [0, 0, 1, 0], fallos: [0, 0, 1, 0], p50: [null, null, 7, null], p99: [null, null, 7, null] });
    expect(s.total.n).toEqual([100, 0, 2, 0]);
  });

  it('a late record lands in the open bucket: the series only moves forward', () => {
    const r = new SeriesRecorder(0);
    r.record('x', 3100, 1, false);
    r.record('x', 1200, 2, false);
    expect(r.finish(3500).porOperacion.x!.n).toEqual([0, 0, 0, 2]);
  });
});

function cargaReport(n: number, msPorOp: number): LoadReport {
  const rec = new SeriesRecorder(Date.parse('2026-01-01T00:00:00Z'));
  for (let t = 0; t < n * 1000; t += 10) rec.record('prestamo', t, msPorOp, false);
  const lat = { count: n * 100, mean: msPorOp, p50: msPorOp, p95: msPorOp, p99: msPorOp, max: msPorOp };
  return {
    inicio: '2026-01-01T00:00:00.000Z',
    fin: '2026-01-01T00:00:05.000Z',
    duracionMs: n * 1000,
    config: { clientes: 2, duracionS: n, carga: { tipo: 'secuencia' }, isbns: ['x'], transporte: 'dealer', repartir: false, prefijoUsuario: 'p' },
    respuestas: n * 100,
    sinRespuesta: 0,
    exitosas: n * 100,
    throughput: 100,
    porCodigo: { APROBADO: n * 100 },
    global: lat,
    porOperacion: { prestamo: { ...lat, throughput: 100, porCodigo: { APROBADO: n * 100 }, sinRespuesta: 0 } },
    serie: rec.finish(n * 1000),
    porGc: { 'tcp://127.0.0.1:5555': n * 100 },
  };
}

describe('report views', () => {
  it('recognises carga, bench and drill reports, a list of drills, and refuses anything else by name', () => {
    expect(reconocer(cargaReport(2, 3)).map((i) => i.tipo)).toEqual(['carga']);
    expect(reconocer({ sistema: {}, techo: {}, ratios: {} }).map((i) => i.tipo)).toEqual(['bench']);
    const drill = { escenario: 'gc', falla: {}, solicitudes: {} };
    expect(reconocer([drill, drill]).map((i) => i.tipo)).toEqual(['drill', 'drill']);
    expect(() => reconocer({ hola: 1 }, 'x.json')).toThrow(new InformeDesconocidoError('x.json no es un informe de carga, bench ni drill'));
    expect(() => reconocer([], 'y.json')).toThrow(/y.json: lista vacía/);
  });

  it('charts throughput per second and p50/p99 per operation from a series', () => {
    const g = graficosDeSerie(cargaReport(3, 4).serie, [{ t: 1, texto: 'falla', tipo: 'falla' }]);
    expect(g.map((x) => x.titulo)).toEqual(['Solicitudes por segundo, por operación', 'Latencia p50 por operación', 'Latencia p99 por operación']);
    expect(g[0]!.series.map((s) => s.nombre)).toEqual(['prestamo', 'total', 'fallidas']);
    expect(g[0]!.series[0]!.valores).toEqual([100, 100, 100]);
    expect(g[2]!.series[0]!.valores).toEqual([4, 4, 4]);
    expect(g[1]!.marcas).toEqual([{ t: 1, texto: 'falla', tipo: 'falla' }]);
  });

  it('rates per second leave out a last bucket that is only a sliver of the run', () => {
    const r = new SeriesRecorder(0);
    for (let t = 0; t < 2000; t += 10) r.record('x', t, 1, false);
    r.record('x', 2040, 1, false); // a reply that was still in flight at the deadline
    const s = r.finish(2050);
    expect(s.finS).toBe(2.05);
    expect(porSegundo(s, s.total.n)).toEqual([100, 100, null]);
    expect(s.total.n).toEqual([100, 100, 1]); // counted all the same
  });

  it('compares runs of different lengths on one time axis, one column and one line per run', () => {
    const v = vistaComparada([
      { nombre: 'sync', informe: { tipo: 'carga', datos: cargaReport(2, 10) } },
      { nombre: 'async', informe: { tipo: 'carga', datos: cargaReport(4, 3) } },
    ]);
    const cmp = v.secciones[0]!;
    expect(cmp.tablas[0]!.cabecera).toEqual(['', 'sync', 'async']);
    expect(cmp.tablas[0]!.filas.find((f) => f[0] === 'p99 ms')).toEqual(['p99 ms', '10.00', '3.00']);
    const p99 = cmp.graficos.find((g) => g.titulo === 'Latencia p99 (total)')!;
    expect(p99.x).toEqual([0, 1, 2, 3]);
    expect(p99.series).toEqual([
      { nombre: 'sync', valores: [10, 10, null, null] },
      { nombre: 'async', valores: [3, 3, 3, 3] },
    ]);
    // Then each run's own report.
    expect(v.secciones.map((s) => s.titulo)).toEqual(['Comparación: sync / async', 'sync: Carga', 'async: Carga']);
  });

  it('the HTML document inlines the chart library, the scripts and the data, and nothing can close its script early', () => {
    const r = cargaReport(1, 2);
    r.config.prefijoUsuario = '</script><script>alert(1)</script>';
    const html = htmlDocument(vistaDe('Informe', [{ tipo: 'carga', datos: r }]));
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)=/i);
    expect(html).toContain('uPlot');
    expect(html).not.toContain('<script>alert(1)');
    const json = /<script id="vista" type="application\/json">([\s\S]*?)<\/script>/.exec(html)![1]!;
    expect(JSON.parse(json).secciones[0].titulo).toBe('Carga');
  });
});

describe('npm run informe', () => {
  const io = () => {
    const o = { out: '', err: '' };
    return { o, io: { out: (s: string) => (o.out += s), err: (s: string) => (o.err += s) } };
  };

  it('one JSON: its HTML beside it; two: a comparison where --html says', async () => {
    const a = join(dir, 'a.json');
    const b = join(dir, 'b.json');
    writeFileSync(a, JSON.stringify(cargaReport(2, 5)));
    writeFileSync(b, JSON.stringify(cargaReport(3, 8)));
    const one = io();
    expect(await runInforme([a], one.io)).toBe(0);
    expect(one.o.out).toBe(`informe HTML: ${join(dir, 'a.html')}\n`);
    expect(readFileSync(join(dir, 'a.html'), 'utf8')).toContain('Informe: a');
    // Again: the HTML beside the JSON is replaced, and the output says so.
    const again = io();
    expect(await runInforme([a], again.io)).toBe(0);
    expect(again.o.out).toBe(`informe HTML: ${join(dir, 'a.html')} (sustituye al anterior)\n`);
    const two = io();
    const out = join(dir, 'cmp.html');
    expect(await runInforme([a, b, '--html', out, '--nombres', 'uno,dos'], two.io)).toBe(0);
    const html = readFileSync(out, 'utf8');
    expect(html).toContain('Comparación: uno / dos');
  });

  it('one file of several runs (npm run bench:gcs): compared among themselves, named by phase and round', async () => {
    const gcs = join(dir, 'bench-gcs.json');
    writeFileSync(gcs, JSON.stringify({ fecha: 'x', clientes: 2, duracionS: 2, medidas: [
      { fase: 'un GC', ronda: 1, informe: cargaReport(2, 9) },
      { fase: 'dos GC', ronda: 1, informe: cargaReport(2, 4) },
    ] }));
    const r = io();
    expect(await runInforme([gcs], r.io), r.o.err).toBe(0);
    expect(r.o.out).toBe(`informe HTML: ${join(dir, 'bench-gcs.html')}\n`);
    const html = readFileSync(join(dir, 'bench-gcs.html'), 'utf8');
    expect(html).toContain('Comparación: un GC, ronda 1 / dos GC, ronda 1');
  });

  it('bad input: a clear message and exit 2, nothing written', async () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"no": "es un informe"}');
    const notJson = join(dir, 'x.json');
    writeFileSync(notJson, 'hola');
    for (const [args, msg] of [
      [[join(dir, 'nope.json')], /no se puede leer .*nope.json: no existe \[ENOENT\]/],
      [[bad], /bad.json no es un informe de carga, bench ni drill/],
      [[notJson], /x.json no es JSON válido/],
      [[bad, bad, '--nombres', 'solo-uno'], /--nombres tiene 1 nombres para 2 ficheros/],
      [[], /falta el argumento obligatorio 'archivo'/],
    ] as const) {
      const r = io();
      expect(await runInforme([...args], r.io), String(args)).toBe(2);
      expect(r.o.err).toMatch(msg);
    }
    expect(existsSync(join(dir, 'bad.html'))).toBe(false);
  });

  it('a file of a known shape missing what the view reads: exit 2, named; --html naming an input: refused, the input kept', async () => {
    const hueco = join(dir, 'hueco.json');
    writeFileSync(hueco, JSON.stringify({ sistema: {}, techo: {}, ratios: {} }));
    const r = io();
    expect(await runInforme([hueco], r.io)).toBe(2);
    expect(r.o.err).toMatch(/hueco.json: informe incompleto o de otra versión/);
    expect(existsSync(join(dir, 'hueco.html'))).toBe(false);

    const a = join(dir, 'keep.json');
    const text = JSON.stringify(cargaReport(2, 5));
    writeFileSync(a, text);
    const w = io();
    expect(await runInforme([a, '--html', a], w.io)).toBe(2);
    expect(w.o.err).toMatch(/es uno de los informes de entrada/);
    expect(readFileSync(a, 'utf8')).toBe(text);
  });

  it('relative names resolve where the user ran npm (INIT_CWD), not in the package root', async () => {
    const sub = mkdtempSync(join(dir, 'cwd-'));
    writeFileSync(join(sub, 'r.json'), JSON.stringify(cargaReport(2, 5)));
    const before = process.env.INIT_CWD;
    process.env.INIT_CWD = sub;
    try {
      const r = io();
      expect(await runInforme(['r.json', '--html', 'salida.html'], r.io), r.o.err).toBe(0);
      expect(readFileSync(join(sub, 'salida.html'), 'utf8')).toContain('Informe: r');
    } finally {
      if (before === undefined) delete process.env.INIT_CWD;
      else process.env.INIT_CWD = before;
    }
  });
});
