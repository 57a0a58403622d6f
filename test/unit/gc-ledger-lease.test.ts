/**
 * The GC's side of the ledger lease (gestor_carga/ledger-resume.ts), as a unit: a
 * stub storage answers `reclamar`, a real TaskTracker records what is published.
 * A GC takes up its own and claimed rows; when it cannot renew within one lease
 * it forgets its async tasks (another GC may own them by then) and takes them up
 * again once the ledger answers; an answer slower than the lease is not trusted.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { StorageUnavailableError } from '../../common/errors.js';
import type { InformeGc, Pendiente } from '../../common/protocol/internal.js';
import type { StorageClient } from '../../common/storage-client.js';
import { startLedgerResume, type LedgerResume } from '../../gestor_carga/ledger-resume.js';
import { TaskTracker } from '../../gestor_carga/task-tracker.js';
import { eventually } from '../harness/eventually.js';

const log = pino({ level: 'silent' });
// Short where slowness only helps the test (an answer slower than the lease); long where a
// stalled host (unit files run in parallel) would lapse a lease the test expects to hold.
const LEASE = 300;
const STEADY_LEASE = 1500;
const stops: Array<() => void> = [];
afterEach(() => {
  for (const s of stops.splice(0)) s();
});

const row = (id: string, reclamada = false): Pendiente => ({ op: { operacion: 'devolucion', isbn: '978-1', usuario: 'u', id }, registrada: new Date(0).toISOString(), intentos: 0, reclamada });

/** `reclamar` answers from `answer()`; it may throw (storage down) or take `delayMs`. */
function harness(answer: () => Pendiente[], o: { delayMs?: () => number; leaseMs?: number; minAgeMs?: number } = {}) {
  const published: string[] = [];
  const informes: InformeGc[] = [];
  const tracker = new TaskTracker({ clock: { now: Date.now }, deadlineMs: 60_000, publish: (_a, t) => published.push(t.id), choose: () => 'devolucion.d1' });
  const storage = {
    async reclamar(g: InformeGc) {
      informes.push(g);
      const d = o.delayMs?.() ?? 0;
      if (d) await new Promise((r) => setTimeout(r, d));
      return { pendientes: answer(), gestores: [{ id: g.id, informe: g, vistoHaceMs: 0 }] };
    },
  } as unknown as StorageClient;
  const resume: LedgerResume = startLedgerResume({
    storage,
    tracker,
    clock: { now: Date.now },
    log,
    informe: () => ({ id: 'gc-t', atendidas: 0, porSegundo: 0, tareas: tracker.size, iniciado: new Date().toISOString() }),
    leaseMs: o.leaseMs ?? LEASE,
    minAgeMs: o.minAgeMs ?? 0,
    scanEveryMs: 50,
  });
  stops.push(() => resume.stop());
  return { tracker, published, informes, resume };
}

describe('GC ledger lease', () => {
  it('takes up the rows it holds, each once, and reports itself on every call', async () => {
    const h = harness(() => [row('a'), row('b', true)], { leaseMs: STEADY_LEASE });
    await eventually('a few calls', () => h.resume.loaded() && h.informes.length >= 3, 2000);
    expect(h.published.sort()).toEqual(['a', 'b']);
    expect(h.informes.every((i) => i.id === 'gc-t')).toBe(true);
    expect(h.resume.view()).toMatchObject({ arriendoVigente: true, gestores: [{ id: 'gc-t', vivo: true }] });
  });

  it("an own row's age is the database's (edadMs), not this host's clock against registrada", async () => {
    // Recorded "in 1970" by this host's clock, but the database says 1 s ago: too fresh to take up again.
    const fresh: Pendiente = { ...row('fresh'), edadMs: 1000 };
    const stale: Pendiente = { ...row('stale'), registrada: new Date(Date.now() + 3_600_000).toISOString(), edadMs: 120_000 };
    let rows: Pendiente[] = [];
    const h = harness(() => rows, { leaseMs: STEADY_LEASE, minAgeMs: 60_000 });
    await eventually('the first load', () => h.resume.loaded(), 2000);
    rows = [fresh, stale];
    await eventually('the stale row taken up', () => h.tracker.has('stale'), 2000);
    await eventually('two more scans', () => h.informes.length >= 4, 2000);
    expect(h.tracker.has('fresh')).toBe(false);
  });

  it('cannot renew within the lease: drops its async tasks; once the ledger answers, takes up what is still its own', async () => {
    let down = false;
    const h = harness(() => {
      if (down) throw new StorageUnavailableError('GA down');
      return [row('x')];
    }, { leaseMs: STEADY_LEASE });
    await eventually('x taken up', () => h.tracker.has('x'), 2000);
    down = true;
    await eventually('x dropped', () => !h.tracker.has('x'), STEADY_LEASE * 4);
    expect(h.resume.view().arriendoVigente).toBe(false);
    down = false;
    await eventually('x taken up again', () => h.tracker.has('x'), 2000);
    expect(h.published).toEqual(['x', 'x']);
  });

  it('while the lease stays lapsed, an async op recorded meanwhile is dropped too, not kept and re-published', async () => {
    let down = false;
    const h = harness(() => {
      if (down) throw new StorageUnavailableError('GA down');
      return [];
    }, { leaseMs: STEADY_LEASE });
    await eventually('loaded', () => h.resume.loaded(), 2000);
    down = true;
    await eventually('lease lapsed', () => !h.resume.view().arriendoVigente, STEADY_LEASE * 4);
    // registrar may still work while reclamar does not (another connection to the GA). An op
    // whose own row lease (from registrar) still holds stays theirs until that ends too.
    h.tracker.submit({ operacion: 'devolucion', isbn: '978-1', usuario: 'u', id: 'tarde' }, 'async');
    const until = Date.now() + 1500;
    h.tracker.submit({ operacion: 'devolucion', isbn: '978-1', usuario: 'v', id: 'con-arriendo' }, 'async', until);
    await eventually('the late op dropped', () => !h.tracker.has('tarde'), 2000);
    expect(h.tracker.has('con-arriendo') || Date.now() >= until).toBe(true);
    await eventually('the op with its own lease dropped once that ends', () => !h.tracker.has('con-arriendo'), 4000);
    expect(Date.now()).toBeGreaterThanOrEqual(until);
  });

  it('never renewed since its start (reclamar failing from the first call): an op recorded meanwhile is dropped once its own lease ends, and /status says the lease is not held', async () => {
    const h = harness(() => {
      throw new StorageUnavailableError('GA down');
    }, { leaseMs: STEADY_LEASE });
    await eventually('a failed call', () => h.informes.length >= 1, 2000);
    const until = Date.now() + 800;
    h.tracker.submit({ operacion: 'devolucion', isbn: '978-1', usuario: 'w', id: 'sin-renovar' }, 'async', until);
    expect(h.resume.view().arriendoVigente).toBe(false);
    await eventually('dropped once its own lease ended', () => !h.tracker.has('sin-renovar'), 4000);
    expect(Date.now()).toBeGreaterThanOrEqual(until);
    expect(h.resume.leaseUntil()).toBeUndefined();
  });

  it('an answer slower than the lease is not trusted: nothing is taken up from it', async () => {
    let slow = true;
    const h = harness(() => [row('s')], { delayMs: () => (slow ? LEASE + 100 : 0) });
    await new Promise((r) => setTimeout(r, LEASE * 3));
    expect(h.published).toEqual([]);
    expect(h.resume.loaded()).toBe(false);
    slow = false;
    await eventually('s taken up', () => h.tracker.has('s'), 3000);
  });

  it('a renewal sent in time but answered after the lease lapsed forgets first: a row claimed meanwhile by another GC is not re-published', async () => {
    let t = 0;
    const clock = { now: () => t };
    const L = 6000;
    const published: string[] = [];
    let resume!: LedgerResume;
    const tracker = new TaskTracker({ clock, deadlineMs: 7000, publish: (_a, x) => published.push(`${x.id}#${x.intento}@${t}`), choose: () => 'devolucion.d1', gcLeaseUntil: () => resume.leaseUntil() });
    const x: Pendiente = { ...row('x'), edadMs: 60_000 };
    let answer: Pendiente[] = [x];
    let release: (() => void) | undefined;
    const storage = {
      async reclamar(g: InformeGc) {
        if (answer.length === 0) await new Promise<void>((r) => (release = r)); // the slow call
        return { pendientes: answer, gestores: [{ id: g.id, informe: g, vistoHaceMs: 0 }] };
      },
    } as unknown as StorageClient;
    resume = startLedgerResume({ storage, tracker, clock, log, informe: () => ({ id: 'gc-a', atendidas: 0, porSegundo: 0, tareas: 0, iniciado: '' }), leaseMs: L, minAgeMs: 9000, scanEveryMs: 3_600_000 });
    stops.push(() => resume.stop());
    await resume.scanOnce(); // t=0: x taken up, the lease holds until 6000
    expect(tracker.has('x')).toBe(true);
    answer = []; // another GC claims x while this GC's next call waits in the GA
    t = 5000;
    const p = resume.scanOnce(); // sent before the lapse at 6000…
    await new Promise((r) => setImmediate(r));
    t = 6400;
    release!();
    await p; // …answered after it (within one lease of sending), x no longer listed
    expect(tracker.has('x')).toBe(false);
    expect(resume.leaseUntil()).toBe(11_000);
    t = 7100;
    tracker.tick(); // x's deadline: nothing of it left to re-publish
    expect(published).toEqual(['x#1@0']);
  });
});
