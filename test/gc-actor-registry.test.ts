import { describe, expect, it } from 'vitest';
import { ActorRegistry, parseTopic, type Estrategia } from '../gestor_carga/actor-registry.js';

function setup(estrategia: Estrategia = 'round-robin') {
  const clock = { t: 1000, now() { return this.t; } };
  const reg = new ActorRegistry({ deadMs: 1000, estrategia, clock });
  const join = (id: string) => { reg.subscribed('prestamo', id); reg.heard('prestamo', id); };
  return { clock, reg, join };
}

describe('actor registry: liveness', () => {
  it('is live only with subscription seen AND heard recently', () => {
    const { reg } = setup();
    reg.heard('prestamo', 'a');
    expect(reg.isLiveId('prestamo', 'a')).toBe(false); // heartbeat but subscription not arrived: slow joiner
    reg.subscribed('prestamo', 'a');
    expect(reg.isLiveId('prestamo', 'a')).toBe(true);
    reg.subscribed('devolucion', 'b');
    expect(reg.isLiveId('devolucion', 'b')).toBe(false); // subscribed but never heard
  });

  it('dies after deadMs of silence and reports each transition once', () => {
    const { reg, clock, join } = setup();
    join('a');
    expect(reg.refresh().joined.map((a) => a.actorId)).toEqual(['a']);
    expect(reg.refresh().joined).toEqual([]);
    clock.t += 1000;
    expect(reg.isLiveId('prestamo', 'a')).toBe(true);
    clock.t += 1;
    expect(reg.isLiveId('prestamo', 'a')).toBe(false);
    expect(reg.choose('prestamo', () => 0)).toBeUndefined();
    expect(reg.refresh().died.map((a) => a.actorId)).toEqual(['a']);
    expect(reg.refresh().died).toEqual([]);
    reg.heard('prestamo', 'a'); // it comes back
    expect(reg.refresh().joined.map((a) => a.actorId)).toEqual(['a']);
  });

  it('unsubscribe and adios end liveness at once', () => {
    const { reg, join } = setup();
    join('a');
    join('b');
    reg.refresh();
    reg.unsubscribed('prestamo', 'a');
    reg.left('prestamo', 'b');
    expect(reg.refresh().died.map((a) => a.actorId).sort()).toEqual(['a', 'b']);
    reg.hello('prestamo', 'b'); // restarted with the same id
    expect(reg.isLiveId('prestamo', 'b')).toBe(true);
  });

  it('keeps types apart', () => {
    const { reg } = setup();
    reg.subscribed('devolucion', 'x');
    reg.heard('devolucion', 'x');
    expect(reg.choose('prestamo', () => 0)).toBeUndefined();
    expect(reg.choose('devolucion', () => 0)).toBe('x');
    expect(reg.liveCounts()).toEqual({ prestamo: 0, devolucion: 1, renovacion: 0 });
  });
});

describe('actor registry: strategies', () => {
  it('round-robin cycles over live actors', () => {
    const { reg, join } = setup('round-robin');
    join('a'); join('b'); join('c');
    const picks = Array.from({ length: 6 }, () => reg.choose('prestamo', () => 0));
    expect(picks).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
  });

  it('least-load picks the fewest in flight; ties go round robin', () => {
    const { reg, join } = setup('least-load');
    join('a'); join('b'); join('c');
    const load: Record<string, number> = { a: 2, b: 0, c: 0 };
    const picks = Array.from({ length: 4 }, () => reg.choose('prestamo', (id) => load[id]!));
    expect(picks.every((p) => p === 'b' || p === 'c')).toBe(true);
    expect(new Set(picks).size).toBe(2);
    load.b = 5; load.c = 5;
    expect(reg.choose('prestamo', (id) => load[id]!)).toBe('a');
  });

  it('exclude avoids an actor unless it is the only one', () => {
    const { reg, join } = setup();
    join('a');
    expect(reg.choose('prestamo', () => 0, 'a')).toBe('a');
    join('b');
    for (let i = 0; i < 4; i++) expect(reg.choose('prestamo', () => 0, 'a')).toBe('b');
  });
});

describe('parseTopic', () => {
  it('splits at the first dot and rejects non-actor topics', () => {
    expect(parseTopic('prestamo.a.b')).toEqual({ tipo: 'prestamo', actorId: 'a.b' });
    expect(parseTopic('')).toBeUndefined();
    expect(parseTopic('prestamo')).toBeUndefined();
    expect(parseTopic('prestamo.')).toBeUndefined();
    expect(parseTopic('consulta.x')).toBeUndefined();
  });
});
