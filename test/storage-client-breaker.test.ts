/**
 * Storage client circuit breakers and socket recreation: open after N consecutive
 * failures, skipped while open, half-open after the reset time, closed on success;
 * a GA restarted on the same port is used again.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { createStorageClient, type StorageClient } from '../common/storage-client.js';
import { StorageUnavailableError } from '../common/errors.js';
import type { OperacionSolicitada } from '../common/protocol.js';
import type { StorageClientConfig } from '../common/config.js';
import { FakeGa, captureLogger, clientConfig, type FakeGaBehaviour } from './harness/fake-ga.js';
import { freePort } from './harness/ports.js';

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const x of open.splice(0).reverse()) await x.close().catch(() => undefined);
});

async function ga(script?: ConstructorParameters<typeof FakeGa>[1]): Promise<FakeGa> {
  const g = await FakeGa.start(await freePort(), script);
  open.push({ close: () => g.stop() });
  return g;
}

function client(cfg: StorageClientConfig, log = captureLogger().log): StorageClient {
  const c = createStorageClient(cfg, log);
  open.push(c);
  return c;
}

const op = (id: string): OperacionSolicitada => ({ operacion: 'renovacion', isbn: '978-3', usuario: 'u3', id });

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(10);
  }
}

describe('breaker lifecycle', () => {
  it('opens after N consecutive failures, is skipped while open, half-opens after the reset time and closes on success', async () => {
    let aBehaviour: FakeGaBehaviour = { kind: 'fail', codigo: 'ALMACENAMIENTO_NO_DISPONIBLE', mensaje: 'pg caído' };
    const a = await ga(() => aBehaviour);
    const b = await ga();
    const cap = captureLogger();
    const c = client(clientConfig([a.endpoint, b.endpoint], { GA_BREAKER_FAILURES: 3, GA_BREAKER_RESET_MS: 400 }), cap.log);

    for (let i = 1; i <= 2; i++) {
      await c.aplicar(op(`bk-${i}`));
      expect(c.status()[0]).toMatchObject({ breaker: 'closed', consecutiveFailures: i });
    }
    await c.aplicar(op('bk-3'));
    expect(c.status()[0]).toMatchObject({ breaker: 'open', consecutiveFailures: 3, lastError: expect.stringContaining('pg caído') });
    expect(cap.lines.some((l) => l.msg === 'GA breaker open' && l.endpoint === a.endpoint && l.level === 40)).toBe(true);
    // Lazy Pirate: the open breaker discarded the endpoint's socket.
    expect(cap.lines.some((l) => l.msg === 'GA socket recycled' && l.endpoint === a.endpoint)).toBe(true);

    // While open: A is not asked at all, B serves.
    for (let i = 4; i <= 8; i++) expect((await c.aplicar(op(`bk-${i}`))).id).toBe(`bk-${i}`);
    expect(a.count()).toBe(3);
    expect(b.count()).toBe(8);

    // A recovers; after the reset time the breaker half-opens and one trial goes through.
    aBehaviour = { kind: 'ok' };
    await until(() => c.status()[0]!.breaker === 'half-open');
    expect(cap.messages()).toContain('GA breaker half-open: one trial call allowed');
    expect((await c.aplicar(op('bk-9'))).id).toBe('bk-9');
    expect(a.count()).toBe(4);
    expect(c.status()[0]).toMatchObject({ breaker: 'closed', consecutiveFailures: 0 });
    expect(cap.messages()).toContain('GA breaker closed');
    // Closed again: the primary serves, the backup is left alone.
    await c.aplicar(op('bk-10'));
    expect(a.count()).toBe(5);
    expect(b.count()).toBe(8);
  });

  it('a failed half-open trial re-opens the breaker', async () => {
    const a = await ga({ kind: 'fail', codigo: 'ALMACENAMIENTO_NO_DISPONIBLE' });
    const b = await ga();
    const c = client(clientConfig([a.endpoint, b.endpoint], { GA_BREAKER_FAILURES: 2, GA_BREAKER_RESET_MS: 300 }));
    await c.aplicar(op('ho-1'));
    await c.aplicar(op('ho-2'));
    expect(c.status()[0]!.breaker).toBe('open');
    await until(() => c.status()[0]!.breaker === 'half-open');
    await c.aplicar(op('ho-3'));
    expect(a.count()).toBe(3);
    expect(c.status()[0]!.breaker).toBe('open');
  });

  it('half-open lets exactly one of many concurrent calls try the endpoint', async () => {
    let aOk = false;
    const a = await ga(() => (aOk ? { kind: 'ok', delayMs: 50 } : { kind: 'fail', codigo: 'ALMACENAMIENTO_NO_DISPONIBLE' }));
    const b = await ga();
    const c = client(clientConfig([a.endpoint, b.endpoint], { GA_BREAKER_FAILURES: 1, GA_BREAKER_RESET_MS: 300 }));
    await c.aplicar(op('hc-0'));
    expect(c.status()[0]!.breaker).toBe('open');
    aOk = true;
    await until(() => c.status()[0]!.breaker === 'half-open');
    const before = a.count();
    const rs = await Promise.all(Array.from({ length: 20 }, (_, i) => c.aplicar(op(`hc-${i + 1}`))));
    expect(rs).toHaveLength(20);
    expect(a.count() - before).toBe(1);
    expect(c.status()[0]!.breaker).toBe('closed');
  });
});

describe('GA restart on the same port', () => {
  it('after the breaker opened on a dead GA, a fresh socket reaches the restarted GA', async () => {
    const a = await ga();
    const cap = captureLogger();
    const c = client(clientConfig([a.endpoint], { GA_TIMEOUT_MS: 200, GA_MAX_ATTEMPTS: 1, GA_BREAKER_FAILURES: 2, GA_BREAKER_RESET_MS: 300 }), cap.log);
    expect((await c.aplicar(op('rs-1'))).id).toBe('rs-1');

    await a.stop();
    for (let i = 0; i < 2; i++) await expect(c.aplicar(op(`rs-down-${i}`))).rejects.toBeInstanceOf(StorageUnavailableError);
    expect(c.status()[0]!.breaker).toBe('open');
    expect(cap.lines.some((l) => l.msg === 'GA socket recycled')).toBe(true);
    // Fails fast while open, without touching the network.
    const err = await c.aplicar(op('rs-open')).catch((e: unknown) => e);
    expect((err as Error).message).toContain('breaker open');

    await a.start();
    await until(() => c.status()[0]!.breaker === 'half-open');
    expect((await c.aplicar(op('rs-2'))).id).toBe('rs-2');
    expect(c.status()[0]!.breaker).toBe('closed');
    expect(a.received.at(-1)).toMatchObject({ op: { id: 'rs-2' } });
  });

  it('a quick restart below the breaker threshold is picked up by reconnection', async () => {
    const a = await ga();
    const c = client(clientConfig([a.endpoint], { GA_TIMEOUT_MS: 300, GA_BREAKER_FAILURES: 50 }));
    await c.aplicar(op('qr-1'));
    await a.stop();
    await a.start();
    // The DEALER reconnects on its own (reconnectInterval ~100 ms); retries cover the gap.
    expect((await c.aplicar(op('qr-2'))).id).toBe('qr-2');
    expect(c.status()[0]!.breaker).toBe('closed');
  });
});
