/**
 * CURVE on the GC's actor-facing sockets, with the real GC, real actors and real
 * ZeroMQ peers: an actor with an allowed key works; an actor or subscriber with
 * an unknown key, or with no CURVE at all, gets no task and changes nothing in
 * the GC, and every refused handshake is counted (metric) and logged.
 */
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { Dealer, Request, Subscriber } from 'zeromq';
import { freePorts } from '../harness/ports.js';
import { stubStorage } from '../harness/stub-storage.js';
import { startGc } from '../../gestor_carga/gc.js';
import { startActor } from '../../actores/actor.js';
import { ACTOR_VARS, GC_VARS, readConfig } from '../../common/config.js';
import { newCurveKeyPair } from '../../common/curve-keys.js';
import { SocketSecurity } from '../../common/socket-security.js';
import type { Respuesta } from '../../common/protocol/ps-gc.js';
import { eventually } from '../harness/eventually.js';
import { RELAXED_GC_TIMING, cleanupAfterEach } from '../harness/fixtures.js';

const defer = cleanupAfterEach();

/** Counts what a raw subscriber receives, until closed. */
function countReceived(sub: Subscriber): { n: number } {
  const c = { n: 0 };
  void (async () => {
    try {
      for await (const _ of sub) c.n++;
    } catch {
      /* closed */
    }
  })();
  return c;
}

describe('CURVE on the GC PUB and backend', () => {
  it('serves the allowed actor; unknown keys and plain peers get nothing, change nothing, and are counted', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const log = pino({ level: 'warn' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
    const [gcKey, actorKey, intruderKey] = [newCurveKeyPair(), newCurveKeyPair(), newCurveKeyPair()];
    const [f, p, b] = await freePorts(3);
    const ep = { front: `tcp://127.0.0.1:${f}`, pub: `tcp://127.0.0.1:${p}`, back: `tcp://127.0.0.1:${b}` };
    const timing = RELAXED_GC_TIMING;
    const serverKeys = new Map([[ep.pub, gcKey.publicKey], [ep.back, gcKey.publicKey]]);

    const registry = new Registry();
    const gcSecurity = await new SocketSecurity({ secretKey: gcKey.secretKey, clients: { 'gc-pub': [actorKey.publicKey], 'gc-backend': [actorKey.publicKey] }, log, registry }).start();
    defer(() => gcSecurity.close());
    const st = stubStorage();
    const gc = await startGc(readConfig(GC_VARS, { ...timing, GC_FRONTEND_BIND: ep.front, GC_PUB_BIND: ep.pub, GC_BACKEND_BIND: ep.back }), log, { storage: st, registry, security: gcSecurity });
    defer(() => gc.close());

    const actorCfg = readConfig(ACTOR_VARS, { ...timing, GC_PUB_ENDPOINT: ep.pub, GC_BACKEND_ENDPOINT: ep.back });
    const real = await startActor({ ...actorCfg, ACTOR_TIPOS: ['prestamo'], ACTOR_ID: 'real-1' }, log, { storage: st, security: new SocketSecurity({ secretKey: actorKey.secretKey, serverKeys }) });
    defer(() => real.kill());
    await eventually('the allowed actor live', () => gc.status().actoresVivos.prestamo === 1, 10_000);

    // An actor with a key of its own (and the GC's real public key), one with no CURVE at all,
    // and raw subscribers on every topic and on the real actor's topic.
    const intruder = await startActor({ ...actorCfg, ACTOR_TIPOS: ['prestamo'], ACTOR_ID: 'intruso' }, log, { storage: st, security: new SocketSecurity({ secretKey: intruderKey.secretKey, serverKeys }) });
    defer(() => intruder.kill());
    const plain = await startActor({ ...actorCfg, ACTOR_TIPOS: ['prestamo'], ACTOR_ID: 'sin-curve' }, log, { storage: st });
    defer(() => plain.kill());
    const spies = [intruderKey, undefined].flatMap((k) =>
      ['', real.topics[0]!].map((topic) => {
        const s = new Subscriber({ linger: 0, ...(k ? { curveSecretKey: k.secretKey, curvePublicKey: k.publicKey, curveServerKey: gcKey.publicKey } : {}) });
        s.connect(ep.pub);
        s.subscribe(topic);
        defer(() => s.close());
        return countReceived(s);
      }),
    );
    const forger = new Dealer({ linger: 0 });
    forger.connect(ep.back);
    defer(() => forger.close());
    await forger.send(JSON.stringify({ t: 'hola', actorId: 'falso', tipo: 'prestamo', pid: 1 }));

    await eventually('refused handshakes on both sockets', () => (gcSecurity.refused()['gc-pub'] ?? 0) >= 2 && (gcSecurity.refused()['gc-backend'] ?? 0) >= 1, 10_000);

    // The system works through the allowed actor; nobody else sees a task.
    const N = 20;
    const req = new Request({ linger: 0, receiveTimeout: 20_000 });
    defer(() => req.close());
    req.connect(ep.front);
    for (let i = 0; i < N; i++) {
      await req.send(JSON.stringify({ operacion: 'prestamo', isbn: '978-1', usuario: `u${i}`, clave: `curve-gc-${i}` }));
      const [reply] = await req.receive();
      expect(JSON.parse(reply!.toString()) as Respuesta).toMatchObject({ exito: true, codigo: 'APROBADO' });
    }
    expect(real.status().completadas).toBe(N);
    expect(intruder.status().gcs[0]!.tareas).toBe(0);
    expect(plain.status().gcs[0]!.tareas).toBe(0);
    expect(spies.map((s) => s.n)).toEqual([0, 0, 0, 0]);
    expect(gc.status().actores.map((a) => a.actorId)).toEqual(['real-1']);
    expect(gc.status().actoresVivos).toEqual({ prestamo: 1, devolucion: 0, renovacion: 0 });

    // Counted and logged with the key that was refused.
    const metrics = await registry.getSingleMetricAsString('zmq_curve_refused_total');
    const count = (socket: string) => Number(new RegExp(`socket="${socket}"} (\\d+)`).exec(metrics)?.[1] ?? 0);
    expect(count('gc-pub')).toBe(gcSecurity.refused()['gc-pub']);
    expect(count('gc-backend')).toBeGreaterThanOrEqual(1);
    const refusals = lines.filter((l) => l.msg === 'CURVE handshake refused: client key not allowed on this socket');
    expect(refusals.some((l) => l.clientKey === intruderKey.publicKey && l.socket === 'gc-backend')).toBe(true);
    expect(refusals.some((l) => l.clientKey === actorKey.publicKey)).toBe(false);
  }, 60_000);
});
