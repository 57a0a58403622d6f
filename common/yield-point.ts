/**
 * A receive loop over a socket with a backlog never leaves the microtask queue:
 * zeromq.js resolves each receive at once while messages are waiting, so timers
 * (heartbeats, liveness ticks, leases) and HTTP (/health) starve for as long as a
 * peer keeps the backlog full. The abuse campaign found it: a flood of
 * subscription messages left the GC without /health for minutes. A loop passes
 * a YieldPoint after each message; every `every`-th pass waits one macrotask turn
 * (`const t = yp.pass(); if (t) await t;`: the other passes cost no await at all).
 */
import { setImmediate as nextTurn } from 'node:timers/promises';

export class YieldPoint {
  private n = 0;

  constructor(private readonly every = 64) {}

  /** Resolves at once, but every `every`-th call only after the event loop's next turn. */
  pass(): Promise<void> | undefined {
    return ++this.n % this.every === 0 ? nextTurn().then(() => undefined) : undefined;
  }
}
