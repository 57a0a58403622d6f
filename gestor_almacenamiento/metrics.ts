/** Prometheus metrics of the GA. */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type pg from 'pg';

export interface GaMetrics {
  requests: Counter<'cmd' | 'codigo'>;
  latency: Histogram<'cmd'>;
}

export function createGaMetrics(registry: Registry, pool: pg.Pool, state: { inFlight: () => number; dbOk: () => boolean }): GaMetrics {
  const requests = new Counter({ name: 'ga_requests_total', help: 'GA requests by command and reply code', labelNames: ['cmd', 'codigo'] as const, registers: [registry] });
  const latency = new Histogram({
    name: 'ga_request_duration_seconds',
    help: 'Time from receiving a GA request to queuing its reply',
    labelNames: ['cmd'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  new Gauge({
    name: 'ga_pool_connections',
    help: 'PostgreSQL pool connections by state (waiting = callers queued for one)',
    labelNames: ['state'] as const,
    registers: [registry],
    collect() {
      this.set({ state: 'total' }, pool.totalCount);
      this.set({ state: 'idle' }, pool.idleCount);
      this.set({ state: 'waiting' }, pool.waitingCount);
    },
  });
  new Gauge({ name: 'ga_in_flight', help: 'GA requests being processed', registers: [registry], collect() { this.set(state.inFlight()); } });
  new Gauge({ name: 'ga_postgres_up', help: '1 if the last PostgreSQL call succeeded', registers: [registry], collect() { this.set(state.dbOk() ? 1 : 0); } });
  return { requests, latency };
}
