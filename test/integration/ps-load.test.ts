/** runLoad in-process against the scripted fake GC. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Router } from 'zeromq';
import { MAX_CLIENTES, maxClientesReq, runLoad, parseMix, type LoadReport } from '../../solicitante/load.js';
import { GcNoReplyError } from '../../solicitante/errors.js';
import { runCli } from '../../solicitante/cli.js';
import { FakeGc } from '../harness/fake-gc.js';
import { freePort } from '../harness/ports.js';
import { eventually } from '../harness/eventually.js';
import { cleanupAfterEach } from '../harness/fixtures.js';
import { sink } from '../harness/sink.js';

const ISBNS = ['978-1-00-000001-0', '978-1-00-000002-0'];
// Undone newest first after each test, also when it fails; one failing step does not stop the rest.
const defer = cleanupAfterEach();

async function fake() {
  const gc = await FakeGc.start({ libros: Object.fromEntries(ISBNS.map((i) => [i, 1000])), retardoAsyncMs: 5 });
  defer(() => gc.stop());
  return gc;
}

function expectConsistent(r: LoadReport) {
  const ops = Object.values(r.porOperacion);
  expect(r.respuestas).toBe(ops.reduce((a, s) => a + s.count, 0));
  expect(r.global.count).toBe(r.respuestas);
  expect(r.respuestas).toBe(Object.values(r.porCodigo).reduce((a, n) => a + n, 0));
  for (const s of [...ops, r.global]) {
    expect(s.p50).toBeLessThanOrEqual(s.p95);
    expect(s.p95).toBeLessThanOrEqual(s.p99);
    expect(s.p99).toBeLessThanOrEqual(s.max);
    expect(s.p50).toBeGreaterThan(0);
  }
  for (const s of ops) expect(s.count).toBe(Object.values(s.porCodigo).reduce((a, n) => a + n, 0));
}

describe('runLoad', () => {
  it('replies are counted per GC; --repartir spreads the clients over the GCs like PS of every sede', async () => {
    const [a, b] = [await fake(), await fake()];
    for (const transporte of ['dealer', 'req'] as const) {
      const uno = await runLoad({ endpoints: [a.endpoint, b.endpoint], clientes: 4, duracionS: 1, isbns: ISBNS, transporte, timeoutMs: 1000, retries: 1 });
      expect(Object.keys(uno.porGc), transporte).toEqual([a.endpoint]);
      expect(uno.porGc[a.endpoint]).toBe(uno.respuestas);
      const dos = await runLoad({ endpoints: [a.endpoint, b.endpoint], repartir: true, clientes: 4, duracionS: 1, isbns: ISBNS, transporte, timeoutMs: 1000, retries: 1 });
      expect(dos.porGc[a.endpoint], transporte).toBeGreaterThan(0);
      expect(dos.porGc[b.endpoint], transporte).toBeGreaterThan(0);
      expect(dos.porGc[a.endpoint]! + dos.porGc[b.endpoint]!).toBe(dos.respuestas);
      expect(dos.config.repartir).toBe(true);
    }
  });

  it('4 closed-loop clients for 2 s: the sequence workload succeeds and the report is consistent', async () => {
    const gc = await fake();
    const progreso: number[] = [];
    const r = await runLoad({ endpoints: [gc.endpoint], clientes: 4, duracionS: 2, isbns: ISBNS, timeoutMs: 1000, retries: 1, onProgreso: (p) => progreso.push(p.respuestas), intervaloProgresoMs: 250 });
    // How many replies 2 s bring is for `npm run bench`; here: the run lasts what was asked (the
    // upper bound is the deadline plus one request's attempts, 2 × 1000 ms: a functional bound), it
    // got replies, and every request sent was answered.
    console.info(`[ps-load] sequence, 4 clients, 2 s: ${r.respuestas} replies, ${r.throughput.toFixed(0)}/s`);
    expect(r.duracionMs).toBeGreaterThanOrEqual(2000);
    expect(r.duracionMs).toBeLessThan(4000);
    expect(r.respuestas).toBeGreaterThan(0);
    expect(r.sinRespuesta).toBe(0);
    expect(Object.keys(r.porOperacion).sort()).toEqual(['devolucion', 'prestamo', 'renovacion']);
    // Every op of the sequence succeeds: fresh usuario per cycle, plenty of copies.
    expect(Object.keys(r.porCodigo).sort()).toEqual(['ACEPTADO', 'APROBADO']);
    expect(r.exitosas).toBe(r.respuestas);
    // Closed loop: the three ops stay within one cycle of each other per client.
    const n = Object.values(r.porOperacion).map((s) => s.count);
    expect(Math.max(...n) - Math.min(...n)).toBeLessThanOrEqual(4);
    expect(Math.abs(r.throughput - r.respuestas / (r.duracionMs / 1000)) / r.throughput).toBeLessThan(0.01);
    expectConsistent(r);
    expect(progreso.length).toBeGreaterThanOrEqual(5);
    // Applied once each: no duplicates in the fake GC's ledger.
    expect([...gc.aplicaciones.values()].every((x) => x === 1)).toBe(true);
  });

  it('the REQ transport (one socket per client) and a mixed workload also work', async () => {
    const gc = await fake();
    const r = await runLoad({ endpoints: [gc.endpoint], clientes: 3, duracionS: 1, isbns: ISBNS, transporte: 'req', carga: { tipo: 'mezcla', pesos: parseMix('prestamo=50,devo=25,renovacion=25') } });
    // Functional, not a rate: it got replies, every request was answered, and the report adds up.
    console.info(`[ps-load] REQ transport, mixed workload, 3 clients, 1 s: ${r.respuestas} replies`);
    expect(r.respuestas).toBeGreaterThan(0);
    expect(r.sinRespuesta).toBe(0);
    expect(r.config.transporte).toBe('req');
    expectConsistent(r);
  });

  it('counts unanswered requests against a dead GC and ends within bounded time', async () => {
    const port = await freePort();
    const t0 = Date.now();
    const r = await runLoad({ endpoints: [`tcp://127.0.0.1:${port}`], clientes: 2, duracionS: 1, timeoutMs: 200, retries: 1 });
    // Functional bound (what the test is about): the run ends after its duration plus one request's
    // attempts (2 × 200 ms), not waiting on a GC that never answers; +1 s of slack for a slow host.
    expect(Date.now() - t0).toBeLessThan(1000 + 2 * 200 + 1000);
    expect(r.respuestas).toBe(0);
    expect(r.sinRespuesta).toBeGreaterThanOrEqual(2);
  });

  it('sequence: a cycle whose préstamo fails ends there, so no renovación or devolución of a loan that does not exist is sent or counted', async () => {
    // One copy for three clients, returned asynchronously: most préstamos get SIN_EJEMPLARES.
    const gc = await FakeGc.start({ libros: { 'X-1': 1 }, retardoAsyncMs: 20 });
    defer(() => gc.stop());
    const r = await runLoad({ endpoints: [gc.endpoint], clientes: 3, duracionS: 1, isbns: ['X-1'], timeoutMs: 1000, retries: 1 });
    const op = (o: string) => r.porOperacion[o] ?? { count: 0, porCodigo: {} as Record<string, number> };
    const prestados = op('prestamo').porCodigo.APROBADO ?? 0;
    expect(op('prestamo').porCodigo.SIN_EJEMPLARES).toBeGreaterThan(0);
    expect(prestados).toBeGreaterThan(0);
    // Only cycles with a loan go on (the last may be cut short by the deadline).
    expect(op('renovacion').count).toBeLessThanOrEqual(prestados);
    expect(op('renovacion').count).toBeGreaterThanOrEqual(prestados - 3);
    expect(op('devolucion').count).toBeLessThanOrEqual(prestados);
    expect(Object.keys(op('renovacion').porCodigo)).toEqual(['APROBADO']);
    expect(Object.keys(op('devolucion').porCodigo)).toEqual(['ACEPTADO']);
    expect(r.exitosas).toBe(r.respuestas - op('prestamo').porCodigo.SIN_EJEMPLARES!);
    const enviadas = gc.recibidas.map((m) => (m as { operacion: string }).operacion);
    // Plus, after the clock, at most one uncounted devolución per client whose cycle the deadline cut.
    const sinContar = enviadas.filter((o) => o !== 'prestamo').length - (op('renovacion').count + op('devolucion').count);
    expect(sinContar).toBeLessThanOrEqual(3);
    expectConsistent(r);
  });

  it('sequence: a loan cut short by the deadline is returned after the clock stops, so a run leaves every copy free', async () => {
    const gc = await FakeGc.start({ libros: { 'Y-1': 4 }, retardoAsyncMs: 5 });
    defer(() => gc.stop());
    // Slow replies make it very likely that the deadline falls between a préstamo and its devolución.
    for (let run = 0; run < 3; run++) {
      await runLoad({ endpoints: [gc.endpoint], clientes: 4, duracionS: 1, isbns: ['Y-1'], timeoutMs: 1000, retries: 1 });
      await eventually(() => `every copy free after run ${run} (${gc.disponibles('Y-1')} of 4)`, () => gc.disponibles('Y-1') === 4, 2000);
    }
  });

  it('parseMix rejects nonsense', () => {
    expect(() => parseMix('prestamo=x')).toThrow(/Mezcla no válida/);
    expect(() => parseMix('volar=3')).toThrow(/Mezcla no válida/);
    expect(() => parseMix('prestamo=0')).toThrow(/mayor que 0/);
    // Every part is name=number: no empty weight (it read as 0), no second '=', no sign, no exponent.
    for (const bad of ['prestamo=,devolucion=5', 'prestamo=50=7', 'prestamo', '=5', 'prestamo=-1', 'prestamo=1e2', 'prestamo=Infinity', 'prestamo=0x10']) {
      expect(() => parseMix(bad), bad).toThrow(/Mezcla no válida/);
    }
    // Each operation once (a short form names the same one).
    expect(() => parseMix('prestamo=5,pres=7')).toThrow(/prestamo.*más de una vez/);
    expect(parseMix(' prestamo = 2.5 , devo=1 ')).toEqual({ prestamo: 2.5, devolucion: 1, renovacion: 0 });
  });

  it('mezcla: the loans still open when the clock stops are returned after it, so a run leaves every copy free', async () => {
    const gc = await FakeGc.start({ libros: { 'M-1': 4 }, retardoAsyncMs: 5 });
    defer(() => gc.stop());
    // Only préstamos: each client's first one is approved and never returned within the run.
    const r = await runLoad({ endpoints: [gc.endpoint], clientes: 4, duracionS: 1, isbns: ['M-1'], timeoutMs: 1000, retries: 1, carga: { tipo: 'mezcla', pesos: { prestamo: 1 } } });
    expect(r.porOperacion.prestamo!.porCodigo.APROBADO).toBe(4);
    await eventually(() => `every copy free after the préstamo-only mix (${gc.disponibles('M-1')} of 4)`, () => gc.disponibles('M-1') === 4, 2000);
    // Uncounted: the four returns after the clock.
    expect(gc.recibidas.filter((m) => (m as { operacion: string }).operacion === 'devolucion')).toHaveLength(4);
    expect(r.porOperacion.devolucion).toBeUndefined();
    // The default mix: a loan is open or not when time runs out, depending on the client's last success.
    for (let run = 0; run < 3; run++) {
      await runLoad({ endpoints: [gc.endpoint], clientes: 4, duracionS: 1, isbns: ['M-1'], timeoutMs: 1000, retries: 1, carga: { tipo: 'mezcla', pesos: parseMix('prestamo=50,devolucion=25,renovacion=25') } });
      await eventually(() => `every copy free after mixed run ${run} (${gc.disponibles('M-1')} of 4)`, () => gc.disponibles('M-1') === 4, 2000);
    }
  });

  it('REQ transport past zeromq\'s default limit of 1023 sockets: 1100 clients, each answered', async () => {
    const gc = await FakeGc.start({ libros: Object.fromEntries(ISBNS.map((i) => [i, 2000])), retardoAsyncMs: 5 });
    defer(() => gc.stop());
    const r = await runLoad({ endpoints: [gc.endpoint], clientes: 1100, duracionS: 1, isbns: ISBNS, transporte: 'req', timeoutMs: 10_000, retries: 1 });
    // Every client sends at least its first préstamo, and every request was answered.
    expect(r.sinRespuesta).toBe(0);
    expect(r.respuestas).toBeGreaterThanOrEqual(1100);
    expect(r.porGc[gc.endpoint]).toBe(r.respuestas);
  });

  it('only a missing reply counts as "sin respuesta": any other error stops the run at once and says why', async () => {
    let calls = 0;
    const failing = {
      send: async () => {
        calls++;
        throw Object.assign(new Error('Too many open file descriptors'), { code: 'EMFILE' });
      },
      close: () => undefined,
    };
    const t0 = Date.now();
    await expect(runLoad({ gc: failing, clientes: 3, duracionS: 5 })).rejects.toThrow(/^la carga se detuvo: Too many open file descriptors \(demasiados sockets o ficheros abiertos/);
    // No spinning until the deadline: each client sent once and stopped.
    expect(calls).toBeLessThanOrEqual(3);
    expect(Date.now() - t0).toBeLessThan(2500);
    // A missing reply is counted and the run goes on.
    let n = 0;
    const mute = {
      send: async () => {
        n++;
        await new Promise((r) => setTimeout(r, 20));
        throw new GcNoReplyError('tcp://x:1', 'c', 1, 20, 'prestamo');
      },
      close: () => undefined,
    };
    const r = await runLoad({ gc: mute, clientes: 2, duracionS: 1 });
    expect(r.respuestas).toBe(0);
    expect(r.sinRespuesta).toBe(n);
    expect(n).toBeGreaterThan(4);
  });

  it('runLoad refuses more than 10000 clients', async () => {
    await expect(runLoad({ gc: { send: async () => { throw new Error('no'); }, close: () => undefined }, clientes: 10_001, duracionS: 1 })).rejects.toThrow(/clientes/);
  });
});

describe('ps carga (CLI)', () => {
  it('prints the report table and writes the JSON report', async () => {
    const gc = await fake();
    const dir = mkdtempSync(join(tmpdir(), 'ps-carga-'));
    defer(() => rmSync(dir, { recursive: true, force: true }));
    const json = join(dir, 'r.json');
    const out = sink();
    const err = sink();
    const code = await runCli(['carga', '--clientes', '2', '--duracion', '1', '--isbns', ISBNS.join(','), '--json', json], {
      stdin: Readable.from(['']),
      stdout: out.stream,
      stderr: err.stream,
      env: { GC_ENDPOINT: gc.endpoint },
    });
    expect(code).toBe(0);
    expect(out.text()).toMatch(/operación\s+respuestas\s+resp\/s \(media\)\s+p50 ms\s+p95 ms\s+p99 ms\s+máx ms/);
    expect(out.text()).toMatch(/^prestamo\s+\d+/m);
    expect(out.text()).toMatch(/^total\s+\d+/m);
    expect(out.text()).toMatch(/por código: APROBADO=\d+, ACEPTADO=\d+/);
    const report = JSON.parse(readFileSync(json, 'utf8')) as LoadReport;
    expect(report.config.clientes).toBe(2);
    expectConsistent(report);
    // The per-second series accounts for every request, and the HTML report sits beside the JSON.
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    expect(sum(report.serie.total.n)).toBe(report.respuestas + report.sinRespuesta);
    expect(sum(report.serie.porOperacion.prestamo!.n)).toBe(report.porOperacion.prestamo!.count + report.porOperacion.prestamo!.sinRespuesta);
    const html = join(dir, 'r.html');
    expect(out.text()).toContain(`informe HTML: ${html}`);
    expect(readFileSync(html, 'utf8')).toContain('<script id="vista" type="application/json">');
    expect(err.text()).toBe(''); // not a TTY and shorter than the 5 s progress interval
  });
  it('a GC answering garbage stops a REQ run with a message and exit 1, instead of counting it as no reply', async () => {
    const router = new Router({ linger: 0 });
    const endpoint = `tcp://127.0.0.1:${await freePort()}`;
    await router.bind(endpoint);
    defer(() => router.close());
    void (async () => {
      try {
        for (;;) {
          const [id, , ...rest] = await router.receive();
          void rest;
          await router.send([id!, Buffer.alloc(0), 'basura']);
        }
      } catch {
        /* closed */
      }
    })();
    const out = sink();
    const err = sink();
    const t0 = Date.now();
    const code = await runCli(['carga', '--clientes', '2', '--duracion', '10', '--transporte', 'req', '--no-html'], { stdin: Readable.from(['']), stdout: out.stream, stderr: err.stream, env: { GC_ENDPOINT: endpoint } });
    expect(code).toBe(1);
    expect(err.text()).toMatch(/^la carga se detuvo: Respuesta ilegible del GC \(tcp:\/\/127\.0\.0\.1:\d+\)/m);
    expect(out.text()).toBe(''); // no report of a run that was not one
    expect(Date.now() - t0).toBeLessThan(5000); // not the 10 s asked for
  });

  it('refuses more than 10000 clients and a --mezcla part that is not name=number (exit 2), before any run', async () => {
    const gc = await fake();
    for (const argv of [
      ['carga', '--clientes', '10001', '--duracion', '1'],
      ['carga', '--clientes', '2000000000', '--duracion', '1'],
      ['carga', '--duracion', '1', '--mezcla', 'prestamo=,devolucion=5'],
      ['carga', '--duracion', '1', '--mezcla', 'prestamo=50=7'],
    ]) {
      const err = sink();
      let started = 0;
      const code = await runCli(argv, { stdin: Readable.from(['']), stdout: new PassThrough(), stderr: err.stream, env: { GC_ENDPOINT: gc.endpoint }, beforeLoad: () => void started++ });
      expect(code, argv.join(' ')).toBe(2);
      expect(started).toBe(0);
      expect(err.text(), argv.join(' ')).toMatch(/entero entre 1 y 10000|Mezcla no válida/);
    }
    expect(gc.recibidas).toEqual([]);
  });

  it('--transporte req: refuses more clients than the open-file limit holds (exit 2), before any socket', async () => {
    const gc = await fake();
    // This host's bound: its limit (about 6 descriptors per client), at most MAX_CLIENTES.
    const max = maxClientesReq();
    expect(max).toBeGreaterThan(0);
    expect(max).toBeLessThanOrEqual(MAX_CLIENTES);
    const err = sink();
    let started = 0;
    const code = await runCli(['carga', '--transporte', 'req', '--clientes', String(max + 1), '--duracion', '1'], { stdin: Readable.from(['']), stdout: new PassThrough(), stderr: err.stream, env: { GC_ENDPOINT: gc.endpoint }, beforeLoad: () => void started++ });
    expect(code).toBe(2);
    expect(started).toBe(0);
    expect(err.text()).toMatch(max === MAX_CLIENTES ? /entero entre 1 y 10000/ : new RegExp(`--transporte req: caben como mucho ${max} clientes con el límite de ficheros abiertos`));
    expect(gc.recibidas).toEqual([]);
  });

  it('Ctrl-C stops the run early: loans in flight are returned, the report covers what ran, exit 130', async () => {
    const gc = await fake();
    const out = sink();
    const err = sink();
    let interrupt: (() => void) | undefined;
    let ended = false;
    const run = runCli(['carga', '--clientes', '4', '--duracion', '600', '--isbns', ISBNS.join(','), '--no-html'], {
      stdin: Readable.from(['']),
      stdout: out.stream,
      stderr: err.stream,
      env: { GC_ENDPOINT: gc.endpoint },
      onInterrupt(cb) {
        interrupt = cb;
        return () => (interrupt = undefined);
      },
    }).finally(() => (ended = true));
    let code: number;
    try {
      await eventually('the run under way (a copy on loan)', () => interrupt && (gc.disponibles(ISBNS[0]!) ?? 1000) < 1000, 10_000);
      interrupt!();
      code = await run;
    } finally {
      // Also when the wait above fails: a --duracion 600 run must not outlive the test. Its Ctrl-C
      // handler is registered before the run starts (or the CLI ended without a run).
      if (!ended) {
        await eventually('the run to take Ctrl-C or end', () => ended || interrupt !== undefined, 10_000);
        interrupt?.();
        await run;
      }
    }
    expect(code).toBe(130);
    expect(err.text()).toMatch(/interrumpida/);
    expect(out.text()).toMatch(/^total\s+\d+/m);
    // Returns are async (ACEPTADO first): wait for the fake GC to apply them.
    await eventually('every copy back', () => ISBNS.every((i) => gc.disponibles(i) === 1000), 3000).catch(() => undefined);
    for (const i of ISBNS) expect(gc.disponibles(i)).toBe(1000);
  });
});
