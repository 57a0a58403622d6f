/**
 * WriteBatcher as a pure unit: batches form only while the slots are busy,
 * results go back to their own callers, and a failing batch is either split
 * (one poisoned item fails alone) or failed whole (e.g. database unreachable).
 */
import { describe, expect, test } from 'vitest';
import { WriteBatcher, WriteQueueFullError } from '../../gestor_almacenamiento/write-batcher.js';

/** A run() whose batches finish only when the test releases them. */
function controlledRun() {
  const calls: { items: number[]; release(out?: number[]): void; fail(err: unknown): void }[] = [];
  const run = (items: number[]) =>
    new Promise<number[]>((resolve, reject) => {
      calls.push({ items, release: (out) => resolve(out ?? items.map((x) => x * 10)), fail: reject });
    });
  return { calls, run };
}
const tick = () => new Promise((r) => setImmediate(r));

describe('WriteBatcher', () => {
  test('an idle batcher runs a lone item at the end of the turn; items arriving meanwhile go together in the next batch', async () => {
    const { calls, run } = controlledRun();
    const sizes: number[] = [];
    const b = new WriteBatcher<number, number>({ run, maxInFlight: 1, maxBatch: 32, isolate: () => true, onBatch: (n) => sizes.push(n) });
    const first = b.submit(1);
    expect(calls).toHaveLength(0);
    await tick();
    expect(calls.map((c) => c.items)).toEqual([[1]]);
    const rest = [2, 3, 4].map((x) => b.submit(x));
    expect(b.queued).toBe(3);
    calls[0]!.release();
    expect(await first).toBe(10);
    await tick();
    expect(calls.map((c) => c.items)).toEqual([[1], [2, 3, 4]]);
    calls[1]!.release();
    expect(await Promise.all(rest)).toEqual([20, 30, 40]);
    expect(sizes).toEqual([1, 3]);
  });

  test('batches that never come back: past maxQueued a write is refused at once, nothing of it done; room again once they return', async () => {
    const { calls, run } = controlledRun();
    const b = new WriteBatcher<number, number>({ run, maxInFlight: 1, maxBatch: 32, maxQueued: 3, isolate: () => true });
    const first = b.submit(1);
    await tick();
    const waiting = [2, 3, 4].map((x) => b.submit(x));
    await expect(b.submit(5)).rejects.toBeInstanceOf(WriteQueueFullError);
    expect(b.queued).toBe(3);
    calls[0]!.release();
    expect(await first).toBe(10);
    await tick();
    expect(calls.map((c) => c.items)).toEqual([[1], [2, 3, 4]]);
    const later = b.submit(6);
    calls[1]!.release();
    expect(await Promise.all(waiting)).toEqual([20, 30, 40]);
    await tick();
    calls[2]!.release();
    expect(await later).toBe(60);
  });

  test('maxInFlight slots run concurrently and maxBatch caps a batch', async () => {
    const { calls, run } = controlledRun();
    const b = new WriteBatcher<number, number>({ run, maxInFlight: 2, maxBatch: 2, isolate: () => true });
    const all = [1, 2, 3, 4, 5, 6].map((x) => b.submit(x));
    await tick();
    // Submitted in one turn: they start together, two slots of at most two each.
    expect(calls.map((c) => c.items)).toEqual([[1, 2], [3, 4]]);
    calls[0]!.release();
    await tick();
    expect(calls.map((c) => c.items)).toEqual([[1, 2], [3, 4], [5, 6]]);
    calls[1]!.release();
    calls[2]!.release();
    expect(await Promise.all(all)).toEqual([10, 20, 30, 40, 50, 60]);
  });

  test('a batch failing with an isolatable error is re-run item by item: only the poisoned item fails', async () => {
    const runs: number[][] = [];
    const b = new WriteBatcher<number, number>({
      run: async (items) => {
        runs.push(items);
        if (items.includes(13)) throw new Error('poisoned');
        return items.map((x) => x + 1);
      },
      maxInFlight: 1,
      maxBatch: 32,
      isolate: () => true,
    });
    const blocker = b.submit(0);
    await tick(); // [0] starts alone; the next three, submitted in one turn, form one batch
    const [a, poisoned, c] = [12, 13, 14].map((x) => b.submit(x));
    await blocker;
    expect(await a).toBe(13);
    await expect(poisoned).rejects.toThrow('poisoned');
    expect(await c).toBe(15);
    expect(runs).toEqual([[0], [12, 13, 14], [12], [13], [14]]);
  });

  test('a batch failing with a non-isolatable error fails every item without re-running', async () => {
    let runs = 0;
    const down = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    const b = new WriteBatcher<number, number>({
      run: async () => {
        runs++;
        throw down;
      },
      maxInFlight: 1,
      maxBatch: 32,
      isolate: (err) => (err as { code?: string }).code !== 'ECONNREFUSED',
    });
    const ps = [1, 2, 3].map((x) => b.submit(x));
    for (const p of ps) await expect(p).rejects.toBe(down);
    expect(runs).toBe(1); // [1, 2, 3] together (one turn); no per-item retries
  });

  test('a run returning the wrong number of results fails nobody silently', async () => {
    const b = new WriteBatcher<number, number>({ run: async () => [], maxInFlight: 1, maxBatch: 32, isolate: () => true });
    await expect(b.submit(1)).rejects.toThrow(/returned 0 results/);
  });
});
