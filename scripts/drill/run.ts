/**
 * One drill on a running system: load from N PS, the fault, the load kept
 * going (and the old primary's return, if the scenario has one), then the
 * checks. Returns the report; printing and files are the caller's job.
 */
import type { GaStatus } from '../../gestor_almacenamiento/ga.js';
import type { HostName } from '../launcher/hosts.js';
import { checkLedger, survivingPrimary } from './checks.js';
import { GaWatch, gaWritesAdmitted } from './ga-watch.js';
import { DrillLoad, isFailedAttempt } from './load.js';
import { buildReport, type DrillReport } from './report.js';
import { waitReplication, type DrillContext, type Fault, type ReturnInfo, type Scenario } from './scenarios.js';
import type { DrillSystem, GaProbe } from './system.js';

/** Storage-client settings (GC, actors) for drills: short attempts, enough of them to outlast a takeover. */
export const DRILL_CLIENT_ENV = { GA_TIMEOUT_MS: '500', GA_MAX_ATTEMPTS: '20' };

export interface DrillOptions {
  clients: number;
  /** Load before the fault. */
  warmupMs: number;
  /** Load after the fault (a return of the old primary extends it so the returned GA is watched under load). */
  afterFaultMs: number;
  replicacion: 'async' | 'sync';
  isbns: string[];
  /** Distinct per drill on a shared system: usuarios and op ids start with it. */
  prefix: string;
  psTimeoutMs?: number;
  progress?: (line: string) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function gasOf(sys: DrillSystem): Partial<Record<HostName, GaProbe>> {
  if (sys.topology === 'single') return { pc1: sys.ga };
  return { pc1: sys.hosts.pc1?.ga, pc2: sys.hosts.pc2?.ga };
}

export interface DrillOutcome<S extends DrillSystem = DrillSystem> {
  report: DrillReport;
  /** What was killed, and by which scenario: restoreAfter() needs both. */
  fault: Fault;
  scenario: Scenario<S>;
}

/**
 * Load kept going after a scenario's return step (what failed is back) settled: the returned
 * side is watched serving. A drill with a return step runs past --duracion by this much.
 */
export const RETURN_WATCH_MS = 2000;

/** Runs `scenario`: one of SCENARIOS (scripts/drill/main.ts looks them up by name) or a caller's own, e.g. a test's. */
export async function runDrill<S extends DrillSystem>(sys: S, scenario: Scenario<S>, o: DrillOptions): Promise<DrillOutcome<S>> {
  if ((scenario.takeover || scenario.killsPgPrimary) && sys.topology !== 'two-hosts') throw new Error(`${scenario.name} needs the two-hosts topology`);
  const progress = o.progress ?? (() => undefined);
  const gas = gasOf(sys);
  const watch = new GaWatch(Object.fromEntries(Object.entries(gas).filter(([, g]) => g)) as Record<string, GaProbe>).start();
  const ctx: DrillContext<S> = { sys, watch, gas, replicacion: o.replicacion, progress };
  const load = new DrillLoad({
    gcEndpoints: sys.gcEndpoints,
    clients: o.clients,
    isbns: o.isbns,
    prefix: o.prefix,
    timeoutMs: o.psTimeoutMs ?? 2000,
    maxAttempts: 30,
    retryDelayMs: 100,
  });
  let ticker: NodeJS.Timeout | undefined;
  try {
    // Start from a settled pair (and, in sync mode, with sync replication really on).
    progress('esperando un GA activo…');
    if (!(await watch.waitFor('pc1', () => watch.active() !== undefined, 15_000))) throw new Error('no ACTIVE GA before the drill');
    if (o.replicacion === 'sync' && !(await waitReplication(ctx))) progress('AVISO: replicación pedida sync y el GA activo no la informa tras 15 s; el simulacro lo comprobará al fallar');
    const replicacionInicio = watch.latest.get(watch.active()!)?.replicacion;

    const t0 = Date.now();
    let fault: Fault | undefined;
    load.start();
    ticker = setInterval(() => progress(progressLine(load, watch, t0, fault?.at)), 1000);
    await sleep(o.warmupMs);

    // The mode in force when the fault strikes: what "nothing acknowledged is lost" rests on.
    await watch.poll();
    const activeBefore = watch.active();
    const replicacionAlFallar = activeBefore ? watch.latest.get(activeBefore)?.replicacion : undefined;
    progress(`FALLA: ${scenario.descripcion}`);
    fault = await scenario.fault(ctx);
    const f = fault;
    progress(`  ${f.detalle} (t=+${((f.at - t0) / 1000).toFixed(1)}s)`);

    // In the background: the old active GA's admitted writes, sampled until another GA is ACTIVE; the
    // last sample read before that moment is the baseline its later writes are counted from.
    let oldWritesAtTakeover: number | undefined;
    let newActive: string | undefined;
    const takeover = scenario.takeover
      ? (async () => {
          const old = f.oldActiveGa ? gas[f.oldActiveGa] : undefined;
          const samples: Array<{ at: number; n: number }> = [];
          const deadline = Date.now() + o.afterFaultMs + 20_000;
          for (;;) {
            const n = old?.running && !scenario.antiguoVuelveActivo ? await gaWritesAdmitted(old) : undefined;
            if (n !== undefined) samples.push({ at: Date.now(), n });
            newActive = watch.firstActiveAfter(f.at)?.ga;
            if (newActive || Date.now() > deadline) break;
            await sleep(50);
          }
          const at = watch.firstActiveAfter(f.at)?.at;
          if (newActive && newActive !== f.oldActiveGa && at !== undefined) oldWritesAtTakeover = ([...samples].reverse().find((x) => x.at <= at) ?? samples[0])?.n;
        })()
      : Promise.resolve();

    let ret: ReturnInfo | undefined;
    const afterRecovery = scenario.afterRecovery ? scenario.afterRecovery(ctx, f).then((r) => (ret = r)) : Promise.resolve();
    // Awaited together: a failing return (e.g. a split brain found) ends the drill at once
    // instead of being an unhandled rejection while the load sleeps.
    takeover.catch(() => undefined); // awaited below; handled meanwhile
    await Promise.all([sleep(o.afterFaultMs), afterRecovery]);
    // What came back (a GA, a GC, actors) is watched under load for a while after it settled.
    if (scenario.afterRecovery) await sleep(RETURN_WATCH_MS);
    await takeover;
    clearInterval(ticker);
    progress('Deteniendo la carga (los PS terminan lo que tienen en curso)…');
    await load.stop();
    progress('Comprobando el ledger, los efectos y el invariante en el primario superviviente…');
    await watch.poll();
    watch.stop();

    // The old active GA is checked when it lives on next to a new active one: restarted (reinicio) or never killed (pg-primario).
    const oldGa = ret?.ga ?? (scenario.takeover && !scenario.antiguoVuelveActivo && !f.gaKilled && newActive && newActive !== f.oldActiveGa ? f.oldActiveGa : undefined);
    const oldGaProc = oldGa ? gas[oldGa] : undefined;
    const oldWritesEnd = oldGaProc?.running ? await gaWritesAdmitted(oldGaProc) : undefined;
    const primary = await survivingPrimary(sys).catch(async (err: unknown) => {
      // Say why: the GAs' own account (state, reason, last takeover error) and every node's role.
      throw new Error(`${(err as Error).message}; GA: ${JSON.stringify(await gaDiagnostics(gas))}; PostgreSQL: ${JSON.stringify(await sys.pgStatus().catch(() => []))}`);
    });
    const ledger = await checkLedger(primary.node, load, o.prefix, { onWait: (l) => progress(`  ${l}`) });
    if (scenario.verify) progress('Comprobaciones propias del escenario…');
    const check = await scenario.verify?.(ctx, f, load);
    const pg = await sys.pgStatus().catch(() => []);
    const report = buildReport({ scenario, options: o, t0, fault: f, ret, load, watch, ledger, primary, pgStatus: pg, replicacionInicio, replicacionAlFallar, oldGa, oldWritesAtTakeover, oldWritesEnd, check });
    return { report, fault: f, scenario };
  } finally {
    clearInterval(ticker);
    await load.stop().catch(() => undefined);
    watch.stop();
  }
}

/** Puts the system back in shape after a drill (old side rejoined as standby, processes restarted). */
export async function restoreAfter<S extends DrillSystem>(sys: S, drill: DrillOutcome<S>, replicacion: 'async' | 'sync', progress?: (l: string) => void): Promise<void> {
  const gas = gasOf(sys);
  const watch = new GaWatch(Object.fromEntries(Object.entries(gas).filter(([, g]) => g)) as Record<string, GaProbe>).start();
  try {
    await drill.scenario.restore({ sys, watch, gas, replicacion, progress: progress ?? (() => undefined) }, drill.fault);
  } finally {
    watch.stop();
  }
}

function progressLine(load: DrillLoad, watch: GaWatch, t0: number, faultAt?: number): string {
  const now = Date.now();
  const ok = load.attempts.filter((a) => a.exito).length;
  const last = load.attempts.filter((a) => a.endAt > now - 1000);
  const fails = load.attempts.filter((a) => (faultAt === undefined || a.endAt >= faultAt) && isFailedAttempt(a)).length;
  const gas = [...watch.latest.values()].map((s) => `${s.ga}:${s.estado}`).join(' ');
  return `  +${((now - t0) / 1000).toFixed(1)}s  exitosas ${ok} (${last.filter((a) => a.exito).length}/s)  fallidas${faultAt ? ' tras la falla' : ''} ${fails}  GA ${gas}`;
}

async function gaDiagnostics(gas: Partial<Record<HostName, GaProbe>>): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const [h, g] of Object.entries(gas)) {
    const papel = g?.running ? (await g.status<GaStatus>())?.papel : undefined;
    out[h] = papel ? ('motivo' in papel ? { estado: papel.estado, motivo: papel.motivo, ultimoErrorActivacion: papel.ultimoErrorActivacion, aislado: papel.aislado } : { estado: papel.estado }) : 'sin respuesta';
  }
  return out;
}
