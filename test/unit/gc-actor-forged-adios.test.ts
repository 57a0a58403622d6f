/**
 * An adios an actor did not send (forged over plain ZeroMQ) takes it out of rotation
 * only for a while: an actor still beating 2 × ACTOR_DEAD_MS after "its" adios is back.
 * A real departure stops the beats (and the subscription) within its 1 s drain.
 */
import { describe, expect, it } from 'vitest';
import { ActorRegistry } from '../../gestor_carga/actor-registry.js';

describe('actor registry: a forged adios', () => {
  it('an actor that keeps beating after an adios is live again once 2 × deadMs have passed', () => {
    const clock = { t: 1000, now() { return this.t; } };
    const reg = new ActorRegistry({ deadMs: 1000, estrategia: 'round-robin', clock });
    reg.subscribed('prestamo', 'a');
    reg.heard('prestamo', 'a');
    reg.left('prestamo', 'a');
    expect(reg.isLiveId('prestamo', 'a')).toBe(false);
    for (const dt of [250, 500, 750, 1000, 1500, 2000]) {
      clock.t = 1000 + dt;
      reg.heard('prestamo', 'a', 0); // the drain window of a real departure, and a bit more
      expect(reg.isLiveId('prestamo', 'a'), `${dt} ms after adios`).toBe(false);
    }
    clock.t = 1000 + 2250;
    reg.heard('prestamo', 'a', 0);
    expect(reg.isLiveId('prestamo', 'a')).toBe(true);
    expect(reg.choose('prestamo', () => 0)).toBe('a');
  });

  it('a real departure (adios, then silence) stays out', () => {
    const clock = { t: 1000, now() { return this.t; } };
    const reg = new ActorRegistry({ deadMs: 1000, estrategia: 'round-robin', clock });
    reg.subscribed('prestamo', 'b');
    reg.heard('prestamo', 'b');
    reg.left('prestamo', 'b');
    clock.t += 500;
    reg.heard('prestamo', 'b', 0); // one last beat during the drain
    clock.t += 10_000;
    expect(reg.isLiveId('prestamo', 'b')).toBe(false);
    expect(reg.choose('prestamo', () => 0)).toBeUndefined();
  });
});
