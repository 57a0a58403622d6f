import { afterEach, describe, expect, it } from 'vitest';
import { GcClient } from '../solicitante/gc-client.js';
import { GcPipelineClient } from '../solicitante/gc-pipeline.js';
import { GcNoReplyError } from '../solicitante/errors.js';
import { FakeGc } from './harness/fake-gc.js';
import { freePort } from './harness/ports.js';

const ISBN = '978-84-376-0494-7';
const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function fake(opts: Parameters<typeof FakeGc.start>[0] = {}) {
  const gc = await FakeGc.start(opts);
  cleanup.push(() => gc.stop());
  return gc;
}

describe('GcClient (REQ, Lazy Pirate)', () => {
  it('sends a request with a PS-made id and returns the reply', async () => {
    const gc = await fake();
    const c = new GcClient({ endpoints: [gc.endpoint], timeoutMs: 1000, retries: 2, sede: 'Central' });
    cleanup.push(() => c.close());
    const r = await c.send({ operacion: 'prestamo', isbn: ISBN, usuario: 'u1' });
    expect(r.codigo).toBe('APROBADO');
    expect(r.exito).toBe(true);
    expect(typeof r.datos.fechaDevolucion).toBe('string');
    const sent = gc.recibidas[0] as Record<string, string>;
    expect(sent.id).toMatch(/^ps-[0-9a-f]+-1$/);
    expect(sent.sede).toBe('Central');
    expect(r.id).toBe(sent.id);
  });

  it('retries a dropped request with the SAME id, and the GC applies it once', async () => {
    const gc = await fake({ descartarPrimeras: 1 });
    const reintentos: number[] = [];
    const c = new GcClient({ endpoints: [gc.endpoint], timeoutMs: 200, retries: 3, onRetry: (i) => reintentos.push(i.attempt) });
    cleanup.push(() => c.close());
    const r = await c.send({ operacion: 'prestamo', isbn: ISBN, usuario: 'u2' });
    expect(r.codigo).toBe('APROBADO');
    expect(reintentos).toEqual([2]);
    const ids = gc.recibidas.map((m) => (m as { id: string }).id);
    expect(ids).toHaveLength(2);
    expect(ids[0]).toBe(ids[1]);
    expect(gc.aplicaciones.get(ids[0]!)).toBe(1);
    // The recreated socket keeps working for the next request.
    const r2 = await c.send({ operacion: 'renovacion', isbn: ISBN, usuario: 'u2' });
    expect(r2.codigo).toBe('APROBADO');
  });

  it('fails with a typed error after 1 + PS_RETRIES attempts when the GC is dead', async () => {
    const port = await freePort();
    const c = new GcClient({ endpoints: [`tcp://127.0.0.1:${port}`], timeoutMs: 150, retries: 2 });
    cleanup.push(() => c.close());
    const t0 = Date.now();
    const err = await c.send({ operacion: 'consulta', isbn: ISBN }).catch((e: unknown) => e);
    const elapsed = Date.now() - t0;
    expect(err).toBeInstanceOf(GcNoReplyError);
    expect((err as GcNoReplyError).attempts).toBe(3);
    expect(elapsed).toBeGreaterThanOrEqual(3 * 150 - 20);
    expect(elapsed).toBeLessThan(3 * 150 + 1000);
  });

  it('serialises concurrent calls on one REQ socket', async () => {
    const gc = await fake({ libros: { [ISBN]: 10 } });
    const c = new GcClient({ endpoints: [gc.endpoint], timeoutMs: 1000, retries: 1 });
    cleanup.push(() => c.close());
    const rs = await Promise.all([1, 2, 3, 4].map((i) => c.send({ operacion: 'prestamo', isbn: ISBN, usuario: `c${i}` })));
    expect(rs.map((r) => r.codigo)).toEqual(['APROBADO', 'APROBADO', 'APROBADO', 'APROBADO']);
  });
});

describe('GcPipelineClient (DEALER)', () => {
  it('correlates many in-flight replies by id', async () => {
    const gc = await fake({ libros: { [ISBN]: 100 }, retardoMs: 20 });
    const c = new GcPipelineClient({ endpoints: [gc.endpoint], timeoutMs: 1000, retries: 1 });
    cleanup.push(() => c.close());
    const rs = await Promise.all(Array.from({ length: 50 }, (_, i) => c.send({ operacion: 'prestamo', isbn: ISBN, usuario: `p${i}` })));
    for (const [i, r] of rs.entries()) {
      expect(r.codigo).toBe('APROBADO');
      expect(r.datos.usuario).toBe(`p${i}`);
    }
    expect(gc.disponibles(ISBN)).toBe(50);
  });

  it('resends a lost request with the same id and fails typed when nobody answers', async () => {
    const gc = await fake({ descartarPrimeras: 1 });
    const c = new GcPipelineClient({ endpoints: [gc.endpoint], timeoutMs: 200, retries: 2 });
    cleanup.push(() => c.close());
    const r = await c.send({ operacion: 'prestamo', isbn: ISBN, usuario: 'd1' });
    expect(r.codigo).toBe('APROBADO');
    const ids = gc.recibidas.map((m) => (m as { id: string }).id);
    expect(new Set(ids).size).toBe(1);
    expect(ids.length).toBe(2);

    const port = await freePort();
    const dead = new GcPipelineClient({ endpoints: [`tcp://127.0.0.1:${port}`], timeoutMs: 100, retries: 1 });
    cleanup.push(() => dead.close());
    await expect(dead.send({ operacion: 'consulta', isbn: ISBN })).rejects.toBeInstanceOf(GcNoReplyError);
  });
});
