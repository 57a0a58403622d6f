/**
 * The GA's PostgreSQL gauges (gestor_almacenamiento/replication/pg-metrics.ts): one read of the
 * node serves a whole scrape, and a node that does not answer never holds /metrics
 * up for longer than a short bound (drills read the write counters from /metrics).
 */
import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { createPgMetrics } from '../../gestor_almacenamiento/replication/pg-metrics.js';
import type { PgNodeDescription } from '../../gestor_almacenamiento/replication/pg-status.js';

const primary: PgNodeDescription = {
  pgRole: 'primary',
  timeline: 2,
  lsn: '0/3000000',
  replication: [{ applicationName: 'pc2', clientAddr: '127.0.1.2', state: 'streaming', syncState: 'sync', lagBytes: 1234, replayLagMs: 1, replyAgeMs: 5 }],
};

describe('GA PostgreSQL gauges', () => {
  it('role, timeline, lag per standby and sync mode from one read per scrape', async () => {
    const reg = new Registry();
    let reads = 0;
    createPgMetrics(reg, async () => (reads++, primary), () => true);
    const text = await reg.metrics();
    expect(reads).toBe(1);
    expect(text).toContain('ga_pg_replication_lag_bytes{standby="pc2"} 1234');
    expect(text).toContain('ga_pg_role{role="primary"} 1');
    expect(text).toContain('ga_pg_role{role="standby"} 0');
    expect(text).toContain('ga_pg_timeline 2');
    expect(text).toContain('ga_replication_sync 1');
  });

  it('a node that never answers: the scrape returns within the bound and says unreachable', async () => {
    const reg = new Registry();
    createPgMetrics(reg, () => new Promise<PgNodeDescription>(() => undefined), () => false);
    const t0 = Date.now();
    const text = await reg.metrics();
    expect(Date.now() - t0).toBeLessThan(1500);
    expect(text).toContain('ga_pg_role{role="unreachable"} 1');
    expect(text).toMatch(/^ga_pg_timeline 0$/m);
    expect(text).not.toMatch(/^ga_pg_replication_lag_bytes\{/m);
  });
});
