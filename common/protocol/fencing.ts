/**
 * Fencing tokens (the rules; the token is `Fencing` in internal.ts).
 *
 * A GA of a pair stamps every acknowledged write with the PostgreSQL history it
 * went to: cluster and timeline. Storage clients keep the newest stamp they got
 * and send it with every write. A GA whose node is on an OLDER timeline of the
 * same cluster is the stale side of a failover: a client that already wrote on
 * the newer history proves it, whatever that GA's own heartbeats and probes have
 * (not yet) told it, so the write is refused and the GA fences itself.
 *
 * It guards what a client has seen, not more: a client that never reached the
 * new primary carries an old token, and a restarted client carries none; the
 * GA pair's own rules (role/machine.ts) cover those.
 */
import type { Fencing } from './internal.js';

/** The token to keep after an acknowledged write stamped `seen`. */
export function newerFencing(held: Fencing | undefined, seen: Fencing | undefined): Fencing | undefined {
  if (!seen) return held;
  // Another cluster (re-initialised, not a failover): the old token says nothing about it.
  if (!held || held.sistema !== seen.sistema) return seen;
  return seen.timeline > held.timeline ? seen : held;
}

/** True when a node on `node`'s history is behind `token`: writing there would fork the history. */
export function isBehind(node: { sistema?: string; timeline?: number }, token: Fencing): boolean {
  return node.sistema !== undefined && node.timeline !== undefined && node.sistema === token.sistema && token.timeline > node.timeline;
}
