/**
 * Starts the whole system on this machine: PostgreSQL, GA, GC and actors as
 * real child processes. Used by `npm start`, the benchmark and the end-to-end
 * tests, so all three run the same thing.
 *
 * Topologies:
 * - 'single': one embedded PostgreSQL and every process on one address.
 * - 'two-hosts': simulated hosts on their own loopback addresses, like
 *   docker-compose.pc1.yml / pc2.yml: pc1 (127.0.1.1) runs the PostgreSQL
 *   primary, the GA primary, a GC and actors; pc2 (127.0.1.2) a real streaming
 *   standby cloned from it (same port number), the GA backup, a second GC and
 *   more actors (the actors of each type alternate between the hosts). Both GCs
 *   are active; every actor works for both. GCs and actors get both GAs in
 *   GA_ENDPOINTS. Each host's processes are grouped
 *   (`hosts.pc1.kill()` crashes a whole host) and each PostgreSQL node has a
 *   handle for drills (kill, restart, promote, restartAsStandby, reclone).
 *
 * The default stays 'single': the end-to-end tests and the benchmark exercise
 * the business rules and the hops, which a second PostgreSQL and GA would only
 * slow down; `npm start` and the failover drills ask for 'two-hosts'.
 *
 * One launcher per data dir (scripts/launcher/lock.ts): a second start on a dir
 * in use refuses (DataDirLockedError) before touching anything, because
 * it would otherwise adopt, and on its way out stop, the first one's PostgreSQL.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { LibroCatalogo } from '../../gestor_almacenamiento/catalog.js';
import { startEmbeddedPostgres } from '../../postgres/embedded.js';
import { OPERACIONES_ACTOR } from '../../common/protocol/ps-gc.js';
import type { TipoActor } from '../../common/protocol/internal.js';
import { TIPO_CALCULO } from '../../common/protocol/calc.js';
import type { GcStatus } from '../../gestor_carga/gc.js';
import { pgRole, promote, replicationStatus, standbyStatus, type PgRoleInfo, type PromoteResult, type ReplicationRow, type StandbyStatus } from '../../postgres/admin.js';
import { cloneStandby, waitStreaming, type CloneResult } from '../../postgres/clone.js';
import { isRunning, killNode, killOnExit, startNode, startPrimary, stopNode } from '../../postgres/lifecycle.js';
import { nodeConn, type PgNodeSpec } from '../../postgres/node-config.js';
import { reclone, restartAsStandby } from '../../postgres/rejoin.js';
import { ManagedProcess } from './child-process.js';
import { freePort } from './free-port.js';
import { acquireLauncherLock } from './lock.js';
import { PC1, PC2, freePortOnAll } from './hosts.js';
import { curveEnv, generateKeys } from './deployment-keys.js';

export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('package.json not found above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
  return dir;
}

export interface LocalSystemOptions {
  /** Where PostgreSQL data and process logs live; default a temp dir removed by stop(). */
  dataDir?: string;
  actorsPerType?: number;
  /**
   * 'todos': each actor process serves all three operation types (ACTOR_TIPOS), so
   * `actorsPerType` processes give that many actors of every type; 'uno' (default):
   * one process per actor and type.
   */
  tiposPorActor?: 'uno' | 'todos';
  /** `calculo` actors (default 0), each a process of its own, placed like the others (two-hosts: alternating pc1, pc2). */
  calcActors?: number;
  /** Extra environment for every process (e.g. GC_MODO_DEVOLUCION=sync). */
  env?: Record<string, string>;
  /** 'standard' = the documented default ports (npm start); 'free' = any free ports (tests). */
  ports?: 'standard' | 'free';
  host?: string;
  /** Catalog file loaded at start; default the demo catalog. */
  catalog?: string;
  /** Instead of `catalog`: these books, written as a JSON catalog in the data dir and loaded at start. */
  libros?: LibroCatalogo[];
  /** 'single' (default): one PostgreSQL, one address. 'two-hosts': pc1 primary + pc2 streaming standby (see top of file). */
  topology?: Topology;
  /** two-hosts: PostgreSQL replication run by the active GA (GA_REPLICACION); default async. */
  replicacion?: 'async' | 'sync';
  /**
   * two-hosts on other addresses, e.g. real-network test hosts (scripts/drill/netns.ts): each host's
   * address and, optionally, the network namespace its processes and PostgreSQL run in. With
   * `clients`, a third host (named pc3) runs the (one) GC and every actor, so pc1 and pc2 hold only
   * the storage side. Namespaced hosts use the standard ports (each namespace has its own).
   * Default: pc1/pc2 on 127.0.1.1/127.0.1.2 in this namespace, GC and actors as described above.
   */
  hostsNet?: { pc1: NetHost; pc2: NetHost; clients?: NetHost };
  /**
   * Aborts a start in progress (a launcher got Ctrl-C): checked between steps; the start
   * then stops what it had started, like any failed start, and rejects.
   */
  signal?: AbortSignal;
  /**
   * CURVE on the internal sockets (GC PUB and backend, GA, GA peer link), with fresh
   * key pairs made for this start (scripts/launcher/deployment-keys.ts), like a compose deployment.
   */
  seguro?: boolean;
}

/** A simulated host's address and, optionally, its network namespace. */
export interface NetHost {
  address: string;
  netns?: string;
}

export type Topology = 'single' | 'two-hosts';
export type HostName = 'pc1' | 'pc2';

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

/** A simulated host: its address, its processes and its PostgreSQL node; kill() crashes them all at once. */
export interface HostHandle {
  name: HostName;
  address: string;
  /** Every process started on this host (a live view: actors added later are in it too). */
  readonly processes: ManagedProcess[];
  /** two-hosts: this host's member of the GA pair. */
  ga?: ManagedProcess;
  pg?: PgNodeHandle;
  /** SIGKILL every process of the host and its PostgreSQL together. */
  kill(): Promise<void>;
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

/** One GC of the system: where PS reach it, where actors do, its process. */
export interface GcInfo {
  /** GC_ID, e.g. gc-pc1. */
  id: string;
  host: HostName | 'pc3';
  /** Its PS-facing endpoint. */
  endpoint: string;
  pub: string;
  backend: string;
  http: string;
  process: ManagedProcess;
}

export interface LocalSystem {
  /** The first GC's PS-facing endpoint (pc1's): the PS's default. */
  gcEndpoint: string;
  /** Every GC's PS-facing endpoint, pc1's first: a PS of pc1's sede uses this order. */
  gcEndpoints: string[];
  /** Every GC, pc1's first (single topology: one). */
  gcs: GcInfo[];
  /** The GA started as primary (two-hosts: the one next to the PostgreSQL primary). */
  gaEndpoint: string;
  gcHttp: string;
  gaHttp: string;
  /** Every GA, primary first: what GC and actors have in GA_ENDPOINTS. */
  gaEndpoints: string[];
  /** The PostgreSQL the GA was started on (the primary). */
  pg: PgInfo;
  dataDir: string;
  topology: Topology;
  /** two-hosts: the nodes as started (primary on pc1, standby on pc2); roles change in drills, ask role(). */
  pgNodes?: { primary: PgNodeHandle; standby: PgNodeHandle };
  /** two-hosts: pc1 and pc2. single: pc1 only (its address is `host`), without a pg node handle. */
  hosts: Partial<Record<HostName, HostHandle>>;
  /** Role, timeline and replication lag of every PostgreSQL node (for /status-like reports and drills). */
  pgStatus(): Promise<PgNodeStatus[]>;
  /** The GA started as primary (two-hosts: role `primary`; roles change in drills, ask its /status). */
  ga: ManagedProcess;
  /** two-hosts: the GA started as backup, on the other host. */
  gaBackup?: ManagedProcess;
  /** The first GC's process (pc1's). */
  gc: ManagedProcess;
  actors: ManagedProcess[];
  /** Starts one more actor of a type (on `host`, default pc1) and waits until it is healthy. */
  addActor(tipo: TipoActor, host?: HostName): Promise<ManagedProcess>;
  /** Resolves when every running GC reports at least `n` live actors of every library type. */
  waitForActors(n: number, timeoutMs?: number): Promise<void>;
  /** Resolves when every running GC reports exactly `n` live calculo actors. */
  waitForCalcActors(n: number, timeoutMs?: number): Promise<void>;
  /** `seguro`: the CURVE public key of each identity (gc-pc1, ga-pc1, actores-pc1, …), for checks and banners. */
  curvePublicKeys?: Record<string, string>;
  stop(): Promise<void>;
}

const STANDARD = { pg: 54329, gcFront: 5555, gcPub: 5556, gcBack: 5557, ga: 5570, gaPeer: 5571, gcHttp: 9555, gaHttp: 9570, actorHttp: 9580 };

const exec = promisify(execFile);

/** Where each node's data lives under the system's data dir. */
function pgDataDir(dataDir: string, host: HostName): string {
  return join(dataDir, host, 'pg');
}

function infoOf(spec: PgNodeSpec): PgInfo {
  return nodeConn(spec);
}

function makePgNodeHandle(hostName: HostName, spec: PgNodeSpec, other: () => PgNodeHandle): PgNodeHandle {
  const conn = nodeConn(spec);
  const handle: PgNodeHandle = {
    hostName,
    info: infoOf(spec),
    dataDir: spec.dataDir,
    running: () => isRunning(spec.dataDir),
    role: () => pgRole(conn),
    kill: () => killNode(spec.dataDir),
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

interface Storage {
  pg: PgInfo;
  pgNodes?: { primary: PgNodeHandle; standby: PgNodeHandle };
  stop(): Promise<void>;
  status(): Promise<PgNodeStatus[]>;
}

async function startSingleStorage(dataDir: string, host: string, port: number): Promise<Storage> {
  const pg = await startEmbeddedPostgres({ dataDir: join(dataDir, 'pg'), port, host, persistent: true });
  const info: PgInfo = { host: pg.host, port: pg.port, user: pg.user, password: pg.password, database: pg.database };
  return { pg: info, stop: pg.stop, status: async () => [await describeNode('pc1', pg.host, pg.port, info)] };
}

/**
 * pc1 primary + pc2 streaming standby (slot and application_name = host name).
 * A data dir kept from an earlier run is started as it is (a standby stays one);
 * two primaries (a failover that was never resolved) refuse to start.
 */
async function startTwoHostStorage(dataDir: string, port: number, net: Record<HostName, NetHost>): Promise<Storage> {
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
    const fresh = !existsSync(join(specs.pc1.dataDir, 'PG_VERSION'));
    if (fresh) {
      await startPrimary(specs.pc1);
      await cloneStandby({ ...specs.pc2, primary: nodeConn(specs.pc1), primaryDataDir: specs.pc1.dataDir, slot: 'pc2', applicationName: 'pc2' });
    } else {
      await startNode(specs.pc1, { allowNotReady: true });
      if (existsSync(join(specs.pc2.dataDir, 'PG_VERSION'))) await startNode(specs.pc2, { allowNotReady: true });
    }
    const roles = await Promise.all((['pc1', 'pc2'] as const).map((h) => pgRole(nodeConn(specs[h])).then((r) => [h, r] as const, () => [h, undefined] as const)));
    const primaries = roles.filter(([, r]) => r && !r.inRecovery).map(([h]) => h);
    if (primaries.length !== 1) {
      throw new Error(
        primaries.length === 0
          ? `no PostgreSQL primary among pc1/pc2 in ${dataDir}`
          : `both pc1 and pc2 are PostgreSQL primaries in ${dataDir} (an unresolved failover): rejoin one as standby with npm run pg -- rejoin (postgres/cli.ts)`,
      );
    }
    const primaryHost = primaries[0]!;
    const standbyHost: HostName = primaryHost === 'pc1' ? 'pc2' : 'pc1';
    if (!fresh && existsSync(join(specs[standbyHost].dataDir, 'PG_VERSION'))) await waitStreaming(specs[standbyHost], 10_000).catch(() => undefined);
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

/** The environment of one GA: standalone (single), or one member of the pair (two-hosts). */
function gaEnvironment(o: {
  common: Record<string, string>;
  pg: PgInfo;
  address: string;
  ports: { ga: number; gaHttp: number; gaPeer: number };
  pair?: { rol: 'primary' | 'backup'; peerAddress: string; peerPg: PgInfo; standbyName: HostName; replicacion: 'async' | 'sync' };
}): Record<string, string> {
  const env: Record<string, string> = {
    ...o.common,
    HTTP_HOST: o.address,
    PGHOST: o.pg.host,
    PGPORT: String(o.pg.port),
    PGUSER: o.pg.user,
    PGPASSWORD: o.pg.password,
    PGDATABASE: o.pg.database,
    GA_BIND: `tcp://${o.address}:${o.ports.ga}`,
    GA_HTTP_PORT: String(o.ports.gaHttp),
  };
  if (!o.pair) return env;
  return {
    ...env,
    GA_ROL: o.pair.rol,
    GA_PEER_BIND: `tcp://${o.address}:${o.ports.gaPeer}`,
    GA_PEER_ENDPOINT: `tcp://${o.pair.peerAddress}:${o.ports.gaPeer}`,
    PG_PEER_HOST: o.pair.peerPg.host,
    PG_PEER_PORT: String(o.pair.peerPg.port),
    // In sync mode a GA waits for the standby on the OTHER host.
    GA_STANDBY_NAME: o.pair.standbyName,
    // An explicit GA_REPLICACION in the caller's env wins.
    GA_REPLICACION: o.common.GA_REPLICACION ?? o.pair.replicacion,
  };
}

/** Polls the GAs' /status until one is ACTIVE and every other one is not (PASSIVE/FENCED). */
async function waitPairSettled(gas: ManagedProcess[], timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const estados = await Promise.all(gas.map(async (g) => (await g.status<{ papel?: { estado?: string } }>())?.papel?.estado ?? '?'));
    last = estados.join(',');
    if (estados[0] === 'ACTIVE' && estados.slice(1).every((e) => e === 'PASSIVE')) return;
    if (Date.now() > deadline) throw new Error(`GA pair not settled after ${timeoutMs} ms (states ${last}); see ${gas.map((g) => g.spec.logFile).join(', ')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startLocalSystem(opts: LocalSystemOptions = {}): Promise<LocalSystem> {
  if (opts.catalog && opts.libros) throw new Error('startLocalSystem: catalog and libros are alternatives, not both');
  const root = repoRoot();
  const dist = join(root, 'dist');
  const topology: Topology = opts.topology ?? 'single';
  const twoHosts = topology === 'two-hosts';
  const net: Record<HostName, NetHost> = { pc1: opts.hostsNet?.pc1 ?? { address: PC1 }, pc2: opts.hostsNet?.pc2 ?? { address: PC2 } };
  const clients = twoHosts ? opts.hostsNet?.clients : undefined;
  const namespaced = twoHosts && !!(net.pc1.netns || net.pc2.netns || clients?.netns);
  // Single: everything on `host`. Two hosts: pc1's address (with `hostsNet.clients`, that host's: the GC and actors live there).
  const host = twoHosts ? (clients?.address ?? net.pc1.address) : (opts.host ?? '127.0.0.1');
  const ownsDir = !opts.dataDir;
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'biblioteca-'));
  mkdirSync(dataDir, { recursive: true });
  // Before anything else in the dir: a refused second launcher must leave the first one's system alone.
  const lock = acquireLauncherLock(dataDir);
  const logDir = join(dataDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const checkAborted = () => {
    if (opts.signal?.aborted) throw new Error('arranque interrumpido');
  };
  const std = opts.ports === 'standard' || namespaced;
  const port = async (p: number) => (std ? p : freePort(host));
  // A port that is the same number on every host (two-hosts: GA, its peer link and HTTP, like real hosts).
  const hostPort = async (p: number) => (std ? p : twoHosts ? freePortOnAll([net.pc1.address, net.pc2.address]) : freePort(host));

  const started: ManagedProcess[] = [];
  let storage: Storage | undefined;
  const stop = async () => {
    // Clients first, storage last, so nothing logs spurious errors on the way down.
    try {
      for (const p of [...started].reverse()) await p.stop();
      await storage?.stop();
    } finally {
      lock.release();
    }
    if (ownsDir) rmSync(dataDir, { recursive: true, force: true });
  };

  try {
    storage = twoHosts
      ? await startTwoHostStorage(dataDir, std ? STANDARD.pg : await freePortOnAll([net.pc1.address, net.pc2.address]), net)
      : await startSingleStorage(dataDir, host, await port(STANDARD.pg));
    checkAborted();
    const pgInfo = storage.pg;
    const pgNodes = storage.pgNodes;
    // A data dir kept from an earlier failover may hold the primary on pc2: the GA next to it is the pair's primary.
    const primaryHost: HostName = pgNodes?.primary.hostName ?? 'pc1';
    const backupHost: HostName = primaryHost === 'pc1' ? 'pc2' : 'pc1';
    const addressOf = (h: HostName) => (twoHosts ? net[h].address : host);
    const netnsOf = (h: HostName) => (twoHosts ? net[h].netns : undefined);

    const gaPorts = { ga: await hostPort(STANDARD.ga), gaHttp: await hostPort(STANDARD.gaHttp), gaPeer: await hostPort(STANDARD.gaPeer) };
    const gaHosts: HostName[] = twoHosts ? [primaryHost, backupHost] : ['pc1'];
    const gaEndpoints = gaHosts.map((h) => `tcp://${addressOf(h)}:${gaPorts.ga}`);

    const common: Record<string, string> = {
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
      HTTP_HOST: host,
      GA_ENDPOINTS: gaEndpoints.join(','),
      ...opts.env,
    };
    // One GC per host (two-hosts), all active; with a clients host, one GC there; single: one.
    const gcHosts: Array<HostName | 'pc3'> = clients ? ['pc3'] : twoHosts ? ['pc1', 'pc2'] : ['pc1'];
    const actorHosts: Array<HostName | 'pc3'> = clients ? ['pc1', 'pc2', 'pc3'] : twoHosts ? ['pc1', 'pc2'] : ['pc1'];
    const keys = opts.seguro ? generateKeys([...gcHosts.map((h) => `gc-${h}`), ...gaHosts.map((h) => `ga-${h}`), ...actorHosts.map((h) => `actores-${h}`)]) : undefined;
    const curve = keys ? curveEnv(keys, { gcs: gcHosts, gas: gaHosts, actorHosts }) : undefined;

    const gaEnvOf = (h: HostName, rol: 'primary' | 'backup') => {
      const own = pgNodes ? (pgNodes.primary.hostName === h ? pgNodes.primary : pgNodes.standby) : undefined;
      const peer = pgNodes ? (own === pgNodes.primary ? pgNodes.standby : pgNodes.primary) : undefined;
      return gaEnvironment({
        common: { ...common, ...curve?.ga(h) },
        pg: own?.info ?? pgInfo,
        address: addressOf(h),
        ports: gaPorts,
        pair: own && peer ? { rol, peerAddress: addressOf(peer.hostName), peerPg: peer.info, standbyName: peer.hostName, replicacion: opts.replicacion ?? 'async' } : undefined,
      });
    };

    const gaMain = join(dist, 'gestor_almacenamiento', 'main.js');
    // `libros` go as a JSON catalog: the loader reads JSON, and no field needs quoting.
    const catalog = opts.libros ? join(dataDir, 'catalogo.json') : (opts.catalog ?? join(root, 'gestor_almacenamiento', 'catalogo-demo.csv'));
    if (opts.libros) writeFileSync(catalog, JSON.stringify(opts.libros));
    const primaryEnv = gaEnvOf(primaryHost, 'primary');
    await exec(process.execPath, [gaMain, 'cargar-catalogo', catalog], { env: { ...process.env, ...primaryEnv } });
    checkAborted();

    const gaProcess = (h: HostName, rol: 'primary' | 'backup', env: Record<string, string>) =>
      new ManagedProcess({
        name: twoHosts ? `ga-${h}` : 'ga',
        script: gaMain,
        args: ['serve'],
        env,
        logFile: join(logDir, twoHosts ? `ga-${h}.log` : 'ga.log'),
        httpPort: gaPorts.gaHttp,
        httpHost: addressOf(h),
        host: h,
        ...(netnsOf(h) ? { netns: netnsOf(h) } : {}),
      });
    const ga = gaProcess(primaryHost, 'primary', primaryEnv);
    started.push(ga.start());
    const gaBackup = twoHosts ? gaProcess(backupHost, 'backup', gaEnvOf(backupHost, 'backup')) : undefined;
    if (gaBackup) started.push(gaBackup.start());
    await Promise.all([ga.waitHealthy(), gaBackup?.waitHealthy()]);
    // The pair settles once the backup hears the primary (ACTIVE) and the primary hears the backup.
    if (gaBackup) await waitPairSettled([ga, gaBackup]);
    checkAborted();

    const gcAddressOf = (h: HostName | 'pc3') => (h === 'pc3' ? clients!.address : addressOf(h));
    const gcNetnsOf = (h: HostName | 'pc3') => (h === 'pc3' ? clients!.netns : netnsOf(h));
    // Simulated hosts on loopback: pc1's user-facing ports (PS requests, HTTP) listen on 127.0.0.1,
    // where a PS looks first by default (GC_ENDPOINTS) and `curl localhost:9555/health` goes, so
    // `npm start` + `npm run ps -- test-sistema` just work; the other GCs listen on their own
    // host's address (the default list's second entry is pc2's). Namespaced hosts keep them on
    // their own address (a link cut must cut them too).
    const frontHostOf = (h: HostName | 'pc3', i: number) => (i === 0 && twoHosts && !namespaced ? '127.0.0.1' : gcAddressOf(h));
    // Like the GAs: the same port numbers on every host.
    const gcAddresses = gcHosts.map(gcAddressOf);
    const gcPort = async (p: number) => (std ? p : gcHosts.length > 1 ? freePortOnAll(gcAddresses) : freePort(gcAddresses[0]));
    const gcPorts = {
      front: std ? STANDARD.gcFront : await freePortOnAll(gcHosts.map(frontHostOf)),
      pub: await gcPort(STANDARD.gcPub),
      back: await gcPort(STANDARD.gcBack),
      http: std ? STANDARD.gcHttp : await freePortOnAll(gcHosts.map(frontHostOf)),
    };
    const gcs: GcInfo[] = gcHosts.map((h, i) => {
      const address = gcAddressOf(h);
      const id = `gc-${h}`;
      const netns = gcNetnsOf(h);
      const front = `tcp://${frontHostOf(h, i)}:${gcPorts.front}`;
      const pub = `tcp://${address}:${gcPorts.pub}`;
      const backend = `tcp://${address}:${gcPorts.back}`;
      const proc = new ManagedProcess({
        name: gcHosts.length > 1 ? id : 'gc',
        script: join(dist, 'gestor_carga', 'main.js'),
        env: {
          ...common,
          ...curve?.gc(h),
          HTTP_HOST: frontHostOf(h, i),
          GC_ID: id,
          GC_SEDE: h,
          GC_FRONTEND_BIND: front,
          GC_PUB_BIND: pub,
          GC_BACKEND_BIND: backend,
          GC_HTTP_PORT: String(gcPorts.http),
        },
        logFile: join(logDir, gcHosts.length > 1 ? `${id}.log` : 'gc.log'),
        httpPort: gcPorts.http,
        httpHost: frontHostOf(h, i),
        host: h,
        ...(netns ? { netns } : {}),
      });
      return { id, host: h, endpoint: front, pub, backend, http: `http://${frontHostOf(h, i)}:${gcPorts.http}`, process: proc };
    });
    for (const g of gcs) started.push(g.process.start());
    await Promise.all(gcs.map((g) => g.process.waitHealthy()));
    const gc = gcs[0]!.process;
    checkAborted();

    const actors: ManagedProcess[] = [];
    const counters: Record<string, number> = {};
    let nextActorHttp = STANDARD.actorHttp;
    const addActorProcess = async (tipos: readonly TipoActor[], on?: HostName) => {
      const kind = tipos.length === 1 ? tipos[0]! : 'actor';
      const n = (counters[kind] = (counters[kind] ?? 0) + 1);
      // Two hosts: actors of a type alternate pc1, pc2, pc1… so losing a host leaves actors of every type.
      const h: HostName = on ?? (twoHosts && n % 2 === 0 ? 'pc2' : 'pc1');
      // With a clients host, actors live there unless a host is asked for.
      const onClients = !!clients && !on;
      const address = onClients ? clients.address : addressOf(h);
      const netns = onClients ? clients.netns : netnsOf(h);
      const id = `${kind}-${n}`;
      const httpPort = std ? nextActorHttp++ : await freePort(address);
      const a = new ManagedProcess({
        name: id,
        script: join(dist, 'actores', 'main.js'),
        env: {
          ...common,
          ...curve?.actor(onClients ? 'pc3' : h),
          HTTP_HOST: address,
          ACTOR_TIPOS: tipos.join(','),
          ACTOR_ID: id,
          GC_PUB_ENDPOINTS: gcs.map((g) => g.pub).join(','),
          GC_BACKEND_ENDPOINTS: gcs.map((g) => g.backend).join(','),
          ACTOR_HTTP_PORT: String(httpPort),
        },
        logFile: join(logDir, `${id}.log`),
        httpPort,
        httpHost: address,
        host: onClients ? 'pc3' : h,
        ...(netns ? { netns } : {}),
      });
      actors.push(a);
      started.push(a.start());
      return a;
    };

    const waitForActors = async (n: number, timeoutMs = 20_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const running = gcs.filter((g) => g.process.running);
        const live = await Promise.all(running.map(async (g) => ({ gc: g.id, live: (await g.process.status<GcStatus>())?.actoresVivos })));
        if (running.length > 0 && live.every((x) => x.live && OPERACIONES_ACTOR.every((t) => x.live![t] >= n))) return;
        if (Date.now() > deadline) throw new Error(`actors not live after ${timeoutMs} ms: ${JSON.stringify(live)}; logs in ${logDir}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };

    const waitForCalcActors = async (n: number, timeoutMs = 20_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const running = gcs.filter((g) => g.process.running);
        const live = await Promise.all(running.map(async (g) => (await g.process.status<GcStatus>())?.calculo?.actoresVivos));
        if (running.length > 0 && live.every((x) => x === n)) return;
        if (Date.now() > deadline) throw new Error(`not ${n} live calculo actors after ${timeoutMs} ms: ${JSON.stringify(live)}; logs in ${logDir}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };

    const perType = opts.actorsPerType ?? 2;
    for (let i = 0; i < perType; i++) {
      if (opts.tiposPorActor === 'todos') await addActorProcess(OPERACIONES_ACTOR);
      else for (const t of OPERACIONES_ACTOR) await addActorProcess([t]);
    }
    for (let i = 0; i < (opts.calcActors ?? 0); i++) await addActorProcess([TIPO_CALCULO]);
    await Promise.all(actors.map((a) => a.waitHealthy()));
    checkAborted();
    if (perType > 0) await waitForActors(perType);
    if (opts.calcActors) await waitForCalcActors(opts.calcActors);
    checkAborted();

    // Processes are grouped by their spec.host when asked, so actors added later belong to their host too.
    const hostHandle = (name: HostName, address: string, pgNode?: PgNodeHandle): HostHandle => ({
      name,
      address,
      get processes() {
        return started.filter((p) => p.spec.host === name);
      },
      ga: [ga, gaBackup].find((g) => g?.spec.host === name),
      pg: pgNode,
      kill: async () => {
        const procs = started.filter((p) => p.spec.host === name);
        await Promise.all([...procs.map((p) => p.kill()), pgNode ? pgNode.kill() : Promise.resolve()]);
      },
    });
    const nodeOn = (h: HostName) => (pgNodes ? [pgNodes.primary, pgNodes.standby].find((n) => n.hostName === h) : undefined);
    const hosts: Partial<Record<HostName, HostHandle>> = twoHosts
      ? { pc1: hostHandle('pc1', net.pc1.address, nodeOn('pc1')), pc2: hostHandle('pc2', net.pc2.address, nodeOn('pc2')) }
      : { pc1: hostHandle('pc1', host) };
    const st = storage;

    return {
      gcEndpoint: gcs[0]!.endpoint,
      gcEndpoints: gcs.map((g) => g.endpoint),
      gcs,
      gaEndpoint: gaEndpoints[0]!,
      gaEndpoints,
      gcHttp: gcs[0]!.http,
      gaHttp: `http://${addressOf(primaryHost)}:${gaPorts.gaHttp}`,
      pg: pgInfo,
      dataDir,
      topology,
      pgNodes,
      hosts,
      pgStatus: () => st.status(),
      ga,
      gaBackup,
      gc,
      actors,
      addActor: async (tipo, on) => {
        const a = await addActorProcess([tipo], on);
        await a.waitHealthy();
        return a;
      },
      waitForActors,
      waitForCalcActors,
      ...(keys ? { curvePublicKeys: Object.fromEntries([...keys].map(([id, k]) => [id, k.publicKey])) } : {}),
      stop,
    };
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}
