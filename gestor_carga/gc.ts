/**
 * The load manager (GC) as an in-process component: three ZeroMQ sockets wired to
 * the pure parts (ActorRegistry, TaskTracker, Dispatcher, ledger resume).
 *
 *  frontend ROUTER  ← PS (REQ or DEALER), one reply per request, many in flight
 *  XPUB             → actors, [topic "<tipo>.<actorId>", Tarea]; its subscription
 *                     messages tell us which actors can actually receive
 *  backend ROUTER   ← actors' DEALERs: hola / latido / resultado / adios
 *
 * One receive loop per socket; work is started from the loop, never awaited in it;
 * sends go through a SendQueue per socket.
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { Router, XPublisher } from 'zeromq';
import { Registry } from 'prom-client';
import { MAX_TRANSPORT_BYTES, OPERACIONES_ACTOR, encode, errorReply, labelReply, type OperacionActor, type Respuesta } from '../common/protocol/ps-gc.js';
import { parseBatch } from '../common/protocol/frame.js';
import { mensajeActorSchema, topicFor, type MensajeActor, type Tarea, type TipoActor } from '../common/protocol/internal.js';
import { TIPO_CALCULO } from '../common/protocol/calc.js';
import { splitEnvelope } from '../common/envelope.js';
import type { GcConfig } from '../common/config.js';
import { logThisOne, type Logger } from '../common/logger.js';
import type { StorageClient } from '../common/storage-client.js';
import { ActorRegistry, parseTopic, type Clock, type Transitions } from './actor-registry.js';
import { TaskTracker, type Modo } from './task-tracker.js';
import { Dispatcher } from './dispatcher.js';
import { startLedgerResume, type LedgerView } from './ledger-resume.js';
import { ErrorStats, type Canal } from './error-stats.js';
import { CalcTasks } from './calc-tasks.js';
import { CalcService } from './calc-service.js';
import { requestHandler, type Handled } from './request-handler.js';
import { createGcMetrics } from './metrics.js';
import { SendQueue } from '../common/send-queue.js';
import { SocketSecurity } from '../common/socket-security.js';
import { YieldPoint } from '../common/yield-point.js';

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
  /** A refusal the other door made itself (e.g. a wrong HTTP method): counted like any reply. */
  refused(respuesta: Respuesta, canal: Canal): void;
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

/** Actor frames are small; anything bigger is a broken or hostile peer. */
const MAX_ACTOR_FRAME = 256 * 1024;
/** Subscription messages on the XPUB: a topic "<tipo>.<actorId>" is under 100 bytes. */
export const MAX_SUBSCRIPTION_BYTES = 4096;


export async function startGc(cfg: GcConfig, log: Logger, deps: GcDeps): Promise<GcHandle> {
  const clock: Clock = { now: deps.now ?? Date.now };
  const registry = deps.registry ?? new Registry();
  const metrics = createGcMetrics(registry);
  const errors = new ErrorStats(50);
  const modos: Record<OperacionActor, Modo> = {
    prestamo: cfg.GC_MODO_PRESTAMO,
    devolucion: cfg.GC_MODO_DEVOLUCION,
    renovacion: cfg.GC_MODO_RENOVACION,
  };

  const security = deps.security ?? SocketSecurity.off();
  // The PS port stays open (NULL): the original clients have no keys.
  const frontend = new Router({ maxMessageSize: MAX_TRANSPORT_BYTES, linger: 0 });
  // HWM 0: the default 1000 silently drops tasks under load. 'allSubs' also reports a
  // repeated subscription (an actor restarted with the same id before the old pipe closed).
  // maxMessageSize: what arrives here are subscriptions ("<tipo>.<actorId>", < 100 bytes); a
  // peer sending a bigger one is dropped by libzmq before the topic is stored (abuse campaign).
  const pub = new XPublisher({ sendHighWaterMark: 0, verbosity: 'allSubs', linger: 0, maxMessageSize: MAX_SUBSCRIPTION_BYTES, ...security.server('gc-pub') });
  const backend = new Router({ maxMessageSize: MAX_ACTOR_FRAME, linger: 0, ...security.server('gc-backend') });
  const sockets = [frontend, pub, backend];
  try {
    await frontend.bind(cfg.GC_FRONTEND_BIND);
    await pub.bind(cfg.GC_PUB_BIND);
    await backend.bind(cfg.GC_BACKEND_BIND);
  } catch (err) {
    for (const s of sockets) s.close();
    throw err;
  }
  const endpoints = {
    frontend: frontend.lastEndpoint ?? cfg.GC_FRONTEND_BIND,
    pub: pub.lastEndpoint ?? cfg.GC_PUB_BIND,
    backend: backend.lastEndpoint ?? cfg.GC_BACKEND_BIND,
  };
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
      const excludeId = exclude?.slice(tipo.length + 1);
      const id = actors.choose(tipo, (actorId) => tracker.load(topicFor(tipo, actorId)), excludeId);
      return id === undefined ? undefined : topicFor(tipo, id);
    },
    onRepublish(t, motivo, from) {
      metrics.republications.inc({ motivo, tipo: t.op.operacion });
      log.info({ opId: t.op.id, intento: t.intento, from, to: t.actorId, motivo }, 'task re-published');
    },
  });
  const gcId = cfg.GC_ID ?? defaultGcId(cfg.GC_SEDE);
  const startedAt = new Date(clock.now()).toISOString();
  const dispatcher = new Dispatcher({
    storage: deps.storage,
    tracker,
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
    onRepublish(id, motivo, from) {
      metrics.republications.inc({ motivo, tipo: TIPO_CALCULO });
      log.info({ tarea: id, from, motivo }, 'calculation task re-published');
    },
  });
  const calculos = new CalcService({
    tasks: calcTasks,
    liveActors: () => actors.live(TIPO_CALCULO).map((a) => a.actorId),
    timeoutMs: cfg.GC_SYNC_TIMEOUT_MS,
    log,
  });
  const handleRequest = requestHandler({ dispatcher, calculos, makeKey: randomUUID, log });

  let closing = false;

  function onTransitions({ joined, died }: Transitions): void {
    for (const a of joined) log.info({ tipo: a.tipo, actorId: a.actorId }, 'actor joined');
    for (const a of died) {
      const moved = a.tipo === TIPO_CALCULO ? calcTasks.actorGone(a.actorId) : tracker.actorGone(topicFor(a.tipo, a.actorId)).length;
      log.info({ tipo: a.tipo, actorId: a.actorId, tasksMoved: moved, left: a.left }, a.left ? 'actor left' : 'actor dead');
    }
  }

  /** Liveness transitions, redelivery and starvation checks; O(actors + tasks), run by the ticker. */
  function maintain(): void {
    onTransitions(actors.refresh());
    tracker.tick();
    calcTasks.tick();
    dispatcher.checkStarved();
    const live = actors.liveCounts();
    for (const t of OPERACIONES_ACTOR) metrics.liveActors.set({ tipo: t }, live[t]);
    metrics.liveActors.set({ tipo: TIPO_CALCULO }, actors.live(TIPO_CALCULO).length);
    const c = tracker.counts();
    metrics.tasksInFlight.set({ estado: 'enviada' }, c.enviada);
    metrics.tasksInFlight.set({ estado: 'en-cola' }, c['en-cola']);
    metrics.tasksInFlight.set({ estado: 'espera' }, c.espera);
    metrics.syncWaiting.set(dispatcher.waiting());
  }
  // A dead actor must stop getting work within about a second: check well inside ACTOR_DEAD_MS.
  const ticker = setInterval(maintain, Math.max(20, Math.min(100, Math.floor(cfg.ACTOR_DEAD_MS / 5))));

  /**
   * After a message or subscription of one actor: only that actor is re-checked (O(1)),
   * so a flood from unknown or misconfigured peers costs little per message. Only a real
   * join or departure runs the full maintain(), so queued work goes out, or a leaving
   * actor's work moves, at once rather than at the next tick.
   */
  function actorChanged(tipo: TipoActor, actorId: string): void {
    const t = actors.refreshOne(tipo, actorId);
    if (t.joined.length === 0 && t.died.length === 0) return;
    onTransitions(t);
    maintain();
  }

  // Per-message warnings from peers we do not control: counted, logged only now and then.
  let badSubscriptions = 0;
  let badActorMessages = 0;
  let evictedSeen = 0;

  let answered = 0;
  function reply(envelope: Buffer[], r: Respuesta, operacion: string, t0: number): void {
    frontQ.send([...envelope, encode(r)]);
    account(r, operacion, t0, 'zeromq');
  }

  /** Every reply, whichever door it leaves by: counted, timed, and its error (if any) recorded. */
  function account(r: Respuesta, operacion: string, t0: number, canal: Canal): void {
    answered++;
    metrics.requests.inc({ operacion, codigo: r.codigo });
    metrics.latency.observe({ operacion }, (performance.now() - t0) / 1000);
    errors.record(operacion, r, canal);
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

  function onSubscription(msg: Buffer | undefined): void {
    if (!msg || msg.length < 1) return;
    const kind = msg[0];
    const topic = msg.subarray(1).toString('utf8');
    const p = parseTopic(topic);
    if (!p) {
      if (logThisOne(++badSubscriptions, 20)) log.warn({ topic: topic.slice(0, 100), kind, count: badSubscriptions }, 'subscription to a non-actor topic ignored');
      return;
    }
    if (kind === 1) actors.subscribed(p.tipo, p.actorId);
    else if (kind === 0) actors.unsubscribed(p.tipo, p.actorId);
    else return;
    log.debug({ topic, subscribed: kind === 1 }, 'actor subscription');
    actorChanged(p.tipo, p.actorId);
  }

  function onActorFrame(frames: Buffer[]): void {
    // One message or a batch of them (what the actor had queued at once).
    const { items, malformed } = frames.length < 2 ? { items: [], malformed: [undefined] } : parseBatch(mensajeActorSchema, frames[frames.length - 1], MAX_ACTOR_FRAME);
    if (malformed.length > 0) {
      badActorMessages += malformed.length;
      if (logThisOne(badActorMessages, 20)) log.warn({ frames: frames.length, count: badActorMessages }, 'malformed actor message ignored');
    }
    // The schema checks codigo as a string; actors relay GA codes, which are Codigo values.
    for (const m of items as MensajeActor[]) onActorMessage(m);
  }

  function onActorMessage(m: MensajeActor): void {
    switch (m.t) {
      case 'hola':
        actors.hello(m.tipo, m.actorId);
        log.debug({ tipo: m.tipo, actorId: m.actorId, actorPid: m.pid }, 'actor hello');
        break;
      case 'latido':
        actors.heard(m.tipo, m.actorId, m.enCurso);
        break;
      case 'resultado':
        actors.heard(m.tipo, m.actorId);
        log.debug({ opId: m.resultado.id, actorId: m.actorId, codigo: m.resultado.codigo, estado: m.resultado.estado }, 'actor result');
        dispatcher.onResultado(topicFor(m.tipo, m.actorId), m.resultado);
        break;
      case 'calculado':
        actors.heard(m.tipo, m.actorId);
        if (!calcTasks.onResultado(m.actorId, m.resultado)) log.debug({ tarea: m.resultado.id, actorId: m.actorId }, 'calculation result not used (late, repeated or refused)');
        break;
      case 'adios':
        actors.left(m.tipo, m.actorId);
        break;
    }
    actorChanged(m.tipo, m.actorId);
    if (actors.evicted > evictedSeen) {
      evictedSeen = actors.evicted;
      if (logThisOne(evictedSeen, 20)) log.warn({ evicted: evictedSeen, ...actors.sizes() }, 'too many actors that are not subscribed: least recently heard forgotten');
    }
  }

  async function loop(name: string, sock: Router | XPublisher, onMsg: (frames: Buffer[]) => void): Promise<void> {
    const fair = new YieldPoint();
    try {
      for await (const frames of sock) {
        try {
          onMsg(frames);
        } catch (err) {
          log.error({ err, socket: name }, 'message handler failed');
        }
        const turn = fair.pass();
        if (turn) await turn;
      }
    } catch (err) {
      if (!closing) log.error({ err, socket: name }, 'receive loop failed');
    }
  }
  const loops = [
    loop('frontend', frontend, onRequest),
    loop('pub', pub, (frames) => onSubscription(frames[0])),
    loop('backend', backend, onActorFrame),
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
    refused: (r, canal) => account(r, 'invalida', performance.now(), canal),
    async close() {
      if (closing) return;
      closing = true;
      clearInterval(ticker);
      resume.stop();
      // Waiting sync requesters get an answer rather than silence.
      dispatcher.close();
      calculos.close();
      await new Promise((r) => setImmediate(r)); // let those replies reach the queue
      await Promise.all([frontQ.drain(500), pubQ.drain(500)]);
      frontQ.close();
      pubQ.close();
      for (const s of sockets) s.close();
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
      for (const s of sockets) s.close();
      await Promise.all(loops);
      // Its pending sync waiters' timers must not outlive it (their replies go nowhere).
      dispatcher.close();
      calculos.close();
    },
  };
}
