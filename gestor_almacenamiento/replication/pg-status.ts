/**
 * The PostgreSQL part of the GA's /status (English in code, PgNodeDescription;
 * Spanish on /status, NodoPgVista): role of the node the GA uses,
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

/** One standby as a primary's /status shows it (ReplicationRow, in the /status's language). */
export interface ReplicaVista {
  nombre: string;
  direccion: string | null;
  /** startup | catchup | streaming | backup | stopping */
  estado: string;
  /** async | potential | sync | quorum */
  estadoSync: string;
  retrasoBytes: number | null;
  retrasoAplicacionMs: number | null;
  respuestaHaceMs: number | null;
}

/** A standby's own view as its GA's /status shows it (StandbyStatus, in the /status's language). */
export interface RecepcionVista {
  enRecuperacion: boolean;
  recibiendo: boolean;
  estadoWalReceiver: string | null;
  timeline: number | null;
  lsnAplicado: string | null;
  retrasoBytes: number | null;
  ultimoMensajeHaceMs: number | null;
}

/** The `postgres` node part of a GA's /status: PgNodeDescription with Spanish keys. */
export type NodoPgVista =
  | { rolPg: 'primary'; timeline: number; lsn: string; replicas: ReplicaVista[] | { error: string } }
  | { rolPg: 'standby'; timeline: number; lsn: string; recepcion: RecepcionVista | { error: string } }
  | { rolPg: 'unreachable'; error: string };

export function pgNodeView(d: PgNodeDescription): NodoPgVista {
  if (d.pgRole === 'unreachable') return { rolPg: 'unreachable', error: d.error };
  if (d.pgRole === 'primary') {
    const replicas = 'error' in d.replication ? d.replication : d.replication.map(replicaView);
    return { rolPg: 'primary', timeline: d.timeline, lsn: d.lsn, replicas };
  }
  const s = d.standby;
  const recepcion: RecepcionVista | { error: string } =
    'error' in s
      ? s
      : { enRecuperacion: s.inRecovery, recibiendo: s.receiving, estadoWalReceiver: s.walReceiverStatus, timeline: s.timeline, lsnAplicado: s.replayLsn, retrasoBytes: s.lagBytes, ultimoMensajeHaceMs: s.lastMsgAgeMs };
  return { rolPg: 'standby', timeline: d.timeline, lsn: d.lsn, recepcion };
}

function replicaView(r: ReplicationRow): ReplicaVista {
  return { nombre: r.applicationName, direccion: r.clientAddr, estado: r.state, estadoSync: r.syncState, retrasoBytes: r.lagBytes, retrasoAplicacionMs: r.replayLagMs, respuestaHaceMs: r.replyAgeMs };
}

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
