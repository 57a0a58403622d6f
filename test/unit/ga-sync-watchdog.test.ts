/**
 * The sync-replication watchdog as a state machine: a fake clock and a fake
 * primary, driven tick by tick (no PostgreSQL, no timers).
 */
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { SyncWatchdog, type SyncWatchdogDeps } from '../../gestor_almacenamiento/replication/sync-watchdog.js';
import type { ReplicationRow } from '../../postgres/admin.js';

interface LogLine {
  level: number;
  msg: string;
  replication?: string;
}

function fakePrimary(initialNames = '') {
  let t = 1_000_000;
  let names = initialNames;
  let rows: ReplicationRow[] = [];
  let failing = false;
  const sets: Array<string | null> = [];
  const lines: LogLine[] = [];
  const log = pino({ level: 'trace' }, { write: (s: string) => lines.push(JSON.parse(s) as LogLine) });
  const deps: SyncWatchdogDeps = {
    now: () => t,
    replicationStatus: async () => {
      if (failing) throw new Error('connect ECONNREFUSED');
      return rows;
    },
    synchronousStandbyNames: async () => names,
    setSynchronousStandby: async (n) => {
      if (failing) throw new Error('connect ECONNREFUSED');
      sets.push(n);
      names = n ?? '';
    },
  };
  const row = (state: string, replyAgeMs: number | null = 100, applicationName = 'pc2'): ReplicationRow => ({
    applicationName, clientAddr: '127.0.1.2', state, syncState: names ? 'sync' : 'async', lagBytes: 0, replayLagMs: 1, replyAgeMs,
  });
  return {
    deps,
    log,
    lines,
    sets,
    names: () => names,
    advance: (ms: number) => (t += ms),
    streaming: (replyAgeMs: number | null = 100) => (rows = [row('streaming', replyAgeMs)]),
    catchup: () => (rows = [row('catchup')]),
    streamingAs: (...names: string[]) => (rows = names.map((n) => row('streaming', 100, n))),
    gone: () => (rows = []),
    fail: (f: boolean) => (failing = f),
  };
}

const errors = (lines: LogLine[]) => lines.filter((l) => l.level >= 50);

describe('sync watchdog', () => {
  it('in a pair whose peer is silent, it holds sync past the degrade delay (commits wait), and degrades once allowed', async () => {
    const p = fakePrimary();
    let hold: string | undefined = 'sin latido del GA par desde hace 2000 ms: puede estar promoviendo el standby';
    const w = new SyncWatchdog({ requested: 'sync', standbyName: 'pc2', degradeMs: 3000, log: p.log, deps: { ...p.deps, holdDegrade: () => hold } });
    p.streaming();
    expect((await w.tick()).mode).toBe('sync');
    p.gone();
    await w.tick();
    for (let i = 0; i < 9; i++) {
      p.advance(1000);
      await w.tick();
    }
    p.advance(1000);
    const held = await w.tick();
    expect(held).toMatchObject({ mode: 'sync', held: hold });
    expect(p.sets).toEqual(['pc2']); // synchronous_standby_names never cleared
    expect(errors(p.lines).some((l) => /stays SYNCHRONOUS/.test(l.msg))).toBe(true);
    // The peer heard again (alive, not promoting): now it may degrade.
    hold = undefined;
    const degraded = await w.tick();
    expect(degraded.mode).toBe('degraded-async');
    expect(degraded.held).toBeUndefined();
    expect(p.sets).toEqual(['pc2', null]);
  });

  it('enables sync only once the standby streams (not while catching up)', async () => {
    const p = fakePrimary();
    const w = new SyncWatchdog({ requested: 'sync', standbyName: 'pc2', degradeMs: 3000, log: p.log, deps: p.deps });
    p.catchup();
    expect((await w.tick()).mode).toBe('degraded-async');
    expect(p.sets).toEqual([]);
    p.advance(100);
    p.streaming();
    const s = await w.tick();
    expect(s.mode).toBe('sync');
    expect(s.standbyStreaming).toBe(true);
    expect(p.names()).toBe('pc2');
    expect(p.lines.some((l) => l.level === 30 && /synchronous replication enabled/.test(l.msg))).toBe(true);
  });

  it('degrades loudly after degradeMs without streaming, and re-enables when it streams again', async () => {
    const p = fakePrimary();
    const w = new SyncWatchdog({ requested: 'sync', standbyName: 'pc2', degradeMs: 3000, log: p.log, deps: p.deps });
    p.streaming();
    await w.tick();
    p.gone();
    p.advance(100);
    expect((await w.tick()).mode).toBe('sync'); // first tick without it: the clock starts
    p.advance(2999);
    expect((await w.tick()).mode).toBe('sync');
    expect(errors(p.lines)).toEqual([]);
    p.advance(1);
    const s = await w.tick();
    expect(s.mode).toBe('degraded-async');
    expect(s.notStreamingMs).toBe(3000);
    expect(p.names()).toBe('');
    const [e] = errors(p.lines);
    expect(e?.replication).toBe('ASYNC');
    expect(e?.msg).toMatch(/DEGRADED TO ASYNC.*LOST on failover/);

    p.advance(500);
    p.streaming();
    expect((await w.tick()).mode).toBe('sync');
    expect(p.names()).toBe('pc2');
    expect(p.lines.at(-1)?.msg).toMatch(/SYNCHRONOUS again/);
    expect(p.sets).toEqual(['pc2', null, 'pc2']);
  });

  it('counts a connected standby whose feedback went stale as not streaming, from its last reply', async () => {
    const p = fakePrimary();
    const w = new SyncWatchdog({ requested: 'sync', standbyName: 'pc2', degradeMs: 3000, staleReplyMs: 2000, log: p.log, deps: p.deps });
    p.streaming();
    await w.tick();
    p.advance(2500);
    p.streaming(2500); // frozen host: the walsender has not timed out yet
    const s1 = await w.tick();
    expect(s1.standbyStreaming).toBe(false);
    expect(s1.notStreamingMs).toBe(2500);
    p.advance(500);
    p.streaming(3000);
    expect((await w.tick()).mode).toBe('degraded-async');
  });

  it('after a stall of the primary itself (no look for longer than degradeMs), the standby gets a full degradeMs again', async () => {
    const p = fakePrimary();
    const w = new SyncWatchdog({ requested: 'sync', standbyName: 'pc2', degradeMs: 3000, staleReplyMs: 2000, log: p.log, deps: p.deps });
    p.streaming();
    await w.tick();
    // The primary froze for 5 s: every look failed; the standby's last reply is as old.
    p.fail(true);
    p.advance(5000);
    await w.tick();
    p.fail(false);
    p.streaming(5000);
    const back = await w.tick();
    expect(back.mode).toBe('sync');
    expect(back.notStreamingMs).toBe(0);
    // Still silent a whole degradeMs later: now it degrades.
    p.advance(3000);
    p.streaming(8000);
    expect((await w.tick()).mode).toBe('degraded-async');
  });

  it('reminds at error level while degraded, and keeps trying when the primary is unreachable', async () => {
    const p = fakePrimary();
    const w = new SyncWatchdog({ requested: 'sync', standbyName: 'pc2', degradeMs: 1000, remindMs: 10_000, log: p.log, deps: p.deps });
    p.streaming();
    await w.tick();
    p.gone();
    await w.tick();
    p.advance(1000);
    await w.tick();
    expect(errors(p.lines)).toHaveLength(1);
    p.advance(5000);
    await w.tick();
    expect(errors(p.lines)).toHaveLength(1);
    p.advance(5000);
    await w.tick();
    expect(errors(p.lines)).toHaveLength(2);

    p.fail(true);
    const s = await w.tick();
    expect(s.lastError).toMatch(/ECONNREFUSED/);
    expect(s.mode).toBe('degraded-async');
    p.fail(false);
    p.streaming();
    const s2 = await w.tick();
    expect(s2.lastError).toBeUndefined();
    expect(s2.mode).toBe('sync');
  });

  it('a primary restarted with sync persisted degrades if the standby does not show up', async () => {
    const p = fakePrimary('FIRST 1 (pc2)');
    const w = new SyncWatchdog({ requested: 'sync', standbyName: 'pc2', degradeMs: 2000, log: p.log, deps: p.deps });
    expect((await w.tick()).mode).toBe('sync');
    p.advance(2000);
    expect((await w.tick()).mode).toBe('degraded-async');
    expect(p.names()).toBe('');
  });

  it('async mode clears a sync setting left by an earlier run, once', async () => {
    const p = fakePrimary('FIRST 1 (pc2)');
    const w = new SyncWatchdog({ requested: 'async', standbyName: 'pc2', degradeMs: 2000, log: p.log, deps: p.deps });
    p.streaming();
    expect((await w.tick()).mode).toBe('async');
    await w.tick();
    expect(p.sets).toEqual([null]);
    expect(p.names()).toBe('');
  });

  it('waits for whichever standby streams when it is not the configured one (takeover on the surviving primary)', async () => {
    // The backup GA (configured to expect its peer's node, pc1) took over on pc1's live
    // primary, whose standby is pc2: sync must follow pc2, not degrade.
    const p = fakePrimary();
    const w = new SyncWatchdog({ requested: 'sync', standbyName: 'pc1', degradeMs: 3000, log: p.log, deps: p.deps });
    p.streamingAs('pc2');
    expect((await w.tick()).mode).toBe('sync');
    expect(p.names()).toBe('pc2');
    p.advance(5000);
    expect((await w.tick()).mode).toBe('sync');
    expect(errors(p.lines)).toEqual([]);
  });

  it('never waits for a base backup\'s WAL stream (a standby being cloned with pg_basebackup)', async () => {
    const p = fakePrimary();
    const w = new SyncWatchdog({ requested: 'sync', standbyName: 'pc1', degradeMs: 3000, log: p.log, deps: p.deps });
    p.streamingAs('pg_basebackup');
    expect((await w.tick()).mode).toBe('degraded-async');
    expect(p.sets).toEqual([]);
    p.streamingAs('pg_basebackup', 'pc1');
    expect((await w.tick()).mode).toBe('sync');
    expect(p.sets).toEqual(['pc1']);
  });
});
