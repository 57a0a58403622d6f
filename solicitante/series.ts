/**
 * Per-second time series of a load run, for the HTML reports' charts: replies,
 * failures and latency percentiles per operation, bucketed by when each reply
 * (or give-up) happened. Kept as columns, one array per measure, because that
 * is what the charts take; bounded, because a bucket is reduced to its numbers
 * as soon as a later one starts (no per-request data is kept).
 */
import { newHistogram, percentileMs } from './latency.js';
import type { Histogram } from 'hdr-histogram-js';

/** One operation's columns (or the total's); index i is the bucket starting at Serie.t[i]. */
export interface SerieColumnas {
  /** Requests that ended in the bucket (replies and requests given up on). */
  n: number[];
  /** Of those, failures: what counts as one is the recorder's caller's (see record()). */
  fallos: number[];
  /** Latency of the replies, ms; null in a bucket without replies. */
  p50: Array<number | null>;
  p99: Array<number | null>;
}

export interface Serie {
  /** Epoch ms of t = 0. */
  inicioMs: number;
  /** Bucket width, seconds. */
  pasoS: number;
  /** Start of each bucket, seconds since inicioMs. */
  t: number[];
  /** End of the run, seconds since inicioMs: the last bucket may be shorter than pasoS. */
  finS: number;
  porOperacion: Record<string, SerieColumnas>;
  total: SerieColumnas;
}

interface Bucket {
  hist: Histogram;
  n: number;
  fallos: number;
  cols: SerieColumnas;
}


const emptyColumns = (len: number): SerieColumnas => ({
  n: new Array<number>(len).fill(0),
  fallos: new Array<number>(len).fill(0),
  p50: new Array<number | null>(len).fill(null),
  p99: new Array<number | null>(len).fill(null),
});

export class SeriesRecorder {
  private readonly ops = new Map<string, Bucket>();
  private readonly all: Bucket;
  /** Index of the open bucket; every earlier one is already in the columns. */
  private current = 0;

  constructor(
    private readonly inicioMs: number,
    private readonly pasoMs = 1000,
  ) {
    this.all = { hist: newHistogram(2), n: 0, fallos: 0, cols: emptyColumns(0) };
  }

  /**
   * One request that ended `tMs` after the start: with its latency if it got a reply, null if
   * it was given up on. `fallo` is the caller's notion of failure (the load generator: no
   * success code or no reply; the drills: no reply or an "unavailable" reply).
   * A time earlier than the open bucket lands in it: the series only moves forward.
   */
  record(op: string, tMs: number, latencyMs: number | null, fallo: boolean): void {
    const idx = Math.max(this.current, Math.floor(tMs / this.pasoMs));
    while (this.current < idx) this.close();
    let b = this.ops.get(op);
    if (!b) this.ops.set(op, (b = { hist: newHistogram(2), n: 0, fallos: 0, cols: emptyColumns(this.current) }));
    for (const x of [b, this.all]) {
      x.n++;
      if (fallo) x.fallos++;
      if (latencyMs !== null) x.hist.recordValue(Math.max(1, Math.round(latencyMs * 1000)));
    }
  }

  /** The series up to `endMs` after the start (the open bucket included). */
  finish(endMs: number): Serie {
    const last = Math.max(this.current, Math.ceil(endMs / this.pasoMs) - 1);
    while (this.current <= last) this.close();
    const porOperacion: Record<string, SerieColumnas> = {};
    for (const op of [...this.ops.keys()].sort()) porOperacion[op] = this.ops.get(op)!.cols;
    const pasoS = this.pasoMs / 1000;
    return { inicioMs: this.inicioMs, pasoS, t: Array.from({ length: this.current }, (_, i) => i * pasoS), finS: Math.max(endMs, 0) / 1000, porOperacion, total: this.all.cols };
  }

  private close(): void {
    for (const b of [...this.ops.values(), this.all]) {
      const h = b.hist;
      const q = (p: number) => (h.totalCount === 0 ? null : percentileMs(h, p));
      b.cols.n.push(b.n);
      b.cols.fallos.push(b.fallos);
      b.cols.p50.push(q(50));
      b.cols.p99.push(q(99));
      h.reset();
      b.n = 0;
      b.fallos = 0;
    }
    this.current++;
  }
}
