import { describe, expect, it } from 'vitest';
import { ActorRegistry, CONCENTRACION_MAX, parseTopic, type Estrategia } from '../../gestor_carga/actor-registry.js';
import { topicFor } from '../../common/protocol/internal.js';

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

  it('heardWithin: live and heard within the window (a frozen actor is still live, no longer current)', () => {
    const { reg, clock, join } = setup();
    join('a');
    clock.t += 300;
    expect(reg.heardWithin('prestamo', 'a', 300)).toBe(true);
    clock.t += 1;
    expect(reg.heardWithin('prestamo', 'a', 300)).toBe(false);
    expect(reg.isLiveId('prestamo', 'a')).toBe(true);
    reg.heard('prestamo', 'a');
    expect(reg.heardWithin('prestamo', 'a', 300)).toBe(true);
    reg.left('prestamo', 'a');
    expect(reg.heardWithin('prestamo', 'a', 300)).toBe(false);
    expect(reg.heardWithin('prestamo', 'nadie', 300)).toBe(false);
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

  it('concentrada keeps choosing the first live actor by id while it is under the bound, then the least loaded', () => {
    const { reg, join, clock } = setup('concentrada');
    for (const id of ['b', 'a', 'c']) join(id);
    const load: Record<string, number> = { a: 0, b: 0, c: 0 };
    for (let i = 0; i < CONCENTRACION_MAX; i++) {
      const id = reg.choose('prestamo', (x) => load[x]!)!;
      expect(id).toBe('a');
      load[id]!++;
    }
    // 'a' is full: the least loaded of the others, round robin among ties.
    expect(['b', 'c']).toContain(reg.choose('prestamo', (x) => load[x]!));
    load.a = CONCENTRACION_MAX - 1;
    expect(reg.choose('prestamo', (x) => load[x]!)).toBe('a');
    // 'a' dies: the next by id takes the whole stream at once.
    clock.t += 1001;
    reg.heard('prestamo', 'b');
    reg.heard('prestamo', 'c');
    expect(reg.choose('prestamo', () => 0)).toBe('b');
    // Excluded (a task moved away from it), the next is chosen.
    expect(reg.choose('prestamo', () => 0, 'b')).toBe('c');
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
  it('splits at the first dot, needs the end mark, and rejects non-actor topics', () => {
    expect(parseTopic('prestamo.a.b|')).toEqual({ tipo: 'prestamo', actorId: 'a.b' });
    expect(parseTopic(topicFor('calculo', 'c-1'))).toEqual({ tipo: 'calculo', actorId: 'c-1' });
    expect(parseTopic('prestamo.a.b')).toBeUndefined();
    expect(parseTopic('')).toBeUndefined();
    expect(parseTopic('prestamo')).toBeUndefined();
    expect(parseTopic('prestamo.|')).toBeUndefined();
    expect(parseTopic('prestamo.a|b|')).toBeUndefined();
    expect(parseTopic('consulta.x|')).toBeUndefined();
    // Ids follow the actors' own rule (abuse campaign: 64 KiB and binary "ids" became registry entries).
    expect(parseTopic(`prestamo.${'x'.repeat(64)}|`)).toEqual({ tipo: 'prestamo', actorId: 'x'.repeat(64) });
    expect(parseTopic(`prestamo.${'x'.repeat(65)}|`)).toBeUndefined();
    expect(parseTopic('prestamo.\u0000\ud800|')).toBeUndefined();
    expect(parseTopic('prestamo.-x|')).toBeUndefined();
  });

  it('no actor topic is a prefix of another (SUB filters match prefixes)', () => {
    expect(topicFor('prestamo', 'actor-10').startsWith(topicFor('prestamo', 'actor-1'))).toBe(false);
    expect(topicFor('prestamo', 'a.b').startsWith(topicFor('prestamo', 'a'))).toBe(false);
  });
});

describe('actor registry: bounded against floods of unknown ids', () => {
  it('refreshOne reports one actor\'s transition once, like refresh() does for all', () => {
    const { reg, clock } = setup();
    reg.heard('prestamo', 'a');
    expect(reg.refreshOne('prestamo', 'a')).toEqual({ joined: [], died: [] }); // not subscribed: never live
    reg.subscribed('prestamo', 'a');
    expect(reg.refreshOne('prestamo', 'a').joined.map((x) => x.actorId)).toEqual(['a']);
    expect(reg.refreshOne('prestamo', 'a').joined).toEqual([]);
    expect(reg.refresh().joined).toEqual([]); // already reported
    reg.left('prestamo', 'a');
    expect(reg.refreshOne('prestamo', 'a').died.map((x) => x.actorId)).toEqual(['a']);
    expect(reg.refresh().died).toEqual([]);
    expect(reg.refreshOne('devolucion', 'nobody')).toEqual({ joined: [], died: [] });
    clock.t += 5000;
    reg.subscribed('prestamo', 'a'); // back, but silent for longer than deadMs
    expect(reg.refreshOne('prestamo', 'a').joined).toEqual([]);
  });

  it('keeps at most maxUnsubscribed entries that are not subscribed, forgetting the least recently heard', () => {
    const clock = { t: 1000, now() { return this.t; } };
    const reg = new ActorRegistry({ deadMs: 1000, estrategia: 'round-robin', clock, maxUnsubscribed: 3 });
    reg.subscribed('prestamo', 'real');
    reg.heard('prestamo', 'real');
    reg.subscribed('prestamo', 'quiet'); // subscribed, never heard: not capped either
    reg.heard('prestamo', 'misconfigured'); // heartbeats, never subscribes
    for (let i = 0; i < 50; i++) {
      reg.hello('prestamo', `rnd-${i}`);
      reg.heard('prestamo', 'misconfigured'); // heard again: moves to the back, kept
    }
    // 'quiet' is no entry yet: a subscription waits apart until its actor is heard.
    expect(reg.sizes()).toEqual({ total: 4, noSuscritos: 3, suscripcionesSinActor: 1 });
    expect(reg.evicted).toBe(48);
    const ids = reg.snapshot().map((a) => a.actorId).sort();
    expect(ids).toEqual(['misconfigured', 'real', 'rnd-48', 'rnd-49']);
    expect(reg.isLiveId('prestamo', 'real')).toBe(true);
    reg.heard('prestamo', 'quiet');
    expect(reg.isLiveId('prestamo', 'quiet')).toBe(true);
  });

  it('subscriptions of actors never heard are capped, oldest forgotten; one heard in time becomes a live actor', () => {
    const clock = { t: 1000, now() { return this.t; } };
    const reg = new ActorRegistry({ deadMs: 1000, estrategia: 'round-robin', clock, maxPendingSubscriptions: 3 });
    reg.subscribed('prestamo', 'real');
    for (let i = 0; i < 2; i++) reg.subscribed('prestamo', `fake-${i}`);
    reg.heard('prestamo', 'real'); // heard before the flood pushes it out
    for (let i = 2; i < 500; i++) reg.subscribed('prestamo', `fake-${i}`);
    expect(reg.sizes()).toEqual({ total: 1, noSuscritos: 0, suscripcionesSinActor: 3 });
    expect(reg.droppedSubscriptions).toBe(497);
    expect(reg.live('prestamo').map((a) => a.actorId)).toEqual(['real']);
    // An unsubscription of a never-heard actor just forgets its subscription.
    reg.unsubscribed('prestamo', 'fake-499');
    expect(reg.sizes().suscripcionesSinActor).toBe(2);
  });

  it('never evicts an actor that just unsubscribed before its death is reported', () => {
    const clock = { t: 1000, now() { return this.t; } };
    const reg = new ActorRegistry({ deadMs: 1000, estrategia: 'round-robin', clock, maxUnsubscribed: 2 });
    reg.subscribed('prestamo', 'a');
    reg.heard('prestamo', 'a');
    expect(reg.refresh().joined).toHaveLength(1);
    reg.unsubscribed('prestamo', 'a'); // its death not reported yet
    for (let i = 0; i < 10; i++) reg.hello('prestamo', `rnd-${i}`);
    expect(reg.refresh().died.map((x) => x.actorId)).toEqual(['a']);
    reg.hello('prestamo', 'more-1');
    reg.hello('prestamo', 'more-2');
    expect(reg.sizes().noSuscritos).toBe(2); // now it may go
  });
});

describe('actor registry: one id in two processes', () => {
  const beat = (reg: ActorRegistry, via: string) => reg.heard('prestamo', 'a', 0, via);

  it('is told when two connections take turns with one id, once, and says so while it lasts', () => {
    const { reg, clock } = setup();
    reg.subscribed('prestamo', 'a');
    const told: boolean[] = [];
    for (let i = 0; i < 8; i++) {
      clock.t += 125; // two processes beating every 250 ms, interleaved
      told.push(beat(reg, i % 2 === 0 ? 'conn-1' : 'conn-2'));
    }
    expect(told.filter(Boolean)).toHaveLength(1);
    expect(reg.repeatedIds()).toEqual(['prestamo.a']);
    expect(reg.snapshot().find((a) => a.actorId === 'a')?.idRepetido).toBe(true);
    // One of them stops: after the window the entry is an ordinary actor again.
    for (let i = 0; i < 40; i++) {
      clock.t += 250;
      beat(reg, 'conn-1');
    }
    expect(reg.repeatedIds()).toEqual([]);
    expect(reg.snapshot().find((a) => a.actorId === 'a')?.idRepetido).toBeUndefined();
  });

  it('a restart or a reconnection (a new connection, the old one silent) is not a repeated id', () => {
    const { reg, clock } = setup();
    reg.subscribed('prestamo', 'a');
    for (const via of ['conn-1', 'conn-1', 'conn-2', 'conn-2', 'conn-3', 'conn-3']) {
      clock.t += 250;
      expect(beat(reg, via)).toBe(false);
    }
    expect(reg.repeatedIds()).toEqual([]);
  });

  it("a dead connection's last message read after its successor's first is not a repeated id", () => {
    const { reg, clock } = setup();
    reg.subscribed('prestamo', 'a');
    beat(reg, 'conn-1');
    clock.t += 300;
    beat(reg, 'conn-2');
    beat(reg, 'conn-1'); // late, once
    for (let i = 0; i < 10; i++) {
      clock.t += 250;
      expect(beat(reg, 'conn-2')).toBe(false);
    }
    expect(reg.repeatedIds()).toEqual([]);
  });

  it("a dead connection's backlog read in turn with its successor's first messages (a burst of turns) is not a repeated id", () => {
    const { reg, clock } = setup();
    reg.subscribed('prestamo', 'a');
    beat(reg, 'conn-1');
    clock.t += 300;
    for (const via of ['conn-2', 'conn-1', 'conn-2', 'conn-1', 'conn-2']) {
      clock.t += 1;
      expect(beat(reg, via)).toBe(false);
    }
    for (let i = 0; i < 10; i++) {
      clock.t += 250;
      expect(beat(reg, 'conn-2')).toBe(false);
    }
    expect(reg.repeatedIds()).toEqual([]);
  });

  it('turns further apart than deadMs are a process that came back, not two at once', () => {
    const { reg, clock } = setup();
    reg.subscribed('prestamo', 'a');
    for (let i = 0; i < 6; i++) {
      clock.t += 1500;
      expect(beat(reg, i % 2 === 0 ? 'conn-1' : 'conn-2')).toBe(false);
    }
    expect(reg.repeatedIds()).toEqual([]);
  });
});
