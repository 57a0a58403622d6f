/**
 * WorkQueue (actores/work-queue.ts): a copy of a task that arrives from another GC
 * right after the first run reported (a microtask later, as a receive can) is run and
 * reported to that GC, not merged into a report already sent.
 */
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { WorkQueue } from '../../actores/work-queue.js';
import { eventually } from '../harness/eventually.js';

describe('WorkQueue', () => {
  it('reports a copy handed over just after the first report to the GC that sent it', async () => {
    const reports: Array<{ id: string; origins: number[] }> = [];
    let runs = 0;
    const q: WorkQueue<{ id: string }, string> = new WorkQueue({
      work: async (t) => {
        runs++;
        return { outcome: `hecho ${t.id}`, ok: true };
      },
      report: (_o, t, _ms, origins) => {
        reports.push({ id: t.id, origins });
        // Another GC's copy, read by the receive loop a microtask after this report.
        if (reports.length === 1) queueMicrotask(() => q.submit({ id: t.id }, 1));
      },
      concurrency: 4,
      log: pino({ level: 'silent' }),
    });
    expect(q.submit({ id: 'op-1' }, 0)).toBe('started');
    await eventually('the copy reported to GC 1', () => reports.some((r) => r.origins.includes(1)));
    expect(reports).toEqual([
      { id: 'op-1', origins: [0] },
      { id: 'op-1', origins: [1] },
    ]);
    expect(runs).toBe(2);
    await q.idle();
    expect(q.inFlight).toBe(0);
  });

  it('a copy that arrives while the task runs joins it: one run, one report to both GCs', async () => {
    let release!: () => void;
    const reports: number[][] = [];
    const q = new WorkQueue<{ id: string }, string>({
      work: () => new Promise((r) => (release = () => r({ outcome: 'ok', ok: true }))),
      report: (_o, _t, _ms, origins) => void reports.push(origins),
      concurrency: 1,
      log: pino({ level: 'silent' }),
    });
    expect(q.submit({ id: 'op-2' }, 0)).toBe('started');
    expect(q.submit({ id: 'op-2' }, 1)).toBe('duplicate');
    release();
    await q.idle();
    expect(reports).toEqual([[0, 1]]);
  });
});
