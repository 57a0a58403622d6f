/**
 * The real GC, a real actor and real ZeroMQ peers flooding the GC's backend (and
 * XPUB) with messages from made-up actor ids and with garbage. What must hold
 * afterwards: the registry is bounded, the flood's warnings are throttled, the real
 * actor is still live, and a PS request is still answered. Sizes and counts are
 * asserted, not times (2 shared cores).
 */
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { Dealer, Request, Subscriber } from 'zeromq';
import { freePorts } from '../harness/ports.js';
import { startGc, type GcHandle } from '../../gestor_carga/gc.js';
import { MAX_UNSUBSCRIBED_ACTORS } from '../../gestor_carga/actor-registry.js';
import { startActor } from '../../actores/actor.js';
import { ACTOR_VARS, GC_VARS, readConfig } from '../../common/config.js';
import { OPERACIONES_ACTOR, type Respuesta } from '../../common/protocol/ps-gc.js';
import { eventually } from '../harness/eventually.js';
import { stubStorage } from '../harness/stub-storage.js';
import { RELAXED_GC_TIMING, cleanupAfterEach } from '../harness/fixtures.js';

const defer = cleanupAfterEach();

describe('GC backend under a flood from unknown actors', () => {
  it('stays bounded, throttles its warnings and keeps serving', async () => {
    const lines: string[] = [];
    const log = pino({ level: 'warn' }, { write: (s: string) => void lines.push(s) });
    const warnings = (msg: string) => lines.filter((l) => (JSON.parse(l) as { msg: string }).msg === msg).length;

    const [f, p, b] = await freePorts(3);
    const ep = { front: `tcp://127.0.0.1:${f}`, pub: `tcp://127.0.0.1:${p}`, back: `tcp://127.0.0.1:${b}` };
    // Default liveness (1 s dead, so made-up ids were kept ≥ 10 s before): the regime of the report.
    const timing = { ...RELAXED_GC_TIMING, GC_TASK_DEADLINE_MS: '3000' };
    const st = stubStorage();
    const g: GcHandle = await startGc(readConfig(GC_VARS, { ...timing, GC_FRONTEND_BIND: ep.front, GC_PUB_BIND: ep.pub, GC_BACKEND_BIND: ep.back }), log, { storage: st });
    defer(() => g.close());
    const actorCfg = readConfig(ACTOR_VARS, { ...timing, GC_PUB_ENDPOINT: ep.pub, GC_BACKEND_ENDPOINT: ep.back });
    const real = await startActor({ ...actorCfg, ACTOR_TIPOS: ['prestamo'], ACTOR_ID: 'real-1' }, log, { storage: st });
    defer(() => real.kill());
    await eventually('the real actor live', () => g.status().actoresVivos.prestamo === 1, 10_000);

    // Subscriptions to topics that are not actor topics (each one used to log a warning),
    // from several SUBs: past ~1000 a SUB silently drops its own subscription messages.
    // An actor-topic marker after each SUB's batch tells when the GC has read it (it waits,
    // as a subscription of an actor never heard, apart from the registry's entries).
    const known = (id: string) => g.status().actores.some((a) => a.actorId === id);
    const SUBS = 3;
    const PER_SUB = 500;
    const BAD_SUBS = SUBS * PER_SUB;
    for (let k = 0; k < SUBS; k++) {
      const sub = new Subscriber({ linger: 0 });
      defer(() => sub.close());
      sub.connect(ep.pub);
      for (let i = 0; i < PER_SUB; i++) sub.subscribe(i % 2 ? `junk.${k}.${i}` : `consulta.x${k}-${i}`);
      sub.subscribe(`prestamo.sub-marker-${k}|`);
      await eventually(`subscriptions of SUB ${k}`, () => g.status().registroActores.suscripcionesSinActor === k + 1, 30_000);
    }

    // hola / latido / resultado from made-up ids, interleaved with malformed frames.
    const IDS = 3 * MAX_UNSUBSCRIBED_ACTORS;
    const BAD_FRAMES = 1500;
    const flood = new Dealer({ linger: 0 });
    defer(() => flood.close());
    flood.connect(ep.back);
    const bad = ['', 'nope', '{"t":"hola"}', '[1,2]', JSON.stringify({ t: 'latido', actorId: '../x', tipo: 'prestamo', enCurso: 0 })];
    for (let i = 0; i < IDS; i++) {
      const tipo = OPERACIONES_ACTOR[i % OPERACIONES_ACTOR.length]!;
      const actorId = `rnd-${i}-${Math.random().toString(36).slice(2, 10)}`;
      const m =
        i % 3 === 0
          ? { t: 'hola', actorId, tipo, pid: i }
          : i % 3 === 1
            ? { t: 'latido', actorId, tipo, enCurso: 0 }
            : { t: 'resultado', actorId, tipo, resultado: { id: `op-${i}`, exito: true, codigo: 'APROBADO', mensaje: 'x', datos: {}, fechaOperacion: new Date().toISOString() } };
      await flood.send(JSON.stringify(m));
      if (i % 2 === 0 && i / 2 < BAD_FRAMES) await flood.send(bad[i % bad.length]!);
    }
    // Last on the same pipe (ordered): once the GC knows it, it has handled the whole flood.
    // Repeated, so it is never forgotten as silent while we wait.
    for (const end = Date.now() + 60_000; !known('marker'); await new Promise((r) => setTimeout(r, 100))) {
      if (Date.now() > end) throw new Error('timed out waiting for the GC to read the whole flood');
      await flood.send(JSON.stringify({ t: 'latido', actorId: 'marker', tipo: 'devolucion', enCurso: 0 }));
    }

    // Bounded: the capped kind holds at most the cap; beside it only subscribed entries.
    const actores = g.status().actores;
    expect(actores.filter((a) => !a.suscrito).length).toBeLessThanOrEqual(MAX_UNSUBSCRIBED_ACTORS);
    expect(actores.length).toBeLessThanOrEqual(MAX_UNSUBSCRIBED_ACTORS + 1); // + real-1
    expect(g.status().registroActores.suscripcionesSinActor).toBe(SUBS); // the sub-markers
    expect(actores.find((a) => a.actorId === 'real-1')).toMatchObject({ vivo: true, suscrito: true });
    expect(g.status().actoresVivos).toEqual({ prestamo: 1, devolucion: 0, renovacion: 0 });

    // Throttled: first 20, then every 1000th — not one line per message.
    expect(warnings('malformed actor message ignored')).toBeGreaterThan(0);
    expect(warnings('malformed actor message ignored')).toBeLessThanOrEqual(20 + Math.floor(BAD_FRAMES / 1000));
    expect(warnings('subscription to a non-actor topic ignored')).toBeGreaterThan(0);
    expect(warnings('subscription to a non-actor topic ignored')).toBeLessThanOrEqual(20 + Math.floor(BAD_SUBS / 1000));
    const evictions = warnings('too many actors that are not subscribed: least recently heard forgotten');
    expect(evictions).toBeGreaterThan(0);
    expect(evictions).toBeLessThanOrEqual(20 + Math.floor(IDS / 1000));

    // Still serving a PS, through the real actor.
    const req = new Request({ linger: 0, receiveTimeout: 20_000 });
    defer(() => req.close());
    req.connect(ep.front);
    await req.send(JSON.stringify({ operacion: 'prestamo', isbn: '978-1', usuario: 'after-flood', id: 'after-flood-1' }));
    const [reply] = await req.receive();
    expect(JSON.parse(reply!.toString()) as Respuesta).toMatchObject({ exito: true, codigo: 'APROBADO', id: 'after-flood-1' });
    expect(real.status().completadas).toBe(1);
  }, 90_000);
});
