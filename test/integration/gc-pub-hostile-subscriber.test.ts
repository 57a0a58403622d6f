/**
 * A peer on the GC's PUB port (no CURVE: anyone who reaches it) that subscribes to
 * every topic and never reads, keeping its connection alive with its own ZMTP
 * heartbeats. The GC keeps at most PUB_SEND_HWM messages for it, however long the
 * load lasts (it used to keep every task published), while the real actor gets all
 * of its work.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Dealer, XSubscriber } from 'zeromq';
import { freePorts } from '../harness/ports.js';
import { startGc } from '../../gestor_carga/gc.js';
import { PUB_SEND_HWM } from '../../gestor_carga/gc-sockets.js';
import { startActor } from '../../actores/actor.js';
import { ACTOR_VARS, GC_VARS, readConfig } from '../../common/config.js';
import { stubStorage } from '../harness/stub-storage.js';
import { eventually } from '../harness/eventually.js';
import { FAST_GC_TIMING, cleanupAfterEach, testLog as log } from '../harness/fixtures.js';

const defer = cleanupAfterEach();

describe('GC PUB: a subscriber that never reads', () => {
  it('gets at most PUB_SEND_HWM messages kept for it; the real actor gets every task', async () => {
    const [f, p, b] = await freePorts(3);
    const ep = { front: `tcp://127.0.0.1:${f}`, pub: `tcp://127.0.0.1:${p}`, back: `tcp://127.0.0.1:${b}` };
    const storage = stubStorage();
    const cfg = readConfig(GC_VARS, { ...FAST_GC_TIMING, GC_SYNC_TIMEOUT_MS: '20000', GC_FRONTEND_BIND: ep.front, GC_PUB_BIND: ep.pub, GC_BACKEND_BIND: ep.back });
    const g = await startGc(cfg, log, { storage });
    defer(() => g.close());
    const acfg = readConfig(ACTOR_VARS, { ...FAST_GC_TIMING, GC_PUB_ENDPOINT: ep.pub, GC_BACKEND_ENDPOINT: ep.back });
    const actor = await startActor({ ...acfg, ACTOR_TIPOS: ['prestamo'], ACTOR_ID: 'p1' }, log, { storage });
    defer(() => actor.kill());
    await eventually('live actor', () => g.status().actoresVivos.prestamo >= 1, 5000);

    const HOSTILE_RCVBUF = 64 * 1024;
    const hostile = new XSubscriber({ linger: 0, receiveHighWaterMark: 1, receiveBufferSize: HOSTILE_RCVBUF, heartbeatInterval: 300, heartbeatTimeout: 60_000 });
    defer(() => hostile.close());
    hostile.connect(ep.pub);
    await hostile.send(Buffer.from([1])); // subscribe to everything
    await eventually('the subscription reached the GC', () => g.status().registroActores !== undefined, 1000);
    await new Promise((r) => setTimeout(r, 300));

    const client = new Dealer({ linger: 0 });
    defer(() => client.close());
    client.connect(ep.front);
    // Full batches (64 tasks a message): enough messages to pass the bound twice over. In
    // windows of 900 requests, so that no more replies wait for this one client than a
    // ROUTER keeps for a peer.
    const N = 150_000;
    const WINDOW = 900;
    let replies = 0;
    const reader = (async () => {
      for await (const _m of client) if (++replies >= N) break;
    })();
    for (let i = 0; i < N; i++) {
      await client.send(JSON.stringify({ operacion: 'prestamo', isbn: `978-${i % 1000}`, usuario: `u${i}-${'x'.repeat(40)}`, id: `pub-hwm-${i}` }));
      if (i % WINDOW === WINDOW - 1) await eventually('replies keep up', () => replies > i || undefined, 30_000);
    }
    await reader;
    expect(storage.applied.size).toBe(N);
    const sent = g.status().publicadas.envios;
    // Beyond the bound, what the kernel holds: the GC's send buffer (at most tcp_wmem's maximum)
    // and the hostile's receive buffer, in messages of at least 8 KiB (batches here are mostly
    // full: 64 tasks, ~18 KiB). The run must pass both, or the check below proves nothing.
    const wmemMax = Number(readFileSync('/proc/sys/net/ipv4/tcp_wmem', 'utf8').trim().split(/\s+/)[2]);
    const kernel = Math.ceil((wmemMax + 2 * HOSTILE_RCVBUF) / 8192);
    expect(sent).toBeGreaterThan(PUB_SEND_HWM + kernel);

    let got = 0;
    const drain = (async () => {
      for await (const _m of hostile) got++;
    })();
    await eventually('the hostile subscriber drained', async () => {
      const before = got;
      await new Promise((r) => setTimeout(r, 1000));
      return got === before && got > 0;
    }, 60_000);
    hostile.close();
    await drain.catch(() => undefined);
    expect(got).toBeLessThanOrEqual(PUB_SEND_HWM + kernel);
    expect(got).toBeLessThan(sent);
  }, 180_000);
});
