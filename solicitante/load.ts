/**
 * Load generator: N closed-loop clients (each waits for its reply before
 * sending the next) for a fixed duration, latency per operation recorded in
 * HDR histograms. Library function: the CLI, the benchmark and tests call it
 * in-process; it prints nothing (progress goes to a callback).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { Context } from 'zeromq';
import { OPERACIONES_ACTOR, type OperacionActor, type Respuesta } from '../common/protocol/ps-gc.js';
import { isSuccessCode } from '../common/protocol/codes.js';
import { GcClientClosedError, GcNoReplyError } from './errors.js';
import { GcClient } from './gc-client.js';
import { GcPipelineClient } from './gc-pipeline.js';
import { idGenerator } from './ids.js';
import { LatencyRecorder, round2, type LatencySummary } from './latency.js';
import { SeriesRecorder, type Serie } from './series.js';
import { DEMO_ISBN } from './test-sistema.js';
import type { GcCaller } from './types.js';

export type LoadPattern = { tipo: 'secuencia' } | { tipo: 'mezcla'; pesos: Partial<Record<OperacionActor, number>> };

export interface LoadOptions {
  /** The GCs, in the PS's order (own sede's first); ignored when `gc` is given. */
  endpoints?: readonly string[];
  /**
   * Spread the clients over the GCs like PS of every sede: client i puts the (i mod n)-th
   * GC first (and keeps the others, in order, to fail over to). Default: all use the list as given.
   */
  repartir?: boolean;
  /** A client shared by all simulated clients; it must allow concurrent calls. Not closed by runLoad. */
  gc?: GcCaller;
  clientes: number;
  duracionS: number;
  /** Default: the sequence préstamo → renovación → devolución (a cycle ends early when its préstamo fails). */
  carga?: LoadPattern;
  /** Books to use; client i works on isbns[i % n]. Default the demo ISBN. */
  isbns?: string[];
  timeoutMs?: number;
  retries?: number;
  sede?: string;
  /** 'dealer': one pipelined socket for all clients (default); 'req': one REQ socket per client, like N separate PS. */
  transporte?: 'dealer' | 'req';
  /** Prefix of the generated usuarios; default unique per run so runs don't collide. */
  prefijoUsuario?: string;
  onProgreso?: (p: LoadProgress) => void;
  intervaloProgresoMs?: number;
  /** GCs a probe just found not listening (gc-probe.ts): every client starts with them suspect. */
  downAtStart?: readonly string[];
  /** Stops the run early (Ctrl-C): requests in flight finish, open loans are returned, the report covers what ran. */
  signal?: AbortSignal;
}

export interface LoadProgress {
  transcurridoMs: number;
  respuestas: number;
  /** Replies per second over the last interval (what the run is doing now). */
  respPorSegundoAhora: number;
  /** Replies per second since the start (what the final report calls resp/s). */
  respPorSegundoMedia: number;
  sinRespuesta: number;
  /** Replies with a non-success code. */
  rechazadas: number;
}

export interface LoadReport extends LatencySummary {
  /** Replies per GC (endpoint that answered); empty when an injected `gc` does not say. */
  porGc: Record<string, number>;
  inicio: string;
  fin: string;
  duracionMs: number;
  config: {
    clientes: number;
    duracionS: number;
    carga: LoadPattern;
    isbns: string[];
    transporte: 'dealer' | 'req';
    endpoints?: readonly string[];
    repartir: boolean;
    prefijoUsuario: string;
  };
  /** Per-second replies, failures and latency per operation (charts of the HTML report). */
  serie: Serie;
}

/** The list as PS of the i-th sede would have it: its own GC first, the rest in order. */
export function rotated<T>(list: readonly T[], i: number): T[] {
  const k = list.length === 0 ? 0 : i % list.length;
  return [...list.slice(k), ...list.slice(0, k)];
}

/**
 * Most simulated clients a run takes (`--clientes`): each costs memory and, with `--transporte
 * req`, a socket and its file descriptors; two billion ran out of heap before sending anything.
 */
export const MAX_CLIENTES = 10_000;

/**
 * The context of the REQ transport's sockets. zeromq's default context allows 1023 sockets
 * (ZMQ_MAX_SOCKETS), and a REQ client holds three (its REQ and the two of the monitor that
 * tells it the GC's connection dropped), more while a ping or a replaced socket is in flight:
 * past about 340 clients `new Request` threw EMFILE ("Too many open file descriptors"). A
 * context of their own with libzmq's largest socket limit, rather than a bound of ~340 on
 * --clientes: `req` simulates N separate PS and should reach as many as the process's file
 * descriptors allow (maxClientesReq). Created on first use, kept for the process like zeromq's
 * global one.
 */
let reqContext: Context | undefined;
const reqSocketContext = (): Context => (reqContext ??= new Context({ maxSockets: 65_535 }));

/**
 * File descriptors one REQ client may need: 4 held (the REQ socket's mailbox and TCP
 * connection, the mailboxes of its monitor's two sockets) and 2 more while a ping or a
 * replaced socket is in flight.
 */
const FDS_POR_CLIENTE_REQ = 6;
/** Descriptors left for everything else (stdio, the GC probe, report files, zeromq's own). */
const FDS_RESERVA = 128;

/**
 * How many REQ clients fit in `limits` (the text of /proc/self/limits) with `enUso`
 * descriptors already open; MAX_CLIENTES when the limit is unknown or unlimited. Pure.
 */
export function clientesReqQueCaben(limits: string | undefined, enUso: number): number {
  const m = limits ? /^Max open files\s+(\d+|unlimited)/m.exec(limits) : null;
  if (!m || m[1] === 'unlimited') return MAX_CLIENTES;
  return Math.max(0, Math.min(MAX_CLIENTES, Math.floor((Number(m[1]) - enUso - FDS_RESERVA) / FDS_POR_CLIENTE_REQ)));
}

/**
 * Most `--transporte req` clients this process can run: its open-file limit (which Node raises
 * to the hard limit at start) must hold them. Checked before the run, because running out
 * midway is not recoverable: libzmq then fails to create a socket's monitor, and closing that
 * socket blocks its context's reaper for good (no socket of it is freed, and the process never
 * exits). Outside Linux (no /proc) only MAX_CLIENTES applies.
 */
export function maxClientesReq(): number {
  try {
    return clientesReqQueCaben(readFileSync('/proc/self/limits', 'utf8'), readdirSync('/proc/self/fd').length);
  } catch {
    return MAX_CLIENTES;
  }
}

/**
 * The run stopped on an error that is not a missing reply (no socket or descriptor left, an
 * unreadable reply): counting it as "sin respuesta" made every client retry at once, spinning
 * the event loop, and reported nonsense. The message is the user's (Spanish).
 */
export class CargaDetenidaError extends Error {
  override name = 'CargaDetenidaError';
  constructor(readonly causa: unknown) {
    const e = causa as { message?: string; code?: string };
    const hint = e?.code === 'EMFILE' || e?.code === 'ENFILE' ? ' (demasiados sockets o ficheros abiertos: use menos --clientes, o --transporte dealer)' : '';
    super(`la carga se detuvo: ${e?.message ?? String(causa)}${hint}`);
  }
}

export const DEFAULT_MIX: Record<OperacionActor, number> = { prestamo: 50, devolucion: 25, renovacion: 25 };

/** A weight: a non-negative number written plainly (no sign, exponent, hex or empty value). */
const PESO = /^(\d+(\.\d*)?|\.\d+)$/;

/** "prestamo=50,devolucion=25,renovacion=25" → weights; throws with a Spanish message when malformed. */
export function parseMix(text: string): Record<OperacionActor, number> {
  const weights: Record<OperacionActor, number> = { prestamo: 0, devolucion: 0, renovacion: 0 };
  const seen = new Set<OperacionActor>();
  for (const part of text.split(',').map((x) => x.trim()).filter(Boolean)) {
    // Exactly name=number: 'prestamo=' is not a weight of 0, 'prestamo=50=7' not one of 50.
    const m = /^([^=]*)=([^=]*)$/.exec(part);
    const k = m?.[1]?.trim().toLowerCase() ?? '';
    const v = m?.[2]?.trim() ?? '';
    const op = OPERACIONES_ACTOR.find((o) => o === k || o.slice(0, 4) === k);
    if (!op || !PESO.test(v)) throw new Error(`Mezcla no válida '${part}' (cada parte es operación=peso, p.ej. prestamo=50,devolucion=25,renovacion=25)`);
    if (seen.has(op)) throw new Error(`Mezcla no válida: ${op} aparece más de una vez`);
    seen.add(op);
    weights[op] = Number(v);
  }
  if (Object.values(weights).every((n) => n === 0)) throw new Error('La mezcla debe tener algún peso mayor que 0');
  return weights;
}

function pickOperacion(weights: Partial<Record<OperacionActor, number>>): OperacionActor {
  const entries = OPERACIONES_ACTOR.map((o) => [o, weights[o] ?? 0] as const);
  const total = entries.reduce((a, [, n]) => a + n, 0);
  let x = Math.random() * total;
  for (const [o, n] of entries) {
    if ((x -= n) < 0) return o;
  }
  return entries[entries.length - 1]![0];
}

export async function runLoad(opts: LoadOptions): Promise<LoadReport> {
  if (!opts.gc && !opts.endpoints?.length) throw new Error('runLoad: hace falta endpoints o gc');
  if (!Number.isSafeInteger(opts.clientes) || opts.clientes < 1 || opts.clientes > MAX_CLIENTES) throw new Error(`runLoad: clientes debe ser un entero entre 1 y ${MAX_CLIENTES}`);
  const pattern: LoadPattern = opts.carga ?? { tipo: 'secuencia' };
  const isbns = opts.isbns?.length ? opts.isbns : [DEMO_ISBN];
  const transport = opts.transporte ?? 'dealer';
  const maxReq = transport === 'req' && !opts.gc ? maxClientesReq() : Infinity;
  if (opts.clientes > maxReq) throw new Error(`runLoad: con el transporte req caben como mucho ${maxReq} clientes (límite de ficheros abiertos)`);
  const prefix = opts.prefijoUsuario ?? `carga-${randomBytes(3).toString('hex')}`;
  const makeId = idGenerator(prefix);
  const endpoints = opts.endpoints ?? [];
  const repartir = !!opts.repartir && endpoints.length > 1;
  const clientOpts = (i: number) => ({ endpoints: repartir ? rotated(endpoints, i) : endpoints, downAtStart: opts.downAtStart, timeoutMs: opts.timeoutMs ?? 5000, retries: opts.retries ?? 3, sede: opts.sede, makeId });

  // Clients we create we also close; an injected one belongs to the caller.
  const owned: GcCaller[] = [];
  // dealer: one pipelined client per distinct GC order (one when not spreading).
  const pipelines = new Map<number, GcCaller>();
  const clientFor = (i: number): GcCaller => {
    if (opts.gc) return opts.gc;
    if (transport === 'dealer') {
      const k = repartir ? i % endpoints.length : 0;
      let c = pipelines.get(k);
      if (!c) {
        pipelines.set(k, (c = new GcPipelineClient(clientOpts(k))));
        owned.push(c);
      }
      return c;
    }
    const c = new GcClient({ ...clientOpts(i), context: reqSocketContext() });
    owned.push(c);
    return c;
  };
  const porGc: Record<string, number> = {};

  const rec = new LatencyRecorder();
  const startedAt = new Date();
  const t0 = performance.now();
  const series = new SeriesRecorder(startedAt.getTime());
  const deadline = t0 + opts.duracionS * 1000;
  let stopped = false;
  /** The first error that is not a missing reply: it stops every client (CargaDetenidaError). */
  let failure: { error: unknown } | undefined;

  /** Sends one operation and records it; true when it got a success code. */
  const runOne = async (gc: GcCaller, operacion: OperacionActor, isbn: string, usuario: string): Promise<boolean> => {
    const t = performance.now();
    try {
      let r: Respuesta;
      if (gc.request) {
        const a = await gc.request({ operacion, isbn, usuario });
        r = a.respuesta;
        porGc[a.endpoint] = (porGc[a.endpoint] ?? 0) + 1;
      } else r = await gc.send({ operacion, isbn, usuario });
      const ok = isSuccessCode(r.codigo);
      const end = performance.now();
      rec.record(operacion, r.codigo, ok, (end - t) * 1000);
      series.record(operacion, end - t0, end - t, !ok);
      return ok;
    } catch (e) {
      if (e instanceof GcClientClosedError) stopped = true;
      else if (e instanceof GcNoReplyError) {
        rec.recordNoReply(operacion);
        series.record(operacion, performance.now() - t0, null, true);
      } else failure ??= { error: e };
      return false;
    }
  };
  const running = () => !stopped && !failure && !opts.signal?.aborted && performance.now() < deadline;

  const simulateClient = async (i: number): Promise<void> => {
    const gc = clientFor(i);
    const isbn = isbns[i % isbns.length]!;
    if (pattern.tipo === 'mezcla') {
      // One usuario per client, so at most one loan of its own: open from an approved préstamo
      // until a devolución succeeds; one still open when time runs out is returned after the
      // clock stops, like the sequence's (else each run drains the catalogue).
      const usuario = `${prefix}-${i}`;
      let prestado = false;
      while (running()) {
        const op = pickOperacion(pattern.pesos);
        const ok = await runOne(gc, op, isbn, usuario);
        if (ok && op === 'prestamo') prestado = true;
        else if (ok && op === 'devolucion') prestado = false;
      }
      if (prestado) abiertos.push({ gc, isbn, usuario });
      return;
    }
    // A fresh usuario per cycle: an async devolución may still be pending when
    // the next préstamo arrives, and the same usuario would get PRESTAMO_ACTIVO.
    // A cycle whose préstamo failed ends there: renewing or returning a loan that
    // does not exist only adds refusals, and an async devolución would be
    // answered ACEPTADO and counted as a success that applies nothing.
    for (let cycle = 1; running(); cycle++) {
      const usuario = `${prefix}-${i}-${cycle}`;
      let prestado = false;
      for (const op of ['prestamo', 'renovacion', 'devolucion'] as const) {
        if (!running()) break;
        const ok = await runOne(gc, op, isbn, usuario);
        if (op === 'prestamo' && !ok) break;
        prestado = op !== 'devolucion' || !ok;
      }
      // Time ran out mid-cycle: the loan is returned after the clock stops, or every run would
      // leave one copy per client on loan (the demo book has 4) and a later test-sistema fails.
      if (prestado) abiertos.push({ gc, isbn, usuario });
    }
  };
  const abiertos: Array<{ gc: GcCaller; isbn: string; usuario: string }> = [];

  let prev = { t: t0, n: 0 };
  const progressTimer = opts.onProgreso
    ? setInterval(() => {
        const now = performance.now();
        const n = rec.respuestas;
        opts.onProgreso!({
          transcurridoMs: now - t0,
          respuestas: n,
          respPorSegundoAhora: round2(((n - prev.n) * 1000) / Math.max(now - prev.t, 1)),
          respPorSegundoMedia: round2((n * 1000) / Math.max(now - t0, 1)),
          sinRespuesta: rec.sinRespuesta,
          rechazadas: n - rec.exitosas,
        });
        prev = { t: now, n };
      }, opts.intervaloProgresoMs ?? 500)
    : undefined;

  let elapsedMs: number;
  try {
    await Promise.all(Array.from({ length: opts.clientes }, (_, i) => simulateClient(i)));
    elapsedMs = performance.now() - t0;
    clearInterval(progressTimer);
    // Not measured: clean-up, not load (also after a failure: the clients that lent may still work).
    if (!stopped) await Promise.all(abiertos.map(({ gc, isbn, usuario }) => gc.send({ operacion: 'devolucion', isbn, usuario }).catch(() => undefined)));
  } finally {
    clearInterval(progressTimer);
    for (const c of owned) c.close();
  }
  if (failure) throw new CargaDetenidaError(failure.error);
  return {
    inicio: startedAt.toISOString(),
    fin: new Date().toISOString(),
    duracionMs: Math.round(elapsedMs),
    config: { clientes: opts.clientes, duracionS: opts.duracionS, carga: pattern, isbns, transporte: transport, endpoints: opts.endpoints, repartir, prefijoUsuario: prefix },
    ...rec.summary(elapsedMs),
    serie: series.finish(elapsedMs),
    porGc,
  };
}
