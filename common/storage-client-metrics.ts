/**
 * Prometheus metrics of the storage client. Without a Registry every method is a
 * no-op. Metrics are looked up before being created so several clients (or a
 * restarted one) can share one Registry without "already registered" errors.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { BreakerState } from './storage-client.js';

/** Outcome of one attempt on one endpoint, or of a whole call (endpoint "*"). */
export type AttemptOutcome =
  | 'ok'
  | 'no_activo'
  | 'unavailable'
  /** The active GA answered but did not take the write (a locked row, a full write queue): retried after a backoff. */
  | 'ocupado'
  | 'timeout'
  | 'unreachable'
  | 'transport'
  | 'breaker_open'
  | 'rejected'
  | 'closed';

const STATE_VALUE: Record<BreakerState, number> = { closed: 0, 'half-open': 1, open: 2 };

export class StorageClientMetrics {
  private readonly calls?: Counter<'endpoint' | 'outcome'>;
  private readonly breaker?: Gauge<'endpoint'>;
  private readonly rotations?: Counter<'endpoint' | 'reason'>;
  private readonly latency?: Histogram<'cmd' | 'outcome'>;
  private readonly preference?: Gauge<'endpoint'>;

  constructor(registry?: Registry) {
    if (!registry) return;
    const get = <M>(name: string, make: () => M): M => (registry.getSingleMetric(name) as M | undefined) ?? make();
    this.calls = get('ga_client_calls_total', () =>
      new Counter({ name: 'ga_client_calls_total', help: 'GA attempts by endpoint and outcome; endpoint="*" counts whole calls that failed', labelNames: ['endpoint', 'outcome'], registers: [registry] }),
    );
    this.breaker = get('ga_client_breaker_state', () =>
      new Gauge({ name: 'ga_client_breaker_state', help: 'Circuit breaker state per GA endpoint: 0 closed, 1 half-open, 2 open', labelNames: ['endpoint'], registers: [registry] }),
    );
    this.rotations = get('ga_client_rotations_total', () =>
      new Counter({ name: 'ga_client_rotations_total', help: 'Moves from a GA endpoint to the next one, by the endpoint left and why', labelNames: ['endpoint', 'reason'], registers: [registry] }),
    );
    this.preference = get('ga_client_preferred', () =>
      new Gauge({ name: 'ga_client_preferred', help: '1 for the GA endpoint calls start from (the last one that answered), 0 for the others', labelNames: ['endpoint'], registers: [registry] }),
    );
    this.latency = get('ga_client_call_duration_seconds', () =>
      new Histogram({
        name: 'ga_client_call_duration_seconds',
        help: 'Whole storage-client call latency including retries, by GA command and outcome',
        labelNames: ['cmd', 'outcome'],
        buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
        registers: [registry],
      }),
    );
  }

  attempt(endpoint: string, outcome: AttemptOutcome): void {
    this.calls?.inc({ endpoint, outcome });
  }

  breakerState(endpoint: string, state: BreakerState): void {
    this.breaker?.set({ endpoint }, STATE_VALUE[state]);
  }

  preferred(endpoint: string, all: readonly string[]): void {
    for (const e of all) this.preference?.set({ endpoint: e }, e === endpoint ? 1 : 0);
  }

  rotation(endpoint: string, reason: AttemptOutcome): void {
    this.rotations?.inc({ endpoint, reason });
  }

  callDone(cmd: string, outcome: 'ok' | 'unavailable' | 'rejected', seconds: number): void {
    this.latency?.observe({ cmd, outcome }, seconds);
  }
}
