/**
 * Storage client against one healthy fake GA: throughput and correlation,
 * unwrapping, request errors, late replies, close(), metrics.
 */
import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { StorageRequestError, StorageUnavailableError } from '../../common/errors.js';
import type { OperacionSolicitada } from '../../common/protocol/ps-gc.js';
import { captureLogger, clientConfig } from '../harness/fake-ga.js';
import { storageClientRig } from '../harness/storage-client-rig.js';

const { ga, client } = storageClientRig();

const op = (id: string): OperacionSolicitada => ({ operacion: 'prestamo', isbn: '978-1', usuario: 'u1', id });

describe('happy path', () => {
  it('500 concurrent calls on one socket each get their own reply', async () => {
    // Random delays make replies come back out of order: only ref correlation can match them.
    const g = await ga(() => ({ kind: 'ok', delayMs: Math.floor(Math.random() * 20) }));
    const c = client(clientConfig([g.endpoint]));
    const ids = Array.from({ length: 500 }, (_, i) => `op-${i}`);
    const results = await Promise.all(ids.map((id) => c.aplicar(op(id))));
    expect(results.map((r) => r.id)).toEqual(ids);
    expect(g.count('aplicar')).toBe(500);
    expect(new Set(g.received.map((r) => r.ref)).size).toBe(500);
    expect(c.status()).toEqual([{ endpoint: g.endpoint, preferido: true, disyuntor: 'closed', fallosSeguidos: 0 }]);
  });

  it('convenience methods build the GaCall and unwrap resultado / pendientes', async () => {
    const pend = [{ op: op('p-1'), registrada: '2024-01-01T00:00:00Z', intentos: 1 }];
    const g = await ga((req) => (req.orden === 'pendientes' ? { kind: 'ok', resultado: null, pendientes: pend } : { kind: 'ok' }));
    const c = client(clientConfig([g.endpoint]));
    expect((await c.registrar({ ...op('r-1'), sede: 'Centro' })).id).toBe('r-1');
    expect((await c.consultar('978-1')).mensaje).toBe('fake consultar');
    expect((await c.estado('e-1')).id).toBe('e-1');
    expect(await c.pendientes(10)).toEqual(pend);
    expect(g.received.map((r) => r.orden)).toEqual(['registrar', 'consultar', 'estado', 'pendientes']);
    expect(g.received[0]).toMatchObject({ orden: 'registrar', op: { id: 'r-1', sede: 'Centro' } });
    expect(g.received[3]).toMatchObject({ orden: 'pendientes', limite: 10 });
  });

  it('extra fields on the op are not sent (the GA schema is strict)', async () => {
    const g = await ga();
    const c = client(clientConfig([g.endpoint]));
    await c.aplicar({ ...op('x-1'), extra: 1 } as OperacionSolicitada);
    expect(g.received[0]).toMatchObject({ op: { id: 'x-1' } });
    expect('extra' in (g.received[0] as { op: object }).op).toBe(false);
  });
});

describe('fencing token', () => {
  it('writes carry the newest history a write was acknowledged on; a stale stamp never lowers it', async () => {
    const S = '7312345678901234567';
    const stamps = [{ sistema: S, timeline: 1 }, { sistema: S, timeline: 2 }, { sistema: S, timeline: 1 }];
    let writes = 0;
    const g = await ga((req) => (req.orden === 'aplicar' || req.orden === 'registrar' ? { kind: 'ok', fencing: stamps[writes++] } : { kind: 'ok' }));
    const cap = captureLogger();
    const c = client(clientConfig([g.endpoint]), { log: cap.log });
    await c.aplicar(op('f1'));
    await c.registrar(op('f2'));
    await c.consultar('978-1');
    await c.aplicar(op('f3'));
    await c.aplicar(op('f4'));
    const sent = g.received.map((r) => (r.orden === 'aplicar' || r.orden === 'registrar' ? (r.fencing ?? null) : 'none'));
    expect(sent).toEqual([null, { sistema: S, timeline: 1 }, 'none', { sistema: S, timeline: 2 }, { sistema: S, timeline: 2 }]);
    expect(c.fencing()).toEqual({ sistema: S, timeline: 2 });
    expect(cap.lines.filter((l) => l.msg === 'GA writes fenced at a new PostgreSQL history').map((l) => l.timeline)).toEqual([1, 2]);
  });
});

describe('request errors', () => {
  it('an ok reply without resultado is a StorageRequestError', async () => {
    const g = await ga({ kind: 'ok', resultado: null });
    const c = client(clientConfig([g.endpoint]));
    await expect(c.aplicar(op('n-1'))).rejects.toBeInstanceOf(StorageRequestError);
  });

  it.each(['SOLICITUD_INVALIDA', 'ERROR_INTERNO'] as const)('%s is thrown at once, without retry or rotation', async (codigo) => {
    const a = await ga({ kind: 'fail', codigo, mensaje: 'nope' });
    const b = await ga();
    const c = client(clientConfig([a.endpoint, b.endpoint]));
    const err = await c.aplicar(op('bad-1')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StorageRequestError);
    expect(String((err as Error).message)).toContain(codigo);
    expect(a.count()).toBe(1);
    expect(b.count()).toBe(0);
    // A live GA saying "bad request" is not an endpoint failure.
    expect(c.status()[0]!.fallosSeguidos).toBe(0);
  });
});

describe('late replies', () => {
  it('a reply after its attempt timed out is dropped and does not resolve the retry', async () => {
    // Attempt 1 is answered at 400 ms (after its 250 ms timeout, while attempt 2 waits);
    // attempt 2 is answered at +150 ms.
    const g = await ga((_req, n) => ({ kind: 'ok', delayMs: n === 1 ? 400 : 150 }));
    const cap = captureLogger();
    const c = client(clientConfig([g.endpoint], { GA_TIMEOUT_MS: 250, GA_BREAKER_FAILURES: 5 }), { log: cap.log });
    const r = await c.aplicar(op('late-1'));
    expect(g.count()).toBe(2);
    const [first, second] = g.received;
    expect(first!.ref).not.toBe(second!.ref);
    expect(r.datos.ref).toBe(second!.ref);
    // Wait until the late reply has surely arrived, then check it was dropped, not misdelivered.
    await new Promise((res) => setTimeout(res, 200));
    expect(cap.lines.some((l) => l.msg === 'GA reply for unknown or expired ref dropped' && l.ref === first!.ref)).toBe(true);
  });
});

describe('close()', () => {
  it('rejects every pending call at once and leaves no timer running; a write the GA got stays outcome-unknown', async () => {
    const g = await ga({ kind: 'silent' });
    const before = process.getActiveResourcesInfo().filter((x) => x === 'Timeout').length;
    const c = client(clientConfig([g.endpoint], { GA_TIMEOUT_MS: 30_000 }));
    const calls = Array.from({ length: 50 }, (_, i) => c.aplicar(op(`c-${i}`)).then(() => 'resolved', (e: unknown) => e));
    while (g.count() < 50) await new Promise((res) => setTimeout(res, 5));
    const t0 = Date.now();
    await c.close();
    const outcomes = await Promise.all(calls);
    expect(Date.now() - t0).toBeLessThan(1000);
    for (const o of outcomes) expect(o).toBeInstanceOf(StorageUnavailableError);
    // The GA has every one of them: "closed" must not read as "not applied, retry under a new key".
    for (const o of outcomes) expect((o as StorageUnavailableError).outcomeUnknown).toBe(true);
    await expect(c.consultar('978-1')).rejects.toBeInstanceOf(StorageUnavailableError);
    const after = process.getActiveResourcesInfo().filter((x) => x === 'Timeout').length;
    expect(after).toBeLessThanOrEqual(before);
  });

  it('interrupts a call waiting in backoff between rounds', async () => {
    const g = await ga({ kind: 'fail', codigo: 'GA_NO_ACTIVO' });
    const c = client(clientConfig([g.endpoint], { GA_MAX_ATTEMPTS: 100 }));
    const p = c.aplicar(op('b-1')).catch((e: unknown) => e);
    while (g.count() < 2) await new Promise((res) => setTimeout(res, 5));
    await c.close();
    // Closed in its backoff, or during an attempt (then possibly applied: outcome unknown).
    expect(await p).toBeInstanceOf(StorageUnavailableError);
  });
});

describe('metrics', () => {
  it('exports calls, breaker state, rotations and latency when given a Registry', async () => {
    const a = await ga({ kind: 'fail', codigo: 'GA_NO_ACTIVO' });
    const b = await ga();
    const registry = new Registry();
    const c = client(clientConfig([a.endpoint, b.endpoint]), { registry });
    await c.aplicar(op('m-1'));
    const text = await registry.metrics();
    expect(text).toContain(`ga_client_calls_total{endpoint="${b.endpoint}",outcome="ok"} 1`);
    expect(text).toContain(`ga_client_calls_total{endpoint="${a.endpoint}",outcome="no_activo"} 1`);
    expect(text).toContain(`ga_client_rotations_total{endpoint="${a.endpoint}",reason="no_activo"} 1`);
    expect(text).toContain(`ga_client_breaker_state{endpoint="${a.endpoint}"} 0`);
    expect(text).toContain('ga_client_call_duration_seconds_count{cmd="aplicar",outcome="ok"} 1');
    // A second client on the same Registry reuses the metrics instead of throwing.
    client(clientConfig([b.endpoint]), { registry });
  });
});
