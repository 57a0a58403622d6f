/**
 * The multi-host compose files, checked offline (no Docker engine here):
 *  - each file, after ${…} interpolation with deploy/.env.example, validates
 *    against the Compose Specification JSON schema (shipped by the npm package
 *    dclint, compiled with ajv: nothing is fetched);
 *  - every variable a service sets is one common/config.ts knows (PostgreSQL
 *    containers may also use the postgres image's own), and its value passes
 *    the same validation the processes run at start;
 *  - every command is real: the word maps to a dist/ entry in the image's entry
 *    script, the subcommand and options appear in that CLI's own --help, the
 *    PostgreSQL wrapper knows its subcommand and options;
 *  - healthchecks, restart policies, container names, host networking, named
 *    volumes, free ports per host, and the pc1 ↔ pc2 pair wiring line up;
 *  - CURVE, with the keys `npm run claves` writes: every client holds the public
 *    key of each server it connects to, every server's allow-list admits exactly
 *    the clients that connect to it, one key pair per GC, per GA and per host's
 *    actors; .env.example alone (no keys, no passwords) is refused by compose.
 * Negative tests feed in-memory documents with one typo each.
 */
import { describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import dotenv from 'dotenv';
import { parse as parseYaml, parseDocument } from 'yaml';
import { ConfigError, KNOWN_VARIABLES, readConfig, type VariableName } from '../../common/config.js';
import { curvePublicKey } from '../../common/curve-keys.js';
import { DEPLOYMENT_IDENTITIES, envBlock, envBlockVariables, generateKeys } from '../../scripts/launcher/deployment-keys.js';
import { drillEnvFile } from '../../scripts/contenedores/sistema.js';
import { ROOT } from '../harness/fixtures.js';

const COMPOSE_FILES = { pc1: 'docker-compose.pc1.yml', pc2: 'docker-compose.pc2.yml', pc3: 'docker-compose.pc3.yml' } as const;
type Host = keyof typeof COMPOSE_FILES;
const ENTRY_SCRIPT = 'deploy/biblioteca.sh';
const PG_SCRIPT = 'deploy/postgres/biblioteca-postgres.sh';
const PG_SCRIPT_IN_CONTAINER = '/biblioteca/biblioteca-postgres.sh';
/** The official postgres image's own variables (docker-entrypoint.sh), and the wrapper's, allowed in its containers only. */
const POSTGRES_IMAGE_VARS = new Set([
  'POSTGRES_USER', 'POSTGRES_PASSWORD', 'POSTGRES_DB', 'POSTGRES_INITDB_ARGS', 'POSTGRES_INITDB_WALDIR',
  'POSTGRES_HOST_AUTH_METHOD', 'PGDATA', 'POSTGRES_REPLICATION_PASSWORD',
]);
const KNOWN = new Set<string>(KNOWN_VARIABLES);

type Json = Record<string, any>;
type Env = Record<string, string | undefined>;

// ---------------------------------------------------------------- schema

const require = createRequire(import.meta.url);
const SCHEMA_PATH = path.join(path.dirname(require.resolve('dclint/package.json')), 'schemas', 'compose.schema.json');

function loadSchema(): Json {
  const schema = JSON.parse(readFileSync(SCHEMA_PATH, 'utf8')) as Json;
  // The file names its meta-schema by an https URL that ajv does not register
  // (it knows draft-07 as http://…#); the document itself is plain draft-07.
  delete schema.$schema;
  return schema;
}

let validator: ReturnType<Ajv['compile']> | undefined;
function schemaErrors(doc: unknown): string[] {
  // No loadSchema option: a remote $ref would make compile() throw, so
  // compiling at all proves the validation is offline.
  validator ??= new Ajv({ allErrors: true, strict: false, allowUnionTypes: true }).compile(loadSchema());
  if (validator(doc)) return [];
  return (validator.errors ?? []).map((e: ErrorObject) => {
    const extra = e.params && 'additionalProperty' in e.params ? ` '${String(e.params.additionalProperty)}'` : '';
    return `schema: ${e.instancePath || '/'} ${e.message ?? ''}${extra}`;
  });
}

// ---------------------------------------------------------------- interpolation

/**
 * Compose's ${…} substitution: ${V}, ${V:-d}, ${V-d}, ${V:?msg}, ${V?msg},
 * ${V:+r}, ${V+r}, $V and $$. An unset variable without a default is a problem
 * here (compose would only warn and use an empty string).
 */
export function interpolate(value: string, env: Env, problems: string[], where: string): string {
  return value.replace(/\$(?:(\$)|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))/g, (_m, dollar, name, op, arg, bare) => {
    if (dollar) return '$';
    const v = name ?? bare;
    const raw = env[v];
    const set = raw !== undefined;
    const nonEmpty = set && raw !== '';
    switch (op) {
      case ':-': return nonEmpty ? raw : arg;
      case '-': return set ? raw : arg;
      case ':?': if (!nonEmpty) problems.push(`${where}: ${v} is required (${arg})`); return raw ?? '';
      case '?': if (!set) problems.push(`${where}: ${v} is required (${arg})`); return raw ?? '';
      case ':+': return nonEmpty ? arg : '';
      case '+': return set ? arg : '';
      default:
        if (!set) problems.push(`${where}: \${${v}} is not set and has no default`);
        return raw ?? '';
    }
  });
}

function interpolateTree(node: unknown, env: Env, problems: string[], where: string): unknown {
  if (typeof node === 'string') return interpolate(node, env, problems, where);
  if (Array.isArray(node)) return node.map((x, i) => interpolateTree(x, env, problems, `${where}[${i}]`));
  if (node && typeof node === 'object') {
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, interpolateTree(v, env, problems, `${where}.${k}`)]));
  }
  return node;
}

/** Variable names a compose text refers to. */
function referencedVariables(text: string): Set<string> {
  const out = new Set<string>();
  for (const m of text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)) out.add(m[1]!);
  return out;
}

/** deploy/.env.example as shipped: no keys, no passwords (compose must refuse it). */
const EXAMPLE_ENV: Env = dotenv.parse(readFileSync(path.join(ROOT, 'deploy/.env.example')));
/** A deployment's .env: the example with its passwords set and the block `npm run claves` writes, read as compose reads it. */
const SAMPLE_ENV: Env = {
  ...EXAMPLE_ENV,
  DB_PASSWORD: 'superusuario-de-prueba',
  DB_REPLICATION_PASSWORD: 'replicador-de-prueba',
  GRAFANA_ADMIN_PASSWORD: 'grafana-de-prueba',
  ...dotenv.parse(envBlock(generateKeys(DEPLOYMENT_IDENTITIES))),
};

interface Loaded {
  file: string;
  host: string;
  doc: Json;
  problems: string[];
}

/** YAML text → merged (<<) and interpolated document. */
export function loadCompose(text: string, file: string, host: string, env: Env = SAMPLE_ENV): Loaded {
  const problems: string[] = [];
  const parsed = parseDocument(text, { merge: true });
  if (parsed.errors.length) return { file, host, doc: {}, problems: parsed.errors.map((e) => `yaml: ${e.message}`) };
  const doc = interpolateTree(parsed.toJS({ maxAliasCount: 1000 }), env, problems, file) as Json;
  return { file, host, doc, problems };
}

// ---------------------------------------------------------------- commands

/** `word)` arms of the entry script's case, with the dist entry each one runs. */
function entryCommands(): Map<string, string | null> {
  const out = new Map<string, string | null>();
  const lines = readFileSync(path.join(ROOT, ENTRY_SCRIPT), 'utf8').split('\n');
  let current: string[] | null = null;
  for (const line of lines) {
    const arm = /^ {2}([a-z][a-z|-]*)\)\s*$/.exec(line);
    if (arm) {
      current = arm[1]!.split('|');
      for (const c of current) out.set(c, null);
      continue;
    }
    const node = /(?:exec|run) node (dist\/\S+\.js)/.exec(line);
    if (current && node) for (const c of current) out.set(c, node[1]!);
    if (/;;\s*$/.test(line)) current = null;
  }
  return out;
}

interface CliHelp {
  commands: Set<string>;
  /** option name → takes a value */
  options: Map<string, boolean>;
  requiredArgs: number;
}

const helpCache = new Map<string, CliHelp>();
function cliHelp(distFile: string, sub: string[]): CliHelp {
  const key = [distFile, ...sub].join(' ');
  const cached = helpCache.get(key);
  if (cached) return cached;
  const text = execFileSync(process.execPath, [path.join(ROOT, distFile), ...sub, '--help'], { cwd: ROOT, encoding: 'utf8', timeout: 20_000 });
  // commander's titles, in English or as common/cli-args.ts spanishHelp() puts them.
  const section = (title: string) => {
    const m = new RegExp(`^(?:${title}):\\n((?:[ \\t].*\\n?)*)`, 'm').exec(text);
    return m ? m[1]! : '';
  };
  const commands = new Set([...section('Commands|Comandos').matchAll(/^ {2}([a-z][\w-]*)/gm)].map((m) => m[1]!));
  const options = new Map<string, boolean>();
  for (const m of section('Options|Opciones').matchAll(/(--[a-z][\w-]*)( [<[])?/g)) options.set(m[1]!, Boolean(m[2]));
  const usage = /^(?:Usage|Uso): .*$/m.exec(text)?.[0] ?? '';
  const help = { commands, options, requiredArgs: (usage.match(/<[^>]+>/g) ?? []).length };
  helpCache.set(key, help);
  return help;
}

/** Options and arguments as the CLI's own --help describes them. */
function checkCliArgs(distFile: string, args: string[]): string[] {
  const problems: string[] = [];
  const top = cliHelp(distFile, []);
  let help = top;
  const positional: string[] = [];
  let sub: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a.startsWith('--')) {
      const name = a.split('=')[0]!;
      if (!help.options.has(name)) problems.push(`'${name}' is not an option of ${[distFile, sub].filter(Boolean).join(' ')}`);
      else if (help.options.get(name) && !a.includes('=')) i++;
      continue;
    }
    if (top.commands.size && sub === undefined) {
      if (!top.commands.has(a)) {
        problems.push(`'${a}' is not a command of ${distFile} (${[...top.commands].join(', ')})`);
        return problems;
      }
      sub = a;
      help = cliHelp(distFile, [a]);
      continue;
    }
    positional.push(a);
  }
  if (positional.length < help.requiredArgs) problems.push(`${distFile} ${sub ?? ''} needs ${help.requiredArgs} argument(s), got ${positional.length}`);
  return problems;
}

function checkAppCommand(argv: string[]): string[] {
  const [word, ...rest] = argv;
  const commands = entryCommands();
  if (!word || !commands.has(word)) return [`'${word}' is not a command of ${ENTRY_SCRIPT} (${[...commands.keys()].join(', ')})`];
  const dist = commands.get(word);
  if (!dist) return [];
  const source = dist.replace(/^dist\//, '').replace(/\.js$/, '.ts');
  if (!existsSync(path.join(ROOT, source))) return [`${ENTRY_SCRIPT} runs ${dist}, but ${source} does not exist`];
  if (!existsSync(path.join(ROOT, dist))) return [`${dist} is not built (npm test builds it first)`];
  // The GC and the actors take no arguments (and would start serving on --help).
  if (word === 'gc' || word === 'actor') return rest.length ? [`'${word}' takes no arguments, got ${rest.join(' ')}`] : [];
  const problems = checkCliArgs(dist, rest);
  // A file argument the GA reads must be in the image.
  if (word === 'ga' && rest[0] === 'cargar-catalogo' && rest[1] && !rest[1].startsWith('/')) {
    const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
    if (!existsSync(path.join(ROOT, rest[1])) || !new RegExp(`^COPY\\s+${rest[1].replace(/[.]/g, '\\.')}\\s`, 'm').test(dockerfile)) {
      problems.push(`${rest[1]} is not copied into the image by the Dockerfile`);
    }
  }
  return problems;
}

/** Subcommands and options of the PostgreSQL wrapper, from its own source. */
function pgScriptGrammar(): { commands: Set<string>; options: Set<string> } {
  const text = readFileSync(path.join(ROOT, PG_SCRIPT), 'utf8');
  const commands = new Set((/^ {2}([a-z|]+)\)\n\s+if \[ "\$\(id -u\)" = 0 \]/m.exec(text)?.[1] ?? '').split('|').filter(Boolean));
  const options = new Set([...text.matchAll(/^ {4}(--[a-z-]+)\)/gm)].map((m) => m[1]!));
  return { commands, options };
}

function checkPgCommand(argv: string[]): string[] {
  const [cmd, ...rest] = argv;
  const g = pgScriptGrammar();
  if (!cmd || !g.commands.has(cmd)) return [`'${cmd}' is not a command of ${PG_SCRIPT} (${[...g.commands].join(', ')})`];
  const problems: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    if (a === '--') break; // the rest goes to postgres
    if (!g.options.has(a)) problems.push(`'${a}' is not an option of ${PG_SCRIPT}`);
    else if (a !== '--reclone') i++;
  }
  if (!rest.includes('--name')) problems.push(`${PG_SCRIPT} needs --name`);
  return problems;
}

// ---------------------------------------------------------------- monitoring (pc3, profile monitoreo)

const PROMETHEUS_CONFIG = 'deploy/prometheus.yml';
const PROMETHEUS_SCRIPT_DIR = 'deploy/prometheus';
const GRAFANA_PROVISIONING = 'deploy/grafana/provisioning';

/** ${NAME}s of a file: what its container's environment must provide. */
function variablesOfFile(file: string): Set<string> {
  return new Set([...readFileSync(path.join(ROOT, file), 'utf8').matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => m[1]!));
}

function grafanaProvisioningVariables(): Set<string> {
  const out = new Set<string>();
  for (const sub of ['datasources', 'dashboards']) {
    const dir = path.join(GRAFANA_PROVISIONING, sub);
    for (const f of readdirSync(path.join(ROOT, dir))) for (const v of variablesOfFile(path.join(dir, f))) out.add(v);
  }
  return out;
}

let prometheusFlagsCache: Set<string> | undefined;
/** Flags of Debian's prometheus (apt-get install prometheus; .ci/run installs it), from its own --help. */
function prometheusFlags(): Set<string> {
  if (!prometheusFlagsCache) {
    const r = spawnSync('prometheus', ['--help'], { encoding: 'utf8', timeout: 20_000 });
    if (r.error) throw new Error(`prometheus not installed (apt-get install -y prometheus): ${r.error.message}`);
    prometheusFlagsCache = new Set([...`${r.stdout}${r.stderr}`.matchAll(/^\s+(--[a-z][\w.-]*)/gm)].map((m) => m[1]!));
  }
  return prometheusFlagsCache;
}

/** host path of a bind mount onto `target`, if any. */
function mountOnto(s: Json, target: string): string | undefined {
  const m = (s.volumes ?? []).find((v: unknown) => typeof v === 'string' && v.split(':')[1] === target);
  return typeof m === 'string' ? m.split(':')[0]! : undefined;
}

/** Every problem of the Prometheus or Grafana container; `listen` collects the ports it takes. */
function checkMonitoring(kind: 'prometheus' | 'grafana', s: Json, env: Record<string, string>, listen: Array<[string, number]>): string[] {
  const problems: string[] = [];
  if (kind === 'prometheus') {
    const want = variablesOfFile(PROMETHEUS_CONFIG);
    for (const v of want) if (!env[v]) problems.push(`does not set ${v}, which ${PROMETHEUS_CONFIG} uses`);
    for (const k of Object.keys(env)) if (!want.has(k)) problems.push(`sets ${k}, which ${PROMETHEUS_CONFIG} does not use`);
    for (const [k, v] of Object.entries(env)) {
      const port = portOf(v);
      if (!/^[A-Za-z0-9.-]+:\d+$/.test(v) || !port || port > 65535) problems.push(`${k}=${v} is not an address:port`);
    }
    const entry = asArgv(s.entrypoint) ?? [];
    if (entry[0] !== '/biblioteca/prometheus.sh') problems.push('entrypoint must be /biblioteca/prometheus.sh (it fills the ${…} of prometheus.yml)');
    const dir = mountOnto(s, '/biblioteca');
    if (!dir || path.normalize(dir) !== PROMETHEUS_SCRIPT_DIR) problems.push(`must mount ./${PROMETHEUS_SCRIPT_DIR} at /biblioteca`);
    else if ((statSync(path.join(ROOT, PROMETHEUS_SCRIPT_DIR, 'prometheus.sh')).mode & 0o111) === 0) problems.push(`${PROMETHEUS_SCRIPT_DIR}/prometheus.sh is not executable`);
    const cfg = mountOnto(s, '/etc/biblioteca/prometheus.yml');
    if (!cfg || path.normalize(cfg) !== PROMETHEUS_CONFIG) problems.push(`must mount ./${PROMETHEUS_CONFIG} at /etc/biblioteca/prometheus.yml`);
    const flags = prometheusFlags();
    for (const a of asArgv(s.command) ?? []) {
      const flag = a.split('=')[0]!;
      if (!flags.has(flag)) problems.push(`'${flag}' is not a flag of prometheus`);
      if (flag === '--web.listen-address') {
        const port = portOf(a.split('=')[1] ?? '');
        if (port) listen.push(['--web.listen-address', port]);
      }
    }
  } else {
    const want = grafanaProvisioningVariables();
    for (const v of want) if (!env[v]) problems.push(`does not set ${v}, which ${GRAFANA_PROVISIONING} uses`);
    for (const k of Object.keys(env)) if (!k.startsWith('GF_') && !want.has(k)) problems.push(`sets ${k}, neither a GF_ setting nor used by ${GRAFANA_PROVISIONING}`);
    if (path.normalize(mountOnto(s, '/etc/grafana/provisioning') ?? '') !== GRAFANA_PROVISIONING) problems.push(`must mount ./${GRAFANA_PROVISIONING} at /etc/grafana/provisioning`);
    const dashboards = mountOnto(s, '/etc/biblioteca/dashboards');
    if (!dashboards || !existsSync(path.join(ROOT, dashboards))) problems.push('must mount the dashboards at /etc/biblioteca/dashboards (the provider reads them there)');
    const port = portOf(env.GF_SERVER_HTTP_PORT ?? '3000');
    if (port) listen.push(['GF_SERVER_HTTP_PORT', port]);
  }
  return problems;
}

// ---------------------------------------------------------------- services

function envOf(service: Json): Record<string, string> {
  const e = service.environment;
  if (!e) return {};
  if (Array.isArray(e)) {
    return Object.fromEntries(e.map((x: string) => {
      const i = x.indexOf('=');
      return i < 0 ? [x, ''] : [x.slice(0, i), x.slice(i + 1)];
    }));
  }
  return Object.fromEntries(Object.entries(e).map(([k, v]) => [k, v === null ? '' : String(v)]));
}

const asArgv = (v: unknown): string[] | null => (v === undefined ? [] : Array.isArray(v) ? v.map(String) : null);
const isTool = (s: Json) => Array.isArray(s.profiles) && s.profiles.includes('tools');

function portOf(v: string): number | null {
  const m = /:(\d+)$/.exec(v) ?? /^(\d+)$/.exec(v);
  return m ? Number(m[1]) : null;
}

/** Ports a service listens on (host networking: the host's ports). */
function listenPorts(kind: 'app' | 'postgres', env: Record<string, string>): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  for (const [k, v] of Object.entries(env)) {
    const listens = kind === 'postgres' ? k === 'PGPORT' : /_BIND$|_HTTP_PORT$/.test(k);
    const p = listens ? portOf(v) : null;
    if (p) out.push([k, p]);
  }
  return out;
}

/** Every problem of one compose document; empty = good. */
export function checkCompose(loaded: Loaded, env: Env = SAMPLE_ENV): string[] {
  const { doc, host } = loaded;
  const problems = [...loaded.problems, ...schemaErrors(doc)];
  const services: Record<string, Json> = doc.services ?? {};
  const appImage = interpolate('${BIBLIOTECA_IMAGE:-biblioteca:1}', env, [], '');
  const pgImage = interpolate('${POSTGRES_IMAGE:-postgres:18}', env, [], '');
  const promImage = interpolate('${PROMETHEUS_IMAGE:-prom/prometheus:v2.53.4}', env, [], '');
  const grafanaImage = interpolate('${GRAFANA_IMAGE:-grafana/grafana-oss:11.6.0}', env, [], '');
  const ports = new Map<number, string>();
  if (doc.name !== `biblioteca-${host}`) problems.push(`top-level name should be biblioteca-${host} (one compose project per host)`);

  for (const [name, s] of Object.entries(services)) {
    const p = (msg: string) => problems.push(`service ${name}: ${msg}`);
    const kind = s.image === appImage ? 'app' : s.image === pgImage ? 'postgres' : s.image === promImage ? 'prometheus' : s.image === grafanaImage ? 'grafana' : null;
    if (!kind) {
      p(`image ${String(s.image)} is neither the biblioteca image, the postgres image, nor Prometheus or Grafana`);
      continue;
    }
    const tool = isTool(s);
    if (kind === 'prometheus' || kind === 'grafana') {
      const listen: Array<[string, number]> = [];
      for (const m of checkMonitoring(kind, s, envOf(s), listen)) p(m);
      const hc = s.healthcheck as Json | undefined;
      if (!hc || hc.disable || !Array.isArray(hc.test) || hc.test.length === 0) p('has no healthcheck');
      if (!['always', 'unless-stopped', 'on-failure'].includes(String(s.restart))) p(`restart policy ${String(s.restart)} does not bring it back`);
      if (typeof s.container_name !== 'string' || !s.container_name.startsWith(`${host}-`)) p(`container_name should start with '${host}-'`);
      if (s.network_mode !== 'host') p('network_mode must be host: it reaches the hosts\' own addresses');
      for (const [k, port] of listen) {
        const other = ports.get(port);
        if (other) p(`${k} uses port ${port}, already used by ${other} on ${host}`);
        else ports.set(port, `${name} (${k})`);
      }
      for (const v of s.volumes ?? []) {
        const src = typeof v === 'string' ? v.split(':')[0]! : '';
        if (src.startsWith('.') && !existsSync(path.join(ROOT, src))) p(`mounts ${src}, which does not exist`);
        else if (!src.startsWith('.') && !src.startsWith('/') && !(doc.volumes && src in doc.volumes)) p(`volume ${src} is not declared under volumes`);
      }
      continue;
    }

    // -- the configuration contract
    const env = envOf(s);
    let valuesOk = true;
    for (const k of Object.keys(env)) {
      if (KNOWN.has(k)) {
        try {
          readConfig([k as VariableName], env);
        } catch (err) {
          valuesOk = false;
          p(err instanceof ConfigError ? err.message : String(err));
        }
      } else if (!(kind === 'postgres' && POSTGRES_IMAGE_VARS.has(k))) {
        p(`sets ${k}, which common/config.ts does not know${kind === 'postgres' ? ' (nor the postgres image)' : ''}`);
      }
    }
    // Then the rules between variables (timings that go together, lists that pair up), as the process reads them.
    if (valuesOk) {
      try {
        readConfig(Object.keys(env).filter((k) => KNOWN.has(k)) as VariableName[], env);
      } catch (err) {
        p(err instanceof ConfigError ? err.message : String(err));
      }
    }
    if (kind === 'app' && s.env_file) p('env_file would bypass the checked variables: set them under environment');

    // -- the command
    const entrypoint = asArgv(s.entrypoint);
    const command = asArgv(s.command);
    if (!entrypoint || !command) p('entrypoint and command must be lists (exec form), not shell strings');
    else if (kind === 'app') {
      const argv = [...(entrypoint.length ? entrypoint : ['biblioteca']), ...command];
      if (argv[0] !== 'biblioteca') p(`runs ${argv[0]}, not the image's entry script`);
      else for (const m of checkAppCommand(argv.slice(1))) p(m);
    } else {
      if (entrypoint[0] !== PG_SCRIPT_IN_CONTAINER) p(`entrypoint must be ${PG_SCRIPT_IN_CONTAINER}`);
      const mount = (s.volumes ?? []).find((v: unknown) => typeof v === 'string' && v.split(':')[1] === path.dirname(PG_SCRIPT_IN_CONTAINER));
      const src = typeof mount === 'string' ? mount.split(':')[0]! : '';
      if (!mount) p(`mounts nothing at ${path.dirname(PG_SCRIPT_IN_CONTAINER)}`);
      else if (!existsSync(path.join(ROOT, src, path.basename(PG_SCRIPT_IN_CONTAINER)))) p(`${src} has no ${path.basename(PG_SCRIPT_IN_CONTAINER)}`);
      else if ((statSync(path.join(ROOT, PG_SCRIPT)).mode & 0o111) === 0) p(`${PG_SCRIPT} is not executable`);
      for (const m of checkPgCommand(command)) p(m);
    }

    // -- operations
    if (tool) {
      if (s.restart !== 'no') p('a tool (profile tools) must not restart');
    } else {
      const hc = s.healthcheck as Json | undefined;
      if (!hc || hc.disable || !Array.isArray(hc.test) || hc.test.length === 0) p('has no healthcheck');
      else if (kind === 'app') for (const m of checkAppCommand(hc.test.slice(2))) p(`healthcheck: ${m}`);
      if (!['always', 'unless-stopped', 'on-failure'].includes(String(s.restart))) p(`restart policy ${String(s.restart)} does not bring it back`);
      if (typeof s.container_name !== 'string' || !s.container_name.startsWith(`${host}-`)) p(`container_name should start with '${host}-' so drills read 'docker stop ${host}-…'`);
      const puerto = (asArgv(s.command) ?? []).indexOf('--puerto');
      const argPorts: Array<[string, number]> = puerto >= 0 && portOf(String(s.command[puerto + 1])) ? [['--puerto', portOf(String(s.command[puerto + 1]))!]] : [];
      for (const [k, port] of [...listenPorts(kind, env), ...argPorts]) {
        const other = ports.get(port);
        if (other) p(`${k} uses port ${port}, already used by ${other} on ${host}`);
        else ports.set(port, `${name} (${k})`);
      }
    }
    if (s.network_mode !== 'host') p('network_mode must be host: processes bind to and reach the hosts\' own addresses');
    for (const dep of Object.keys(s.depends_on ?? {})) if (!services[dep]) p(`depends_on ${dep}, which is not a service of this file`);
    for (const v of s.volumes ?? []) {
      const src = typeof v === 'string' ? v.split(':')[0]! : String(v?.source ?? '');
      if (!src.startsWith('.') && !src.startsWith('/') && !(doc.volumes && src in doc.volumes)) p(`volume ${src} is not declared under volumes`);
    }
  }
  // Where order matters: a GA starts once its own PostgreSQL accepts connections.
  const pg = Object.entries(services).find(([, s]) => s.image === pgImage && !isTool(s));
  const ga = services.ga;
  // Started, not healthy: compose up would give up on a GA whose PostgreSQL is slow to be healthy (a clone, a wait for the pair).
  if (pg && ga && ga.depends_on?.[pg[0]]?.condition !== 'service_started') problems.push(`service ga: must depend on ${pg[0]} with condition service_started`);
  return problems;
}

/**
 * CURVE across the hosts' compose files: who holds which key and who admits whom,
 * checked from the keys themselves (each public key derived from the secret its
 * process holds), not from the variable names.
 */
export function curveProblems(hosts: Record<string, Record<string, Json>>): string[] {
  const problems: string[] = [];
  interface Proc { where: string; word: string; env: Record<string, string>; pub: string; secret: string }
  const procs: Proc[] = [];
  for (const [host, svcs] of Object.entries(hosts)) {
    for (const [name, s] of Object.entries(svcs)) {
      const word = (s.command as string[] | undefined)?.[0];
      if (isTool(s) || !word || !['ga', 'gc', 'actor'].includes(word)) continue;
      const env = envOf(s);
      const where = `${host} ${name}`;
      if (env.ZMQ_CURVE !== 'on') {
        problems.push(`${where}: ZMQ_CURVE is ${env.ZMQ_CURVE ?? 'unset'}, not on`);
        continue;
      }
      try {
        procs.push({ where, word, env, pub: curvePublicKey(env.ZMQ_CURVE_SECRET_KEY ?? ''), secret: env.ZMQ_CURVE_SECRET_KEY! });
      } catch (err) {
        problems.push(`${where}: ZMQ_CURVE_SECRET_KEY: ${(err as Error).message}`);
      }
    }
  }
  const list = (v: string | undefined) => (v ? v.split(',') : []);
  const gas = procs.filter((p) => p.word === 'ga');
  const gcs = procs.filter((p) => p.word === 'gc');
  const actors = procs.filter((p) => p.word === 'actor');
  const gaAt = (ep: string) => gas.find((g) => g.env.GA_BIND === ep);
  const gcAt = (ep: string, k: 'GC_PUB_BIND' | 'GC_BACKEND_BIND') => gcs.find((g) => g.env[k] === ep);
  for (const c of [...gcs, ...actors]) {
    const eps = list(c.env.GA_ENDPOINTS);
    const keys = list(c.env.GA_CURVE_SERVER_KEYS);
    eps.forEach((ep, i) => {
      const ga = gaAt(ep);
      if (!ga) return;
      if (keys[i] !== ga.pub) problems.push(`${c.where}: GA_CURVE_SERVER_KEYS[${i}] is not the key of ${ga.where} (${ep})`);
      if (!list(ga.env.GA_CURVE_CLIENTS).includes(c.pub)) problems.push(`${ga.where}: GA_CURVE_CLIENTS does not admit ${c.where}`);
    });
  }
  for (const a of actors) {
    const pubs = list(a.env.GC_PUB_ENDPOINTS);
    const backs = list(a.env.GC_BACKEND_ENDPOINTS);
    const keys = list(a.env.GC_CURVE_SERVER_KEYS);
    pubs.forEach((ep, i) => {
      const gc = gcAt(ep, 'GC_PUB_BIND');
      if (!gc) return;
      if (gcAt(backs[i] ?? '', 'GC_BACKEND_BIND') !== gc) problems.push(`${a.where}: GC_BACKEND_ENDPOINTS[${i}] is not ${gc.where}'s backend`);
      if (keys[i] !== gc.pub) problems.push(`${a.where}: GC_CURVE_SERVER_KEYS[${i}] is not the key of ${gc.where} (${ep})`);
      if (!list(gc.env.GC_CURVE_CLIENTS).includes(a.pub)) problems.push(`${gc.where}: GC_CURVE_CLIENTS does not admit ${a.where}`);
    });
  }
  for (const g of gas) {
    const peer = gas.find((o) => o.env.GA_PEER_BIND === g.env.GA_PEER_ENDPOINT);
    if (peer && g.env.GA_PEER_CURVE_KEY !== peer.pub) problems.push(`${g.where}: GA_PEER_CURVE_KEY is not the key of ${peer.where}`);
  }
  // Least privilege: an allow-list names only processes that connect to that server.
  const actorKeys = new Set(actors.map((a) => a.pub));
  const callerKeys = new Set([...gcs, ...actors].map((p) => p.pub));
  for (const gc of gcs) for (const k of list(gc.env.GC_CURVE_CLIENTS)) if (!actorKeys.has(k)) problems.push(`${gc.where}: GC_CURVE_CLIENTS admits ${k.slice(0, 8)}…, which no actor holds`);
  for (const ga of gas) for (const k of list(ga.env.GA_CURVE_CLIENTS)) if (!callerKeys.has(k)) problems.push(`${ga.where}: GA_CURVE_CLIENTS admits ${k.slice(0, 8)}…, which no GC or actor holds`);
  // One identity per GC and per GA; the actors of a host share one, no one else's.
  const owners = new Map<string, Proc[]>();
  for (const p of procs) owners.set(p.secret, [...(owners.get(p.secret) ?? []), p]);
  for (const group of owners.values()) {
    const hostsOf = new Set(group.map((p) => p.where.split(' ')[0]));
    if (group.length > 1 && !(group.every((p) => p.word === 'actor') && hostsOf.size === 1)) problems.push(`one secret key shared by ${group.map((p) => p.where).join(', ')}`);
  }
  return problems;
}

// ---------------------------------------------------------------- the tests

function loadFile(host: Host, env: Env = SAMPLE_ENV): Loaded {
  const file = COMPOSE_FILES[host];
  return loadCompose(readFileSync(path.join(ROOT, file), 'utf8'), file, host, env);
}

const clone = <T>(x: T): T => structuredClone(x);

describe('compose files (offline validation)', () => {
  it('the compose-spec schema comes from an installed package and compiles without network', () => {
    const schema = loadSchema();
    expect(schema.title).toBe('Compose Specification');
    expect(JSON.stringify(schema)).not.toMatch(/"\$ref":\s*"https?:/);
    expect(schemaErrors({ services: { x: { image: 'i' } } })).toEqual([]);
  });

  for (const host of Object.keys(COMPOSE_FILES) as Host[]) {
    it(`${COMPOSE_FILES[host]}: valid compose spec, known variables, real commands, healthchecks`, () => {
      expect(checkCompose(loadFile(host))).toEqual([]);
    });
  }

  it('deploy/.env.example defines every variable the compose files use, and nothing else', () => {
    const used = new Set<string>();
    for (const f of Object.values(COMPOSE_FILES)) for (const v of referencedVariables(readFileSync(path.join(ROOT, f), 'utf8'))) used.add(v);
    expect([...used].filter((v) => !(v in EXAMPLE_ENV)).sort()).toEqual([]);
    expect(Object.keys(EXAMPLE_ENV).filter((v) => !used.has(v)).sort()).toEqual([]);
    // npm run claves fills exactly the key variables the example leaves empty.
    expect(envBlockVariables(DEPLOYMENT_IDENTITIES).sort()).toEqual(Object.keys(EXAMPLE_ENV).filter((v) => v.startsWith('CURVE_')).sort());
  });

  it('.env.example alone is refused: no passwords and no CURVE keys by default, each named with what to do', () => {
    for (const host of Object.keys(COMPOSE_FILES) as Host[]) {
      const problems = loadFile(host, EXAMPLE_ENV).problems.join('\n');
      expect(problems).toMatch(/CURVE_ACTORES_PC\d_SECRET is required \(run npm run claves/);
      if (host !== 'pc3') {
        expect(problems).toMatch(/DB_PASSWORD is required \(set DB_PASSWORD in .env \(no default\)\)/);
        expect(problems).toMatch(/DB_REPLICATION_PASSWORD is required/);
      }
    }
    expect(EXAMPLE_ENV.ZMQ_CURVE).toBe('on');
  });

  it('CURVE: every client knows its servers\' keys, every allow-list admits exactly its clients, one key pair per GC, GA and host\'s actors', () => {
    const hosts = Object.fromEntries((Object.keys(COMPOSE_FILES) as Host[]).map((h) => [h, loadFile(h).doc.services as Record<string, Json>]));
    expect(curveProblems(hosts)).toEqual([]);
    // Every internal process is covered: 2 GAs, 2 GCs, 9 actors.
    const words = Object.values(hosts).flatMap((svcs) => Object.values(svcs).filter((s) => !isTool(s)).map((s) => (s.command as string[] | undefined)?.[0]));
    expect(words.filter((w) => w === 'ga' || w === 'gc' || w === 'actor')).toHaveLength(13);
  });

  it('CURVE wiring mistakes are found: a host\'s actors missing from a GC, swapped GA keys, a shared GC key, CURVE off', () => {
    const hosts = () => Object.fromEntries((Object.keys(COMPOSE_FILES) as Host[]).map((h) => [h, clone(loadFile(h).doc.services as Record<string, Json>)]));
    let h = hosts();
    h.pc1!.gc!.environment.GC_CURVE_CLIENTS = (h.pc1!.gc!.environment.GC_CURVE_CLIENTS as string).split(',').slice(0, 2).join(',');
    expect(curveProblems(h)).toEqual([
      'pc1 gc: GC_CURVE_CLIENTS does not admit pc3 actor-prestamo',
      'pc1 gc: GC_CURVE_CLIENTS does not admit pc3 actor-devolucion',
      'pc1 gc: GC_CURVE_CLIENTS does not admit pc3 actor-renovacion',
    ]);
    h = hosts();
    h.pc2!.gc!.environment.GA_CURVE_SERVER_KEYS = (h.pc2!.gc!.environment.GA_CURVE_SERVER_KEYS as string).split(',').reverse().join(',');
    expect(curveProblems(h)).toEqual([expect.stringMatching(/^pc2 gc: GA_CURVE_SERVER_KEYS\[0\] is not the key of pc1 ga/), expect.stringMatching(/^pc2 gc: GA_CURVE_SERVER_KEYS\[1\] is not the key of pc2 ga/)]);
    h = hosts();
    h.pc2!.gc!.environment.ZMQ_CURVE_SECRET_KEY = h.pc1!.gc!.environment.ZMQ_CURVE_SECRET_KEY;
    expect(curveProblems(h)).toEqual(expect.arrayContaining(['one secret key shared by pc1 gc, pc2 gc']));
    h = hosts();
    h.pc1!.ga!.environment.GA_CURVE_CLIENTS += `,${h.pc2!.ga!.environment.GA_PEER_CURVE_KEY}`;
    expect(curveProblems(h)).toEqual([expect.stringMatching(/^pc1 ga: GA_CURVE_CLIENTS admits .*, which no GC or actor holds$/)]);
    h = hosts();
    h.pc3!['actor-prestamo']!.environment.ZMQ_CURVE = 'off';
    expect(curveProblems(h)).toEqual(['pc3 actor-prestamo: ZMQ_CURVE is off, not on']);
  });

  it("the container drills' .env (npm run contenedores) passes every check, CURVE included", () => {
    const env = dotenv.parse(drillEnvFile({ addresses: { pc1: '127.0.0.11', pc2: '127.0.0.12', pc3: '127.0.0.13' }, replicacion: 'sync' }, 'simulacro-x'));
    const hosts: Record<string, Record<string, Json>> = {};
    for (const host of Object.keys(COMPOSE_FILES) as Host[]) {
      const l = loadFile(host, env);
      expect(checkCompose(l, env), host).toEqual([]);
      hosts[host] = l.doc.services;
    }
    expect(curveProblems(hosts)).toEqual([]);
  });

  it('the PostgreSQL wrapper refuses a missing replication password, or the superuser\'s, before touching anything', () => {
    const run = (env: Record<string, string>) => {
      try {
        execFileSync('bash', [path.join(ROOT, PG_SCRIPT), 'serve', '--name', 'pc1', '--initial', 'primary'], { env: { PATH: process.env.PATH!, PGDATA: '/nonexistent/biblioteca-test', PG_PEER_HOST: '192.0.2.12', ...env }, encoding: 'utf8', stdio: 'pipe' });
        return 'exit 0';
      } catch (err) {
        return String((err as { stderr?: string }).stderr);
      }
    };
    expect(run({ POSTGRES_PASSWORD: 'a' })).toMatch(/POSTGRES_REPLICATION_PASSWORD is required/);
    expect(run({ POSTGRES_PASSWORD: 'same', POSTGRES_REPLICATION_PASSWORD: 'same' })).toMatch(/must differ from POSTGRES_PASSWORD/);
    expect(run({ POSTGRES_REPLICATION_PASSWORD: 'b' })).toMatch(/POSTGRES_PASSWORD is required/);
  });

  it('the three hosts are wired to each other: GA pair, PostgreSQL pair, a GC per sede that every actor and PS knows, unique names', () => {
    const [pc1, pc2, pc3] = (['pc1', 'pc2', 'pc3'] as const).map((h) => loadFile(h).doc.services as Record<string, Json>);
    const e = (s: Json | undefined) => envOf(s ?? {});
    const ga1 = e(pc1!.ga);
    const ga2 = e(pc2!.ga);
    expect([ga1.GA_ROL, ga2.GA_ROL]).toEqual(['primary', 'backup']);
    expect(ga1.GA_PEER_ENDPOINT).toBe(ga2.GA_PEER_BIND);
    expect(ga2.GA_PEER_ENDPOINT).toBe(ga1.GA_PEER_BIND);
    expect([ga1.PG_PEER_HOST, ga1.PG_PEER_PORT]).toEqual([ga2.PGHOST, ga2.PGPORT]);
    expect([ga2.PG_PEER_HOST, ga2.PG_PEER_PORT]).toEqual([ga1.PGHOST, ga1.PGPORT]);

    // PostgreSQL: each node listens where its GA connects, names itself as the
    // other GA's sync standby, and follows the other node.
    const pgName = (s: Json) => (s.command as string[])[(s.command as string[]).indexOf('--name') + 1];
    const listen = (s: Json) => (s.command as string[]).find((a) => a.startsWith('listen_addresses='))?.split('=')[1];
    expect(pgName(pc1!.postgres!)).toBe(ga2.GA_STANDBY_NAME);
    expect(pgName(pc2!.postgres!)).toBe(ga1.GA_STANDBY_NAME);
    expect([listen(pc1!.postgres!), e(pc1!.postgres).PGPORT]).toEqual([ga1.PGHOST, ga1.PGPORT]);
    expect([listen(pc2!.postgres!), e(pc2!.postgres).PGPORT]).toEqual([ga2.PGHOST, ga2.PGPORT]);
    expect(e(pc1!.postgres).PG_PEER_HOST).toBe(ga2.PGHOST);
    expect(e(pc2!.postgres).PG_PEER_HOST).toBe(ga1.PGHOST);
    expect((pc1!.postgres!.command as string[]).join(' ')).toContain('--initial primary');
    expect((pc2!.postgres!.command as string[]).join(' ')).toContain('--initial standby');
    expect(pgName(pc1!['postgres-rejoin']!)).toBe(pgName(pc1!.postgres!));
    expect(pgName(pc2!['postgres-rejoin']!)).toBe(pgName(pc2!.postgres!));

    // One GC per sede (pc1, pc2), both active, distinct names, each bound on its own host.
    const gc1 = e(pc1!.gc);
    const gc2 = e(pc2!.gc);
    expect(pc2!.gc).toBeDefined();
    expect(pc3!.gc).toBeUndefined();
    expect([gc1.GC_ID, gc2.GC_ID]).toEqual(['gc-pc1', 'gc-pc2']);
    expect([gc1.GC_SEDE, gc2.GC_SEDE]).toEqual(['pc1', 'pc2']);
    for (const [g, host] of [[gc1, ga1.PGHOST], [gc2, ga2.PGHOST]] as const) {
      for (const k of ['GC_FRONTEND_BIND', 'GC_PUB_BIND', 'GC_BACKEND_BIND']) expect(g[k]).toMatch(new RegExp(`^tcp://${host!.replace(/\./g, '\\.')}:\\d+$`));
      expect(g.HTTP_HOST).toBe(host);
    }
    const all = [pc1!, pc2!, pc3!].flatMap((svcs) => Object.entries(svcs));
    const actors = all.filter(([, s]) => (s.command as string[] | undefined)?.[0] === 'actor');
    for (const [, s] of [...actors, ['gc', pc1!.gc!] as [string, Json], ['gc', pc2!.gc!] as [string, Json]]) {
      expect(e(s).GA_ENDPOINTS).toBe(`${ga1.GA_BIND},${ga2.GA_BIND}`);
    }
    // Every actor works for both GCs: the i-th PUB and the i-th backend are the same GC's.
    for (const [, s] of actors) {
      expect(e(s).GC_PUB_ENDPOINTS).toBe(`${gc1.GC_PUB_BIND},${gc2.GC_PUB_BIND}`);
      expect(e(s).GC_BACKEND_ENDPOINTS).toBe(`${gc1.GC_BACKEND_BIND},${gc2.GC_BACKEND_BIND}`);
      expect(e(s).GC_PUB_ENDPOINT).toBeUndefined();
    }
    // PS: its own sede's GC first (pc3 has none: pc1's), the other to fail over to.
    expect(e(pc1!.ps).GC_ENDPOINTS).toBe(`${gc1.GC_FRONTEND_BIND},${gc2.GC_FRONTEND_BIND}`);
    expect(e(pc2!.ps).GC_ENDPOINTS).toBe(`${gc2.GC_FRONTEND_BIND},${gc1.GC_FRONTEND_BIND}`);
    expect(e(pc3!.ps).GC_ENDPOINTS).toBe(`${gc1.GC_FRONTEND_BIND},${gc2.GC_FRONTEND_BIND}`);
    for (const svcs of [pc1!, pc2!, pc3!]) {
      const statusArgs = (svcs.status!.command as string[]).join(' ');
      expect(statusArgs).toContain(`--gc http://${ga1.PGHOST}:${gc1.GC_HTTP_PORT}`);
      expect(statusArgs).toContain(`--gc http://${ga2.PGHOST}:${gc2.GC_HTTP_PORT}`);
      expect(statusArgs).toContain(`--ga http://${ga2.PGHOST}:${ga2.GA_HTTP_PORT}`);
    }
    // Redundancy: every actor type on pc1 and again on pc2 (and pc3).
    for (const tipo of ['prestamo', 'devolucion', 'renovacion']) {
      for (const svcs of [pc1!, pc2!, pc3!]) expect(Object.values(svcs).some((s) => envOf(s).ACTOR_TIPO === tipo)).toBe(true);
    }
    const ids = actors.map(([, s]) => e(s).ACTOR_ID);
    expect(new Set(ids).size).toBe(ids.length);
    const names = all.map(([, s]) => s.container_name).filter(Boolean);
    expect(new Set(names).size).toBe(names.length);
  });

  describe('fails on a typo', () => {
    const base = () => clone(loadFile('pc1'));
    const problemsOf = (mutate: (services: Record<string, Json>, doc: Json) => void) => {
      const l = base();
      mutate(l.doc.services, l.doc);
      return checkCompose(l);
    };

    it('an unknown compose key', () => {
      expect(problemsOf((s) => { s.ga!.helthcheck = s.ga!.healthcheck; })).toEqual(
        expect.arrayContaining([expect.stringContaining("must NOT have additional properties 'helthcheck'")]));
    });
    it('a misspelt top-level section (from YAML text)', () => {
      const text = readFileSync(path.join(ROOT, COMPOSE_FILES.pc1), 'utf8').replace(/^volumes:/m, 'volumens:');
      expect(checkCompose(loadCompose(text, 'bad.yml', 'pc1'))).toEqual(
        expect.arrayContaining([expect.stringContaining("additional properties 'volumens'")]));
    });
    it('a variable common/config.ts does not know', () => {
      expect(problemsOf((s) => { s.gc!.environment.GA_ENDPOINT = 'tcp://192.0.2.11:5570'; })).toEqual(
        ['service gc: sets GA_ENDPOINT, which common/config.ts does not know']);
    });
    it('an invented variable in the PostgreSQL container', () => {
      expect(problemsOf((s) => { s.postgres!.environment.POSTGRES_REPLICA_NAME = 'pc1'; })).toEqual(
        ['service postgres: sets POSTGRES_REPLICA_NAME, which common/config.ts does not know (nor the postgres image)']);
    });
    it("an actor's GC lists that do not pair up", () => {
      expect(problemsOf((s) => { s['actor-prestamo']!.environment.GC_BACKEND_ENDPOINTS = 'tcp://192.0.2.11:5557'; })).toEqual(
        [expect.stringMatching(/^service actor-prestamo: Invalid configuration: GC_BACKEND_ENDPOINTS: must list as many endpoints as GC_PUB_ENDPOINTS/)]);
    });
    it('a value the config code rejects', () => {
      expect(problemsOf((s) => { s.ga!.environment.GA_ROL = 'primario'; })).toEqual(
        [expect.stringMatching(/^service ga: Invalid configuration: GA_ROL: /)]);
      expect(problemsOf((s) => { s.gc!.environment.GA_ENDPOINTS = 'tcp://192.0.2.11'; })).toEqual(
        [expect.stringMatching(/^service gc: Invalid configuration: GA_ENDPOINTS: /)]);
    });
    it('a command, subcommand, option or wrapper option that does not exist', () => {
      expect(problemsOf((s) => { s.gc!.command = ['gestor-carga']; })).toEqual(
        [expect.stringMatching(/^service gc: 'gestor-carga' is not a command of deploy\/biblioteca.sh/)]);
      expect(problemsOf((s) => { s.ga!.command = ['ga', 'servir']; })).toEqual(
        [expect.stringMatching(/^service ga: 'servir' is not a command of dist\/gestor_almacenamiento\/main.js/)]);
      expect(problemsOf((s) => { s.catalogo!.command = ['ga', 'cargar-catalogo']; })).toEqual(
        [expect.stringMatching(/needs 1 argument\(s\), got 0/)]);
      expect(problemsOf((s) => { s.status!.command = ['--gaa', 'http://x:1']; })).toEqual(
        [expect.stringMatching(/'--gaa' is not an option of dist\/scripts\/launcher\/status.js/)]);
      expect(problemsOf((s) => { s.ps!.command = ['carga', '--clientes', '5', '--duration', '10']; })).toEqual(
        [expect.stringMatching(/'--duration' is not an option of dist\/solicitante\/main.js carga/)]);
      expect(problemsOf((s) => { s.postgres!.command = ['serve', '--nombre', 'pc1']; })).toEqual(
        expect.arrayContaining([expect.stringContaining("'--nombre' is not an option")]));
      expect(problemsOf((s) => { s.postgres!.command = ['start', '--name', 'pc1']; })).toEqual(
        [expect.stringMatching(/'start' is not a command of deploy\/postgres\/biblioteca-postgres.sh/)]);
    });
    it('a missing healthcheck, restart policy or drill-friendly container name', () => {
      const p = problemsOf((s) => {
        delete s.gc!.healthcheck;
        delete s['actor-prestamo']!.restart;
        s['actor-devolucion']!.container_name = 'devolucion';
      });
      expect(p).toEqual([
        'service gc: has no healthcheck',
        'service actor-prestamo: restart policy undefined does not bring it back',
        "service actor-devolucion: container_name should start with 'pc1-' so drills read 'docker stop pc1-…'",
      ]);
    });
    it('two processes on one port of the same host', () => {
      expect(problemsOf((s) => { s['actor-devolucion']!.environment.ACTOR_HTTP_PORT = '9581'; })).toEqual(
        ['service actor-devolucion: ACTOR_HTTP_PORT uses port 9581, already used by actor-prestamo (ACTOR_HTTP_PORT) on pc1']);
    });
    it('a GA that does not start after its PostgreSQL, or waits for it to be healthy', () => {
      expect(problemsOf((s) => { s.ga!.depends_on.postgres.condition = 'service_healthy'; })).toEqual(
        ['service ga: must depend on postgres with condition service_started']);
      expect(problemsOf((s) => { delete s.ga!.depends_on; })).toEqual(
        ['service ga: must depend on postgres with condition service_started']);
    });
    it('a variable missing from .env', () => {
      const text = readFileSync(path.join(ROOT, COMPOSE_FILES.pc1), 'utf8');
      const env = { ...SAMPLE_ENV };
      delete env.PC2_ADDR;
      expect(checkCompose(loadCompose(text, 'pc1.yml', 'pc1', env), env)).toEqual(
        expect.arrayContaining([expect.stringContaining('PC2_ADDR is required (set PC2_ADDR in .env (see deploy/.env.example)')]));
    });
  });
});

describe('pc3 monitoring services (profile monitoreo)', () => {
  const pc3 = () => clone(loadFile('pc3'));
  const problemsOf = (mutate: (services: Record<string, Json>) => void) => {
    const l = pc3();
    mutate(l.doc.services);
    return checkCompose(l);
  };

  it('panel, Prometheus and Grafana are there, only under the profile, each on its own port', () => {
    const svcs = loadFile('pc3').doc.services as Record<string, Json>;
    for (const n of ['panel', 'prometheus', 'grafana']) expect(svcs[n]?.profiles, n).toEqual(['monitoreo']);
    // Prometheus scrapes where the processes listen: the other hosts' compose files bind these.
    const env = envOf(svcs.prometheus!);
    const [pc1, pc2] = (['pc1', 'pc2'] as const).map((h) => loadFile(h).doc.services as Record<string, Json>);
    const httpOf = (s: Json, port: string) => `${envOf(s).HTTP_HOST}:${envOf(s)[port]}`;
    expect(env.PC1_GA_TARGET).toBe(httpOf(pc1!.ga!, 'GA_HTTP_PORT'));
    expect(env.PC2_GA_TARGET).toBe(httpOf(pc2!.ga!, 'GA_HTTP_PORT'));
    expect(env.PC1_GC_TARGET).toBe(httpOf(pc1!.gc!, 'GC_HTTP_PORT'));
    expect(env.PC2_GC_TARGET).toBe(httpOf(pc2!.gc!, 'GC_HTTP_PORT'));
    for (const [h, file] of [['PC1', pc1], ['PC2', pc2], ['PC3', svcs]] as const) {
      for (const t of ['prestamo', 'devolucion', 'renovacion']) expect(env[`${h}_ACTOR_${t.toUpperCase()}_TARGET`]).toBe(httpOf(file![`actor-${t}`]!, 'ACTOR_HTTP_PORT'));
    }
    expect(envOf(svcs.grafana!).PROMETHEUS_URL).toBe(`http://${SAMPLE_ENV.PC3_ADDR}:${SAMPLE_ENV.PROMETHEUS_PORT}`);
  });
  it('a Prometheus variable that deploy/prometheus.yml needs but the service does not set', () => {
    expect(problemsOf((s) => { delete s.prometheus!.environment.PC2_GA_TARGET; })).toEqual(
      ['service prometheus: does not set PC2_GA_TARGET, which deploy/prometheus.yml uses']);
    expect(problemsOf((s) => { s.prometheus!.environment.PC2_GA_TARGET = '192.0.2.12'; })).toEqual(
      ['service prometheus: PC2_GA_TARGET=192.0.2.12 is not an address:port']);
  });
  it('a Prometheus flag that does not exist, and a port taken twice', () => {
    expect(problemsOf((s) => { s.prometheus!.command = ['--web.listen-adress=192.0.2.13:9090']; })).toEqual(
      ["service prometheus: '--web.listen-adress' is not a flag of prometheus"]);
    expect(problemsOf((s) => { s.grafana!.environment.GF_SERVER_HTTP_PORT = '9090'; })).toEqual(
      ['service grafana: GF_SERVER_HTTP_PORT uses port 9090, already used by prometheus (--web.listen-address) on pc3']);
  });
  it('a Grafana variable the provisioning needs, and a panel option that does not exist', () => {
    expect(problemsOf((s) => { delete s.grafana!.environment.PROMETHEUS_URL; })).toEqual(
      [`service grafana: does not set PROMETHEUS_URL, which ${GRAFANA_PROVISIONING} uses`]);
    expect(problemsOf((s) => { s.panel!.command = ['panel', '--port', '9500']; })).toEqual(
      [expect.stringMatching(/'--port' is not an option of dist\/panel\/main.js/)]);
  });
});

// Keep the YAML parser honest about merge keys: a plain parse without them
// would silently drop every <<: *app.
it('compose files use merge keys that the loader resolves', () => {
  const raw = parseYaml(readFileSync(path.join(ROOT, COMPOSE_FILES.pc1), 'utf8')) as Json;
  expect(raw.services.ga['<<']).toBeDefined();
  expect(loadFile('pc1').doc.services.ga.network_mode).toBe('host');
});
