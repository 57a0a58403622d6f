import { describe, expect, it } from 'vitest';
import { TaskTracker, type RepublishReason } from '../../gestor_carga/task-tracker.js';
import type { Tarea } from '../../common/protocol/internal.js';
import type { OperacionSolicitada } from '../../common/protocol/ps-gc.js';

const op = (id: string, operacion: OperacionSolicitada['operacion'] = 'prestamo'): OperacionSolicitada => ({ operacion, isbn: '978-1', usuario: 'u1', id });

function setup() {
  const clock = { t: 0, now() { return this.t; } };
  const live: string[] = [];
  let rr = 0;
  const published: Array<{ actor: string; tarea: Tarea }> = [];
  const republished: Array<{ id: string; reason: RepublishReason; from?: string; to?: string }> = [];
  const tracker = new TaskTracker({
    clock,
    deadlineMs: 1000,
    retryBaseMs: 100,
    retryMaxMs: 1000,
    publish: (actor, tarea) => published.push({ actor, tarea }),
    choose(_tipo, exclude) {
      const c = exclude && live.length > 1 ? live.filter((a) => a !== exclude) : live;
      return c.length ? c[rr++ % c.length] : undefined;
    },
    onRepublish: (t, reason, from) => republished.push({ id: t.op.id, reason, from, to: t.actorId }),
  });
  return { clock, live, published, republished, tracker };
}

describe('task tracker', () => {
  it('publishes with intento 1 and counts load per actor', () => {
    const { tracker, live, published } = setup();
    live.push('A');
    expect(tracker.submit(op('1'), 'sync')).toBe('published');
    expect(published).toEqual([{ actor: 'A', tarea: { ...op('1'), intento: 1 } }]);
    expect(tracker.load('A')).toBe(1);
    expect(tracker.complete('1')?.op.id).toBe('1');
    expect(tracker.load('A')).toBe(0);
    expect(tracker.size).toBe(0);
  });

  it('does not publish a tracked id twice', () => {
    const { tracker, live, published } = setup();
    live.push('A');
    tracker.submit(op('1'), 'sync');
    expect(tracker.submit(op('1'), 'sync')).toBe('attached');
    expect(published).toHaveLength(1);
  });

  it('queues when no actor is live and publishes as soon as one is', () => {
    const { tracker, live, published, clock } = setup();
    expect(tracker.submit(op('1'), 'async')).toBe('queued');
    expect(tracker.submit(op('2'), 'async')).toBe('queued');
    tracker.tick();
    expect(published).toHaveLength(0);
    clock.t = 500;
    expect(tracker.queuedLongerThan(500, 'async')).toHaveLength(2);
    expect(tracker.queuedLongerThan(500, 'sync')).toHaveLength(0);
    live.push('A');
    tracker.tick();
    expect(published.map((p) => p.tarea.id)).toEqual(['1', '2']);
    expect(tracker.counts()).toMatchObject({ enviada: 2, 'en-cola': 0 });
  });

  it('re-publishes after the deadline to another live actor with intento+1', () => {
    const { tracker, live, published, republished, clock } = setup();
    live.push('A', 'B');
    tracker.submit(op('1'), 'sync');
    const first = published[0]!.actor;
    clock.t = 999;
    tracker.tick();
    expect(published).toHaveLength(1);
    clock.t = 1000;
    tracker.tick();
    expect(published).toHaveLength(2);
    expect(published[1]!.actor).not.toBe(first);
    expect(published[1]!.tarea.intento).toBe(2);
    expect(republished).toEqual([{ id: '1', reason: 'plazo', from: first, to: published[1]!.actor }]);
    expect(tracker.load(first)).toBe(0);
    // Later attempts get longer deadlines (2× here) so a slow GA is not flooded.
    clock.t = 1000 + 1999;
    tracker.tick();
    expect(published).toHaveLength(2);
    clock.t = 1000 + 2000;
    tracker.tick();
    expect(published).toHaveLength(3);
  });

  it("re-publishes a dead actor's tasks elsewhere, or queues them", () => {
    const { tracker, live, published, republished } = setup();
    live.push('A');
    tracker.submit(op('1'), 'sync');
    tracker.submit(op('2'), 'async');
    live.splice(0, 1, 'B');
    expect(tracker.actorGone('A')).toHaveLength(2);
    expect(published.slice(2).map((p) => [p.actor, p.tarea.id, p.tarea.intento])).toEqual([['B', '1', 2], ['B', '2', 2]]);
    expect(republished.every((r) => r.reason === 'actor-muerto' && r.from === 'A')).toBe(true);
    live.length = 0;
    tracker.actorGone('B');
    expect(tracker.counts()['en-cola']).toBe(2);
    live.push('C');
    tracker.tick();
    expect(published.slice(4).map((p) => [p.actor, p.tarea.intento])).toEqual([['C', 3], ['C', 3]]);
  });

  it('storage down: re-publishes with exponential backoff, only on the holder report', () => {
    const { tracker, live, published, clock } = setup();
    live.push('A');
    tracker.submit(op('1', 'devolucion'), 'async');
    expect(tracker.retryLater('1', 'B')).toBe(false); // stale report from someone else
    expect(tracker.retryLater('1', 'A')).toBe(true);
    expect(tracker.get('1')?.state).toBe('espera');
    expect(tracker.load('A')).toBe(0);
    clock.t = 99;
    tracker.tick();
    expect(published).toHaveLength(1);
    clock.t = 100;
    tracker.tick();
    expect(published).toHaveLength(2);
    expect(tracker.retryLater('1', 'A')).toBe(true);
    clock.t = 100 + 199;
    tracker.tick();
    expect(published).toHaveLength(2);
    clock.t = 100 + 200;
    tracker.tick();
    expect(published).toHaveLength(3);
    expect(published[2]!.tarea.intento).toBe(3);
  });
});

describe('task tracker: async tasks and the leases', () => {
  function leased(gcLeaseUntil: () => number | undefined) {
    const clock = { t: 0, now() { return this.t; } };
    const published: string[] = [];
    const live = ['A', 'B'];
    let rr = 0;
    const tracker = new TaskTracker({ clock, deadlineMs: 1000, publish: (_a, t) => published.push(t.id), choose: (_t, ex) => live.filter((a) => a !== ex)[rr++ % (live.length - (ex ? 1 : 0))], gcLeaseUntil });
    return { clock, published, tracker };
  }

  it('an async task past its deadline is published again only while the GC lease holds, and forgotten the moment it does not', () => {
    const { clock, published, tracker } = leased(() => 1500);
    tracker.submit(op('x', 'devolucion'), 'async'); // resumed from the ledger: no lease of its own
    expect(published).toEqual(['x']);
    clock.t = 1000; // deadline passed, GC lease still holds
    tracker.tick();
    expect(published).toEqual(['x', 'x']);
    clock.t = 3000; // the second attempt's deadline (2 × 1000) passed, the GC lease ended at 1500 (the lease check may not have run yet)
    tracker.tick();
    expect(published).toEqual(['x', 'x']);
    expect(tracker.has('x')).toBe(false);
  });

  it("an async task's own lease (just recorded) keeps it published while the GC was never renewed; past it, gone", () => {
    const { clock, published, tracker } = leased(() => undefined);
    tracker.submit(op('y', 'devolucion'), 'async', 1500);
    clock.t = 1000;
    tracker.tick();
    expect(published).toEqual(['y', 'y']);
    clock.t = 3000;
    tracker.tick();
    expect(published).toEqual(['y', 'y']);
    expect(tracker.has('y')).toBe(false);
  });

  it("an async task of a dead actor is not moved to another actor once both leases ended; sync tasks are not affected", () => {
    const { clock, published, tracker } = leased(() => 500);
    tracker.submit(op('z', 'devolucion'), 'async');
    tracker.submit(op('s', 'prestamo'), 'sync');
    clock.t = 600;
    const holder = 'A';
    tracker.actorGone(holder);
    tracker.actorGone('B');
    expect(tracker.has('z')).toBe(false);
    expect(tracker.has('s')).toBe(true);
    expect(published.filter((id) => id === 'z')).toEqual(['z']);
  });
});
