/**
 * The pc1/pc2/pc3 deployment run for real with docker compose on one machine,
 * the three "hosts" on loopback addresses (host networking: every process
 * binds its host's address, as on real machines). It is a DrillSystem: the
 * drill runner watches its GAs over HTTP and its PostgreSQL nodes over SQL
 * exactly as it does the local processes; faults are docker kill/stop/start.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LibroCatalogo } from '../../gestor_almacenamiento/catalog.js';
import { pgRole } from '../../postgres/admin.js';
import { describeNode, type PgInfo, type PgNodeStatus } from '../launcher/local-storage.js';
import { projectRoot } from '../../common/project-root.js';
import type { HostName } from '../launcher/hosts.js';
import type { DrillSystem, GaProbe, PgProbe } from '../drill/system.js';
import { docker, inspect } from './docker.js';
import { POLITICA, type Planificador } from '../../common/scheduling.js';
import { DEPLOYMENT_IDENTITIES, envBlock, generateKeys, withKeyBlock } from '../launcher/deployment-keys.js';

export type Host = 'pc1' | 'pc2' | 'pc3';
export const HOSTS: readonly Host[] = ['pc1', 'pc2', 'pc3'];

export interface ContainerSystemOptions {
  addresses: Record<Host, string>;
  replicacion: 'async' | 'sync';
  /** BIBLIOTECA_IMAGE (default: the .env example's, biblioteca:1). */
  image?: string;
  /** The deployment's .env, from deploy/.env.example with these addresses and settings. */
  password?: string;
  /** PLANIFICADOR of the deployment (default: the .env example's, batch). */
  planificador?: Planificador;
  progress?: (line: string) => void;
}

/**
 * deploy/.env.example with the drill's addresses, passwords and replication mode, and
 * fresh CURVE keys (as `npm run claves` writes them): CURVE is on, as in any deployment.
 */
export function drillEnvFile(o: ContainerSystemOptions, password: string): string {
  const set: Record<string, string> = {
    PC1_ADDR: o.addresses.pc1,
    PC2_ADDR: o.addresses.pc2,
    PC3_ADDR: o.addresses.pc3,
    DB_PASSWORD: password,
    DB_REPLICATION_PASSWORD: `${password}-replicacion`,
    GRAFANA_ADMIN_PASSWORD: `${password}-grafana`,
    GA_REPLICACION: o.replicacion,
    ...(o.image ? { BIBLIOTECA_IMAGE: o.image } : {}),
    ...(o.planificador ? { PLANIFICADOR: o.planificador } : {}),
  };
  const example = readFileSync(join(projectRoot(), 'deploy/.env.example'), 'utf8');
  const lines = example.split('\n').map((l) => {
    const k = /^([A-Z0-9_]+)=/.exec(l)?.[1];
    return k && k in set ? `${k}=${set[k]}` : l;
  });
  for (const k of Object.keys(set)) if (!lines.some((l) => l.startsWith(`${k}=`))) lines.push(`${k}=${set[k]}`);
  return withKeyBlock(lines.join('\n'), envBlock(generateKeys(DEPLOYMENT_IDENTITIES)));
}

class ContainerGa implements GaProbe {
  readonly running = true;
  readonly spec: { httpHost: string; httpPort: number };
  constructor(httpHost: string, httpPort: number) {
    this.spec = { httpHost, httpPort };
  }
  async status<T>(): Promise<T | undefined> {
    try {
      const r = await fetch(`http://${this.spec.httpHost}:${this.spec.httpPort}/status`, { signal: AbortSignal.timeout(1000) });
      return r.ok ? ((await r.json()) as T) : undefined;
    } catch {
      return undefined;
    }
  }
}

/** One process of a container and its scheduling class (ps's CLS column). */
export interface ClaseProceso {
  container: string;
  command: string;
  cls: string;
}

/**
 * What is wrong with the deployment's scheduling classes, if anything: every node and
 * postgres process must run under the policy asked for (B for batch, TS for normal).
 */
export function schedulingProblem(rows: readonly ClaseProceso[], planificador: Planificador): string | undefined {
  const want = POLITICA[planificador];
  if (rows.length === 0) return 'no node or postgres process found in the containers';
  const wrong = rows.filter((r) => r.cls !== want.cls);
  return wrong.length ? `not under ${want.nombre}: ${wrong.map((r) => `${r.container} ${r.command} (${r.cls})`).join(', ')}` : undefined;
}

/** The compose project of a drill's host: never the deployment's own (`name: biblioteca-pcN` in the files). */
export function drillProject(host: Host): string {
  return `simulacro-${host}`;
}

/**
 * `docker top` of one container. Listed running a moment ago, it may be between two
 * lives (a restart policy at work, a healthcheck's exec): asked again, briefly, before
 * the error counts.
 */
async function dockerTop(container: string): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await docker(['top', container, '-o', 'pid,cls,comm'], { timeoutMs: 10_000 });
    } catch (err) {
      if (attempt >= 5) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

export class ContainerSystem implements DrillSystem {
  readonly topology = 'two-hosts' as const;
  readonly gcEndpoints: string[];
  readonly gcHttp: string;
  /** Every GC's HTTP base (pc1's, pc2's). */
  readonly gcHttps: string[];
  readonly pg: PgInfo;
  readonly pgNodes: { primary: PgProbe; standby: PgProbe };
  readonly hosts: Record<HostName, { ga: GaProbe; pg: PgProbe }>;
  readonly ga: GaProbe;
  readonly dir: string;
  private readonly envFile: string;
  private readonly progress: (line: string) => void;

  constructor(readonly o: ContainerSystemOptions) {
    this.progress = o.progress ?? (() => undefined);
    const a = o.addresses;
    const password = o.password ?? `simulacro-${Math.random().toString(36).slice(2, 10)}`;
    this.dir = mkdtempSync(join(tmpdir(), 'contenedores-'));
    this.envFile = join(this.dir, 'drill.env');
    writeFileSync(this.envFile, drillEnvFile(o, password), { mode: 0o600 });
    // pc1's GC first, pc2's next: the drill load spreads its clients over both, like PS of both sedes.
    this.gcEndpoints = [`tcp://${a.pc1}:5555`, `tcp://${a.pc2}:5555`];
    this.gcHttp = `http://${a.pc1}:9555`;
    this.gcHttps = [this.gcHttp, `http://${a.pc2}:9555`];
    const pgInfo = (h: HostName): PgInfo => ({ host: a[h], port: 5432, user: 'postgres', password, database: 'biblioteca' });
    const pgProbe = (h: HostName): PgProbe => ({ hostName: h, info: pgInfo(h), role: () => pgRole(pgInfo(h), { connectTimeoutMs: 1000, queryTimeoutMs: 2000 }) });
    this.hosts = {
      pc1: { ga: new ContainerGa(a.pc1, 9570), pg: pgProbe('pc1') },
      pc2: { ga: new ContainerGa(a.pc2, 9570), pg: pgProbe('pc2') },
    };
    this.pg = pgInfo('pc1');
    this.ga = this.hosts.pc1.ga;
    this.pgNodes = { primary: this.hosts.pc1.pg, standby: this.hosts.pc2.pg };
  }

  /**
   * docker compose of one host's file, from the checkout (the files mount ./deploy/postgres),
   * under the drill's own project name: its `down -v` can only ever remove the drill's
   * containers and volumes, never those of a deployment on the same engine.
   */
  compose(host: Host, args: string[], timeoutMs?: number): Promise<string> {
    return docker(['compose', '-p', drillProject(host), '--env-file', this.envFile, '-f', `docker-compose.${host}.yml`, ...args], { cwd: projectRoot(), timeoutMs });
  }

  /** How to remove a deployment kept with --conservar, by hand. */
  downCommand(): string {
    return HOSTS.map((h) => `docker compose -p ${drillProject(h)} --env-file ${this.envFile} -f docker-compose.${h}.yml down -v`).join('; ');
  }

  /**
   * Removes whatever an earlier drill left (containers, volumes), then starts pc1, pc2, pc3 and
   * waits until every service is healthy. Refuses (touching nothing) when the engine already
   * runs a deployment of these files: their container names would clash.
   */
  async up(): Promise<void> {
    const ajenos = (await docker(['ps', '-a', '--format', '{{.Names}} {{.Label "com.docker.compose.project"}}']))
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter(([name, project]) => /^pc[123]-/.test(name ?? '') && !HOSTS.some((h) => project === drillProject(h)));
    if (ajenos.length > 0) {
      throw new Error(`este motor Docker ya tiene contenedores de un despliegue (${ajenos.map(([n, p]) => `${n} del proyecto ${p ?? '?'}`).join(', ')}): el simulacro no los toca; quítelos o use otro motor (DOCKER_HOST)`);
    }
    await this.down();
    const t = Date.now();
    // pc2's PostgreSQL waits for pc1's primary to clone it: all three start at once, as on real hosts.
    await Promise.all(HOSTS.map((h) => this.compose(h, ['up', '-d', '--no-build', '--wait', '--wait-timeout', '180'], 240_000)));
    this.progress(`pc1, pc2 y pc3 sanos en ${Date.now() - t} ms`);
  }

  async down(): Promise<void> {
    for (const h of [...HOSTS].reverse()) await this.compose(h, ['down', '-v', '--remove-orphans', '--timeout', '20'], 120_000).catch(() => undefined);
  }

  /** Loads a catalog with the deployment's own tool (compose run --rm catalogo) into the current primary. */
  async loadCatalog(libros: LibroCatalogo[]): Promise<string> {
    const file = join(this.dir, 'libros.json');
    writeFileSync(file, JSON.stringify(libros), { mode: 0o644 });
    const primary = (await this.primaryHost()) ?? 'pc1';
    const out = await this.compose('pc1', ['run', '--rm', '-v', `${file}:/data/libros.json:ro`, '-e', `PGHOST=${this.o.addresses[primary]}`, 'catalogo', 'ga', 'cargar-catalogo', '/data/libros.json']);
    return out.trim().split('\n').pop() ?? '';
  }

  /** The host whose PostgreSQL is a primary now (undefined if none answers as one). */
  async primaryHost(): Promise<HostName | undefined> {
    for (const h of ['pc1', 'pc2'] as const) {
      const r = await this.hosts[h].pg.role().catch(() => undefined);
      if (r && !r.inRecovery) return h;
    }
    return undefined;
  }

  pgStatus(): Promise<PgNodeStatus[]> {
    const a = this.o.addresses;
    return Promise.all((['pc1', 'pc2'] as const).map((h) => describeNode(h, a[h], 5432, this.hosts[h].pg.info, this.hosts[h === 'pc1' ? 'pc2' : 'pc1'].pg.info)));
  }

  /** GET every GC's /status (undefined for one that does not answer), pc1's first. */
  async gcStatuses<T>(): Promise<Array<T | undefined>> {
    return Promise.all(
      this.gcHttps.map(async (base) => {
        try {
          const r = await fetch(`${base}/status`, { signal: AbortSignal.timeout(1000) });
          return r.ok ? ((await r.json()) as T) : undefined;
        } catch {
          return undefined;
        }
      }),
    );
  }

  /** Waits until every GC sees `n` live actors of every type. */
  async waitForActors(n: number, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const all = await this.gcStatuses<{ actoresVivos?: Record<string, number> }>();
      const ready = all.every((s) => {
        const vivos = Object.values(s?.actoresVivos ?? {});
        return vivos.length === 3 && vivos.every((v) => v >= n);
      });
      if (ready) return;
      if (Date.now() > deadline) throw new Error(`not every GC sees ${n} live actors of each type (${JSON.stringify(all.map((s) => s?.actoresVivos))})`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /**
   * Every node and postgres process in the deployment's containers with its scheduling
   * class as ps shows it (docker top: TS = SCHED_OTHER, B = SCHED_BATCH; common/scheduling.ts).
   */
  async schedulingClasses(): Promise<ClaseProceso[]> {
    const names = (await docker(['ps', '--format', '{{.Names}}'])).split('\n').map((s) => s.trim()).filter((n) => /^pc[123]-/.test(n));
    const out: ClaseProceso[] = [];
    for (const container of names) {
      const top = await dockerTop(container);
      for (const line of top.trim().split('\n').slice(1)) {
        const [, cls, command] = line.trim().split(/\s+/);
        if (command === 'node' || command === 'postgres') out.push({ container, command, cls: cls ?? '?' });
      }
    }
    return out;
  }

  /** Waits until a container is running and, if it has a healthcheck, healthy. */
  async waitHealthy(name: string, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = await inspect(name);
      if (s?.running && (s.health === undefined || s.health === 'healthy')) return;
      if (Date.now() > deadline) throw new Error(`${name} not healthy after ${timeoutMs} ms (${s ? `${s.status}, health ${s.health ?? '—'}` : 'absent'}); its last log lines:\n${await this.logs(name, 15)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  /** The last lines of a container's log, for error messages. */
  async logs(name: string, lines = 30): Promise<string> {
    return docker(['logs', '--tail', String(lines), name], { stderr: true }).catch((e: unknown) => String(e));
  }

  /** Removes the deployment and its files; `keep` leaves both (downCommand() still works). */
  async stop(o: { keep?: boolean } = {}): Promise<void> {
    if (o.keep) return;
    await this.down();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
