/**
 * The container drills: the faults users cause on a compose deployment
 * (docker kill, docker stop, docker start), run under load by the same drill
 * runner as the local drills (scripts/drill/run.ts), so the report is the same.
 * Each one leaves the deployment whole again (restore) for the next: targets
 * are found from the live state (the ACTIVE GA, the PostgreSQL primary), so
 * after a failover the next drill hits the new side.
 */
import { OPERACIONES_ACTOR } from '../../common/protocol/ps-gc.js';
import type { HostName } from '../launcher/hosts.js';
import type { Verification } from '../drill/report.js';
import { waitReplication, waitStreaming, type DrillContext, type Fault, type ReturnInfo, type Scenario } from '../drill/scenarios.js';
import { docker, inspect } from './docker.js';
import type { ContainerSystem } from './sistema.js';

type Ctx = DrillContext<ContainerSystem>;

export const ESCENARIOS_CONTENEDORES = ['actores', 'gc', 'ga-primario', 'almacenamiento-pc1'] as const;
export type EscenarioContenedores = (typeof ESCENARIOS_CONTENEDORES)[number];

const other = (h: HostName): HostName => (h === 'pc1' ? 'pc2' : 'pc1');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function activeGa(ctx: Ctx): HostName {
  const h = ctx.watch.active() as HostName | undefined;
  if (!h) throw new Error(`no single ACTIVE GA before the fault (${[...ctx.watch.latest.values()].map((s) => `${s.ga} ${s.estado}`).join(', ')})`);
  return h;
}

/** docker <verb> <names…>, timed: the fault is "done" when the command returned (the containers are dead). */
async function fault(verb: 'kill' | 'stop', names: string[]): Promise<{ at: number; killMs: number }> {
  const t = Date.now();
  await docker([verb, ...names]);
  return { at: Date.now(), killMs: Date.now() - t };
}

/** Until a GA became ACTIVE after the fault (the other one, or one that was active re-activating on the new primary). */
async function waitTakeover(ctx: Ctx, f: Fault, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ctx.watch.firstActiveAfter(f.at)) {
    if (Date.now() > deadline) throw new Error(`no GA became ACTIVE within ${timeoutMs} ms of the fault`);
    await sleep(50);
  }
}

/** Waits until `h`'s GA settles PASSIVE; returns the state it ended in. */
async function waitPassive(ctx: Ctx, h: HostName, timeoutMs = 30_000): Promise<string | undefined> {
  await ctx.watch.waitFor(h, (e) => e === 'PASSIVE', timeoutMs);
  return ctx.watch.estado(h);
}

/** In sync mode the next drill must start with sync replication really on. */
async function waitSync(ctx: Ctx, timeoutMs = 30_000): Promise<void> {
  if (!(await waitReplication(ctx, timeoutMs))) throw new Error('sync replication did not come back');
}

/** Until `h`'s PostgreSQL answers as a standby (a former primary that rejoined by itself); ms taken. */
async function waitStandby(ctx: Ctx, h: HostName, timeoutMs = 90_000): Promise<number> {
  const t = Date.now();
  for (;;) {
    const r = await ctx.sys.hosts[h].pg.role().catch(() => undefined);
    if (r?.inRecovery) return Date.now() - t;
    if (r && !r.inRecovery) throw new Error(`${h}'s PostgreSQL came back READ-WRITE after a failover (split brain)`);
    if (Date.now() - t > timeoutMs) throw new Error(`${h}'s PostgreSQL did not come back as a standby in ${timeoutMs} ms: ${await ctx.sys.logs(`${h}-postgres`, 15)}`);
    await sleep(250);
  }
}

/**
 * The restart policy brought `name` back, once, after the fault, and it is healthy: Docker
 * counts only its policy's restarts (a `docker start` resets the count), and a container in a
 * crash loop shows more than one.
 */
async function restartedBy(name: string, before: number, faultAt: number): Promise<Verification> {
  const s = await inspect(name);
  const started = s ? Date.parse(s.startedAt) : NaN;
  // Docker's clock is this machine's: a second of margin for its rounding.
  const ok = !!s && s.running && s.restartCount === before + 1 && started >= faultAt - 1000 && (s.health === undefined || s.health === 'healthy');
  return {
    nombre: 'la política de reinicio lo devuelve (una vez, sano)',
    ok,
    detalle: s ? `${name}: ${s.status}${s.health ? ` (${s.health})` : ''}, reinicios ${before} → ${s.restartCount}, arrancado ${Number.isFinite(started) ? `${started - faultAt} ms tras la falla` : '?'}` : `${name}: no existe`,
  };
}

/** `docker inspect`'s restart count and start of `name`, to tell later that it was not restarted in between. */
async function lifeOf(name: string): Promise<{ restartCount: number; startedAt: string }> {
  const s = await inspect(name);
  if (!s) throw new Error(`cannot inspect ${name}`);
  return { restartCount: s.restartCount, startedAt: s.startedAt };
}

/**
 * The returned GA's admitted-writes counter is read at the end: it holds since its return only
 * if the container was not restarted meanwhile (a restart resets it, hiding earlier writes).
 */
async function sameLife(name: string, at: { restartCount: number; startedAt: string } | undefined): Promise<Verification> {
  const now = await inspect(name);
  const ok = !!at && !!now && now.restartCount === at.restartCount && now.startedAt === at.startedAt;
  return {
    nombre: 'el GA antiguo no se reinició desde su vuelta (su cuenta de escrituras vale)',
    ok,
    detalle: `${name}: reinicios ${at?.restartCount ?? '?'} → ${now?.restartCount ?? '?'}, arrancado ${at?.startedAt ?? '?'} → ${now?.startedAt ?? '?'}`,
  };
}

/** Life of each returned GA container, per system (set at its return, read by verify). */
const returnedLife = new WeakMap<ContainerSystem, { restartCount: number; startedAt: string }>();

/**
 * Puts the lead back beside the PostgreSQL primary: the GA of the primary's host ACTIVE, the
 * other PASSIVE (docker stop of the active one elsewhere, then start again). A storage-host
 * kill next then takes the active GA and the primary together, as its name says, instead of
 * killing a passive GA beside a primary another host's GA writes to.
 */
async function leadBesidePrimary(ctx: Ctx): Promise<void> {
  const p = await ctx.sys.primaryHost();
  await ctx.watch.poll();
  const act = ctx.watch.active() as HostName | undefined;
  if (!p || !act || act === p) return;
  ctx.progress(`${act}: docker stop ${act}-ga para devolver el mando al GA de ${p}, junto al primario…`);
  await docker(['stop', `${act}-ga`]);
  if (!(await ctx.watch.waitFor(p, (e) => e === 'ACTIVE', 30_000))) throw new Error(`${p}'s GA did not take the lead back`);
  await docker(['start', `${act}-ga`]);
  const estado = await waitPassive(ctx, act);
  if (estado !== 'PASSIVE') throw new Error(`${act}'s GA did not come back PASSIVE (${estado})`);
  await ctx.sys.waitHealthy(`${act}-ga`);
}

const actores: Scenario<ContainerSystem> = {
  name: 'actores',
  descripcion: 'docker stop de un actor de cada tipo (los de pc1): el GC deja de enviarles trabajo; ninguna solicitud falla',
  killsPgPrimary: false,
  takeover: false,
  sinFallos: true,
  async fault() {
    const names = OPERACIONES_ACTOR.map((t) => `pc1-actor-${t}`);
    return { ...(await fault('stop', names)), detalle: `docker stop ${names.join(' ')}` };
  },
  async verify(ctx) {
    // Every GC: each must stop sending work to them.
    const all = await ctx.sys.gcStatuses<{ actoresVivos?: Record<string, number> }>();
    const vivos = all.map((s) => s?.actoresVivos ?? {});
    return {
      verificaciones: [{ nombre: 'cada GC deja de contar los actores parados', ok: vivos.every((v) => OPERACIONES_ACTOR.every((t) => v[t] === 2)), detalle: `actores vivos por GC ${JSON.stringify(vivos)}` }],
      datos: { actoresVivos: vivos },
    };
  },
  async restore(ctx) {
    const names = OPERACIONES_ACTOR.map((t) => `pc1-actor-${t}`);
    await docker(['start', ...names]);
    await Promise.all(names.map((n) => ctx.sys.waitHealthy(n)));
    await ctx.sys.waitForActors(3);
  },
};

/**
 * A crash of the container's process, as an OOM kill or a fatal error would be: SIGKILL
 * to its main process (tini) from the host. Not `docker kill`: Docker records that as a
 * manual stop, and a restart policy never restarts a manually stopped container.
 */
async function crash(name: string): Promise<{ at: number; killMs: number }> {
  const pidOf = async () => Number((await docker(['inspect', '--format', '{{.State.Pid}}', name])).trim());
  const pid = await pidOf();
  if (!(pid > 1)) throw new Error(`${name} is not running (pid ${pid})`);
  const t = Date.now();
  process.kill(pid, 'SIGKILL');
  // Dead once Docker saw it exit (pid 0) or already started it again (another pid).
  while ((await pidOf()) === pid && Date.now() - t < 10_000) await sleep(20);
  return { at: Date.now(), killMs: Date.now() - t };
}

const restartsBefore = new WeakMap<ContainerSystem, number>();
const gc: Scenario<ContainerSystem> = {
  name: 'gc',
  descripcion: 'caída del contenedor del GC (SIGKILL a su proceso): la política de reinicio lo devuelve, los PS reenvían con el mismo id y toda operación ACEPTADA se completa',
  killsPgPrimary: false,
  takeover: false,
  async fault(ctx) {
    restartsBefore.set(ctx.sys, (await lifeOf('pc1-gc')).restartCount);
    return { ...(await crash('pc1-gc')), detalle: 'kill -9 del proceso de pc1-gc (restart: unless-stopped)' };
  },
  async verify(ctx, f, load) {
    // Back, and serving its sede's PS again (the load's replies from its endpoint after the restart).
    const endpoint = ctx.sys.gcEndpoints[0]!;
    const served = load.attempts.filter((a) => a.gc === endpoint && a.exito && a.endAt > f.at).length;
    return {
      verificaciones: [
        await restartedBy('pc1-gc', restartsBefore.get(ctx.sys) ?? NaN, f.at),
        { nombre: 'pc1-gc vuelve a atender a los PS', ok: served > 0, detalle: `${served} respuestas de ${endpoint} tras la falla` },
      ],
      datos: { respuestasDePc1GcTrasLaFalla: served },
    };
  },
  async restore(ctx) {
    await ctx.sys.waitHealthy('pc1-gc');
    await ctx.sys.waitForActors(3);
  },
};

export interface OpcionesEscenarios {
  /** How long the stopped/killed storage side stays down after the takeover before it is started again. */
  retornoTrasMs: number;
}

const gaPrimario = (o: OpcionesEscenarios): Scenario<ContainerSystem> => ({
  name: 'ga-primario',
  descripcion: 'docker stop del GA activo; el respaldo toma el control; docker start del GA parado: vuelve pasivo y no acepta ninguna escritura',
  killsPgPrimary: false,
  takeover: true,
  async fault(ctx) {
    const h = activeGa(ctx);
    return { ...(await fault('stop', [`${h}-ga`])), detalle: `docker stop ${h}-ga`, oldActiveGa: h, gaKilled: h };
  },
  async afterRecovery(ctx, f): Promise<ReturnInfo> {
    const h = f.gaKilled!;
    await waitTakeover(ctx, f);
    await sleep(o.retornoTrasMs);
    const gaRestartedAt = Date.now();
    ctx.progress(`${h}: docker start ${h}-ga…`);
    await docker(['start', `${h}-ga`]);
    returnedLife.set(ctx.sys, await lifeOf(`${h}-ga`));
    const estadoFinal = await waitPassive(ctx, h);
    ctx.progress(`${h}: GA ${estadoFinal}`);
    return { ga: h, gaRestartedAt, estadoFinal };
  },
  async verify(ctx, f) {
    return { verificaciones: [await sameLife(`${f.gaKilled}-ga`, returnedLife.get(ctx.sys))], datos: {} };
  },
  async restore(ctx, f) {
    await ctx.sys.waitHealthy(`${f.gaKilled}-ga`);
    await leadBesidePrimary(ctx);
  },
});

/** How long the former primary may take to come back as a standby by itself (measured 2.0-2.9 s with its crash recovery). */
const REJOIN_MAX_MS = 15_000;

const almacenamiento = (o: OpcionesEscenarios): Scenario<ContainerSystem> => ({
  name: 'almacenamiento-pc1',
  descripcion:
    'docker kill del PostgreSQL primario y del GA de su host a la vez (el host de almacenamiento); el respaldo promueve su standby; luego docker start de ambos: el PostgreSQL antiguo se reincorpora solo como standby, vuelve la replicación síncrona y el GA antiguo queda pasivo sin aceptar escrituras',
  killsPgPrimary: true,
  takeover: true,
  // The storage host's goal (docs/failover-drills.md): the other host's GA takes over after
  // GA_PEER_TIMEOUT_MS (1 s) of silence and promotes its standby; measured 1.1-1.7 s in
  // containers (2026-12-08, slowest client), on one 2-core machine running 15 containers and the load.
  recuperacionMaxMs: 3000,
  async fault(ctx): Promise<Fault> {
    const h = await ctx.sys.primaryHost();
    if (!h) throw new Error('no PostgreSQL primary before the fault');
    const oldActiveGa = activeGa(ctx);
    // The storage host is where both are: else this kills a passive GA and a primary another host's GA writes to.
    if (oldActiveGa !== h) throw new Error(`the active GA is on ${oldActiveGa}, the PostgreSQL primary on ${h}: not one storage host (run ga-primario's restore, or stop ${oldActiveGa}-ga until ${h}'s GA leads)`);
    return { ...(await fault('kill', [`${h}-postgres`, `${h}-ga`])), detalle: `docker kill ${h}-postgres ${h}-ga`, oldActiveGa, pgKilled: h, gaKilled: h };
  },
  async afterRecovery(ctx, f): Promise<ReturnInfo> {
    const h = f.gaKilled!;
    await waitTakeover(ctx, f);
    await sleep(o.retornoTrasMs);
    // The GA first, while its PostgreSQL is still down: it must not serve (nothing to serve with, and a newer timeline exists).
    const gaRestartedAt = Date.now();
    ctx.progress(`${h}: docker start ${h}-ga (su PostgreSQL sigue caído)…`);
    await docker(['start', `${h}-ga`]);
    returnedLife.set(ctx.sys, await lifeOf(`${h}-ga`));
    await sleep(1500);
    ctx.progress(`${h}: docker start ${h}-postgres (debe reincorporarse solo como standby)…`);
    await docker(['start', `${h}-postgres`]);
    const pgRejoinMs = await waitStandby(ctx, h);
    rejoinTimes.set(ctx.sys, pgRejoinMs);
    const estadoFinal = await waitPassive(ctx, h);
    // "streaming" in the report only once it does: read-only alone could be a node that diverged and waits.
    await waitStreaming(ctx, h);
    // Sync replication comes back once the rejoined standby streams: the active GA's watchdog does it (the report checks it).
    await waitReplication(ctx, 30_000);
    ctx.progress(`${h}: PostgreSQL standby en ${pgRejoinMs} ms; GA ${estadoFinal}`);
    return { ga: h, gaRestartedAt, pg: 'streaming', pgRejoinMs, estadoFinal };
  },
  async verify(ctx, f) {
    const rejoinMs = rejoinTimes.get(ctx.sys);
    return {
      verificaciones: [
        await sameLife(`${f.gaKilled}-ga`, returnedLife.get(ctx.sys)),
        { nombre: `el PostgreSQL antiguo se reincorpora solo como standby en ≤ ${REJOIN_MAX_MS / 1000} s`, ok: rejoinMs !== undefined && rejoinMs <= REJOIN_MAX_MS, detalle: `${rejoinMs ?? '—'} ms desde su docker start` },
      ],
      datos: { reincorporacionMs: rejoinMs ?? null },
    };
  },
  async restore(ctx, f) {
    await ctx.sys.waitHealthy(`${f.pgKilled}-postgres`, 120_000);
    await ctx.sys.waitHealthy(`${f.gaKilled}-ga`);
    await waitSync(ctx);
  },
});

const rejoinTimes = new WeakMap<ContainerSystem, number>();

export function escenarios(o: OpcionesEscenarios): Record<EscenarioContenedores, Scenario<ContainerSystem>> {
  return { actores, gc, 'ga-primario': gaPrimario(o), 'almacenamiento-pc1': almacenamiento(o) };
}
