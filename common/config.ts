/**
 * The one configuration contract of every process, local or in containers:
 * environment variables (dotenv loads `.env`), each validated here with a clear
 * message naming the bad variable. Add a variable here and to .env.example.
 */
import { readFileSync } from 'node:fs';
import { z } from './protocol/zod.js';
import { curveKeySchema } from './curve-keys.js';
import { OPERACIONES_ACTOR, sedeSchema } from './protocol/ps-gc.js';
import { TIPOS_ACTOR, actorIdSchema, gcIdSchema } from './protocol/internal.js';
import { TIPO_CALCULO } from './protocol/calc.js';

// 2^31 - 1: Node's largest timer; a bigger delay fires after 1 ms.
const int = (def: number, min = 0, max = 2 ** 31 - 1) => z.coerce.number().int().min(min).max(max).default(def);
const endpoint = z.string().regex(/^(tcp:\/\/[^\s,]+:\d+|ipc:\/\/\S+|inproc:\/\/\S+)$/, 'expected tcp://host:port');
const endpointList = z
  .string()
  .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
  .pipe(z.array(endpoint).min(1, 'at least one endpoint'));
const modo = z.enum(['sync', 'async']);
/** Operation types an actor serves: one or several, comma-separated, each once. */
const tipoList = z
  .string()
  .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
  .pipe(
    z
      .array(z.enum(TIPOS_ACTOR))
      .min(1, `at least one of ${OPERACIONES_ACTOR.join(', ')}, or ${TIPO_CALCULO} alone`)
      .refine((l) => new Set(l).size === l.length, 'each type once')
      .refine((l) => !l.includes(TIPO_CALCULO) || l.length === 1, `${TIPO_CALCULO} runs in an actor process of its own`),
  );
const curveKeyList = z
  .string()
  .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
  .pipe(z.array(curveKeySchema).min(1, 'at least one key'));

/** Every variable the system knows, with its default. */
export const VARIABLES = {
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  // Read by the entry points that start processes and by the container entry scripts (common/scheduling.ts).
  PLANIFICADOR: z.enum(['batch', 'normal']).default('batch'),
  // Set by the launchers (npm start, bench, drill) on the processes they start: the
  // process stops itself once that parent is gone (common/process-lifecycle.ts).
  LANZADOR_PID: z.coerce.number().int().min(2).optional(),
  // storage client (GC and actors)
  GA_ENDPOINTS: endpointList.default(['tcp://127.0.0.1:5570']),
  GA_TIMEOUT_MS: int(1000, 50),
  GA_MAX_ATTEMPTS: int(16, 1, 100),
  GA_BREAKER_FAILURES: int(3, 1),
  GA_BREAKER_RESET_MS: int(2000, 50),
  // GA
  GA_BIND: endpoint.default('tcp://0.0.0.0:5570'),
  GA_HTTP_PORT: int(9570, 0, 65535),
  GA_POOL_SIZE: int(20, 1, 500),
  /** PostgreSQL replication: async (default) or sync (commits wait for GA_STANDBY_NAME, degrading loudly to async). */
  GA_REPLICACION: z.enum(['async', 'sync']).default('async'),
  /** In sync mode: the sync standby not streaming for this long → replication degrades to async. */
  GA_SYNC_DEGRADE_MS: int(3000, 100),
  /** application_name of the standby the primary waits for in sync mode. */
  GA_STANDBY_NAME: z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$/).default('pc2'),
  PGHOST: z.string().min(1).default('127.0.0.1'),
  PGPORT: int(5432, 1, 65535),
  PGUSER: z.string().min(1).default('postgres'),
  PGPASSWORD: z.string().default('postgres'),
  PGDATABASE: z.string().min(1).default('biblioteca'),
  // GA primary/backup pair (Binary Star over PostgreSQL streaming replication)
  GA_ROL: z.enum(['primary', 'backup']).default('primary'),
  GA_PEER_BIND: endpoint.default('tcp://0.0.0.0:5571'),
  /** The peer GA's heartbeat endpoint; unset = standalone GA, always active. */
  GA_PEER_ENDPOINT: endpoint.optional(),
  GA_HEARTBEAT_MS: int(100, 10),
  /** Peer silent this long counts as lost (takeover still needs a client request). */
  GA_PEER_TIMEOUT_MS: int(1000, 50),
  /** The other PostgreSQL node (the standby next to the peer GA); unset = none. */
  PG_PEER_HOST: z.string().min(1).optional(),
  PG_PEER_PORT: int(5432, 1, 65535),
  // GC
  GC_FRONTEND_BIND: endpoint.default('tcp://0.0.0.0:5555'),
  GC_PUB_BIND: endpoint.default('tcp://0.0.0.0:5556'),
  GC_BACKEND_BIND: endpoint.default('tcp://0.0.0.0:5557'),
  GC_HTTP_PORT: int(9555, 0, 65535),
  /** This GC's name among the GCs sharing the ledger (it owns leases under it): unique per GC. Default gc-<GC_SEDE or hostname>. */
  GC_ID: gcIdSchema.optional(),
  /** The sede this GC serves (a label in /status and the load report). */
  GC_SEDE: sedeSchema.optional(),
  /** Lease on the async ops a GC records: renewed every third of it while the GC lives; once it runs out, another GC resumes them. */
  GC_LEASE_MS: int(6000, 300, 3_600_000),
  GC_MODO_PRESTAMO: modo.default('sync'),
  GC_MODO_RENOVACION: modo.default('sync'),
  GC_MODO_DEVOLUCION: modo.default('async'),
  GC_ESTRATEGIA: z.enum(['concentrada', 'round-robin', 'least-load']).default('concentrada'),
  /** A task with no result after this long is re-published to another live actor (a calculation only when its actor's heartbeats stopped). */
  GC_TASK_DEADLINE_MS: int(3000, 100),
  /**
   * Calculation tasks (a simple calculation, or one part of a suma_cuadrados) this GC keeps in
   * flight per live calculo actor; past live actors × this a new calculation is refused
   * SIN_ACTORES at once instead of queuing behind the others at the actors.
   */
  GC_CALC_PER_ACTOR: int(8, 1, 10_000),
  /** A sync request with no final outcome after this long is answered TIEMPO_AGOTADO (its id still completes). */
  GC_SYNC_TIMEOUT_MS: int(10000, 100),
  ACTOR_HEARTBEAT_MS: int(250, 20),
  /** An actor silent for this long is dead: no more work, its tasks go elsewhere. */
  ACTOR_DEAD_MS: int(1000, 60),
  // actors
  /**
   * The operation types this actor process serves: one, or several (one process per host serving
   * all three sees more work per wake). Each type is a topic of its own and counts as one actor of
   * that type at the GC, so redundancy and per-type dispatch are unchanged. `calculo` (the
   * calculation actors) only alone: it is another kind of actor, with no storage client.
   */
  ACTOR_TIPOS: tipoList.optional(),
  /** One-type form of ACTOR_TIPOS (set one or the other). */
  ACTOR_TIPO: z.enum(TIPOS_ACTOR).optional(),
  ACTOR_ID: actorIdSchema.optional(),
  /** Every GC's task PUB, and its backend, in the same order (one pair per GC): an actor works for all of them. */
  GC_PUB_ENDPOINTS: endpointList.default(['tcp://127.0.0.1:5556']),
  GC_BACKEND_ENDPOINTS: endpointList.default(['tcp://127.0.0.1:5557']),
  /** One-GC forms of the two lists above (set one form or the other). */
  GC_PUB_ENDPOINT: endpoint.optional(),
  GC_BACKEND_ENDPOINT: endpoint.optional(),
  ACTOR_HTTP_PORT: int(0, 0, 65535),
  ACTOR_CONCURRENCY: int(64, 1, 10000),
  // PS
  /**
   * The GCs a PS may use, its own sede's first: it sends there while that GC answers and fails over
   * down the list (same op id) when it does not. Default: the two GCs of `npm start` (pc1, pc2).
   */
  GC_ENDPOINTS: endpointList.default(['tcp://127.0.0.1:5555', 'tcp://127.0.1.2:5555']),
  /** One-GC form of GC_ENDPOINTS (set one or the other). */
  GC_ENDPOINT: endpoint.optional(),
  PS_TIMEOUT_MS: int(5000, 50),
  PS_RETRIES: int(3, 0, 100),
  // What the GC accepts as `sede`: a bad value fails at start, not as SOLICITUD_INVALIDA on every request.
  PS_SEDE: sedeSchema.optional(),
  // every process
  HTTP_HOST: z.string().default('0.0.0.0'),
  // ZeroMQ CURVE on the internal sockets (common/socket-security.ts; keys: npm run claves)
  /** on: GC PUB/backend, GA and the GA peer link authenticate and encrypt (CURVE + ZAP allow-lists); off: plain. */
  ZMQ_CURVE: z.enum(['on', 'off']).default('off'),
  /** This process's CURVE secret key (Z85, 40 characters); its public key is derived from it. */
  ZMQ_CURVE_SECRET_KEY: curveKeySchema.optional(),
  /** A file holding ZMQ_CURVE_SECRET_KEY instead (e.g. a mounted secret); set one or the other. */
  ZMQ_CURVE_SECRET_KEY_FILE: z.string().min(1).optional(),
  /** GC: public keys of the clients (actors) its PUB and backend admit. */
  GC_CURVE_CLIENTS: curveKeyList.optional(),
  /** GA: public keys of the clients (GCs, actors) its socket admits. */
  GA_CURVE_CLIENTS: curveKeyList.optional(),
  /** GC, actors: public keys of the GAs, in GA_ENDPOINTS order. */
  GA_CURVE_SERVER_KEYS: curveKeyList.optional(),
  /** Actors: public keys of the GCs, in GC_PUB_ENDPOINTS order. */
  GC_CURVE_SERVER_KEYS: curveKeyList.optional(),
  /** GA pair: the peer GA's public key (its heartbeat PUB's key, and the one client our PUB admits). */
  GA_PEER_CURVE_KEY: curveKeySchema.optional(),
  /** A file holding PGPASSWORD instead (e.g. a mounted secret); set one or the other. */
  PGPASSWORD_FILE: z.string().min(1).optional(),
} as const;

export type VariableName = keyof typeof VARIABLES;
export const KNOWN_VARIABLES = Object.keys(VARIABLES) as VariableName[];

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(
    readonly variable: string,
    detail: string,
  ) {
    super(`Invalid configuration: ${variable}: ${detail}`);
  }
}

function readSecretFile(variable: string, file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new ConfigError(variable, `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

type Picked<K extends VariableName> = { [P in K]: z.output<(typeof VARIABLES)[P]> };

/**
 * Lists that replaced a one-endpoint variable: the old name still works, as a
 * one-element list, when the list itself is not set.
 */
const SINGULAR_OF: Partial<Record<VariableName, VariableName>> = {
  GC_ENDPOINTS: 'GC_ENDPOINT',
  GC_PUB_ENDPOINTS: 'GC_PUB_ENDPOINT',
  GC_BACKEND_ENDPOINTS: 'GC_BACKEND_ENDPOINT',
  ACTOR_TIPOS: 'ACTOR_TIPO',
};

/**
 * Secrets that may come from a file instead (`<NAME>_FILE`, the Docker secrets
 * convention): the file's content, trimmed, is validated as the variable itself.
 */
const FILE_FORM_OF: Partial<Record<VariableName, VariableName>> = {
  ZMQ_CURVE_SECRET_KEY: 'ZMQ_CURVE_SECRET_KEY_FILE',
  PGPASSWORD: 'PGPASSWORD_FILE',
};

/** Lists read pairwise (the i-th of one goes with the i-th of the other): same length. */
const PAIRED_LISTS: Array<[VariableName, VariableName, string]> = [
  ['GC_PUB_ENDPOINTS', 'GC_BACKEND_ENDPOINTS', 'endpoints as GC_PUB_ENDPOINTS (one per GC, in the same order)'],
  ['GA_ENDPOINTS', 'GA_CURVE_SERVER_KEYS', 'keys as GA_ENDPOINTS has endpoints (one per GA, in the same order)'],
  ['GC_PUB_ENDPOINTS', 'GC_CURVE_SERVER_KEYS', 'keys as GC_PUB_ENDPOINTS has endpoints (one per GC, in the same order)'],
];

/**
 * With ZMQ_CURVE=on, what a process that reads these variables cannot do without
 * (GA_PEER_CURVE_KEY only in a GA pair).
 */
const REQUIRED_WITH_CURVE: Array<{ name: VariableName; when?: (out: Record<string, unknown>) => boolean }> = [
  { name: 'ZMQ_CURVE_SECRET_KEY' },
  { name: 'GC_CURVE_CLIENTS' },
  { name: 'GA_CURVE_CLIENTS' },
  { name: 'GA_CURVE_SERVER_KEYS' },
  { name: 'GC_CURVE_SERVER_KEYS' },
  { name: 'GA_PEER_CURVE_KEY', when: (out) => out.GA_PEER_ENDPOINT !== undefined },
];

/**
 * Pairs of timings that only work together: a peer or actor must get several
 * beats within the silence that declares it dead, or it flaps between dead and
 * alive (tasks moved, takeovers started) while perfectly healthy. Checked when a
 * process reads both.
 */
// GA pair: also T − heartbeat ≥ 800 ms, above a storage client's longest pause between
// retries at one GA (~0.7 s), or every retry of a lone client looks like a new run of
// contact and the surviving GA doubts its dead peer for good (role/controller.ts contactGapMs).
const RELATIONS: Array<{ slow: VariableName; fast: VariableName; factor: number; plusMs?: number }> = [
  { slow: 'ACTOR_DEAD_MS', fast: 'ACTOR_HEARTBEAT_MS', factor: 2 },
  { slow: 'GA_PEER_TIMEOUT_MS', fast: 'GA_HEARTBEAT_MS', factor: 3 },
  { slow: 'GA_PEER_TIMEOUT_MS', fast: 'GA_HEARTBEAT_MS', factor: 1, plusMs: 800 },
];

/**
 * Reads and validates the named variables. Empty strings count as unset, so a
 * compose file can pass `VAR=` to mean "default".
 */
export function readConfig<K extends VariableName>(names: readonly K[], env: NodeJS.ProcessEnv = process.env): Picked<K> {
  const out: Record<string, unknown> = {};
  for (const name of names) {
    let raw = env[name] === '' ? undefined : env[name];
    let shown: string = name;
    const singular = SINGULAR_OF[name];
    const single = singular && env[singular] !== '' ? env[singular] : undefined;
    if (singular && single !== undefined) {
      if (raw !== undefined) throw new ConfigError(singular, `set ${name} or ${singular}, not both`);
      raw = single;
      shown = singular;
    }
    const fileForm = FILE_FORM_OF[name];
    const file = fileForm && env[fileForm] !== '' ? env[fileForm] : undefined;
    let secret = false;
    if (fileForm && file !== undefined) {
      if (raw !== undefined) throw new ConfigError(fileForm, `set ${name} or ${fileForm}, not both`);
      raw = readSecretFile(fileForm, file);
      shown = `${fileForm} (${file})`;
      secret = true;
    }
    secret ||= fileForm !== undefined; // never echo a secret's value in an error
    const r = VARIABLES[name].safeParse(raw);
    if (!r.success) throw new ConfigError(shown, `${r.error.issues[0]?.message ?? 'invalid'}${secret ? '' : ` (got ${JSON.stringify(raw)})`}`);
    out[name] = r.data;
  }
  for (const [a, b, what] of PAIRED_LISTS) {
    const [x, y] = [out[a], out[b]];
    if (Array.isArray(x) && Array.isArray(y) && x.length !== y.length) {
      throw new ConfigError(b, `must list as many ${what}: ${y.length} vs ${x.length}`);
    }
  }
  if (out.ZMQ_CURVE === 'on') {
    for (const { name, when } of REQUIRED_WITH_CURVE) {
      if (name in out && out[name] === undefined && (!when || when(out))) {
        const alt = FILE_FORM_OF[name] ? ` (or ${FILE_FORM_OF[name]})` : '';
        throw new ConfigError(name, `required${alt} when ZMQ_CURVE=on (npm run claves generates a deployment's keys)`);
      }
    }
  }
  for (const { slow, fast, factor, plusMs = 0 } of RELATIONS) {
    const [s, f] = [out[slow], out[fast]];
    if (typeof s === 'number' && typeof f === 'number' && s < factor * f + plusMs) {
      const rule = plusMs ? `${fast} + ${plusMs} ms (${f + plusMs} ms)` : `${factor} × ${fast} (${factor * f} ms)`;
      throw new ConfigError(slow, `must be at least ${rule}, got ${s} ms: a live peer would look dead between beats, or a dead one never be trusted dead`);
    }
  }
  return out as Picked<K>;
}

export const STORAGE_CLIENT_VARS = ['GA_ENDPOINTS', 'GA_TIMEOUT_MS', 'GA_MAX_ATTEMPTS', 'GA_BREAKER_FAILURES', 'GA_BREAKER_RESET_MS'] as const;
export const GA_VARS = [
  'LOG_LEVEL', 'GA_BIND', 'GA_HTTP_PORT', 'GA_POOL_SIZE', 'PGHOST', 'PGPORT', 'PGUSER', 'PGPASSWORD', 'PGDATABASE', 'HTTP_HOST',
  'GA_ROL', 'GA_PEER_BIND', 'GA_PEER_ENDPOINT', 'GA_HEARTBEAT_MS', 'GA_PEER_TIMEOUT_MS', 'PG_PEER_HOST', 'PG_PEER_PORT',
  'ZMQ_CURVE', 'ZMQ_CURVE_SECRET_KEY', 'GA_CURVE_CLIENTS', 'GA_PEER_CURVE_KEY',
] as const;
export const GC_VARS = [
  'LOG_LEVEL', ...STORAGE_CLIENT_VARS, 'GC_FRONTEND_BIND', 'GC_PUB_BIND', 'GC_BACKEND_BIND', 'GC_HTTP_PORT',
  'GC_MODO_PRESTAMO', 'GC_MODO_RENOVACION', 'GC_MODO_DEVOLUCION', 'GC_ESTRATEGIA', 'GC_TASK_DEADLINE_MS', 'GC_CALC_PER_ACTOR',
  'GC_SYNC_TIMEOUT_MS', 'ACTOR_HEARTBEAT_MS', 'ACTOR_DEAD_MS', 'HTTP_HOST', 'GC_ID', 'GC_SEDE', 'GC_LEASE_MS',
  'ZMQ_CURVE', 'ZMQ_CURVE_SECRET_KEY', 'GC_CURVE_CLIENTS', 'GA_CURVE_SERVER_KEYS',
] as const;
export const ACTOR_VARS = [
  'LOG_LEVEL', ...STORAGE_CLIENT_VARS, 'ACTOR_TIPOS', 'ACTOR_ID', 'GC_PUB_ENDPOINTS', 'GC_BACKEND_ENDPOINTS',
  'ACTOR_HTTP_PORT', 'ACTOR_CONCURRENCY', 'ACTOR_HEARTBEAT_MS', 'HTTP_HOST',
  'ZMQ_CURVE', 'ZMQ_CURVE_SECRET_KEY', 'GC_CURVE_SERVER_KEYS', 'GA_CURVE_SERVER_KEYS',
] as const;
export const PS_VARS = ['GC_ENDPOINTS', 'PS_TIMEOUT_MS', 'PS_RETRIES', 'PS_SEDE'] as const;
/** Read by the GA that runs the sync-replication watchdog (see gestor_almacenamiento/replication/sync-watchdog.ts). */
export const REPLICATION_VARS = ['GA_REPLICACION', 'GA_SYNC_DEGRADE_MS', 'GA_STANDBY_NAME'] as const;

export type StorageClientConfig = Picked<(typeof STORAGE_CLIENT_VARS)[number]>;
export type GaConfig = Picked<(typeof GA_VARS)[number]>;
export type GcConfig = Picked<(typeof GC_VARS)[number]>;
export type ActorConfig = Picked<(typeof ACTOR_VARS)[number]>;
export type PsConfig = Picked<(typeof PS_VARS)[number]>;
export type ReplicationConfig = Picked<(typeof REPLICATION_VARS)[number]>;
