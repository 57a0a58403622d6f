/**
 * The actor's DEALER to the GC while the GC is away, over real ZeroMQ sockets with a
 * scripted GC (a ROUTER on the backend port, an XPUB on the task port): heartbeats
 * must not pile up to be replayed when it comes back, and a result must not be lost
 * to an outage longer than a send timeout would allow. Counts are asserted, not times.
 */
import { describe, expect, it } from 'vitest';
import { Router, XPublisher } from 'zeromq';
import { freePorts } from '../harness/ports.js';
import { startActor, type ActorHandle } from '../../actores/actor.js';
import { ACTOR_VARS, readConfig } from '../../common/config.js';
import type { StorageClient } from '../../common/storage-client.js';
import type { OperacionSolicitada, Resultado } from '../../common/protocol/ps-gc.js';
import { eventually } from '../harness/eventually.js';
import { cleanupAfterEach, testLog as log } from '../harness/fixtures.js';

const defer = cleanupAfterEach();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** aplicar answers after `delayMs`; the rest is unused by an actor. */
function storage(delayMs = 0): StorageClient {
  return {
    async aplicar(op: OperacionSolicitada): Promise<Resultado> {
      await sleep(delayMs);
      return { id: op.id, operacion: op.operacion, estado: 'COMPLETADA', exito: true, codigo: 'APROBADO', mensaje: 'ok', datos: {}, fechaOperacion: new Date().toISOString() };
    },
    status: () => [],
    async close() {},
  } as unknown as StorageClient;
}

async function endpoints() {
  const [p, b] = await freePorts(2);
  return { pub: `tcp://127.0.0.1:${p}`, back: `tcp://127.0.0.1:${b}` };
}

async function actor(ep: { pub: string; back: string }, st: StorageClient, heartbeatMs: number): Promise<ActorHandle> {
  const cfg = readConfig(ACTOR_VARS, { ACTOR_HEARTBEAT_MS: String(heartbeatMs), ACTOR_DEAD_MS: '1000', GC_PUB_ENDPOINT: ep.pub, GC_BACKEND_ENDPOINT: ep.back });
  const a = await startActor({ ...cfg, ACTOR_TIPOS: ['prestamo'], ACTOR_ID: 'a1' }, log, { storage: st });
  defer(() => a.kill());
  return a;
}

/** The GC's backend: a ROUTER bound on `endpoint` (retried: the port may be just released). */
async function backend(endpoint: string): Promise<Router> {
  for (let i = 0; ; i++) {
    const r = new Router({ linger: 0 });
    try {
      await r.bind(endpoint);
      defer(() => r.close());
      return r;
    } catch (err) {
      r.close();
      if (i > 40) throw err;
      await sleep(50);
    }
  }
}

type Msg = { t: string; resultado?: Resultado };
/** Messages of a batch not handed out yet, per router. */
const backlog = new WeakMap<Router, Msg[]>();
/** The next actor message: frames may be batches (what the actor had queued at once). */
async function nextMessage(r: Router): Promise<Msg> {
  const q = backlog.get(r) ?? [];
  backlog.set(r, q);
  if (q.length > 0) return q.shift()!;
  const frames = await r.receive();
  const obj = JSON.parse(frames[frames.length - 1]!.toString()) as Msg | Msg[];
  const list = Array.isArray(obj) ? obj : [obj];
  q.push(...list.slice(1));
  return list[0]!;
}

describe('actor → GC messages while the GC is away', () => {
  it('heartbeats do not pile up: at most one waits, and none are replayed in a burst', async () => {
    const ep = await endpoints();
    const HB = 20;
    const a = await actor(ep, storage(), HB);
    // No GC for ~80 heartbeat periods.
    await sleep(80 * HB);
    expect(a.status().salida.enCola).toBeLessThanOrEqual(1); // hola is being handed over; one latido waits
    expect(a.status().salida.descartados).toBe(0);

    const r = await backend(ep.back);
    r.receiveTimeout = 5000;
    expect((await nextMessage(r)).t).toBe('hola'); // kept, and first
    // What comes right after the GC is back: the one waiting latido, then fresh ones at
    // the heartbeat rate — not the ~80 of the outage at once.
    // (The heartbeats come from timers in this process, so a slow machine sends fewer, never more.)
    let latidos = 0;
    for (const end = Date.now() + 150; Date.now() < end; ) if ((await nextMessage(r)).t === 'latido') latidos++;
    expect(latidos).toBeGreaterThanOrEqual(1);
    expect(latidos).toBeLessThan(30);
  });

  it('a result produced while the GC is away for longer than 2 s reaches it when it is back', async () => {
    const ep = await endpoints();
    const xpub = new XPublisher({ linger: 0 });
    defer(() => xpub.close());
    await xpub.bind(ep.pub);
    let r = await backend(ep.back);
    const a = await actor(ep, storage(300), 50);
    r.receiveTimeout = 5000;
    expect((await nextMessage(r)).t).toBe('hola');
    const [sub] = await xpub.receive(); // the actor's subscription: publishing now reaches it
    expect(sub!.subarray(1).toString()).toBe(a.topics[0]!);

    r.close(); // the GC goes away...
    await xpub.send([a.topics[0]!, JSON.stringify({ operacion: 'prestamo', isbn: '978-1', usuario: 'u1', id: 'op-away', intento: 1 })]);
    await eventually('the task applied', () => a.status().completadas === 1, 5000);
    await sleep(2500); // ...for longer than the old 2 s send timeout

    r = await backend(ep.back); // ...and comes back
    r.receiveTimeout = 5000;
    let got: Resultado | undefined;
    for (let i = 0; i < 500 && !got; i++) {
      const m = await nextMessage(r);
      if (m.t === 'resultado') got = m.resultado;
    }
    expect(got).toMatchObject({ id: 'op-away', codigo: 'APROBADO' });
    expect(a.status().salida.descartados).toBe(0);
  });
  it('a GC releasing a backlog at once: every quick result reaches it, none dropped from the outbox', async () => {
    const ep = await endpoints();
    const xpub = new XPublisher({ linger: 0, sendHighWaterMark: 0 });
    defer(() => xpub.close());
    await xpub.bind(ep.pub);
    const r = await backend(ep.back);
    // Answers in a microtask: completions cascade without a macrotask turn between them.
    const instant = { async aplicar(op: OperacionSolicitada): Promise<Resultado> { return { id: op.id, operacion: op.operacion, estado: 'COMPLETADA', exito: true, codigo: 'APROBADO', mensaje: 'ok', datos: {}, fechaOperacion: new Date().toISOString() }; }, status: () => [], async close() {} } as unknown as StorageClient;
    const a = await actor(ep, instant, 50);
    r.receiveTimeout = 10_000;
    expect((await nextMessage(r)).t).toBe('hola');
    await xpub.receive(); // subscribed
    const N = 30_000;
    for (let i = 0; i < N; i += 64) {
      const batch = Array.from({ length: Math.min(64, N - i) }, (_, k) => ({ operacion: 'prestamo', isbn: '978-1', usuario: `u${i + k}`, id: `rafaga-${i + k}`, intento: 1 }));
      await xpub.send([a.topics[0]!, JSON.stringify(batch)]);
    }
    let results = 0;
    // Every one of the N, however long it takes: the deadline is only a hang guard (a lost result would
    // otherwise keep this loop waiting forever), far beyond the few seconds it takes on a slow host. How
    // fast they come is `npm run bench`'s business. Heartbeats keep coming, so a lost result shows as a
    // count short at the guard, not a receive timeout; one dropped from the outbox ends the wait at once.
    const HANG_GUARD_MS = 90_000;
    const t0 = Date.now();
    for (const end = t0 + HANG_GUARD_MS; results < N && Date.now() < end && a.status().salida.descartados === 0; ) {
      if ((await nextMessage(r)).t === 'resultado') results++;
    }
    console.info(`[send-queue-actor-outage] ${results} of ${N} results in ${Date.now() - t0} ms`);
    expect(a.status().salida.descartados).toBe(0);
    expect(results).toBe(N);
  }, 120_000);
});
