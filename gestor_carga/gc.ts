/**
 * The load manager (GC) as an in-process component: its sockets (gc-sockets.ts) wired
 * to the pure parts — ActorRegistry, TaskTracker, Dispatcher, CalcTasks, ledger resume —
 * through the request handler (PS side) and the ActorBackend (actor side).
 * One receive loop per socket; work is started from the loop, never awaited in it;
 * sends go through a SendQueue per socket.
 */
import { monotonicNow } from '../common/monotonic.js';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { Registry } from 'prom-client';
import { encode, errorReply, type OperacionActor, type Respuesta } from '../common/protocol/ps-gc.js';
import { topicFor, type Tarea } from '../common/protocol/internal.js';
import { TIPO_CALCULO } from '../common/protocol/calc.js';
import { splitEnvelope } from '../common/envelope.js';
import type { GcConfig } from '../common/config.js';
import type { Logger } from '../common/logger.js';
import type { StorageClient } from '../common/storage-client.js';
import { ActorRegistry, parseTopic, type Clock } from './actor-registry.js';
import { TaskTracker, type Modo } from './task-tracker.js';
import { Dispatcher } from './dispatcher.js';
import { startLedgerResume, type LedgerView } from './ledger-resume.js';
import { ErrorStats, type Canal } from './error-stats.js';
import { CalcTasks } from './calc-tasks.js';
import { CalcService } from './calc-service.js';
import { requestHandler, type Handled } from './request-handler.js';
import { createGcMetrics } from './metrics.js';
import { ActorBackend } from './actor-backend.js';
import { bindGcSockets, receiveLoop } from './gc-sockets.js';
import { SendQueue } from '../common/send-queue.js';
import { SocketSecurity } from '../common/socket-security.js';

export interface GcDeps {
  /** Owned by the caller: gc.close() does not close it. */
  storage: StorageClient;
  registry?: Registry;
  now?: () => number;
  /** Ledger call period (default a third of GC_LEASE_MS); tests shorten it. */
  ledgerScanMs?: number;
  /** CURVE on the PUB and backend (default off). Owned by the caller, started before. */
  security?: SocketSecurity;
}

export interface GcHandle {
  /** Endpoints actually bound (resolved when a port 0 was asked for). */
  endpoints: { frontend: string; pub: string; backend: string };
  registry: Registry;
  status(): GcStatus;
  errorStats(): ReturnType<ErrorStats['snapshot']>;
  /**
   * A request that came by another door (the HTTP gateway): the same validation, rules and
   * accounting (metrics, /errors/stats under `canal`) as one on the ZeroMQ frontend.
   * `bytes`: the body's real size when `body` is only its start. Never rejects.
   */
  request(body: Buffer, canal: Canal, bytes?: number): Promise<Handled>;
  /**
   * A refusal the other door made itself (e.g. a wrong HTTP method): counted like any reply,
   * under `estadoHttp` when the status it sent is not the code's class's (405).
   */
  refused(respuesta: Respuesta, canal: Canal, estadoHttp?: number): void;
  close(): Promise<void>;
  /** Like a crash (for tests): timers stop and sockets close at once; nobody waiting is answered, nothing drains. */
  abort(): Promise<void>;
}

export interface GcStatus {
  /** Who this GC is: its name among the GCs sharing the ledger, its sede, when it started. */
  gc: { id: string; sede?: string; iniciado: string };
  /** Every GC with its load (each one's own report through the ledger), this one included. */
  gestores: LedgerView['gestores'];
  /** This GC's leases on its async ops are certainly its own (renewed within GC_LEASE_MS). */
  arriendoVigente: boolean;
  actores: ReturnType<ActorRegistry['snapshot']>;
  /** What the registry holds: entries, those not subscribed (capped), subscriptions of actors never heard (capped). */
  registroActores: ReturnType<ActorRegistry['sizes']>;
  actoresVivos: Record<OperacionActor, number>;
  tareas: ReturnType<TaskTracker['counts']>;
  solicitudesSyncEsperando: number;
  /** Replies sent since start (all codes). */
  respuestas: number;
  registroCargado: boolean;
  modos: Record<OperacionActor, Modo>;
  estrategia: string;
  /** Tasks published, and the ZeroMQ messages they went in (fewer when batched). */
  publicadas: { mensajes: number; envios: number };
  almacenamiento: ReturnType<StorageClient['status']>;
  /** The calculation actors and their work (counted apart from the library's actoresVivos). */
  calculo: { actoresVivos: number; tareas: ReturnType<CalcTasks['counts']>; solicitudesEsperando: number };
}

/** `gc-<sede or hostname>`, reduced to what GC ids allow. Two GCs in one sede need their own GC_ID. */
export function defaultGcId(sede: string | undefined, hostname = os.hostname()): string {
  const base = (sede ?? hostname).normalize('NFD').replace(/[\u0300-\u036f]/g, '').replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 60) || 'host';
  return `gc-${base}`;
}



export async function startGc(cfg: GcConfig, log: Logger, deps: GcDeps): Promise<GcHandle> {
  const clock: Clock = { now: deps.now ?? monotonicNow };
  const registry = deps.registry ?? new Registry();
  const metrics = createGcMetrics(registry);
  const errors = new ErrorStats(50);
  const modos: Record<OperacionActor, Modo> = {
    prestamo: cfg.GC_MODO_PRESTAMO,
    devolucion: cfg.GC_MODO_DEVOLUCION,
    renovacion: cfg.GC_MODO_RENOVACION,
  };

  const sockets = await bindGcSockets(cfg, deps.security ?? SocketSecurity.off());
  const { frontend, pub, backend, endpoints } = sockets;
  const frontQ = new SendQueue(frontend, log, 'frontend');
  // Tasks for the same actor that one wake produced go out as one message (a batch).
  const pubQ = new SendQueue(pub, log, 'pub', { coalesce: true });

  const actors = new ActorRegistry({ deadMs: cfg.ACTOR_DEAD_MS, estrategia: cfg.GC_ESTRATEGIA, clock });
  // The tracker identifies an actor by its topic: actor ids are only unique per type.
  const tracker = new TaskTracker({
    clock,
    deadlineMs: cfg.GC_TASK_DEADLINE_MS,
    publish(topic: string, tarea: Tarea) {
      log.debug({ opId: tarea.id, topic, intento: tarea.intento }, 'task published');
      pubQ.send([topic, encode(tarea)]);
    },
    choose(tipo, exclude) {
      const excludeId = exclude === undefined ? undefined : parseTopic(exclude)?.actorId;
      const id = actors.choose(tipo, (actorId) => tracker.load(topicFor(tipo, actorId)), excludeId);
      return id === undefined ? undefined : topicFor(tipo, id);
    },
    onRepublish(t, motivo, from) {
      metrics.republications.inc({ motivo, tipo: t.op.operacion });
      log.info({ opId: t.op.id, intento: t.intento, from, to: t.actorId, motivo }, 'task re-published');
    },
    // `resume` is made below, in this same synchronous step: the tracker first asks from the ticker.
    gcLeaseUntil: () => resume.leaseUntil(),
  });
  const gcId = cfg.GC_ID ?? defaultGcId(cfg.GC_SEDE);
  const startedAt = new Date(clock.now()).toISOString();
  const dispatcher = new Dispatcher({
    storage: deps.storage,
    tracker,
    clock,
    modos,
    arriendo: { gestor: gcId, ms: cfg.GC_LEASE_MS },
    syncTimeoutMs: cfg.GC_SYNC_TIMEOUT_MS,
    noActorMs: cfg.ACTOR_DEAD_MS,
    log,
  });

  // Calculations: their own tasks, the same registry (liveness, strategy) and PUB socket.
  // 'concentrada' exists to fill the GA batches of one actor; calculations have none and
  // would all land on one actor's CPU, so they go round-robin instead.
  const calcStrategy = cfg.GC_ESTRATEGIA === 'concentrada' ? 'round-robin' : cfg.GC_ESTRATEGIA;
  const calcTasks: CalcTasks = new CalcTasks({
    clock,
    deadlineMs: cfg.GC_TASK_DEADLINE_MS,
    noActorMs: cfg.ACTOR_DEAD_MS,
    makeId: randomUUID,
    publish(actorId, tarea) {
      log.debug({ tarea: tarea.id, actorId, intento: tarea.intento, operacion: tarea.calculo.operacion }, 'calculation task published');
      pubQ.send([topicFor(TIPO_CALCULO, actorId), encode(tarea)]);
    },
    choose: (exclude): string | undefined => actors.choose(TIPO_CALCULO, (id) => calcTasks.load(id), exclude, calcStrategy),
    isLive: (actorId) => actors.isLiveId(TIPO_CALCULO, actorId),
    // Three beats missed: frozen or cut off, not merely busy (a computing actor still beats between chunks).
    isCurrent: (actorId) => actors.heardWithin(TIPO_CALCULO, actorId, Math.min(cfg.ACTOR_DEAD_MS, 3 * cfg.ACTOR_HEARTBEAT_MS)),
    // An abandoned part whose actor neither answers nor dies stops counting against the cap after another request's time.
    abandonedMs: cfg.GC_SYNC_TIMEOUT_MS,
    onRepublish(id, motivo, from) {
      metrics.republications.inc({ motivo, tipo: TIPO_CALCULO });
      log.info({ tarea: id, from, motivo }, 'calculation task re-published');
    },
  });
  const calculos = new CalcService({
    tasks: calcTasks,
    liveActors: () => actors.live(TIPO_CALCULO).map((a) => a.actorId),
    inFlight: () => calcTasks.size,
    perActor: cfg.GC_CALC_PER_ACTOR,
    timeoutMs: cfg.GC_SYNC_TIMEOUT_MS,
    log,
  });
  const handleRequest = requestHandler({ dispatcher, calculos, makeKey: randomUUID, log });

  let closing = false;

  const actorSide = new ActorBackend({ actors, tracker, calcTasks, dispatcher, metrics, log });
  // A dead actor must stop getting work within about a second: check well inside ACTOR_DEAD_MS.
  const ticker = setInterval(() => actorSide.maintain(), Math.max(20, Math.min(100, Math.floor(cfg.ACTOR_DEAD_MS / 5))));

  let answered = 0;
  function reply(envelope: Buffer[], r: Respuesta, operacion: string, t0: number): void {
    frontQ.send([...envelope, encode(r)]);
    account(r, operacion, t0, 'zeromq');
  }

  /** Every reply, whichever door it leaves by: counted, timed, and its error (if any) recorded. */
  function account(r: Respuesta, operacion: string, t0: number, canal: Canal, estadoHttp?: number): void {
    metrics.requests.inc({ operacion, codigo: r.codigo });
    // A PS's ping is not load: counted as what it is, kept out of the load report and the latency per operation.
    if (operacion === 'ping') return;
    answered++;
    metrics.latency.observe({ operacion }, (performance.now() - t0) / 1000);
    errors.record(operacion, r, canal, estadoHttp);
    if (!r.exito) log.debug({ opId: r.id, operacion, codigo: r.codigo, canal }, 'request answered with error');
  }

  function onRequest(frames: Buffer[]): void {
    const t0 = performance.now();
    const { envelope, body, parts } = splitEnvelope(frames);
    if (parts > 1) {
      // Answering the first part would hand a REQ client its own frame as if it were the reply.
      reply(envelope, errorReply('SOLICITUD_INVALIDA', `La solicitud debe ser un único mensaje JSON de una parte (llegaron ${parts} partes)`), 'invalida', t0);
      return;
    }
    void handleRequest(body ?? Buffer.alloc(0)).then((h) => reply(envelope, h.respuesta, h.operacion, t0));
  }

  const isClosing = () => closing;
  const loops = [
    receiveLoop('frontend', frontend, onRequest, log, isClosing),
    receiveLoop('pub', pub, (frames) => actorSide.onSubscription(frames[0]), log, isClosing),
    receiveLoop('backend', backend, (frames) => actorSide.onFrame(frames), log, isClosing),
  ];

  // Replies per second between two reports to the ledger: the load every GC's /status shows for this one.
  let lastReport = { at: clock.now(), answered: 0 };
  const resume = startLedgerResume({
    storage: deps.storage,
    tracker,
    clock,
    log,
    informe() {
      const now = clock.now();
      const porSegundo = now > lastReport.at ? Math.round(((answered - lastReport.answered) * 10_000) / (now - lastReport.at)) / 10 : 0;
      lastReport = { at: now, answered };
      return { id: gcId, ...(cfg.GC_SEDE ? { sede: cfg.GC_SEDE } : {}), frontend: cfg.GC_FRONTEND_BIND, atendidas: answered, porSegundo, tareas: tracker.size, iniciado: startedAt };
    },
    leaseMs: cfg.GC_LEASE_MS,
    minAgeMs: 3 * cfg.GC_TASK_DEADLINE_MS,
    scanEveryMs: deps.ledgerScanMs,
  });

  log.info({ gc: gcId, sede: cfg.GC_SEDE, endpoints, modos, estrategia: cfg.GC_ESTRATEGIA, leaseMs: cfg.GC_LEASE_MS }, 'GC started');

  return {
    endpoints,
    registry,
    status: () => {
      const { gestores, arriendoVigente } = resume.view();
      return {
        gc: { id: gcId, ...(cfg.GC_SEDE ? { sede: cfg.GC_SEDE } : {}), iniciado: startedAt },
        gestores,
        arriendoVigente,
        actores: actors.snapshot(),
        registroActores: actors.sizes(),
        actoresVivos: actors.liveCounts(),
        tareas: tracker.counts(),
        solicitudesSyncEsperando: dispatcher.waiting(),
        respuestas: answered,
        registroCargado: resume.loaded(),
        modos,
        estrategia: cfg.GC_ESTRATEGIA,
        publicadas: pubQ.sent,
        almacenamiento: deps.storage.status(),
        calculo: { actoresVivos: actors.live(TIPO_CALCULO).length, tareas: calcTasks.counts(), solicitudesEsperando: calculos.waiting },
      };
    },
    errorStats: () => errors.snapshot(),
    request(body, canal, bytes) {
      const t0 = performance.now();
      return handleRequest(body, bytes).then((h) => {
        account(h.respuesta, h.operacion, t0, canal);
        return h;
      });
    },
    refused: (r, canal, estadoHttp) => account(r, 'invalida', performance.now(), canal, estadoHttp),
    async close() {
      if (closing) return;
      closing = true;
      clearInterval(ticker);
      // Another GC up: the sync requests waiting here go unanswered, so their PS resend them
      // there (same clave) and get the real outcome; alone, they are told TIEMPO_AGOTADO.
      const othersUp = resume.view().gestores.some((g) => g.vivo && g.id !== gcId);
      resume.stop();
      // Alone: each waiting sync op recorded, then told TIEMPO_AGOTADO (at most 1.5 s).
      await dispatcher.close({ silent: othersUp });
      calculos.close();
      await nextTurn(); // let those replies reach the queue
      await Promise.all([frontQ.drain(500), pubQ.drain(500)]);
      frontQ.close();
      pubQ.close();
      sockets.close();
      await Promise.all(loops);
      log.info('GC stopped');
    },
    async abort() {
      if (closing) return;
      closing = true;
      clearInterval(ticker);
      resume.stop();
      frontQ.close();
      pubQ.close();
      sockets.close();
      await Promise.all(loops);
      // Its pending sync waiters' timers must not outlive it (nobody is answered: it crashed).
      void dispatcher.close({ silent: true });
      calculos.close();
    },
  };
}
