import { describe, expect, it } from 'vitest';
import { GcClient } from '../../solicitante/gc-client.js';
import { GcPipelineClient } from '../../solicitante/gc-pipeline.js';
import { GcNoReplyError } from '../../solicitante/errors.js';
import { FakeGc } from '../harness/fake-gc.js';
import { freePort } from '../harness/ports.js';
import { eventually } from '../harness/eventually.js';
import { cleanupAfterEach } from '../harness/fixtures.js';

const ISBN = '978-84-376-0494-7';
// Undone newest first after each test, also when it fails; one failing step does not stop the rest.
const defer = cleanupAfterEach();

async function fake(opts: Parameters<typeof FakeGc.start>[0] = {}) {
  const gc = await FakeGc.start(opts);
  defer(() => gc.stop());
  return gc;
}

describe('GcClient (REQ, Lazy Pirate)', () => {
  it('sends a request with a PS-made clave and returns the reply', async () => {
    const gc = await fake();
    const c = new GcClient({ endpoints: [gc.endpoint], timeoutMs: 1000, retries: 2, sede: 'Central' });
    defer(() => c.close());
    const r = await c.send({ operacion: 'prestamo', isbn: ISBN, usuario: 'u1' });
    expect(r.codigo).toBe('APROBADO');
    expect(r.exito).toBe(true);
    expect(typeof r.datos.fechaDevolucion).toBe('string');
    const sent = gc.recibidas[0] as Record<string, string>;
    expect(sent.clave).toMatch(/^ps-[0-9a-f]+-1$/);
    expect(sent.id).toBeUndefined(); // no label of its own: the reply's id is the clave
    expect(sent.sede).toBe('Central');
    expect(r).toMatchObject({ clave: sent.clave, id: sent.clave });
  });

  it('retries a dropped request with the SAME clave, and the GC applies it once', async () => {
    const gc = await fake({ descartarPrimeras: 1 });
    const reintentos: number[] = [];
    // A timeout a stalled host does not reach by itself: only the dropped request is resent.
    const c = new GcClient({ endpoints: [gc.endpoint], timeoutMs: 1000, retries: 3, onRetry: (i) => reintentos.push(i.attempt) });
    defer(() => c.close());
    const r = await c.send({ operacion: 'prestamo', isbn: ISBN, usuario: 'u2' });
    expect(r.codigo).toBe('APROBADO');
    expect(reintentos).toEqual([2]);
    const claves = gc.recibidas.map((m) => (m as { clave: string }).clave);
    expect(claves).toHaveLength(2);
    expect(claves[0]).toMatch(/^ps-/);
    expect(claves[0]).toBe(claves[1]);
    expect(gc.aplicaciones.get(claves[0]!)).toBe(1);
    // The recreated socket keeps working for the next request.
    const r2 = await c.send({ operacion: 'renovacion', isbn: ISBN, usuario: 'u2' });
    expect(r2.codigo).toBe('APROBADO');
  });

  it('fails with a typed error after 1 + PS_RETRIES attempts when the GC is dead', async () => {
    const port = await freePort();
    const c = new GcClient({ endpoints: [`tcp://127.0.0.1:${port}`], timeoutMs: 150, retries: 2 });
    defer(() => c.close());
    const t0 = Date.now();
    const err = await c.send({ operacion: 'consulta', isbn: ISBN }).catch((e: unknown) => e);
    const elapsed = Date.now() - t0;
    expect(err).toBeInstanceOf(GcNoReplyError);
    expect((err as GcNoReplyError).attempts).toBe(3);
    expect(elapsed).toBeGreaterThanOrEqual(3 * 150 - 20);
    expect(elapsed).toBeLessThan(3 * 150 + 3000);
  });

  it('serialises concurrent calls on one REQ socket', async () => {
    const gc = await fake({ libros: { [ISBN]: 10 } });
    const c = new GcClient({ endpoints: [gc.endpoint], timeoutMs: 1000, retries: 1 });
    defer(() => c.close());
    const rs = await Promise.all([1, 2, 3, 4].map((i) => c.send({ operacion: 'prestamo', isbn: ISBN, usuario: `c${i}` })));
    expect(rs.map((r) => r.codigo)).toEqual(['APROBADO', 'APROBADO', 'APROBADO', 'APROBADO']);
  });
});

describe('GcPipelineClient (DEALER)', () => {
  it('correlates many in-flight replies by clave', async () => {
    const gc = await fake({ libros: { [ISBN]: 100 }, retardoMs: 20 });
    const c = new GcPipelineClient({ endpoints: [gc.endpoint], timeoutMs: 1000, retries: 1 });
    defer(() => c.close());
    const rs = await Promise.all(Array.from({ length: 50 }, (_, i) => c.send({ operacion: 'prestamo', isbn: ISBN, usuario: `p${i}` })));
    for (const [i, r] of rs.entries()) {
      expect(r.codigo).toBe('APROBADO');
      expect(r.datos.usuario).toBe(`p${i}`);
    }
    expect(gc.disponibles(ISBN)).toBe(50);
  });

  it('resends a lost request with the same clave and fails typed when nobody answers', async () => {
    const gc = await fake({ descartarPrimeras: 1 });
    const c = new GcPipelineClient({ endpoints: [gc.endpoint], timeoutMs: 1000, retries: 2 });
    defer(() => c.close());
    const r = await c.send({ operacion: 'prestamo', isbn: ISBN, usuario: 'd1' });
    expect(r.codigo).toBe('APROBADO');
    const claves = gc.recibidas.map((m) => (m as { clave: string }).clave);
    expect(claves[0]).toMatch(/^ps-/);
    expect(new Set(claves).size).toBe(1);
    expect(claves.length).toBe(2);

    const port = await freePort();
    const dead = new GcPipelineClient({ endpoints: [`tcp://127.0.0.1:${port}`], timeoutMs: 100, retries: 1 });
    defer(() => dead.close());
    await expect(dead.send({ operacion: 'consulta', isbn: ISBN })).rejects.toBeInstanceOf(GcNoReplyError);
  });

  it('its own GC down at start: every request queued there moves to the next GC together, each sent once', async () => {
    const gc = await fake({ libros: { [ISBN]: 100 } });
    const down = `tcp://127.0.0.1:${await freePort()}`;
    // A timeout no stall reaches: each request is answered on its first attempt or the test fails.
    const c = new GcPipelineClient({ endpoints: [down, gc.endpoint], timeoutMs: 20_000, retries: 0 });
    defer(() => c.close());
    const t0 = Date.now();
    const rs = await Promise.all(Array.from({ length: 20 }, (_, i) => c.send({ operacion: 'prestamo', isbn: ISBN, usuario: `q${i}` })));
    const ms = Date.now() - t0;
    expect(rs.every((r) => r.codigo === 'APROBADO')).toBe(true);
    expect(gc.recibidas).toHaveLength(20);
    // One connect wait (500 ms) for all, not one per queued request in turn (20 × 500 ms = 10 s).
    expect(ms).toBeLessThan(5000);
  });
});

describe('failover between GCs (GC_ENDPOINTS, own sede first)', () => {
  it('REQ: own GC dead → the next one answers, same id; a GC that drops the request → the next, same id', async () => {
    const [deadPort] = [await freePort()];
    const b = await fake();
    const seen: string[] = [];
    const c = new GcClient({ endpoints: [`tcp://127.0.0.1:${deadPort}`, b.endpoint], timeoutMs: 1000, retries: 2, onRetry: (i) => seen.push(i.endpoint) });
    defer(() => c.close());
    const r = await c.request({ operacion: 'prestamo', isbn: ISBN, usuario: 'f1' });
    expect(r).toMatchObject({ endpoint: b.endpoint, respuesta: { codigo: 'APROBADO' } });
    expect(seen).toEqual([b.endpoint]);
    // The dead one cools down: the next request goes straight to the live one.
    expect((await c.request({ operacion: 'consulta', isbn: ISBN })).endpoint).toBe(b.endpoint);
    expect(seen).toEqual([b.endpoint]);

    const lossy = await fake({ descartarPrimeras: 1 });
    const other = await fake();
    const c2 = new GcClient({ endpoints: [lossy.endpoint, other.endpoint], timeoutMs: 1000, retries: 2 });
    defer(() => c2.close());
    const r2 = await c2.request({ operacion: 'prestamo', isbn: ISBN, usuario: 'f2' });
    expect(r2.endpoint).toBe(other.endpoint);
    const sentTo = [...lossy.recibidas, ...other.recibidas].map((m) => (m as { id: string }).id);
    expect(sentTo).toHaveLength(2);
    expect(new Set(sentTo).size).toBe(1);
  });

  it('DEALER: when its own GC goes away, requests in flight there move to the next GC at once (same ids, before the timeout); it returns when that GC is back', async () => {
    const slow = await fake({ libros: { [ISBN]: 100 }, retardoMs: 3000 });
    const b = await fake({ libros: { [ISBN]: 100 } });
    // A timeout far beyond the test's: only the move on disconnect can answer in time.
    const c = new GcPipelineClient({ endpoints: [slow.endpoint, b.endpoint], timeoutMs: 60_000, retries: 0 });
    defer(() => c.close());
    const pending = Array.from({ length: 5 }, (_, i) => c.request({ operacion: 'prestamo', isbn: ISBN, usuario: `mv${i}`, id: `mv-${i}` }));
    await eventually('all five at its own GC', () => slow.recibidas.length === 5, 2000);
    await slow.stop(); // the GC's socket closes: a crash as the PS sees it
    const rs = await Promise.all(pending);
    expect(rs.every((r) => r.endpoint === b.endpoint && r.respuesta.codigo === 'APROBADO')).toBe(true);
    expect(b.recibidas.map((m) => (m as { id: string }).id).sort()).toEqual(['mv-0', 'mv-1', 'mv-2', 'mv-3', 'mv-4']);
    expect((await c.request({ operacion: 'consulta', isbn: ISBN })).endpoint).toBe(b.endpoint);

    // Back on the same address: the PS sticks to its own sede's GC again.
    const back = await FakeGc.start({ libros: { [ISBN]: 100 }, endpoint: slow.endpoint });
    defer(() => back.stop());
    let r: Awaited<ReturnType<GcPipelineClient['request']>> | undefined;
    for (let i = 0; i < 50 && r?.endpoint !== slow.endpoint; i++) {
      r = await c.request({ operacion: 'consulta', isbn: ISBN });
      await new Promise((res) => setTimeout(res, 50));
    }
    expect(r?.endpoint).toBe(slow.endpoint);
  }, 15_000);
});

describe('a GC that hangs without dropping its connection', () => {
  it('pipeline: costs one timeout; no user request goes back to it until it answers a ping, and then they do at once', async () => {
    const hung = await fake({ libros: { [ISBN]: 100 } });
    const b = await fake({ libros: { [ISBN]: 100 } });
    const c = new GcPipelineClient({ endpoints: [hung.endpoint, b.endpoint], timeoutMs: 300, retries: 2 });
    defer(() => c.close());
    const userRequests = () => hung.recibidas.filter((m) => (m as { operacion?: string }).operacion !== 'ping').length;
    const pings = () => hung.recibidas.filter((m) => (m as { operacion?: string }).operacion === 'ping').length;
    expect((await c.request({ operacion: 'consulta', isbn: ISBN })).endpoint).toBe(hung.endpoint);

    hung.pause();
    const first = await c.request({ operacion: 'prestamo', isbn: ISBN, usuario: 'h1', id: 'h-1' });
    expect(first).toMatchObject({ endpoint: b.endpoint, respuesta: { codigo: 'APROBADO' } });
    const sentWhileHung = userRequests();
    // Well past the cooldown (1 s): with time alone the next request would try the hung GC again.
    const until = Date.now() + 2500;
    while (Date.now() < until) {
      expect((await c.request({ operacion: 'consulta', isbn: ISBN })).endpoint).toBe(b.endpoint);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(userRequests()).toBe(sentWhileHung);
    expect(pings()).toBeGreaterThanOrEqual(3);

    hung.resume();
    const t = Date.now();
    await eventually('requests back on the GC that answers again', async () => (await c.request({ operacion: 'consulta', isbn: ISBN })).endpoint === hung.endpoint, 3000);
    expect(Date.now() - t).toBeLessThan(1500);
    // The request that timed out there was applied once, by the GC that answered it.
    expect(b.aplicaciones.get(first.respuesta.clave!) ?? 0).toBe(1);
  }, 15_000);

  it('REQ: costs one timeout; afterwards it is pinged (≤ 300 ms here) instead of trying it with a request, and used again once it answers', async () => {
    const hung = await fake({ libros: { [ISBN]: 100 } });
    const b = await fake({ libros: { [ISBN]: 100 } });
    const c = new GcClient({ endpoints: [hung.endpoint, b.endpoint], timeoutMs: 300, retries: 2 });
    defer(() => c.close());
    const userRequests = () => hung.recibidas.filter((m) => (m as { operacion?: string }).operacion !== 'ping').length;
    const pings = () => hung.recibidas.filter((m) => (m as { operacion?: string }).operacion === 'ping').length;
    expect((await c.request({ operacion: 'consulta', isbn: ISBN })).endpoint).toBe(hung.endpoint);

    hung.pause();
    expect((await c.request({ operacion: 'prestamo', isbn: ISBN, usuario: 'r1', id: 'r-1' })).endpoint).toBe(b.endpoint);
    const sentWhileHung = userRequests();
    let slowest = 0;
    const until = Date.now() + 2500;
    while (Date.now() < until) {
      const t = Date.now();
      expect((await c.request({ operacion: 'consulta', isbn: ISBN })).endpoint).toBe(b.endpoint);
      slowest = Math.max(slowest, Date.now() - t);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(userRequests()).toBe(sentWhileHung);
    expect(pings()).toBeGreaterThanOrEqual(1);
    expect(slowest).toBeLessThan(300 + 250); // a ping's wait at most, never another request timeout

    hung.resume();
    await eventually('requests back on the GC that answers again', async () => (await c.request({ operacion: 'consulta', isbn: ISBN })).endpoint === hung.endpoint, 4000);
  }, 15_000);
});

describe('a "not applied" reply after a resend', () => {
  /** A GC that drops the first copy of each clave (if told) and answers `codigo` to the next, after `delayMs`. */
  async function refusingGc(codigo: string, dropFirst: boolean, delayMs = 0) {
    const { Router } = await import('zeromq');
    const { encode, errorReply } = await import('../../common/protocol/ps-gc.js');
    const port = await freePort();
    const router = new Router({ linger: 0 });
    await router.bind(`tcp://127.0.0.1:${port}`);
    defer(() => router.close());
    const seen = new Map<string, number>();
    void (async () => {
      try {
        for await (const frames of router) {
          const body = JSON.parse(frames[frames.length - 1]!.toString()) as { clave: string; operacion?: string };
          if (body.operacion === 'ping') continue; // a client's check that it answers: not a request
          const n = (seen.get(body.clave) ?? 0) + 1;
          seen.set(body.clave, n);
          if (dropFirst && n === 1) continue;
          const reply =
            codigo === 'APROBADO'
              ? { exito: true, codigo, mensaje: 'ok', datos: {}, fechaOperacion: new Date().toISOString(), id: body.clave, clave: body.clave }
              : { ...errorReply(codigo as 'SIN_ACTORES', undefined, body.clave), clave: body.clave };
          setTimeout(() => void router.send([...frames.slice(0, -1), encode(reply)]).catch(() => undefined), delayMs);
        }
      } catch {
        /* closed */
      }
    })();
    return { endpoint: `tcp://127.0.0.1:${port}`, seen };
  }

  for (const kind of ['REQ', 'pipeline'] as const) {
    const client = (endpoint: string) => (kind === 'REQ' ? new GcClient({ endpoints: [endpoint], timeoutMs: 300, retries: 2 }) : new GcPipelineClient({ endpoints: [endpoint], timeoutMs: 300, retries: 2 }));

    it(`${kind}: SIN_ACTORES / ALMACENAMIENTO_NO_DISPONIBLE to the first send stays; to a resend it becomes TIEMPO_AGOTADO (an earlier copy may still apply)`, async () => {
      for (const codigo of ['SIN_ACTORES', 'ALMACENAMIENTO_NO_DISPONIBLE']) {
        const once = await refusingGc(codigo, false);
        const c1 = client(once.endpoint);
        defer(() => c1.close());
        expect((await c1.send({ operacion: 'prestamo', isbn: ISBN, usuario: 'u1' })).codigo).toBe(codigo);

        const resent = await refusingGc(codigo, true);
        const c2 = client(resent.endpoint);
        defer(() => c2.close());
        const r = await c2.send({ operacion: 'prestamo', isbn: ISBN, usuario: 'u1' });
        expect([...resent.seen.values()]).toEqual([2]);
        expect(r).toMatchObject({ exito: false, codigo: 'TIEMPO_AGOTADO', datos: { codigoRecibido: codigo } });
      }
    });
  }

  it('pipeline: a late "not applied" from the GC it already left is not the answer; the GC it moved to answers', async () => {
    // A answers SIN_ACTORES (at 1.5 s) only after the client gave up on it (1 s) and resent to B, which answers later (1.8 s):
    // half a second of margin on each side for a stalled host.
    const a = await refusingGc('SIN_ACTORES', false, 1500);
    const b = await refusingGc('APROBADO', false, 800);
    const c = new GcPipelineClient({ endpoints: [a.endpoint, b.endpoint], timeoutMs: 1000, retries: 2 });
    defer(() => c.close());
    const r = await c.send({ operacion: 'prestamo', isbn: ISBN, usuario: 'u1' });
    expect([...a.seen.values()]).toEqual([1]);
    expect([...b.seen.values()]).toEqual([1]);
    expect(r.codigo).toBe('APROBADO');
  });
});
