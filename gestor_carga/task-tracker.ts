/**
 * Tasks the GC has handed (or must hand) to actors, until a final result arrives.
 * Pure: a clock, a publish function and a chooser are its only links to the world,
 * so redelivery rules are tested without sockets.
 *
 * States:
 *  - enviada: published to `actorId`, expecting a result before `deadline`;
 *  - en-cola: no live actor of its type; goes out as soon as one appears;
 *  - espera:  the actor reported "storage down" for an async op; re-published at `retryAt`.
 *
 * Re-publishing keeps the op id: the GA applies an id once, so at-least-once
 * delivery still gives exactly-once effect.
 */
import { sameOp, type OperacionActor, type OperacionSolicitada } from '../common/protocol/ps-gc.js';
import type { Tarea } from '../common/protocol/internal.js';
import type { Clock } from './actor-registry.js';

export type Modo = 'sync' | 'async';
export type TaskState = 'enviada' | 'en-cola' | 'espera';
export type RepublishReason = 'plazo' | 'actor-muerto' | 'reintento' | 'cola';

export interface TrackedTask {
  op: OperacionSolicitada;
  modo: Modo;
  state: TaskState;
  /** Last attempt number published (0 = never published). */
  intento: number;
  actorId?: string;
  /** Every actor it was published to: only their results are its outcome (a stranger's is not). */
  holders: Set<string>;
  /**
   * Async: until when its own ledger row's lease (taken by registrar) surely holds, whatever
   * the GC's lease does (009_arriendo_por_gestor.sql). Unset: only the GC's lease covers it.
   */
  leaseUntil?: number;
  /**
   * Sync: its timeout put it in the ledger (Dispatcher.timedOut). Its row will be completed, so
   * it is never dropped unpublished as "certainly not applied".
   */
  enLedger?: boolean;
  deadline?: number;
  retryAt?: number;
  /** How many times storage was reported down for it; drives the backoff. */
  storageFailures: number;
  createdAt: number;
  queuedAt?: number;
}

export interface TrackerDeps {
  clock: Clock;
  /** Sends the task on the actor's topic; must not throw. */
  publish(actorId: string, tarea: Tarea): void;
  /** A live actor for `tipo`, avoiding `exclude` when there is another; undefined if none is live. */
  choose(tipo: OperacionActor, exclude?: string): string | undefined;
  /** Told about every publication after the first one (metrics, logs). */
  onRepublish?(task: TrackedTask, reason: RepublishReason, from?: string): void;
  deadlineMs: number;
  /** Backoff bounds for async ops whose actor found storage down. */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /**
   * Until when this GC's own lease on its async rows certainly holds (the ledger's last renewal
   * plus the lease; undefined: never renewed). An async task is published only while it or the
   * task's own lease holds; past both it is forgotten at once (another GC may publish it now),
   * not at the next lease check.
   */
  gcLeaseUntil?(): number | undefined;
}

/**
 * 'attached': the same op is already tracked (a repeat; it gets that task's outcome).
 * 'conflict': the id is tracked for ANOTHER op; nothing was done (ID_REUTILIZADO).
 */
export type SubmitOutcome = 'published' | 'queued' | 'attached' | 'conflict';

export class TaskTracker {
  private readonly tasks = new Map<string, TrackedTask>();
  private readonly perActor = new Map<string, number>();

  constructor(private readonly d: TrackerDeps) {}

  get size(): number {
    return this.tasks.size;
  }

  get(id: string): TrackedTask | undefined {
    return this.tasks.get(id);
  }

  /** By clave, else the most recent task sent with this client label (`estado` by label). */
  find(idOrLabel: string): TrackedTask | undefined {
    const byKey = this.tasks.get(idOrLabel);
    if (byKey) return byKey;
    let latest: TrackedTask | undefined;
    for (const t of this.tasks.values()) if (t.op.etiqueta === idOrLabel && (!latest || t.createdAt >= latest.createdAt)) latest = t;
    return latest;
  }

  has(id: string): boolean {
    return this.tasks.has(id);
  }

  /** Tasks in flight with one actor, by the GC's own count (used by least-load). */
  load(actorId: string): number {
    return this.perActor.get(actorId) ?? 0;
  }

  /**
   * Tracks an op and publishes it, or queues it when no actor is live. A tracked id is not published twice.
   * `leaseUntil`: an async op's own lease (TrackedTask.leaseUntil).
   */
  submit(op: OperacionSolicitada, modo: Modo, leaseUntil?: number): SubmitOutcome {
    const tracked = this.tasks.get(op.id);
    if (tracked) return sameOp(tracked.op, op) ? 'attached' : 'conflict';
    const task: TrackedTask = { op, modo, state: 'en-cola', intento: 0, holders: new Set(), leaseUntil, storageFailures: 0, createdAt: this.d.clock.now() };
    this.tasks.set(op.id, task);
    return this.dispatch(task) ? 'published' : 'queued';
  }

  /** A final result arrived: forget the task. Returns it, or undefined if it was not tracked. */
  complete(id: string): TrackedTask | undefined {
    const t = this.tasks.get(id);
    if (t) this.forget(t);
    return t;
  }

  /**
   * Storage was down when the actor tried: re-publish later with exponential backoff.
   * Only the actor currently holding the task may push it back; a stale report
   * from an earlier attempt must not disturb the actor now working on it.
   */
  retryLater(id: string, fromActor: string): boolean {
    const t = this.tasks.get(id);
    if (!t || t.state !== 'enviada' || t.actorId !== fromActor) return false;
    this.detach(t);
    const base = this.d.retryBaseMs ?? 200;
    const max = this.d.retryMaxMs ?? 5000;
    t.storageFailures++;
    t.state = 'espera';
    t.retryAt = this.d.clock.now() + Math.min(max, base * 2 ** Math.min(t.storageFailures - 1, 16));
    return true;
  }

  /** The actor died or left: everything it held goes to another live actor (or the queue). */
  actorGone(actorId: string): TrackedTask[] {
    const moved: TrackedTask[] = [];
    const now = this.d.clock.now();
    for (const t of this.tasks.values()) {
      if (t.state === 'enviada' && t.actorId === actorId) {
        if (this.leaseLapsed(t, now)) {
          this.forget(t);
          continue;
        }
        this.detach(t);
        if (this.dispatch(t, actorId)) this.d.onRepublish?.(t, 'actor-muerto', actorId);
        moved.push(t);
      }
    }
    return moved;
  }

  /**
   * Periodic work: re-publish tasks past their deadline or backoff, and place
   * queued tasks once an actor of their type is live.
   */
  tick(): void {
    const now = this.d.clock.now();
    const noActor = new Set<OperacionActor>();
    for (const t of this.tasks.values()) {
      const due =
        t.state === 'enviada' ? (t.deadline !== undefined && now >= t.deadline ? 'plazo' : undefined)
        : t.state === 'espera' ? (t.retryAt !== undefined && now >= t.retryAt ? 'reintento' : undefined)
        : 'cola';
      if (due === undefined) continue;
      if (this.leaseLapsed(t, now)) {
        this.forget(t);
        continue;
      }
      if (due === 'plazo') {
        const from = t.actorId;
        this.detach(t);
        if (this.dispatch(t, from)) this.d.onRepublish?.(t, 'plazo', from);
      } else if (due === 'reintento') {
        if (this.dispatch(t)) this.d.onRepublish?.(t, 'reintento');
      } else if (!noActor.has(t.op.operacion)) {
        const wasPublished = t.intento > 0;
        if (this.dispatch(t)) {
          if (wasPublished) this.d.onRepublish?.(t, 'cola');
        } else noActor.add(t.op.operacion);
      }
    }
  }

  /**
   * Forgets the async tasks whose own lease has ended too (the GC's lapsed: another GC may hold
   * them now, and publishes them); returns how many. Results that still come for them are ignored.
   */
  dropAsync(): number {
    const now = this.d.clock.now();
    let n = 0;
    for (const t of [...this.tasks.values()]) {
      if (t.modo !== 'async' || (t.leaseUntil !== undefined && t.leaseUntil > now)) continue;
      this.forget(t);
      n++;
    }
    return n;
  }

  /** An async task neither its own lease nor the GC's covers any more (see TrackerDeps.gcLeaseUntil). */
  private leaseLapsed(t: TrackedTask, now: number): boolean {
    if (t.modo !== 'async' || !this.d.gcLeaseUntil) return false;
    if (t.leaseUntil !== undefined && t.leaseUntil > now) return false;
    const gc = this.d.gcLeaseUntil();
    return gc === undefined || gc <= now;
  }

  private forget(t: TrackedTask): void {
    this.detach(t);
    this.tasks.delete(t.op.id);
  }

  /** Queued tasks of one mode older than `ms` (e.g. sync ops that found no actor). */
  queuedLongerThan(ms: number, modo: Modo): TrackedTask[] {
    const now = this.d.clock.now();
    return [...this.tasks.values()].filter((t) => t.state === 'en-cola' && t.modo === modo && t.queuedAt !== undefined && now - t.queuedAt >= ms);
  }

  counts(): { enviada: number; 'en-cola': number; espera: number; total: number } {
    const c = { enviada: 0, 'en-cola': 0, espera: 0, total: this.tasks.size };
    for (const t of this.tasks.values()) c[t.state]++;
    return c;
  }

  /** Publishes to a chosen actor; queues when none is live. Returns whether it was published. */
  private dispatch(t: TrackedTask, exclude?: string): boolean {
    const actorId = this.d.choose(t.op.operacion, exclude);
    const now = this.d.clock.now();
    if (actorId === undefined) {
      if (t.state !== 'en-cola') t.queuedAt = now;
      t.queuedAt ??= now;
      t.state = 'en-cola';
      t.actorId = undefined;
      t.deadline = undefined;
      return false;
    }
    t.intento++;
    t.state = 'enviada';
    t.actorId = actorId;
    t.holders.add(actorId);
    t.queuedAt = undefined;
    t.retryAt = undefined;
    // Later attempts get longer deadlines: a slow GA (failover) should not turn
    // into a storm of duplicate publications.
    t.deadline = now + this.d.deadlineMs * Math.min(t.intento, 4);
    this.perActor.set(actorId, this.load(actorId) + 1);
    this.d.publish(actorId, { ...t.op, intento: t.intento });
    return true;
  }

  private detach(t: TrackedTask): void {
    if (t.state === 'enviada' && t.actorId !== undefined) {
      const n = this.load(t.actorId) - 1;
      if (n > 0) this.perActor.set(t.actorId, n);
      else this.perActor.delete(t.actorId);
    }
    t.actorId = undefined;
    t.deadline = undefined;
  }
}
