/**
 * Calculation tasks the GC has handed to `calculo` actors, until a result is accepted.
 * Pure, like task-tracker.ts: a clock, a publish function and a chooser are its only links.
 *
 * Redelivery: its actor died → published again to another live actor (the registry's
 * strategy, avoiding the one that failed); past its deadline (longer on each attempt) only
 * when its actor's heartbeat is no longer current (frozen, cut off): a busy actor that still
 * beats keeps its task, since a copy elsewhere would only double the work. No live actor →
 * queued, and a task queued for `noActorMs` fails SIN_ACTORES.
 *
 * A task its caller gave up on (timeout, a sibling part failed) stays counted, as
 * `abandonada`, until its actor answers or dies (or `abandonedMs` passes): the actor is still
 * computing it, and the GC's admission cap (calc-service.ts) counts `size`, so work a caller
 * abandoned cannot pile up at the actors. It is not TaskTracker because calculations have no ledger:
 * each task belongs to one caller waiting for it (a request, or one part of a
 * suma_cuadrados), nothing is durable or keyed by the request's clave, and a result can be
 * checked and refused (a wrong part goes to another actor).
 */
import type { CalculoTarea, ResultadoCalculo, TareaCalculo } from '../common/protocol/calc.js';
import type { Clock } from './actor-registry.js';

export interface Entrega {
  /** The actor whose result was accepted. */
  actorId: string;
  /** Publications of the task, this one included. */
  intentos: number;
  /** Actors that held the task before and did not deliver (died, missed the deadline, answered wrong), in order. */
  reasignadaDesde: string[];
}

export interface CalcTaskHandlers {
  done(r: ResultadoCalculo, e: Entrega): void;
  fail(codigo: 'SIN_ACTORES' | 'ERROR_INTERNO', mensaje: string): void;
  /** Whether a result can be right (any code); a refused one is sent to another actor. */
  check?(r: ResultadoCalculo): boolean;
}

/** What scatter/gather and the calc service need from the tracker. */
export interface TaskPort {
  submit(calculo: CalculoTarea, h: CalcTaskHandlers, prefer?: string): string;
  cancel(id: string): void;
}

export type CalcRepublishReason = 'plazo' | 'actor-muerto' | 'rechazo' | 'cola';

export interface CalcTasksDeps {
  clock: Clock;
  deadlineMs: number;
  noActorMs: number;
  /** Results refused by `check` before the task fails ERROR_INTERNO (default 3). */
  maxRechazos?: number;
  /** Sends the task on the actor's topic; must not throw. */
  publish(actorId: string, tarea: TareaCalculo): void;
  /** A live calculo actor, avoiding `exclude` when there is another; undefined if none is live. */
  choose(exclude?: string): string | undefined;
  isLive(actorId: string): boolean;
  /** Live and heard within a few heartbeats: its holder is working, so a task past its deadline stays with it. */
  isCurrent(actorId: string): boolean;
  /** An abandoned task whose actor neither answers nor dies is forgotten after this long (default 4 × deadlineMs). */
  abandonedMs?: number;
  makeId(): string;
  onRepublish?(id: string, reason: CalcRepublishReason, from?: string): void;
}

interface CalcTask {
  id: string;
  calculo: CalculoTarea;
  h: CalcTaskHandlers;
  intento: number;
  actorId?: string;
  deadline?: number;
  queuedAt?: number;
  previos: string[];
  rechazos: number;
  /** When its caller gave up; its actor may still be computing it. */
  abandonedAt?: number;
}

/** The message a caller gets when no calculo actor is live: the original system's words. */
export const SIN_WORKERS = 'Ningún worker disponible: no hay actores de cálculo vivos; reintente';

export class CalcTasks implements TaskPort {
  private readonly tasks = new Map<string, CalcTask>();
  private readonly perActor = new Map<string, number>();

  constructor(private readonly d: CalcTasksDeps) {}

  get size(): number {
    return this.tasks.size;
  }

  /** Tasks held by one actor (least-load). */
  load(actorId: string): number {
    return this.perActor.get(actorId) ?? 0;
  }

  /** `size` is their sum: what the admission cap counts. */
  counts(): { enviada: number; 'en-cola': number; abandonada: number } {
    let enviada = 0;
    let abandonada = 0;
    for (const t of this.tasks.values()) {
      if (t.abandonedAt !== undefined) abandonada++;
      else if (t.actorId !== undefined) enviada++;
    }
    return { enviada, 'en-cola': this.tasks.size - enviada - abandonada, abandonada };
  }

  /** Publishes a task (to `prefer` when it is live, else to the registry's choice) or queues it. Returns its id. */
  submit(calculo: CalculoTarea, h: CalcTaskHandlers, prefer?: string): string {
    const t: CalcTask = { id: this.d.makeId(), calculo, h, intento: 0, previos: [], rechazos: 0 };
    this.tasks.set(t.id, t);
    this.dispatch(t, undefined, prefer);
    return t.id;
  }

  /**
   * The caller no longer waits (its request timed out, or a sibling part failed). A task a
   * live actor holds stays counted, abandoned, until that actor answers or dies; a queued one
   * (or one whose actor is gone) is forgotten at once.
   */
  cancel(id: string): void {
    const t = this.tasks.get(id);
    if (!t || t.abandonedAt !== undefined) return;
    if (t.actorId !== undefined && this.d.isLive(t.actorId)) t.abandonedAt = this.d.clock.now();
    else this.forget(t);
  }

  /**
   * A result from an actor. Accepted from whoever held the task, also an earlier holder
   * that was merely late (a calculation is the same wherever it runs); unknown ids (late
   * copies of finished tasks) and actors that never held the task are ignored. Returns
   * whether it was accepted.
   */
  onResultado(actorId: string, r: ResultadoCalculo): boolean {
    const t = this.tasks.get(r.id);
    if (!t || (t.actorId !== actorId && !t.previos.includes(actorId))) return false;
    if (t.abandonedAt !== undefined) {
      // Nobody waits for it: its holder is now free of it.
      if (t.actorId === actorId) this.forget(t);
      return false;
    }
    if (t.h.check && !t.h.check(r)) {
      t.rechazos++;
      if (t.rechazos >= (this.d.maxRechazos ?? 3)) {
        this.forget(t);
        t.h.fail('ERROR_INTERNO', `Resultado parcial incorrecto ${t.rechazos} veces (último de ${actorId}); cálculo abandonado`);
        return false;
      }
      // Only the current holder's wrong answer moves the task: an earlier holder's does not disturb it.
      if (t.actorId === actorId) {
        this.detach(t);
        t.previos.push(actorId);
        if (this.dispatch(t, actorId)) this.d.onRepublish?.(t.id, 'rechazo', actorId);
      }
      return false;
    }
    this.forget(t);
    t.h.done(r, { actorId, intentos: t.intento, reasignadaDesde: t.previos });
    return true;
  }

  /** The actor died or left: what it held goes to another live actor (or the queue). */
  actorGone(actorId: string): number {
    let moved = 0;
    for (const t of this.tasks.values()) {
      if (t.actorId !== actorId) continue;
      if (t.abandonedAt !== undefined) {
        this.forget(t);
        continue;
      }
      this.detach(t);
      t.previos.push(actorId);
      if (this.dispatch(t, actorId)) this.d.onRepublish?.(t.id, 'actor-muerto', actorId);
      moved++;
    }
    return moved;
  }

  /**
   * Periodic: re-publish tasks past their deadline whose actor is no longer beating, place
   * queued ones, fail those queued too long, forget abandoned ones past `abandonedMs`.
   */
  tick(): void {
    const now = this.d.clock.now();
    for (const t of this.tasks.values()) {
      if (t.abandonedAt !== undefined) {
        if (now - t.abandonedAt >= (this.d.abandonedMs ?? 4 * this.d.deadlineMs) || t.actorId === undefined || !this.d.isLive(t.actorId)) this.forget(t);
      } else if (t.actorId !== undefined) {
        if (t.deadline === undefined || now < t.deadline || this.d.isCurrent(t.actorId)) continue;
        const from = t.actorId;
        this.detach(t);
        t.previos.push(from);
        if (this.dispatch(t, from)) this.d.onRepublish?.(t.id, 'plazo', from);
      } else if (this.dispatch(t)) {
        this.d.onRepublish?.(t.id, 'cola');
      } else if (now - (t.queuedAt ?? now) >= this.d.noActorMs) {
        this.tasks.delete(t.id);
        t.h.fail('SIN_ACTORES', SIN_WORKERS);
      }
    }
  }

  private dispatch(t: CalcTask, exclude?: string, prefer?: string): boolean {
    const now = this.d.clock.now();
    const actorId = prefer !== undefined && this.d.isLive(prefer) ? prefer : this.d.choose(exclude);
    if (actorId === undefined) {
      t.queuedAt ??= now;
      return false;
    }
    t.intento++;
    t.actorId = actorId;
    t.queuedAt = undefined;
    // Later attempts get longer deadlines: a slow actor should not cause a storm of copies.
    t.deadline = now + this.d.deadlineMs * Math.min(t.intento, 4);
    this.perActor.set(actorId, this.load(actorId) + 1);
    this.d.publish(actorId, { id: t.id, intento: t.intento, calculo: t.calculo });
    return true;
  }

  private forget(t: CalcTask): void {
    this.detach(t);
    this.tasks.delete(t.id);
  }

  private detach(t: CalcTask): void {
    if (t.actorId !== undefined) {
      const n = this.load(t.actorId) - 1;
      if (n > 0) this.perActor.set(t.actorId, n);
      else this.perActor.delete(t.actorId);
    }
    t.actorId = undefined;
    t.deadline = undefined;
  }
}
