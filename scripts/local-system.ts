/**
 * Starts the whole system on this machine: embedded PostgreSQL, GA, GC and
 * actors as real child processes. Used by `npm start`, the benchmark and the
 * end-to-end tests, so all three run the same thing.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startEmbeddedPostgres } from '../gestor_almacenamiento/embedded-postgres.js';
import { OPERACIONES_ACTOR, type OperacionActor } from '../common/protocol.js';
import { ManagedProcess } from './child-process.js';
import { freePort } from './free-port.js';

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
  /** Extra environment for every process (e.g. GC_MODO_DEVOLUCION=sync). */
  env?: Record<string, string>;
  /** 'standard' = the documented default ports (npm start); 'free' = any free ports (tests). */
  ports?: 'standard' | 'free';
  host?: string;
  /** Catalog file loaded at start; default the demo catalog. */
  catalog?: string;
}

export interface PgInfo {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

export interface LocalSystem {
  gcEndpoint: string;
  gaEndpoint: string;
  gcHttp: string;
  gaHttp: string;
  pg: PgInfo;
  dataDir: string;
  ga: ManagedProcess;
  gc: ManagedProcess;
  actors: ManagedProcess[];
  /** Starts one more actor of a type and waits until the GC sees it live. */
  addActor(tipo: OperacionActor): Promise<ManagedProcess>;
  /** Resolves when the GC reports at least `n` live actors of every type. */
  waitForActors(n: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

const STANDARD = { pg: 54329, gcFront: 5555, gcPub: 5556, gcBack: 5557, ga: 5570, gcHttp: 9555, gaHttp: 9570, actorHttp: 9580 };

const exec = promisify(execFile);

/** Live actors per type from the GC's /status (shape owned by gestor_carga). */
export function liveActorsByType(status: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  const actors = (status as { actores?: Array<{ tipo: string; vivo?: boolean }> } | undefined)?.actores ?? [];
  for (const a of actors) if (a.vivo !== false) out[a.tipo] = (out[a.tipo] ?? 0) + 1;
  return out;
}

export async function startLocalSystem(opts: LocalSystemOptions = {}): Promise<LocalSystem> {
  const root = repoRoot();
  const dist = join(root, 'dist');
  const host = opts.host ?? '127.0.0.1';
  const ownsDir = !opts.dataDir;
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'biblioteca-'));
  const logDir = join(dataDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const std = opts.ports === 'standard';
  const port = async (p: number) => (std ? p : freePort(host));

  const started: ManagedProcess[] = [];
  let pgStop: (() => Promise<void>) | undefined;
  const stop = async () => {
    // Clients first, storage last, so nothing logs spurious errors on the way down.
    for (const p of [...started].reverse()) await p.stop();
    await pgStop?.();
    if (ownsDir) rmSync(dataDir, { recursive: true, force: true });
  };

  try {
    const pg = await startEmbeddedPostgres({ dataDir: join(dataDir, 'pg'), port: await port(STANDARD.pg), host, persistent: true });
    pgStop = pg.stop;
    const pgInfo: PgInfo = { host: pg.host, port: pg.port, user: pg.user, password: pg.password, database: pg.database };

    const gaPort = await port(STANDARD.ga);
    const gcFront = await port(STANDARD.gcFront);
    const gcPub = await port(STANDARD.gcPub);
    const gcBack = await port(STANDARD.gcBack);
    const gaHttpPort = await port(STANDARD.gaHttp);
    const gcHttpPort = await port(STANDARD.gcHttp);

    const common: Record<string, string> = {
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
      HTTP_HOST: host,
      GA_ENDPOINTS: `tcp://${host}:${gaPort}`,
      ...opts.env,
    };
    const gaEnv: Record<string, string> = {
      ...common,
      PGHOST: pg.host,
      PGPORT: String(pg.port),
      PGUSER: pg.user,
      PGPASSWORD: pg.password,
      PGDATABASE: pg.database,
      GA_BIND: `tcp://${host}:${gaPort}`,
      GA_HTTP_PORT: String(gaHttpPort),
    };
    const gaMain = join(dist, 'gestor_almacenamiento', 'main.js');
    const catalog = opts.catalog ?? join(root, 'gestor_almacenamiento', 'catalogo-demo.csv');
    await exec(process.execPath, [gaMain, 'migrate'], { env: { ...process.env, ...gaEnv } });
    await exec(process.execPath, [gaMain, 'cargar-catalogo', catalog], { env: { ...process.env, ...gaEnv } });

    const ga = new ManagedProcess({ name: 'ga', script: gaMain, args: ['serve'], env: gaEnv, logFile: join(logDir, 'ga.log'), httpPort: gaHttpPort, httpHost: host });
    started.push(ga.start());
    await ga.waitHealthy();

    const gc = new ManagedProcess({
      name: 'gc',
      script: join(dist, 'gestor_carga', 'main.js'),
      env: {
        ...common,
        GC_FRONTEND_BIND: `tcp://${host}:${gcFront}`,
        GC_PUB_BIND: `tcp://${host}:${gcPub}`,
        GC_BACKEND_BIND: `tcp://${host}:${gcBack}`,
        GC_HTTP_PORT: String(gcHttpPort),
      },
      logFile: join(logDir, 'gc.log'),
      httpPort: gcHttpPort,
      httpHost: host,
    });
    started.push(gc.start());
    await gc.waitHealthy();

    const actors: ManagedProcess[] = [];
    const counters: Record<string, number> = {};
    let nextActorHttp = STANDARD.actorHttp;
    const addActorProcess = async (tipo: OperacionActor) => {
      const n = (counters[tipo] = (counters[tipo] ?? 0) + 1);
      const id = `${tipo}-${n}`;
      const httpPort = std ? nextActorHttp++ : await freePort(host);
      const a = new ManagedProcess({
        name: id,
        script: join(dist, 'actores', 'main.js'),
        env: {
          ...common,
          ACTOR_TIPO: tipo,
          ACTOR_ID: id,
          GC_PUB_ENDPOINT: `tcp://${host}:${gcPub}`,
          GC_BACKEND_ENDPOINT: `tcp://${host}:${gcBack}`,
          ACTOR_HTTP_PORT: String(httpPort),
        },
        logFile: join(logDir, `${id}.log`),
        httpPort,
        httpHost: host,
      });
      actors.push(a);
      started.push(a.start());
      return a;
    };

    const waitForActors = async (n: number, timeoutMs = 20_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const live = liveActorsByType(await gc.status());
        if (OPERACIONES_ACTOR.every((t) => (live[t] ?? 0) >= n)) return;
        if (Date.now() > deadline) throw new Error(`actors not live after ${timeoutMs} ms: ${JSON.stringify(live)}; logs in ${logDir}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };

    const perType = opts.actorsPerType ?? 2;
    for (let i = 0; i < perType; i++) for (const t of OPERACIONES_ACTOR) await addActorProcess(t);
    await Promise.all(actors.map((a) => a.waitHealthy()));
    if (perType > 0) await waitForActors(perType);

    return {
      gcEndpoint: `tcp://${host}:${gcFront}`,
      gaEndpoint: `tcp://${host}:${gaPort}`,
      gcHttp: `http://${host}:${gcHttpPort}`,
      gaHttp: `http://${host}:${gaHttpPort}`,
      pg: pgInfo,
      dataDir,
      ga,
      gc,
      actors,
      addActor: async (tipo) => {
        const a = await addActorProcess(tipo);
        await a.waitHealthy();
        return a;
      },
      waitForActors,
      stop,
    };
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}
