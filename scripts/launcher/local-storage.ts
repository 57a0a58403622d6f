/**
 * The PostgreSQL side of the local system: one embedded node ('single'), or a
 * primary on pc1 and a streaming standby cloned from it on pc2 ('two-hosts'),
 * with a handle per node for drills (kill, restart, promote, rejoin). The
 * node toolkit itself is postgres/; this file only places nodes on simulated hosts.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startEmbeddedPostgres } from '../../postgres/embedded.js';
import { ensureReplicationRole, pgRole, promote, replicationStatus, standbyStatus, type PgRoleInfo, type PromoteResult, type ReplicationRow, type StandbyStatus } from '../../postgres/admin.js';
import { cloneIncomplete, waitStreaming, type CloneResult } from '../../postgres/clone.js';
import { ensureDatabase, initIncomplete, isRunning, killNode, killOnExit, signalNode, startNode, startPrimary, stopNode } from '../../postgres/lifecycle.js';
import { nodeConn, nodeLogFile, writeNodeConf, type PgNodeSpec } from '../../postgres/node-config.js';
import { reclone, restartAsStandby } from '../../postgres/rejoin.js';
import type { HostName, NetHost } from './hosts.js';

export interface PgInfo {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

/** A PostgreSQL node of the two-hosts topology, for drills and the GA pair. */
export interface PgNodeHandle {
  hostName: HostName;
  info: PgInfo;
  dataDir: string;
  running(): boolean;
  role(): Promise<PgRoleInfo>;
  /** SIGKILL the server and all its backends (a crash). */
  kill(): Promise<void>;
  /** SIGSTOP / SIGCONT the server and all its backends: it stops answering without closing anything. */
  freeze(): void;
  thaw(): void;
  stop(): Promise<void>;
  /**
   * Starts the server again exactly as configured: a standby comes back as a
   * standby, a primary as a primary. Beware: a former primary restarted this
   * way after a failover comes up READ-WRITE on its old timeline (split
   * brain) — that is what restartAsStandby() prevents.
   */
  restart(): Promise<void>;
  promote(): Promise<PromoteResult>;
  /** The fence: restart following `newPrimary` (default: the other node); never read-write on the old timeline. */
  restartAsStandby(newPrimary?: PgNodeHandle, timeoutMs?: number): Promise<'streaming' | 'diverged'>;
  /** Rejoin as the new standby: wipe and clone from `primary` (default: the other node). */
  reclone(primary?: PgNodeHandle): Promise<CloneResult>;
}

/** One PostgreSQL node as seen right now: role, timeline, and replication lag from its side. */
export interface PgNodeStatus {
  host: HostName;
  address: string;
  port: number;
  role?: PgRoleInfo;
  /** Primary: its standbys (state, sync state, lag in bytes and ms). */
  replication?: ReplicationRow[];
  /** Standby: receive state and lag behind the primary. */
  standby?: StandbyStatus;
  error?: string;
}

/** Where each node's data lives under the system's data dir. */
export function pgDataDir(dataDir: string, host: HostName): string {
  return join(dataDir, host, 'pg');
}

function makePgNodeHandle(hostName: HostName, spec: PgNodeSpec, other: () => PgNodeHandle): PgNodeHandle {
  const conn = nodeConn(spec);
  const handle: PgNodeHandle = {
    hostName,
    info: nodeConn(spec),
    dataDir: spec.dataDir,
    running: () => isRunning(spec.dataDir),
    role: () => pgRole(conn),
    kill: () => killNode(spec.dataDir),
    freeze: () => signalNode(spec.dataDir, 'SIGSTOP'),
    thaw: () => signalNode(spec.dataDir, 'SIGCONT'),
    stop: () => stopNode(spec.dataDir),
    restart: async () => {
      await stopNode(spec.dataDir);
      await startNode(spec, { allowNotReady: true });
    },
    promote: () => promote(conn),
    restartAsStandby: (newPrimary = other(), timeoutMs) =>
      restartAsStandby({ ...spec, newPrimary: newPrimary.info, slot: hostName, applicationName: hostName, timeoutMs }),
    reclone: (primary = other()) =>
      reclone({ ...spec, primary: primary.info, primaryDataDir: primary.dataDir, slot: hostName, applicationName: hostName }),
  };
  return handle;
}

export async function describeNode(host: HostName, address: string, port: number, conn: PgInfo, peer?: PgInfo): Promise<PgNodeStatus> {
  const base: PgNodeStatus = { host, address, port };
  const quick = { connectTimeoutMs: 1000, queryTimeoutMs: 2000 };
  try {
    const role = await pgRole(conn, quick);
    if (!role.inRecovery) return { ...base, role, replication: await replicationStatus(conn, quick) };
    return { ...base, role, standby: await standbyStatus(conn, { ...quick, ...(peer ? { primary: peer } : {}) }) };
  } catch (err) {
    return { ...base, error: (err as Error).message };
  }
}

/** The PostgreSQL nodes of one local system. */
export interface LocalStorage {
  pg: PgInfo;
  pgNodes?: { primary: PgNodeHandle; standby: PgNodeHandle };
  stop(): Promise<void>;
  status(): Promise<PgNodeStatus[]>;
}

export async function startSingleStorage(dataDir: string, host: string, port: number): Promise<LocalStorage> {
  const pg = await startEmbeddedPostgres({ dataDir: join(dataDir, 'pg'), port, host, persistent: true });
  const info: PgInfo = { host: pg.host, port: pg.port, user: pg.user, password: pg.password, database: pg.database };
  return { pg: info, stop: pg.stop, status: async () => [await describeNode('pc1', pg.host, pg.port, info)] };
}

/** A standby cloned into `spec`'s dir; reclone replaces whatever a clone cut short left there (postgres/clone.ts marks a clone until it streams). */
const cloneInto = (spec: PgNodeSpec, host: HostName, primary: PgNodeSpec) =>
  reclone({ ...spec, primary: nodeConn(primary), primaryDataDir: primary.dataDir, slot: host, applicationName: host });

/**
 * pc1 primary + pc2 streaming standby (slot and application_name = host name).
 * A data dir kept from an earlier run is started as it is (a standby stays one), on
 * this run's port: each node's include file is rewritten first (a standby's with its
 * primary's new address). Two primaries (a failover that was never resolved) refuse to
 * start. A first start cut short is finished: the database and replication role made
 * if missing, a standby whose clone never ended cloned again.
 */
export async function startTwoHostStorage(dataDir: string, port: number, net: Record<HostName, NetHost>): Promise<LocalStorage> {
  const specs: Record<HostName, PgNodeSpec> = {
    pc1: { dataDir: pgDataDir(dataDir, 'pc1'), host: net.pc1.address, port, ...(net.pc1.netns ? { netns: net.pc1.netns } : {}) },
    pc2: { dataDir: pgDataDir(dataDir, 'pc2'), host: net.pc2.address, port, ...(net.pc2.netns ? { netns: net.pc2.netns } : {}) },
  };
  killOnExit(specs.pc1.dataDir);
  killOnExit(specs.pc2.dataDir);
  const stop = async () => {
    // Primary first: a fast shutdown sends its last WAL to the standby.
    await stopNode(specs.pc1.dataDir).catch(() => killNode(specs.pc1.dataDir));
    await stopNode(specs.pc2.dataDir).catch(() => killNode(specs.pc2.dataDir));
  };
  try {
    const usable = (h: HostName) => existsSync(join(specs[h].dataDir, 'PG_VERSION')) && !cloneIncomplete(specs[h].dataDir) && !initIncomplete(specs[h].dataDir);
    // Never a new, empty pc1 beside a pc2 that holds the data (it is started instead, as it is).
    const fresh = (!existsSync(join(specs.pc1.dataDir, 'PG_VERSION')) || initIncomplete(specs.pc1.dataDir)) && !usable('pc2');
    if (fresh) {
      await startPrimary(specs.pc1);
      await cloneInto(specs.pc2, 'pc2', specs.pc1);
    } else {
      for (const h of ['pc1', 'pc2'] as const) {
        if (!usable(h)) continue;
        const other = h === 'pc1' ? 'pc2' : 'pc1';
        const standby = existsSync(join(specs[h].dataDir, 'standby.signal'));
        await writeNodeConf(specs[h], standby ? { primary: nodeConn(specs[other]), slot: h, applicationName: h } : undefined);
        await startNode(specs[h], { allowNotReady: true });
      }
    }
    const roles = await Promise.all((['pc1', 'pc2'] as const).map((h) => pgRole(nodeConn(specs[h], 'postgres')).then((r) => [h, r] as const, () => [h, undefined] as const)));
    const primaries = roles.filter(([, r]) => r && !r.inRecovery).map(([h]) => h);
    // One node's data gone (a deleted dir) beside a standby: no primary, and nothing here may pick
    // one by itself. Say which way out there is, with the paths.
    const gone = primaries.length === 0 ? (['pc1', 'pc2'] as const).find((h) => !existsSync(join(specs[h].dataDir, 'PG_VERSION'))) : undefined;
    const left = gone && (gone === 'pc1' ? 'pc2' : 'pc1');
    if (gone && left && usable(left) && existsSync(join(specs[left].dataDir, 'standby.signal'))) {
      const signal = join(specs[left].dataDir, 'standby.signal');
      throw new Error(
        `los datos de ${gone} no están (${specs[gone].dataDir}) y ${left} es un standby: no queda ningún primario. Para seguir con los datos de ${left}, quite su standby.signal (rm ${signal}) y vuelva a ejecutar npm start: ${left} arrancará como primario y ${gone} se clonará de él. Para empezar un sistema nuevo, borre ${dataDir}`,
      );
    }
    if (primaries.length !== 1) {
      throw new Error(
        primaries.length === 0
          ? `no PostgreSQL primary among pc1/pc2 in ${dataDir} (see ${nodeLogFile(specs.pc1.dataDir)} and ${nodeLogFile(specs.pc2.dataDir)})`
          : `both pc1 and pc2 are PostgreSQL primaries in ${dataDir} (an unresolved failover): rejoin one as standby with npm run pg -- rejoin (postgres/cli.ts)`,
      );
    }
    const primaryHost = primaries[0]!;
    const standbyHost: HostName = primaryHost === 'pc1' ? 'pc2' : 'pc1';
    if (!fresh) {
      // A first start cut short (Ctrl-C, kill -9) may have left these undone.
      await ensureDatabase(nodeConn(specs[primaryHost]));
      await ensureReplicationRole(nodeConn(specs[primaryHost]));
      if (usable(standbyHost)) await waitStreaming(specs[standbyHost], 10_000).catch(() => undefined);
      else await cloneInto(specs[standbyHost], standbyHost, specs[primaryHost]);
    }
    const handles = {} as Record<HostName, PgNodeHandle>;
    handles.pc1 = makePgNodeHandle('pc1', specs.pc1, () => handles.pc2);
    handles.pc2 = makePgNodeHandle('pc2', specs.pc2, () => handles.pc1);
    return {
      pg: handles[primaryHost].info,
      pgNodes: { primary: handles[primaryHost], standby: handles[standbyHost] },
      stop,
      status: () =>
        Promise.all(
          (['pc1', 'pc2'] as const).map((h) => describeNode(h, specs[h].host, port, handles[h].info, handles[h === 'pc1' ? 'pc2' : 'pc1'].info)),
        ),
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
