/**
 * Which actors are alive, per operation type, and which one gets the next task.
 * Pure: depends only on a clock, so liveness and strategies are tested without
 * sockets. The GC feeds it XPUB subscription events and backend messages.
 *
 * An actor is live when BOTH hold:
 *  - its topic subscription has reached our XPUB (before that, anything we
 *    publish to it is silently lost: the slow-joiner problem), and
 *  - it was heard (hola / latido / resultado) within `deadMs`.
 */
import { OPERACIONES_ACTOR, type OperacionActor } from '../common/protocol.js';

export interface Clock {
  now(): number;
}

export type Estrategia = 'round-robin' | 'least-load';

export interface ActorInfo {
  tipo: OperacionActor;
  actorId: string;
  subscribed: boolean;
  /** Last time we heard from it; undefined until its first message. */
  lastHeard?: number;
  /** What the actor itself reported in its last heartbeat (informative only). */
  enCursoReportado: number;
  /** Set by adios: it left on purpose and must not be chosen even if still subscribed. */
  left: boolean;
  /** Liveness as of the last refresh(); used to report transitions once. */
  wasLive: boolean;
  since: number;
}

export interface Transitions {
  joined: ActorInfo[];
  died: ActorInfo[];
}

const key = (tipo: string, actorId: string) => `${tipo}.${actorId}`;

/** Splits an XPUB topic "<tipo>.<actorId>" back into its parts; undefined if it is not an actor topic. */
export function parseTopic(topic: string): { tipo: OperacionActor; actorId: string } | undefined {
  const dot = topic.indexOf('.');
  if (dot <= 0) return undefined;
  const tipo = topic.slice(0, dot);
  const actorId = topic.slice(dot + 1);
  if (!(OPERACIONES_ACTOR as readonly string[]).includes(tipo) || actorId.length === 0) return undefined;
  return { tipo: tipo as OperacionActor, actorId };
}

export class ActorRegistry {
  private readonly actors = new Map<string, ActorInfo>();
  private readonly rrCursor = new Map<OperacionActor, number>();

  constructor(
    private readonly opts: { deadMs: number; estrategia: Estrategia; clock: Clock },
  ) {}

  private entry(tipo: OperacionActor, actorId: string): ActorInfo {
    const k = key(tipo, actorId);
    let a = this.actors.get(k);
    if (!a) {
      a = { tipo, actorId, subscribed: false, enCursoReportado: 0, left: false, wasLive: false, since: this.opts.clock.now() };
      this.actors.set(k, a);
    }
    return a;
  }

  subscribed(tipo: OperacionActor, actorId: string): void {
    const a = this.entry(tipo, actorId);
    a.subscribed = true;
    // A fresh subscription after adios means the actor (or a restart with the same id) is back.
    a.left = false;
  }

  unsubscribed(tipo: OperacionActor, actorId: string): void {
    const a = this.actors.get(key(tipo, actorId));
    if (a) a.subscribed = false;
  }

  heard(tipo: OperacionActor, actorId: string, enCurso?: number): void {
    const a = this.entry(tipo, actorId);
    a.lastHeard = this.opts.clock.now();
    if (enCurso !== undefined) a.enCursoReportado = enCurso;
  }

  /** hola after adios: a restarted actor with a fixed id. */
  hello(tipo: OperacionActor, actorId: string): void {
    const a = this.entry(tipo, actorId);
    a.left = false;
    this.heard(tipo, actorId, 0);
  }

  left(tipo: OperacionActor, actorId: string): void {
    const a = this.actors.get(key(tipo, actorId));
    if (a) a.left = true;
  }

  isLive(a: ActorInfo, now = this.opts.clock.now()): boolean {
    return a.subscribed && !a.left && a.lastHeard !== undefined && now - a.lastHeard <= this.opts.deadMs;
  }

  isLiveId(tipo: OperacionActor, actorId: string): boolean {
    const a = this.actors.get(key(tipo, actorId));
    return a !== undefined && this.isLive(a);
  }

  live(tipo: OperacionActor): ActorInfo[] {
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
   */
  choose(tipo: OperacionActor, load: (actorId: string) => number, exclude?: string): string | undefined {
    const all = this.live(tipo);
    const candidates = exclude !== undefined && all.length > 1 ? all.filter((a) => a.actorId !== exclude) : all;
    if (candidates.length === 0) return undefined;
    const cursor = this.rrCursor.get(tipo) ?? 0;
    this.rrCursor.set(tipo, cursor + 1);
    if (this.opts.estrategia === 'round-robin') return candidates[cursor % candidates.length]!.actorId;
    let min = Infinity;
    for (const a of candidates) min = Math.min(min, load(a.actorId));
    const tied = candidates.filter((a) => load(a.actorId) === min);
    return tied[cursor % tied.length]!.actorId;
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
      if (!live && !a.subscribed && (a.lastHeard === undefined || now - a.lastHeard > this.opts.deadMs * 10)) this.actors.delete(k);
    }
    return { joined, died };
  }

  snapshot(): Array<{ tipo: string; actorId: string; vivo: boolean; suscrito: boolean; ultimoLatidoMs?: number; enCursoReportado: number }> {
    const now = this.opts.clock.now();
    return [...this.actors.values()].map((a) => ({
      tipo: a.tipo,
      actorId: a.actorId,
      vivo: this.isLive(a, now),
      suscrito: a.subscribed,
      ultimoLatidoMs: a.lastHeard === undefined ? undefined : now - a.lastHeard,
      enCursoReportado: a.enCursoReportado,
    }));
  }

  liveCounts(): Record<OperacionActor, number> {
    const out = Object.fromEntries(OPERACIONES_ACTOR.map((t) => [t, 0])) as Record<OperacionActor, number>;
    const now = this.opts.clock.now();
    for (const a of this.actors.values()) if (this.isLive(a, now)) out[a.tipo]++;
    return out;
  }
}
