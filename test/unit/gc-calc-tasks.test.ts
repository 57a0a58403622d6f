/**
 * Redelivery of calculation tasks (gestor_carga/calc-tasks.ts), scatter/gather's rules
 * (gestor_carga/scatter-gather.ts) and the calc service's admission cap, with a fake clock
 * and a fake set of live actors (`silent`: live, but their heartbeats are not current).
 */
import { describe, expect, it } from 'vitest';
import { CalcTasks, SIN_WORKERS, type CalcRepublishReason } from '../../gestor_carga/calc-tasks.js';
import { dividirRango, parteCorrecta, reunir, sumaCuadrados, type ParteHecha } from '../../gestor_carga/scatter-gather.js';
import { rechazoPorCupo, tareasDe } from '../../gestor_carga/calc-service.js';
import { sumaCuadradosFormula } from '../../common/calculo.js';
import { MAX_PARTES, type ResultadoCalculo, type TareaCalculo } from '../../common/protocol/calc.js';

function world(actors: string[], opts: { deadlineMs?: number; noActorMs?: number; abandonedMs?: number } = {}) {
  let t = 0;
  const live = new Set(actors);
  const silent = new Set<string>();
  const published: Array<{ actorId: string; tarea: TareaCalculo }> = [];
  const republished: Array<{ id: string; reason: CalcRepublishReason; from?: string }> = [];
  let rr = 0;
  let seq = 0;
  const tasks = new CalcTasks({
    clock: { now: () => t },
    deadlineMs: opts.deadlineMs ?? 1000,
    noActorMs: opts.noActorMs ?? 500,
    makeId: () => `t${++seq}`,
    publish: (actorId, tarea) => published.push({ actorId, tarea }),
    choose(exclude) {
      const all = [...live].sort();
      const c = exclude !== undefined && all.length > 1 ? all.filter((a) => a !== exclude) : all;
      return c.length ? c[rr++ % c.length] : undefined;
    },
    isLive: (a) => live.has(a),
    isCurrent: (a) => live.has(a) && !silent.has(a),
    abandonedMs: opts.abandonedMs,
    onRepublish: (id, reason, from) => republished.push({ id, reason, from }),
  });
  return {
    tasks,
    live,
    silent,
    published,
    republished,
    advance(ms: number) {
      t += ms;
      tasks.tick();
    },
    /** What the actor that got publication i would answer for a suma_cuadrados part, correct or not. */
    answer(i: number, wrong = false): ResultadoCalculo {
      const { tarea } = published[i]!;
      const c = tarea.calculo;
      if (c.operacion !== 'suma_cuadrados') return { id: tarea.id, codigo: 'OK', valor: 1 };
      return { id: tarea.id, codigo: 'OK', valor: (sumaCuadradosFormula(c.a, c.b) + (wrong ? 1n : 0n)).toString() };
    },
  };
}

function handlers() {
  const got: { done?: { r: ResultadoCalculo; actorId: string; intentos: number; reasignadaDesde: string[] }; fail?: { codigo: string; mensaje: string } } = {};
  return {
    got,
    h: {
      done: (r: ResultadoCalculo, e: { actorId: string; intentos: number; reasignadaDesde: string[] }) => void (got.done = { r, ...e, reasignadaDesde: [...e.reasignadaDesde] }),
      fail: (codigo: string, mensaje: string) => void (got.fail = { codigo, mensaje }),
    },
  };
}

describe('calculation tasks', () => {
  it('go to a live actor, the preferred one when it is live; a result completes them once', () => {
    const w = world(['c1', 'c2']);
    const { got, h } = handlers();
    const id = w.tasks.submit({ operacion: 'suma', a: 1, b: 2 }, h, 'c2');
    expect(w.published).toEqual([{ actorId: 'c2', tarea: { id, intento: 1, calculo: { operacion: 'suma', a: 1, b: 2 } } }]);
    expect(w.tasks.load('c2')).toBe(1);
    expect(w.tasks.onResultado('c2', { id, codigo: 'OK', valor: 3 })).toBe(true);
    expect(got.done).toMatchObject({ actorId: 'c2', intentos: 1, reasignadaDesde: [] });
    expect(w.tasks.onResultado('c2', { id, codigo: 'OK', valor: 3 })).toBe(false); // a late copy
    expect(w.tasks.size).toBe(0);
    expect(w.tasks.load('c2')).toBe(0);
  });

  it('a task past its deadline stays with an actor that still beats (busy, not lost): no copy doubles the work', () => {
    const w = world(['c1', 'c2'], { deadlineMs: 1000 });
    const { got, h } = handlers();
    const id = w.tasks.submit({ operacion: 'suma_cuadrados', a: 1, b: 50_000_000 }, h, 'c1');
    for (let i = 0; i < 20; i++) w.advance(1000);
    expect(w.published).toHaveLength(1);
    expect(w.republished).toEqual([]);
    expect(w.tasks.counts()).toEqual({ enviada: 1, 'en-cola': 0, abandonada: 0 });
    // Its heartbeats stop (frozen, cut off) while it is still counted live: now it goes elsewhere.
    w.silent.add('c1');
    w.advance(100);
    expect(w.published.map((p) => [p.actorId, p.tarea.intento])).toEqual([['c1', 1], ['c2', 2]]);
    expect(w.republished).toEqual([{ id, reason: 'plazo', from: 'c1' }]);
    expect(w.tasks.onResultado('c2', { id, codigo: 'OK', valor: '1' })).toBe(true);
    expect(got.done).toMatchObject({ actorId: 'c2', intentos: 2, reasignadaDesde: ['c1'] });
  });

  it('a task past its deadline whose actor stopped beating goes to another actor; the one that missed it is remembered', () => {
    const w = world(['c1', 'c2'], { deadlineMs: 1000 });
    const { got, h } = handlers();
    const id = w.tasks.submit({ operacion: 'eco', texto: 'x' }, h, 'c1');
    w.silent.add('c1');
    w.advance(999);
    expect(w.published).toHaveLength(1);
    w.advance(1);
    expect(w.published.map((p) => [p.actorId, p.tarea.intento])).toEqual([['c1', 1], ['c2', 2]]);
    expect(w.republished).toEqual([{ id, reason: 'plazo', from: 'c1' }]);
    // The second deadline is longer (2×): no storm of copies while an actor is slow.
    w.silent.add('c2');
    w.advance(1999);
    expect(w.published).toHaveLength(2);
    w.tasks.onResultado('c2', { id, codigo: 'OK', valor: 'x' });
    expect(got.done).toMatchObject({ actorId: 'c2', intentos: 2, reasignadaDesde: ['c1'] });
  });

  it('a dead actor\'s tasks move at once; with no actor left they queue, then fail SIN_ACTORES', () => {
    const w = world(['c1', 'c2'], { noActorMs: 500 });
    const a = handlers();
    const b = handlers();
    const ia = w.tasks.submit({ operacion: 'suma', a: 1, b: 1 }, a.h, 'c1');
    w.tasks.submit({ operacion: 'suma', a: 2, b: 2 }, b.h, 'c2');
    w.live.delete('c1');
    expect(w.tasks.actorGone('c1')).toBe(1);
    expect(w.published[2]).toMatchObject({ actorId: 'c2', tarea: { id: ia, intento: 2 } });
    w.live.delete('c2');
    expect(w.tasks.actorGone('c2')).toBe(2);
    expect(w.tasks.counts()).toEqual({ enviada: 0, 'en-cola': 2, abandonada: 0 });
    w.advance(499);
    expect(a.got.fail).toBeUndefined();
    w.advance(1);
    expect(a.got.fail).toEqual({ codigo: 'SIN_ACTORES', mensaje: SIN_WORKERS });
    expect(b.got.fail?.codigo).toBe('SIN_ACTORES');
    expect(w.tasks.size).toBe(0);
  });

  it('a queued task goes out when an actor appears in time', () => {
    const w = world([], { noActorMs: 500 });
    const { got, h } = handlers();
    const id = w.tasks.submit({ operacion: 'suma', a: 1, b: 1 }, h);
    expect(w.published).toHaveLength(0);
    w.live.add('c9');
    w.advance(100);
    expect(w.published).toEqual([{ actorId: 'c9', tarea: { id, intento: 1, calculo: { operacion: 'suma', a: 1, b: 1 } } }]);
    expect(w.republished).toEqual([{ id, reason: 'cola', from: undefined }]);
    w.advance(1000);
    expect(got.fail).toBeUndefined();
  });

  it('a late result from the actor that missed the deadline is accepted (a calculation is the same anywhere)', () => {
    const w = world(['c1', 'c2']);
    const { got, h } = handlers();
    const id = w.tasks.submit({ operacion: 'suma', a: 1, b: 1 }, h, 'c1');
    w.silent.add('c1');
    w.advance(1000);
    expect(w.tasks.onResultado('c1', { id, codigo: 'OK', valor: 2 })).toBe(true);
    expect(got.done).toMatchObject({ actorId: 'c1', reasignadaDesde: ['c1'] });
    expect(w.tasks.load('c2')).toBe(0);
  });

  it('a result refused by the check goes to another actor; refused too often it fails ERROR_INTERNO', () => {
    const w = world(['liar', 'ok']);
    const { got, h } = handlers();
    const id = w.tasks.submit({ operacion: 'suma_cuadrados', a: 1, b: 3 }, { ...h, check: (r) => r.valor === '14' }, 'liar');
    expect(w.tasks.onResultado('liar', { id, codigo: 'OK', valor: '15' })).toBe(false);
    expect(w.published[1]).toMatchObject({ actorId: 'ok', tarea: { intento: 2 } });
    expect(w.republished).toEqual([{ id, reason: 'rechazo', from: 'liar' }]);
    expect(w.tasks.onResultado('ok', { id, codigo: 'OK', valor: '14' })).toBe(true);
    expect(got.done).toMatchObject({ actorId: 'ok', reasignadaDesde: ['liar'] });

    const only = world(['liar']);
    const x = handlers();
    const id2 = only.tasks.submit({ operacion: 'suma_cuadrados', a: 1, b: 3 }, { ...x.h, check: () => false });
    for (let i = 0; i < 3; i++) only.tasks.onResultado('liar', { id: id2, codigo: 'OK', valor: '0' });
    expect(x.got.fail?.codigo).toBe('ERROR_INTERNO');
    expect(only.tasks.size).toBe(0);
  });

  it('a result from an actor that never held the task is ignored', () => {
    const w = world(['c1', 'c2']);
    const { got, h } = handlers();
    const id = w.tasks.submit({ operacion: 'suma', a: 1, b: 1 }, h, 'c1');
    expect(w.tasks.onResultado('c2', { id, codigo: 'OK', valor: 99 })).toBe(false);
    expect(got.done).toBeUndefined();
    expect(w.tasks.onResultado('c1', { id, codigo: 'OK', valor: 2 })).toBe(true);
    expect(got.done?.r.valor).toBe(2);
  });

  it('a cancelled task stays counted (abandonada) while its live actor computes it; its result frees it and reaches nobody', () => {
    const w = world(['c1', 'c2'], { deadlineMs: 1000 });
    const { got, h } = handlers();
    const id = w.tasks.submit({ operacion: 'suma', a: 1, b: 1 }, h, 'c1');
    w.tasks.cancel(id);
    expect(w.tasks.size).toBe(1);
    expect(w.tasks.counts()).toEqual({ enviada: 0, 'en-cola': 0, abandonada: 1 });
    expect(w.tasks.load('c1')).toBe(1);
    // Never re-published, whatever its deadline or its actor's heartbeats.
    w.silent.add('c1');
    w.advance(2000);
    expect(w.published).toHaveLength(1);
    expect(w.tasks.onResultado('c2', { id, codigo: 'OK', valor: 2 })).toBe(false);
    expect(w.tasks.size).toBe(1);
    expect(w.tasks.onResultado('c1', { id, codigo: 'OK', valor: 2 })).toBe(false);
    expect(got.done).toBeUndefined();
    expect(w.tasks.size).toBe(0);
    expect(w.tasks.load('c1')).toBe(0);
  });

  it('an abandoned task is forgotten when its actor dies, or after abandonedMs; a queued one at once', () => {
    const w = world(['c1', 'c2'], { abandonedMs: 5000 });
    const a = w.tasks.submit({ operacion: 'suma', a: 1, b: 1 }, handlers().h, 'c1');
    const b = w.tasks.submit({ operacion: 'suma', a: 2, b: 2 }, handlers().h, 'c2');
    w.tasks.cancel(a);
    w.tasks.cancel(b);
    w.live.delete('c1');
    expect(w.tasks.actorGone('c1')).toBe(0);
    expect(w.published).toHaveLength(2);
    expect(w.tasks.size).toBe(1);
    w.advance(4999);
    expect(w.tasks.size).toBe(1);
    w.advance(1);
    expect(w.tasks.size).toBe(0);

    const q = world([]);
    q.tasks.cancel(q.tasks.submit({ operacion: 'suma', a: 1, b: 1 }, handlers().h));
    expect(q.tasks.size).toBe(0);
  });
});

describe('scatter/gather rules', () => {
  it('split 1..n into min(k, n) contiguous parts differing by at most one', () => {
    expect(dividirRango(9, 3)).toEqual([{ a: 1, b: 3 }, { a: 4, b: 6 }, { a: 7, b: 9 }]);
    expect(dividirRango(10, 3)).toEqual([{ a: 1, b: 4 }, { a: 5, b: 7 }, { a: 8, b: 10 }]);
    expect(dividirRango(2, 5)).toEqual([{ a: 1, b: 1 }, { a: 2, b: 2 }]);
    expect(dividirRango(7, 1)).toEqual([{ a: 1, b: 7 }]);
    expect(dividirRango(1000, 500)).toHaveLength(MAX_PARTES);
    for (const [n, k] of [[1, 1], [97, 7], [50_000_000, 3], [65, 64]] as const) {
      const p = dividirRango(n, k);
      expect(p[0]!.a).toBe(1);
      expect(p.at(-1)!.b).toBe(n);
      for (let i = 1; i < p.length; i++) expect(p[i]!.a).toBe(p[i - 1]!.b + 1);
      const sizes = p.map((x) => x.b - x.a + 1);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    }
    expect(() => dividirRango(0, 3)).toThrow(RangeError);
  });

  it('a part is right only with its exact sum in decimal digits', () => {
    expect(parteCorrecta({ a: 4, b: 6 }, '77')).toBe(true);
    expect(parteCorrecta({ a: 4, b: 6 }, '78')).toBe(false);
    expect(parteCorrecta({ a: 4, b: 6 }, 77)).toBe(false);
    expect(parteCorrecta({ a: 4, b: 6 }, '7.7e1')).toBe(false);
  });

  it('gathering checks coverage and the exact total', () => {
    const part = (a: number, b: number, resultado = sumaCuadradosFormula(a, b).toString()): ParteHecha => ({ a, b, resultado, actor: 'c', intentos: 1 });
    expect(reunir(9, [part(7, 9), part(1, 3), part(4, 6)])).toEqual({ ok: true, total: 285n });
    expect(reunir(9, [part(1, 3), part(7, 9)])).toMatchObject({ ok: false });
    expect(reunir(9, [part(1, 3), part(3, 9)])).toMatchObject({ ok: false });
    expect(reunir(9, [part(1, 3), part(4, 6)])).toMatchObject({ ok: false });
    expect(reunir(9, [part(1, 3, '15'), part(4, 6), part(7, 9)])).toMatchObject({ ok: false, motivo: expect.stringMatching(/no es la exacta/) });
  });

  it('sumaCuadrados: one part per actor, a dead actor\'s part reassigned, the exact total and who did what', async () => {
    const w = world(['c1', 'c2', 'c3']);
    const run = sumaCuadrados(9, ['c1', 'c2', 'c3'], w.tasks);
    expect(w.published.map((p) => [p.actorId, p.tarea.calculo])).toEqual([
      ['c1', { operacion: 'suma_cuadrados', a: 1, b: 3 }],
      ['c2', { operacion: 'suma_cuadrados', a: 4, b: 6 }],
      ['c3', { operacion: 'suma_cuadrados', a: 7, b: 9 }],
    ]);
    w.tasks.onResultado('c1', w.answer(0));
    w.live.delete('c2');
    w.tasks.actorGone('c2');
    const moved = w.published[3]!;
    expect(moved.tarea.calculo).toEqual({ operacion: 'suma_cuadrados', a: 4, b: 6 });
    expect(moved.actorId).not.toBe('c2');
    // A faulty answer for a part (any code but its exact sum) is not taken: the part goes elsewhere.
    w.tasks.onResultado('c3', { id: w.published[2]!.tarea.id, codigo: 'ERROR_INTERNO', mensaje: 'falló' });
    const again = w.published[4]!;
    expect(again.tarea.calculo).toEqual({ operacion: 'suma_cuadrados', a: 7, b: 9 });
    expect(again.actorId).not.toBe('c3');
    w.tasks.onResultado(again.actorId, w.answer(4));
    w.tasks.onResultado(moved.actorId, w.answer(3));
    const o = await run.outcome;
    expect(o).toEqual({
      ok: true,
      total: 285n,
      partes: [
        { a: 1, b: 3, resultado: '14', actor: 'c1', intentos: 1 },
        { a: 4, b: 6, resultado: '77', actor: moved.actorId, intentos: 2, reasignadaDesde: ['c2'] },
        { a: 7, b: 9, resultado: '194', actor: again.actorId, intentos: 2, reasignadaDesde: ['c3'] },
      ],
    });
    expect(w.tasks.size).toBe(0);
  });

  it('sumaCuadrados: no actor → SIN_ACTORES at once; a part that cannot be placed fails the whole and drops the others', async () => {
    const none = world([]);
    expect(await sumaCuadrados(9, [], none.tasks).outcome).toEqual({ ok: false, codigo: 'SIN_ACTORES', mensaje: SIN_WORKERS });
    expect(none.published).toHaveLength(0);

    const w = world(['c1', 'c2'], { noActorMs: 500 });
    const run = sumaCuadrados(10, ['c1', 'c2'], w.tasks);
    w.live.clear();
    w.tasks.actorGone('c1');
    w.advance(500);
    expect(await run.outcome).toMatchObject({ ok: false, codigo: 'SIN_ACTORES' });
    expect(w.tasks.size).toBe(0);
  });

  it('sumaCuadrados: a cancelled run\'s parts count until their actors answer, then nothing is left behind', () => {
    const w = world(['c1', 'c2']);
    const run = sumaCuadrados(100, ['c1', 'c2'], w.tasks);
    expect(w.tasks.size).toBe(2);
    run.cancel();
    expect(w.tasks.counts()).toEqual({ enviada: 0, 'en-cola': 0, abandonada: 2 });
    w.tasks.onResultado('c1', w.answer(0));
    w.tasks.onResultado('c2', w.answer(1));
    expect(w.tasks.size).toBe(0);
  });
});

describe('admission of calculations', () => {
  it('a request needs one task, or one per suma_cuadrados part (as many as dividirRango makes)', () => {
    const s = (n: number) => ({ operacion: 'suma_cuadrados' as const, n, clave: 'k' });
    expect(tareasDe({ operacion: 'suma', a: 1, b: 2, clave: 'k' }, 5)).toBe(1);
    for (const [n, live] of [[9, 3], [2, 5], [1000, 500], [7, 1]] as const) expect(tareasDe(s(n), live)).toBe(dividirRango(n, live).length);
  });

  it('fits up to live actors × per actor; past it a refusal that says why', () => {
    expect(rechazoPorCupo(0, 3, 3, 1)).toBeUndefined();
    expect(rechazoPorCupo(21, 3, 3, 8)).toBeUndefined();
    expect(rechazoPorCupo(22, 3, 3, 8)).toBe('Actores de cálculo ocupados: 22 tareas en curso en este gestor (máximo 8 por actor, 3 actores vivos); reintente en unos segundos');
    expect(rechazoPorCupo(1, 1, 1, 1)).toMatch(/1 actor vivo\)/);
  });
});
