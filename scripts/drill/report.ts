/**
 * A drill's report: the numbers (time to recover, failed requests, acknowledged
 * ops lost, ops applied twice, invariant), the verifications with their
 * verdicts, and their Spanish rendering for the terminal. Pure: no I/O.
 */
import type { PgNodeStatus } from '../launcher/local-storage.js';
import type { LedgerCheck } from './checks.js';
import type { GaWatch } from './ga-watch.js';
import { SeriesRecorder, type Serie } from '../../solicitante/series.js';
import { isFailedAttempt, type Attempt, type DrillLoad } from './load.js';
import { formatPorGc } from '../../solicitante/load-report.js';
import type { DrillOptions } from './run.js';
import type { Fault, ReturnInfo, Scenario, ScenarioCheck } from './scenarios.js';

export interface Verification {
  nombre: string;
  ok: boolean;
  /** Reported, not a failure (acknowledged ops lost by async replication when the primary dies). */
  informativo?: boolean;
  detalle: string;
}

export interface DrillReport {
  escenario: string;
  descripcion: string;
  replicacion: 'async' | 'sync';
  /** Replication mode the active GA reported when the drill started, just before the fault, and at the end. */
  replicacionInicio?: string;
  replicacionAlFallar?: string;
  replicacionFinal?: string;
  clientes: number;
  inicio: string;
  /** tMs: when the target was dead, since the load started; killMs: how long the kill took. */
  falla: { detalle: string; tMs: number; killMs: number };
  /**
   * Fault → the moment every PS is served again: per client, the first success of a request it
   * sent after the fault; the slowest client's. null = some client never recovered.
   */
  recuperacionMs: number | null;
  /** The same for the first client to be served again (clients the fault did not touch recover at once). */
  recuperacionPrimeraMs: number | null;
  /** Fault → a GA ACTIVE again, normally the other one (scenarios with a takeover). */
  tomaDeControlMs: number | null;
  solicitudes: {
    total: number;
    exitosas: number;
    /** Failed requests (no reply within the PS timeout, or an "unavailable" reply) from the fault on. */
    fallidas: number;
    fallidasAntesDeLaFalla: number;
    /** Operations that never got a final reply (given up). */
    abandonadas: number;
    porCodigo: Record<string, number>;
  };
  /**
   * Latency of successful requests (ms): before the fault, and from 1 s after the
   * recovery to the end or to the return of the old side (how the service runs on the
   * survivors, without the recovery itself).
   */
  latencia: { antes: Latencia; trasRecuperacion: Latencia };
  /** Per second since the load started: attempts, failed ones and reply latency per operation (HTML report). */
  serie: Serie;
  /** Replies per GC (PS endpoint that answered): the whole run, and its last 2 s. */
  porGc: { total: Record<string, number>; ultimos2s: Record<string, number> };
  reconocidas: number;
  perdidas: number;
  perdidasEjemplos: LedgerCheck['lost'];
  /** Refusals the PS got that the ledger does not record as such. */
  rechazosDistintos: number;
  rechazosDistintosEjemplos: LedgerCheck['refusalMismatches'];
  pendientesSinAplicar: number;
  duplicadas: number;
  duplicadasDetalle: unknown[];
  invariante: { ok: boolean; violaciones: unknown[] };
  primarioFinal: { host: string; timeline?: number; splitBrain: boolean };
  antiguoPrimario?: {
    ga: string;
    /** States of the old GA after the takeover (or after its restart). */
    estados: string[];
    /** Writes it accepted after the takeover (or since its restart). */
    escrituras: number | null;
    retorno?: ReturnInfo;
  };
  ga: Array<{ tMs: number; ga: string; estado: string; timeline?: number; replicacion?: string }>;
  postgres: Array<{ host: string; rol: string; timeline?: number; detalle?: string }>;
  /** Figures of the scenario's own checks (e.g. the GC drills'). */
  detalleEscenario?: Record<string, unknown>;
  verificaciones: Verification[];
  ok: boolean;
}

export interface Latencia {
  n: number;
  p50: number | null;
  p99: number | null;
  max: number | null;
}

function latencia(ms: number[]): Latencia {
  const v = [...ms].sort((a, b) => a - b);
  const q = (p: number) => (v.length ? v[Math.min(v.length - 1, Math.ceil(p * v.length) - 1)]! : null);
  return { n: v.length, p50: q(0.5), p99: q(0.99), max: v.length ? v[v.length - 1]! : null };
}

type Timed = Pick<Attempt, 'exito' | 'sentAt' | 'endAt'>;

/**
 * Latency of the successful requests before the fault and after recovery.
 * `antes`: answered before the fault, the steady state; a request in flight at the
 * fault waits out the failover, which is the recovery's figure, not the latency the
 * system had. `trasRecuperacion`: sent from 1 s after recovery on, up to the return
 * of the old side if there is one (how the survivors serve while it is still down).
 */
export function latencyWindows(attempts: readonly Timed[], faultAt: number, recuperacionMs: number | null, returnAt?: number): { antes: Latencia; trasRecuperacion: Latencia } {
  const ms = (keep: (a: Timed) => boolean) => attempts.filter((a) => a.exito && keep(a)).map((a) => a.endAt - a.sentAt);
  const from = recuperacionMs === null ? undefined : faultAt + recuperacionMs + 1000;
  return {
    antes: latencia(ms((a) => a.endAt < faultAt)),
    trasRecuperacion: latencia(from === undefined ? [] : ms((a) => a.sentAt >= from && a.sentAt < (returnAt ?? Infinity))),
  };
}

/** Attempts bucketed by when they ended; a failure is what isFailedAttempt says. */
function serieOf(attempts: readonly Attempt[], t0: number, end: number): Serie {
  const rec = new SeriesRecorder(t0);
  for (const a of [...attempts].sort((x, y) => x.endAt - y.endAt)) {
    rec.record(a.operacion, a.endAt - t0, a.outcome === 'reply' ? a.endAt - a.sentAt : null, isFailedAttempt(a));
  }
  return rec.finish(end - t0);
}

export interface ReportInput {
  scenario: Pick<Scenario<never>, 'name' | 'descripcion' | 'killsPgPrimary' | 'takeover' | 'sinFallos' | 'recuperacionMaxMs'>;
  options: DrillOptions;
  t0: number;
  fault: Fault;
  ret?: ReturnInfo;
  load: DrillLoad;
  watch: GaWatch;
  ledger: LedgerCheck;
  primary: { host: string; timeline?: number; splitBrain: boolean };
  pgStatus: PgNodeStatus[];
  replicacionInicio?: string;
  replicacionAlFallar?: string;
  oldGa?: string;
  oldWritesAtTakeover?: number;
  oldWritesEnd?: number;
  check?: ScenarioCheck;
}

function countByGc(attempts: DrillLoad['attempts']): Record<string, number> {
  const out: Record<string, number> = {};
  for (const a of attempts) if (a.gc) out[a.gc] = (out[a.gc] ?? 0) + 1;
  return out;
}

/** The last stretch of the load must be clean: the service is back, not limping. */
const STABLE_TAIL_MS = 2000;
/** How long after the kill a reply the dead primary had acknowledged may still arrive (queued before it). */
const ASYNC_LOSS_MARGIN_MS = 1000;

/**
 * Per client, fault → the first success of a request it sent after the fault; the slowest
 * client's time (null if one never got one) and the first's. A client that sent nothing after
 * the fault (stuck in one attempt until the load stopped) has not recovered. Pure.
 */
export function recoveryTimes(attempts: readonly Pick<Attempt, 'cliente' | 'exito' | 'sentAt' | 'endAt'>[], faultAt: number): { slowest: number | null; first: number | null } {
  const clients = new Set(attempts.map((a) => a.cliente));
  const firstOk = new Map<number, number>();
  for (const a of attempts) {
    if (!a.exito || a.sentAt < faultAt) continue;
    const prev = firstOk.get(a.cliente);
    if (prev === undefined || a.endAt < prev) firstOk.set(a.cliente, a.endAt);
  }
  const times = [...firstOk.values()].map((t) => t - faultAt);
  return { slowest: firstOk.size === clients.size && times.length > 0 ? Math.max(...times) : null, first: times.length ? Math.min(...times) : null };
}

export function buildReport(i: ReportInput): DrillReport {
  const { scenario, fault, load, watch, ledger } = i;
  const attempts = load.attempts;
  // Failures count from when the fault began (a docker stop may take seconds), not from when it was done.
  const faultStart = fault.at - fault.killMs;
  const after = attempts.filter((a) => a.endAt >= faultStart);
  const before = attempts.filter((a) => a.endAt < faultStart);
  const { slowest: recuperacionMs, first: recuperacionPrimeraMs } = recoveryTimes(attempts, fault.at);
  const takeover = scenario.takeover ? watch.firstActiveAfter(fault.at) : undefined;
  const takeoverAt = takeover?.at;
  const porCodigo: Record<string, number> = {};
  for (const a of attempts) {
    const k = a.outcome === 'timeout' ? 'SIN_RESPUESTA' : (a.codigo ?? '?');
    porCodigo[k] = (porCodigo[k] ?? 0) + 1;
  }
  const end = Math.max(...attempts.map((a) => a.endAt), fault.at);
  const tail = attempts.filter((a) => a.endAt >= end - STABLE_TAIL_MS);
  const tailFailures = tail.filter(isFailedAttempt).length;
  const tailOk = tail.filter((a) => a.exito).length;

  // The old primary GA: after a return, everything since its restart; otherwise (pg-primario) since the takeover.
  let antiguo: DrillReport['antiguoPrimario'];
  if (i.oldGa) {
    const since = i.ret?.gaRestartedAt ?? takeoverAt ?? fault.at;
    const escrituras = i.ret ? (i.oldWritesEnd ?? null) : i.oldWritesEnd !== undefined && i.oldWritesAtTakeover !== undefined ? i.oldWritesEnd - i.oldWritesAtTakeover : null;
    antiguo = { ga: i.oldGa, estados: watch.statesSince(i.oldGa, since), escrituras, ...(i.ret ? { retorno: i.ret } : {}) };
  }

  const lat = latencyWindows(attempts, fault.at, recuperacionMs, i.ret?.gaRestartedAt);

  const v: Verification[] = [];
  // A drill proves something only if the load worked before the fault.
  const failedBefore = before.filter(isFailedAttempt).length;
  const okBefore = before.filter((a) => a.exito).length;
  v.push({ nombre: 'la carga funciona antes de la falla', ok: failedBefore === 0 && okBefore > 0, detalle: `${okBefore} exitosas, ${failedBefore} fallidas antes de la falla` });
  v.push({
    nombre: 'el servicio se recupera solo',
    ok: recuperacionMs !== null && tailFailures === 0 && tailOk > 0,
    detalle: `todos los PS servidos de nuevo a los ${recuperacionMs ?? '— (alguno nunca)'} ms (el primero a los ${recuperacionPrimeraMs ?? '—'} ms); últimos ${STABLE_TAIL_MS / 1000} s: ${tailOk} exitosas, ${tailFailures} fallidas`,
  });
  if (i.options.replicacion === 'sync') {
    // "Nothing acknowledged is lost" is a claim about sync replication only if it was in force.
    v.push({ nombre: 'la replicación síncrona está en vigor al fallar', ok: i.replicacionAlFallar === 'sync', detalle: `el GA activo informaba ${i.replicacionAlFallar ?? '?'} justo antes de la falla` });
  }
  if (scenario.takeover) {
    v.push({
      nombre: 'un GA vuelve a estar activo',
      ok: takeover !== undefined,
      detalle: takeover ? `${takeover.ga} ACTIVE a los ${takeover.at - fault.at} ms${takeover.ga === fault.oldActiveGa ? ' (el mismo, re-activado)' : ''}` : 'ningún GA ACTIVE tras la falla',
    });
  }
  const lossExpected = scenario.killsPgPrimary && i.options.replicacion === 'async';
  v.push({
    nombre: 'ninguna operación reconocida se pierde',
    ok: ledger.lost.length === 0,
    informativo: lossExpected || undefined,
    detalle: `${ledger.lost.length} de ${load.acknowledged.size} reconocidas${lossExpected ? ' (replicación asíncrona: se informa, no se exige)' : ''}`,
  });
  if (lossExpected) {
    // Async replication excuses only what the killed primary acknowledged: an op acknowledged later
    // (by the new primary, after the takeover) and lost is lost for good.
    const ackAt = new Map<string, number>();
    for (const a of attempts) if (a.exito && load.acknowledged.has(a.opId) && !ackAt.has(a.opId)) ackAt.set(a.opId, a.endAt);
    const late = ledger.lost.filter((l) => (ackAt.get(l.id) ?? Infinity) > fault.at + ASYNC_LOSS_MARGIN_MS);
    v.push({
      nombre: 'ninguna operación reconocida tras la falla se pierde',
      ok: late.length === 0,
      detalle: `${late.length} perdidas reconocidas más de ${ASYNC_LOSS_MARGIN_MS} ms después de la falla${late.length ? ` (p. ej. ${late.slice(0, 3).map((l) => l.id).join(', ')})` : ''}`,
    });
  }
  {
    // Same excuse as for acknowledged ops: a refusal the killed async primary recorded may be gone with it.
    const counted = ledger.refusalMismatches.filter((m) => !(lossExpected && m.ledger === 'AUSENTE' && m.at <= fault.at + ASYNC_LOSS_MARGIN_MS));
    v.push({
      nombre: 'toda respuesta de rechazo es la que guarda el ledger',
      ok: counted.length === 0,
      detalle: `${counted.length} de ${load.rechazadas.size} rechazos no coinciden${counted.length ? ` (p. ej. ${counted.slice(0, 3).map((m) => `${m.id} ${m.codigo}→${m.ledger}`).join(', ')})` : ''}`,
    });
  }
  if (scenario.recuperacionMaxMs !== undefined) {
    v.push({ nombre: `recuperación ≤ ${scenario.recuperacionMaxMs / 1000} s`, ok: recuperacionMs !== null && recuperacionMs <= scenario.recuperacionMaxMs, detalle: `${recuperacionMs ?? '—'} ms` });
  }
  if (scenario.sinFallos) {
    const fallidas = after.filter(isFailedAttempt).length;
    v.push({ nombre: 'ninguna solicitud falla', ok: fallidas === 0, detalle: `${fallidas} fallidas desde la falla` });
  }
  v.push({ nombre: 'toda operación ACEPTADA termina aplicada', ok: ledger.stillPending === 0, detalle: `${ledger.stillPending} siguen PENDIENTE` });
  v.push({ nombre: 'ninguna operación se aplica dos veces', ok: ledger.duplicated === 0, detalle: `${ledger.duplicated} efectos sin su fila del ledger o repetidos` });
  v.push({ nombre: 'invariante de stock', ok: ledger.invariantViolations.length === 0, detalle: `${ledger.invariantViolations.length} libros la incumplen` });
  v.push({ nombre: 'un solo PostgreSQL primario', ok: !i.primary.splitBrain, detalle: `primario en ${i.primary.host}, timeline ${i.primary.timeline ?? '?'}` });
  if (antiguo) {
    v.push({
      nombre: 'el GA primario antiguo no acepta escrituras',
      ok: antiguo.escrituras === 0 && !antiguo.estados.includes('ACTIVE'),
      detalle: `${antiguo.ga}: ${antiguo.escrituras ?? 'sin dato de'} escrituras; estados ${antiguo.estados.join(' → ') || 'sin cambios'}`,
    });
  }
  const replicacionFinal = (() => {
    const act = watch.active();
    return act ? watch.latest.get(act)?.replicacion : undefined;
  })();
  if (i.ret?.pg && i.options.replicacion === 'sync') {
    v.push({ nombre: 'la replicación síncrona vuelve sola', ok: replicacionFinal === 'sync', detalle: `el GA activo informa ${replicacionFinal ?? '?'} tras la vuelta del antiguo primario (${i.ret.pg})` });
  }
  if (i.ret) v.push({ nombre: 'el antiguo primario vuelve como pasivo', ok: i.ret.estadoFinal === 'PASSIVE', detalle: `GA ${i.ret.ga} ${i.ret.estadoFinal}; PostgreSQL ${i.ret.pg ?? '—'}` });
  v.push(...(i.check?.verificaciones ?? []));

  return {
    escenario: scenario.name,
    descripcion: scenario.descripcion,
    replicacion: i.options.replicacion,
    replicacionInicio: i.replicacionInicio,
    replicacionAlFallar: i.replicacionAlFallar,
    replicacionFinal,
    clientes: i.options.clients,
    inicio: new Date(i.t0).toISOString(),
    falla: { detalle: fault.detalle, tMs: fault.at - i.t0, killMs: fault.killMs },
    recuperacionMs,
    recuperacionPrimeraMs,
    tomaDeControlMs: takeoverAt !== undefined ? takeoverAt - fault.at : null,
    solicitudes: {
      total: attempts.length,
      exitosas: attempts.filter((a) => a.exito).length,
      fallidas: after.filter(isFailedAttempt).length,
      fallidasAntesDeLaFalla: failedBefore,
      abandonadas: load.abandoned.length,
      porCodigo,
    },
    latencia: lat,
    serie: serieOf(attempts, i.t0, end),
    porGc: { total: countByGc(attempts), ultimos2s: countByGc(tail) },
    reconocidas: load.acknowledged.size,
    perdidas: ledger.lost.length,
    perdidasEjemplos: ledger.lost.slice(0, 20),
    rechazosDistintos: ledger.refusalMismatches.length,
    rechazosDistintosEjemplos: ledger.refusalMismatches.slice(0, 20),
    pendientesSinAplicar: ledger.stillPending,
    duplicadas: ledger.duplicated,
    duplicadasDetalle: ledger.duplicatedDetail.slice(0, 20),
    invariante: { ok: ledger.invariantViolations.length === 0, violaciones: ledger.invariantViolations },
    primarioFinal: i.primary,
    ...(antiguo ? { antiguoPrimario: antiguo } : {}),
    ga: [...watch.changes].sort((a, b) => a.at - b.at).map((s) => ({ tMs: s.at - i.t0, ga: s.ga, estado: s.estado, timeline: s.timeline, replicacion: s.replicacion })),
    postgres: i.pgStatus.map((p) => ({
      host: p.host,
      rol: p.error ? 'caído' : p.role?.inRecovery ? 'standby' : 'primario',
      timeline: p.role?.timeline,
      ...(p.error ? { detalle: p.error } : p.standby ? { detalle: `recibiendo ${p.standby.receiving ? 'sí' : 'no'}, lag ${p.standby.lagBytes ?? '?'} B` } : {}),
    })),
    ...(i.check ? { detalleEscenario: i.check.datos } : {}),
    verificaciones: v,
    ok: v.every((x) => x.ok || x.informativo),
  };
}

/** Words of the scenarios' keys that identifiers write without their accent. */
const ACENTOS: Record<string, string> = { caido: 'caído', ultima: 'última', gc: 'GC', ga: 'GA' };

/** A scenario figure's camelCase key as words: `respuestasPorGc` → "respuestas por GC", `dosActivosMs` → "dos activos (ms)". */
function etiqueta(clave: string): string {
  // Endpoints, GA names and operation types are keys too: only camelCase is split.
  if (!/^[a-z][a-zA-Z0-9]*$/.test(clave)) return clave;
  const palabras = clave.split(/(?=[A-Z])/).map((w) => w.toLowerCase());
  const unidad = palabras.length > 1 && palabras[palabras.length - 1] === 'ms' ? ' (ms)' : '';
  const sin = unidad ? palabras.slice(0, -1) : palabras;
  return sin.map((w) => ACENTOS[w] ?? w).join(' ') + unidad;
}

function valorLegible(v: unknown): string {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'boolean') return v ? 'sí' : 'no';
  if (Array.isArray(v)) return v.map(valorLegible).join(', ');
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/**
 * A scenario's own figures (`detalleEscenario`) as lines a reader scans: one key a line,
 * a nested object's keys indented under it, numbers as they are.
 */
export function formatDetalleEscenario(datos: Record<string, unknown>, sangria = '    '): string[] {
  const lineas: string[] = [];
  for (const [clave, v] of Object.entries(datos)) {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const hijos = formatDetalleEscenario(v as Record<string, unknown>, `${sangria}  `);
      lineas.push(`${sangria}${etiqueta(clave)}:${hijos.length ? '' : ' —'}`, ...hijos);
    } else {
      lineas.push(`${sangria}${etiqueta(clave)}: ${valorLegible(v)}`);
    }
  }
  return lineas;
}

const secs = (ms: number) => `${ms >= 0 ? '+' : ''}${(ms / 1000).toFixed(1)}s`;

export function formatReport(r: DrillReport): string {
  const l: string[] = [];
  l.push(`Simulacro ${r.escenario} — replicación ${r.replicacion} (GA activo: al inicio ${r.replicacionInicio ?? '?'}, al fallar ${r.replicacionAlFallar ?? '?'}, al final ${r.replicacionFinal ?? '?'}), ${r.clientes} PS`);
  l.push(`  ${r.descripcion}`);
  l.push(`  falla:          ${r.falla.detalle}, muerto en t=${secs(r.falla.tMs)} (el kill tardó ${r.falla.killMs} ms)`);
  l.push(`  recuperación:   ${r.recuperacionMs ?? '— (algún PS nunca)'} ms (falla → cada PS obtiene una respuesta exitosa a una solicitud enviada después; el más lento; el primero a los ${r.recuperacionPrimeraMs ?? '—'} ms)`);
  if (r.tomaDeControlMs !== null) l.push(`  toma de control: ${r.tomaDeControlMs} ms (falla → un GA ACTIVE de nuevo)`);
  const s = r.solicitudes;
  l.push(`  solicitudes:    ${s.total} (exitosas ${s.exitosas}); fallidas tras la falla ${s.fallidas}; antes ${s.fallidasAntesDeLaFalla}; abandonadas ${s.abandonadas}`);
  l.push(`  por código:     ${Object.entries(s.porCodigo).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(', ')}`);
  const fl = (x: Latencia) => (x.n ? `p50 ${x.p50} ms, p99 ${x.p99} ms, máx ${x.max} ms (${x.n})` : '—');
  l.push(`  latencia:       antes de la falla ${fl(r.latencia.antes)}; tras recuperarse${r.antiguoPrimario?.retorno ? ' (hasta la vuelta del antiguo)' : ''} ${fl(r.latencia.trasRecuperacion)}`);
  l.push(`  reconocidas:    ${r.reconocidas}; perdidas ${r.perdidas}; aplicadas dos veces ${r.duplicadas}; pendientes sin aplicar ${r.pendientesSinAplicar}; invariante ${r.invariante.ok ? 'OK' : 'ROTA'}`);
  if (r.rechazosDistintos > 0) l.push(`  rechazos que el ledger no guarda así (ej.): ${r.rechazosDistintosEjemplos.slice(0, 5).map((m) => `${m.id} ${m.codigo}→${m.ledger}`).join(', ')}`);
  if (r.perdidas > 0) l.push(`  perdidas (ej.): ${r.perdidasEjemplos.slice(0, 5).map((p) => `${p.id} ${p.codigo}→${p.estado}`).join(', ')}`);
  if (Object.keys(r.porGc.total).length > 0) l.push(`  por GC:         ${formatPorGc(r.porGc.total)}; últimos 2 s: ${formatPorGc(r.porGc.ultimos2s)}`);
  l.push(`  GA:             ${r.ga.map((g) => `${secs(g.tMs)} ${g.ga} ${g.estado}`).join('; ')}`);
  l.push(`  PostgreSQL:     ${r.postgres.map((p) => `${p.host} ${p.rol}${p.timeline ? ` tl ${p.timeline}` : ''}${p.detalle ? ` (${p.detalle})` : ''}`).join('; ')}`);
  if (r.detalleEscenario) l.push('  escenario:', ...formatDetalleEscenario(r.detalleEscenario));
  for (const v of r.verificaciones) l.push(`  [${v.ok ? 'OK' : v.informativo ? 'INFO' : 'FALLO'}] ${v.nombre}: ${v.detalle}`);
  l.push(`RESULTADO: ${r.ok ? 'OK' : 'FALLO'}`);
  return l.join('\n');
}

export const TABLE_HEADER = '| escenario | replicación | recuperación (ms) | toma de control (ms) | fallidas | reconocidas | perdidas | duplicadas | invariante | resultado |\n|---|---|---|---|---|---|---|---|---|---|';

export function tableRow(r: DrillReport): string {
  // The mode in force at the fault when it was not the one asked for (a sync drill run degraded).
  const modo = r.replicacionAlFallar && r.replicacionAlFallar !== r.replicacion ? `${r.replicacion} (al fallar: ${r.replicacionAlFallar})` : r.replicacion;
  return `| ${r.escenario} | ${modo} | ${r.recuperacionMs ?? '—'} | ${r.tomaDeControlMs ?? '—'} | ${r.solicitudes.fallidas} | ${r.reconocidas} | ${r.perdidas} | ${r.duplicadas} | ${r.invariante.ok ? 'OK' : 'ROTA'} | ${r.ok ? 'OK' : 'FALLO'} |`;
}
