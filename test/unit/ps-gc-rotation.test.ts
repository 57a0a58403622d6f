/** Which GC a PS sends to (solicitante/gc-rotation.ts): pure, on a fake clock. */
import { describe, expect, it } from 'vitest';
import { GcRotation } from '../../solicitante/gc-rotation.js';

const A = 'tcp://10.0.0.1:5555';
const B = 'tcp://10.0.0.2:5555';
const C = 'tcp://10.0.0.3:5555';

function rotation(cooldownMs = 1000) {
  let t = 0;
  const r = new GcRotation([A, B, C], { cooldownMs, maxCooldownMs: 8000, now: () => t });
  return { r, advance: (ms: number) => (t += ms) };
}

describe('GC rotation', () => {
  it('sends to its own sede’s GC (the first) while it is usable', () => {
    const { r } = rotation();
    expect(r.pick()).toBe(A);
    r.connected(A);
    r.answered(A);
    expect(r.pick()).toBe(A);
  });

  it('a disconnected GC is passed over at once, and used again as soon as it reconnects', () => {
    const { r } = rotation();
    r.disconnected(A);
    expect(r.pick()).toBe(B);
    r.disconnected(B);
    expect(r.pick()).toBe(C);
    r.connected(A);
    expect(r.pick()).toBe(A);
  });

  it('a GC that let a request time out cools down, longer after each failure in a row; an answer ends it', () => {
    const { r, advance } = rotation(1000);
    r.failed(A);
    expect(r.pick()).toBe(B);
    advance(1000);
    expect(r.pick()).toBe(A);
    r.failed(A); // second in a row: 2 s
    advance(1500);
    expect(r.pick()).toBe(B);
    advance(500);
    expect(r.pick()).toBe(A);
    r.answered(A);
    r.failed(A); // the run was broken by an answer: 1 s again
    advance(1000);
    expect(r.pick()).toBe(A);
  });

  it('with every GC down it still picks one: the first not cooling, else the one that warms up first', () => {
    const { r, advance } = rotation(1000);
    for (const e of [A, B, C]) r.disconnected(e);
    expect(r.pick()).toBe(A);
    r.failed(A);
    advance(100);
    r.failed(B);
    advance(100);
    r.failed(C);
    expect(r.pick()).toBe(A);
    r.answered(B); // B warms up at once: the first usable one now
    expect(r.pick()).toBe(B);
    advance(800);
    expect(r.pick()).toBe(B); // A is warm again but still disconnected
    r.connected(A);
    expect(r.pick()).toBe(A);
  });

  it('a connected GC that is cooling down beats one known to be disconnected', () => {
    const { r, advance } = rotation(1000);
    r.disconnected(A); // own GC gone
    r.connected(B);
    r.failed(B); // B let one request time out: it may be slow, it is not gone
    r.disconnected(C);
    expect(r.pick()).toBe(B);
    advance(1000);
    expect(r.pick()).toBe(B);
  });

  it('requests in flight that time out together are one failure: the cooldown does not jump', () => {
    const { r, advance } = rotation(1000);
    r.connected(A);
    r.connected(B);
    const sentAt = 0;
    advance(5000);
    for (let i = 0; i < 10; i++) r.failed(A, sentAt); // ten requests sent at 0, all expiring now
    expect(r.pick()).toBe(B);
    advance(1000); // one failure: 1 s, not 2^9 s capped at 8 s
    expect(r.pick()).toBe(A);
    r.failed(A, 6000); // sent after that failure: a new one, 2 s
    advance(1999);
    expect(r.pick()).toBe(B);
    advance(1);
    expect(r.pick()).toBe(A);
  });

  it('needs at least one GC', () => {
    expect(() => new GcRotation([], { cooldownMs: 1 })).toThrow(/at least one/);
  });

  it('probed: a GC that let a request time out gets no request again, even after its cooldown, until it answers a ping', () => {
    let t = 0;
    const r = new GcRotation([A, B], { cooldownMs: 1000, maxCooldownMs: 8000, probed: true, now: () => t });
    r.connected(A);
    r.connected(B);
    r.failed(A, 0);
    expect(r.isSuspect(A)).toBe(true);
    expect(r.pick()).toBe(B);
    t += 5000; // cooldown long over: time alone would send a user request to A again
    expect(r.pick()).toBe(B);
    r.pinged(A);
    expect(r.isSuspect(A)).toBe(false);
    expect(r.pick()).toBe(A);
  });

  it('probed: a GC that answers pings but keeps letting requests time out returns only as its doubling cooldown allows', () => {
    let t = 0;
    const r = new GcRotation([A, B], { cooldownMs: 1000, maxCooldownMs: 8000, probed: true, now: () => t });
    r.failed(A, t);
    r.pinged(A); // answered a ping at once
    expect(r.pick()).toBe(B); // still cooling: 1 s
    t += 1000;
    expect(r.pick()).toBe(A);
    r.failed(A, t); // timed out again: 2 s this time, not reset by the ping
    r.pinged(A);
    t += 1999;
    expect(r.pick()).toBe(B);
    t += 1;
    expect(r.pick()).toBe(A);
    r.answered(A); // a user request answered: trusted again, the count starts over
    r.failed(A, t);
    r.pinged(A);
    t += 1000;
    expect(r.pick()).toBe(A);
  });

  it('without probed (the REQ client) a timed-out GC is tried again once its cooldown ends', () => {
    let t = 0;
    const r = new GcRotation([A, B], { cooldownMs: 1000, now: () => t });
    r.failed(A, t);
    expect(r.isSuspect(A)).toBe(false);
    expect(r.pick()).toBe(B);
    t += 1000;
    expect(r.pick()).toBe(A);
  });

  it('probed: a suspect GC is due for a ping once its cooldown ended; an unanswered ping waits one base cooldown more', () => {
    let t = 0;
    const r = new GcRotation([A, B], { cooldownMs: 1000, maxCooldownMs: 8000, probed: true, now: () => t });
    r.failed(A, t);
    expect(r.dueForPing()).toEqual([]);
    t += 1000;
    expect(r.dueForPing()).toEqual([A]);
    r.pingUnanswered(A);
    expect(r.dueForPing()).toEqual([]);
    expect(r.pick()).toBe(B);
    t += 1000;
    expect(r.dueForPing()).toEqual([A]);
    r.pinged(A);
    expect(r.dueForPing()).toEqual([]);
    expect(r.pick()).toBe(A);
  });

  it('probed: with every GC cooling, a suspect one is the last choice even if its cooldown ends first', () => {
    let t = 0;
    const r = new GcRotation([A, B], { cooldownMs: 1000, maxCooldownMs: 8000, probed: true, now: () => t });
    r.connected(A);
    r.connected(B);
    r.failed(A, t); // A hung: suspect, cooling 1 s
    t += 1000; // A's cooldown is over, still suspect (its pings unanswered)
    r.failed(B, t); // B timed out once, answers its ping at once: cooling, not suspect
    r.pinged(B);
    expect(r.pick()).toBe(B);
  });
});
