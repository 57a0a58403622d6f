/** YieldPoint: a loop over a backlog that resolves at once still lets timers (heartbeats, /health) run. */
import { describe, expect, it } from 'vitest';
import { YieldPoint } from '../../common/yield-point.js';

/** Like a zeromq.js socket with a backlog: every next() resolves at once. */
async function* backlog(n: number): AsyncGenerator<number> {
  for (let i = 0; i < n; i++) yield i;
}

async function drain(fair?: YieldPoint): Promise<{ timerFiredAt: number | undefined }> {
  let processed = 0;
  let timerFiredAt: number | undefined;
  setTimeout(() => (timerFiredAt = processed), 0);
  for await (const _ of backlog(20_000)) {
    processed++;
    const turn = fair?.pass();
    if (turn) await turn;
  }
  await new Promise((r) => setTimeout(r, 5));
  return { timerFiredAt };
}

describe('YieldPoint', () => {
  it('without it, a timer waits for the whole backlog; with it, the timer runs while the backlog drains', async () => {
    expect((await drain()).timerFiredAt).toBe(20_000);
    const fair = await drain(new YieldPoint(64));
    expect(fair.timerFiredAt).toBeLessThan(20_000);
  });

  it('awaits nothing on the other passes', () => {
    const y = new YieldPoint(4);
    expect([y.pass(), y.pass(), y.pass()]).toEqual([undefined, undefined, undefined]);
    expect(y.pass()).toBeInstanceOf(Promise);
  });
});
