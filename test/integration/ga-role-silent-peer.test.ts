/**
 * A GA pair whose peer goes silent, over real PostgreSQL streaming replication on
 * two simulated hosts (pc1 = 127.0.1.1: primary + GA primary, pc2 = 127.0.1.2:
 * standby + GA backup), real ZeroMQ and real pg connections. Everything one GA
 * reaches on the other host (the peer heartbeat, the peer's PostgreSQL) goes
 * through a TCP link this test controls, so a host can be "powered off" (the
 * link swallows everything: connects hang until their timeout), cut and healed.
 * In order, sharing state:
 *  1. pc2's host goes dark under load: pc1's GA keeps serving and, once the
 *     silence is known, a request no longer pays a probe of pc2's PostgreSQL
 *     (printed: refusals, latencies, probes per request; no timed assertions);
 *  2. pc1 is cut off from everything, pc2's GA promotes its standby, the link
 *     heals with the first connections to pc2 refused (as while ARP resolves)
 *     and pc2's heartbeat held back (TCP backoff): pc1's GA admits no write and
 *     fences itself (the healed-partition guard, as in test/system/netns-link-cut.test.ts);
 *  3. pc1 lost for good, pc2's GA restarts (crash or upgrade): it never heard
 *     its peer, but its own PostgreSQL is already the primary on the newest
 *     timeline, so it serves again without promoting anything.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { Dealer } from 'zeromq';
import type { Counter, Registry } from 'prom-client';
import { GA_VARS, REPLICATION_VARS, STORAGE_CLIENT_VARS, readConfig, type GaConfig, type ReplicationConfig } from '../../common/config.js';
import { createStorageClient } from '../../common/storage-client.js';
import type { GaReply } from '../../common/protocol/internal.js';
import { loadCatalog } from '../../gestor_almacenamiento/catalog.js';
import { startGa, type GaHandle } from '../../gestor_almacenamiento/ga.js';
import { newRegistry } from '../../common/http-server.js';
import { migrate } from '../../gestor_almacenamiento/migrate.js';
import { pgRole } from '../../postgres/admin.js';
import { cloneStandby } from '../../postgres/clone.js';
import { killNode, killOnExit, startPrimary, stopNode } from '../../postgres/lifecycle.js';
import { nodeConn, type PgNodeSpec } from '../../postgres/node-config.js';
import { PC1, PC2, freePortOnAll } from '../../scripts/launcher/hosts.js';
import { freePorts } from '../harness/ports.js';
import { eventually } from '../harness/eventually.js';
import { testLog as log } from '../harness/fixtures.js';

const PEER_TIMEOUT_MS = 1000;
const ISBN = '978-0-00-000003-3';

// ------------------------------------------------------------------ a controllable link

type LinkMode = 'pass' | 'dark' | 'refuse';

/**
 * A TCP forwarder standing for the network path to one service on the other host.
 * pass: forwards; dark: a powered-off host or a cut — new connections are accepted
 * and then hear nothing, bytes on open ones are held (delivered late once it passes
 * again, like TCP retransmissions); refuse: new connections are reset at once (as
 * EHOSTUNREACH right after a heal). `connections` counts every connection attempt.
 */
class Link {
  mode: LinkMode = 'pass';
  connections = 0;
  /** What each connection does when the link passes again: connect upstream, flush held bytes. */
  private readonly onPass = new Set<() => void>();
  private readonly sockets = new Set<net.Socket>();
  private constructor(
    private readonly server: net.Server,
    private readonly target: { host: string; port: number },
  ) {}

  static async open(target: { host: string; port: number }): Promise<Link> {
    const server = net.createServer();
    const link = new Link(server, target);
    server.on('connection', (s) => link.accept(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return link;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  set(mode: LinkMode): void {
    this.mode = mode;
    if (mode === 'pass') for (const f of [...this.onPass]) f();
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private accept(a: net.Socket): void {
    this.connections++;
    this.track(a);
    if (this.mode === 'refuse') {
      a.resetAndDestroy();
      return;
    }
    const up: Buffer[] = [];
    const down: Buffer[] = [];
    let b: net.Socket | undefined;
    const flush = () => {
      if (this.mode !== 'pass') return;
      if (b) for (const d of up.splice(0)) b.write(d);
      for (const d of down.splice(0)) a.write(d);
    };
    const connect = () => {
      if (b || a.destroyed) return;
      b = net.connect(this.target.port, this.target.host);
      this.track(b);
      b.on('data', (d) => {
        down.push(d);
        flush();
      });
      b.on('close', () => a.destroy());
    };
    a.on('data', (d) => {
      up.push(d);
      flush();
    });
    const pass = () => {
      connect();
      flush();
    };
    this.onPass.add(pass);
    a.on('close', () => {
      this.onPass.delete(pass);
      b?.destroy();
    });
    if (this.mode === 'pass') connect();
  }

  private track(s: net.Socket): void {
    this.sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => this.sockets.delete(s));
  }
}

// ------------------------------------------------------------------ raw GA calls

/** One DEALER to a GA; calls matched by ref; each answer or a timeout is recorded. */
class Caller {
  private readonly d = new Dealer({ linger: 0 });
  private readonly waiting = new Map<string, (r: GaReply) => void>();
  private n = 0;
  private readonly loop: Promise<void>;
  constructor(endpoint: string) {
    const d = this.d;
    d.connect(endpoint);
    this.loop = (async () => {
      try {
        for await (const [frame] of d) {
          // Replies done in one turn come as one batch (a JSON array).
          const body = JSON.parse(frame!.toString()) as GaReply | GaReply[];
          for (const r of Array.isArray(body) ? body : [body]) {
            this.waiting.get(r.ref)?.(r);
            this.waiting.delete(r.ref);
          }
        }
      } catch {
        /* closed */
      }
    })();
  }

  /** A préstamo with a fresh op id; resolves with the reply code and the time it took. */
  async aplicar(prefix: string, timeoutMs = 3000): Promise<{ codigo: string; ms: number; at: number }> {
    const ref = `${prefix}-${++this.n}`;
    const at = Date.now();
    const reply = new Promise<GaReply | undefined>((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(ref);
        resolve(undefined);
      }, timeoutMs);
      this.waiting.set(ref, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
    });
    await this.d.send(JSON.stringify({ ref, orden: 'aplicar', op: { operacion: 'prestamo', isbn: ISBN, usuario: `u-${ref}`, id: ref } }));
    const r = await reply;
    const codigo = !r ? 'SIN_RESPUESTA' : r.exito ? (r as { resultado?: { codigo?: string } }).resultado?.codigo ?? 'OK' : (r as { codigo?: string }).codigo ?? '?';
    return { codigo, ms: Date.now() - at, at };
  }

  async close(): Promise<void> {
    this.d.close();
    await this.loop;
  }
}

// ------------------------------------------------------------------ setup

let root = '';
let pgPort = 0;
let pc1: PgNodeSpec;
let pc2: PgNodeSpec;
/** What pc1's GA reaches of pc2 (heartbeat, PostgreSQL), what pc2's GA reaches of pc1, and pc2's GA as clients reach it. */
const links = {} as { beatsOfPc2: Link; pgOfPc2: Link; beatsOfPc1: Link; pgOfPc1: Link; gaOfPc2: Link };
let cfg1: GaConfig & ReplicationConfig;
let cfg2: GaConfig & ReplicationConfig;
let ga1: GaHandle | undefined;
let ga2: GaHandle | undefined;
const callers: Caller[] = [];
const numbers: Record<string, unknown> = {};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const estado = (g: GaHandle | undefined) => g?.role?.machine.state;
const caller = (g: GaHandle) => {
  const c = new Caller(g.endpoint);
  callers.push(c);
  return c;
};

/** pc1's GA's own metrics, read in-process (its /metrics would also describe pc2's PostgreSQL, slow while that is dark). */
let ga1Registry: Registry;
/** How many aplicar pc1's GA has answered GA_NO_ACTIVO (a doubt, a refusal) so far. */
async function noActivoAnswers(): Promise<number> {
  const counter = ga1Registry.getSingleMetric('ga_requests_total') as Counter | undefined;
  if (!counter) throw new Error('ga_requests_total not registered');
  return (await counter.get()).values.filter((v) => v.labels.cmd === 'aplicar' && v.labels.codigo === 'GA_NO_ACTIVO').reduce((n, v) => n + v.value, 0);
}

async function writesAdmitted(g: GaHandle, host: string): Promise<number> {
  const text = await (await fetch(`http://${host}:${g.httpPort}/metrics`)).text();
  return [...text.matchAll(/^ga_writes_admitted_total\{[^}]*\}\s+(\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
}

function stats(ms: number[]): { n: number; p50: number; p95: number; max: number } {
  const s = [...ms].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN;
  return { n: s.length, p50: q(0.5), p95: q(0.95), max: s.at(-1) ?? NaN };
}

function gaConfig(rol: 'primary' | 'backup', host: string, ports: number[], beats: Link, peerPg: Link): GaConfig & ReplicationConfig {
  const [zmq, http, peerBind] = ports;
  const env = {
    LOG_LEVEL: 'silent',
    GA_ROL: rol,
    GA_BIND: `tcp://${host}:${zmq}`,
    GA_HTTP_PORT: String(http),
    HTTP_HOST: host,
    GA_PEER_BIND: `tcp://${host}:${peerBind}`,
    GA_PEER_ENDPOINT: `tcp://127.0.0.1:${beats.port}`,
    GA_HEARTBEAT_MS: '100',
    GA_PEER_TIMEOUT_MS: String(PEER_TIMEOUT_MS),
    GA_POOL_SIZE: '5',
    PGHOST: host,
    PGPORT: String(pgPort),
    PG_PEER_HOST: '127.0.0.1',
    PG_PEER_PORT: String(peerPg.port),
    GA_REPLICACION: 'async',
  };
  return { ...readConfig(GA_VARS, env), ...readConfig(REPLICATION_VARS, env) };
}

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'ga-silent-peer-'));
  pgPort = await freePortOnAll([PC1, PC2]);
  pc1 = { dataDir: path.join(root, 'pc1'), host: PC1, port: pgPort };
  pc2 = { dataDir: path.join(root, 'pc2'), host: PC2, port: pgPort };
  killOnExit(pc1.dataDir);
  killOnExit(pc2.dataDir);
  await startPrimary({ ...pc1, log });
  const db = new pg.Pool({ ...nodeConn(pc1), max: 2 });
  db.on('error', () => undefined);
  await migrate(db, log);
  await loadCatalog(db, [{ isbn: ISBN, titulo: 'Par silencioso', autor: 'GA', ejemplares: 100_000 }]);
  await db.end();
  await cloneStandby({ primary: nodeConn(pc1), primaryDataDir: pc1.dataDir, ...pc2, slot: 'pc2', applicationName: 'pc2', log });

  const p1 = await freePorts(3, PC1);
  const p2 = await freePorts(3, PC2);
  links.beatsOfPc2 = await Link.open({ host: PC2, port: p2[2]! });
  links.pgOfPc2 = await Link.open({ host: PC2, port: pgPort });
  links.beatsOfPc1 = await Link.open({ host: PC1, port: p1[2]! });
  links.pgOfPc1 = await Link.open({ host: PC1, port: pgPort });
  links.gaOfPc2 = await Link.open({ host: PC2, port: p2[0]! });
  cfg1 = gaConfig('primary', PC1, p1, links.beatsOfPc2, links.pgOfPc2);
  cfg2 = gaConfig('backup', PC2, p2, links.beatsOfPc1, links.pgOfPc1);
  ga1Registry = newRegistry('ga');
  ga1 = await startGa(cfg1, log, { healthProbeMs: 200, registry: ga1Registry });
  ga2 = await startGa(cfg2, log, { healthProbeMs: 200 });
  await eventually('GA primary ACTIVE, backup PASSIVE', () => estado(ga1) === 'ACTIVE' && estado(ga2) === 'PASSIVE', 10_000);
}, 60_000);

afterAll(async () => {
  for (const c of callers) await c.close().catch(() => undefined);
  await ga1?.abort().catch(() => undefined);
  await ga2?.abort().catch(() => undefined);
  for (const l of Object.values(links)) await l?.close().catch(() => undefined);
  for (const n of [pc1, pc2]) if (n) await stopNode(n.dataDir, { mode: 'immediate' }).catch(() => killNode(n.dataDir));
  if (root) await rm(root, { recursive: true, force: true });
  process.stdout.write(`[ga-role-silent-peer] ${JSON.stringify(numbers)}\n`);
});

/** Step 1's measurements and checks, from the moment pc2 went dark (t0). */
async function darkHostChecks(c: Caller, t0: number): Promise<void> {
  const seq: { codigo: string; ms: number; at: number }[] = [];
  while (Date.now() - t0 < PEER_TIMEOUT_MS + 3500) seq.push(await c.aplicar('seq'));
  expect(ga1!.role!.machine.snapshot(Date.now()).peerLost).toBe(true);

  const codes = new Set(seq.map((r) => r.codigo));
  expect([...codes].every((k) => k === 'APROBADO' || k === 'GA_NO_ACTIVO')).toBe(true);
  const refused = seq.filter((r) => r.codigo === 'GA_NO_ACTIVO');
  // Steady state: the silence is known and any 1 s rule has run out.
  const steadyFrom = t0 + PEER_TIMEOUT_MS + 1500;
  const steady = seq.filter((r) => r.at >= steadyFrom);
  const probesBefore = links.pgOfPc2.connections;
  const steady2: { codigo: string; ms: number; at: number }[] = [];
  for (let i = 0; i < 100; i++) steady2.push(await c.aplicar('steady'));
  const seqProbes = links.pgOfPc2.connections - probesBefore;

  const conc: { codigo: string; ms: number; at: number }[] = [];
  const cc = Array.from({ length: 8 }, () => caller(ga1!));
  const probesBeforeConc = links.pgOfPc2.connections;
  await Promise.all(cc.map(async (k) => {
    for (let i = 0; i < 25; i++) conc.push(await k.aplicar('conc'));
  }));
  const concProbes = links.pgOfPc2.connections - probesBeforeConc;

  numbers.darkHost = {
    refused: refused.length,
    refusedFromMs: refused.length ? refused[0]!.at - t0 : null,
    refusedUntilMs: refused.length ? refused.at(-1)!.at + refused.at(-1)!.ms - t0 : null,
    firstSecondAfterSilence: stats(seq.filter((r) => r.at >= t0 + PEER_TIMEOUT_MS && r.at < t0 + PEER_TIMEOUT_MS + 1000).map((r) => r.ms)),
    steadySequential: { ...stats(steady2.map((r) => r.ms)), probes: seqProbes },
    steadyConcurrent8: { ...stats(conc.map((r) => r.ms)), probes: concProbes },
  };
  expect(steady.every((r) => r.codigo === 'APROBADO')).toBe(true);
  expect(steady2.every((r) => r.codigo === 'APROBADO')).toBe(true);
  expect(conc.every((r) => r.codigo === 'APROBADO')).toBe(true);
  // The point: requests do not each start (or wait for) a probe of the dark peer.
  expect(seqProbes).toBeLessThan(steady2.length / 2);
  expect(concProbes).toBeLessThan(conc.length / 2);

  // A quiet spell, then one call: its clients stayed through the silence, so a pause no longer makes it doubt.
  await sleep(1500);
  const r = await storageCall('after-pause');
  (numbers.darkHost as Record<string, unknown>).callAfterPause = r;
  expect(r.codigo).toBe('APROBADO');
}

/** One call from a real storage client with default settings, pc1 first, pc2's GA behind its link. */
async function storageCall(id: string): Promise<{ codigo: string; ms: number }> {
  const sc = createStorageClient(readConfig(STORAGE_CLIENT_VARS, { GA_ENDPOINTS: `${ga1!.endpoint},tcp://127.0.0.1:${links.gaOfPc2.port}` }), log);
  try {
    const t = Date.now();
    const r = await sc.aplicar({ operacion: 'prestamo', isbn: ISBN, usuario: `u-${id}`, id });
    return { codigo: r.codigo, ms: Date.now() - t };
  } finally {
    await sc.close();
  }
}

describe.sequential('GA pair with a silent peer, two simulated hosts', () => {
  it("pc2's host goes dark: pc1's GA keeps serving, and a request no longer waits for a probe of pc2's PostgreSQL", async () => {
    const c = caller(ga1!);
    for (let i = 0; i < 20; i++) expect((await c.aplicar('warm')).codigo).toBe('APROBADO');

    // pc2 as seen from pc1 goes dark; pc2's GA still hears pc1's (it stays passive: no client asks it).
    const t0 = Date.now();
    links.beatsOfPc2.set('dark');
    links.pgOfPc2.set('dark');
    links.gaOfPc2.set('dark');
    try {
      await darkHostChecks(c, t0);
    } finally {
      // pc2 comes back into view (also on failure: the next test needs a whole pair).
      links.beatsOfPc2.set('pass');
      links.pgOfPc2.set('pass');
      links.gaOfPc2.set('pass');
    }
    await eventually('pc1 hears pc2 again', () => ga1!.role!.machine.snapshot(Date.now()).peerLost === false, 10_000);
    expect(estado(ga1)).toBe('ACTIVE');
    expect(estado(ga2)).toBe('PASSIVE');
  }, 60_000);


  it("pc2's host goes dark while pc1 is idle: the first call is doubted for 1 s (it could be a healed cut), later ones are not", async () => {
    await sleep(1500); // no client since the last test
    links.beatsOfPc2.set('dark');
    links.pgOfPc2.set('dark');
    links.gaOfPc2.set('dark');
    try {
      await eventually('pc1 notices the silence', () => ga1!.role!.machine.snapshot(Date.now()).peerLost, 5000);
      await sleep(300);
      // The storage client's retries (other GA dark, round backoff) must carry the call through the doubt.
      const n0 = await noActivoAnswers();
      const first = await storageCall('idle-1');
      const n1 = await noActivoAnswers();
      await sleep(1500);
      const second = await storageCall('idle-2');
      const n2 = await noActivoAnswers();
      numbers.darkWhileIdle = { first: { ...first, noActivo: n1 - n0 }, second: { ...second, noActivo: n2 - n1 } };
      // The first call was doubted (answered GA_NO_ACTIVO at least once, then served on a retry) …
      expect(n1 - n0).toBeGreaterThan(0);
      expect(first.codigo).toBe('APROBADO');
      // … the later one was not: served at once.
      expect(n2 - n1).toBe(0);
      expect(second.codigo).toBe('APROBADO');
      expect(estado(ga1)).toBe('ACTIVE');
    } finally {
      links.beatsOfPc2.set('pass');
      links.pgOfPc2.set('pass');
      links.gaOfPc2.set('pass');
    }
    await eventually('pc1 hears pc2 again', () => ga1!.role!.machine.snapshot(Date.now()).peerLost === false, 10_000);
  }, 60_000);

  it('pc1 cut off from everything while pc2 promotes: after the heal pc1 admits no write and fences itself', async () => {
    const c1 = caller(ga1!);
    const c2 = caller(ga2!);
    expect((await c1.aplicar('pre')).codigo).toBe('APROBADO');

    // The cut: nothing between the hosts, and no client reaches pc1 (they only talk to pc2 now).
    for (const l of Object.values(links)) l.set('dark');
    const cutAt = Date.now();
    await eventually('pc2 promotes and serves', async () => (await c2.aplicar('cut', 2000)).codigo === 'APROBADO', 20_000);
    const takeoverMs = Date.now() - cutAt;
    expect(await pgRole(nodeConn(pc2))).toMatchObject({ inRecovery: false, timeline: 2 });
    await sleep(500);

    // The heal: pc2's PostgreSQL refuses new connections for a moment (ARP), its heartbeat
    // to pc1 stays held back (TCP backoff), and clients come straight back to pc1.
    const admittedBefore = await writesAdmitted(ga1!, PC1);
    links.beatsOfPc1.set('pass');
    links.pgOfPc1.set('pass');
    links.pgOfPc2.set('refuse');
    const healAt = Date.now();
    const release = setTimeout(() => links.pgOfPc2.set('pass'), 400);
    const releaseBeats = setTimeout(() => links.beatsOfPc2.set('pass'), 3000);
    const after: { codigo: string; ms: number; at: number }[] = [];
    let fencedAt: number | undefined;
    try {
      while (Date.now() - healAt < 2500) {
        after.push(await c1.aplicar('heal'));
        if (fencedAt === undefined && estado(ga1) === 'FENCED') fencedAt = Date.now();
      }
    } finally {
      clearTimeout(release);
      clearTimeout(releaseBeats);
      links.pgOfPc2.set('pass');
      links.beatsOfPc2.set('pass');
    }
    numbers.linkCut = {
      takeoverMs,
      requestsAfterHeal: after.length,
      approvedByPc1AfterHeal: after.filter((r) => r.codigo === 'APROBADO').length,
      pc1State: estado(ga1),
      pc1FencedAfterHealMs: fencedAt !== undefined ? fencedAt - healAt : null,
    };
    expect(after.filter((r) => r.codigo === 'APROBADO')).toEqual([]);
    expect(await writesAdmitted(ga1!, PC1)).toBe(admittedBefore);
    await eventually('pc1 GA FENCED', () => estado(ga1) === 'FENCED', 5000);
    expect(estado(ga2)).toBe('ACTIVE');
  }, 60_000);

  it("pc1 lost for good, pc2's GA restarts: it serves again from its own primary without promoting anything", async () => {
    await ga1!.abort();
    ga1 = undefined;
    links.pgOfPc1.set('dark'); // pc1's host is powered off
    links.beatsOfPc1.set('dark');
    await ga2!.abort();
    const t0 = Date.now();
    // A process restart frees its ports at exit; in-process, ZeroMQ unbinds a moment after close.
    for (let i = 0; ; i++) {
      try {
        ga2 = await startGa(cfg2, log, { healthProbeMs: 200 });
        break;
      } catch (err) {
        if (i > 50 || !/EADDRINUSE|Address already in use/.test(String((err as Error).message) + String((err as { cause?: Error }).cause?.message))) throw err;
        await sleep(50);
      }
    }
    const c = caller(ga2);
    const before: { codigo: string; ms: number; at: number }[] = [];
    await eventually('restarted backup serves', async () => {
        const r = await c.aplicar('restart', 2000);
        before.push(r);
        return r.codigo === 'APROBADO';
      }, 10_000);
    const firstOkMs = Date.now() - t0;
    const probesBefore = links.pgOfPc1.connections;
    const steady: { codigo: string; ms: number; at: number }[] = [];
    for (let i = 0; i < 100; i++) steady.push(await c.aplicar('alone'));
    const probes = links.pgOfPc1.connections - probesBefore;
    numbers.backupRestart = { firstOkMs, refusedBefore: before.filter((r) => r.codigo === 'GA_NO_ACTIVO').length, steady: { ...stats(steady.map((r) => r.ms)), probes } };

    expect(steady.every((r) => r.codigo === 'APROBADO')).toBe(true);
    expect(probes).toBeLessThan(steady.length / 2);
    const s = ga2.role!.machine.snapshot(Date.now());
    expect(s).toMatchObject({ estado: 'ACTIVE', peer: null, highestTimeline: 2 });
    expect(s.reason).toMatch(/no promotion/);
    // Still timeline 2: nothing was promoted.
    expect(await pgRole(nodeConn(pc2))).toMatchObject({ inRecovery: false, timeline: 2 });
  }, 60_000);
});
