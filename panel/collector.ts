/**
 * Polls every watched process's HTTP port once per interval — /status of all,
 * and of each GC also /errors/stats and /metrics.json — and turns the answers
 * into the panel's snapshot, one chart point (rates and percentiles from the
 * GCs' request histogram between two polls) and the timeline's events. Keeps
 * the last minutes of points and events for pages that connect later.
 */
import { OPERACIONES_ACTOR } from '../common/protocol/ps-gc.js';
import type { Logger } from '../common/logger.js';
import type { GaStatus } from '../gestor_almacenamiento/ga.js';
import type { GcStatus } from '../gestor_carga/gc.js';
import { changes } from './changes.js';
import { bucketsBy, delta, quantile, sum, total, type Buckets } from './histogram.js';
import type { ActorStatus, ErrorStatsSnapshot, Observed, PanelEvent, PanelPoint, PanelSnapshot, PanelUpdate } from './snapshot.js';
import type { Target } from './targets.js';

export interface CollectorOptions {
  targets: Target[];
  log: Logger;
  everyMs?: number;
  /** How much history to keep and send to a page that connects (default 10 min). */
  keepMs?: number;
  /** Per request; a process slower than this counts as not answering this time. */
  timeoutMs?: number;
}

/** The GC metric the request rates and latencies come from (gestor_carga/metrics.ts). */
export const GC_LATENCY_METRIC = 'gc_request_duration_seconds';

async function getJson<T>(url: string, timeoutMs: number): Promise<T> {
  const r = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!r.ok) throw new Error(`HTTP ${r.status}`);
  return (await r.json()) as T;
}

function reason(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError') return 'sin respuesta a tiempo';
  return e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(err);
}

interface GcCounters {
  at: number;
  latency: Map<string, Buckets>;
  /** Undefined until a /errors/stats answer gave a baseline; with the time of that answer. */
  errores?: { at: number; porClase: Record<string, number> };
}

/** A field that should be a list, from a process of any version (or not ours at all). */
const list = <T>(x: readonly T[] | undefined): readonly T[] => (Array.isArray(x) ? x : []);

export class PanelCollector {
  private readonly everyMs: number;
  private readonly keepMs: number;
  private readonly timeoutMs: number;
  private readonly points: PanelPoint[] = [];
  private readonly events: PanelEvent[] = [];
  private last: PanelSnapshot | undefined;
  private readonly prevCounters = new Map<string, GcCounters>();
  private readonly listeners = new Set<(u: PanelUpdate) => void>();
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<PanelUpdate> | undefined;

  constructor(private readonly o: CollectorOptions) {
    this.everyMs = o.everyMs ?? 1000;
    this.keepMs = o.keepMs ?? 10 * 60_000;
    this.timeoutMs = o.timeoutMs ?? Math.min(2000, Math.max(300, this.everyMs - 100));
  }

  start(): this {
    const tick = () => {
      // A slow round is not overlapped by the next one.
      if (!this.polling) void this.poll().catch((err: unknown) => this.o.log.error({ err }, 'panel poll failed'));
    };
    this.timer = setInterval(tick, this.everyMs);
    tick();
    return this;
  }

  stop(): void {
    clearInterval(this.timer);
    this.listeners.clear();
  }

  /** Called after every poll; returns the unsubscribe function. */
  onUpdate(fn: (u: PanelUpdate) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** What a page needs at connection; ventanaMs tells it how much history to keep as updates arrive. */
  history(): { instantanea?: PanelSnapshot; puntos: PanelPoint[]; eventos: PanelEvent[]; ventanaMs: number } {
    return { instantanea: this.last, puntos: [...this.points], eventos: [...this.events], ventanaMs: this.keepMs };
  }

  poll(): Promise<PanelUpdate> {
    this.polling ??= this.pollOnce().finally(() => (this.polling = undefined));
    return this.polling;
  }

  private async pollOnce(): Promise<PanelUpdate> {
    const t = Date.now();
    const of = (tipo: Target['tipo']) => this.o.targets.filter((x) => x.tipo === tipo);
    const observe = async <S>(objetivo: Target): Promise<Observed<S>> => {
      try {
        return { objetivo, responde: true, estado: await getJson<S>(`${objetivo.url}/status`, this.timeoutMs) };
      } catch (err) {
        return { objetivo, responde: false, error: reason(err) };
      }
    };
    const [gcs, gas, actors] = await Promise.all([
      Promise.all(
        of('gc').map(async (target) => {
          const [obs, errores, metrics] = await Promise.all([
            observe<GcStatus>(target),
            getJson<ErrorStatsSnapshot>(`${target.url}/errors/stats`, this.timeoutMs).catch(() => undefined),
            getJson<unknown>(`${target.url}/metrics.json?nombre=${GC_LATENCY_METRIC}`, this.timeoutMs).catch(() => undefined),
          ]);
          return { obs: { ...obs, ...(errores ? { errores } : {}) }, metrics };
        }),
      ),
      Promise.all(of('ga').map((target) => observe<GaStatus>(target))),
      Promise.all(of('actor').map((target) => observe<ActorStatus>(target))),
    ]);

    const snapshot = this.snapshotOf(
      t,
      gcs.map((g) => g.obs),
      gas,
      actors,
    );
    const punto = this.pointOf(t, snapshot, gcs);
    const eventos = changes(this.last, snapshot);
    for (const e of eventos) this.o.log.info({ evento: e.tipo }, e.texto);
    this.last = snapshot;
    if (punto) this.points.push(punto);
    this.events.push(...eventos);
    while (this.points.length && this.points[0]!.t < t - this.keepMs) this.points.shift();
    while (this.events.length && this.events[0]!.t < t - this.keepMs) this.events.shift();
    const update: PanelUpdate = { instantanea: snapshot, ...(punto ? { punto } : {}), eventos };
    for (const fn of this.listeners) {
      try {
        fn(update);
      } catch (err) {
        this.o.log.warn({ err }, 'panel listener failed');
      }
    }
    return update;
  }

  private snapshotOf(t: number, gcs: PanelSnapshot['gcs'], gas: PanelSnapshot['gas'], actors: Array<Observed<ActorStatus>>): PanelSnapshot {
    const answering = gcs.filter((g) => g.responde && g.estado);
    // An actor is live if it answers and every GC that answers has it live (a GC that
    // dropped it sends it no work, whatever its own port says).
    // Documents come off the network: a process of another version may lack a field.
    const liveInGcs = (tipo: string, actorId: string) => answering.every((g) => list(g.estado!.actores).some((a) => a.tipo === tipo && a.actorId === actorId && a.vivo));
    // An actor process may serve several types (ACTOR_TIPOS): it is live when each of them is.
    const tiposOf = (st: ActorStatus) => list(st.tipos);
    const actores = actors.map((a) => ({ ...a, vivo: a.responde && !!a.estado && tiposOf(a.estado).length > 0 && tiposOf(a.estado).every((t) => liveInGcs(t, a.estado!.actorId)) }));
    const actoresVivos: Record<string, Record<string, number>> = Object.fromEntries(OPERACIONES_ACTOR.map((tipo) => [tipo, {}]));
    const count = (tipo: string, host: string) => {
      const byHost = (actoresVivos[tipo] ??= {});
      byHost[host] = (byHost[host] ?? 0) + 1;
    };
    for (const a of actores) if (a.vivo) for (const t of tiposOf(a.estado!)) count(t, a.objetivo.host);
    const known = new Set(actores.flatMap((a) => (a.estado ? tiposOf(a.estado).map((t) => `${t} ${a.estado!.actorId}`) : [])));
    const unknownLive = new Set<string>();
    for (const g of answering) for (const a of list(g.estado!.actores)) if (a.vivo && !known.has(`${a.tipo} ${a.actorId}`)) unknownLive.add(`${a.tipo} ${a.actorId}`);
    for (const k of unknownLive) count(k.split(' ')[0]!, '?');

    const disyuntores: PanelSnapshot['disyuntores'] = [];
    for (const g of gcs) for (const b of list(g.estado?.almacenamiento)) disyuntores.push({ ...b, cliente: g.objetivo.nombre, host: g.objetivo.host });
    for (const a of actores) for (const b of list(a.estado?.almacenamiento)) disyuntores.push({ ...b, cliente: a.estado!.actorId, host: a.objetivo.host });
    return { t, gcs, gas, actores, actoresVivos, disyuntores };
  }

  private pointOf(t: number, s: PanelSnapshot, gcs: Array<{ obs: PanelSnapshot['gcs'][number]; metrics?: unknown }>): PanelPoint | undefined {
    // Percentiles from every GC's buckets together; rates as the sum of each GC's own rate, each
    // over its own interval (a GC that missed a poll covers a longer one than the others).
    const perOp = new Map<string, Buckets>();
    const rps = new Map<string, number>();
    const errores: Record<string, number> = {};
    let any = false;
    for (const g of gcs) {
      const url = g.obs.objetivo.url;
      if (!Array.isArray(g.metrics)) continue; // no answer, or not prom-client's list
      const before = this.prevCounters.get(url);
      // A failed /errors/stats keeps the last baseline, with its own time: an empty one would count the
      // GC's whole history in this second, a re-stamped one would count two intervals' errors over one.
      const porClase = g.obs.errores?.porClase;
      const now: GcCounters = { at: t, latency: bucketsBy(g.metrics, GC_LATENCY_METRIC, 'operacion'), errores: porClase ? { at: t, porClase } : before?.errores };
      this.prevCounters.set(url, now);
      if (!before || t <= before.at) continue;
      any = true;
      const seconds = (t - before.at) / 1000;
      for (const [op, b] of now.latency) {
        const d = delta(b, before.latency.get(op));
        const acc = perOp.get(op);
        perOp.set(op, acc ? sum(acc, d) : d);
        rps.set(op, (rps.get(op) ?? 0) + total(d) / seconds);
      }
      // Only from a fresh answer (none this time: this GC adds nothing now, its errors count next time).
      if (porClase && before.errores && t > before.errores.at) {
        const errSeconds = (t - before.errores.at) / 1000;
        for (const [clase, n] of Object.entries(porClase)) {
          const prev = before.errores.porClase[clase] ?? 0;
          errores[clase] = (errores[clase] ?? 0) + (n >= prev ? n - prev : n) / errSeconds;
        }
      }
    }
    if (!any) return undefined; // the first poll only sets the baseline
    const ms = (x: number | null) => (x === null ? null : Math.round(x * 100_000) / 100);
    const porOperacion: PanelPoint['porOperacion'] = {};
    for (const [op, b] of perOp) porOperacion[op] = { rps: Math.round((rps.get(op) ?? 0) * 100) / 100, p50: ms(quantile(0.5, b)), p99: ms(quantile(0.99, b)) };
    const tareas = { enviada: 0, enCola: 0, espera: 0 };
    for (const g of s.gcs) {
      const c = g.estado?.tareas;
      if (!c) continue;
      tareas.enviada += c.enviada;
      tareas.enCola += c['en-cola'];
      tareas.espera += c.espera;
    }
    return {
      t,
      porOperacion,
      erroresPorSegundo: Object.fromEntries(Object.entries(errores).map(([k, n]) => [k, Math.round(n * 100) / 100])),
      tareas,
      retrasoReplicaBytes: replicationLag(s.gas),
    };
  }
}

/** The largest lag any GA's PostgreSQL reports (a primary about its standbys, a standby about itself). */
function replicationLag(gas: PanelSnapshot['gas']): number | null {
  let max: number | null = null;
  const see = (x: number | null | undefined) => {
    if (typeof x === 'number') max = Math.max(max ?? 0, x);
  };
  for (const g of gas) {
    const pg = g.estado?.postgres;
    if (!pg) continue;
    if (pg.rolPg === 'primary' && Array.isArray(pg.replicas)) for (const r of pg.replicas) see(r.retrasoBytes);
    if (pg.rolPg === 'standby' && 'retrasoBytes' in pg.recepcion) see(pg.recepcion.retrasoBytes);
  }
  return max;
}
