/**
 * What a drill needs of the system it runs on, whether its processes are local
 * children (scripts/launcher/local-system.ts) or containers (scripts/contenedores/):
 * where the GC listens, each host's GA (its /status and /metrics), each
 * PostgreSQL node (connection and role) and a status of every node for the
 * report. LocalSystem has this shape already; the container system builds it.
 */
import type { PgRoleInfo } from '../../postgres/admin.js';
import type { HostName } from '../launcher/hosts.js';
import type { PgInfo, PgNodeStatus } from '../launcher/local-storage.js';
import type { Topology } from '../launcher/local-system.js';

/** A GA as the drills watch it: its HTTP status and metrics. */
export interface GaProbe {
  /** False while the drill knows it is down (a killed child); a container is asked anyway. */
  readonly running: boolean;
  /** GET /status, or undefined when it does not answer. */
  status<T>(): Promise<T | undefined>;
  readonly spec: { httpHost?: string; httpPort?: number };
}

export interface PgProbe {
  hostName: HostName;
  info: PgInfo;
  role(): Promise<PgRoleInfo>;
}

export interface DrillSystem {
  /** The GCs, in the order PS of the first sede use them. */
  gcEndpoints: string[];
  topology: Topology;
  /** The PostgreSQL of the 'single' topology (the pair's is found from pgNodes). */
  pg: PgInfo;
  pgNodes?: { primary: PgProbe; standby: PgProbe };
  hosts: Partial<Record<HostName, { ga?: GaProbe }>>;
  /** The 'single' topology's GA. */
  ga: GaProbe;
  pgStatus(): Promise<PgNodeStatus[]>;
}
