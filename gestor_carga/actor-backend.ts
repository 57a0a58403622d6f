/**
 * The GC's side of its actors: what their subscriptions (XPUB) and messages (backend
 * ROUTER) mean for the registry, the library tasks and the calculation tasks, and the
 * periodic sweep (liveness, redelivery, starvation, gauges). No sockets: gc.ts feeds it
 * frames and runs `maintain()` on its ticker.
 */
import { OPERACIONES_ACTOR } from '../common/protocol/ps-gc.js';
import { parseBatch } from '../common/protocol/frame.js';
import { mensajeActorSchema, topicFor, type MensajeActor, type TipoActor } from '../common/protocol/internal.js';
import { TIPO_CALCULO } from '../common/protocol/calc.js';
import { logThisOne, type Logger } from '../common/logger.js';
import { parseTopic, type ActorRegistry, type Transitions } from './actor-registry.js';
import type { TaskTracker } from './task-tracker.js';
import type { Dispatcher } from './dispatcher.js';
import type { CalcTasks } from './calc-tasks.js';
import type { GcMetrics } from './metrics.js';

/** Actor frames are small; anything bigger is a broken or hostile peer. */
export const MAX_ACTOR_FRAME = 256 * 1024;

export interface ActorBackendParts {
  actors: ActorRegistry;
  tracker: TaskTracker;
  calcTasks: CalcTasks;
  dispatcher: Dispatcher;
  metrics: GcMetrics;
  log: Logger;
}

export class ActorBackend {
  // Per-message warnings from peers we do not control: counted, logged only now and then.
  private badSubscriptions = 0;
  private badActorMessages = 0;
  private evictedSeen = 0;
  private droppedSubscriptionsSeen = 0;
  private repeatedIdsSeen = 0;

  constructor(private readonly p: ActorBackendParts) {}

  /** One XPUB subscription message: byte 1/0 (subscribe/unsubscribe) + topic "<tipo>.<actorId>|" (topicFor). */
  onSubscription(msg: Buffer | undefined): void {
    if (!msg || msg.length < 1) return;
    const kind = msg[0];
    const topic = msg.subarray(1).toString('utf8');
    const t = parseTopic(topic);
    if (!t) {
      if (logThisOne(++this.badSubscriptions, 20)) this.p.log.warn({ topic: topic.slice(0, 100), kind, count: this.badSubscriptions }, 'subscription to a non-actor topic ignored');
      return;
    }
    if (kind === 1) this.p.actors.subscribed(t.tipo, t.actorId);
    else if (kind === 0) this.p.actors.unsubscribed(t.tipo, t.actorId);
    else return;
    const dropped = this.p.actors.droppedSubscriptions;
    if (dropped > this.droppedSubscriptionsSeen) {
      this.droppedSubscriptionsSeen = dropped;
      if (logThisOne(dropped, 20)) this.p.log.warn({ dropped, ...this.p.actors.sizes() }, 'too many subscriptions of actors never heard: oldest forgotten');
    }
    this.p.log.debug({ topic, subscribed: kind === 1 }, 'actor subscription');
    this.changed(t.tipo, t.actorId);
  }

  /** One backend frame set: [identity, JSON] holding one message or a batch of them. */
  onFrame(frames: Buffer[]): void {
    const { items, malformed } = frames.length < 2 ? { items: [], malformed: [undefined] } : parseBatch(mensajeActorSchema, frames[frames.length - 1], MAX_ACTOR_FRAME);
    if (malformed.length > 0) {
      this.badActorMessages += malformed.length;
      if (logThisOne(this.badActorMessages, 20)) this.p.log.warn({ frames: frames.length, count: this.badActorMessages }, 'malformed actor message ignored');
    }
    // The connection it came through: one actor id heard through two at once is two processes.
    const via = frames.length >= 2 ? frames[0]!.toString('latin1') : undefined;
    // The schema checks codigo as a string; actors relay GA codes, which are Codigo values.
    for (const m of items as MensajeActor[]) this.onMessage(m, via);
  }

  private onMessage(m: MensajeActor, via: string | undefined): void {
    const { actors, log } = this.p;
    let repeated = false;
    switch (m.t) {
      case 'hola':
        repeated = actors.hello(m.tipo, m.actorId, via);
        log.debug({ tipo: m.tipo, actorId: m.actorId, actorPid: m.pid }, 'actor hello');
        break;
      case 'latido':
        repeated = actors.heard(m.tipo, m.actorId, m.enCurso, via);
        break;
      case 'resultado':
        repeated = actors.heard(m.tipo, m.actorId, undefined, via);
        log.debug({ opId: m.resultado.id, actorId: m.actorId, codigo: m.resultado.codigo, estado: m.resultado.estado }, 'actor result');
        this.p.dispatcher.onResultado(topicFor(m.tipo, m.actorId), m.resultado);
        break;
      case 'calculado':
        repeated = actors.heard(m.tipo, m.actorId, undefined, via);
        if (!this.p.calcTasks.onResultado(m.actorId, m.resultado)) log.debug({ tarea: m.resultado.id, actorId: m.actorId }, 'calculation result not used (late, repeated or refused)');
        break;
      case 'adios':
        actors.left(m.tipo, m.actorId);
        break;
    }
    if (repeated && logThisOne(++this.repeatedIdsSeen, 20)) {
      log.error({ tipo: m.tipo, actorId: m.actorId, count: this.repeatedIdsSeen }, 'two actor processes use the same ACTOR_ID: each gets every task of it (half the work is wasted); give each process its own id');
    }
    this.changed(m.tipo, m.actorId);
    if (actors.evicted > this.evictedSeen) {
      this.evictedSeen = actors.evicted;
      if (logThisOne(this.evictedSeen, 20)) log.warn({ evicted: this.evictedSeen, ...actors.sizes() }, 'too many actors that are not subscribed: least recently heard forgotten');
    }
  }

  /** Liveness transitions, redelivery and starvation checks; O(actors + tasks), run by the GC's ticker. */
  maintain(): void {
    const { actors, tracker, calcTasks, dispatcher, metrics } = this.p;
    this.onTransitions(actors.refresh());
    tracker.tick();
    calcTasks.tick();
    dispatcher.checkStarved();
    const live = actors.liveCounts();
    for (const t of OPERACIONES_ACTOR) metrics.liveActors.set({ tipo: t }, live[t]);
    metrics.liveActors.set({ tipo: TIPO_CALCULO }, actors.live(TIPO_CALCULO).length);
    metrics.repeatedActorIds.set(actors.repeatedIds().length);
    const c = tracker.counts();
    metrics.tasksInFlight.set({ estado: 'enviada' }, c.enviada);
    metrics.tasksInFlight.set({ estado: 'en-cola' }, c['en-cola']);
    metrics.tasksInFlight.set({ estado: 'espera' }, c.espera);
    metrics.syncWaiting.set(dispatcher.waiting());
  }

  /**
   * After a message or subscription of one actor: only that actor is re-checked (O(1)),
   * so a flood from unknown or misconfigured peers costs little per message. Only a real
   * join or departure runs the full maintain(), so queued work goes out, or a leaving
   * actor's work moves, at once rather than at the next tick.
   */
  private changed(tipo: TipoActor, actorId: string): void {
    const t = this.p.actors.refreshOne(tipo, actorId);
    if (t.joined.length === 0 && t.died.length === 0) return;
    this.onTransitions(t);
    this.maintain();
  }

  private onTransitions({ joined, died }: Transitions): void {
    const { tracker, calcTasks, log } = this.p;
    for (const a of joined) log.info({ tipo: a.tipo, actorId: a.actorId }, 'actor joined');
    for (const a of died) {
      const moved = a.tipo === TIPO_CALCULO ? calcTasks.actorGone(a.actorId) : tracker.actorGone(topicFor(a.tipo, a.actorId)).length;
      log.info({ tipo: a.tipo, actorId: a.actorId, tasksMoved: moved, left: a.left }, a.left ? 'actor left' : 'actor dead');
    }
  }
}
