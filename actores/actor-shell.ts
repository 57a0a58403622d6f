/**
 * What every actor process does around its work, whatever it computes: one GcLink
 * per GC (all active), the tasks each link brings parsed (one or a batch) into a
 * runner (work-queue.ts), hola / latido / adios for each of its types on the
 * ACTOR_HEARTBEAT_MS schedule, the outcome of a task sent back to every GC that
 * sent it, its metrics and /status, and an orderly close or a crash-like kill.
 * The library actor (actor.ts) and the calculo actor (calc-actor.ts) differ only in
 * their task schema, their runner and their result message.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { z } from 'zod';
import type { ActorConfig } from '../common/config.js';
import { logThisOne, type Logger } from '../common/logger.js';
import { MAX_BATCH_BYTES, parseBatch } from '../common/protocol/frame.js';
import { topicFor, type MensajeActor, type TipoActor } from '../common/protocol/internal.js';
import type { SocketSecurity } from '../common/socket-security.js';
import { within } from '../common/within.js';
import { GcLink } from './gc-link.js';
import type { WorkQueue } from './work-queue.js';

/** A task is at most a 16 KiB request's worth of data, a batch of them up to MAX_BATCH_BYTES; anything bigger is dropped unread. */
const MAX_TAREA_BYTES = MAX_BATCH_BYTES;

export type ActorShellConfig = Pick<ActorConfig, 'GC_PUB_ENDPOINTS' | 'GC_BACKEND_ENDPOINTS' | 'ACTOR_HEARTBEAT_MS'> & { ACTOR_ID: string };

/** The /status every actor shares (the panel and `npm run status` read library and calculo actors alike). */
export interface ActorShellStatus {
  actorId: string;
  tipos: readonly string[];
  /** Its `<tipo>.<actorId>` topics (the GC PUB subscriptions). */
  temas: readonly string[];
  enCurso: number;
  completadas: number;
  fallidas: number;
  /** Messages to the GCs not yet handed to ZeroMQ (one is away or slow), and those dropped because too many waited: all links. */
  salida: { enCola: number; descartados: number };
  /** Per GC link, in GC_PUB_ENDPOINTS order. */
  gcs: Array<{ pub: string; backend: string; tareas: number; salida: { enCola: number; descartados: number; mensajes: number; envios: number } }>;
}

export interface ActorShellOptions<T extends { id: string }, R> {
  cfg: ActorShellConfig;
  tipos: readonly TipoActor[];
  log: Logger;
  registry: Registry;
  security?: SocketSecurity;
  /** What one task message must be. */
  taskSchema: z.ZodType<T>;
  /** Builds the runner; its outcomes go to `done`. */
  runner(done: (outcome: R, t: T, ms: number, origins: number[]) => void): WorkQueue<T, R>;
  /** The message that carries an outcome back to a GC, and its reply code (metrics). */
  resultMessage(outcome: R, t: T): { message: MensajeActor; codigo: string };
  /** Fields of a received task for the debug log. */
  describe(t: T): Record<string, unknown>;
  /** How its logs name it ('actor' / 'task', 'calculation actor' / 'calculation task') and its metrics' help texts. */
  names: { actor: string; task: string; doneHelp: string; timeHelp: string };
  taskTimeBuckets: number[];
}

export interface ActorShell {
  topics: readonly string[];
  status(): ActorShellStatus;
  /** Orderly stop: no new tasks, finish running ones (bounded), say adios. */
  close(opts?: { graceMs?: number }): Promise<void>;
  /** Crash simulation for tests: sockets closed at once, no adios, no pending results sent. */
  kill(): void;
}

export function startActorShell<T extends { id: string }, R>(o: ActorShellOptions<T, R>): ActorShell {
  const { tipos, log, registry } = o;
  const actorId = o.cfg.ACTOR_ID;
  const topics = tipos.map((t) => topicFor(t, actorId));
  const tasksDone = new Counter({ name: 'actor_tasks_total', help: o.names.doneHelp, labelNames: ['codigo'], registers: [registry] });
  const taskTime = new Histogram({ name: 'actor_task_duration_seconds', help: o.names.timeHelp, buckets: o.taskTimeBuckets, registers: [registry] });
  const inFlightGauge = new Gauge({ name: 'actor_tasks_in_flight', help: 'Tasks accepted and not yet reported', registers: [registry] });
  const malformed = new Counter({ name: 'actor_malformed_tasks_total', help: 'Task messages dropped as malformed or oversized', registers: [registry] });

  let killed = false;
  let stopping = false;
  let malformedLogged = 0;

  const links = o.cfg.GC_PUB_ENDPOINTS.map(
    (pub, index) =>
      new GcLink({
        pub,
        backend: o.cfg.GC_BACKEND_ENDPOINTS[index]!,
        topics,
        log: log.child({ gc: pub }),
        security: o.security,
        onTask(frames) {
          // One task, or a batch of them (what the GC published for us at once).
          const { items, malformed: bad } = frames.length === 2 ? parseBatch(o.taskSchema, frames[1], MAX_TAREA_BYTES) : { items: [], malformed: [undefined] };
          if (bad.length > 0) {
            malformed.inc(bad.length);
            malformedLogged += bad.length;
            // Logged, but not one line per message if something floods us.
            if (logThisOne(malformedLogged, 20)) log.warn({ bytes: frames[1]?.length ?? 0, frames: frames.length, gc: pub }, `malformed ${o.names.task} ignored`);
          }
          for (const tarea of items) {
            const outcome = runner.submit(tarea, index);
            if (log.isLevelEnabled('debug')) log.debug({ ...o.describe(tarea), outcome, gc: pub }, `${o.names.task} received`);
          }
          return items.length;
        },
      }),
  );
  /** One message per type: each type is one actor at the GC. */
  const sendEachType = (make: (tipo: TipoActor) => MensajeActor) => {
    for (const t of tipos) {
      const m = make(t);
      for (const l of links) l.send(m);
    }
  };

  const runner = o.runner((outcome, t, ms, origins) => {
    const { message, codigo } = o.resultMessage(outcome, t);
    tasksDone.inc({ codigo });
    taskTime.observe(ms / 1000);
    if (killed) return;
    for (const i of origins) links[i]!.send(message);
  });

  sendEachType((tipo) => ({ t: 'hola', actorId, tipo, pid: process.pid }));
  const heartbeat = setInterval(() => {
    inFlightGauge.set(runner.inFlight);
    sendEachType((tipo) => ({ t: 'latido', actorId, tipo, enCurso: runner.inFlight }));
  }, o.cfg.ACTOR_HEARTBEAT_MS);

  log.info({ topics, pub: o.cfg.GC_PUB_ENDPOINTS, backend: o.cfg.GC_BACKEND_ENDPOINTS }, `${o.names.actor} started`);

  function closeSockets(): void {
    clearInterval(heartbeat);
    for (const l of links) l.close();
  }

  return {
    topics,
    status: () => ({
      actorId,
      tipos,
      temas: topics,
      enCurso: runner.inFlight,
      completadas: runner.completed,
      fallidas: runner.failed,
      salida: { enCola: links.reduce((n, l) => n + l.salida.enCola, 0), descartados: links.reduce((n, l) => n + l.salida.descartados, 0) },
      gcs: links.map((l) => ({ pub: l.pub, backend: l.backend, tareas: l.tasks, salida: l.salida })),
    }),
    async close(opts) {
      if (stopping) return;
      stopping = true;
      await Promise.all(links.map((l) => l.stopReceiving())); // no new tasks
      const dropped = runner.dropQueued();
      await within(runner.idle(), opts?.graceMs ?? 3000);
      sendEachType((tipo) => ({ t: 'adios', actorId, tipo }));
      // Bounded as a whole: a GC that is away must not hold up the adios to the others.
      await Promise.all(links.map((l) => l.drain(1000)));
      closeSockets();
      log.info({ dropped }, `${o.names.actor} stopped`);
    },
    kill() {
      if (stopping) return;
      stopping = true;
      killed = true;
      closeSockets();
    },
  };
}
