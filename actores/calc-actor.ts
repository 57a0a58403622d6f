/**
 * A `calculo` actor as an in-process component: it computes the calculation tasks
 * published on its own topic and reports each result. No storage: calculations touch no
 * database. Everything else is a library actor's (actor.ts): one GcLink per GC (all
 * active), hola / latido / adios on the same schedule, so the GCs' registry, strategies and
 * redelivery treat it like any actor; a result goes back to the GC(s) that sent the task.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { TIPO_CALCULO, tareaCalculoSchema, type ResultadoCalculo, type TareaCalculo } from '../common/protocol/calc.js';
import { MAX_BATCH_BYTES, parseBatch } from '../common/protocol/frame.js';
import { topicFor, type MensajeActor } from '../common/protocol/internal.js';
import type { ActorConfig } from '../common/config.js';
import { logThisOne, type Logger } from '../common/logger.js';
import { within } from '../common/within.js';
import type { SocketSecurity } from '../common/socket-security.js';
import { GcLink } from './gc-link.js';
import { CalcRunner } from './calc-runner.js';

export type CalcActorConfig = Pick<ActorConfig, 'GC_PUB_ENDPOINTS' | 'GC_BACKEND_ENDPOINTS' | 'ACTOR_HEARTBEAT_MS' | 'ACTOR_CONCURRENCY'> & { ACTOR_ID: string };

export interface CalcActorHandle {
  actorId: string;
  tipo: typeof TIPO_CALCULO;
  topic: string;
  registry: Registry;
  /** The same shape as a library actor's (actor.ts), so the panel and `npm run status` read both alike. */
  status(): {
    actorId: string;
    tipos: readonly string[];
    topics: readonly string[];
    enCurso: number;
    completadas: number;
    fallidas: number;
    salida: { enCola: number; descartados: number };
    gcs: Array<{ pub: string; backend: string; tareas: number; salida: { enCola: number; descartados: number; mensajes: number; envios: number } }>;
  };
  /** Orderly stop: no new tasks, finish running ones (bounded), say adios. */
  close(opts?: { graceMs?: number }): Promise<void>;
  /** Crash simulation for tests: sockets closed at once, no adios, no pending results sent. */
  kill(): void;
}

/** A task is at most a 16 KiB request's worth of data, a batch of them up to MAX_BATCH_BYTES. */
const MAX_TAREA_BYTES = MAX_BATCH_BYTES;

export async function startCalcActor(cfg: CalcActorConfig, log: Logger, deps: { registry?: Registry; security?: SocketSecurity } = {}): Promise<CalcActorHandle> {
  const tipo = TIPO_CALCULO;
  const actorId = cfg.ACTOR_ID;
  const topic = topicFor(tipo, actorId);
  log = log.child({ actorId, tipo });
  const registry = deps.registry ?? new Registry();
  const tasksDone = new Counter({ name: 'actor_tasks_total', help: 'Tasks done, by reply code', labelNames: ['codigo'], registers: [registry] });
  const taskTime = new Histogram({ name: 'actor_task_duration_seconds', help: 'Time to compute one task', buckets: [0.0001, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: [registry] });
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
        topics: [topic],
        security: deps.security,
        log: log.child({ gc: pub }),
        onTask(frames) {
          // One task, or a batch of them (what the GC published for us at once), as in actor.ts.
          const { items, malformed: bad } = frames.length === 2 ? parseBatch(tareaCalculoSchema, frames[1], MAX_TAREA_BYTES) : { items: [], malformed: [undefined] };
          if (bad.length > 0) {
            malformed.inc(bad.length);
            malformedLogged += bad.length;
            if (logThisOne(malformedLogged, 20)) log.warn({ bytes: frames[1]?.length ?? 0, frames: frames.length, gc: pub }, 'malformed calculation task ignored');
          }
          for (const tarea of items) {
            const outcome = runner.submit(tarea, index);
            log.debug({ tarea: tarea.id, intento: tarea.intento, operacion: tarea.calculo.operacion, outcome, gc: pub }, 'calculation task received');
          }
          return items.length;
        },
      }),
  );
  const sendAll = (m: MensajeActor) => {
    for (const l of links) l.send(m);
  };

  const runner = new CalcRunner({
    concurrency: cfg.ACTOR_CONCURRENCY,
    log,
    report(resultado: ResultadoCalculo, _t: TareaCalculo, ms: number, origins: number[]) {
      tasksDone.inc({ codigo: resultado.codigo });
      taskTime.observe(ms / 1000);
      if (killed) return;
      for (const i of origins) links[i]!.send({ t: 'calculado', actorId, tipo, resultado });
    },
  });

  sendAll({ t: 'hola', actorId, tipo, pid: process.pid });
  const heartbeat = setInterval(() => {
    inFlightGauge.set(runner.inFlight);
    sendAll({ t: 'latido', actorId, tipo, enCurso: runner.inFlight });
  }, cfg.ACTOR_HEARTBEAT_MS);

  log.info({ topic, pub: cfg.GC_PUB_ENDPOINTS, backend: cfg.GC_BACKEND_ENDPOINTS }, 'calculation actor started');

  function closeSockets(): void {
    clearInterval(heartbeat);
    for (const l of links) l.close();
  }

  return {
    actorId,
    tipo,
    topic,
    registry,
    status: () => ({
      actorId,
      tipos: [tipo],
      topics: [topic],
      enCurso: runner.inFlight,
      completadas: runner.completed,
      fallidas: runner.failed,
      salida: { enCola: links.reduce((n, l) => n + l.salida.enCola, 0), descartados: links.reduce((n, l) => n + l.salida.descartados, 0) },
      gcs: links.map((l) => ({ pub: l.pub, backend: l.backend, tareas: l.tasks, salida: l.salida })),
    }),
    async close(opts) {
      if (stopping) return;
      stopping = true;
      await Promise.all(links.map((l) => l.stopReceiving()));
      const dropped = runner.dropQueued();
      await within(runner.idle(), opts?.graceMs ?? 3000);
      sendAll({ t: 'adios', actorId, tipo });
      await Promise.all(links.map((l) => l.drain(1000)));
      closeSockets();
      log.info({ dropped }, 'calculation actor stopped');
    },
    kill() {
      if (stopping) return;
      stopping = true;
      killed = true;
      closeSockets();
    },
  };
}
