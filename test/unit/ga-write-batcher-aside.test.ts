/**
 * WriteBatcher's aside lane as a pure unit: items a batch leaves undone, and
 * the items of a batch that failed in an isolatable way, run alone outside the
 * batch slot (the next batch does not wait for them), at most maxAside at once,
 * each waiting at most maxAsideWaitMs for its turn.
 */
import { describe, expect, test } from 'vitest';
import { WriteBatcher, WriteQueueFullError } from '../../gestor_almacenamiento/write-batcher.js';
import { eventually } from '../harness/eventually.js';

const tick = () => new Promise((r) => setImmediate(r));

/** A runAlone() whose calls finish only when the test releases them. */
function controlledAlone() {
  const calls: { item: number; release(): void; fail(err: unknown): void }[] = [];
  const runAlone = (item: number) =>
    new Promise<number>((resolve, reject) => calls.push({ item, release: () => resolve(item * 100), fail: reject }));
  return { calls, runAlone };
}

describe('WriteBatcher aside lane', () => {
  test('an item the batch left undone runs alone, and the next batch does not wait for it', async () => {
    const batches: number[][] = [];
    const { calls, runAlone } = controlledAlone();
    const b = new WriteBatcher<number, number>({
      run: async (items) => {
        batches.push(items);
        return items.map((x) => (x === 7 ? undefined : x * 10)); // 7's row is busy
      },
      runAlone,
      maxInFlight: 1,
      maxBatch: 32,
      isolate: () => true,
    });
    const seven = b.submit(7);
    await tick();
    const one = b.submit(1);
    await tick();
    expect(calls.map((c) => c.item)).toEqual([7]);
    expect(b.aside).toBe(1);
    expect(await one).toBe(10); // ran while 7 still waits aside
    expect(await b.submit(2)).toBe(20);
    calls[0]!.release();
    expect(await seven).toBe(700);
    expect(batches).toEqual([[7], [1], [2]]);
    await tick();
    expect(b.aside).toBe(0);
  });

  test('a batch failing with an isolatable error frees its slot before its items re-run alone', async () => {
    const { calls, runAlone } = controlledAlone();
    const batches: number[][] = [];
    const b = new WriteBatcher<number, number>({
      run: async (items) => {
        batches.push(items);
        if (items.length > 1) throw Object.assign(new Error('lock timeout'), { code: '55P03' });
        return items.map((x) => x * 10);
      },
      runAlone,
      maxInFlight: 1,
      maxBatch: 32,
      isolate: () => true,
    });
    const blocker = b.submit(0);
    await tick(); // [0] alone first; [1, 2] then fail together
    const failed = [1, 2].map((x) => b.submit(x));
    await blocker;
    await tick();
    expect(calls.map((c) => c.item)).toEqual([1, 2]);
    expect(await b.submit(3)).toBe(30); // the slot is free while 1 and 2 run alone
    calls[0]!.release();
    calls[1]!.fail(Object.assign(new Error('still locked'), { code: '55P03' }));
    expect(await failed[0]).toBe(100);
    await expect(failed[1]).rejects.toThrow('still locked');
  });

  test('at most maxAside items run alone at once; the rest wait their turn', async () => {
    const { calls, runAlone } = controlledAlone();
    const b = new WriteBatcher<number, number>({ run: async (items) => items.map(() => undefined), runAlone, maxInFlight: 1, maxBatch: 32, maxAside: 2, isolate: () => true });
    const blocker = b.submit(0);
    const ps = [1, 2, 3, 4].map((x) => b.submit(x));
    await tick();
    await tick();
    expect(calls.map((c) => c.item)).toEqual([0, 1]);
    expect(b.aside).toBe(5);
    calls[0]!.release();
    await tick();
    expect(calls.map((c) => c.item)).toEqual([0, 1, 2]);
    for (let i = 1; i <= 4; i++) {
      calls[i]!.release();
      await tick();
    }
    expect(await blocker).toBe(0);
    expect(await Promise.all(ps)).toEqual([100, 200, 300, 400]);
  });

  test('without runAlone an item left undone re-runs as a batch of one; undone again, it fails', async () => {
    const batches: number[][] = [];
    const b = new WriteBatcher<number, number>({
      run: async (items) => {
        batches.push(items);
        return items.map((x) => (x === 7 ? undefined : x));
      },
      maxInFlight: 1,
      maxBatch: 32,
      isolate: () => true,
    });
    await expect(b.submit(7)).rejects.toThrow(/no result/);
    expect(batches).toEqual([[7], [7]]);
  });

  test('writes waiting aside count against maxQueued: a locked book whose writes keep coming back is refused at once, nothing done', async () => {
    const { calls, runAlone } = controlledAlone();
    const b = new WriteBatcher<number, number>({
      run: async (items) => items.map(() => undefined), // every row busy: all aside
      runAlone,
      maxInFlight: 1,
      maxBatch: 32,
      maxAside: 1,
      maxQueued: 4,
      isolate: () => true,
    });
    const taken = [1, 2, 3, 4].map((i) => b.submit(i));
    for (let i = 0; i < 5; i++) await tick();
    taken.push(b.submit(5)); // 3 wait aside, none in the queue: taken
    for (let i = 0; i < 5; i++) await tick();
    expect(calls.map((c) => c.item)).toEqual([1]); // one runs alone, four wait for their turn
    expect(b.queued).toBe(0);
    await expect(b.submit(6)).rejects.toBeInstanceOf(WriteQueueFullError);
    for (let i = 0; i < 5; i++) {
      calls[i]!.release();
      for (let j = 0; j < 3; j++) await tick();
    }
    expect(await Promise.all(taken)).toEqual([100, 200, 300, 400, 500]);
    expect(b.aside).toBe(0);
  });

  test('an item that waits longer than maxAsideWaitMs for its turn alone is refused as busy; the others keep their turn', async () => {
    const { calls, runAlone } = controlledAlone();
    const b = new WriteBatcher<number, number>({ run: async (items) => items.map(() => undefined), runAlone, maxInFlight: 1, maxBatch: 32, maxAside: 1, maxAsideWaitMs: 50, isolate: () => true });
    const first = b.submit(1);
    await tick();
    const second = b.submit(2);
    const outcome = second.then(
      () => 'done',
      (e: unknown) => e,
    );
    await new Promise((r) => setTimeout(r, 120));
    // 1 still holds the only turn; 2 gave up waiting, with nothing of it done.
    expect(calls.map((c) => c.item)).toEqual([1]);
    expect(await outcome).toBeInstanceOf(WriteQueueFullError);
    calls[0]!.release();
    expect(await first).toBe(100);
    // A turn free at once: no wait, no refusal.
    const third = b.submit(3);
    await eventually('a turn alone for 3', () => calls.length >= 2, 2000);
    expect(calls.length).toBe(2);
    calls[1]!.release();
    expect(await third).toBe(300);
  });
});
