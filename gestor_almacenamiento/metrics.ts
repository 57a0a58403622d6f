/** Prometheus metrics of the GA. */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type pg from 'pg';
import { ROLE_STATES, type RoleState } from './role/machine.js';

export interface GaMetrics {
  requests: Counter<'cmd' | 'codigo'>;
  latency: Histogram<'cmd'>;
  admitted: Counter<'cmd'>;
}

/** `pool` is read at every scrape: a takeover may switch the GA to another PostgreSQL node. */
export function createGaMetrics(registry: Registry, pool: () => pg.Pool, state: { inFlight: () => number; dbOk: () => boolean }): GaMetrics {
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
      const p = pool();
      this.set({ state: 'total' }, p.totalCount);
      this.set({ state: 'idle' }, p.idleCount);
      this.set({ state: 'waiting' }, p.waitingCount);
    },
  });
  new Gauge({ name: 'ga_in_flight', help: 'GA requests being processed', registers: [registry], collect() { this.set(state.inFlight()); } });
  new Gauge({ name: 'ga_postgres_up', help: '1 if the last PostgreSQL call succeeded', registers: [registry], collect() { this.set(state.dbOk() ? 1 : 0); } });
  // Counted when the role gate lets a write through, not when it completes: a write
  // admitted before a partition may commit long after it (a sync commit released by
  // the watchdog's degrade), and fencing drills must tell the two apart.
  const admitted = new Counter({ name: 'ga_writes_admitted_total', help: 'Writes (aplicar, registrar, reclamar) the role gate let through to PostgreSQL', labelNames: ['cmd'] as const, registers: [registry] });
  return { requests, latency, admitted };
}

/** Sizes of the write batches sent to PostgreSQL (store.ts): 1 = no batching happened. */
export function createBatchMetric(registry: Registry): (size: number) => void {
  const h = new Histogram({
    name: 'ga_write_batch_size',
    help: 'Writes (aplicar/registrar) sharing one PostgreSQL transaction',
    buckets: [1, 2, 3, 4, 6, 8, 12, 16, 24, 32],
    registers: [registry],
  });
  return (size) => h.observe(size);
}

export interface RoleMetrics {
  setState(estado: RoleState): void;
  /** A transition to ACTIVE, labelled by the state it came from (PRIMARY = cold start). */
  takeover(from: RoleState): void;
}

/** Role of a GA pair member: one gauge series per state (1 = current), takeovers counted. */
export function createRoleMetrics(registry: Registry, peerAgeMs: () => number | null): RoleMetrics {
  const state = new Gauge({ name: 'ga_role_state', help: 'GA pair role state (1 = current state)', labelNames: ['estado'] as const, registers: [registry] });
  const takeovers = new Counter({ name: 'ga_takeovers_total', help: 'Transitions of this GA to ACTIVE, by the state it left', labelNames: ['from'] as const, registers: [registry] });
  new Gauge({
    name: 'ga_peer_heartbeat_age_seconds',
    help: 'Time since the last heartbeat of the peer GA (-1 = never heard)',
    registers: [registry],
    collect() {
      const ms = peerAgeMs();
      this.set(ms === null ? -1 : ms / 1000);
    },
  });
  return {
    setState(estado) {
      for (const e of ROLE_STATES) state.set({ estado: e }, e === estado ? 1 : 0);
    },
    takeover(from) {
      takeovers.inc({ from });
    },
  };
}
