/**
 * One phase of the abuse campaign against a real local system (scripts/launcher/local-system.ts):
 *
 *  1. start the system (CURVE off: 'abierto'; CURVE on: 'seguro'), make a few real
 *     operations (they become the replays) and wait until nothing is pending;
 *  2. take the checksum of libros/prestamos/operaciones and every process's RSS;
 *  3. throw `mensajes` generated messages at every socket at once (generators.ts):
 *     the GC frontend (every message must get a reply with a code), the GC backend,
 *     the GC XPUB (subscription messages), the GA socket, and the HTTP ports of the
 *     GC, the GA and an actor; in the secure phase the internal sockets are attacked
 *     from `intrusos` connections with unknown CURVE keys, no CURVE or a wrong server
 *     key, carrying forged new writes too, and each must be refused at the handshake;
 *     The storm runs in `rondas` equal rounds, each process's RSS taken after each;
 *     The sockets that answer nothing (GC backend and XPUB) stay open after each round
 *     until the GC has read everything queued on them (tcp-queues.ts), or say how much
 *     it had not: `send()` only queues, and a close drops what is still queued;
 *  4. check: every process alive and healthy, peak RSS within bounds and not growing
 *     from round to round, the checksum
 *     unchanged, every PS message answered, refusals counted (secure), and the
 *     system still serving a real request afterwards.
 *
 * An attacked process that exits stops the storm at once (storm.ts), and so does the storm's
 * time limit: the checks then run on what was sent, and the report says why it stopped.
 *
 * Transport lives here; the messages and the verdict are pure (generators.ts, checks.ts).
 */
import http from 'node:http';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { Dealer, Request, XSubscriber } from 'zeromq';
import { newCurveKeyPair } from '../../common/curve-keys.js';
import { MAX_REQUEST_BYTES, MAX_TRANSPORT_BYTES, type Respuesta } from '../../common/protocol/ps-gc.js';
import { splitEnvelope } from '../../common/envelope.js';
import { parseGaRequests } from '../../common/protocol/ga-request.js';
import type { GaStatus } from '../../gestor_almacenamiento/ga.js';
import type { GcStatus } from '../../gestor_carga/gc.js';
import { waitNoPending } from '../../gestor_almacenamiento/consistency.js';
import { MAX_SUBSCRIPTION_BYTES } from '../../gestor_carga/gc-sockets.js';
import { MAX_ACTOR_FRAME } from '../../gestor_carga/actor-backend.js';
import type { ManagedProcess } from '../launcher/child-process.js';
import { startLocalSystem, type LocalSystem, type Topology } from '../launcher/local-system.js';
import { alive as pidAlive, rssMiB } from '../../common/proc.js';

import { DEFAULT_LIMITS, dataChecksums, replyCode, verdict, type Checksums, type Limits, type ProcessFigures, type PsFigures } from './checks.js';
import { TARGETS, generate, type Context, type Hostile, type HttpPort, type Target } from './generators.js';
import { StormGuard, abortable, defaultStormLimitMs, pause, type StormStop } from './storm.js';
import { waitDrained } from './tcp-queues.js';

/** The process exists and is not a zombie. */
const alive = (pid: number | undefined): boolean => pid !== undefined && pidAlive(pid);

export type Modo = 'abierto' | 'seguro';

export interface PhaseOptions {
  /** Messages per socket. */
  mensajes: number;
  /** Only these sockets (default all): to look at one at a time. */
  sockets?: readonly Target[];
  semilla: number;
  modo: Modo;
  topologia?: Topology;
  /** The storm in this many equal rounds (default 2), RSS taken after each: growth that goes on from round to round is a leak. */
  rondas?: number;
  /** Secure phase: attacking connections per internal socket (default 60). */
  intrusos?: number;
  limits?: Limits;
  log?: (line: string) => void;
  /** Data dir of the system (its logs stay there); default a temp dir removed at the end. */
  dataDir?: string;
  /** The whole storm (all rounds) stops after this long (default defaultStormLimitMs(mensajes)): no stall makes a run last hours. */
  limiteTormentaMs?: number;
  /** How long the sockets that answer nothing stay open after a round for the server to read what they queued (default 30 s). */
  vaciadoMs?: number;
  /** Aborts the start in progress (and the storm): the campaign was interrupted. The phase then rejects, its system stopped. */
  signal?: AbortSignal;
  /** Told the start in progress (an interrupted campaign waits for it: it stops what it had started and removes its temp dir). */
  onStarting?: (starting: Promise<LocalSystem>) => void;
  /** Told the system once it runs (a launcher stops it on a signal; its stop() may be called more than once). */
  onSystem?: (sys: LocalSystem) => void;
  /** Told when the storm begins (tests: kill a process mid-storm). */
  onStormStart?: (sys: LocalSystem) => void;
}

export interface SocketFigures {
  enviados: number;
  porTipo: Record<string, number>;
  /** Replies received (PS port, GA: each request of a batch counts) or HTTP responses. */
  respuestas: number;
  /** GA: replies owed (one per request the messages carried, as the GA's parser counts them). */
  esperadas?: number;
  /** Reply codes (PS port) or HTTP statuses. */
  codigos: Record<string, number>;
  /** Sends that failed on our side (connection refused or dropped, queue full): the message never reached the server. */
  noEntregados: number;
  /**
   * Sockets that answer nothing (GC backend and XPUB, open phase): whether, before the campaign
   * closed its sockets after each round, the server had read every message queued on them
   * (false: the wait ran out or the storm stopped; what libzmq still held on our side was
   * dropped by the close); null where replies count delivery (PS port, GA, HTTP) or nothing
   * is delivered at all (intruders).
   */
  leidoPorElServidor: boolean | null;
  /** Bytes still in the connections' TCP queues (ours unsent plus the server's unread) when the sockets closed, all rounds; 0 when every round drained. */
  bytesSinLeer: number;
  /** Time waited after the rounds for the server to read what was queued. */
  esperaVaciadoMs: number;
}

export interface PhaseReport {
  modo: Modo;
  topologia: Topology;
  semilla: number;
  mensajesPorSocket: number;
  rondas: number;
  porSocket: Record<Target, SocketFigures>;
  ps: PsFigures;
  procesos: ProcessFigures[];
  caidas: number;
  checksums: { antes: Checksums; despues: Checksums };
  /** Tables among libros/prestamos/operaciones whose checksum changed. */
  cambiosDeEstado: number;
  sigueSirviendo: boolean;
  /** Secure phase: refused CURVE handshakes counted by each server socket (from /metrics). */
  rechazosCurve?: Record<string, number>;
  /** The storm's time limit (all rounds). */
  limiteTormentaMs: number;
  /** Why and when the storm stopped before its end (a process exited, or the time limit); absent if it ran to its end. */
  tormentaDetenida?: StormStop;
  duracionMs: number;
  fallos: string[];
}

/** The message indexes [desde, hasta) of one round, the same for every socket. */
export type Span = { desde: number; hasta: number };

export const emptyFigures = (): SocketFigures => ({ enviados: 0, porTipo: {}, respuestas: 0, codigos: {}, noEntregados: 0, leidoPorElServidor: null, bytesSinLeer: 0, esperaVaciadoMs: 0 });
const bump = (r: Record<string, number>, k: string, n = 1) => void (r[k] = (r[k] ?? 0) + n);

const LIBROS = Array.from({ length: 5 }, (_, i) => ({ isbn: `978-9-77-${String(i + 1).padStart(6, '0')}-0`, titulo: `Libro ${i}`, autor: 'Abuso', ejemplares: 50 }));

export async function runPhase(o: PhaseOptions): Promise<PhaseReport> {
  const log = o.log ?? (() => undefined);
  const t0 = Date.now();
  const topologia = o.topologia ?? 'single';
  if (o.signal?.aborted) throw new Error('campaña interrumpida');
  log(`[${o.modo}] arrancando el sistema (${topologia}, CURVE ${o.modo === 'seguro' ? 'activado' : 'desactivado'})…`);
  // An interrupted start stops what it had started and removes its temp dir before it rejects.
  const starting = startLocalSystem({ ports: 'free', topology: topologia, actorsPerType: 1, libros: LIBROS, seguro: o.modo === 'seguro', env: { LOG_LEVEL: 'warn' }, ...(o.dataDir ? { dataDir: o.dataDir } : {}), ...(o.signal ? { signal: o.signal } : {}) });
  o.onStarting?.(starting);
  const started = await starting;
  // One stop, whoever asks first (this phase at its end, or a launcher on a signal).
  let stopping: Promise<void> | undefined;
  const sys: LocalSystem = { ...started, stop: () => (stopping ??= started.stop()) };
  o.onSystem?.(sys);
  const db = new pg.Pool({ ...sys.pg, max: 2 });
  db.on('error', () => undefined);
  try {
    const ctx = await setup(sys, db, o.modo === 'seguro');
    const procs = processes(sys);
    // Still the process we started: its pid alive, and no exit seen on it.
    const up = (p: (typeof procs)[number]) => alive(p.pid) && p.proc.running;
    const checksumBefore = await dataChecksums(db);
    const base = new Map(procs.map((p) => [p.nombre, p.pid ? (rssMiB(p.pid) ?? null) : null]));
    const samples = new Map(procs.map((p) => [p.nombre, [] as Array<[number, number]>]));
    const aliveBefore = new Map(procs.map((p) => [p.nombre, alive(p.pid)]));
    const stormStart = Date.now();
    const sampler = setInterval(() => {
      for (const p of procs) {
        const r = p.pid ? rssMiB(p.pid) : undefined;
        if (r !== undefined) samples.get(p.nombre)!.push([Date.now(), r]);
      }
    }, 200);
    const rondas = Math.max(1, Math.min(o.rondas ?? 2, o.mensajes));
    const limiteTormentaMs = o.limiteTormentaMs ?? defaultStormLimitMs(o.mensajes);
    // An attacked process that exits, or the time limit, stops the storm at once.
    const guard = new StormGuard({
      procs: procs.map((p) => ({ nombre: p.nombre, pid: p.pid, running: () => up(p) })),
      rondas,
      limiteMs: limiteTormentaMs,
      ...(o.signal ? { outer: o.signal } : {}),
      log: (l) => log(`[${o.modo}] ${l}`),
    });
    /** Peak RSS of a process over [from, to]. */
    const peakOf = (nombre: string, from: number, to: number) => {
      const xs = samples.get(nombre)!.filter(([t]) => t >= from && t <= to).map(([, r]) => r);
      return xs.length ? Math.max(...xs) : (base.get(nombre) ?? null);
    };
    const gaBefore = o.modo === 'seguro' ? await gaCommandCounts(sys) : undefined;

    log(`[${o.modo}] ${o.mensajes} mensajes hostiles por socket (${TARGETS.join(', ')}) en ${rondas} ronda(s), semilla ${o.semilla}, límite ${(limiteTormentaMs / 1000).toFixed(0)} s…`);
    const figures = Object.fromEntries(TARGETS.map((t) => [t, emptyFigures()])) as Record<Target, SocketFigures>;
    const ps: PsFigures = { esperadas: 0, respondidas: 0, sinCodigo: 0, ajenas: 0, internas: 0, crudas: { enviadas: 0, respondidas: 0 } };
    const intrusos = o.modo === 'seguro' ? (o.intrusos ?? 60) : 0;
    const gc = sys.gcs[0]!;
    const on = (t: Target) => !o.sockets || o.sockets.includes(t);
    const progress = setInterval(() => log(`[${o.modo}] enviados: ${TARGETS.map((t) => `${t} ${figures[t].enviados}`).join(', ')}; respuestas PS ${ps.respondidas}`), 5000);
    /** Each process's RSS once each round's storm was over and its work done. */
    const afterRounds = new Map(procs.map((p) => [p.nombre, [] as Array<number | null>]));
    /** Ledger rows still PENDIENTE 30 s after a round (a write the storm let through and left running). */
    let pendientesTrasRondas = 0;
    let stormEnd = stormStart;
    const stop = guard.signal;
    const vaciadoMs = o.vaciadoMs ?? 30_000;
    try {
      o.onStormStart?.(sys);
      guard.start();
      for (let k = 0; k < rondas && !stop.aborted; k++) {
        guard.round = k + 1;
        // Every round the same shape (all sockets at once, then the slowest alone): a process
        // that keeps what it handled ends each round higher; one that only buffers does not.
        const span: Span = { desde: Math.floor((k * o.mensajes) / rondas), hasta: Math.floor(((k + 1) * o.mensajes) / rondas) };
        const a: Attack = { o, span, ctx, stop, vaciadoMs };
        await Promise.all([
          on('ps') && attackPs(sys.gcEndpoint, a, figures.ps, ps),
          on('backend') && (intrusos ? attackAsIntruder('backend', gc.backend, a, figures.backend, intrusos, sys) : attackZmq('backend', gc.backend, a, figures.backend)),
          on('pub') && (intrusos ? attackAsIntruder('pub', gc.pub, a, figures.pub, intrusos, sys) : attackPub(gc.pub, a, figures.pub)),
          on('ga') && (intrusos ? attackAsIntruder('ga', sys.gaEndpoint, a, figures.ga, intrusos, sys) : attackZmq('ga', sys.gaEndpoint, a, figures.ga)),
          on('http') && attackHttp(httpPorts(sys), a, figures.http),
        ]);
        stormEnd = Date.now();
        if (stop.aborted) break;
        // What the GA and the GC still hold from the storm finishes before we look.
        await pause(1000, stop);
        const left = (await abortable(waitNoPending(db, 30_000), stop).catch(() => 0)) ?? 0;
        if (left > 0) pendientesTrasRondas = Math.max(pendientesTrasRondas, left);
        await pause(1000, stop);
        if (stop.aborted) break;
        for (const p of procs) afterRounds.get(p.nombre)!.push(round(p.pid ? rssMiB(p.pid) : undefined));
        if (rondas > 1) log(`[${o.modo}] ronda ${k + 1}/${rondas}: RSS ${procs.map((p) => `${p.nombre} ${afterRounds.get(p.nombre)!.at(-1) ?? '—'}`).join(', ')} MiB`);
      }
    } finally {
      guard.close();
      clearInterval(progress);
      clearInterval(sampler);
    }
    if (o.signal?.aborted) throw new Error('campaña interrumpida');
    const tormentaDetenida = guard.stopped;
    for (const t of ['backend', 'pub'] as const) {
      const f = figures[t];
      if (f.leidoPorElServidor === false && !tormentaDetenida) log(`[${o.modo}] ${t}: el servidor no había leído todo lo encolado al cerrar los sockets (${f.bytesSinLeer} bytes en las colas TCP, más lo que guardara libzmq, que el cierre descarta): parte de los ${f.enviados} mensajes pudo no llegar`);
    }

    const checksumAfter = await dataChecksums(db);
    const checksumAfterAt = Date.now();
    const rechazosCurve = o.modo === 'seguro' ? await curveRefusals(sys) : undefined;
    const gaAfter = o.modo === 'seguro' ? await gaCommandCounts(sys) : undefined;
    const procesos: ProcessFigures[] = [];
    // Each process's own time to answer /health again: asked all at once.
    const healthAt = new Map(
      await Promise.all(procs.map(async (p) => [p.nombre, up(p) && (await healthyWithin(p.proc, stormEnd + 60_000)) ? Date.now() : undefined] as const)),
    );
    for (const p of procs) {
      const vivo = up(p);
      const at = healthAt.get(p.nombre);
      const health = p.proc.spec.httpPort ? at !== undefined : null;
      procesos.push({
        nombre: p.nombre,
        pid: p.pid,
        vivoAntes: aliveBefore.get(p.nombre) ?? false,
        vivoDespues: vivo,
        saludDespues: health,
        saludTrasMs: at !== undefined ? at - stormEnd : null,
        rssBaseMiB: round(base.get(p.nombre)),
        rssTrasRondasMiB: afterRounds.get(p.nombre)!,
        rssMaxMiB: round(peakOf(p.nombre, stormStart, Date.now())),
        rssFinalMiB: round(p.pid ? rssMiB(p.pid) : undefined),
      });
    }
    // Once more a GC lease (GC_LEASE_MS, 6 s) after the first look, before stillServes writes: a
    // write still on its way (a ledger scan, a late task) would change them meanwhile. The
    // figures above were gathered in that time.
    await pause(Math.max(0, 6000 - (Date.now() - checksumAfterAt)), stop);
    const checksumLater = await dataChecksums(db);
    const sigueSirviendo = await stillServes(sys);
    const cambiosDeEstado = (['libros', 'prestamos', 'operaciones'] as const).filter((t) => checksumBefore[t] !== checksumAfter[t]).length;
    const fallos = verdict(
      {
        processes: procesos,
        ps,
        checksumBefore,
        checksumAfter,
        checksumLater,
        pendingAfterRounds: pendientesTrasRondas,
        delivery: TARGETS.filter((t) => on(t)).map((t) => ({ socket: t, figures: figures[t] })),
        stillServes: sigueSirviendo,
        ...(tormentaDetenida ? { stormStop: tormentaDetenida } : {}),
        ...(rechazosCurve ? { refusals: Object.fromEntries((['gc-backend', 'gc-pub', 'ga'] as const).map((s) => [s, { counted: rechazosCurve[s] ?? 0, atLeast: unknownKeyConnections(intrusos) }])) } : {}),
      },
      o.limits ?? DEFAULT_LIMITS,
    );
    // Secure phase: no intruder message reached the GA's handler. Half of them are malformed,
    // which the GC never sends (the GC's own traffic, driven by the PS port, is well-formed).
    if (gaBefore && gaAfter) {
      const invalid = (gaAfter.invalida ?? 0) - (gaBefore.invalida ?? 0);
      if (invalid !== 0) fallos.push(`GA: ${invalid} malformed requests reached its handler`);
      const strangers = (await sys.gc.status<GcStatus>())?.actores.filter((a) => !ctx.actors.some((r) => r.actorId === a.actorId)) ?? [];
      if (strangers.length) fallos.push(`GC: ${strangers.length} actors it does not know reached its registry`);
    }
    return {
      modo: o.modo,
      topologia,
      semilla: o.semilla,
      mensajesPorSocket: o.mensajes,
      rondas,
      porSocket: figures,
      ps,
      procesos,
      caidas: procesos.filter((p) => p.vivoAntes && !p.vivoDespues).length,
      checksums: { antes: checksumBefore, despues: checksumAfter },
      cambiosDeEstado,
      sigueSirviendo,
      ...(rechazosCurve ? { rechazosCurve } : {}),
      limiteTormentaMs,
      ...(tormentaDetenida ? { tormentaDetenida } : {}),
      duracionMs: Date.now() - t0,
      fallos,
    };
  } finally {
    await db.end().catch(() => undefined);
    await sys.stop();
  }
}

const round = (x: number | null | undefined) => (x === null || x === undefined ? null : Math.round(x * 10) / 10);

// ---------------------------------------------------------------- setup and probes

/** A few real operations through the PS port (they become the replays), then nothing pending. */
async function setup(sys: LocalSystem, db: pg.Pool, forgedWrites: boolean): Promise<Context> {
  const isbns = LIBROS.map((l) => l.isbn);
  const requests = [
    { operacion: 'prestamo', isbn: isbns[0], usuario: 'abuso-a', clave: 'abuso-setup-1' },
    { operacion: 'prestamo', isbn: isbns[1], usuario: 'abuso-b', clave: 'abuso-setup-2' },
    { operacion: 'prestamo', isbn: isbns[2], usuario: 'abuso-c', clave: 'abuso-setup-3' },
    { operacion: 'renovacion', isbn: isbns[0], usuario: 'abuso-a', clave: 'abuso-setup-4' },
    { operacion: 'devolucion', isbn: isbns[1], usuario: 'abuso-b', clave: 'abuso-setup-5' },
  ];
  const req = new Request({ linger: 0, receiveTimeout: 20_000, sendTimeout: 20_000 });
  req.connect(sys.gcEndpoint);
  try {
    for (const r of requests) {
      await req.send(JSON.stringify(r));
      const [reply] = await req.receive();
      const res = JSON.parse(reply!.toString()) as Respuesta;
      if (!res.exito) throw new Error(`setup: ${r.operacion} ${r.clave} → ${res.codigo}: ${res.mensaje}`);
    }
  } finally {
    req.close();
  }
  await waitNoPending(db, 30_000);
  return {
    isbns,
    // One entry per (type, actor): an actor process may serve several types.
    actors: sys.actors.flatMap((a) => (a.spec.env.ACTOR_TIPOS ?? '').split(',').filter(Boolean).map((tipo) => ({ tipo, actorId: a.spec.env.ACTOR_ID! }))),
    psReplays: requests.map((r) => JSON.stringify(r)),
    opReplays: requests.map((r) => ({ operacion: r.operacion, isbn: r.isbn!, usuario: r.usuario, id: r.clave })),
    forgedWrites,
    limits: { psRequestBytes: MAX_REQUEST_BYTES, psTransportBytes: MAX_TRANSPORT_BYTES, actorFrameBytes: MAX_ACTOR_FRAME, gaTransportBytes: MAX_TRANSPORT_BYTES, subscriptionBytes: MAX_SUBSCRIPTION_BYTES },
  };
}

interface Proc {
  nombre: string;
  pid: number | undefined;
  proc: ManagedProcess;
}

function processes(sys: LocalSystem): Proc[] {
  const all = [...sys.gcs.map((g) => g.process), sys.ga, ...(sys.gaBackup ? [sys.gaBackup] : []), ...sys.actors];
  return all.map((p) => ({ nombre: p.spec.name, pid: p.pid, proc: p }));
}

/** Whether GET /health answers 200 before `deadline` (asked again while it does not). */
async function healthyWithin(p: ManagedProcess, deadline: number): Promise<boolean | null> {
  if (!p.spec.httpPort) return null;
  for (;;) {
    try {
      const r = await fetch(`http://${p.spec.httpHost ?? '127.0.0.1'}:${p.spec.httpPort}/health`, { signal: AbortSignal.timeout(3000) });
      if (r.ok) return true;
    } catch {
      /* busy or gone: ask again */
    }
    if (Date.now() > deadline || !p.running) return false;
    await sleep(250);
  }
}

function httpPorts(sys: LocalSystem): Record<HttpPort, { host: string; port: number }> {
  const of = (p: ManagedProcess) => ({ host: p.spec.httpHost ?? '127.0.0.1', port: p.spec.httpPort! });
  return { gc: of(sys.gc), ga: of(sys.ga), actor: of(sys.actors[0]!) };
}

/**
 * A real préstamo and its devolución after the storm (after the checksum: they change the data
 * on purpose). A refusal that says "not applied, retry" (no live actor yet: over plain ZeroMQ the
 * storm's forged adios take real actors out for 2 × ACTOR_DEAD_MS) is retried, same clave, for 15 s.
 */
async function stillServes(sys: LocalSystem): Promise<boolean> {
  if (!sys.gc.running) return false; // its PS port is gone: no need to wait out a timeout
  const req = new Request({ linger: 0, receiveTimeout: 20_000, sendTimeout: 20_000 });
  req.connect(sys.gcEndpoint);
  const until = Date.now() + 15_000;
  try {
    // Every library actor type: a renovación actor wedged by the storm would pass a préstamo and a devolución.
    for (const [operacion, codigo] of [['prestamo', 'APROBADO'], ['renovacion', 'APROBADO'], ['devolucion', 'ACEPTADO']] as const) {
      for (;;) {
        await req.send(JSON.stringify({ operacion, isbn: LIBROS[4]!.isbn, usuario: 'abuso-despues', clave: `abuso-despues-${operacion}` }));
        const [reply] = await req.receive();
        const got = (JSON.parse(reply!.toString()) as Respuesta).codigo;
        if (got === codigo) break;
        if (!['SIN_ACTORES', 'ALMACENAMIENTO_NO_DISPONIBLE'].includes(got) || Date.now() > until) return false;
        await sleep(250);
      }
    }
    return true;
  } catch {
    return false;
  } finally {
    req.close();
  }
}

async function metricsOf(p: ManagedProcess): Promise<string> {
  try {
    const r = await fetch(`http://${p.spec.httpHost ?? '127.0.0.1'}:${p.spec.httpPort}/metrics`, { signal: AbortSignal.timeout(3000) });
    return await r.text();
  } catch {
    return '';
  }
}

/** zmq_curve_refused_total per server socket of the attacked GC and GA. */
async function curveRefusals(sys: LocalSystem): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const text of [await metricsOf(sys.gc), await metricsOf(sys.ga)]) {
    for (const m of text.matchAll(/^zmq_curve_refused_total\{socket="([^"]+)"[^}]*\} (\d+)/gm)) out[m[1]!] = (out[m[1]!] ?? 0) + Number(m[2]);
  }
  return out;
}

/** The attacked GA's requests by command (its /status). */
async function gaCommandCounts(sys: LocalSystem): Promise<Record<string, number>> {
  return (await sys.ga.status<GaStatus>())?.solicitudes.porOrden ?? {};
}

// ---------------------------------------------------------------- transports

/** One round of one socket's storm: its messages, and the signal that stops the storm early (storm.ts). */
export interface Attack {
  o: Pick<PhaseOptions, 'semilla'>;
  span: Span;
  ctx: Context;
  stop: AbortSignal;
  /** How long the sockets that answer nothing stay open for the server to read what they queued. */
  vaciadoMs: number;
}

/** Raw bytes on a fresh TCP connection; waits for the server to close it or 1 s (or the storm to stop). */
function rawTcp(endpoint: string, bytes: Buffer, stop?: AbortSignal): Promise<boolean> {
  const u = new URL(endpoint.replace(/^tcp:/, 'http:'));
  return new Promise((resolve) => {
    const s = net.connect({ host: u.hostname, port: Number(u.port) });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      stop?.removeEventListener('abort', onStop);
      s.destroy();
      resolve(ok);
    };
    const onStop = () => done(true);
    stop?.addEventListener('abort', onStop, { once: true });
    const timer = setTimeout(() => done(true), 1000);
    s.on('error', () => done(false));
    s.on('close', () => done(true));
    s.on('data', () => undefined);
    s.write(bytes, () => s.end());
  });
}

/** A message over its size limit, on a connection of its own (the server drops that connection). */
async function throwaway(endpoint: string, frames: Buffer[], kind: 'dealer' | 'xsub' = 'dealer'): Promise<void> {
  const d = kind === 'xsub' ? new XSubscriber({ linger: 200, sendTimeout: 2000 }) : new Dealer({ linger: 200, sendTimeout: 2000 });
  d.connect(endpoint);
  try {
    await d.send(frames);
    await sleep(50);
  } finally {
    d.close();
  }
}

function count(f: SocketFigures, h: Hostile): void {
  f.enviados++;
  bump(f.porTipo, h.kind);
}

/** Replies in one GA message: a batch (JSON array) carries several. */
function replyItems(frame: Buffer | undefined): number {
  try {
    const body = JSON.parse(frame?.toString('utf8') ?? '') as unknown;
    return Array.isArray(body) ? body.length : 1;
  } catch {
    return 1;
  }
}

/** How many replies the GA owes a message: one per request its body carries, as its own parser counts them. */
function gaRequestsIn(frames: Array<Buffer | string>): number {
  const { body } = splitEnvelope([Buffer.from('id'), ...frames.map((x) => (typeof x === 'string' ? Buffer.from(x) : x))]);
  return parseGaRequests(body).length;
}

const portOf = (endpoint: string) => Number(new URL(endpoint.replace(/^tcp:/, 'http:')).port);

/**
 * Sockets that answer nothing: before they close (linger 0 drops whatever is still queued), the
 * server must have read everything they queued. Waits, sockets open, for that (tcp-queues.ts),
 * at most `vaciadoMs`, and records whether it happened and what was left.
 */
async function drainBeforeClose(endpoint: string, conns: number, a: Attack, f: SocketFigures): Promise<void> {
  if (a.stop.aborted) {
    f.leidoPorElServidor = false;
    return;
  }
  const d = await waitDrained(portOf(endpoint), { conexiones: conns, timeoutMs: a.vaciadoMs, signal: a.stop });
  f.leidoPorElServidor = (f.leidoPorElServidor ?? true) && d.vaciado;
  f.bytesSinLeer += d.bytesSinLeer;
  f.esperaVaciadoMs += d.esperaMs;
}

/**
 * The PS port: DEALERs pipelining up to `window` messages each; every message but
 * those over the transport limit must come back answered with a known code.
 */
async function attackPs(endpoint: string, a: Attack, f: SocketFigures, ps: PsFigures): Promise<void> {
  const { o, span, ctx, stop } = a;
  const CONNS = 4;
  const WINDOW = 200;
  /** A reply's code: counted, or counted as missing; an internal error noted. */
  const tally = (frames: Buffer[]) => {
    const code = replyCode(frames[frames.length - 1]);
    if (code) bump(f.codigos, code);
    else ps.sinCodigo++;
    if (code === 'ERROR_INTERNO') ps.internas++;
  };
  // Each message goes behind its own sequence number and a delimiter ([seq, '', body…]): the GC
  // echoes its envelope, so every reply names the message it answers. A count alone let a
  // dropped reply and a duplicated one cancel out.
  const conns = Array.from({ length: CONNS }, () => {
    const sock = new Dealer({ linger: 0, sendHighWaterMark: 0, receiveHighWaterMark: 0 });
    sock.connect(endpoint);
    const c = { sock, pending: new Set<string>(), wake: undefined as (() => void) | undefined };
    void (async () => {
      try {
        for await (const frames of sock) {
          const seq = frames[0]?.toString('utf8') ?? '';
          f.respuestas++;
          if (!c.pending.delete(seq)) {
            ps.ajenas++;
            continue;
          }
          ps.respondidas++;
          tally(frames);
          c.wake?.();
        }
      } catch {
        /* closed */
      }
    })();
    return c;
  });
  const waitBelow = async (c: (typeof conns)[number], n: number, ms: number) => {
    const until = Date.now() + ms;
    while (c.pending.size >= n && Date.now() < until && !stop.aborted) await new Promise<void>((r) => ((c.wake = r), setTimeout(r, 100)));
  };
  // Messages with the wrong number of frames go as they are, on a connection of their own: behind
  // [seq, ''] the GC would take our delimiter for the envelope's end, and the attacker's own
  // frames would never be tested as one. Their replies can only be counted, not matched.
  const raw = new Dealer({ linger: 0, sendHighWaterMark: 0, receiveHighWaterMark: 0 });
  raw.connect(endpoint);
  let rawWake: (() => void) | undefined;
  void (async () => {
    try {
      for await (const frames of raw) {
        f.respuestas++;
        ps.crudas.respondidas++;
        tally(frames);
        rawWake?.();
      }
    } catch {
      /* closed */
    }
  })();
  const rawOutstanding = () => ps.crudas.enviadas - ps.crudas.respondidas;
  const waitRaw = async (n: number, ms: number) => {
    const until = Date.now() + ms;
    while (rawOutstanding() >= n && Date.now() < until && !stop.aborted) await new Promise<void>((r) => ((rawWake = r), setTimeout(r, 100)));
  };
  try {
    for (let i = span.desde; i < span.hasta && !stop.aborted; i++) {
      const h = generate('ps', o.semilla, i, ctx);
      if (h.throwaway) {
        count(f, h);
        await abortable(throwaway(endpoint, h.frames!), stop).catch(() => f.noEntregados++);
        continue;
      }
      if (h.kind === 'wrong-frame-count') {
        await waitRaw(WINDOW, 30_000);
        if (stop.aborted) break;
        count(f, h);
        ps.crudas.enviadas++;
        await abortable(raw.send(h.frames!), stop);
        continue;
      }
      const c = conns[i % CONNS]!;
      await waitBelow(c, WINDOW, 30_000);
      if (stop.aborted) break;
      count(f, h);
      c.pending.add(String(i));
      ps.esperadas++;
      await abortable(c.sock.send([String(i), '', ...h.frames!]), stop);
    }
    for (const c of conns) await waitBelow(c, 1, 60_000);
    await waitRaw(1, 60_000);
  } finally {
    for (const c of conns) c.sock.close();
    raw.close();
  }
}

/** GC backend or GA socket over plain ZeroMQ (the open phase): DEALERs, raw TCP for ZMTP garbage, own connections for oversized frames. */
export async function attackZmq(target: 'backend' | 'ga', endpoint: string, a: Attack, f: SocketFigures): Promise<void> {
  const { o, span, ctx, stop } = a;
  const CONNS = 4;
  // The GA answers every message: at most this many unanswered per connection (the GC backend answers nothing).
  const WINDOW = 500;
  const conns = Array.from({ length: CONNS }, () => {
    const sock = new Dealer({ linger: 0, sendHighWaterMark: 10_000, sendTimeout: 5000 });
    sock.connect(endpoint);
    const c = { sock, outstanding: 0 };
    void (async () => {
      try {
        for await (const frames of sock) {
          // The GA answers each request as it is done, those done together in one batch message.
          const n = replyItems(frames[frames.length - 1]);
          c.outstanding -= n;
          f.respuestas += n;
        }
      } catch {
        /* closed */
      }
    })();
    return c;
  });
  try {
    for (let i = span.desde; i < span.hasta && !stop.aborted; i++) {
      const h = generate(target, o.semilla, i, ctx);
      count(f, h);
      if (h.raw) {
        if (!(await rawTcp(endpoint, h.raw, stop))) f.noEntregados++;
        continue;
      }
      if (h.throwaway) {
        await abortable(throwaway(endpoint, h.frames!), stop).catch(() => f.noEntregados++);
        continue;
      }
      const c = conns[i % CONNS]!;
      if (target === 'ga') for (const until = Date.now() + 10_000; c.outstanding >= WINDOW && Date.now() < until && !stop.aborted; ) await sleep(2);
      try {
        await abortable(c.sock.send(h.frames!), stop);
        if (target === 'ga') {
          const n = gaRequestsIn(h.frames!);
          c.outstanding += n;
          f.esperadas = (f.esperadas ?? 0) + n;
        }
      } catch {
        f.noEntregados++;
      }
    }
    if (target === 'ga') for (const until = Date.now() + 30_000; conns.some((c) => c.outstanding > 0) && Date.now() < until && !stop.aborted; ) await sleep(20);
    // The GA's replies say what it read; the GC backend says nothing.
    if (target === 'backend') await drainBeforeClose(endpoint, CONNS, a, f);
  } finally {
    for (const c of conns) c.sock.close();
  }
}

/** The GC's XPUB: raw subscription messages from XSUB sockets (tasks they may receive are drained). */
async function attackPub(endpoint: string, a: Attack, f: SocketFigures): Promise<void> {
  const { o, span, ctx, stop } = a;
  const CONNS = 4;
  const conns = Array.from({ length: CONNS }, () => {
    const sock = new XSubscriber({ linger: 0, sendHighWaterMark: 10_000, sendTimeout: 5000 });
    sock.connect(endpoint);
    void (async () => {
      try {
        for await (const _ of sock) f.respuestas++;
      } catch {
        /* closed */
      }
    })();
    return sock;
  });
  try {
    for (let i = span.desde; i < span.hasta && !stop.aborted; i++) {
      const h = generate('pub', o.semilla, i, ctx);
      count(f, h);
      if (h.raw) {
        if (!(await rawTcp(endpoint, h.raw, stop))) f.noEntregados++;
        continue;
      }
      if (h.throwaway) {
        await abortable(throwaway(endpoint, h.frames!, 'xsub'), stop).catch(() => f.noEntregados++);
        continue;
      }
      try {
        await abortable(conns[i % CONNS]!.send(h.frames!), stop);
      } catch {
        f.noEntregados++;
      }
    }
    await drainBeforeClose(endpoint, CONNS, a, f);
  } finally {
    for (const s of conns) s.close();
  }
}

/**
 * Secure phase, internal sockets: `n` connections that cannot authenticate — an
 * unknown CURVE key with the server's real public key (the ZAP handler refuses and
 * counts it), no CURVE at all, or a wrong server key (the handshake fails) — each
 * offering its share of the messages, forged new writes included. A message "sent"
 * here is queued on our side and never accepted by the server; raw ZMTP garbage
 * goes straight at the CURVE handshake.
 */
async function attackAsIntruder(target: 'backend' | 'pub' | 'ga', endpoint: string, a: Attack, f: SocketFigures, n: number, sys: LocalSystem): Promise<void> {
  const { o, span, ctx, stop } = a;
  const serverKey = target === 'ga' ? serverKeyOf(sys, 'ga') : serverKeyOf(sys, 'gc');
  const socks = Array.from({ length: n }, (_, i) => {
    const k = newCurveKeyPair();
    const variant = i % 3;
    const curve = variant === 0 ? { curveSecretKey: k.secretKey, curvePublicKey: k.publicKey, curveServerKey: serverKey } : variant === 2 ? { curveSecretKey: k.secretKey, curvePublicKey: k.publicKey, curveServerKey: newCurveKeyPair().publicKey } : {};
    const opts = { linger: 0, sendTimeout: 0, sendHighWaterMark: 1000, reconnectInterval: 100, ...curve };
    const s = target === 'pub' ? new XSubscriber(opts) : new Dealer(opts);
    s.connect(endpoint);
    void (async () => {
      try {
        for await (const _ of s) f.respuestas++; // nothing may ever arrive
      } catch {
        /* closed */
      }
    })();
    return s;
  });
  try {
    for (let i = span.desde; i < span.hasta && !stop.aborted; i++) {
      const h = generate(target, o.semilla, i, ctx);
      count(f, h);
      if (h.raw) {
        if (!(await rawTcp(endpoint, h.raw, stop))) f.noEntregados++;
        continue;
      }
      if (h.throwaway) continue; // over the size limit: refused at the handshake like the rest
      try {
        await socks[i % n]!.send(h.frames!);
      } catch {
        f.noEntregados++; // our queue is full: the server never took a message
      }
      if (i % 1000 === 0) await sleep(1);
    }
    // Let the handshakes be tried (and refused) a few times.
    await pause(1500, stop);
  } finally {
    for (const s of socks) s.close();
  }
}

/** Intruder connections with an unknown key and the server's real public key: variant 0 of every 3. */
function unknownKeyConnections(n: number): number {
  return Math.ceil(n / 3);
}

function serverKeyOf(sys: LocalSystem, role: 'ga' | 'gc'): string {
  const id = role === 'ga' ? `ga-${sys.ga.spec.host ?? 'pc1'}` : `gc-${sys.gcs[0]!.host}`;
  const k = sys.curvePublicKeys?.[id];
  if (!k) throw new Error(`no CURVE public key for ${id}`);
  return k;
}

/** HTTP ports of the GC, the GA and an actor: kept-alive requests, raw bytes on fresh connections. */
async function attackHttp(ports: Record<HttpPort, { host: string; port: number }>, a: Attack, f: SocketFigures): Promise<void> {
  const { o, span, ctx, stop } = a;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const WORKERS = 12;
  let next = span.desde;
  const one = async (h: Hostile) => {
    const { host, port } = ports[h.http!.port];
    if (h.raw) {
      if (!(await rawTcp(`tcp://${host}:${port}`, h.raw, stop))) f.noEntregados++;
      return;
    }
    const r = h.http!;
    await new Promise<void>((resolve) => {
      const req = http.request({ host, port, method: r.method, path: r.path, headers: r.headers, agent, timeout: 10_000, signal: stop }, (res) => {
        f.respuestas++;
        bump(f.codigos, String(res.statusCode));
        res.resume();
        res.on('end', resolve);
        res.on('error', () => resolve());
        res.on('close', () => resolve());
      });
      req.on('timeout', () => req.destroy());
      req.on('error', () => {
        if (!stop.aborted) f.noEntregados++; // stopped by the storm's end: not the server's doing
        resolve();
      });
      req.end(r.body);
    });
  };
  try {
    await Promise.all(
      Array.from({ length: WORKERS }, async () => {
        while (next < span.hasta && !stop.aborted) {
          const h = generate('http', o.semilla, next++, ctx);
          count(f, h);
          await one(h);
        }
      }),
    );
  } finally {
    agent.destroy();
  }
}
