/**
 * The PostgreSQL part of the GA's /status: role of the node the GA uses,
 * its timeline and replication lag (standbys seen from a primary, or this
 * standby's own lag behind its primary). Bounded by short timeouts: /status
 * must answer quickly even when a node is dead.
 */
import { AdminSessions, pgRole, replicationStatus, standbyStatus, type AdminTarget, type ReplicationRow, type StandbyStatus } from '../../postgres/admin.js';

/** The PostgreSQL node a GA uses, as its /status shows it. */
export type PgNodeDescription =
  | { pgRole: 'primary'; timeline: number; lsn: string; replication: ReplicationRow[] | { error: string } }
  | { pgRole: 'standby'; timeline: number; lsn: string; standby: StandbyStatus | { error: string } }
  | { pgRole: 'unreachable'; error: string };

const QUICK = { connectTimeoutMs: 500, queryTimeoutMs: 1000 };

/**
 * Kept-open connections for /status, by node: launchers and dashboards poll it
 * several times a second, and a fresh connection per call forks a backend each time.
 */
export const statusSessions = (): AdminSessions => new AdminSessions(QUICK);

export async function describePgNode(node: AdminTarget, peer?: AdminTarget): Promise<PgNodeDescription> {
  try {
    const r = await pgRole(node, QUICK);
    if (!r.inRecovery) {
      const standbys = await replicationStatus(node, QUICK).catch((err: unknown) => ({ error: (err as Error).message }));
      return { pgRole: 'primary', timeline: r.timeline, lsn: r.lsn, replication: standbys };
    }
    const s = await standbyStatus(node, { ...QUICK, ...(peer ? { primary: peer } : {}) }).catch((err: unknown) => ({ error: (err as Error).message }));
    return { pgRole: 'standby', timeline: r.timeline, lsn: r.lsn, standby: s };
  } catch (err) {
    return { pgRole: 'unreachable', error: (err as Error).message };
  }
}
