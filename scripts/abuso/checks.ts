/**
 * What the abuse campaign checks after the storm: a checksum of the data that must
 * not change, and the verdict over a phase's figures (a pure function: tested on its own).
 */
import type pg from 'pg';
import { ALL_CODES } from '../../common/protocol/codes.js';
import { describeStop, type StormStop } from './storm.js';

export interface Checksums {
  libros: string;
  prestamos: string;
  operaciones: string;
}

/** md5 of every row of libros, prestamos and operaciones, in a stable order. */
export async function dataChecksums(db: Pick<pg.Pool, 'query'>): Promise<Checksums> {
  const of = (t: string) => `md5(coalesce((SELECT string_agg(x::text, E'\\n' ORDER BY x::text) FROM ${t} x), ''))`;
  const r = await db.query<Checksums>(`SELECT ${of('libros')} AS libros, ${of('prestamos')} AS prestamos, ${of('operaciones')} AS operaciones`);
  return r.rows[0]!;
}

/** Whether a PS-port reply is a reply with a known code. */
export function replyCode(frame: Buffer | undefined): string | undefined {
  if (!frame) return undefined;
  try {
    const r = JSON.parse(frame.toString('utf8')) as { codigo?: unknown };
    return typeof r.codigo === 'string' && (ALL_CODES as readonly string[]).includes(r.codigo) ? r.codigo : undefined;
  } catch {
    return undefined;
  }
}

export interface ProcessFigures {
  nombre: string;
  pid: number | undefined;
  vivoAntes: boolean;
  vivoDespues: boolean;
  /** GET /health answered 200 after the campaign (within the wait). */
  saludDespues: boolean | null;
  /** How long after the storm /health answered 200 again (a process still digesting the last messages answers late). */
  saludTrasMs: number | null;
  rssBaseMiB: number | null;
  /** RSS once each round of the storm was over (and its work done). */
  rssTrasRondasMiB: Array<number | null>;
  /** Peak RSS over the whole storm. */
  rssMaxMiB: number | null;
  rssFinalMiB: number | null;
}

export interface PsFigures {
  /** Messages that must be answered (all but those over the transport limit, whose connection the server drops). */
  esperadas: number;
  respondidas: number;
  /** Replies whose body had no known code. */
  sinCodigo: number;
  /** Replies to no message waiting for one (a second reply, or one naming no message sent). */
  ajenas: number;
  /** ERROR_INTERNO replies: hostile input must get a refusal, never an internal error. */
  internas: number;
  /** Messages with the wrong number of frames, sent as they are (no sequence frame): replies counted, not matched. */
  crudas: { enviadas: number; respondidas: number };
}

/** What one attacked socket delivered (campaign.ts SocketFigures, the fields the verdict reads). */
export interface DeliveryFigures {
  socket: string;
  figures: { enviados: number; respuestas: number; esperadas?: number; codigos: Record<string, number>; noEntregados: number; leidoPorElServidor: boolean | null };
}

export interface Limits {
  /** A process's peak RSS may exceed its baseline by at most this much. */
  rssGrowthMiB: number;
}

/**
 * Absolute bound on a process's growth over its baseline. Under a storm V8 grows its heap with
 * the allocation rate and libzmq holds its queues full, so the level itself says little; what
 * tells a leak is growth that goes on from one round of the storm to the next: see verdict().
 */
export const DEFAULT_LIMITS: Limits = { rssGrowthMiB: 512 };

/**
 * The last round may end at most this much above the first (MiB), or a quarter of the first
 * round's growth over the baseline if that is more. Rounds, not the halves of one storm: the
 * sockets' storms end at different times (the HTTP one, slowest, runs alone and at full speed at
 * the end), so the two halves of one storm are different loads; every round has the same shape.
 */
const ROUND_SLACK_MIB = 64;

/** Every failed check of a phase, in words; empty = the phase passed. */
export function verdict(
  o: {
    processes: ProcessFigures[];
    ps: PsFigures;
    checksumBefore: Checksums;
    checksumAfter: Checksums;
    /** The same, a GC lease later: a write still on its way changes it after the first look. */
    checksumLater?: Checksums;
    /** Ledger rows still PENDIENTE 30 s after a round. */
    pendingAfterRounds?: number;
    /** Per socket: what reached the server (a socket that delivered nothing proves nothing). */
    delivery?: DeliveryFigures[];
    stillServes: boolean;
    /** Secure phase: refused handshakes counted per server socket, and how many intruder connections had an unknown key (each must be refused at least once). */
    refusals?: Record<string, { counted: number; atLeast: number }>;
    /** Why the storm stopped before its end (a process exited, the time limit): the run failed. */
    stormStop?: StormStop;
  },
  limits: Limits = DEFAULT_LIMITS,
): string[] {
  const out: string[] = [];
  // First: what follows (no replies, a crash) is what a stopped storm leaves.
  if (o.stormStop) out.push(describeStop(o.stormStop));
  for (const p of o.processes) {
    if (!p.vivoAntes) out.push(`${p.nombre}: not running before the campaign`);
    if (!p.vivoDespues) out.push(`${p.nombre}: CRASHED (not running after the campaign)`);
    if (p.saludDespues === false) out.push(`${p.nombre}: /health did not answer 200 within a minute of the campaign`);
    if (p.rssBaseMiB !== null && p.rssMaxMiB !== null && p.rssMaxMiB - p.rssBaseMiB > limits.rssGrowthMiB) {
      out.push(`${p.nombre}: RSS grew from ${p.rssBaseMiB.toFixed(0)} to ${p.rssMaxMiB.toFixed(0)} MiB (limit +${limits.rssGrowthMiB} MiB)`);
    }
    const rounds = p.rssTrasRondasMiB;
    const first = rounds[0];
    const last = rounds.at(-1);
    if (rounds.length > 1 && p.rssBaseMiB !== null && first != null && last != null) {
      const slack = Math.max(ROUND_SLACK_MIB, 0.25 * (first - p.rssBaseMiB));
      if (last - first > slack) out.push(`${p.nombre}: RSS still growing from round to round (after each: ${rounds.map((r) => r?.toFixed(0) ?? '—').join(' → ')} MiB; limit +${slack.toFixed(0)} MiB)`);
    }
  }
  if (o.ps.respondidas !== o.ps.esperadas) out.push(`PS port: ${o.ps.esperadas - o.ps.respondidas} of ${o.ps.esperadas} messages got no reply`);
  if (o.ps.sinCodigo > 0) out.push(`PS port: ${o.ps.sinCodigo} replies carried no known code`);
  if (o.ps.crudas.respondidas !== o.ps.crudas.enviadas) out.push(`PS port: ${o.ps.crudas.respondidas} replies to ${o.ps.crudas.enviadas} messages with the wrong number of frames`);
  if (o.ps.ajenas > 0) out.push(`PS port: ${o.ps.ajenas} replies answered no waiting message (a second reply to one, or a wrong envelope)`);
  if (o.ps.internas > 0) out.push(`PS port: ${o.ps.internas} replies were ERROR_INTERNO (hostile input must be refused, not break something inside)`);
  for (const t of ['libros', 'prestamos', 'operaciones'] as const) {
    if (o.checksumBefore[t] !== o.checksumAfter[t]) out.push(`database: ${t} changed (${o.checksumBefore[t]} → ${o.checksumAfter[t]})`);
    else if (o.checksumLater && o.checksumBefore[t] !== o.checksumLater[t]) out.push(`database: ${t} changed after the campaign ended (a write still on its way)`);
  }
  if ((o.pendingAfterRounds ?? 0) > 0) out.push(`ledger: ${o.pendingAfterRounds} rows still PENDIENTE 30 s after a round`);
  if (!o.stormStop) {
    for (const { socket, figures: f } of o.delivery ?? []) {
      if (f.enviados === 0) out.push(`${socket}: nothing was sent`);
      if (f.leidoPorElServidor === false) out.push(`${socket}: the server had not read everything queued when the sockets closed`);
      if (f.esperadas !== undefined && f.respuestas !== f.esperadas) out.push(`${socket}: ${f.respuestas} replies to ${f.esperadas} requests`);
      // 503 is an honest answer under a storm (a busy GA, no calculo actor); 500 is something broken inside.
      if (socket === 'http' && (f.codigos['500'] ?? 0) > 0) out.push(`http: ${f.codigos['500']} responses were 500`);
    }
  }
  if (!o.stillServes) out.push('the system no longer serves a real request after the campaign');
  for (const [socket, r] of Object.entries(o.refusals ?? {})) {
    if (r.counted < r.atLeast) out.push(`${socket}: ${r.counted} refused CURVE handshakes counted, fewer than the ${r.atLeast} connections with unknown keys`);
  }
  return out;
}
