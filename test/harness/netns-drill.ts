/**
 * Drills on real-network test hosts. As root, three network namespaces joined
 * by a bridge (scripts/drill/netns.ts), addresses from 198.18.0.0/24 assigned here (first run: .1-.3):
 *   pc1 (198.18.0.1): PostgreSQL primary + GA primary
 *   pc2 (198.18.0.2): PostgreSQL streaming standby + GA backup
 *   pc3 (198.18.0.3): GC and every actor (the PS load runs in the test process,
 *                     which reaches the hosts through the bridge's own address)
 * with the same variables the compose files set (local-system builds them).
 * Not root (or no `ip netns`): the loopback two-hosts topology (127.0.1.1 /
 * 127.0.1.2) instead, said on stdout; there the link cut is simulated by
 * freezing pc1's storage processes (SIGSTOP … SIGCONT): silence and no reset,
 * as seen from the other hosts, but weaker than a real cut: a frozen GA cannot
 * act while isolated (a cut-off one keeps running, e.g. degrades replication
 * to async), so only the namespaced drill shows what the isolated side does.
 *
 * Traffic only goes to 198.18.0.0/24 (namespaces created here) or 127.0.0.0/8.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { postmasterPid } from '../../postgres/lifecycle.js';
import { startLocalSystem, type LocalSystem } from '../../scripts/launcher/local-system.js';
import { createNetwork, netnsUnavailableReason, type NetnsNetwork } from '../../scripts/drill/netns.js';
import { gaWritesAdmitted } from '../../scripts/drill/ga-watch.js';
import type { GaProbe } from '../../scripts/drill/system.js';
import { DRILL_CLIENT_ENV } from '../../scripts/drill/run.js';
import type { DrillContext, ReturnInfo, Scenario } from '../../scripts/drill/scenarios.js';
import { DRILL_LIBROS } from './drill.js';
import { eventually } from './eventually.js';

export type NetMode = 'netns' | 'loopback';

/**
 * The namespaces (as root) or nothing (loopback fallback, without root or with DRILL_NETNS=0);
 * says which on stdout. As root a failure to make them fails the test: a silent fallback would
 * let CI pass the loopback variant while everyone reads "real network" in its name.
 */
export function setUpNetwork(): { mode: NetMode; net?: NetnsNetwork } {
  const why = process.env.DRILL_NETNS === '0' ? 'DRILL_NETNS=0' : netnsUnavailableReason();
  if (why && process.env.DRILL_NETNS !== '0' && process.getuid?.() === 0) {
    throw new Error(`network namespaces unavailable as root (${why}): install iproute2 and allow CAP_NET_ADMIN, or run with DRILL_NETNS=0 for the loopback variant`);
  }
  if (why) {
    process.stdout.write(`real-network test hosts unavailable (${why}): falling back to loopback addresses 127.0.1.1 (pc1) / 127.0.1.2 (pc2)\n`);
    return { mode: 'loopback' };
  }
  const t = Date.now();
  const net = createNetwork(['pc1', 'pc2', 'pc3']);
  process.stdout.write(
    `real-network test hosts: namespaces ${Object.values(net.hosts)
      .map((h) => `${h.name}=${h.netns}@${h.address}`)
      .join(', ')}, bridge ${net.bridge}@${net.bridgeAddress} (${Date.now() - t} ms)\n`,
  );
  return { mode: 'netns', net };
}

export interface NetDrillSystem extends LocalSystem {
  stopAndClean(keep: boolean): Promise<void>;
}

/** A fresh two-hosts system with sync replication: on the namespaced hosts (pc3 = GC + actors) or on loopback. */
export async function startNetDrillSystem(net: NetnsNetwork | undefined): Promise<NetDrillSystem> {
  const dir = mkdtempSync(join(tmpdir(), 'drill-netns-'));
  const clean = () => rmSync(dir, { recursive: true, force: true });
  let sys: LocalSystem;
  try {
    sys = await startLocalSystem({
      topology: 'two-hosts',
      ports: 'free',
      dataDir: join(dir, 'datos'),
      libros: DRILL_LIBROS,
      actorsPerType: 2,
      replicacion: 'sync',
      env: { LOG_LEVEL: 'info', ...DRILL_CLIENT_ENV },
      ...(net
        ? {
            hostsNet: {
              pc1: { address: net.hosts.pc1!.address, netns: net.hosts.pc1!.netns },
              pc2: { address: net.hosts.pc2!.address, netns: net.hosts.pc2!.netns },
              clients: { address: net.hosts.pc3!.address, netns: net.hosts.pc3!.netns },
            },
          }
        : {}),
    });
  } catch (err) {
    clean();
    throw err;
  }
  return {
    ...sys,
    stopAndClean: async (keep) => {
      await sys.stop();
      if (keep) process.stdout.write(`drill data and logs kept in ${dir}\n`);
      else clean();
    },
  };
}

/** What the link-cut drill saw of the GA pair once pc1's link was back. */
export interface LinkReturn {
  restoredAt: number;
  /** pc1's GA state once it heard the pair again (FENCED or PASSIVE expected). */
  estadoAlVolver?: string;
  /** pc1's GA state after its PostgreSQL rejoined as a standby of the new primary. */
  estadoFinal?: string;
  pgRejoin?: 'streaming' | 'recloned';
  /** /status samples of both GAs from the return on: how many showed two ACTIVE, and the last sample. */
  muestras: number;
  muestrasConDosActivos: number;
  /** ms from the return to the last sample with two ACTIVE GAs (the partition's unavoidable window: neither heard the other yet). */
  dobleActivoHastaMs?: number;
  /** ms from the return until pc1's GA left ACTIVE (FENCED/PASSIVE) with pc2's ACTIVE. */
  asentadoMs?: number;
  /** Samples with two ACTIVE GAs after the pair settled (must be 0). */
  dosActivosTrasAsentar: number;
  ultimaMuestra: Record<string, string>;
  /** Writes pc1's GA accepted from the link's return to the end of the drill. */
  escriturasTrasVolver?: number;
  activeSamples: string[];
}

async function estados(gas: Partial<Record<string, GaProbe>>): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [h, g] of Object.entries(gas)) out[h] = (await g?.status<{ papel?: { estado?: string } }>())?.papel?.estado ?? 'SIN_RESPUESTA';
  return out;
}

/**
 * The link-cut scenario, passed to the drill runner (scripts/drill/run.ts) like the built-in
 * ones, so it is measured and checked exactly like them. `ret` collects what the return of
 * the link showed.
 */
export function linkCutScenario(mode: NetMode, net: NetnsNetwork | undefined, ret: { value?: LinkReturn }): Scenario {
  let frozen: number[] = [];
  const signalAll = (sig: NodeJS.Signals) => {
    for (const pid of frozen) {
      try {
        process.kill(pid, sig);
      } catch {
        /* gone */
      }
    }
  };
  return {
    name: 'corte-enlace-pc1',
    descripcion:
      mode === 'netns'
        ? 'ip link set <enlace de pc1> down: pc1 (PostgreSQL primario + GA primario) queda aislado de pc2 y pc3; el respaldo promueve su standby; el enlace vuelve y el GA de pc1 debe quedar FENCED/pasivo'
        : 'corte simulado en loopback (SIGSTOP del GA y del PostgreSQL de pc1, luego SIGCONT): el respaldo promueve su standby; pc1 vuelve y su GA debe quedar FENCED/pasivo',
    killsPgPrimary: true,
    takeover: true,
    async fault(ctx) {
      const t = Date.now();
      if (net) net.cut('pc1');
      else {
        const ga = ctx.sys.hosts.pc1?.ga?.pid;
        const pg = ctx.sys.hosts.pc1?.pg ? postmasterPid(ctx.sys.hosts.pc1.pg.dataDir) : undefined;
        frozen = [...(ga ? [ga] : []), ...(pg ? [-pg] : [])];
        signalAll('SIGSTOP');
      }
      // No oldActiveGa: the isolated GA cannot be asked for its counters; its writes after the return are checked in afterRecovery.
      return { at: Date.now(), killMs: Date.now() - t, detalle: net ? `ip link set ${net.hosts.pc1!.link} down (pc1)` : 'SIGSTOP GA + PostgreSQL de pc1' };
    },
    async afterRecovery(ctx: DrillContext, f) {
      // The link stays cut until the backup took over (bounded), then comes back under load.
      const deadline = Date.now() + 20_000;
      while (ctx.watch.firstActiveAfter(f.at)?.ga !== 'pc2' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 500));
      if (net) net.restore('pc1');
      else signalAll('SIGCONT');
      const restoredAt = Date.now();
      ctx.progress(`pc1 vuelve a la red (t=+${restoredAt - f.at} ms tras la falla)`);
      const r: LinkReturn = { restoredAt, muestras: 0, muestrasConDosActivos: 0, dosActivosTrasAsentar: 0, ultimaMuestra: {}, activeSamples: [] };
      ret.value = r;
      const gaPc1 = ctx.gas.pc1!;
      // Sample both GAs until pc1's settles out of ACTIVE (FENCED or PASSIVE): never two ACTIVE.
      const sample = async () => {
        const e = await estados(ctx.gas);
        r.muestras++;
        r.ultimaMuestra = e;
        const act = Object.entries(e).filter(([, s]) => s === 'ACTIVE').map(([h]) => h);
        r.activeSamples.push(act.join('+') || '-');
        if (act.length > 1) {
          r.muestrasConDosActivos++;
          if (r.asentadoMs === undefined) r.dobleActivoHastaMs = Date.now() - restoredAt;
          else r.dosActivosTrasAsentar++;
        }
        return e;
      };
      const writesAtReturn = await eventually('pc1 GA answers /status', () => gaWritesAdmitted(gaPc1), 15_000, { everyMs: 50 }).catch(() => undefined);
      const settleBy = Date.now() + 15_000;
      for (;;) {
        const e = await sample();
        if ((e.pc1 === 'FENCED' || e.pc1 === 'PASSIVE') && e.pc2 === 'ACTIVE') {
          r.estadoAlVolver = e.pc1;
          r.asentadoMs = Date.now() - restoredAt;
          break;
        }
        if (Date.now() > settleBy) break;
        await new Promise((res) => setTimeout(res, 100));
      }
      // pc1's PostgreSQL is still read-write on the old timeline: it rejoins as the new standby (the fence's own instruction).
      const node = ctx.sys.hosts.pc1!.pg!;
      const role = await node.role().catch(() => undefined);
      if (role && !role.inRecovery) {
        const outcome = await node.restartAsStandby(undefined, 5000);
        if (outcome === 'streaming') r.pgRejoin = 'streaming';
        else {
          await node.reclone();
          r.pgRejoin = 'recloned';
        }
      }
      const passiveBy = Date.now() + 15_000;
      while ((await sample()).pc1 !== 'PASSIVE' && Date.now() < passiveBy) await new Promise((res) => setTimeout(res, 100));
      r.estadoFinal = r.ultimaMuestra.pc1;
      const writesEnd = await gaWritesAdmitted(gaPc1);
      r.escriturasTrasVolver = writesAtReturn !== undefined && writesEnd !== undefined ? writesEnd - writesAtReturn : undefined;
      return undefined as unknown as ReturnInfo;
    },
    async restore() {
      /* one system per drill: nothing to put back */
    },
  };
}

/**
 * The hooks every namespaced drill file needs: the network set up once per file (or the
 * loopback fallback), the link-cut scenario built for it, the network ALWAYS deleted in
 * afterAll (and by scripts/drill/netns.ts on process exit), a fresh system per drill whose data
 * and logs are kept when a test failed.
 */
export function netDrillSuite(): {
  mode(): NetMode;
  net(): NetnsNetwork | undefined;
  /** The link-cut scenario for this network (after beforeAll); what the link's return showed lands in `linkReturn`. */
  linkCut(): Scenario;
  linkReturn: { value?: LinkReturn };
  withSystem(fn: (sys: NetDrillSystem) => Promise<void>): Promise<void>;
} {
  let mode: NetMode = 'loopback';
  let net: NetnsNetwork | undefined;
  let failed = false;
  let linkCut: Scenario | undefined;
  const linkReturn: { value?: LinkReturn } = {};
  beforeAll(() => {
    ({ mode, net } = setUpNetwork());
    linkCut = linkCutScenario(mode, net, linkReturn);
  });
  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') failed = true;
  });
  afterAll(() => {
    net?.destroy();
  });
  return {
    mode: () => mode,
    net: () => net,
    linkCut: () => {
      if (!linkCut) throw new Error('linkCut() before the suite set up its network (beforeAll)');
      return linkCut;
    },
    linkReturn,
    withSystem: async (fn) => {
      const sys = await startNetDrillSystem(net);
      let ok = false;
      try {
        await fn(sys);
        ok = true;
      } finally {
        await sys.stopAndClean(!ok || failed);
      }
    },
  };
}
