/**
 * Watches the GA pair during a drill: polls every GA's /status and keeps each
 * role change with its time (when did the backup become ACTIVE, did the old
 * primary ever come back ACTIVE, was it FENCED), and reads a GA's count of
 * writes its role gate admitted from its /metrics (ga_writes_admitted_total).
 */
import type { GaStatus } from '../../gestor_almacenamiento/ga.js';
import type { GaProbe } from './system.js';

export interface GaRoleSample {
  /** When the GA entered this state (its own papel.desde), else when it was polled. */
  at: number;
  ga: string;
  /** papel.estado, or 'SIN_RESPUESTA' while the process does not answer. */
  estado: string;
  timeline?: number;
  pgRole?: string;
  fenced?: boolean;
  replicacion?: string;
}

/**
 * Writes (aplicar / registrar) a GA's role gate let through since it started, from its
 * Prometheus counters; undefined if it does not answer. Admissions, not completions:
 * a write admitted before a partition may complete after it and says nothing of fencing.
 */
export function gaWritesAdmitted(ga: GaProbe): Promise<number | undefined> {
  return metricTotal(ga, 'ga_writes_admitted_total');
}

/**
 * The sum of a counter's samples on a process's /metrics, those whose labels include
 * `labels` (e.g. 'motivo="actor-muerto"'); undefined when it does not answer.
 */
export async function metricTotal(p: { spec: { httpHost?: string; httpPort?: number } }, name: string, labels = ''): Promise<number | undefined> {
  const { httpHost = '127.0.0.1', httpPort } = p.spec;
  if (!httpPort) return undefined;
  try {
    const r = await fetch(`http://${httpHost}:${httpPort}/metrics`, { signal: AbortSignal.timeout(1000) });
    if (!r.ok) return undefined;
    let n = 0;
    for (const m of (await r.text()).matchAll(new RegExp(`^${name}(?:\\{([^}]*)\\})?\\s+(\\d+(?:\\.\\d+)?)`, 'gm'))) {
      if ((m[1] ?? '').includes(labels)) n += Number(m[2]);
    }
    return n;
  } catch {
    return undefined;
  }
}

export class GaWatch {
  /** Only changes are kept (plus the first sample of each GA). */
  readonly changes: GaRoleSample[] = [];
  readonly latest = new Map<string, GaRoleSample>();
  private timer: NodeJS.Timeout | undefined;
  private polling = false;

  /** `gas`: name → process, e.g. { pc1: ga, pc2: gaBackup }. */
  constructor(
    private readonly gas: Record<string, GaProbe>,
    private readonly everyMs = 100,
  ) {}

  start(): this {
    this.timer = setInterval(() => void this.poll(), this.everyMs);
    void this.poll();
    return this;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  estado(ga: string): string | undefined {
    return this.latest.get(ga)?.estado;
  }

  /** The GA that is ACTIVE now, if exactly one is. */
  active(): string | undefined {
    const act = [...this.latest.values()].filter((s) => s.estado === 'ACTIVE');
    return act.length === 1 ? act[0]!.ga : undefined;
  }

  /** First time `ga` changed to `estado` at or after `since` (already in it before does not count). */
  firstAt(ga: string, estado: string, since: number): number | undefined {
    return this.changes.find((s) => s.ga === ga && s.estado === estado && s.at >= since)?.at;
  }

  /** The first GA to become ACTIVE at or after `since` (a takeover, or the same GA re-activating). */
  firstActiveAfter(since: number): { ga: string; at: number } | undefined {
    const hit = this.changes.filter((s) => s.estado === 'ACTIVE' && s.at >= since).sort((a, b) => a.at - b.at)[0];
    return hit ? { ga: hit.ga, at: hit.at } : undefined;
  }

  /** The state `ga` was in at `since`, then every state it went through afterwards. */
  statesSince(ga: string, since: number): string[] {
    const mine = this.changes.filter((s) => s.ga === ga);
    const before = mine.filter((s) => s.at < since).pop();
    const out = [...(before ? [before.estado] : []), ...mine.filter((s) => s.at >= since).map((s) => s.estado)];
    return out.filter((e, i) => i === 0 || out[i - 1] !== e);
  }

  async waitFor(ga: string, pred: (estado: string | undefined) => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      await this.poll();
      if (pred(this.estado(ga))) return true;
      if (Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, this.everyMs));
    }
  }

  async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      await Promise.all(
        Object.entries(this.gas).map(async ([name, proc]) => {
          const s = proc.running ? await proc.status<GaStatus>() : undefined;
          // A pair member's papel says since when and whether fenced; a standalone GA's says neither.
          const papel = s && 'desde' in s.papel ? s.papel : undefined;
          const since = papel ? Date.parse(papel.desde) : NaN;
          const sample: GaRoleSample = {
            // The GA's own transition time is exact; polling would add up to everyMs.
            at: Number.isFinite(since) && since <= Date.now() ? since : Date.now(),
            ga: name,
            estado: s?.papel.estado ?? 'SIN_RESPUESTA',
            timeline: s && 'timeline' in s.postgres ? s.postgres.timeline : undefined,
            pgRole: s?.postgres.rolPg,
            fenced: s ? !!papel?.aislado : undefined,
            replicacion: s?.replicacion.modo,
          };
          const prev = this.latest.get(name);
          this.latest.set(name, sample);
          if (!prev || prev.estado !== sample.estado) this.changes.push(sample);
        }),
      );
    } finally {
      this.polling = false;
    }
  }
}
