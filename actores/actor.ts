/**
 * An actor as an in-process component: it receives the tasks published on its own
 * topics, applies them through the storage client and reports each result.
 *
 * One process may serve several operation types (ACTOR_TIPOS): each type has its
 * topic "<tipo>.<actorId>" and is one actor of that type for the GCs (its own hola,
 * latido, adios), so dispatch and redundancy work per type as before, while the
 * process sees the work of all its types and handles more of it per wake.
 *
 * It works for every GC in its list (all active at once), with one link per GC:
 *  SUB    ← that GC's XPUB, subscribed to exactly "<tipo>.<actorId>" for each of its types
 *  DEALER → that GC's backend ROUTER: hola, latido (every ACTOR_HEARTBEAT_MS), resultado, adios
 * A result goes back over the link of the GC that published the task (each GC tracks
 * only its own tasks), or of every GC that did, when two sent the same op.
 *
 * A restarted GC needs nothing special: ZeroMQ reconnects both sockets, the SUB
 * re-sends its subscription and the next latido makes the actor known again. A GC
 * that is gone costs its link only: the others' sockets and queues are their own.
 */
import os from 'node:os';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { OperacionActor, Resultado } from '../common/protocol/ps-gc.js';
import { MAX_BATCH_BYTES, parseBatch } from '../common/protocol/frame.js';
import { tareaSchema, topicFor, type MensajeActor, type Tarea } from '../common/protocol/internal.js';
import type { ActorConfig } from '../common/config.js';
import { logThisOne, type Logger } from '../common/logger.js';
import type { StorageClient } from '../common/storage-client.js';
import { within } from '../common/within.js';
import { GcLink } from './gc-link.js';
import { TaskRunner } from './task-runner.js';
import type { SocketSecurity } from '../common/socket-security.js';

export type ActorStartConfig = Omit<ActorConfig, 'ACTOR_TIPOS' | 'ACTOR_ID'> & { ACTOR_TIPOS: readonly OperacionActor[]; ACTOR_ID: string };

export interface ActorDeps {
  storage: StorageClient;
  registry?: Registry;
  /** CURVE on the links to the GCs (default off). Owned by the caller. */
  security?: SocketSecurity;
}

export interface ActorHandle {
  actorId: string;
  tipos: readonly OperacionActor[];
  /** One per type, in ACTOR_TIPOS order. */
  topics: readonly string[];
  registry: Registry;
  status(): {
    actorId: string;
    tipos: readonly string[];
    topics: readonly string[];
    enCurso: number;
    completadas: number;
    fallidas: number;
    /** Messages to the GCs not yet handed to ZeroMQ (one is away or slow), and those dropped because too many waited: all links. */
    salida: { enCola: number; descartados: number };
    /** Per GC link, in GC_PUB_ENDPOINTS order. */
    gcs: Array<{ pub: string; backend: string; tareas: number; salida: { enCola: number; descartados: number; mensajes: number; envios: number } }>;
    almacenamiento: ReturnType<StorageClient['status']>;
  };
  /** Orderly stop: no new tasks, finish running ones (bounded), say adios. */
  close(opts?: { graceMs?: number }): Promise<void>;
  /** Crash simulation for tests: sockets closed at once, no adios, no pending results sent. */
  kill(): void;
}

/**
 * `<tipo>-<hostname>-<pid>` for a one-type actor, `actor-<hostname>-<pid>` for several,
 * with the hostname reduced to what actor ids allow.
 */
export function defaultActorId(tipos: readonly string[], hostname = os.hostname(), pid = process.pid): string {
  const host = hostname.replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 40) || 'host';
  return `${tipos.length === 1 ? tipos[0] : 'actor'}-${host}-${pid}`.slice(0, 64);
}

/** A task is a few hundred bytes, a batch of them up to MAX_BATCH_BYTES; anything bigger is dropped unread. */
const MAX_TAREA_BYTES = MAX_BATCH_BYTES;

export async function startActor(cfg: ActorStartConfig, log: Logger, deps: ActorDeps): Promise<ActorHandle> {
  const tipos = [...new Set(cfg.ACTOR_TIPOS)];
  if (tipos.length === 0) throw new Error('an actor serves at least one operation type');
  const actorId = cfg.ACTOR_ID;
  const topics = tipos.map((t) => topicFor(t, actorId));
  log = log.child({ actorId, tipos });
  const registry = deps.registry ?? new Registry();
  const tasksDone = new Counter({ name: 'actor_tasks_total', help: 'Tasks applied, by reply code', labelNames: ['codigo'], registers: [registry] });
  const taskTime = new Histogram({ name: 'actor_task_duration_seconds', help: 'Time to apply one task through the GA', buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [registry] });
  const inFlightGauge = new Gauge({ name: 'actor_tasks_in_flight', help: 'Tasks accepted and not yet reported', registers: [registry] });
  const malformed = new Counter({ name: 'actor_malformed_tasks_total', help: 'Task messages dropped as malformed or oversized', registers: [registry] });

  let killed = false;
  let stopping = false;
  let malformedLogged = 0;

  const links = cfg.GC_PUB_ENDPOINTS.map(
    (pub, index) =>
      new GcLink({
        pub,
        backend: cfg.GC_BACKEND_ENDPOINTS[index]!,
        topics,
        log: log.child({ gc: pub }),
        security: deps.security,
        onTask(frames) {
          // One task, or a batch of them (what the GC published for us at once).
          const { items, malformed: bad } = frames.length === 2 ? parseBatch(tareaSchema, frames[1], MAX_TAREA_BYTES) : { items: [], malformed: [undefined] };
          if (bad.length > 0) {
            malformed.inc(bad.length);
            malformedLogged += bad.length;
            // Logged, but not one line per message if something floods us.
            if (logThisOne(malformedLogged, 20)) log.warn({ bytes: frames[1]?.length ?? 0, frames: frames.length, gc: pub }, 'malformed task ignored');
          }
          for (const tarea of items) {
            const outcome = runner.submit(tarea, index);
            if (log.isLevelEnabled('debug')) log.debug({ opId: tarea.id, intento: tarea.intento, outcome, gc: pub }, 'task received');
          }
          return items.length;
        },
      }),
  );
  const sendAll = (m: MensajeActor) => {
    for (const l of links) l.send(m);
  };
  /** One message per type: each type is one actor at the GC. */
  const sendEachType = (make: (tipo: OperacionActor) => MensajeActor) => {
    for (const t of tipos) sendAll(make(t));
  };

  const runner = new TaskRunner({
    aplicar: (op) => deps.storage.aplicar(op),
    concurrency: cfg.ACTOR_CONCURRENCY,
    log,
    report(resultado: Resultado, t: Tarea, ms: number, origins: number[]) {
      tasksDone.inc({ codigo: resultado.codigo });
      taskTime.observe(ms / 1000);
      if (killed) return;
      for (const i of origins) links[i]!.send({ t: 'resultado', actorId, tipo: t.operacion, resultado });
    },
  });

  sendEachType((tipo) => ({ t: 'hola', actorId, tipo, pid: process.pid }));
  const heartbeat = setInterval(() => {
    inFlightGauge.set(runner.inFlight);
    sendEachType((tipo) => ({ t: 'latido', actorId, tipo, enCurso: runner.inFlight }));
  }, cfg.ACTOR_HEARTBEAT_MS);

  log.info({ topics, pub: cfg.GC_PUB_ENDPOINTS, backend: cfg.GC_BACKEND_ENDPOINTS }, 'actor started');

  function closeSockets(): void {
    clearInterval(heartbeat);
    for (const l of links) l.close();
  }

  return {
    actorId,
    tipos,
    topics,
    registry,
    status: () => ({
      actorId,
      tipos,
      topics,
      enCurso: runner.inFlight,
      completadas: runner.completed,
      fallidas: runner.failed,
      salida: { enCola: links.reduce((n, l) => n + l.salida.enCola, 0), descartados: links.reduce((n, l) => n + l.salida.descartados, 0) },
      gcs: links.map((l) => ({ pub: l.pub, backend: l.backend, tareas: l.tasks, salida: l.salida })),
      almacenamiento: deps.storage.status(),
    }),
    async close(opts) {
      if (stopping) return;
      stopping = true;
      await Promise.all(links.map((l) => l.stopReceiving())); // no new tasks
      const dropped = runner.dropQueued();
      const graceMs = opts?.graceMs ?? 3000;
      await within(runner.idle(), graceMs);
      sendEachType((tipo) => ({ t: 'adios', actorId, tipo }));
      // Bounded as a whole: a GC that is away must not hold up the adios to the others.
      await Promise.all(links.map((l) => l.drain(1000)));
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
