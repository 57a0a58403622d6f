/**
 * Storage client with several GA endpoints: rotation on timeout, passive backup,
 * dead endpoints, everything down.
 */
import { describe, expect, it } from 'vitest';
import { StorageUnavailableError } from '../../common/errors.js';
import type { OperacionSolicitada } from '../../common/protocol/ps-gc.js';
import type { GaRequest } from '../../common/protocol/internal.js';
import { captureLogger, clientConfig, type FakeGaBehaviour } from '../harness/fake-ga.js';
import { freePort } from '../harness/ports.js';
import { storageClientRig } from '../harness/storage-client-rig.js';

const { ga, client } = storageClientRig();

const op = (id: string): OperacionSolicitada => ({ operacion: 'devolucion', isbn: '978-2', usuario: 'u2', id });
const opIdOf = (r: GaRequest | undefined) => (r && 'op' in r ? r.op.id : undefined);

describe('rotation on timeout', () => {
  it('when the first endpoint never answers, the same op reaches the second and succeeds', async () => {
    const a = await ga({ kind: 'silent' });
    const b = await ga();
    const cap = captureLogger();
    const c = client(clientConfig([a.endpoint, b.endpoint], { GA_TIMEOUT_MS: 200 }), { log: cap.log });
    const t0 = Date.now();
    const r = await c.aplicar(op('rot-1'));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(190);
    expect(r.id).toBe('rot-1');
    expect(opIdOf(a.received[0])).toBe('rot-1');
    expect(opIdOf(b.received[0])).toBe('rot-1');
    expect(a.received[0]!.ref).not.toBe(b.received[0]!.ref);
    expect(c.status()[0]).toMatchObject({ disyuntor: 'closed', fallosSeguidos: 1, ultimoError: expect.stringContaining('no reply within 200 ms') });
    expect(cap.lines.some((l) => l.msg === 'GA attempt failed; rotating to next endpoint' && l.reason === 'timeout' && l.opId === 'rot-1')).toBe(true);
  });
});

describe('passive backup (GA_NO_ACTIVO)', () => {
  it('skips to the next endpoint without counting a breaker failure', async () => {
    const passive = await ga({ kind: 'fail', codigo: 'GA_NO_ACTIVO', mensaje: 'backup pasivo' });
    const active = await ga();
    const c = client(clientConfig([passive.endpoint, active.endpoint], { GA_BREAKER_FAILURES: 2 }));
    for (let i = 0; i < 10; i++) expect((await c.aplicar(op(`na-${i}`))).id).toBe(`na-${i}`);
    // Only the first call asked the passive one: from then on calls start at the GA that answered.
    expect(passive.count()).toBe(1);
    expect(active.count()).toBe(10);
    expect(c.status()).toMatchObject([
      { disyuntor: 'closed', fallosSeguidos: 0, preferido: false },
      { disyuntor: 'closed', preferido: true },
    ]);
  });

  it('sticks to the GA that answered, and moves again when that one turns passive', async () => {
    let aActive = true;
    const a = await ga(() => (aActive ? { kind: 'ok' } : { kind: 'fail', codigo: 'GA_NO_ACTIVO' }));
    const b = await ga(() => (aActive ? { kind: 'fail', codigo: 'GA_NO_ACTIVO' } : { kind: 'ok' }));
    const cap = captureLogger();
    const c = client(clientConfig([a.endpoint, b.endpoint]), { log: cap.log });
    for (let i = 0; i < 3; i++) await c.aplicar(op(`st-a-${i}`));
    expect([a.count(), b.count()]).toEqual([3, 0]);
    aActive = false; // a handover: B active, A passive
    for (let i = 0; i < 5; i++) await c.aplicar(op(`st-b-${i}`));
    expect([a.count(), b.count()]).toEqual([4, 5]);
    expect(cap.lines.some((l) => l.msg === 'GA answered: calls start there from now on' && l.endpoint === b.endpoint)).toBe(true);
    aActive = true; // and back
    for (let i = 0; i < 5; i++) await c.aplicar(op(`st-a2-${i}`));
    expect([a.count(), b.count()]).toEqual([9, 6]);
  });

  it('a passive GA that takes over is used from then on', async () => {
    let activo = false;
    const b = await ga(() => (activo ? { kind: 'ok' } : { kind: 'fail', codigo: 'GA_NO_ACTIVO' }));
    const c = client(clientConfig([b.endpoint], { GA_MAX_ATTEMPTS: 20 }));
    setTimeout(() => (activo = true), 300);
    // Backoff between rounds keeps the call alive until the takeover.
    expect((await c.aplicar(op('to-1'))).id).toBe('to-1');
    expect(b.count()).toBeGreaterThan(1);
    expect(new Set(b.received.map(opIdOf))).toEqual(new Set(['to-1']));
  });
});

describe('ALMACENAMIENTO_NO_DISPONIBLE', () => {
  it('counts as a failure and rotates', async () => {
    const a = await ga({ kind: 'fail', codigo: 'ALMACENAMIENTO_NO_DISPONIBLE', mensaje: 'sin PostgreSQL' });
    const b = await ga();
    const c = client(clientConfig([a.endpoint, b.endpoint]));
    expect((await c.aplicar(op('an-1'))).id).toBe('an-1');
    expect(c.status()[0]).toMatchObject({ disyuntor: 'closed', fallosSeguidos: 1, ultimoError: expect.stringContaining('sin PostgreSQL') });
  });

  it("a write whose PostgreSQL connection broke mid-statement (incierta) may have committed: never 'not applied, retry'", async () => {
    const a = await ga({ kind: 'fail', codigo: 'ALMACENAMIENTO_NO_DISPONIBLE', mensaje: 'Connection terminated unexpectedly', incierta: true });
    const c = client(clientConfig([a.endpoint], { GA_TIMEOUT_MS: 500, GA_MAX_ATTEMPTS: 2, GA_BREAKER_FAILURES: 100 }));
    const w = await c.aplicar(op('inc-1')).catch((e: unknown) => e);
    expect(w).toBeInstanceOf(StorageUnavailableError);
    expect((w as StorageUnavailableError).codigo).toBe('TIEMPO_AGOTADO');
    // Without the flag (PostgreSQL refused the connection) the same reply means nothing was done.
    a.script = { kind: 'fail', codigo: 'ALMACENAMIENTO_NO_DISPONIBLE', mensaje: 'connect ECONNREFUSED' };
    const plain = await c.aplicar(op('inc-2')).catch((e: unknown) => e);
    expect((plain as StorageUnavailableError).codigo).toBe('ALMACENAMIENTO_NO_DISPONIBLE');
  });
});

describe('dead endpoint', () => {
  it('nothing listening fails fast thanks to immediate, well before the reply timeout', async () => {
    const dead = `tcp://127.0.0.1:${await freePort()}`;
    const b = await ga();
    const c = client(clientConfig([dead, b.endpoint], { GA_TIMEOUT_MS: 5000 }));
    const t0 = Date.now();
    expect((await c.aplicar(op('dead-1'))).id).toBe('dead-1');
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(c.status()[0]).toMatchObject({ fallosSeguidos: 1, ultimoError: expect.stringContaining('not connected') });
  });

  it('many concurrent calls to a dead endpoint all fail fast together, not one send timeout each', async () => {
    const dead = `tcp://127.0.0.1:${await freePort()}`;
    const b = await ga();
    const c = client(clientConfig([dead, b.endpoint], { GA_TIMEOUT_MS: 5000, GA_BREAKER_FAILURES: 1000 }));
    const t0 = Date.now();
    const rs = await Promise.all(Array.from({ length: 200 }, (_, i) => c.aplicar(op(`dd-${i}`))));
    expect(rs).toHaveLength(200);
    expect(Date.now() - t0).toBeLessThan(1500);
  });
});

describe('everything down', () => {
  it('throws StorageUnavailableError after GA_MAX_ATTEMPTS, in bounded time, naming each endpoint', async () => {
    const dead = `tcp://127.0.0.1:${await freePort()}`;
    const silent = await ga({ kind: 'silent' });
    // High breaker threshold so every attempt really goes out.
    const c = client(clientConfig([dead, silent.endpoint], { GA_TIMEOUT_MS: 200, GA_MAX_ATTEMPTS: 4, GA_BREAKER_FAILURES: 100 }));
    const t0 = Date.now();
    const err = await c.aplicar(op('down-1')).catch((e: unknown) => e);
    const elapsed = Date.now() - t0;
    expect(err).toBeInstanceOf(StorageUnavailableError);
    const msg = (err as Error).message;
    expect(msg).toContain('after 4 attempts');
    expect(msg).toContain(`${dead}: unreachable`);
    expect(msg).toContain(`${silent.endpoint}: timeout`);
    expect(silent.count()).toBe(2);
    expect(new Set(silent.received.map(opIdOf))).toEqual(new Set(['down-1']));
    // 2 rounds × (≤200 ms send wait + 200 ms timeout) + 50 ms backoff, with slack.
    expect(elapsed).toBeLessThan(2000);
    // The silent GA got the write and never answered: it may have committed, so not "retry" but "ask estado".
    expect((err as StorageUnavailableError).outcomeUnknown).toBe(true);
    expect((err as StorageUnavailableError).codigo).toBe('TIEMPO_AGOTADO');
    expect(msg).toContain('outcome unknown');
  });

  it('a write no GA ever received, or a read, is plainly unavailable (retrying is safe)', async () => {
    const dead = `tcp://127.0.0.1:${await freePort()}`;
    const silent = await ga({ kind: 'silent' });
    const deadOnly = client(clientConfig([dead], { GA_TIMEOUT_MS: 200, GA_MAX_ATTEMPTS: 2, GA_BREAKER_FAILURES: 100 }));
    const w = await deadOnly.aplicar(op('never-sent')).catch((e: unknown) => e);
    expect(w).toBeInstanceOf(StorageUnavailableError);
    expect((w as StorageUnavailableError).codigo).toBe('ALMACENAMIENTO_NO_DISPONIBLE');
    const toSilent = client(clientConfig([silent.endpoint], { GA_TIMEOUT_MS: 200, GA_MAX_ATTEMPTS: 2, GA_BREAKER_FAILURES: 100 }));
    const r = await toSilent.consultar('978-1').catch((e: unknown) => e);
    expect(silent.count()).toBe(2);
    expect((r as StorageUnavailableError).codigo).toBe('ALMACENAMIENTO_NO_DISPONIBLE');
    expect((r as StorageUnavailableError).outcomeUnknown).toBe(false);
  });

  it('with every breaker open the call still ends, after bounded backoff, sending no write: only pings, at most one per endpoint per GA_TIMEOUT_MS', async () => {
    const a = await ga({ kind: 'fail', codigo: 'ALMACENAMIENTO_NO_DISPONIBLE' });
    const b = await ga({ kind: 'fail', codigo: 'ALMACENAMIENTO_NO_DISPONIBLE' });
    const c = client(clientConfig([a.endpoint, b.endpoint], { GA_MAX_ATTEMPTS: 4, GA_BREAKER_FAILURES: 2, GA_BREAKER_RESET_MS: 60_000, GA_TIMEOUT_MS: 1000 }));
    await expect(c.aplicar(op('o-1'))).rejects.toBeInstanceOf(StorageUnavailableError);
    expect(c.status().map((s) => s.disyuntor)).toEqual(['open', 'open']);
    const writes = a.count('aplicar') + b.count('aplicar');
    const pings = a.count('ping') + b.count('ping');
    const t0 = Date.now();
    const err = await c.aplicar(op('o-2')).catch((e: unknown) => e);
    const ms = Date.now() - t0;
    expect(err).toBeInstanceOf(StorageUnavailableError);
    expect((err as Error).message).toContain('breaker open');
    expect(a.count('aplicar') + b.count('aplicar')).toBe(writes);
    // Both still refuse (the fake answers pings as it answers writes), so both stay open.
    expect(c.status().map((s) => s.disyuntor)).toEqual(['open', 'open']);
    expect(a.count('ping') + b.count('ping') - pings).toBeLessThanOrEqual(2 * (Math.floor(ms / 1000) + 1));
    expect(ms).toBeLessThan(1500);
  });

  it('GAs that answer pings but fail every call (alive without their PostgreSQL): each ping that closes a breaker in vain doubles the wait before the next', async () => {
    const down = (req: GaRequest): FakeGaBehaviour => (req.orden === 'ping' ? { kind: 'ok' } : { kind: 'fail', codigo: 'ALMACENAMIENTO_NO_DISPONIBLE', mensaje: 'PostgreSQL caído' });
    const a = await ga(down);
    const b = await ga(down);
    const c = client(clientConfig([a.endpoint, b.endpoint], { GA_TIMEOUT_MS: 100, GA_BREAKER_FAILURES: 1, GA_BREAKER_RESET_MS: 600_000, GA_MAX_ATTEMPTS: 4 }));
    const t0 = Date.now();
    for (let i = 0; Date.now() - t0 < 2000; i++) await c.aplicar(op(`vano-${i}`)).catch(() => undefined);
    // Every 100 ms would be ~14-20 pings per GA in 2 s; backing off (100, 100, 200, 400, 800 ms…) allows ~6.
    for (const g of [a, b]) {
      expect(g.count('ping')).toBeGreaterThanOrEqual(2);
      expect(g.count('ping')).toBeLessThanOrEqual(8);
    }
  });

  it('every breaker open, and then a GA can serve again: the next call finds it within about GA_TIMEOUT_MS, not after the reset time', async () => {
    // B: the active GA that lost its PostgreSQL (it refuses everything, pings too, until it has a
    // node again); A: the dead storage host's GA.
    let bDown = true;
    const b = await ga(() => (bDown ? { kind: 'fail', codigo: 'ALMACENAMIENTO_NO_DISPONIBLE', mensaje: 'PostgreSQL caído' } : { kind: 'ok' }));
    const a = await ga({ kind: 'silent' });
    const cap = captureLogger();
    // A reset time no test waits for: only the re-check of open endpoints can close B's breaker.
    // Six rounds: ~1 s of backoff in a call, enough for B to come back within it.
    const c = client(clientConfig([b.endpoint, a.endpoint], { GA_TIMEOUT_MS: 150, GA_BREAKER_FAILURES: 1, GA_BREAKER_RESET_MS: 600_000, GA_MAX_ATTEMPTS: 6 }), { log: cap.log });
    await expect(c.aplicar(op('todo-abierto-1'))).rejects.toBeInstanceOf(StorageUnavailableError);
    expect(c.status().map((s) => s.disyuntor)).toEqual(['open', 'open']);

    setTimeout(() => (bDown = false), 300); // B took over with its own standby
    const r = await c.aplicar(op('todo-abierto-2'));
    expect(r.exito).toBe(true);
    expect(cap.messages()).toContain('GA answered a ping while no other GA serves: breaker closed before its reset time');
    expect(c.status()[0]).toMatchObject({ disyuntor: 'closed' });
    expect(c.status()[1]).toMatchObject({ disyuntor: 'open' });
  });
});
