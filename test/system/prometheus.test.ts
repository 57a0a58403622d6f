/**
 * deploy/prometheus.yml for real: Debian's prometheus (apt-get install
 * prometheus), started through the pc3 container's own entry script
 * (deploy/prometheus/prometheus.sh, which fills the file's ${…}) with the
 * addresses and ports of a running local two-hosts system, scrapes every
 * process; its query API gives back a metric of each one. The Grafana
 * dashboard's queries name only metrics those processes export, and every one
 * of them is accepted by that Prometheus.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { freePort } from '../../scripts/launcher/free-port.js';
import { startLocalSystem, type LocalSystem } from '../../scripts/launcher/local-system.js';
import type { HostName } from '../../scripts/launcher/hosts.js';
import { runLoad } from '../../solicitante/load.js';
import { DRILL_ISBNS, DRILL_LIBROS } from '../harness/drill.js';
import { eventually } from '../harness/eventually.js';
import { ROOT } from '../harness/fixtures.js';

const SCRIPT = path.join(ROOT, 'deploy/prometheus/prometheus.sh');
const CONFIG = path.join(ROOT, 'deploy/prometheus.yml');
const DASHBOARD = path.join(ROOT, 'deploy/grafana/dashboards/biblioteca.json');
const PC3 = '127.0.1.3';

type Json = Record<string, any>;

let sys: LocalSystem | undefined;
let prom: ChildProcess | undefined;
let promUrl = '';
const tmp = mkdtempSync(path.join(tmpdir(), 'prometheus-test-'));
/** instance → the process it is, for every process of the local system. */
const expected = new Map<string, { job: string; host: string; name: string }>();

/** The script's environment for the local topology: each process's own address:port. */
function scriptEnv(s: LocalSystem, pc3Ports: number[]): Record<string, string> {
  const at = (p: { spec: { httpHost?: string; httpPort?: number } }) => `${p.spec.httpHost}:${p.spec.httpPort}`;
  const env: Record<string, string> = {};
  for (const h of ['pc1', 'pc2'] as HostName[]) env[`${h.toUpperCase()}_GA_TARGET`] = at(s.hosts[h]!.ga!);
  for (const g of s.gcs) env[`${g.host.toUpperCase()}_GC_TARGET`] = at(g.process);
  for (const a of s.actors) env[`${a.spec.host!.toUpperCase()}_ACTOR_${a.spec.env.ACTOR_TIPOS!.toUpperCase()}_TARGET`] = at(a);
  // No pc3 here: its actors' targets point at ports nothing listens on (they show up as down).
  ['PRESTAMO', 'DEVOLUCION', 'RENOVACION'].forEach((t, i) => (env[`PC3_ACTOR_${t}_TARGET`] = `${PC3}:${pc3Ports[i]}`));
  return env;
}

async function query(expr: string): Promise<{ status: string; error?: string; data?: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } }> {
  const r = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`, { signal: AbortSignal.timeout(5000) });
  return (await r.json()) as never;
}

async function distinctFreePorts(host: string, n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort(host));
  return [...ports];
}

/** Metric names in a PromQL expression: identifiers that are not functions, keywords, labels or durations. */
export function metricNames(expr: string): string[] {
  let e = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""').replace(/\{[^}]*\}/g, ' ').replace(/\[[^\]]*\]/g, ' ');
  e = e.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const keywords = new Set(['and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);
  const out: string[] = [];
  for (const m of e.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    if (e.slice(m.index! + m[0].length).trimStart().startsWith('(')) continue; // a function or an aggregation
    if (!keywords.has(m[0].toLowerCase())) out.push(m[0]);
  }
  return out;
}

beforeAll(async () => {
  if (spawnSync('prometheus', ['--version']).error) throw new Error('prometheus not installed: apt-get install -y prometheus (.ci/run does it)');
  sys = await startLocalSystem({ topology: 'two-hosts', ports: 'free', libros: DRILL_LIBROS, actorsPerType: 2 });
  const gcProcs = sys.gcs.map((g) => g.process);
  for (const p of [sys.hosts.pc1!.ga!, sys.hosts.pc2!.ga!, ...gcProcs, ...sys.actors]) {
    const job = gcProcs.includes(p) ? 'gc' : p.spec.name.startsWith('ga') ? 'ga' : 'actor';
    expected.set(`${p.spec.httpHost}:${p.spec.httpPort}`, { job, host: p.spec.host!, name: p.spec.name });
  }
  const port = await freePort('127.0.0.1');
  promUrl = `http://127.0.0.1:${port}`;
  const log = createWriteStream(path.join(tmp, 'prometheus.log'));
  prom = spawn('sh', [SCRIPT, `--web.listen-address=127.0.0.1:${port}`, '--storage.tsdb.retention.time=1h'], {
    env: { ...process.env, ...scriptEnv(sys, await distinctFreePorts(PC3, 3)), PROMETHEUS_BIN: 'prometheus', PROMETHEUS_CONFIG: CONFIG, PROMETHEUS_DATA: path.join(tmp, 'data') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  prom.stdout!.pipe(log);
  prom.stderr!.pipe(log);
  await eventually(() => `Prometheus ready; Prometheus log: ${path.join(tmp, 'prometheus.log')}`, async () => ((await fetch(`${promUrl}/-/ready`)).ok ? true : undefined), 30_000, { everyMs: 500 });
}, 180_000);

afterAll(async () => {
  if (prom && prom.exitCode === null) {
    const exited = new Promise((r) => prom!.once('exit', r));
    prom.kill('SIGTERM');
    const t = setTimeout(() => prom!.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  }
  await sys?.stop().catch(() => undefined);
  rmSync(tmp, { recursive: true, force: true });
}, 60_000);

describe.sequential('Prometheus with deploy/prometheus.yml against the local two-hosts system', () => {
  it('scrapes every process and gives back a metric of each through its query API', async () => {
    // Some traffic, so per-operation series exist.
    await runLoad({ endpoints: sys!.gcEndpoints, clientes: 3, duracionS: 3, isbns: DRILL_ISBNS, prefijoUsuario: 'prom' });
    const up = await eventually(() => `every local target up; Prometheus log: ${path.join(tmp, 'prometheus.log')}`, async () => {
      const r = await query('up');
      const ok = new Set(r.data!.result.filter((x) => x.value[1] === '1').map((x) => x.metric.instance!));
      const pc3Seen = r.data!.result.filter((x) => x.metric.host === 'pc3').length;
      return [...expected.keys()].every((i) => ok.has(i)) && pc3Seen === 3 ? r.data!.result : undefined;
    }, 40_000, { everyMs: 500 });
    for (const x of up.filter((x) => expected.has(x.metric.instance!))) {
      const want = expected.get(x.metric.instance!)!;
      expect({ job: x.metric.job, host: x.metric.host }, want.name).toEqual({ job: want.job, host: want.host });
    }
    // pc3's targets are in the file but there is no pc3 here.
    expect(up.filter((x) => x.metric.host === 'pc3').map((x) => x.value[1])).toEqual(['0', '0', '0']);

    const byInstance = async (expr: string) => {
      const r = await query(expr);
      expect(r.status, `${expr}: ${r.error}`).toBe('success');
      return new Map(r.data!.result.map((x) => [x.metric.instance!, Number(x.value[1])]));
    };
    // One metric of each process, from its own registry.
    const role = await byInstance('ga_role_state{estado="ACTIVE"}');
    const gaOf = (h: HostName) => `${sys!.hosts[h]!.ga!.spec.httpHost}:${sys!.hosts[h]!.ga!.spec.httpPort}`;
    expect([role.get(gaOf('pc1')), role.get(gaOf('pc2'))]).toEqual([1, 0]);
    const pgPrimary = await byInstance('ga_pg_role{role="primary"}');
    expect([pgPrimary.get(gaOf('pc1')), pgPrimary.get(gaOf('pc2'))]).toEqual([1, 0]);
    // Every GC counts every actor live (actors work for all GCs).
    const gcInstances = sys!.gcs.map((g) => `${g.process.spec.httpHost}:${g.process.spec.httpPort}`).sort();
    const live = await byInstance('sum by (instance) (gc_live_actors)');
    expect([...live.entries()].sort()).toEqual(gcInstances.map((i) => [i, 6]));
    const answered = await byInstance('sum(gc_requests_total)');
    expect([...answered.values()][0]).toBeGreaterThan(0);
    const actors = await byInstance('actor_tasks_in_flight');
    const actorInstances = [...expected].filter(([, p]) => p.job === 'actor').map(([i]) => i);
    expect([...actors.keys()].sort()).toEqual(actorInstances.sort());
    const lag = await eventually(() => `a replication lag reading; Prometheus log: ${path.join(tmp, 'prometheus.log')}`, async () => ((await byInstance('ga_pg_replication_lag_bytes{standby="pc2"}')).has(gaOf('pc1')) ? true : undefined), 20_000, { everyMs: 500 });
    expect(lag).toBe(true);
  }, 90_000);

  it('the Grafana dashboard queries only metrics the processes export, and Prometheus accepts every query', async () => {
    // The names every process exports, from each /metrics: its # TYPE lines (a labelled counter
    // nothing incremented yet has no sample, but is declared) and the series of each type.
    const exported = new Set<string>();
    const SERIES: Record<string, string[]> = { counter: [''], gauge: [''], untyped: [''], histogram: ['_bucket', '_sum', '_count'], summary: ['', '_sum', '_count'] };
    for (const instance of expected.keys()) {
      const text = await (await fetch(`http://${instance}/metrics`)).text();
      for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) for (const suffix of SERIES[m[2]!] ?? ['']) exported.add(m[1]! + suffix);
    }
    expect(exported.has('gc_request_duration_seconds_bucket') && exported.has('ga_role_state') && exported.has('actor_tasks_total')).toBe(true);
    expect(metricNames('histogram_quantile(0.99, sum by (le, operacion) (rate(gc_request_duration_seconds_bucket{x="a b"}[$__rate_interval])))')).toEqual(['gc_request_duration_seconds_bucket']);

    const dash = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Json;
    const datasource = (parseYaml(readFileSync(path.join(ROOT, 'deploy/grafana/provisioning/datasources/prometheus.yml'), 'utf8')) as Json).datasources[0];
    const exprs: Array<{ where: string; expr: string }> = [];
    const ids = new Set<number>();
    for (const p of dash.panels as Json[]) {
      expect(ids.has(p.id), `panel id ${p.id} twice`).toBe(false);
      ids.add(p.id);
      if (p.type === 'row') continue;
      expect(p.datasource?.uid, p.title).toBe(datasource.uid);
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets as Json[]) exprs.push({ where: p.title, expr: t.expr });
    }
    for (const a of dash.annotations.list as Json[]) exprs.push({ where: `annotation ${a.name}`, expr: a.expr });
    expect(exprs.length).toBeGreaterThan(15);

    const unknown = exprs.flatMap(({ where, expr }) => metricNames(expr).filter((n) => !exported.has(n)).map((n) => `${where}: ${n}`));
    expect(unknown).toEqual([]);
    // Grafana's own variables, as Grafana would substitute them.
    const concrete = (e: string) => e.replace(/\$__rate_interval/g, '20s').replace(/\$__interval/g, '5s');
    for (const { where, expr } of exprs) {
      const r = await query(concrete(expr));
      expect(r.status, `${where}: ${expr}: ${r.error}`).toBe('success');
    }
    // And the RED panel has data once two scrapes cover the load.
    const rate = await eventually(() => `request rate per operation; Prometheus log: ${path.join(tmp, 'prometheus.log')}`, async () => {
      const r = await query(concrete('sum by (operacion) (rate(gc_requests_total[$__rate_interval]))'));
      return r.data!.result.length ? r.data!.result.map((x) => x.metric.operacion).sort() : undefined;
    }, 30_000, { everyMs: 500 });
    expect(rate).toEqual(expect.arrayContaining(['devolucion', 'prestamo', 'renovacion']));
  }, 90_000);

  it('the entry script names a variable the environment lacks and starts nothing', () => {
    const r = spawnSync('sh', [SCRIPT], {
      env: { PATH: process.env.PATH, PROMETHEUS_BIN: '/bin/false', PROMETHEUS_CONFIG: CONFIG, PROMETHEUS_DATA: path.join(tmp, 'x'), PC1_GA_TARGET: '127.0.1.1:9570' },
      encoding: 'utf8',
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/prometheus\.sh: PC1_ACTOR_DEVOLUCION_TARGET is not set/);
  });
});
