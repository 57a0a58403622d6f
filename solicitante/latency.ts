/**
 * Latency and outcome bookkeeping for load runs: one HDR histogram per
 * operation type (microseconds) plus counts by reply code. Shared by the
 * load generator and the benchmark's direct-SQL ceiling so both report alike.
 */
import * as hdr from 'hdr-histogram-js';
import type { Histogram } from 'hdr-histogram-js';

export interface LatencyStats {
  /** Replies (outcomes) counted. */
  count: number;
  /** Milliseconds. */
  mean: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export interface OperacionStats extends LatencyStats {
  /** Replies per second over the run. */
  throughput: number;
  porCodigo: Record<string, number>;
  /** Requests that got no reply at all. */
  sinRespuesta: number;
}

export interface LatencySummary {
  respuestas: number;
  sinRespuesta: number;
  exitosas: number;
  throughput: number;
  porCodigo: Record<string, number>;
  global: LatencyStats;
  porOperacion: Record<string, OperacionStats>;
}

/** A latency histogram in µs, 1 µs .. 1 h (a chart needs only 2 significant digits). */
export function newHistogram(digits: 1 | 2 | 3 = 3): Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: digits });
}

const ms = (us: number) => Math.round(us) / 1000;

/** Percentile `p` in ms. Percentiles report the bucket's upper edge; clamped to the true max so p99 ≤ max always holds. */
export function percentileMs(h: Histogram, p: number): number {
  return ms(Math.min(h.getValueAtPercentile(p), h.maxValue));
}

export function stats(h: Histogram): LatencyStats {
  if (h.totalCount === 0) return { count: 0, mean: 0, p50: 0, p95: 0, p99: 0, max: 0 };
  const at = (p: number) => percentileMs(h, p);
  return { count: h.totalCount, mean: ms(h.mean), p50: at(50), p95: at(95), p99: at(99), max: ms(h.maxValue) };
}

export class LatencyRecorder {
  private readonly hist = new Map<string, Histogram>();
  private readonly codigosByOp = new Map<string, Record<string, number>>();
  private readonly noReplyByOp = new Map<string, number>();
  respuestas = 0;
  exitosas = 0;
  sinRespuesta = 0;

  record(op: string, codigo: string, exito: boolean, micros: number): void {
    let h = this.hist.get(op);
    if (!h) this.hist.set(op, (h = newHistogram()));
    h.recordValue(Math.max(1, Math.round(micros)));
    const c = this.codigosByOp.get(op) ?? {};
    c[codigo] = (c[codigo] ?? 0) + 1;
    this.codigosByOp.set(op, c);
    this.respuestas++;
    if (exito) this.exitosas++;
  }

  recordNoReply(op: string): void {
    this.noReplyByOp.set(op, (this.noReplyByOp.get(op) ?? 0) + 1);
    this.sinRespuesta++;
  }

  summary(durationMs: number): LatencySummary {
    const seconds = Math.max(durationMs, 1) / 1000;
    const global = newHistogram();
    const porOperacion: Record<string, OperacionStats> = {};
    const porCodigo: Record<string, number> = {};
    const ops = new Set([...this.hist.keys(), ...this.noReplyByOp.keys()]);
    for (const op of [...ops].sort()) {
      const h = this.hist.get(op) ?? newHistogram();
      global.add(h);
      const codigos = this.codigosByOp.get(op) ?? {};
      for (const [c, n] of Object.entries(codigos)) porCodigo[c] = (porCodigo[c] ?? 0) + n;
      porOperacion[op] = { ...stats(h), throughput: round2(h.totalCount / seconds), porCodigo: codigos, sinRespuesta: this.noReplyByOp.get(op) ?? 0 };
    }
    return {
      respuestas: this.respuestas,
      sinRespuesta: this.sinRespuesta,
      exitosas: this.exitosas,
      throughput: round2(this.respuestas / seconds),
      porCodigo,
      global: stats(global),
      porOperacion,
    };
  }
}

export function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
