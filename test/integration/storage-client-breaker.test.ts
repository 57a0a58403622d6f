/**
 * Storage client circuit breakers and socket recreation: open after N consecutive
 * failures, skipped while open, half-open after the reset time, closed on success;
 * a GA restarted on the same port is used again.
 */
import { describe, expect, it } from 'vitest';
import { StorageRequestError, StorageUnavailableError } from '../../common/errors.js';
import type { OperacionSolicitada } from '../../common/protocol/ps-gc.js';
import { captureLogger, clientConfig, type FakeGaBehaviour } from '../harness/fake-ga.js';
import { storageClientRig } from '../harness/storage-client-rig.js';
import { eventually } from '../harness/eventually.js';

const { ga, client } = storageClientRig();

const op = (id: string): OperacionSolicitada => ({ operacion: 'renovacion', isbn: '978-3', usuario: 'u3', id });

describe('breaker lifecycle', () => {
  it('opens after N consecutive failures, fails fast while open, and a background ping closes it once the GA recovers', async () => {
    let aBehaviour: FakeGaBehaviour = { kind: 'fail', codigo: 'ALMACENAMIENTO_NO_DISPONIBLE', mensaje: 'pg caído' };
    const a = await ga(() => aBehaviour);
    const cap = captureLogger();
    const c = client(clientConfig([a.endpoint], { GA_MAX_ATTEMPTS: 1, GA_BREAKER_FAILURES: 3, GA_BREAKER_RESET_MS: 400 }), { log: cap.log });

    for (let i = 1; i <= 2; i++) {
      await expect(c.aplicar(op(`bk-${i}`))).rejects.toBeInstanceOf(StorageUnavailableError);
      expect(c.status()[0]).toMatchObject({ disyuntor: 'closed', fallosSeguidos: i });
    }
    await expect(c.aplicar(op('bk-3'))).rejects.toBeInstanceOf(StorageUnavailableError);
    expect(c.status()[0]).toMatchObject({ disyuntor: 'open', fallosSeguidos: 3, ultimoError: expect.stringContaining('pg caído') });
    expect(cap.lines.some((l) => l.msg === 'GA breaker open' && l.endpoint === a.endpoint && l.level === 40)).toBe(true);
    // Lazy Pirate: the open breaker discarded the endpoint's socket.
    expect(cap.lines.some((l) => l.msg === 'GA socket recycled' && l.endpoint === a.endpoint)).toBe(true);

    // While open: a call fails at once without being sent; in the background a ping checks the
    // endpoint (every breaker is open: at most one per GA_TIMEOUT_MS), still refused here.
    const t0 = Date.now();
    await expect(c.aplicar(op('bk-4'))).rejects.toThrow(/breaker open/);
    expect(Date.now() - t0).toBeLessThan(500);
    expect(a.count('aplicar')).toBe(3);
    await eventually('the background ping', () => a.count('ping') >= 1, 2000);
    // Refused, so it closed nothing (past the reset time the breaker may be half-open by now).
    expect(c.status()[0]!.disyuntor).not.toBe('closed');

    // A recovers; after the reset time the breaker half-opens and the trial is a background ping, not a user's call.
    aBehaviour = { kind: 'ok' };
    await eventually('condition', () => c.status()[0]!.disyuntor === 'closed', 5000);
    expect(cap.messages()).toContain('GA breaker half-open: probing it with a ping');
    expect(cap.messages()).toContain('GA breaker closed');
    // No user call went there while it was open: only pings (the background one, then the half-open trials).
    expect(a.received.slice(0, 3).map((r) => r.orden)).toEqual(['aplicar', 'aplicar', 'aplicar']);
    expect(a.received.slice(3).map((r) => r.orden)).toEqual(a.received.slice(3).map(() => 'ping'));
    expect(a.count('ping')).toBeGreaterThanOrEqual(2);
    expect(c.status()[0]).toMatchObject({ disyuntor: 'closed', fallosSeguidos: 0 });
    expect((await c.aplicar(op('bk-5'))).id).toBe('bk-5');
  });

  it('a dead endpoint is no user\'s first try once another GA answered, and its recovery does not move calls back', async () => {
    let aBehaviour: FakeGaBehaviour = { kind: 'fail', codigo: 'ALMACENAMIENTO_NO_DISPONIBLE' };
    const a = await ga(() => aBehaviour);
    const b = await ga();
    const c = client(clientConfig([a.endpoint, b.endpoint], { GA_BREAKER_FAILURES: 1, GA_BREAKER_RESET_MS: 200 }));
    await c.aplicar(op('sd-0'));
    expect(c.status()).toMatchObject([{ disyuntor: 'open', preferido: false }, { preferido: true }]);
    for (let i = 1; i <= 5; i++) await c.aplicar(op(`sd-${i}`));
    aBehaviour = { kind: 'ok' };
    await eventually('condition', () => c.status()[0]!.disyuntor === 'closed', 5000);
    for (let i = 6; i <= 8; i++) await c.aplicar(op(`sd-${i}`));
    // A saw sd-0 and pings only; B served every call.
    expect(a.received.filter((r) => r.orden !== 'ping').map((r) => ('op' in r ? r.op.id : r.orden))).toEqual(['sd-0']);
    expect(b.count()).toBe(9);
  });

  it('a failed half-open probe re-opens the breaker, and the next half-open probes again; no user call goes there', async () => {
    const a = await ga({ kind: 'fail', codigo: 'ALMACENAMIENTO_NO_DISPONIBLE' });
    const c = client(clientConfig([a.endpoint], { GA_MAX_ATTEMPTS: 1, GA_BREAKER_FAILURES: 2, GA_BREAKER_RESET_MS: 200 }));
    await expect(c.aplicar(op('ho-1'))).rejects.toBeInstanceOf(StorageUnavailableError);
    await expect(c.aplicar(op('ho-2'))).rejects.toBeInstanceOf(StorageUnavailableError);
    expect(c.status()[0]!.disyuntor).toBe('open');
    // Two probes (each failure re-opens the breaker for another reset period).
    await eventually('condition', () => a.count() >= 4, 3000);
    expect(a.received.slice(2).every((r) => r.orden === 'ping')).toBe(true);
    expect(c.status()[0]!.disyuntor).not.toBe('closed');
    await expect(c.aplicar(op('ho-3'))).rejects.toThrow(/breaker open/);
    expect(a.received.filter((r) => r.orden !== 'ping')).toHaveLength(2);
  });

  it('the probe holds the half-open trial: concurrent user calls never wait on the recovering endpoint', async () => {
    let aOk = false;
    const a = await ga(() => (aOk ? { kind: 'ok', delayMs: 50 } : { kind: 'fail', codigo: 'ALMACENAMIENTO_NO_DISPONIBLE' }));
    const b = await ga();
    const c = client(clientConfig([a.endpoint, b.endpoint], { GA_BREAKER_FAILURES: 1, GA_BREAKER_RESET_MS: 300 }));
    await c.aplicar(op('hc-0'));
    expect(c.status()[0]!.disyuntor).toBe('open');
    aOk = true;
    await eventually('condition', () => c.status()[0]!.disyuntor === 'half-open', 5000);
    const rs = await Promise.all(Array.from({ length: 20 }, (_, i) => c.aplicar(op(`hc-${i + 1}`))));
    expect(rs).toHaveLength(20);
    await eventually('condition', () => c.status()[0]!.disyuntor === 'closed', 5000);
    // Only hc-0 and the ping ever reached A.
    expect(a.received.map((r) => r.orden)).toEqual(['aplicar', 'ping']);
    expect(b.count()).toBe(21);
  });
});

describe('an open breaker on the only GA that can serve', () => {
  it('the passive GA saying GA_NO_ACTIVO makes the client ping the open endpoint now: it answers, its breaker closes, the call completes there', async () => {
    // A: the active GA, silent for its first three requests (a one-second hiccup), fine after.
    const a = await ga((_req, n) => (n <= 3 ? { kind: 'silent' } : { kind: 'ok' }));
    // B: a live passive GA.
    const b = await ga({ kind: 'fail', codigo: 'GA_NO_ACTIVO', mensaje: 'GA pasivo: el GA activo es el par' });
    const cap = captureLogger();
    // A reset time no test waits for: only the early re-check can close A's breaker.
    const c = client(clientConfig([a.endpoint, b.endpoint], { GA_TIMEOUT_MS: 200, GA_BREAKER_FAILURES: 3, GA_BREAKER_RESET_MS: 600_000, GA_MAX_ATTEMPTS: 16 }), { log: cap.log });

    const r = await c.aplicar(op('hipo-1'));
    expect(r.exito).toBe(true);
    expect(a.received.map((q) => q.orden)).toEqual(['aplicar', 'aplicar', 'aplicar', 'ping', 'aplicar']);
    expect(cap.messages()).toContain('GA breaker open');
    expect(cap.messages()).toContain('GA answered a ping while no other GA serves: breaker closed before its reset time');
    expect(c.status()[0]).toMatchObject({ disyuntor: 'closed', fallosSeguidos: 0 });
  });

  it('the storage host died under the active GA on the other host: the dead GA\'s timeout makes the client ping the live one, whose breaker its ALMACENAMIENTO_NO_DISPONIBLE replies opened', async () => {
    // B: the active GA, which lost its PostgreSQL (three quick ALMACENAMIENTO_NO_DISPONIBLE) and then
    // took over with its own (fine after); it takes over only once a request reaches it.
    const b = await ga((_req, n) => (n <= 3 ? { kind: 'fail', codigo: 'ALMACENAMIENTO_NO_DISPONIBLE', mensaje: 'PostgreSQL caído' } : { kind: 'ok' }));
    // A: the dead storage host's GA.
    const a = await ga({ kind: 'silent' });
    const cap = captureLogger();
    const c = client(clientConfig([b.endpoint, a.endpoint], { GA_TIMEOUT_MS: 150, GA_BREAKER_FAILURES: 3, GA_BREAKER_RESET_MS: 600_000, GA_MAX_ATTEMPTS: 16 }), { log: cap.log });

    const r = await c.aplicar(op('host-1'));
    expect(r.exito).toBe(true);
    expect(b.received.map((q) => q.orden)).toEqual(['aplicar', 'aplicar', 'aplicar', 'ping', 'aplicar']);
    expect(cap.messages()).toContain('GA answered a ping while no other GA serves: breaker closed before its reset time');
    expect(c.status()[0]).toMatchObject({ disyuntor: 'closed', fallosSeguidos: 0 });
    expect(c.status()[1]).toMatchObject({ disyuntor: 'open' });
  });

  it('a still-dead endpoint stays open: the ping changes nothing and the call ends unavailable', async () => {
    const a = await ga({ kind: 'silent' });
    const b = await ga({ kind: 'fail', codigo: 'GA_NO_ACTIVO', mensaje: 'GA pasivo' });
    const cap = captureLogger();
    const c = client(clientConfig([a.endpoint, b.endpoint], { GA_TIMEOUT_MS: 100, GA_BREAKER_FAILURES: 2, GA_BREAKER_RESET_MS: 600_000, GA_MAX_ATTEMPTS: 6 }), { log: cap.log });

    await expect(c.aplicar(op('hipo-2'))).rejects.toBeInstanceOf(StorageUnavailableError);
    expect(c.status()[0]).toMatchObject({ disyuntor: 'open' });
    expect(a.received.filter((q) => q.orden === 'ping').length).toBeGreaterThan(0);
    expect(cap.messages()).not.toContain('GA answered a ping while no other GA serves: breaker closed before its reset time');
  });
});

describe('GA restart on the same port', () => {
  it('after the breaker opened on a dead GA, a fresh socket reaches the restarted GA', async () => {
    const a = await ga();
    const cap = captureLogger();
    const c = client(clientConfig([a.endpoint], { GA_TIMEOUT_MS: 200, GA_MAX_ATTEMPTS: 1, GA_BREAKER_FAILURES: 2, GA_BREAKER_RESET_MS: 300 }), { log: cap.log });
    expect((await c.aplicar(op('rs-1'))).id).toBe('rs-1');

    await a.stop();
    for (let i = 0; i < 2; i++) await expect(c.aplicar(op(`rs-down-${i}`))).rejects.toBeInstanceOf(StorageUnavailableError);
    expect(c.status()[0]!.disyuntor).toBe('open');
    expect(cap.lines.some((l) => l.msg === 'GA socket recycled')).toBe(true);
    // Fails fast while open, without touching the network.
    const err = await c.aplicar(op('rs-open')).catch((e: unknown) => e);
    expect((err as Error).message).toContain('breaker open');

    await a.start();
    // The background probe finds it back: no user request pays for the trial.
    await eventually('condition', () => c.status()[0]!.disyuntor === 'closed', 5000);
    expect(a.received.at(-1)).toMatchObject({ orden: 'ping' });
    expect((await c.aplicar(op('rs-2'))).id).toBe('rs-2');
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
    expect(c.status()[0]!.disyuntor).toBe('closed');
  });
});

describe('a busy active GA (ocupado: a locked row, a full write queue)', () => {
  it('is no breaker failure: the client tries the same GA again after its backoff, never opens its breaker nor recycles its socket, and other calls in flight there complete', async () => {
    const BUSY = 5;
    let busyLeft = BUSY;
    const a = await ga((req) =>
      'op' in req && req.op.id === 'ocupada' && busyLeft-- > 0
        ? { kind: 'fail', codigo: 'ALMACENAMIENTO_NO_DISPONIBLE', ocupado: true, mensaje: 'El libro está bloqueado' }
        : { kind: 'ok', delayMs: 'op' in req && req.op.id.startsWith('otra') ? 150 : 0 },
    );
    const b = await ga({ kind: 'fail', codigo: 'GA_NO_ACTIVO' });
    const cap = captureLogger();
    const c = client(clientConfig([a.endpoint, b.endpoint], { GA_MAX_ATTEMPTS: 16, GA_BREAKER_FAILURES: 3, GA_BREAKER_RESET_MS: 5000 }), { log: cap.log });
    const others = [1, 2, 3].map((i) => c.aplicar(op(`otra-${i}`)));
    expect((await c.aplicar(op('ocupada'))).id).toBe('ocupada');
    expect((await Promise.all(others)).map((r) => r.id)).toEqual(['otra-1', 'otra-2', 'otra-3']);
    expect(a.count('aplicar')).toBe(BUSY + 1 + 3);
    // Busy: the same (active) GA again, not a round over the passive one.
    expect(b.count('aplicar')).toBe(0);
    expect(c.status()[0]).toMatchObject({ disyuntor: 'closed', fallosSeguidos: 0 });
    expect(cap.messages()).not.toContain('GA breaker open');
    expect(cap.messages()).not.toContain('GA socket recycled');
    expect(cap.messages()).toContain('GA busy; trying it again after a backoff');
  });
});

describe('outcome unknown', () => {
  it('an internal error after an attempt that may have committed says "outcome unknown", not a plain failure', async () => {
    const a = await ga((_req, n) => (n === 1 ? { kind: 'silent' } : { kind: 'fail', codigo: 'ERROR_INTERNO', mensaje: 'deadlock' }));
    const c = client(clientConfig([a.endpoint], { GA_MAX_ATTEMPTS: 3, GA_TIMEOUT_MS: 200 }));
    const err = await c.aplicar(op('quizas')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageUnavailableError);
    expect((err as StorageUnavailableError).outcomeUnknown).toBe(true);
    expect((err as Error).message).toMatch(/ERROR_INTERNO.*outcome unknown/);
    // Without an earlier unanswered attempt the same reply is a plain failure.
    const b = await ga({ kind: 'fail', codigo: 'ERROR_INTERNO', mensaje: 'deadlock' });
    const c2 = client(clientConfig([b.endpoint], { GA_MAX_ATTEMPTS: 3 }));
    const err2 = await c2.aplicar(op('no')).catch((e: unknown) => e);
    expect(err2).toBeInstanceOf(StorageRequestError);
  });
});
