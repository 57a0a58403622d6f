/**
 * Which actors are alive, per operation type, and which one gets the next task.
 * Pure: depends only on a clock, so liveness and strategies are tested without
 * sockets. The GC feeds it XPUB subscription events and backend messages.
 *
 * An actor is live when BOTH hold:
 *  - its topic subscription has reached our XPUB (before that, anything we
 *    publish to it is silently lost: the slow-joiner problem), and
 *  - it was heard (hola / latido / resultado) within `deadMs`.
 *
 * Anyone who can reach the backend port can make entries (a hola with a made-up id),
 * so entries that are not subscribed, which can never be chosen, are capped: past
 * `maxUnsubscribed` the least recently heard one is forgotten. A real actor that
 * loses its entry this way (its hola came before its subscription) is known again
 * at its subscription and next heartbeat.
 *
 * Anyone who can reach the PUB port can subscribe to made-up actor topics too (an
 * XSUB with no send limit: half a million of them grew the GC to 500 MB and slowed
 * every choice). A subscription makes no entry until its actor is heard: it waits in
 * a set of its own, capped at `maxPendingSubscriptions` (oldest forgotten first). A
 * real actor is heard within milliseconds of subscribing; only a flood of that size
 * in that moment could push its subscription out.
 *
 * Two processes started with one actor id (a copied .env) share one entry and one
 * topic: both get every task of it (the GA applies each op once, so nothing is done
 * twice, but half the work is wasted and the status shows one actor where two run).
 * Each connection to the backend has its own routing id, so the entry notes the one it
 * was last heard through: a new one is a restart or a reconnection, while hearing
 * again, within `deadMs`, the one it had just replaced means two processes take turns
 * (`idRepetido`).
 */
import { OPERACIONES_ACTOR, type OperacionActor } from '../common/protocol/ps-gc.js';
import { actorIdSchema, TIPOS_ACTOR, TOPIC_END, type TipoActor } from '../common/protocol/internal.js';

export interface Clock {
  now(): number;
}

export type Estrategia = 'round-robin' | 'least-load' | 'concentrada';

/**
 * 'concentrada' keeps sending to the same actor (the first live one by id, the same
 * choice in every GC) while it holds fewer than this many tasks of the type: one
 * process then gets the work of many requests per wake and batches it, instead of
 * several processes each woken for a trickle. Past the bound it falls back to the
 * least loaded. The others stay live and take over at once if it dies.
 */
export const CONCENTRACION_MAX = 32;

export interface ActorInfo {
  tipo: TipoActor;
  actorId: string;
  subscribed: boolean;
  /** Last time we heard from it; undefined until its first message. */
  lastHeard?: number;
  /** What the actor itself reported in its last heartbeat (informative only). */
  enCursoReportado: number;
  /** Set by adios: it left on purpose and must not be chosen even if still subscribed. */
  left: boolean;
  /** When the adios came (undefined: none since it was last known to be here). */
  leftAt?: number;
  /** Liveness as of the last refresh(); used to report transitions once. */
  wasLive: boolean;
  since: number;
  /** Routing id of the connection it was last heard through, and the one before it with when that was last heard. */
  via?: string;
  previousVia?: string;
  previousViaHeard?: number;
  /** Turns (heard again through the connection just replaced) in the current run of them: how many, the first, the last. */
  turns: number;
  firstTurnAt?: number;
  lastTurnAt?: number;
}

export interface Transitions {
  joined: ActorInfo[];
  died: ActorInfo[];
}

const key = (tipo: string, actorId: string) => `${tipo}.${actorId}`;

/** Far above any real deployment's actor count; keeps a flood of made-up ids to a bounded map. */
export const MAX_UNSUBSCRIBED_ACTORS = 1000;
/** Turns between two connections that make a repeated id (see noteVia). */
const TURNS = 3;
/** Subscriptions kept for actors not heard yet (see above). */
const MAX_PENDING_SUBSCRIPTIONS = 10_000;

/**
 * Splits an XPUB topic "<tipo>.<actorId>|" (topicFor) back into its parts; undefined if it is
 * not an actor topic. The actor id follows the same rule as in the actors' own messages: a subscription
 * with a 64 KiB or binary "id" (found by the abuse campaign) must not become a registry entry.
 */
export function parseTopic(topic: string): { tipo: TipoActor; actorId: string } | undefined {
  const dot = topic.indexOf('.');
  if (dot <= 0 || !topic.endsWith(TOPIC_END)) return undefined;
  const tipo = topic.slice(0, dot);
  const actorId = topic.slice(dot + 1, -TOPIC_END.length);
  if (!(TIPOS_ACTOR as readonly string[]).includes(tipo) || !actorIdSchema.safeParse(actorId).success) return undefined;
  return { tipo: tipo as TipoActor, actorId };
}

export class ActorRegistry {
  private readonly actors = new Map<string, ActorInfo>();
  private readonly rrCursor = new Map<TipoActor, number>();
  /** Keys of the entries that are not subscribed, least recently heard first. */
  private readonly unsubscribedKeys = new Set<string>();
  /** Subscribed keys of actors not heard yet, oldest first (no entry until heard). */
  private readonly pendingSubscriptions = new Set<string>();
  private evictedCount = 0;
  private droppedSubscriptionsCount = 0;

  constructor(
    private readonly opts: { deadMs: number; estrategia: Estrategia; clock: Clock; maxUnsubscribed?: number; maxPendingSubscriptions?: number },
  ) {}

  /** Subscriptions of never-heard actors forgotten because too many waited. */
  get droppedSubscriptions(): number {
    return this.droppedSubscriptionsCount;
  }

  /** Entries forgotten because too many were not subscribed. */
  get evicted(): number {
    return this.evictedCount;
  }

  /** Entries kept: all, and those not subscribed (the capped kind). */
  sizes(): { total: number; noSuscritos: number; suscripcionesSinActor: number } {
    return { total: this.actors.size, noSuscritos: this.unsubscribedKeys.size, suscripcionesSinActor: this.pendingSubscriptions.size };
  }

  private entry(tipo: TipoActor, actorId: string): ActorInfo {
    const k = key(tipo, actorId);
    let a = this.actors.get(k);
    if (!a) {
      const subscribed = this.pendingSubscriptions.delete(k);
      a = { tipo, actorId, subscribed, enCursoReportado: 0, left: false, wasLive: false, since: this.opts.clock.now(), turns: 0 };
      this.actors.set(k, a); // placed among the unsubscribed by heard() (subscribed() never is)
    }
    return a;
  }

  /** (Re)places `k` as the most recent unsubscribed entry and evicts the oldest past the cap. O(1) amortised. */
  private markUnsubscribed(k: string): void {
    this.unsubscribedKeys.delete(k);
    this.unsubscribedKeys.add(k);
    const max = this.opts.maxUnsubscribed ?? MAX_UNSUBSCRIBED_ACTORS;
    if (this.unsubscribedKeys.size <= max) return;
    for (const old of this.unsubscribedKeys) {
      if (this.unsubscribedKeys.size <= max) break;
      // Never the entry being touched, nor one whose death refresh() has yet to report
      // (an actor that just unsubscribed: its tasks must still be moved).
      if (old === k || this.actors.get(old)?.wasLive) continue;
      this.unsubscribedKeys.delete(old);
      this.actors.delete(old);
      this.evictedCount++;
    }
  }

  subscribed(tipo: TipoActor, actorId: string): void {
    const k = key(tipo, actorId);
    const a = this.actors.get(k);
    if (!a) {
      this.pendingSubscriptions.delete(k);
      this.pendingSubscriptions.add(k);
      const max = this.opts.maxPendingSubscriptions ?? MAX_PENDING_SUBSCRIPTIONS;
      for (const old of this.pendingSubscriptions) {
        if (this.pendingSubscriptions.size <= max) break;
        this.pendingSubscriptions.delete(old);
        this.droppedSubscriptionsCount++;
      }
      return;
    }
    a.subscribed = true;
    this.unsubscribedKeys.delete(k);
    // A fresh subscription after adios means the actor (or a restart with the same id) is back.
    a.left = false;
  }

  unsubscribed(tipo: TipoActor, actorId: string): void {
    const k = key(tipo, actorId);
    this.pendingSubscriptions.delete(k);
    const a = this.actors.get(k);
    if (!a) return;
    a.subscribed = false;
    this.markUnsubscribed(k);
  }

  /**
   * `via`: the routing id of the connection it came through (see the top of the file).
   * True when this message shows, for the first time in a while, two processes using the id.
   */
  heard(tipo: TipoActor, actorId: string, enCurso?: number, via?: string): boolean {
    const a = this.entry(tipo, actorId);
    const now = this.opts.clock.now();
    const repeated = via === undefined ? false : this.noteVia(a, via, now);
    a.lastHeard = now;
    // Still beating well after its adios: the adios was not its own (forged over plain ZeroMQ,
    // found by the abuse campaign). A leaving actor stops beating within its 1 s drain.
    if (a.left && a.leftAt !== undefined && a.lastHeard - a.leftAt > 2 * this.opts.deadMs) a.left = false;
    if (enCurso !== undefined) a.enCursoReportado = enCurso;
    if (!a.subscribed) this.markUnsubscribed(key(tipo, actorId));
    return repeated;
  }

  /** hola after adios: a restarted actor with a fixed id. */
  hello(tipo: TipoActor, actorId: string, via?: string): boolean {
    const a = this.entry(tipo, actorId);
    a.left = false;
    return this.heard(tipo, actorId, 0, via);
  }

  /**
   * Two processes, one id: at least TURNS turns, none further from the one before than this
   * window, spread over at least half of deadMs (a process beats every deadMs/4 or faster).
   * Not fewer, nor in a burst: a dead connection's last messages, read in turn with its
   * successor's first ones while the GC was behind, make a few turns within milliseconds.
   */
  private get turnsWindowMs(): number {
    return 4 * this.opts.deadMs;
  }

  private noteVia(a: ActorInfo, via: string, now: number): boolean {
    if (a.via === via) return false;
    const turn = a.previousVia === via && a.previousViaHeard !== undefined && now - a.previousViaHeard <= this.opts.deadMs;
    a.previousVia = a.via;
    a.previousViaHeard = a.lastHeard;
    a.via = via;
    if (!turn) return false;
    const wasRepeated = this.isRepeated(a, now);
    if (a.lastTurnAt === undefined || now - a.lastTurnAt > this.turnsWindowMs) {
      a.turns = 0;
      a.firstTurnAt = now;
    }
    a.turns++;
    a.lastTurnAt = now;
    return !wasRepeated && this.isRepeated(a, now);
  }

  private isRepeated(a: ActorInfo, now: number): boolean {
    const { firstTurnAt: first, lastTurnAt: last } = a;
    return a.turns >= TURNS && first !== undefined && last !== undefined && now - last <= this.turnsWindowMs && last - first >= this.opts.deadMs / 2;
  }

  /** Actors ("tipo.actorId") heard lately from two processes at once. */
  repeatedIds(): string[] {
    const now = this.opts.clock.now();
    return [...this.actors.values()].filter((a) => this.isRepeated(a, now)).map((a) => key(a.tipo, a.actorId));
  }

  left(tipo: TipoActor, actorId: string): void {
    const a = this.actors.get(key(tipo, actorId));
    if (a) {
      a.left = true;
      a.leftAt = this.opts.clock.now();
    }
  }

  isLive(a: ActorInfo, now = this.opts.clock.now()): boolean {
    return a.subscribed && !a.left && a.lastHeard !== undefined && now - a.lastHeard <= this.opts.deadMs;
  }

  isLiveId(tipo: TipoActor, actorId: string): boolean {
    const a = this.actors.get(key(tipo, actorId));
    return a !== undefined && this.isLive(a);
  }

  /** Live and heard within `ms`: its heartbeats are current (a busy actor still beats; a frozen one does not). */
  heardWithin(tipo: TipoActor, actorId: string, ms: number): boolean {
    const a = this.actors.get(key(tipo, actorId));
    const now = this.opts.clock.now();
    return a !== undefined && this.isLive(a, now) && now - a.lastHeard! <= ms;
  }

  live(tipo: TipoActor): ActorInfo[] {
    const now = this.opts.clock.now();
    const out: ActorInfo[] = [];
    for (const a of this.actors.values()) if (a.tipo === tipo && this.isLive(a, now)) out.push(a);
    // Stable order so round robin is predictable.
    return out.sort((x, y) => (x.actorId < y.actorId ? -1 : x.actorId > y.actorId ? 1 : 0));
  }

  /**
   * One live actor for a task of `tipo`, or undefined when none is live.
   * `load` is the GC's own count of tasks in flight per actor (reported counts lag).
   * `exclude` avoids the actor that just missed a deadline, unless it is the only one.
   * `estrategia` overrides the configured one for this choice (calculations: see gc.ts).
   */
  choose(tipo: TipoActor, load: (actorId: string) => number, exclude?: string, estrategia: Estrategia = this.opts.estrategia): string | undefined {
    const all = this.live(tipo);
    const candidates = exclude !== undefined && all.length > 1 ? all.filter((a) => a.actorId !== exclude) : all;
    if (candidates.length === 0) return undefined;
    const cursor = this.rrCursor.get(tipo) ?? 0;
    this.rrCursor.set(tipo, cursor + 1);
    if (estrategia === 'round-robin') return candidates[cursor % candidates.length]!.actorId;
    if (estrategia === 'concentrada') {
      // live() is in id order: the first actor below the bound.
      const first = candidates.find((a) => load(a.actorId) < CONCENTRACION_MAX);
      if (first) return first.actorId;
    }
    let min = Infinity;
    for (const a of candidates) min = Math.min(min, load(a.actorId));
    const tied = candidates.filter((a) => load(a.actorId) === min);
    return tied[cursor % tied.length]!.actorId;
  }

  /**
   * `refresh()` for one actor: O(1), for the per-message path (a flood of messages
   * from unknown ids must not rescan the whole registry each time).
   */
  refreshOne(tipo: TipoActor, actorId: string): Transitions {
    const a = this.actors.get(key(tipo, actorId));
    if (!a) return { joined: [], died: [] };
    const live = this.isLive(a);
    if (live === a.wasLive) return { joined: [], died: [] };
    a.wasLive = live;
    return live ? { joined: [a], died: [] } : { joined: [], died: [a] };
  }

  /**
   * Recomputes liveness and reports who joined and who died since the last call.
   * Dead entries that are also unsubscribed are forgotten so the map stays small.
   */
  refresh(): Transitions {
    const now = this.opts.clock.now();
    const joined: ActorInfo[] = [];
    const died: ActorInfo[] = [];
    for (const [k, a] of this.actors) {
      const live = this.isLive(a, now);
      if (live && !a.wasLive) joined.push(a);
      if (!live && a.wasLive) died.push(a);
      a.wasLive = live;
      if (!live && !a.subscribed && (a.lastHeard === undefined || now - a.lastHeard > this.opts.deadMs * 10)) {
        this.actors.delete(k);
        this.unsubscribedKeys.delete(k);
      }
    }
    return { joined, died };
  }

  snapshot(): Array<{ tipo: string; actorId: string; vivo: boolean; suscrito: boolean; ultimoLatidoMs?: number; enCursoReportado: number; idRepetido?: true }> {
    const now = this.opts.clock.now();
    return [...this.actors.values()].map((a) => ({
      tipo: a.tipo,
      actorId: a.actorId,
      vivo: this.isLive(a, now),
      suscrito: a.subscribed,
      ultimoLatidoMs: a.lastHeard === undefined ? undefined : now - a.lastHeard,
      enCursoReportado: a.enCursoReportado,
      ...(this.isRepeated(a, now) ? { idRepetido: true as const } : {}),
    }));
  }

  liveCounts(): Record<OperacionActor, number> {
    const out = Object.fromEntries(OPERACIONES_ACTOR.map((t) => [t, 0])) as Record<OperacionActor, number>;
    const now = this.opts.clock.now();
    // Library types only: calculo actors are counted apart (live('calculo')).
    for (const a of this.actors.values()) if (a.tipo !== 'calculo' && this.isLive(a, now)) out[a.tipo]++;
    return out;
  }
}
