/**
 * Which PostgreSQL node a GA may write through when it becomes active, and the
 * promotion of its local standby when no primary is left. The rules are here;
 * the SQL is behind PgControl (postgres/admin.ts in production, fakes in tests).
 *
 * Rules, in order:
 *  1. Probe every known node (ours and the peer's) in parallel, with short timeouts.
 *  2. The reference timeline is the highest one seen anywhere (heartbeats, probes,
 *     the fencing token of the client write that asked for the takeover).
 *  3. A reachable primary (not in recovery) on that timeline is used as is:
 *     "the PostgreSQL primary is still alive". A primary on a LOWER timeline is a
 *     node that came back after a failover on its old history: never used.
 *     Two distinct primaries on the top timeline = someone else split the brain:
 *     refuse rather than pick one.
 *  4. Otherwise promote OUR OWN standby, only if it is on the top timeline
 *     (a standby that never followed the newest primary would fork a second,
 *     different history under the next timeline number).
 *  5. Otherwise fail: the GA stays passive and says why. A caller that may not
 *     promote (a backup that never heard its peer) fails here instead of step 4.
 * Only the local standby is ever promoted: the backup GA sits next to it, and a GA
 * that cannot reach its own node has no business promoting someone else's.
 */
import type { Fencing } from '../../common/protocol/internal.js';
import type { Logger } from '../../common/logger.js';
import type { PgConn } from '../../postgres/admin.js';
import { pgRole, promote, sameServer } from '../../postgres/admin.js';

export interface PgNode {
  name: 'local' | 'peer';
  conn: PgConn;
}

export interface PgControl {
  /** `sistema`: the cluster's system_identifier (fakes may leave it out: no fencing tokens then). */
  role(conn: PgConn, o?: { connectTimeoutMs?: number; queryTimeoutMs?: number }): Promise<{ inRecovery: boolean; timeline: number; sistema?: string }>;
  promote(conn: PgConn): Promise<{ timeline: number; promoted: boolean }>;
}

/** Admin checks during a takeover must be quick: a dead node costs at most this. */
export const PROBE = { connectTimeoutMs: 800, queryTimeoutMs: 1500 };

export const pgAdminControl: PgControl = {
  role: (conn, o) => pgRole(conn, o ?? PROBE),
  promote: (conn) => promote(conn, { connectTimeoutMs: PROBE.connectTimeoutMs }),
};

export interface NodeChoice {
  node: PgNode;
  timeline: number;
  /** The chosen node's cluster (promotion keeps it), when its probe told. */
  sistema?: string;
  promoted: boolean;
  /** One line for logs and the role-change reason. */
  detail: string;
}

export class TakeoverError extends Error {
  override name = 'TakeoverError';
}

export const nodeLabel = (n: PgNode) => `${n.name} ${n.conn.host}:${n.conn.port}`;

type Probe = { node: PgNode; inRecovery: boolean; timeline: number; sistema?: string } | { node: PgNode; error: string };

/**
 * `token`: the fencing token of the client write that triggered the takeover; its
 * timeline counts as seen when a probed node is of its cluster.
 * `o.mayPromote` false: only a primary that is already there may be used.
 */
export async function chooseNode(nodes: PgNode[], highestSeen: number, pgc: PgControl, log: Logger, token?: Fencing, o: { mayPromote?: boolean } = {}): Promise<NodeChoice> {
  const unique = nodes.filter((n, i) => nodes.findIndex((m) => sameServer(m.conn, n.conn)) === i);
  const probes: Probe[] = await Promise.all(
    unique.map(async (node) => {
      try {
        return { node, ...(await pgc.role(node.conn)) };
      } catch (err) {
        return { node, error: err instanceof Error ? err.message : String(err) };
      }
    }),
  );
  const seen = probes.flatMap((p) => ('error' in p ? [] : [p.timeline]));
  if (token && probes.some((p) => !('error' in p) && p.sistema === token.sistema)) seen.push(token.timeline);
  const top = Math.max(highestSeen, ...seen);
  const summary = probes
    .map((p) => ('error' in p ? `${nodeLabel(p.node)}: unreachable (${p.error})` : `${nodeLabel(p.node)}: ${p.inRecovery ? 'standby' : 'primary'} tl ${p.timeline}`))
    .join('; ');

  const primaries = probes.filter((p): p is Extract<Probe, { inRecovery: boolean }> => !('error' in p) && !p.inRecovery);
  for (const p of primaries.filter((p) => p.timeline < top)) {
    log.error({ node: nodeLabel(p.node), timeline: p.timeline, highestTimeline: top }, 'stale PostgreSQL primary (old timeline): never writing to it; rejoin it as a standby');
  }
  const usable = primaries.filter((p) => p.timeline >= top);
  if (usable.length > 1) throw new TakeoverError(`two PostgreSQL primaries on timeline ${top} (${summary}): refusing to choose`);
  if (usable[0]) return { node: usable[0].node, timeline: usable[0].timeline, sistema: usable[0].sistema, promoted: false, detail: `using primary ${nodeLabel(usable[0].node)} on timeline ${usable[0].timeline}` };

  const local = probes.find((p) => p.node.name === 'local');
  if (!local || 'error' in local) throw new TakeoverError(`no PostgreSQL primary alive and our own node is unreachable (${summary})`);
  if (local.timeline < top) throw new TakeoverError(`our standby is on timeline ${local.timeline} < ${top}: promoting it would fork the history (${summary})`);
  if (o.mayPromote === false) throw new TakeoverError(`no PostgreSQL primary on timeline ${top} and this takeover may not promote (${summary})`);
  log.warn({ node: nodeLabel(local.node), timeline: local.timeline, probes: summary }, 'no PostgreSQL primary alive: promoting our standby');
  const r = await pgc.promote(local.node.conn);
  if (r.timeline <= top && r.promoted) throw new TakeoverError(`promoted ${nodeLabel(local.node)} but it reports timeline ${r.timeline} <= ${top}`);
  return { node: local.node, timeline: r.timeline, sistema: local.sistema, promoted: r.promoted, detail: `promoted ${nodeLabel(local.node)}: timeline ${local.timeline} → ${r.timeline}` };
}
