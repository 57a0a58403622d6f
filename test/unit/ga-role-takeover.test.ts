/**
 * Which PostgreSQL node a GA takes over onto (takeover.ts), with a fake PgControl:
 * no network, every combination of alive/dead/primary/standby/timeline.
 */
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { PgConn } from '../../postgres/admin.js';
import { chooseNode, TakeoverError, type PgControl, type PgNode } from '../../gestor_almacenamiento/role/takeover.js';

const log = pino({ level: 'silent' });
const conn = (port: number): PgConn => ({ host: '127.0.0.1', port, user: 'postgres', password: 'x', database: 'biblioteca' });
const local: PgNode = { name: 'local', conn: conn(1) };
const peer: PgNode = { name: 'peer', conn: conn(2) };

type Fake = { inRecovery: boolean; timeline: number; sistema?: string } | 'dead';

function fake(nodes: Record<number, Fake>) {
  const promoted: number[] = [];
  const pgc: PgControl = {
    async role(c) {
      const n = nodes[c.port];
      if (!n || n === 'dead') throw new Error('ECONNREFUSED');
      return n;
    },
    async promote(c) {
      const n = nodes[c.port];
      if (!n || n === 'dead') throw new Error('ECONNREFUSED');
      promoted.push(c.port);
      if (!n.inRecovery) return { timeline: n.timeline, promoted: false };
      nodes[c.port] = { inRecovery: false, timeline: n.timeline + 1 };
      return { timeline: n.timeline + 1, promoted: true };
    },
  };
  return { pgc, promoted };
}

describe('chooseNode', () => {
  it("a client write's fencing token counts as seen: a primary of its cluster on an older timeline is not used", async () => {
    const nodes = () => ({ 1: { inRecovery: true, timeline: 1, sistema: 'S' }, 2: { inRecovery: false, timeline: 1, sistema: 'S' } });
    expect(await chooseNode([local, peer], 1, fake(nodes()).pgc, log)).toMatchObject({ node: peer, timeline: 1, sistema: 'S' });
    // Timeline 2 exists but is unreachable: neither the old primary nor our standby (behind it) may be used.
    await expect(chooseNode([local, peer], 1, fake(nodes()).pgc, log, { sistema: 'S', timeline: 2 })).rejects.toThrow(/timeline 1 < 2: promoting it would fork/);
    // Another cluster's token says nothing about these nodes.
    expect(await chooseNode([local, peer], 1, fake(nodes()).pgc, log, { sistema: 'T', timeline: 9 })).toMatchObject({ node: peer, timeline: 1 });
  });

  it('GA primary dead, PostgreSQL primary alive: the backup uses it, promotes nothing', async () => {
    const f = fake({ 1: { inRecovery: true, timeline: 1 }, 2: { inRecovery: false, timeline: 1 } });
    const c = await chooseNode([local, peer], 1, f.pgc, log);
    expect(c).toMatchObject({ node: peer, timeline: 1, promoted: false });
    expect(f.promoted).toEqual([]);
  });

  it('PostgreSQL primary dead: promotes the local standby onto the next timeline', async () => {
    const f = fake({ 1: { inRecovery: true, timeline: 1 }, 2: 'dead' });
    const c = await chooseNode([local, peer], 1, f.pgc, log);
    expect(c).toMatchObject({ node: local, timeline: 2, promoted: true });
    expect(c.detail).toMatch(/timeline 1 → 2/);
  });

  it('never uses a primary on a timeline below the highest seen (the old primary restarted plainly)', async () => {
    const f = fake({ 1: { inRecovery: false, timeline: 1 }, 2: { inRecovery: false, timeline: 2 } });
    expect(await chooseNode([local, peer], 2, f.pgc, log)).toMatchObject({ node: peer, timeline: 2 });
    // Even when the newer primary is unreachable now, a heartbeat told us timeline 2 exists.
    const g = fake({ 1: { inRecovery: false, timeline: 1 }, 2: 'dead' });
    await expect(chooseNode([local, peer], 2, g.pgc, log)).rejects.toThrow(TakeoverError);
    expect(g.promoted).toEqual([]);
  });

  it('refuses to promote a standby that is behind the newest timeline', async () => {
    const f = fake({ 1: { inRecovery: true, timeline: 1 }, 2: 'dead' });
    await expect(chooseNode([local, peer], 2, f.pgc, log)).rejects.toThrow(/promoting it would fork the history/);
    expect(f.promoted).toEqual([]);
  });

  it('refuses when two distinct primaries share the top timeline', async () => {
    const f = fake({ 1: { inRecovery: false, timeline: 3 }, 2: { inRecovery: false, timeline: 3 } });
    await expect(chooseNode([local, peer], 3, f.pgc, log)).rejects.toThrow(/two PostgreSQL primaries/);
  });

  it('never promotes the peer node, only its own', async () => {
    const f = fake({ 1: 'dead', 2: { inRecovery: true, timeline: 1 } });
    await expect(chooseNode([local, peer], 1, f.pgc, log)).rejects.toThrow(/our own node is unreachable/);
    expect(f.promoted).toEqual([]);
  });

  it('a takeover that may not promote (backup that never heard its peer) only uses a primary already on the top timeline', async () => {
    const noPromo = { mayPromote: false };
    // Its own node is the primary (restarted after a failover), the peer host gone: used as is.
    const a = fake({ 1: { inRecovery: false, timeline: 2 }, 2: 'dead' });
    expect(await chooseNode([local, peer], 2, a.pgc, log, undefined, noPromo)).toMatchObject({ node: local, timeline: 2, promoted: false });
    // The old primary is back on timeline 1: ignored, ours is used.
    const b = fake({ 1: { inRecovery: false, timeline: 2 }, 2: { inRecovery: false, timeline: 1 } });
    expect(await chooseNode([local, peer], 2, b.pgc, log, undefined, noPromo)).toMatchObject({ node: local, timeline: 2 });
    // Our node is a standby and no primary answers: it would have to promote, so it refuses.
    const c = fake({ 1: { inRecovery: true, timeline: 2 }, 2: 'dead' });
    await expect(chooseNode([local, peer], 2, c.pgc, log, undefined, noPromo)).rejects.toThrow(/may not promote/);
    expect(c.promoted).toEqual([]);
    // The peer's node is a standby on a newer timeline: ours is stale, nothing is usable.
    const d = fake({ 1: { inRecovery: false, timeline: 2 }, 2: { inRecovery: true, timeline: 3 } });
    await expect(chooseNode([local, peer], 2, d.pgc, log, undefined, noPromo)).rejects.toThrow(TakeoverError);
    // The peer's node is the primary on a newer timeline: ours is never written; the newest primary is (as for any takeover).
    const e = fake({ 1: { inRecovery: false, timeline: 2 }, 2: { inRecovery: false, timeline: 3 } });
    expect(await chooseNode([local, peer], 2, e.pgc, log, undefined, noPromo)).toMatchObject({ node: peer, timeline: 3, promoted: false });
  });

  it('one node configured twice (both GAs on one PostgreSQL) counts once', async () => {
    const f = fake({ 1: { inRecovery: false, timeline: 1 } });
    expect(await chooseNode([local, { name: 'peer', conn: conn(1) }], 0, f.pgc, log)).toMatchObject({ node: local, promoted: false });
  });
});
