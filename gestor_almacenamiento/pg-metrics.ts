/**
 * The GA's PostgreSQL node as Prometheus gauges, for dashboards that cannot read
 * /status: role, timeline, replication lag (a primary about each standby, a
 * standby about itself) and whether sync replication is in force now. Read at
 * scrape time through the same kept-open admin sessions as /status; one read
 * serves every gauge of a scrape (prom-client collects them concurrently).
 */
import { Gauge, type Registry } from 'prom-client';
import type { PgNodeDescription } from './pg-status.js';

export function createPgMetrics(registry: Registry, describe: () => Promise<PgNodeDescription>, syncNow: () => boolean): void {
  let last: { at: number; p: Promise<PgNodeDescription> } | undefined;
  const read = () => {
    const now = Date.now();
    if (!last || now - last.at > 500) last = { at: now, p: describe() };
    return last.p;
  };
  new Gauge({
    name: 'ga_pg_replication_lag_bytes',
    help: 'WAL not yet replayed, bytes: on a primary per connected standby (its application_name), on a standby its own (standby="self")',
    labelNames: ['standby'] as const,
    registers: [registry],
    async collect() {
      const d = await read();
      this.reset(); // a standby that disconnected must not keep its last value
      if (d.pgRole === 'primary' && Array.isArray(d.replication)) {
        for (const r of d.replication) if (r.lagBytes !== null) this.set({ standby: r.applicationName }, r.lagBytes);
      } else if (d.pgRole === 'standby' && 'lagBytes' in d.standby && d.standby.lagBytes !== null) {
        this.set({ standby: 'self' }, d.standby.lagBytes);
      }
    },
  });
  new Gauge({
    name: 'ga_pg_role',
    help: 'Role of the PostgreSQL node this GA uses (1 = current role: primary, standby or unreachable)',
    labelNames: ['role'] as const,
    registers: [registry],
    async collect() {
      const d = await read();
      for (const r of ['primary', 'standby', 'unreachable'] as const) this.set({ role: r }, d.pgRole === r ? 1 : 0);
    },
  });
  new Gauge({
    name: 'ga_pg_timeline',
    help: 'Timeline of the PostgreSQL node this GA uses (absent while unreachable)',
    registers: [registry],
    async collect() {
      const d = await read();
      this.reset();
      if (d.pgRole !== 'unreachable') this.set(d.timeline);
    },
  });
  new Gauge({
    name: 'ga_replication_sync',
    help: '1 while synchronous replication is in force on this GA (active, GA_REPLICACION=sync, not degraded), else 0',
    registers: [registry],
    collect() {
      this.set(syncNow() ? 1 : 0);
    },
  });
}
