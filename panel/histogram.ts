/**
 * Request rates and latency percentiles from two scrapes of a Prometheus
 * histogram (prom-client's JSON), the way Prometheus's rate() and
 * histogram_quantile() compute them, so the panel and a Grafana dashboard on
 * the same metric agree. Pure.
 */

/** One label set's cumulative buckets: upper bounds ascending (+Inf last) and counts. */
export interface Buckets {
  le: number[];
  counts: number[];
}

/** prom-client's getMetricsAsJSON() entry (what /metrics.json serves). */
export interface MetricJson {
  name: string;
  type: string;
  values: Array<{ value: number; labels: Record<string, string | number>; metricName?: string }>;
}

/** `name`'s buckets per value of `label` (other labels summed), from one scrape; none from an answer of another shape. */
export function bucketsBy(metrics: unknown, name: string, label: string): Map<string, Buckets> {
  const m = Array.isArray(metrics) ? (metrics as MetricJson[]).find((x) => x?.name === name && x.type === 'histogram') : undefined;
  const byKey = new Map<string, Map<number, number>>();
  for (const v of Array.isArray(m?.values) ? m.values : []) {
    if (v?.metricName !== `${name}_bucket` || typeof v.value !== 'number' || typeof v.labels !== 'object' || v.labels === null) continue;
    const key = String(v.labels[label] ?? '');
    const le = v.labels.le === '+Inf' ? Infinity : Number(v.labels.le);
    const b = byKey.get(key) ?? new Map<number, number>();
    b.set(le, (b.get(le) ?? 0) + v.value);
    byKey.set(key, b);
  }
  const out = new Map<string, Buckets>();
  for (const [key, b] of byKey) {
    const le = [...b.keys()].sort((x, y) => x - y);
    out.set(key, { le, counts: le.map((x) => b.get(x)!) });
  }
  return out;
}

/**
 * now − before, bucket by bucket; a counter that went down (the process restarted) counts from
 * zero. Any bucket going down is a restart, as Prometheus's rate() reads each series on its own:
 * a restart missed by a poll can leave the total above the old one.
 */
export function delta(now: Buckets, before: Buckets | undefined): Buckets {
  if (!before || before.le.length !== now.le.length) return now;
  if (now.counts.some((c, i) => c < (before.counts[i] ?? 0))) return now;
  return { le: now.le, counts: now.counts.map((c, i) => c - (before.counts[i] ?? 0)) };
}

export function sum(a: Buckets, b: Buckets): Buckets {
  if (a.le.length !== b.le.length) return a.counts[a.counts.length - 1]! >= b.counts[b.counts.length - 1]! ? a : b;
  return { le: a.le, counts: a.counts.map((c, i) => c + (b.counts[i] ?? 0)) };
}

export const total = (b: Buckets): number => b.counts[b.counts.length - 1] ?? 0;

/**
 * The q-quantile (0..1) of the observations in `b`, interpolated linearly inside the
 * bucket it falls in (Prometheus's histogram_quantile); null without observations.
 * In the +Inf bucket the answer is the highest finite bound, as in Prometheus.
 */
export function quantile(q: number, b: Buckets): number | null {
  const n = total(b);
  if (n <= 0) return null;
  const rank = q * n;
  for (let i = 0; i < b.le.length; i++) {
    if (b.counts[i]! >= rank) {
      const upper = b.le[i]!;
      if (upper === Infinity) return b.le[i - 1] ?? null;
      const lower = i === 0 ? 0 : b.le[i - 1]!;
      const below = i === 0 ? 0 : b.counts[i - 1]!;
      const inBucket = b.counts[i]! - below;
      return inBucket <= 0 ? upper : lower + (upper - lower) * ((rank - below) / inBucket);
    }
  }
  return b.le[b.le.length - 2] ?? null;
}
