/**
 * The panel's pure parts (percentiles from histogram buckets, timeline events,
 * target arguments) and its HTTP port under bad requests — the collector and
 * server are real, polling a real GC-like HTTP port (common/http-server.ts with a
 * prom-client registry).
 */
import http from 'node:http';
import net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { Histogram, Registry } from 'prom-client';
import { startHttpServer } from '../../common/http-server.js';
import { freePort } from '../../scripts/launcher/free-port.js';
import { createLogger } from '../../common/logger.js';
import { changes } from '../../panel/changes.js';
import { PanelCollector, GC_LATENCY_METRIC } from '../../panel/collector.js';
import { bucketsBy, delta, quantile, type MetricJson } from '../../panel/histogram.js';
import { startPanelServer } from '../../panel/server.js';
import type { PanelSnapshot } from '../../panel/snapshot.js';
import { TargetError, nameTargets, parseTarget, type Target } from '../../panel/targets.js';

const log = createLogger('panel-test');
log.level = 'silent';
const cleanup: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const f of cleanup.reverse()) await f();
});

describe('histogram quantiles (as Prometheus computes them)', () => {
  it('interpolates inside the bucket, like histogram_quantile', () => {
    const b = { le: [0.1, 0.2, 0.4, Infinity], counts: [10, 50, 100, 100] };
    expect(quantile(0.5, b)).toBeCloseTo(0.2, 6); // rank 50: the top of the second bucket
    expect(quantile(0.75, b)).toBeCloseTo(0.3, 6); // rank 75: halfway through (0.2, 0.4]
    expect(quantile(0.05, b)).toBeCloseTo(0.05, 6);
    expect(quantile(0.99, { le: [0.1, Infinity], counts: [1, 10] })).toBe(0.1); // in +Inf: the highest finite bound
    expect(quantile(0.5, { le: [0.1, Infinity], counts: [0, 0] })).toBeNull();
  });

  it('reads prom-client JSON per label and subtracts two scrapes; a restart counts from zero', async () => {
    const reg = new Registry();
    const h = new Histogram({ name: 'h_seconds', help: 'h', labelNames: ['operacion'], buckets: [0.01, 0.1], registers: [reg] });
    h.observe({ operacion: 'prestamo' }, 0.005);
    const before = bucketsBy((await reg.getMetricsAsJSON()) as unknown as MetricJson[], 'h_seconds', 'operacion');
    h.observe({ operacion: 'prestamo' }, 0.05);
    h.observe({ operacion: 'prestamo' }, 0.05);
    h.observe({ operacion: 'renovacion' }, 0.5);
    const now = bucketsBy((await reg.getMetricsAsJSON()) as unknown as MetricJson[], 'h_seconds', 'operacion');
    expect(now.get('prestamo')).toEqual({ le: [0.01, 0.1, Infinity], counts: [1, 3, 3] });
    expect(delta(now.get('prestamo')!, before.get('prestamo'))).toEqual({ le: [0.01, 0.1, Infinity], counts: [0, 2, 2] });
    expect(delta(before.get('prestamo')!, now.get('prestamo'))).toEqual(before.get('prestamo'));
    expect(now.get('renovacion')!.counts).toEqual([0, 0, 1]);
  });
});

describe('panel targets', () => {
  it('host=url or a bare url; clear errors for anything else', () => {
    expect(parseTarget('ga', 'pc1=http://127.0.1.1:9570/')).toEqual({ tipo: 'ga', host: 'pc1', url: 'http://127.0.1.1:9570' });
    expect(parseTarget('gc', 'http://127.0.0.1:9555')).toEqual({ tipo: 'gc', host: '127.0.0.1', url: 'http://127.0.0.1:9555' });
    expect(() => parseTarget('ga', 'pc1=127.0.1.1:9570')).toThrow(TargetError);
    expect(() => parseTarget('ga', 'tcp://127.0.0.1:5570')).toThrow(/solo http/);
    expect(() => parseTarget('ga', 'http://127.0.0.1:9570/status')).toThrow(/sin ruta/);
    expect(() => parseTarget('ga', 'p c=http://127.0.0.1:1')).toThrow(/nombre de host no válido/);
    const named = nameTargets([parseTarget('actor', 'pc1=http://a:1'), parseTarget('actor', 'pc1=http://a:2'), parseTarget('gc', 'pc1=http://a:3')]);
    expect(named.map((t) => t.nombre)).toEqual(['actor pc1 #1', 'actor pc1 #2', 'gc pc1']);
    expect(() => nameTargets([parseTarget('gc', 'http://a:1'), parseTarget('ga', 'http://a:1')])).toThrow(/aparece dos veces/);
  });
});

describe('timeline events', () => {
  const target = (tipo: Target['tipo'], host: string, url: string): Target => ({ tipo, host, url, nombre: `${tipo} ${host}` });
  const snap = (t: number, estado: string, rolPg: string, timeline: number, disyuntor: 'closed' | 'open', gaOk = true): PanelSnapshot => ({
    t,
    gcs: [],
    gas: [{ objetivo: target('ga', 'pc2', 'http://b'), responde: gaOk, ...(gaOk ? { estado: { papel: { estado }, postgres: { rolPg, timeline } } as never } : {}) }],
    actores: [],
    actoresVivos: {},
    disyuntores: [{ cliente: 'gc pc1', host: 'pc1', endpoint: 'tcp://127.0.1.1:5570', disyuntor, preferido: false, fallosSeguidos: 0 }],
  });

  it('role, PostgreSQL role and timeline changes, breaker openings and closings, processes that stop answering', () => {
    expect(changes(undefined, snap(1, 'PASSIVE', 'standby', 1, 'closed'))).toEqual([]);
    expect(changes(snap(1, 'PASSIVE', 'standby', 1, 'closed'), snap(2, 'PASSIVE', 'standby', 1, 'closed'))).toEqual([]);
    expect(changes(snap(1, 'PASSIVE', 'standby', 1, 'closed'), snap(2, 'ACTIVE', 'primary', 2, 'open')).map((e) => [e.t, e.tipo, e.texto])).toEqual([
      [2, 'rol', 'GA pc2: PASSIVE → ACTIVE'],
      [2, 'rol', 'PostgreSQL del GA pc2: standby → primary'],
      [2, 'rol', 'PostgreSQL del GA pc2: timeline 1 → 2'],
      [2, 'breaker', 'breaker abierto: gc pc1 → 127.0.1.1:5570'],
    ]);
    expect(changes(snap(2, 'ACTIVE', 'primary', 2, 'open'), snap(3, 'ACTIVE', 'primary', 2, 'closed', false)).map((e) => e.texto)).toEqual([
      'GA pc2 no responde',
      'breaker cerrado: gc pc1 → 127.0.1.1:5570',
    ]);
  });
});

describe('panel process parts over HTTP', () => {
  it('polls a GC port into rates and percentiles; its own port answers bad requests without falling over', async () => {
    // A GC-like port: the real http-server with a registry holding the GC's latency histogram.
    const reg = new Registry();
    const h = new Histogram({ name: GC_LATENCY_METRIC, help: 'x', labelNames: ['operacion'], buckets: [0.001, 0.01, 0.1], registers: [reg] });
    const gcHttp = await startHttpServer({ host: '127.0.0.1', port: 0, registry: reg, log, status: () => ({ actores: [], tareas: { enviada: 2, 'en-cola': 1, espera: 0 }, almacenamiento: [] }), routes: { '/errors/stats': () => ({ total: 0, porClase: {}, porCodigo: {}, recientes: [] }) } });
    cleanup.push(() => gcHttp.close());
    // A port that answers, but not what a GA or an actor says (another version, another program).
    const odd = await startHttpServer({ host: '127.0.0.1', port: 0, registry: new Registry(), log, status: () => ({}) });
    cleanup.push(() => odd.close());
    const targets = nameTargets([
      parseTarget('gc', `pc1=http://127.0.0.1:${gcHttp.port}`),
      parseTarget('ga', `pc2=http://127.0.0.1:${await freePort('127.0.0.1')}`),
      parseTarget('ga', `pc3=http://127.0.0.1:${odd.port}`),
      parseTarget('actor', `pc3=http://127.0.0.1:${odd.port}/`),
    ].map((t, i) => (i === 3 ? { ...t, url: `http://localhost:${odd.port}` } : t)));
    const collector = new PanelCollector({ targets, log, everyMs: 60_000, keepMs: 90_000 });
    cleanup.push(async () => collector.stop());
    const first = await collector.poll();
    expect(first.punto).toBeUndefined(); // the first poll is the baseline
    expect(first.instantanea.gas[0]).toMatchObject({ responde: false, error: 'ECONNREFUSED' });
    for (let i = 0; i < 40; i++) h.observe({ operacion: 'prestamo' }, 0.005);
    await new Promise((r) => setTimeout(r, 200));
    const second = await collector.poll();
    expect(second.instantanea.gas[1]).toMatchObject({ responde: true, estado: {} });
    expect(second.instantanea.actores[0]).toMatchObject({ responde: true, vivo: false });
    const p = second.punto!.porOperacion.prestamo!;
    expect(p.rps).toBeCloseTo(40 / ((second.instantanea.t - first.instantanea.t) / 1000), 0); // 40 over the interval between the polls
    expect(p.p50).toBeCloseTo(5.5, 1); // ms, interpolated in (1, 10]
    expect(second.punto!.tareas).toEqual({ enviada: 2, enCola: 1, espera: 0 });

    const server = await startPanelServer({ host: '127.0.0.1', port: 0, collector, targets, log });
    cleanup.push(() => server.close());
    const get = (path: string, init?: RequestInit) => fetch(`${server.url.replace(/\/$/, '')}${path}`, init);
    expect((await get('/')).headers.get('content-type')).toMatch(/text\/html/);
    expect(await (await get('/static/uplot.js')).text()).toContain('uPlot');
    expect((await get('/static/../../package.json')).status).toBe(404);
    expect((await get('/static/main.ts')).status).toBe(404);
    expect((await get('/nada')).status).toBe(404);
    expect((await get('/', { method: 'POST', body: 'x' })).status).toBe(405);
    const estado = (await (await get('/api/estado')).json()) as { puntos: unknown[]; instantanea: PanelSnapshot; ventanaMs: number };
    expect(estado.puntos).toHaveLength(1);
    expect(estado.ventanaMs).toBe(90_000); // the page trims its history to the panel's --historia
    expect(estado.instantanea.gcs[0]!.responde).toBe(true);
    // Garbage on the socket: a 400, and the port keeps serving.
    const raw = await new Promise<string>((resolve) => {
      const s = net.connect(server.port, '127.0.0.1', () => s.write('NOT HTTP AT ALL\r\n\r\n'));
      let got = '';
      s.on('data', (d) => (got += d.toString()));
      s.on('close', () => resolve(got));
      s.on('error', () => resolve(got));
    });
    expect(raw).toMatch(/^HTTP\/1.1 400/);
    // The SSE stream starts with the whole history.
    const ctrl = new AbortController();
    const sse = await get('/api/eventos', { signal: ctrl.signal });
    expect(sse.headers.get('content-type')).toMatch(/text\/event-stream/);
    const reader = sse.body!.getReader();
    const { value } = await reader.read();
    expect(new TextDecoder().decode(value)).toMatch(/^event: inicio\ndata: \{/);
    ctrl.abort();
    expect((await get('/health')).status).toBe(200);
  });
});

describe('panel SSE', () => {
  it('a page that stops reading is cut off (bounded buffering); pages that read keep their updates', async () => {
    // A collector whose updates this test emits (each ~1 MiB, as a snapshot with big error lists could be).
    const listeners = new Set<(u: unknown) => void>();
    const collector = {
      onUpdate: (fn: (u: unknown) => void) => (listeners.add(fn), () => listeners.delete(fn)),
      history: () => ({ puntos: [], eventos: [], ventanaMs: 60_000 }),
    } as unknown as PanelCollector;
    const lines: string[] = [];
    const { pino } = await import('pino');
    const captured = pino({ level: 'warn' }, { write: (s: string) => void lines.push(s) });
    const server = await startPanelServer({ host: '127.0.0.1', port: 0, collector, targets: [], log: captured });
    cleanup.push(() => server.close());
    // The stalled page: asks for the stream, then never reads.
    const stalled = net.connect(server.port, '127.0.0.1', () => stalled.write('GET /api/eventos HTTP/1.1\r\nHost: x\r\n\r\n'));
    stalled.on('error', () => undefined);
    stalled.pause();
    cleanup.push(async () => stalled.destroy());
    // A page that reads.
    const reading = await fetch(`${server.url.replace(/\/$/, '')}/api/eventos`);
    const reader = reading.body!.getReader();
    let received = 0;
    const drain = (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        received += value.length;
      }
    })();
    await new Promise((r) => setTimeout(r, 200));
    const big = { relleno: 'x'.repeat(1024 * 1024) };
    for (let i = 0; i < 40 && !lines.some((l) => l.includes('SSE client not reading')); i++) {
      for (const fn of listeners) fn(big);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(lines.some((l) => l.includes('SSE client not reading'))).toBe(true);
    // Far less than the 40 MiB that would otherwise wait for the stalled page.
    expect(lines.map((l) => JSON.parse(l) as { backlog?: number }).find((l) => l.backlog)!.backlog).toBeLessThan(16 * 1024 * 1024);
    const before = received;
    for (const fn of listeners) fn(big);
    await new Promise((r) => setTimeout(r, 300));
    expect(received).toBeGreaterThan(before + 1024 * 1024 - 1);
    await reader.cancel();
    await drain.catch(() => undefined);
  });
});

describe('panel collector against GCs that miss polls, fail and answer garbage', () => {
  /** A GC-like port whose every answer the test controls. */
  async function fakeGc(o: { metrics: () => unknown; errores: () => unknown; status?: () => unknown }) {
    const server = http.createServer(async (req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      const body = await (path === '/metrics.json' ? o.metrics() : path === '/errors/stats' ? o.errores() : path === '/status' ? (o.status?.() ?? { actores: [], tareas: { enviada: 0, 'en-cola': 0, espera: 0 }, almacenamiento: [] }) : undefined);
      if (body === undefined) {
        res.writeHead(500);
        return res.end();
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise((r) => server.close(r)));
    return `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  }

  it('each GC its own rate over its own interval; a failed /errors/stats keeps the baseline; a wrong-shaped answer fails alone', async () => {
    const hist = () => {
      const reg = new Registry();
      return { reg, h: new Histogram({ name: GC_LATENCY_METRIC, help: 'x', labelNames: ['operacion'], buckets: [0.001, 0.01], registers: [reg] }) };
    };
    const a = hist();
    const b = hist();
    let bDown = false;
    let aErrorsDown = false;
    let aUnavailable = 5000;
    const urlA = await fakeGc({ metrics: () => a.reg.getMetricsAsJSON(), errores: () => (aErrorsDown ? undefined : { total: aUnavailable, porClase: { unavailable: aUnavailable }, porCodigo: {}, recientes: [] }) });
    const urlB = await fakeGc({ metrics: () => (bDown ? undefined : b.reg.getMetricsAsJSON()), errores: () => ({ total: 0, porClase: {}, porCodigo: {}, recientes: 'no' }) });
    // Another program on a GC's port: JSON, but not of the shapes the panel reads.
    const urlC = await fakeGc({ metrics: () => ({}), errores: () => [], status: () => ({ actores: 'x', almacenamiento: 5, tareas: null }) });
    const targets = nameTargets([parseTarget('gc', `pc1=${urlA}`), parseTarget('gc', `pc2=${urlB}`), parseTarget('gc', `pc3=${urlC}`)]);
    const collector = new PanelCollector({ targets, log, everyMs: 60_000 });
    cleanup.push(async () => collector.stop());
    const wait = () => new Promise((r) => setTimeout(r, 150));
    const observe = (n: number) => {
      for (let i = 0; i < n; i++) {
        a.h.observe({ operacion: 'prestamo' }, 0.005);
        b.h.observe({ operacion: 'prestamo' }, 0.005);
      }
    };
    const p1 = await collector.poll(); // baseline
    expect(p1.instantanea.gcs[2]).toMatchObject({ responde: true });
    observe(50);
    await wait();
    const p2 = (await collector.poll()).punto!;
    expect(p2.erroresPorSegundo).toEqual({ unavailable: 0 }); // pc1's 5000 are its history, not this second's
    // pc2 misses a poll; pc1's errors endpoint fails.
    bDown = true;
    aErrorsDown = true;
    observe(50);
    aUnavailable += 20; // errors go on while the panel cannot read them
    await wait();
    const p3 = (await collector.poll()).punto!;
    expect(p3.porOperacion.prestamo!.rps).toBeCloseTo(50 / ((p3.t - p2.t) / 1000), 0);
    expect(p3.erroresPorSegundo).toEqual({}); // unknown this time, not 0
    bDown = false;
    aErrorsDown = false;
    observe(50);
    aUnavailable += 20;
    await wait();
    const p4 = (await collector.poll()).punto!;
    // pc2's 100 requests over its two intervals, pc1's 50 over its one: not 150 over the longest.
    const expected = 50 / ((p4.t - p3.t) / 1000) + 100 / ((p4.t - p2.t) / 1000);
    expect(p4.porOperacion.prestamo!.rps).toBeCloseTo(expected, 0);
    const longestInterval = 150 / ((p4.t - p2.t) / 1000); // what dividing by the longest interval gave
    expect(Math.abs(p4.porOperacion.prestamo!.rps - expected)).toBeLessThan(Math.abs(p4.porOperacion.prestamo!.rps - longestInterval));
    // pc1's 40 errors over the two intervals since its last answer: the failed fetch kept that
    // baseline (5000, not {}) with its own time.
    expect(p4.erroresPorSegundo.unavailable).toBeCloseTo(40 / ((p4.t - p2.t) / 1000), 1);
    // 30 errors more at pc1: 30 over its interval.
    aUnavailable += 30;
    await wait();
    const p5 = (await collector.poll()).punto!;
    expect(p5.erroresPorSegundo.unavailable).toBeCloseTo(30 / ((p5.t - p4.t) / 1000), 1);
  });

  it('a counter that went down in any bucket is a restart, even when the total grew past the old one', () => {
    const before = { le: [0.001, 0.01, Infinity], counts: [100, 100, 100] };
    const after = { le: [0.001, 0.01, Infinity], counts: [0, 150, 150] };
    expect(delta(after, before)).toEqual(after);
    expect(delta({ le: before.le, counts: [120, 130, 130] }, before)).toEqual({ le: before.le, counts: [20, 30, 30] });
  });

  it('HEAD of the event stream gets headers and an end, not an open stream', async () => {
    const collector = new PanelCollector({ targets: [], log, everyMs: 60_000 });
    const server = await startPanelServer({ host: '127.0.0.1', port: 0, collector, targets: [], log });
    cleanup.push(() => server.close());
    // On a raw socket: fetch() settles a HEAD at its headers whether or not the server ends it.
    const raw = await new Promise<string>((resolve) => {
      const s = net.connect(server.port, '127.0.0.1', () => s.write('HEAD /api/eventos HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
      let got = '';
      const timer = setTimeout(() => {
        s.destroy();
        resolve(`${got}(still open after 2 s)`);
      }, 2000);
      s.on('data', (d) => (got += d.toString()));
      s.on('close', () => {
        clearTimeout(timer);
        resolve(got);
      });
      s.on('error', () => undefined);
    });
    expect(raw).toMatch(/^HTTP\/1.1 200/);
    expect(raw).not.toContain('still open');
  });
});
