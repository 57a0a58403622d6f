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
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { LibroCatalogo } from '../../gestor_almacenamiento/catalog.js';
import { projectRoot } from '../../common/project-root.js';
import { OPERACIONES_ACTOR } from '../../common/protocol/ps-gc.js';
import type { TipoActor } from '../../common/protocol/internal.js';
import { TIPO_CALCULO } from '../../common/protocol/calc.js';
import type { GcStatus } from '../../gestor_carga/gc.js';
import type { GaStatus } from '../../gestor_almacenamiento/ga.js';
import { ManagedProcess } from './child-process.js';
import { freePort, listenOnce } from './free-port.js';
import { isRunning } from '../../postgres/lifecycle.js';
import { acquireLauncherLock } from './lock.js';
import { PC1, PC2, freePortOnAll, type HostName, type NetHost } from './hosts.js';
import { curveEnv, generateKeys } from './deployment-keys.js';
import { pgDataDir, startSingleStorage, startTwoHostStorage, type LocalStorage, type PgInfo, type PgNodeHandle, type PgNodeStatus } from './local-storage.js';

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

export type Topology = 'single' | 'two-hosts';

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

/** A documented port that something else holds: npm start says which, and the ways out. */
export class PortTakenError extends Error {}

/** Throws PortTakenError unless `port` can be bound on every one of `addresses`. */
export async function requireFree(addresses: readonly string[], port: number, what: string): Promise<void> {
  const taken: string[] = [];
  for (const a of addresses) if ((await listenOnce(a, port)) === undefined) taken.push(a);
  if (taken.length === 0) return;
  throw new PortTakenError(
    `el puerto ${port} (${what}) ya está en uso en ${taken.join(' y ')}: ¿otro npm start en marcha (con otro --data) u otro programa? ` +
      `\`ss -ltnp 'sport = :${port}'\` dice quién lo tiene; deténlo, o arranca con --puertos-libres`,
  );
}

/** A PostgreSQL of this launcher's data dir still running (a crashed run): the storage start stops it, so its port is not "taken". */
function strayPostgresOf(dataDir: string, twoHosts: boolean): boolean {
  const dirs = twoHosts ? (['pc1', 'pc2'] as const).map((h) => pgDataDir(dataDir, h)) : [join(dataDir, 'pg')];
  return dirs.some(isRunning);
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

/** Polls the GAs' /status until one is ACTIVE and every other one is not (PASSIVE/FENCED); gives up at once on an abort or a GA that exited. */
async function waitPairSettled(gas: ManagedProcess[], signal: AbortSignal | undefined, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    if (signal?.aborted) throw new Error('arranque interrumpido');
    const gone = gas.find((g) => !g.running);
    if (gone) throw new Error(`${gone.spec.name} exited while the GA pair was settling; see ${gone.spec.logFile}`);
    const estados = await Promise.all(gas.map(async (g) => (await g.status<GaStatus>())?.papel.estado ?? '?'));
    last = estados.join(',');
    if (estados[0] === 'ACTIVE' && estados.slice(1).every((e) => e === 'PASSIVE')) return;
    if (Date.now() > deadline) throw new Error(`GA pair not settled after ${timeoutMs} ms (states ${last}); see ${gas.map((g) => g.spec.logFile).join(', ')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** What every step of a start shares: where the hosts are, how ports are chosen, the environment of every process. */
interface Plan {
  opts: LocalSystemOptions;
  dist: string;
  logDir: string;
  twoHosts: boolean;
  /** Clients host (pc3): with it, the GC and the actors live there. */
  clients?: NetHost;
  /** Any host in a network namespace: standard ports, user-facing ports on the host's own address. */
  namespaced: boolean;
  /** The documented ports (npm start, namespaces) instead of free ones. */
  std: boolean;
  addressOf(h: HostName): string;
  netnsOf(h: HostName): string | undefined;
  /**
   * A port of the same number on each of `addresses` (like real hosts), or the standard one;
   * `what` names it in the error when a standard port is taken.
   */
  portOn(addresses: readonly string[], standard: number, what: string): Promise<number>;
  /** Environment every process gets (log level, GA endpoints, the caller's extra). */
  common: Record<string, string>;
  curve?: ReturnType<typeof curveEnv>;
  /** Every process started, in order: stop() goes in reverse. */
  started: ManagedProcess[];
  checkAborted(): void;
}

/**
 * Loads the catalog through the primary GA's command, then starts the GA (single) or the
 * pair (two-hosts: each GA beside its PostgreSQL node) and waits until one is ACTIVE.
 */
async function startGas(plan: Plan, storage: LocalStorage, gaHosts: HostName[], gaPorts: { ga: number; gaHttp: number; gaPeer: number }, catalog: string) {
  const { pgNodes } = storage;
  const [primaryHost, backupHost] = gaHosts as [HostName, HostName | undefined];
  const gaEnvOf = (h: HostName, rol: 'primary' | 'backup') => {
    const own = pgNodes ? (pgNodes.primary.hostName === h ? pgNodes.primary : pgNodes.standby) : undefined;
    const peer = pgNodes ? (own === pgNodes.primary ? pgNodes.standby : pgNodes.primary) : undefined;
    return gaEnvironment({
      common: { ...plan.common, ...plan.curve?.ga(h) },
      pg: own?.info ?? storage.pg,
      address: plan.addressOf(h),
      ports: gaPorts,
      pair: own && peer ? { rol, peerAddress: plan.addressOf(peer.hostName), peerPg: peer.info, standbyName: peer.hostName, replicacion: plan.opts.replicacion ?? 'async' } : undefined,
    });
  };
  const gaMain = join(plan.dist, 'gestor_almacenamiento', 'main.js');
  const primaryEnv = gaEnvOf(primaryHost, 'primary');
  await exec(process.execPath, [gaMain, 'cargar-catalogo', catalog], { env: { ...process.env, ...primaryEnv } });
  plan.checkAborted();

  const gaProcess = (h: HostName, env: Record<string, string>) =>
    new ManagedProcess({
      name: plan.twoHosts ? `ga-${h}` : 'ga',
      script: gaMain,
      args: ['serve'],
      env,
      logFile: join(plan.logDir, plan.twoHosts ? `ga-${h}.log` : 'ga.log'),
      httpPort: gaPorts.gaHttp,
      httpHost: plan.addressOf(h),
      host: h,
      ...(plan.netnsOf(h) ? { netns: plan.netnsOf(h) } : {}),
    });
  const ga = gaProcess(primaryHost, primaryEnv);
  plan.started.push(ga.start());
  const gaBackup = backupHost ? gaProcess(backupHost, gaEnvOf(backupHost, 'backup')) : undefined;
  if (gaBackup) plan.started.push(gaBackup.start());
  await Promise.all([ga.waitHealthy(), gaBackup?.waitHealthy()]);
  // The pair settles once the backup hears the primary (ACTIVE) and the primary hears the backup.
  if (gaBackup) await waitPairSettled([ga, gaBackup], plan.opts.signal);
  plan.checkAborted();
  return { ga, gaBackup };
}

/** Starts every GC (one per host, all active) and waits until each is healthy. */
async function startGcs(plan: Plan, gcHosts: Array<HostName | 'pc3'>): Promise<GcInfo[]> {
  const gcAddressOf = (h: HostName | 'pc3') => (h === 'pc3' ? plan.clients!.address : plan.addressOf(h));
  const gcNetnsOf = (h: HostName | 'pc3') => (h === 'pc3' ? plan.clients!.netns : plan.netnsOf(h));
  // Simulated hosts on loopback: pc1's user-facing ports (PS requests, HTTP) listen on 127.0.0.1,
  // where a PS looks first by default (GC_ENDPOINTS) and `curl localhost:9555/health` goes, so
  // `npm start` + `npm run ps -- test-sistema` just work; the other GCs listen on their own
  // host's address (the default list's second entry is pc2's). Namespaced hosts keep them on
  // their own address (a link cut must cut them too).
  const frontHostOf = (h: HostName | 'pc3', i: number) => (i === 0 && plan.twoHosts && !plan.namespaced ? '127.0.0.1' : gcAddressOf(h));
  const gcAddresses = gcHosts.map(gcAddressOf);
  const fronts = gcHosts.map(frontHostOf);
  const ports = {
    front: await plan.portOn(fronts, STANDARD.gcFront, 'GC, peticiones de los PS'),
    pub: await plan.portOn(gcAddresses, STANDARD.gcPub, 'GC, PUB de tareas'),
    back: await plan.portOn(gcAddresses, STANDARD.gcBack, 'GC, backend de los actores'),
    http: await plan.portOn(fronts, STANDARD.gcHttp, 'GC, HTTP'),
  };
  const several = gcHosts.length > 1;
  const gcs: GcInfo[] = gcHosts.map((h, i) => {
    const address = gcAddressOf(h);
    const id = `gc-${h}`;
    const netns = gcNetnsOf(h);
    const front = `tcp://${fronts[i]}:${ports.front}`;
    const pub = `tcp://${address}:${ports.pub}`;
    const backend = `tcp://${address}:${ports.back}`;
    const proc = new ManagedProcess({
      name: several ? id : 'gc',
      script: join(plan.dist, 'gestor_carga', 'main.js'),
      env: {
        ...plan.common,
        ...plan.curve?.gc(h),
        HTTP_HOST: fronts[i]!,
        GC_ID: id,
        GC_SEDE: h,
        GC_FRONTEND_BIND: front,
        GC_PUB_BIND: pub,
        GC_BACKEND_BIND: backend,
        GC_HTTP_PORT: String(ports.http),
      },
      logFile: join(plan.logDir, several ? `${id}.log` : 'gc.log'),
      httpPort: ports.http,
      httpHost: fronts[i]!,
      host: h,
      ...(netns ? { netns } : {}),
    });
    return { id, host: h, endpoint: front, pub, backend, http: `http://${fronts[i]}:${ports.http}`, process: proc };
  });
  for (const g of gcs) plan.started.push(g.process.start());
  await Promise.all(gcs.map((g) => g.process.waitHealthy()));
  plan.checkAborted();
  return gcs;
}

/**
 * Starts actor processes on demand: each serves `tipos` and works for every GC. Two hosts:
 * actors of a kind alternate pc1, pc2, pc1… so losing a host leaves actors of every type;
 * with a clients host they live there unless a host is asked for.
 */
function actorStarter(plan: Plan, gcs: GcInfo[]) {
  const actors: ManagedProcess[] = [];
  const counters: Record<string, number> = {};
  let nextHttp = STANDARD.actorHttp;
  const add = async (tipos: readonly TipoActor[], on?: HostName) => {
    const kind = tipos.length === 1 ? tipos[0]! : 'actor';
    const n = (counters[kind] = (counters[kind] ?? 0) + 1);
    const h: HostName = on ?? (plan.twoHosts && n % 2 === 0 ? 'pc2' : 'pc1');
    const onClients = !!plan.clients && !on;
    const address = onClients ? plan.clients!.address : plan.addressOf(h);
    const netns = onClients ? plan.clients!.netns : plan.netnsOf(h);
    const id = `${kind}-${n}`;
    const httpPort = plan.std ? await plan.portOn([address], nextHttp++, `HTTP de ${id}`) : await freePort(address);
    const a = new ManagedProcess({
      name: id,
      script: join(plan.dist, 'actores', 'main.js'),
      env: {
        ...plan.common,
        ...plan.curve?.actor(onClients ? 'pc3' : h),
        HTTP_HOST: address,
        ACTOR_TIPOS: tipos.join(','),
        ACTOR_ID: id,
        GC_PUB_ENDPOINTS: gcs.map((g) => g.pub).join(','),
        GC_BACKEND_ENDPOINTS: gcs.map((g) => g.backend).join(','),
        ACTOR_HTTP_PORT: String(httpPort),
      },
      logFile: join(plan.logDir, `${id}.log`),
      httpPort,
      httpHost: address,
      host: onClients ? 'pc3' : h,
      ...(netns ? { netns } : {}),
    });
    actors.push(a);
    plan.started.push(a.start());
    return a;
  };
  return { actors, add };
}

/** Resolves when every running GC's /status passes `ok`; rejects after `timeoutMs` with what each said, at once on an abort or with no GC left. */
async function waitForGcs<T>(gcs: GcInfo[], what: string, read: (s: GcStatus | undefined) => T, ok: (v: T) => boolean, timeoutMs: number, logDir: string, signal: AbortSignal | undefined, diagnose?: () => Promise<string>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (signal?.aborted) throw new Error('arranque interrumpido');
    const running = gcs.filter((g) => g.process.running);
    if (running.length === 0) throw new Error(`${what}: no GC is running; logs in ${logDir}`);
    const seen = await Promise.all(running.map(async (g) => read(await g.process.status<GcStatus>())));
    if (running.length > 0 && seen.every(ok)) return;
    if (Date.now() > deadline) {
      const more = diagnose ? await diagnose().catch((err: unknown) => `(diagnosis failed: ${String(err)})`) : '';
      throw new Error(`${what} after ${timeoutMs} ms: ${JSON.stringify(seen)}; logs in ${logDir}${more}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * What each actor and GC says and last logged, for an actor that never became live: a test's
 * temp dir (and its logs) is gone by the time anyone reads the error.
 */
async function actorDiagnosis(actors: ManagedProcess[], gcs: GcInfo[]): Promise<string> {
  const parts: string[] = [];
  for (const p of [...actors, ...gcs.map((g) => g.process)]) {
    const st = await p.status<{ gcs?: unknown }>();
    parts.push(`\n--- ${p.spec.name} (${p.running ? 'running' : 'exited'})${st?.gcs ? ` links ${JSON.stringify(st.gcs)}` : ''}\n${await p.lastLines(8)}`);
  }
  return parts.join('');
}

export async function startLocalSystem(opts: LocalSystemOptions = {}): Promise<LocalSystem> {
  if (opts.catalog && opts.libros) throw new Error('startLocalSystem: catalog and libros are alternatives, not both');
  const root = projectRoot();
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
  const std = opts.ports === 'standard' || namespaced;

  const started: ManagedProcess[] = [];
  let storage: LocalStorage | undefined;
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
    const checkAborted = () => {
      if (opts.signal?.aborted) throw new Error('arranque interrumpido');
    };
    const addressOf = (h: HostName) => (twoHosts ? net[h].address : host);
    // `check`: npm start's documented ports: a taken one is said in words before a child dies of
    // EADDRINUSE in its log. A namespaced host has ports of its own.
    const portOn = async (addresses: readonly string[], standard: number, what: string, check = true) => {
      if (!std) return addresses.length > 1 ? freePortOnAll(addresses) : freePort(addresses[0]);
      if (check && !namespaced) await requireFree(addresses, standard, what);
      return standard;
    };
    const bothHosts = twoHosts ? [net.pc1.address, net.pc2.address] : [host];
    // A stray PostgreSQL of this data dir holds its port: the storage start stops it.
    const pgPortOn = (addresses: readonly string[]) => portOn(addresses, STANDARD.pg, 'PostgreSQL', !strayPostgresOf(dataDir, twoHosts));

    storage = twoHosts ? await startTwoHostStorage(dataDir, await pgPortOn(bothHosts), net) : await startSingleStorage(dataDir, host, await pgPortOn([host]));
    checkAborted();
    const { pgNodes } = storage;
    // A data dir kept from an earlier failover may hold the primary on pc2: the GA next to it is the pair's primary.
    const primaryHost: HostName = pgNodes?.primary.hostName ?? 'pc1';
    const gaHosts: HostName[] = twoHosts ? [primaryHost, primaryHost === 'pc1' ? 'pc2' : 'pc1'] : ['pc1'];
    // Like real hosts: the GA, its peer link and HTTP have the same port number on every host.
    const gaPorts = { ga: await portOn(bothHosts, STANDARD.ga, 'GA'), gaHttp: await portOn(bothHosts, STANDARD.gaHttp, 'GA, HTTP'), gaPeer: await portOn(bothHosts, STANDARD.gaPeer, 'GA, enlace entre GA') };
    const gaEndpoints = gaHosts.map((h) => `tcp://${addressOf(h)}:${gaPorts.ga}`);
    // One GC per host (two-hosts), all active; with a clients host, one GC there; single: one.
    const gcHosts: Array<HostName | 'pc3'> = clients ? ['pc3'] : twoHosts ? ['pc1', 'pc2'] : ['pc1'];
    const actorHosts: Array<HostName | 'pc3'> = clients ? ['pc1', 'pc2', 'pc3'] : twoHosts ? ['pc1', 'pc2'] : ['pc1'];
    const keys = opts.seguro ? generateKeys([...gcHosts.map((h) => `gc-${h}`), ...gaHosts.map((h) => `ga-${h}`), ...actorHosts.map((h) => `actores-${h}`)]) : undefined;

    const plan: Plan = {
      opts,
      dist: join(root, 'dist'),
      logDir,
      twoHosts,
      ...(clients ? { clients } : {}),
      namespaced,
      std,
      addressOf,
      netnsOf: (h) => (twoHosts ? net[h].netns : undefined),
      portOn,
      common: { LOG_LEVEL: process.env.LOG_LEVEL ?? 'info', HTTP_HOST: host, GA_ENDPOINTS: gaEndpoints.join(','), ...opts.env },
      ...(keys ? { curve: curveEnv(keys, { gcs: gcHosts, gas: gaHosts, actorHosts }) } : {}),
      started,
      checkAborted,
    };

    // `libros` go as a JSON catalog: the loader reads JSON, and no field needs quoting.
    const catalog = opts.libros ? join(dataDir, 'catalogo.json') : (opts.catalog ?? join(root, 'gestor_almacenamiento', 'catalogo-demo.csv'));
    if (opts.libros) writeFileSync(catalog, JSON.stringify(opts.libros));
    const { ga, gaBackup } = await startGas(plan, storage, gaHosts, gaPorts, catalog);
    const gcs = await startGcs(plan, gcHosts);

    const { actors, add: addActorProcess } = actorStarter(plan, gcs);
    const waitForActors = (n: number, timeoutMs = 20_000) =>
      waitForGcs(gcs, 'actors not live', (s) => s?.actoresVivos, (live) => !!live && OPERACIONES_ACTOR.every((t) => live[t] >= n), timeoutMs, logDir, opts.signal, () => actorDiagnosis(actors, gcs));
    const waitForCalcActors = (n: number, timeoutMs = 20_000) =>
      waitForGcs(gcs, `not ${n} live calculo actors`, (s) => s?.calculo?.actoresVivos, (live) => live === n, timeoutMs, logDir, opts.signal);

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

    // Processes are grouped by their spec.host, so actors added later belong to their host too.
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
      pg: storage.pg,
      dataDir,
      topology,
      pgNodes,
      hosts,
      pgStatus: () => st.status(),
      ga,
      gaBackup,
      gc: gcs[0]!.process,
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
