/**
 * The abuse campaign's storm at a socket that answers nothing (the GC backend), against a
 * real ROUTER that reads late: `send()` only queues, so the campaign must keep its sockets
 * open until the server has read everything it queued (scripts/abuso/tcp-queues.ts) before
 * it closes them (linger 0 drops what is still queued), and say whether that happened.
 * Closing right after the loop lost a quarter of a full run's backend messages.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { Router } from 'zeromq';
import { attackZmq, emptyFigures, type Attack } from '../../scripts/abuso/campaign.js';
import type { Context } from '../../scripts/abuso/generators.js';
import { MAX_ACTOR_FRAME } from '../../gestor_carga/actor-backend.js';
import { cleanupAfterEach } from '../harness/fixtures.js';
import { eventually } from '../harness/eventually.js';
import { freePort } from '../harness/ports.js';

const ctx: Context = {
  isbns: ['978-9-77-000001-0', '978-9-77-000002-0'],
  actors: [{ tipo: 'prestamo', actorId: 'prestamo-1' }],
  psReplays: [],
  opReplays: [{ operacion: 'prestamo', isbn: '978-9-77-000001-0', usuario: 'abuso-a', id: 'abuso-setup-1' }],
  forgedWrites: false,
  limits: { psRequestBytes: 16 * 1024, psTransportBytes: 4 * 1024 * 1024, actorFrameBytes: MAX_ACTOR_FRAME, gaTransportBytes: 4 * 1024 * 1024, subscriptionBytes: 4096 },
};

describe('abuse campaign: delivery at a socket that answers nothing', () => {
  const defer = cleanupAfterEach();

  it('every message queued reaches a server that reads late before the sockets close, and the report says so', async () => {
    const endpoint = `tcp://127.0.0.1:${await freePort('127.0.0.1')}`;
    // Like the GC's backend: its frame limit (the over-limit messages go on connections of their own and are dropped).
    const server = new Router({ maxMessageSize: MAX_ACTOR_FRAME, linger: 0 });
    await server.bind(endpoint);
    defer(() => server.close());
    let received = 0;
    let reading = false;
    const startReading = sleep(2500).then(() => (reading = true));
    void (async () => {
      await startReading; // busy elsewhere: the storm queues up on the campaign's side meanwhile
      try {
        for await (const _ of server) received++;
      } catch {
        /* closed */
      }
    })();

    const f = emptyFigures();
    const a: Attack = { o: { semilla: 20261207 }, span: { desde: 0, hasta: 6000 }, ctx, stop: new AbortController().signal, vaciadoMs: 20_000 };
    await attackZmq('backend', endpoint, a, f);
    expect(reading).toBe(true); // the sockets stayed open until the server read

    // What went over the campaign's four DEALERs (not the over-limit throwaways, not raw TCP:
    // a few of those carry a whole NULL handshake, and what follows it may make a message or two).
    const raw = f.porTipo['zmtp-garbage'] ?? 0;
    const viaDealers = f.enviados - raw - (f.porTipo['over-size-limit'] ?? 0) - f.noEntregados;
    expect(viaDealers).toBeGreaterThan(5800);
    expect(f.leidoPorElServidor).toBe(true);
    expect(f.bytesSinLeer).toBe(0);
    await eventually(() => `all ${viaDealers} messages at the server (got ${received})`, () => received >= viaDealers, 5000);
    await sleep(200);
    expect(received).toBeLessThanOrEqual(viaDealers + 2 * raw);
  }, 60_000);

  it('a server that never reads: the wait is bounded and the report says the messages may not have arrived', async () => {
    const endpoint = `tcp://127.0.0.1:${await freePort('127.0.0.1')}`;
    const server = new Router({ maxMessageSize: MAX_ACTOR_FRAME, linger: 0, receiveHighWaterMark: 10 });
    await server.bind(endpoint);
    defer(() => server.close());

    const f = emptyFigures();
    const a: Attack = { o: { semilla: 20261207 }, span: { desde: 0, hasta: 3000 }, ctx, stop: new AbortController().signal, vaciadoMs: 1500 };
    const t0 = Date.now();
    await attackZmq('backend', endpoint, a, f);
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect(f.leidoPorElServidor).toBe(false);
    expect(f.bytesSinLeer).toBeGreaterThan(0);
    expect(f.esperaVaciadoMs).toBeGreaterThanOrEqual(1500);
  }, 60_000);
});
