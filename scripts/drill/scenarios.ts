/**
 * The failover drills' faults. Each scenario crashes something with SIGKILL and
 * then leaves the system alone: recovery must happen by itself. Targets are
 * found from the live state (the ACTIVE GA, the PostgreSQL primary), so on a
 * fresh topology they are pc1's, and several drills can run one after another
 * on one system (the tests do) once `restore()` has put the old side back as
 * the new standby.
 */
import { OPERACIONES_ACTOR, type OperacionActor } from '../../common/protocol/ps-gc.js';
import type { ManagedProcess } from '../launcher/child-process.js';
import type { GcStatus } from '../../gestor_carga/gc.js';
import type { GcInfo, LocalSystem } from '../launcher/local-system.js';
import type { HostName } from '../launcher/hosts.js';
import type { PgNodeHandle } from '../launcher/local-storage.js';
import { opsHeldBy, survivingPrimary, waitOpsFinal } from './checks.js';
import { metricTotal, type GaWatch } from './ga-watch.js';
import type { DrillSystem, GaProbe } from './system.js';
import { isFailedAttempt, type DrillLoad } from './load.js';
import type { Verification } from './report.js';

export interface DrillContext<S extends DrillSystem = LocalSystem> {
  sys: S;
  watch: GaWatch;
  /** Each host's GA (single topology: pc1 only). */
  gas: Partial<Record<HostName, GaProbe>>;
  replicacion: 'async' | 'sync';
  progress(msg: string): void;
}

export interface Fault {
  /**
   * When the target was certainly dead (ms since epoch): after the kill returned. Killing a
   * PostgreSQL server (every backend) takes tens of ms; counting from the signal would credit
   * requests it still served as a "recovery".
   */
  at: number;
  /** How long the kill itself took. */
  killMs: number;
  detalle: string;
  /** The GA that was ACTIVE before the fault (its host), when the fault is on the storage side. */
  oldActiveGa?: HostName;
  /** The host whose PostgreSQL primary was killed. */
  pgKilled?: HostName;
  gaKilled?: HostName;
  actorsKilled?: ManagedProcess[];
  /** Frozen (SIGSTOP), not killed: they wake up later with the tasks they held. */
  actorsFrozen?: ManagedProcess[];
  /** A counter summed over the GCs when the fault struck (e.g. tasks re-published because their actor died). */
  contadorAntes?: number;
  /** Live actors per type every GC counted before the fault. */
  vivosAntes?: Record<string, number>;
  /** The GC killed (its GC_ID), and the async ops it held in the ledger (PENDIENTE, its lease) when it died. */
  gcKilled?: string;
  gcHeldOps?: string[];
}

/** A scenario's own verdicts and figures, added to the report. */
export interface ScenarioCheck {
  verificaciones: Verification[];
  datos: Record<string, unknown>;
}

/** What the return of the old primary did (reinicio-ga-primario). */
export interface ReturnInfo {
  ga: HostName;
  gaRestartedAt: number;
  /** 'streaming' = it followed the new primary; 'recloned' = it had diverged and was cloned again. */
  pg?: 'streaming' | 'recloned';
  pgRejoinMs?: number;
  /** The returned GA's state once the pair settled. */
  estadoFinal?: string;
}

export interface Scenario<S extends DrillSystem = LocalSystem> {
  /** A ScenarioName for the built-in ones; a caller's own scenario (e.g. a test's) has its own. */
  name: string;
  descripcion: string;
  /** The PostgreSQL primary dies: in async mode acknowledged ops may be lost (reported, not a failure). */
  killsPgPrimary: boolean;
  /** The other GA must take over. */
  takeover: boolean;
  /**
   * The old active GA may serve again after the takeover: it was never fenced off its
   * PostgreSQL (same primary, same timeline) and the pair gives the lead back to the
   * configured primary. Its writes are then no fault (no "accepts no writes" check).
   */
  antiguoVuelveActivo?: boolean;
  /** Every request must succeed: no failed request from the fault on (e.g. an actor stopped cleanly). */
  sinFallos?: boolean;
  /** The service must answer again within this many ms of the fault. */
  recuperacionMaxMs?: number;
  fault(ctx: DrillContext<S>): Promise<Fault>;
  /** Runs once the service recovered, while the load goes on; a returning old GA primary reports how it came back. */
  afterRecovery?(ctx: DrillContext<S>, f: Fault): Promise<ReturnInfo | undefined>;
  /** After the load stopped: the scenario's own checks (e.g. a restart policy did its job, the GC drills' figures). */
  verify?(ctx: DrillContext<S>, f: Fault, load: DrillLoad): Promise<ScenarioCheck>;
  /** Back to a pair (old side rejoined as the new standby, killed processes restarted): for drills that follow on the same system. */
  restore(ctx: DrillContext<S>, f: Fault): Promise<void>;
}

export const SCENARIO_NAMES = ['ga-primario', 'ga-congelado', 'pg-primario', 'pg-congelado', 'almacenamiento-pc1', 'reinicio-ga-primario', 'actores', 'actores-congelados', 'gc', 'gc-pc1', 'gc-pendientes', 'gc-congelado'] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

const other = (h: HostName): HostName => (h === 'pc1' ? 'pc2' : 'pc1');

/** Whether a local actor process serves this operation type (its ACTOR_TIPOS). */
function servesType(a: ManagedProcess, tipo: OperacionActor): boolean {
  return (a.spec.env?.ACTOR_TIPOS ?? '').split(',').includes(tipo);
}

/**
 * kill -9 of a process the drill expects to be running. A kill of a process that is already
 * down does nothing, and a drill that went on would report a fault it never made as survived.
 */
async function crash(p: ManagedProcess): Promise<void> {
  if (!p.running) throw new Error(`${p.spec.name} is not running: the drill cannot make its fault`);
  await p.kill();
  if (p.running) throw new Error(`${p.spec.name} is still running after kill -9`);
}

/** SIGSTOP of a process the drill expects to be running (see crash). */
function freezeRunning(p: ManagedProcess): void {
  if (!p.running) throw new Error(`${p.spec.name} is not running: the drill cannot freeze it`);
  p.freeze();
}

/** kill -9 of a PostgreSQL node that answered a moment ago; it must not answer after. */
async function crashPg(node: PgNodeHandle): Promise<void> {
  await node.kill();
  if (await node.role().then(() => true, () => false)) throw new Error(`${node.hostName}'s PostgreSQL still answers after kill -9`);
}

function activeGa(ctx: DrillContext): HostName {
  const h = ctx.watch.active() as HostName | undefined;
  if (!h) throw new Error(`no single ACTIVE GA before the fault (${[...ctx.watch.latest.values()].map((s) => `${s.ga} ${s.estado}`).join(', ')})`);
  return h;
}

async function primaryNode(sys: LocalSystem): Promise<PgNodeHandle> {
  if (!sys.pgNodes) throw new Error('this drill needs the two-hosts topology');
  for (const n of [sys.pgNodes.primary, sys.pgNodes.standby]) {
    const r = await n.role().catch(() => undefined);
    if (r && !r.inRecovery) return n;
  }
  throw new Error('no PostgreSQL primary reachable before the fault');
}

function gaOf(ctx: DrillContext, h: HostName): ManagedProcess {
  const g = ctx.sys.topology === 'single' ? (h === 'pc1' ? ctx.sys.ga : undefined) : ctx.sys.hosts[h]?.ga;
  if (!g) throw new Error(`no GA on ${h}`);
  return g;
}

/** The fence: a former primary comes back only as a standby of the new one, re-cloned if it diverged. */
async function rejoinPg(ctx: DrillContext, h: HostName): Promise<'streaming' | 'recloned'> {
  const node = ctx.sys.hosts[h]?.pg;
  if (!node) throw new Error(`no PostgreSQL node on ${h}`);
  const r = await node.role().catch(() => undefined);
  if (r?.inRecovery) {
    // Read-only is not enough: it must stream from the new primary (a diverged node stays in recovery, not receiving).
    await waitStreaming(ctx, h);
    return 'streaming';
  }
  if (r) throw new Error(`${h}'s PostgreSQL is running read-write after a failover: refusing to touch it`);
  ctx.progress(`${h}: PostgreSQL vuelve como standby (restartAsStandby)…`);
  const outcome = await node.restartAsStandby(undefined, 5000);
  if (outcome === 'streaming') {
    return 'streaming';
  }
  ctx.progress(`${h}: divergió; re-clonando desde el nuevo primario…`);
  await node.reclone();
  return 'recloned';
}

/** Until `h`'s PostgreSQL, a standby, receives WAL from the primary (its walreceiver streams); throws after `timeoutMs`. */
export async function waitStreaming<S extends DrillSystem>(ctx: DrillContext<S>, h: HostName, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: string | undefined;
  for (;;) {
    const node = (await ctx.sys.pgStatus().catch(() => [])).find((n) => n.host === h);
    if (node?.standby?.receiving) return;
    last = node ? (node.error ?? `walreceiver ${node.standby?.walReceiverStatus ?? 'none'}`) : 'no status';
    if (Date.now() > deadline) throw new Error(`${h}'s PostgreSQL is read-only but does not stream from the new primary after ${timeoutMs} ms (${last})`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Starts a GA that is down and waits until the pair settles with it PASSIVE (its node streaming on the newest timeline). */
async function returnGa(ctx: DrillContext, h: HostName, timeoutMs = 15_000): Promise<string | undefined> {
  const ga = gaOf(ctx, h);
  if (!ga.running) {
    ctx.progress(`${h}: reiniciando su GA…`);
    ga.start();
  }
  await ctx.watch.waitFor(h, (e) => e === 'PASSIVE', timeoutMs);
  return ctx.watch.estado(h);
}

/** In sync mode the next drill must start with sync replication really on. */
/** True once the active GA reports sync replication (at once when async was asked for); false after `timeoutMs`. */
export async function waitReplication<S extends DrillSystem>(ctx: DrillContext<S>, timeoutMs = 15_000): Promise<boolean> {
  if (ctx.replicacion !== 'sync') return true;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    await ctx.watch.poll();
    const act = ctx.watch.active();
    if (act && ctx.watch.latest.get(act)?.replicacion === 'sync') return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

async function restoreStorageSide(ctx: DrillContext, h: HostName): Promise<void> {
  await rejoinPg(ctx, h);
  const estado = await returnGa(ctx, h);
  if (estado !== 'PASSIVE') throw new Error(`${h}'s GA did not settle PASSIVE after the rejoin (${estado})`);
  await waitReplication(ctx);
}

const gaPrimario: Scenario = {
  name: 'ga-primario',
  descripcion: 'kill -9 del GA activo (primario); su PostgreSQL sigue vivo: el GA de respaldo toma el control usándolo',
  killsPgPrimary: false,
  takeover: true,
  async fault(ctx) {
    const h = activeGa(ctx);
    const t = Date.now();
    await crash(gaOf(ctx, h));
    return { at: Date.now(), killMs: Date.now() - t, detalle: `kill -9 GA ${h}`, oldActiveGa: h, gaKilled: h };
  },
  async restore(ctx, f) {
    const estado = await returnGa(ctx, f.gaKilled!);
    if (estado !== 'PASSIVE') throw new Error(`${f.gaKilled}'s GA did not come back PASSIVE (${estado})`);
  },
};

/**
 * A zombie leader: the active GA (the configured primary) frozen (SIGSTOP), not killed,
 * with writes in flight and row locks held. Its heartbeats stop, so the backup takes over
 * on the same live PostgreSQL primary (same timeline: nothing fences the old one). Then it
 * wakes up (SIGCONT) under load, still ACTIVE in its own mind, finishing what it had
 * begun. Two actives on one timeline share one PostgreSQL primary, which the ledger makes
 * harmless (every op idempotent, row locks serialise the stock); the pair's rule ends it
 * at the first heartbeat: the configured backup yields (role/machine.ts). Nothing may be
 * lost or applied twice, and exactly one GA must be active at the end.
 */
const gaCongelado: Scenario = {
  name: 'ga-congelado',
  descripcion:
    'SIGSTOP del GA activo (congelado, no muerto) con escrituras en curso: el de respaldo toma el control sobre el mismo PostgreSQL; al despertar (SIGCONT) bajo carga aún se cree activo: el respaldo le cede al oír su latido; nada se pierde ni se aplica dos veces',
  killsPgPrimary: false,
  takeover: true,
  antiguoVuelveActivo: true,
  async fault(ctx) {
    const h = activeGa(ctx);
    const t = Date.now();
    freezeRunning(gaOf(ctx, h));
    return { at: Date.now(), killMs: Date.now() - t, detalle: `SIGSTOP GA ${h}`, oldActiveGa: h };
  },
  async afterRecovery(ctx, f) {
    const h = f.oldActiveGa!;
    await takeoverThenThaw(ctx, f, () => gaOf(ctx, h).thaw());
    wokenAt.set(ctx.sys, Date.now());
    ctx.progress(`${h}: SIGCONT: el GA antiguo despierta creyéndose activo…`);
    return undefined;
  },
  async verify(ctx, f) {
    const woke = wokenAt.get(ctx.sys) ?? f.at;
    // Both active from the wake until the first of them left ACTIVE (the backup, by the rule).
    const left = ctx.watch.changes.find((c) => c.at >= woke && c.estado !== 'ACTIVE' && c.estado !== 'SIN_RESPUESTA');
    const finales = Object.fromEntries([...ctx.watch.latest.entries()].map(([g, x]) => [g, x.estado]));
    const activos = Object.entries(finales).filter(([, e]) => e === 'ACTIVE').map(([g]) => g);
    return {
      verificaciones: [
        {
          // The configured backup yields: the woken GA if it is the backup, else the backup that took over.
          nombre: 'al despertar queda un solo GA activo (el respaldo configurado cede)',
          ok: activos.length === 1,
          detalle: `estados al final ${JSON.stringify(finales)}; dos activos durante ${left ? `${Math.max(0, left.at - woke)} ms (${left.ga} → ${left.estado})` : 'todo el resto del simulacro'}`,
        },
      ],
      datos: { congelado: f.oldActiveGa, dosActivosMs: left ? Math.max(0, left.at - woke) : null, estadosFinales: finales },
    };
  },
  async restore(ctx, f) {
    gaOf(ctx, f.oldActiveGa!).thaw();
  },
};

const wokenAt = new WeakMap<LocalSystem, number>();

/** Waits until a GA became ACTIVE after the freeze, then thaws; thaws too when none does within 30 s (and throws). */
async function takeoverThenThaw(ctx: DrillContext, f: Fault, thaw: () => void): Promise<void> {
  const deadline = Date.now() + 30_000;
  try {
    while (!ctx.watch.firstActiveAfter(f.at)) {
      if (Date.now() > deadline) throw new Error('no GA became ACTIVE within 30 s of the freeze');
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    thaw();
  }
}

/** The PostgreSQL primary taken out by `act` (a kill, a freeze) under the active GA. */
async function primaryDown(ctx: DrillContext, como: string, act: (n: PgNodeHandle) => Promise<void> | void): Promise<Fault> {
  const node = await primaryNode(ctx.sys);
  const oldActiveGa = activeGa(ctx);
  const t = Date.now();
  await act(node);
  return { at: Date.now(), killMs: Date.now() - t, detalle: `${como} PostgreSQL primario en ${node.hostName}`, oldActiveGa, pgKilled: node.hostName };
}

const pgPrimario: Scenario = {
  name: 'pg-primario',
  descripcion: 'kill -9 del PostgreSQL primario; su GA deja de estar activo y el GA del otro host promueve su standby',
  killsPgPrimary: true,
  takeover: true,
  fault: (ctx) => primaryDown(ctx, 'kill -9', crashPg),
  async restore(ctx, f) {
    await restoreStorageSide(ctx, f.pgKilled!);
  },
};

/**
 * The primary stops answering without closing anything: every process of the server
 * SIGSTOPped, as a frozen VM or a link cut without a reset looks from outside. No error
 * reaches anyone; only deadlines tell. Its GA's probe gives up after PROBE_DEADLINE_MS and
 * the GA steps down; the other host's GA promotes its standby. Once the takeover is done
 * the frozen server wakes up (SIGCONT) under load, read-write on its old timeline with
 * its frozen requests still open: no GA may use it and no acknowledged op may be lost.
 * Then it is killed (as a fence would) and rejoins as the new standby.
 */
const pgCongelado: Scenario = {
  name: 'pg-congelado',
  descripcion:
    'SIGSTOP del PostgreSQL primario y de todos sus procesos (máquina congelada, enlace cortado sin RST): no responde ni cierra nada; tras la toma de control despierta (SIGCONT) bajo carga en su timeline viejo y nadie debe escribir en él',
  killsPgPrimary: true,
  takeover: true,
  fault: (ctx) => primaryDown(ctx, 'SIGSTOP', (n) => n.freeze()),
  async afterRecovery(ctx, f) {
    const h = f.pgKilled!;
    const node = ctx.sys.hosts[h]?.pg;
    if (!node) throw new Error(`no PostgreSQL node on ${h}`);
    await takeoverThenThaw(ctx, f, () => node.thaw());
    ctx.progress(`${h}: SIGCONT: el antiguo primario despierta, read-write en su timeline viejo, con sus peticiones congeladas aún abiertas…`);
    await new Promise((r) => setTimeout(r, 3000));
    ctx.progress(`${h}: kill -9 del antiguo primario (el cerco); volverá como standby`);
    await node.kill();
    return undefined;
  },
  async restore(ctx, f) {
    await restoreStorageSide(ctx, f.pgKilled!);
  },
};

async function killStorageSide(ctx: DrillContext): Promise<Fault> {
  const node = await primaryNode(ctx.sys);
  const h = node.hostName;
  const oldActiveGa = activeGa(ctx);
  const ga = gaOf(ctx, h);
  const t = Date.now();
  await Promise.all([crashPg(node), crash(ga)]);
  return { at: Date.now(), killMs: Date.now() - t, detalle: `kill -9 PostgreSQL primario + GA en ${h}`, oldActiveGa, pgKilled: h, gaKilled: h };
}

const almacenamiento: Scenario = {
  name: 'almacenamiento-pc1',
  descripcion: 'kill -9 de todo el almacenamiento de pc1 a la vez (PostgreSQL primario + GA primario): el respaldo promueve su standby',
  killsPgPrimary: true,
  takeover: true,
  fault: killStorageSide,
  async restore(ctx, f) {
    await restoreStorageSide(ctx, f.pgKilled!);
  },
};

const reinicio: Scenario = {
  name: 'reinicio-ga-primario',
  descripcion:
    'como almacenamiento-pc1; tras la toma de control vuelve el GA primario antiguo (primero sin su PostgreSQL, luego con él reincorporado como standby): debe quedar pasivo/aislado y no aceptar ninguna escritura',
  killsPgPrimary: true,
  takeover: true,
  fault: killStorageSide,
  async afterRecovery(ctx, f) {
    const h = f.gaKilled!;
    if (!(await ctx.watch.waitFor(other(h), (e) => e === 'ACTIVE', 20_000))) throw new Error(`${other(h)}'s GA never became ACTIVE`);
    // Let the new active serve for a moment, then bring the old GA back while its PostgreSQL is still down.
    await new Promise((r) => setTimeout(r, 1000));
    const gaRestartedAt = Date.now();
    ctx.progress(`${h}: el GA primario antiguo vuelve (su PostgreSQL sigue caído)…`);
    gaOf(ctx, h).start();
    await new Promise((r) => setTimeout(r, 1500));
    // Its PostgreSQL returns only through the fence (never a plain restart: it would be a second primary).
    const t0 = Date.now();
    const pg = await rejoinPg(ctx, h);
    const pgRejoinMs = Date.now() - t0;
    const estadoFinal = await returnGa(ctx, h);
    ctx.progress(`${h}: PostgreSQL ${pg === 'streaming' ? 'sigue al nuevo primario' : 're-clonado'} en ${pgRejoinMs} ms; GA ${estadoFinal}`);
    return { ga: h, gaRestartedAt, pg, pgRejoinMs, estadoFinal };
  },
  async restore(ctx, f) {
    await restoreStorageSide(ctx, f.pgKilled!);
  },
};

const actores: Scenario = {
  name: 'actores',
  descripcion: 'kill -9 de 1 de los 2 actores de cada tipo: el GC deja de enviarles trabajo y reenvía sus tareas a los otros',
  killsPgPrimary: false,
  takeover: false,
  async fault(ctx) {
    // One live actor of each type; an actor process serving several types counts once.
    const victims = [...new Set(OPERACIONES_ACTOR.map((t) => ctx.sys.actors.find((a) => a.running && servesType(a, t))))];
    if (victims.some((v) => !v)) throw new Error('an actor type has no live actor');
    const [vivosAntes, contadorAntes] = await Promise.all([liveActors(ctx, 'min'), republishedFromDead(ctx)]);
    const t = Date.now();
    await Promise.all(victims.map((v) => crash(v!)));
    return { at: Date.now(), killMs: Date.now() - t, detalle: `kill -9 ${victims.map((v) => `${v!.spec.name}@${v!.spec.host}`).join(', ')}`, actorsKilled: victims as ManagedProcess[], vivosAntes, contadorAntes };
  },
  async verify(ctx, f) {
    // Every GC must have given the killed ones up (else it would still send them work); the load alone cannot tell.
    const expected = Object.fromEntries(OPERACIONES_ACTOR.map((t) => [t, (f.vivosAntes?.[t] ?? NaN) - (f.actorsKilled ?? []).filter((a) => servesType(a, t)).length]));
    const deadline = Date.now() + 10_000;
    let vivos = await liveActors(ctx, 'max');
    while (!OPERACIONES_ACTOR.every((t) => vivos[t] === expected[t]) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      vivos = await liveActors(ctx, 'max');
    }
    const reenviadas = (await republishedFromDead(ctx)) - (f.contadorAntes ?? 0);
    return {
      verificaciones: [{ nombre: 'todos los GC dan por muertos a los actores matados', ok: OPERACIONES_ACTOR.every((t) => vivos[t] === expected[t]), detalle: `actores vivos ${JSON.stringify(vivos)}, esperados ${JSON.stringify(expected)}` }],
      datos: { actoresVivos: vivos, reenviadasPorActorMuerto: reenviadas },
    };
  },
  async restore(ctx, f) {
    for (const a of f.actorsKilled ?? []) a.start();
    await Promise.all((f.actorsKilled ?? []).map((a) => a.waitHealthy()));
    await ctx.sys.waitForActors(2);
  },
};

/** Tasks the GCs re-published because their actor was declared dead, summed over the GCs. */
async function republishedFromDead(ctx: DrillContext): Promise<number> {
  const n = await Promise.all(ctx.sys.gcs.map((g) => metricTotal(g.process, 'gc_republications_total', 'motivo="actor-muerto"')));
  return n.reduce<number>((a, b) => a + (b ?? 0), 0);
}

/**
 * Live actors per type as the GCs that answered count them: `max` (an actor is given up
 * only once every GC dropped it) or `min` (back only once every GC counts it); NaN while
 * no GC answers.
 */
async function liveActors(ctx: DrillContext, over: 'max' | 'min'): Promise<Record<string, number>> {
  const all = (await Promise.all(ctx.sys.gcs.map((g) => g.process.status<GcStatus>()))).filter((s): s is GcStatus => !!s);
  const pick = over === 'max' ? Math.max : Math.min;
  return Object.fromEntries(OPERACIONES_ACTOR.map((t) => [t, all.length ? pick(...all.map((s) => s.actoresVivos[t] ?? 0)) : NaN]));
}

/**
 * Zombies: one actor of each type frozen (SIGSTOP), not killed. Its heartbeats stop, so
 * every GC declares it dead and sends what it held to the other actor; then it wakes up
 * (SIGCONT) holding tasks someone else already did, and sends their calls to the GA and
 * their results to the GCs as if nothing had happened. None may be applied twice, none
 * lost, and the woken actors must be counted live and get work again.
 */
const actoresCongelados: Scenario = {
  name: 'actores-congelados',
  descripcion:
    'SIGSTOP de 1 de los 2 actores de cada tipo (congelados, no muertos): los GC los dan por muertos y reenvían sus tareas; al despertar (SIGCONT) llevan tareas que ya hizo otro: ninguna se aplica dos veces y vuelven a recibir trabajo',
  killsPgPrimary: false,
  takeover: false,
  async fault(ctx) {
    const victims = [...new Set(OPERACIONES_ACTOR.map((t) => ctx.sys.actors.find((a) => a.running && servesType(a, t))))];
    if (victims.some((v) => !v)) throw new Error('an actor type has no live actor');
    const contadorAntes = await republishedFromDead(ctx);
    const t = Date.now();
    for (const v of victims) freezeRunning(v!);
    return { at: Date.now(), killMs: Date.now() - t, detalle: `SIGSTOP ${victims.map((v) => `${v!.spec.name}@${v!.spec.host}`).join(', ')}`, actorsFrozen: victims as ManagedProcess[], contadorAntes };
  },
  async afterRecovery(ctx, f) {
    const frozen = f.actorsFrozen ?? [];
    // Until every GC gave them up (their heartbeats stopped), then a little longer with the load on.
    const deadline = Date.now() + 15_000;
    while (!Object.values(await liveActors(ctx, 'max')).every((n) => n <= 1)) {
      if (Date.now() > deadline) {
        for (const a of frozen) a.thaw();
        throw new Error(`the GCs still count the frozen actors live after 15 s: ${JSON.stringify(await liveActors(ctx, 'max'))}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    ctx.progress(`los GC dan por muertos a ${frozen.map((a) => a.spec.name).join(', ')} a los ${Date.now() - f.at} ms`);
    await new Promise((r) => setTimeout(r, 2000));
    for (const a of frozen) a.thaw();
    ctx.progress('SIGCONT: los actores despiertan con sus tareas viejas…');
    return undefined;
  },
  async verify(ctx, f) {
    const deadline = Date.now() + 10_000;
    let vivos = await liveActors(ctx, 'min');
    while (!OPERACIONES_ACTOR.every((t) => vivos[t] === 2) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      vivos = await liveActors(ctx, 'min');
    }
    // The zombies held work when they froze (else this drill tested nothing): their tasks went to others.
    const reenviadas = (await republishedFromDead(ctx)) - (f.contadorAntes ?? 0);
    return {
      verificaciones: [
        { nombre: 'los congelados tenían tareas, reenviadas a otros actores', ok: reenviadas > 0, detalle: `${reenviadas} tareas reenviadas por actor muerto` },
        { nombre: 'los actores despiertos vuelven a contar como vivos', ok: OPERACIONES_ACTOR.every((t) => vivos[t] === 2), detalle: `actores vivos ${JSON.stringify(vivos)}` },
      ],
      datos: { actoresVivos: vivos, reenviadas },
    };
  },
  async restore(ctx, f) {
    for (const a of f.actorsFrozen ?? []) a.thaw();
    await ctx.sys.waitForActors(2);
  },
};

const gc: Scenario = {
  name: 'gc',
  descripcion: 'kill -9 del GC y arranque inmediato (lo que haría un supervisor): los PS reenvían con el mismo id y el GC retoma del ledger lo pendiente',
  killsPgPrimary: false,
  takeover: false,
  async fault(ctx) {
    const g = ctx.sys.gcs[0]!;
    const t = Date.now();
    await crash(g.process);
    const at = Date.now();
    g.process.start();
    return { at, killMs: at - t, detalle: `kill -9 GC ${g.id} + arranque`, gcKilled: g.id };
  },
  async verify(ctx, f, load) {
    // The restart is the point of this drill: with two GCs the other one would hide a GC that never came back.
    const g = ctx.sys.gcs.find((x) => x.id === f.gcKilled)!;
    const healthy = await g.process.waitHealthy(10_000).then(() => true, () => false);
    const verificaciones: Verification[] = [{ nombre: 'el GC reiniciado está en marcha', ok: healthy, detalle: `${g.id} ${healthy ? 'responde' : 'no responde'} a /health` }];
    if (ctx.sys.gcs.length > 1) verificaciones.push(loadSpreadsAgain('el GC reiniciado vuelve a atender', load, g, f.at));
    return { verificaciones, datos: { respuestasPorGc: { antesDeLaFalla: answeredBy(load, 0, f.at), trasLaFalla: answeredBy(load, f.at, Infinity) } } };
  },
  async restore(ctx) {
    await ctx.sys.gc.waitHealthy();
    await ctx.sys.waitForActors(2);
  },
};

// ---------------------------------------------------------------- several GCs

/** The GC of host pc1 (the first one's sede): the one the GC drills kill. */
function pc1Gc(ctx: DrillContext): GcInfo {
  const g = ctx.sys.gcs.find((x) => x.host === 'pc1');
  if (!g || ctx.sys.gcs.length < 2) throw new Error('this drill needs two GCs (the two-hosts topology)');
  if (!g.process.running) throw new Error(`${g.id} is not running before the fault`);
  return g;
}

/** Requests failed from the fault on: none may, since every PS fails over within its timeout. */
function noFailedRequests(load: DrillLoad, f: Fault): Verification {
  const failed = load.attempts.filter((a) => a.endAt >= f.at && isFailedAttempt(a));
  return {
    nombre: 'ninguna solicitud falla: los PS cambian de GC dentro de su plazo',
    ok: failed.length === 0,
    detalle: `${failed.length} fallidas tras la falla${failed.length ? ` (p. ej. ${failed.slice(0, 3).map((a) => `${a.opId} ${a.codigo ?? 'sin respuesta'}`).join(', ')})` : ''}`,
  };
}

/** Attempts answered by each GC in [from, to). */
function answeredBy(load: DrillLoad, from: number, to: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const a of load.attempts) if (a.gc && a.endAt >= from && a.endAt < to) out[a.gc] = (out[a.gc] ?? 0) + 1;
  return out;
}

/** A GC back since `back` serves at least a quarter of the replies of the load's last 2 s. */
function loadSpreadsAgain(nombre: string, load: DrillLoad, g: GcInfo, back: number): Verification {
  const end = Math.max(...load.attempts.map((a) => a.endAt), back);
  const tail = answeredBy(load, end - 2000, end + 1);
  const tailTotal = Object.values(tail).reduce((a, b) => a + b, 0);
  const share = tailTotal ? (tail[g.endpoint] ?? 0) / tailTotal : 0;
  return { nombre, ok: share >= 0.25, detalle: `${g.id} atendió el ${Math.round(share * 100)} % de las respuestas de los últimos 2 s (${tail[g.endpoint] ?? 0} de ${tailTotal})` };
}

async function restartGc(ctx: DrillContext, g: GcInfo): Promise<void> {
  if (!g.process.running) g.process.start();
  await g.process.waitHealthy();
  await ctx.sys.waitForActors(1);
}

/** How long a returned GC is given to win its sede's PS back before the load's last stretch is judged. */
const GC_DOWN_MS = 2000;

const gcPc1: Scenario = {
  name: 'gc-pc1',
  descripcion: 'kill -9 del GC de pc1 bajo carga (el de pc2 sigue): los PS de pc1 pasan al GC de pc2 dentro de su plazo, con los mismos ids; el GC vuelve y la carga se reparte otra vez',
  killsPgPrimary: false,
  takeover: false,
  async fault(ctx) {
    const g = pc1Gc(ctx);
    const t = Date.now();
    await crash(g.process);
    return { at: Date.now(), killMs: Date.now() - t, detalle: `kill -9 GC ${g.id} (${g.endpoint})`, gcKilled: g.id };
  },
  async afterRecovery(ctx, f) {
    await new Promise((r) => setTimeout(r, GC_DOWN_MS));
    const g = ctx.sys.gcs.find((x) => x.id === f.gcKilled)!;
    ctx.progress(`${g.id}: vuelve a arrancar…`);
    returnedAt.set(ctx.sys, Date.now());
    await restartGc(ctx, g);
    ctx.progress(`${g.id}: en marcha, con actores vivos`);
    return undefined;
  },
  async verify(ctx, f, load) {
    const g = ctx.sys.gcs.find((x) => x.id === f.gcKilled)!;
    const back = returnedAt.get(ctx.sys) ?? f.at;
    return {
      verificaciones: [noFailedRequests(load, f), loadSpreadsAgain('la carga se reparte de nuevo cuando el GC vuelve', load, g, back)],
      datos: {
        respuestasPorGc: {
          antesDeLaFalla: answeredBy(load, 0, f.at),
          conElGcCaido: answeredBy(load, f.at, back),
          trasVolver: answeredBy(load, back, Infinity),
        },
      },
    };
  },
  async restore(ctx, f) {
    await restartGc(ctx, ctx.sys.gcs.find((x) => x.id === f.gcKilled)!);
    await ctx.sys.waitForActors(2);
  },
};
/** When gc-pc1's GC was started again, per system (read by its verify). */
const returnedAt = new WeakMap<LocalSystem, number>();

/**
 * The GC drills' common start: no devolución actor for 1.5 s, so ACEPTADO returns wait in
 * the GCs; then `down` takes `g` out (kill or freeze) and the ops it holds in the ledger are
 * listed; the actors come back. If listing fails, `undo` runs and the actors are restarted:
 * with no Fault returned there is no restore, and nothing may stay frozen or stopped.
 */
async function gcDownHoldingReturns(
  ctx: DrillContext,
  g: GcInfo,
  como: string,
  down: () => Promise<void> | void,
  undo?: () => void,
): Promise<{ at: number; killMs: number; gcKilled: string; gcHeldOps: string[]; actorsKilled: ManagedProcess[] }> {
  const devActors = ctx.sys.actors.filter((a) => a.running && servesType(a, 'devolucion'));
  if (devActors.length === 0) throw new Error('no devolución actor is running');
  await Promise.all(devActors.map((a) => crash(a)));
  ctx.progress(`sin actores de devolución (${devActors.map((a) => a.spec.name).join(', ')}): las devoluciones aceptadas esperan…`);
  await new Promise((r) => setTimeout(r, 1500));
  const t = Date.now();
  await down();
  const at = Date.now();
  let held: string[];
  try {
    // Down now: nothing more can be recorded under its lease.
    held = await opsHeldBy((await survivingPrimary(ctx.sys)).node, g.id);
  } catch (err) {
    undo?.();
    for (const a of devActors) a.start();
    throw err;
  }
  ctx.progress(`${g.id} ${como} con ${held.length} devoluciones aceptadas sin aplicar; vuelven los actores de devolución`);
  for (const a of devActors) a.start();
  return { at, killMs: at - t, gcKilled: g.id, gcHeldOps: held, actorsKilled: devActors };
}

const gcPendientes: Scenario = {
  name: 'gc-pendientes',
  descripcion:
    'sin actores de devolución, las devoluciones ACEPTADAS esperan en los GC; kill -9 del GC de pc1 con las suyas sin aplicar y vuelven los actores: el GC de pc2 retoma las del GC caído cuando vence su arriendo y todas se aplican',
  killsPgPrimary: false,
  takeover: false,
  async fault(ctx) {
    const g = pc1Gc(ctx);
    const f = await gcDownHoldingReturns(ctx, g, 'muerto', () => crash(g.process));
    return { ...f, detalle: `kill -9 GC ${g.id} con ${f.gcHeldOps.length} operaciones ACEPTADAS sin aplicar` };
  },
  async verify(ctx, f, load) {
    const ids = f.gcHeldOps ?? [];
    const rows = await waitOpsFinal((await survivingPrimary(ctx.sys)).node, ids, 30_000);
    const done = rows.filter((r) => r.estado !== 'PENDIENTE');
    const byOther = done.filter((r) => r.gestor && r.gestor !== f.gcKilled);
    const lastMs = done.length ? Math.max(...done.map((r) => Date.parse(r.actualizada) - f.at)) : null;
    return {
      verificaciones: [
        noFailedRequests(load, f),
        {
          nombre: 'toda operación ACEPTADA que el GC caído tenía sin aplicar se aplica, por otro GC',
          ok: ids.length > 0 && done.length === ids.length && byOther.length === ids.length,
          detalle:
            ids.length === 0
              ? 'el GC caído no tenía ninguna pendiente: el simulacro no probó nada'
              : `${ids.length} pendientes al morir; ${done.length} terminadas, ${byOther.length} por ${[...new Set(byOther.map((r) => r.gestor))].join(', ') || 'ningún otro GC'}; la última a los ${lastMs ?? '—'} ms de la falla`,
        },
      ],
      datos: { pendientesDelGcCaido: { alMorir: ids.length, terminadas: done.length, porOtroGc: byOther.length, ultimaTrasLaFallaMs: lastMs } },
    };
  },
  async restore(ctx, f) {
    await restartGc(ctx, ctx.sys.gcs.find((x) => x.id === f.gcKilled)!);
    await Promise.all((f.actorsKilled ?? []).map((a) => a.waitHealthy()));
    await ctx.sys.waitForActors(2);
  },
};

/**
 * A zombie GC: pc1's GC frozen (SIGSTOP), not killed, while it holds ACEPTADO returns not
 * yet applied (no devolución actor for a moment). Nothing tells anyone it is gone: its PS
 * each pay one timeout and resend, same claves, to pc2's GC; pc2's GC takes its ledger rows
 * over once their lease runs out and applies them. Then it wakes up (SIGCONT) believing it
 * still holds those leases and with stale requests in its queues: nothing may be applied
 * twice, no request abandoned, and its sede's PS must come back to it.
 */
const gcCongelado: Scenario = {
  name: 'gc-congelado',
  descripcion:
    'SIGSTOP del GC de pc1 (congelado, no muerto) con devoluciones ACEPTADAS sin aplicar: sus PS pasan al GC de pc2, que retoma sus filas al vencer el arriendo; al despertar cree tenerlas aún: nada se aplica dos veces y la carga vuelve a repartirse',
  killsPgPrimary: false,
  takeover: false,
  async fault(ctx) {
    const g = pc1Gc(ctx);
    const f = await gcDownHoldingReturns(ctx, g, 'congelado', () => freezeRunning(g.process), () => g.process.thaw());
    return { ...f, detalle: `SIGSTOP GC ${g.id} con ${f.gcHeldOps.length} operaciones ACEPTADAS sin aplicar` };
  },
  async afterRecovery(ctx, f) {
    const g = ctx.sys.gcs.find((x) => x.id === f.gcKilled)!;
    try {
      // Until another GC finished what it held (its lease ran out), then wake it.
      await waitOpsFinal((await survivingPrimary(ctx.sys)).node, f.gcHeldOps ?? [], 30_000);
    } finally {
      returnedAt.set(ctx.sys, Date.now());
      g.process.thaw();
    }
    ctx.progress(`${g.id}: SIGCONT: despierta creyendo tener sus arriendos, con solicitudes viejas en sus colas…`);
    await new Promise((r) => setTimeout(r, GC_DOWN_MS));
    return undefined;
  },
  async verify(ctx, f, load) {
    const g = ctx.sys.gcs.find((x) => x.id === f.gcKilled)!;
    const ids = f.gcHeldOps ?? [];
    const rows = await waitOpsFinal((await survivingPrimary(ctx.sys)).node, ids, 30_000);
    const byOther = rows.filter((r) => r.estado !== 'PENDIENTE' && r.gestor && r.gestor !== f.gcKilled);
    const back = returnedAt.get(ctx.sys) ?? f.at;
    return {
      verificaciones: [
        { nombre: 'ninguna solicitud se abandona: los PS reenvían al otro GC con la misma clave', ok: load.abandoned.length === 0, detalle: `${load.abandoned.length} abandonadas` },
        {
          nombre: 'lo que el GC congelado tenía sin aplicar lo termina otro GC',
          ok: ids.length > 0 && byOther.length === ids.length,
          detalle: ids.length === 0 ? 'no tenía ninguna pendiente: el simulacro no probó nada' : `${ids.length} pendientes al congelarse; ${byOther.length} terminadas por otro GC`,
        },
        loadSpreadsAgain('la carga se reparte de nuevo cuando despierta', load, g, back),
      ],
      datos: { pendientesDelGcCongelado: { alCongelarse: ids.length, porOtroGc: byOther.length }, respuestasPorGc: { congelado: answeredBy(load, f.at, back), trasDespertar: answeredBy(load, back, Infinity) } },
    };
  },
  async restore(ctx, f) {
    const g = ctx.sys.gcs.find((x) => x.id === f.gcKilled)!;
    g.process.thaw();
    await Promise.all((f.actorsKilled ?? []).map((a) => a.waitHealthy()));
    await ctx.sys.waitForActors(2);
  },
};

export const SCENARIOS: Record<ScenarioName, Scenario> = {
  'ga-primario': gaPrimario,
  'ga-congelado': gaCongelado,
  'pg-primario': pgPrimario,
  'pg-congelado': pgCongelado,
  'almacenamiento-pc1': almacenamiento,
  'reinicio-ga-primario': reinicio,
  actores,
  'actores-congelados': actoresCongelados,
  gc,
  'gc-pc1': gcPc1,
  'gc-pendientes': gcPendientes,
  'gc-congelado': gcCongelado,
};
