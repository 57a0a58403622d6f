/**
 * The GA's PostgreSQL node as Prometheus gauges, for dashboards that cannot read
 * /status: role, timeline, replication lag (a primary about each standby, a
 * standby about itself) and whether sync replication is in force now. Read at
 * scrape time through the same kept-open admin sessions as /status; one read
 * serves every gauge of a scrape (prom-client collects them concurrently).
 *
 * A scrape waits for that read at most READ_WAIT_MS and otherwise reports the last
 * one: with a node unreachable the read takes its connect and query timeouts, and
 * /metrics (also read by drills for the write counters) must stay fast.
 */
import { Gauge, type Registry } from 'prom-client';
import { within } from '../../common/within.js';
import type { PgNodeDescription } from './pg-status.js';

const READ_WAIT_MS = 300;

export function createPgMetrics(registry: Registry, describe: () => Promise<PgNodeDescription>, syncNow: () => boolean): void {
  let latest: PgNodeDescription = { pgRole: 'unreachable', error: 'not read yet' };
  let running: Promise<void> | undefined;
  let lastAt = 0;
  const read = async (): Promise<PgNodeDescription> => {
    // One read serves a whole scrape (its gauges are collected together); none starts while one runs.
    if (!running && Date.now() - lastAt > 500) {
      lastAt = Date.now();
      running = describe()
        .then(
          (d) => void (latest = d),
          (err: unknown) => void (latest = { pgRole: 'unreachable', error: (err as Error).message }),
        )
        .finally(() => (running = undefined));
    }
    if (running) await within(running, READ_WAIT_MS);
    return latest;
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
    help: 'Timeline of the PostgreSQL node this GA uses (0 while unreachable: timelines start at 1)',
    registers: [registry],
    async collect() {
      const d = await read();
      this.set(d.pgRole === 'unreachable' ? 0 : d.timeline);
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
