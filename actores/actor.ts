/**
 * An actor as an in-process component: it receives the tasks published on its own
 * topic, applies them through the storage client and reports each result.
 *
 * It works for every GC in its list (all active at once), with one link per GC:
 *  SUB    ← that GC's XPUB, subscribed to exactly "<tipo>.<actorId>"
 *  DEALER → that GC's backend ROUTER: hola, latido (every ACTOR_HEARTBEAT_MS), resultado, adios
 * A result goes back over the link of the GC that published the task (each GC tracks
 * only its own tasks), or of every GC that did, when two sent the same op.
 *
 * A restarted GC needs nothing special: ZeroMQ reconnects both sockets, the SUB
 * re-sends its subscription and the next latido makes the actor known again. A GC
 * that is gone costs its link only: the others' sockets and queues are their own.
 */
import os from 'node:os';
import { Dealer, Subscriber } from 'zeromq';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { encode, type OperacionActor, type Resultado } from '../common/protocol.js';
import { parseFrame, tareaSchema, topicFor, type MensajeActor, type Tarea } from '../common/internal-protocol.js';
import type { ActorConfig } from '../common/config.js';
import { logThisOne, type Logger } from '../common/logger.js';
import type { StorageClient } from '../common/storage-client.js';
import { within } from '../common/within.js';
import { SendQueue } from '../common/send-queue.js';
import { TaskRunner } from './task-runner.js';

export type ActorStartConfig = Omit<ActorConfig, 'ACTOR_TIPO' | 'ACTOR_ID'> & { ACTOR_TIPO: OperacionActor; ACTOR_ID: string };

export interface ActorDeps {
  storage: StorageClient;
  registry?: Registry;
}

export interface ActorHandle {
  actorId: string;
  tipo: OperacionActor;
  topic: string;
  registry: Registry;
  status(): {
    actorId: string;
    tipo: string;
    topic: string;
    enCurso: number;
    completadas: number;
    fallidas: number;
    /** Messages to the GCs not yet handed to ZeroMQ (one is away or slow), and those dropped because too many waited: all links. */
    salida: { enCola: number; descartados: number };
    /** Per GC link, in GC_PUB_ENDPOINTS order. */
    gcs: Array<{ pub: string; backend: string; tareas: number; salida: { enCola: number; descartados: number } }>;
    almacenamiento: ReturnType<StorageClient['status']>;
  };
  /** Orderly stop: no new tasks, finish running ones (bounded), say adios. */
  close(opts?: { graceMs?: number }): Promise<void>;
  /** Crash simulation for tests: sockets closed at once, no adios, no pending results sent. */
  kill(): void;
}

/** `<tipo>-<hostname>-<pid>`, with the hostname reduced to what actor ids allow. */
export function defaultActorId(tipo: string, hostname = os.hostname(), pid = process.pid): string {
  const host = hostname.replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 40) || 'host';
  return `${tipo}-${host}-${pid}`.slice(0, 64);
}

/** Tasks are a few hundred bytes; anything far bigger is dropped unread. */
const MAX_TAREA_BYTES = 64 * 1024;

/**
 * Messages waiting for the GC. Results can only pile up for tasks already received, so
 * this is a backstop (a few MB at most), not a limit a restarting GC should ever meet.
 */
const MAX_OUTBOX = 10_000;

export async function startActor(cfg: ActorStartConfig, log: Logger, deps: ActorDeps): Promise<ActorHandle> {
  const tipo = cfg.ACTOR_TIPO;
  const actorId = cfg.ACTOR_ID;
  const topic = topicFor(tipo, actorId);
  log = log.child({ actorId, tipo });
  const registry = deps.registry ?? new Registry();
  const tasksDone = new Counter({ name: 'actor_tasks_total', help: 'Tasks applied, by reply code', labelNames: ['codigo'], registers: [registry] });
  const taskTime = new Histogram({ name: 'actor_task_duration_seconds', help: 'Time to apply one task through the GA', buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [registry] });
  const inFlightGauge = new Gauge({ name: 'actor_tasks_in_flight', help: 'Tasks accepted and not yet reported', registers: [registry] });
  const malformed = new Counter({ name: 'actor_malformed_tasks_total', help: 'Task messages dropped as malformed or oversized', registers: [registry] });

  let killed = false;
  let stopping = false;
  let malformedLogged = 0;

  /** One GC: its task SUB, its backend DEALER and the queue in front of that DEALER. */
  const links = cfg.GC_PUB_ENDPOINTS.map((pubEndpoint, index) => {
    const backend = cfg.GC_BACKEND_ENDPOINTS[index]!;
    // HWM 0 on receive: the default 1000 drops tasks silently under bursts.
    const sub = new Subscriber({ receiveHighWaterMark: 0, linger: 0 });
    // While this GC is away nothing may pile up inside ZeroMQ to be replayed later (hours
    // of stale heartbeats): `immediate` queues only to a connected GC, and the HWM is small,
    // so a send just waits (no timeout) in our SendQueue until the GC is back. There
    // heartbeats coalesce (one waits at most, the latest) and the queue is bounded; results
    // are kept, oldest dropped first past the bound, and go out when the GC returns.
    const dealer = new Dealer({ immediate: true, sendHighWaterMark: 1000, linger: 0 });
    sub.connect(pubEndpoint);
    sub.subscribe(topic);
    dealer.connect(backend);
    const out = new SendQueue(dealer, log.child({ gc: backend }), 'dealer', { maxDepth: MAX_OUTBOX });
    const link = { index, pub: pubEndpoint, backend, sub, dealer, out, tareas: 0, receiving: Promise.resolve() };
    link.receiving = (async () => {
      try {
        for await (const frames of sub) {
          // Prefix matching: "prestamo.a1" also matches "prestamo.a10"; only our exact topic counts.
          if (frames[0]?.toString('utf8') !== topic) continue;
          const tarea = parseFrame(tareaSchema, frames[1], MAX_TAREA_BYTES);
          if (!tarea) {
            malformed.inc();
            // Logged, but not one line per message if something floods us.
            if (logThisOne(++malformedLogged, 20)) log.warn({ bytes: frames[1]?.length ?? 0, frames: frames.length, gc: pubEndpoint }, 'malformed task ignored');
            continue;
          }
          link.tareas++;
          const outcome = runner.submit(tarea, index);
          log.debug({ opId: tarea.id, intento: tarea.intento, outcome, gc: pubEndpoint }, 'task received');
        }
      } catch (err) {
        if (!stopping) log.error({ err, gc: pubEndpoint }, 'task receive loop failed');
      }
    })();
    return link;
  });
  const sendTo = (link: (typeof links)[number], m: MensajeActor) => link.out.send([encode(m)], m.t === 'latido' ? { replaces: 'latido' } : undefined);
  const sendAll = (m: MensajeActor) => {
    for (const l of links) sendTo(l, m);
  };

  const runner = new TaskRunner({
    aplicar: (op) => deps.storage.aplicar(op),
    concurrency: cfg.ACTOR_CONCURRENCY,
    log,
    report(resultado: Resultado, _t: Tarea, ms: number, origins: number[]) {
      tasksDone.inc({ codigo: resultado.codigo });
      taskTime.observe(ms / 1000);
      if (killed) return;
      for (const i of origins) sendTo(links[i]!, { t: 'resultado', actorId, tipo, resultado });
    },
  });

  sendAll({ t: 'hola', actorId, tipo, pid: process.pid });
  const heartbeat = setInterval(() => {
    inFlightGauge.set(runner.inFlight);
    sendAll({ t: 'latido', actorId, tipo, enCurso: runner.inFlight });
  }, cfg.ACTOR_HEARTBEAT_MS);

  log.info({ topic, pub: cfg.GC_PUB_ENDPOINTS, backend: cfg.GC_BACKEND_ENDPOINTS }, 'actor started');

  function closeSockets(): void {
    clearInterval(heartbeat);
    for (const l of links) {
      l.out.close();
      if (!l.sub.closed) l.sub.close();
      if (!l.dealer.closed) l.dealer.close();
    }
  }

  return {
    actorId,
    tipo,
    topic,
    registry,
    status: () => ({
      actorId,
      tipo,
      topic,
      enCurso: runner.inFlight,
      completadas: runner.completed,
      fallidas: runner.failed,
      salida: { enCola: links.reduce((n, l) => n + l.out.depth, 0), descartados: links.reduce((n, l) => n + l.out.dropped, 0) },
      gcs: links.map((l) => ({ pub: l.pub, backend: l.backend, tareas: l.tareas, salida: { enCola: l.out.depth, descartados: l.out.dropped } })),
      almacenamiento: deps.storage.status(),
    }),
    async close(opts) {
      if (stopping) return;
      stopping = true;
      for (const l of links) l.sub.close(); // no new tasks
      await Promise.all(links.map((l) => l.receiving));
      const dropped = runner.dropQueued();
      const graceMs = opts?.graceMs ?? 3000;
      await within(runner.idle(), graceMs);
      sendAll({ t: 'adios', actorId, tipo });
      // Bounded as a whole: a GC that is away must not hold up the adios to the others.
      await Promise.all(links.map((l) => l.out.drain(1000)));
      closeSockets();
      log.info({ dropped }, 'actor stopped');
    },
    kill() {
      if (stopping) return;
      stopping = true;
      killed = true;
      closeSockets();
    },
  };
}
