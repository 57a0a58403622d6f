/**
 * The GA pair's role rules with a fake clock: no network, no PostgreSQL.
 */
import { describe, expect, it } from 'vitest';
import { RoleMachine, type RoleState, type GaRol, type PeerBeat, type RoleChange } from '../../gestor_almacenamiento/role/machine.js';

const T = 1000;

function machine(rol: GaRol, now = 0) {
  const changes: RoleChange[] = [];
  const lost: number[] = [];
  const m = new RoleMachine({ rol, peerTimeoutMs: T, onChange: (c) => changes.push(c), onPeerLost: (ms) => lost.push(ms) }, now);
  return { m, changes, lost };
}

function beat(estado: RoleState, over: Partial<PeerBeat> = {}): PeerBeat {
  return { rol: estado === 'PRIMARY' ? 'primary' : 'backup', estado, activo: estado === 'ACTIVE', timeline: 1, pgEnRecuperacion: false, pgDisponible: true, ...over };
}

const primaryNode = { reachable: true, inRecovery: false, timeline: 1 };
const standbyNode = { reachable: true, inRecovery: true, timeline: 1 };

describe('cold start with both alive', () => {
  it('the primary activates when it hears the backup; the backup goes passive when it hears the active primary', () => {
    const p = machine('primary');
    const b = machine('backup');
    expect(p.m.state).toBe('PRIMARY');
    expect(b.m.state).toBe('BACKUP');
    p.m.nodeStatus(primaryNode, 10);
    b.m.nodeStatus(standbyNode, 10);

    // Backup hears the primary still starting: nothing to do yet.
    expect(b.m.peerBeat(p.m.beat(), 100)).toBeUndefined();
    expect(b.m.request(110)).toEqual({ kind: 'reject', mensaje: expect.stringContaining('esperando') });
    // Primary hears the backup: activation requested once, even if beats keep coming.
    expect(p.m.peerBeat(b.m.beat(), 100)).toMatch(/cold start: peer is BACKUP/);
    expect(p.m.peerBeat(b.m.beat(), 200)).toBeUndefined();
    expect(p.m.request(210)).toEqual({ kind: 'wait' });
    expect(p.m.activated(1, 'cold start', 250)).toBe(true);
    expect(p.m.state).toBe('ACTIVE');
    expect(p.m.request(260)).toEqual({ kind: 'serve' });

    b.m.peerBeat(p.m.beat(), 300);
    expect(b.m.state).toBe('PASSIVE');
    expect(b.m.request(310)).toMatchObject({ kind: 'reject', mensaje: expect.stringContaining('el GA activo es el par') });
    expect(p.changes).toEqual([{ from: 'PRIMARY', to: 'ACTIVE', reason: 'cold start', level: 'info' }]);
    expect(b.changes).toEqual([expect.objectContaining({ from: 'BACKUP', to: 'PASSIVE', reason: 'peer is active' })]);
  });

  it('a primary alone serves only after the peer timeout, and only when asked', () => {
    const p = machine('primary');
    expect(p.m.request(T - 1)).toMatchObject({ kind: 'reject', mensaje: expect.stringContaining('iniciando') });
    expect(p.m.request(T)).toEqual({ kind: 'activate', reason: `no peer heartbeat ${T} ms after start` });
  });

  it('a backup that never heard its primary never promotes: with its node a standby, unprobed or unreachable it refuses for good', () => {
    for (const node of [undefined, standbyNode, { reachable: false }]) {
      const b = machine('backup');
      if (node) b.m.nodeStatus(node, 10);
      for (const t of [T, 5 * T, 60 * T, 3600 * T]) expect(b.m.request(t)).toMatchObject({ kind: 'reject' });
      expect(b.m.state).toBe('BACKUP');
    }
  });

  it('a backup restarted after a failover, peer never heard, its node already the primary on the newest timeline: serves after T without promoting', () => {
    const b = machine('backup');
    b.m.nodeStatus({ reachable: true, inRecovery: false, timeline: 2, sistema: 'S' }, 10);
    // Not before T: a peer that is only starting (or an active one) must get the chance to be heard.
    expect(b.m.request(T - 1)).toMatchObject({ kind: 'reject', mensaje: expect.stringContaining('iniciando') });
    expect(b.lost).toEqual([]);
    expect(b.m.request(T)).toEqual({ kind: 'activate', reason: `no peer heartbeat ${T} ms after start; our PostgreSQL is already the primary on timeline 2 (no promotion)`, noPromotion: true });
    expect(b.lost).toEqual([T]); // told once, as a silence that never ended
    expect(b.m.activated(2, 'no promotion', T + 50, 'S')).toBe(true);
    expect(b.m.state).toBe('ACTIVE');
    for (const t of [2 * T, 60 * T, 3600 * T]) expect(b.m.request(t)).toEqual({ kind: 'serve' });
    expect(b.lost).toEqual([T]);
    // The peer shows up later, passive (it finds us active): nothing changes.
    b.m.peerBeat(beat('PASSIVE', { rol: 'primary', timeline: 2, pgEnRecuperacion: true }), 3600 * T + 1);
    expect(b.m.state).toBe('ACTIVE');
  });

  it('...but not when it knows of a newer timeline, or its node is in recovery again', () => {
    const b = machine('backup');
    b.m.nodeStatus({ reachable: true, inRecovery: false, timeline: 2, sistema: 'S' }, 10);
    b.m.writeFencedBy({ sistema: 'S', timeline: 3 }, 20); // a client already wrote on timeline 3
    expect(b.m.state).toBe('FENCED');
    expect(b.m.request(5 * T)).toMatchObject({ kind: 'reject', mensaje: expect.stringContaining('FENCED') });

    const c = machine('backup');
    c.m.nodeStatus({ reachable: true, inRecovery: false, timeline: 2 }, 10);
    c.m.nodeStatus({ reachable: true, inRecovery: true, timeline: 2 }, 20); // rejoined as a standby meanwhile
    expect(c.m.request(5 * T)).toMatchObject({ kind: 'reject', mensaje: expect.stringContaining('no promueve') });
  });

  it('a backup that heard its peer, even once, keeps the usual rules (the no-promotion path is only for a peer never heard)', () => {
    const b = machine('backup');
    b.m.nodeStatus({ reachable: true, inRecovery: false, timeline: 2 }, 10);
    b.m.peerBeat(beat('PASSIVE', { rol: 'primary', timeline: 2 }), 50);
    expect(b.m.request(100)).toMatchObject({ kind: 'reject' }); // peer heard and alive: the configured primary serves
    expect(b.m.request(50 + T)).toEqual({ kind: 'activate', reason: `peer heartbeat lost for ${T} ms` });
  });
});

/** A passive backup that has heard an active primary until `lastBeat`. */
function passiveBackup(lastBeat = 1000) {
  const b = machine('backup');
  b.m.nodeStatus(standbyNode, 0);
  for (let t = 100; t <= lastBeat; t += 100) b.m.peerBeat(beat('ACTIVE'), t);
  expect(b.m.state).toBe('PASSIVE');
  return b;
}

describe('takeover needs a lost heartbeat AND a client request', () => {
  it('heartbeat loss without requests: stays passive (and says the peer is lost, once)', () => {
    const b = passiveBackup();
    for (let t = 1100; t <= 10_000; t += 100) b.m.tick(t);
    expect(b.m.state).toBe('PASSIVE');
    expect(b.lost).toEqual([T]);
    expect(b.m.snapshot(10_000)).toMatchObject({ peerLost: true, peerAgeMs: 9000, estado: 'PASSIVE' });
  });

  it('a request before the timeout is rejected; after it, it triggers the activation', () => {
    const b = passiveBackup(1000);
    expect(b.m.request(1000 + T - 1).kind).toBe('reject');
    expect(b.m.request(1000 + T)).toEqual({ kind: 'activate', reason: `peer heartbeat lost for ${T} ms` });
    // Concurrent requests wait for that one activation.
    expect(b.m.request(2001)).toEqual({ kind: 'wait' });
    expect(b.m.activated(2, 'takeover', 2100)).toBe(true);
    expect(b.m.state).toBe('ACTIVE');
    expect(b.changes.at(-1)).toMatchObject({ from: 'PASSIVE', to: 'ACTIVE', level: 'warn' });
  });

  it('a failed activation leaves it passive and spaces the retries', () => {
    const b = passiveBackup(1000);
    expect(b.m.request(2000).kind).toBe('activate');
    b.m.activationFailed('no PostgreSQL node usable', 2050);
    expect(b.m.state).toBe('PASSIVE');
    expect(b.m.request(2100)).toMatchObject({ kind: 'reject', mensaje: expect.stringContaining('no PostgreSQL node usable') });
    expect(b.m.request(2550).kind).toBe('activate');
  });

  it('no flapping: heartbeats that jitter below the timeout never let it take over', () => {
    const b = passiveBackup(100);
    let t = 100;
    let seed = 7;
    for (let i = 0; i < 2000; i++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      t += 10 + (seed % (T - 20)); // gaps from 10 to 989 ms
      expect(b.m.request(t - 1).kind).toBe('reject');
      b.m.peerBeat(beat('ACTIVE'), t);
    }
    expect(b.changes).toHaveLength(1); // BACKUP → PASSIVE, nothing after
    expect(b.lost).toEqual([]);
  });

  it('once active, resumed heartbeats from a passive peer change nothing', () => {
    const b = passiveBackup(1000);
    b.m.request(2500);
    b.m.activated(1, 'takeover', 2500);
    for (let t = 2600; t < 5000; t += 100) b.m.peerBeat(beat('PASSIVE', { rol: 'primary' }), t);
    expect(b.m.state).toBe('ACTIVE');
  });
});

describe('a returning primary after a takeover', () => {
  it('sees the peer ACTIVE and never becomes active (passive, says so at warn)', () => {
    const p = machine('primary');
    p.m.nodeStatus(primaryNode, 0);
    expect(p.m.peerBeat(beat('ACTIVE', { rol: 'backup' }), 50)).toBeUndefined();
    expect(p.m.state).toBe('PASSIVE');
    expect(p.changes[0]).toMatchObject({ from: 'PRIMARY', to: 'PASSIVE', level: 'warn', reason: expect.stringContaining('took over while we were away') });
    for (let t = 100; t < 5000; t += 100) {
      p.m.peerBeat(beat('ACTIVE', { rol: 'backup' }), t);
      expect(p.m.request(t + 1).kind).toBe('reject');
    }
  });

  it('sees a higher timeline than its own node: FENCED, tells how to rejoin, refuses activation', () => {
    const p = machine('primary');
    p.m.nodeStatus(primaryNode, 0); // old primary restarted plainly: read-write on timeline 1
    p.m.peerBeat(beat('ACTIVE', { rol: 'backup', timeline: 2 }), 50);
    expect(p.m.state).toBe('FENCED');
    expect(p.changes[0]).toMatchObject({ to: 'FENCED', level: 'error', reason: expect.stringMatching(/primary on timeline 1 but timeline 2 exists/) });
    expect(p.m.snapshot(60).fenced?.rejoin).toMatch(/rejoin/);
    // Even with the peer gone and clients knocking, it never serves from timeline 1.
    for (let t = 100; t < 10_000; t += 500) expect(p.m.request(t)).toMatchObject({ kind: 'reject', mensaje: expect.stringContaining('FENCED') });
    expect(p.m.activated(1, 'late', 10_000)).toBe(false);
    expect(p.m.state).toBe('FENCED');
  });

  it('leaves FENCED once its node is a standby on the highest timeline (rejoined)', () => {
    const p = machine('primary');
    p.m.nodeStatus(primaryNode, 0);
    p.m.peerBeat(beat('ACTIVE', { timeline: 2 }), 50);
    p.m.nodeStatus({ reachable: true, inRecovery: true, timeline: 1 }, 100); // still catching up
    expect(p.m.state).toBe('FENCED');
    p.m.nodeStatus({ reachable: true, inRecovery: true, timeline: 2 }, 200);
    expect(p.m.state).toBe('PASSIVE');
  });

  it('an ACTIVE GA that learns of a higher timeline stops serving at once', () => {
    const p = machine('primary');
    p.m.nodeStatus(primaryNode, 0);
    p.m.peerBeat(beat('BACKUP'), 10);
    p.m.activated(1, 'cold start', 20);
    p.m.peerBeat(beat('ACTIVE', { timeline: 3 }), 30);
    expect(p.m.state).toBe('FENCED');
    expect(p.m.request(31).kind).toBe('reject');
  });
});

describe('storage loss and dual states', () => {
  it('an ACTIVE GA without PostgreSQL steps down after the timeout; the backup then takes over on a request', () => {
    const p = machine('primary');
    p.m.nodeStatus(primaryNode, 0);
    p.m.peerBeat(beat('BACKUP'), 10);
    p.m.activated(1, 'cold start', 20);
    p.m.storage(false, 100);
    p.m.tick(100 + T - 1);
    expect(p.m.state).toBe('ACTIVE');
    p.m.storage(false, 100 + T);
    expect(p.m.state).toBe('PASSIVE');
    expect(p.m.beat()).toMatchObject({ activo: false, pgDisponible: false });

    const b = passiveBackup(1000);
    b.m.peerBeat(p.m.beat(), 1150);
    expect(b.m.request(1160)).toEqual({ kind: 'activate', reason: 'peer is passive and cannot reach PostgreSQL' });
    // The stepped-down primary does not compete while the backup is alive.
    p.m.peerBeat(b.m.beat(), 1170);
    expect(p.m.request(1180).kind).not.toBe('activate');
  });

  it('a primary that cannot reach its PostgreSQL at start goes passive after the step-down delay; the backup then takes over on a request', () => {
    // Its node waits beside a standby on a newer timeline for the pair to promote that
    // standby (deploy/postgres): as PRIMARY it would hold the pair for good.
    const p = machine('primary');
    expect(p.m.peerBeat(beat('BACKUP'), 10)).toMatch(/cold start/);
    p.m.activationFailed('no PostgreSQL node to use', 50); // its own node does not answer
    p.m.storage(false, 100);
    p.m.tick(100 + T - 1);
    expect(p.m.state).toBe('PRIMARY');
    const b = machine('backup');
    b.m.nodeStatus(standbyNode, 0);
    b.m.peerBeat(p.m.beat(), 100 + T - 1);
    expect(b.m.request(100 + T).kind).not.toBe('activate');
    p.m.tick(100 + T);
    expect(p.m.state).toBe('PASSIVE');
    expect(p.m.beat()).toMatchObject({ activo: false, pgDisponible: false });
    b.m.peerBeat(p.m.beat(), 100 + T + 10);
    expect(b.m.request(100 + T + 20)).toEqual({ kind: 'activate', reason: 'peer is passive and cannot reach PostgreSQL' });
  });

  it('a primary whose PostgreSQL answers again before the delay stays PRIMARY and activates as usual', () => {
    const p = machine('primary');
    p.m.storage(false, 100);
    p.m.storage(true, 100 + T - 10);
    p.m.tick(100 + 5 * T);
    expect(p.m.state).toBe('PRIMARY');
  });

  it('a storage blip shorter than the step-down delay changes nothing', () => {
    const p = machine('primary');
    p.m.peerBeat(beat('BACKUP'), 10);
    p.m.activated(1, 'cold start', 20);
    p.m.storage(false, 100);
    p.m.storage(true, 100 + T - 10);
    p.m.tick(100 + 5 * T);
    expect(p.m.state).toBe('ACTIVE');
  });

  it('dual active on one timeline: the backup yields', () => {
    const b = passiveBackup(1000);
    b.m.request(2500);
    b.m.activated(1, 'takeover', 2500);
    b.m.peerBeat(beat('ACTIVE', { rol: 'primary' }), 2600);
    expect(b.m.state).toBe('PASSIVE');
    expect(b.changes.at(-1)).toMatchObject({ level: 'error', reason: expect.stringContaining('backup yields') });
  });

  it('healed partition: the backup that promoted does not yield to the stale primary, which fences on hearing it', () => {
    const b = passiveBackup(1000);
    b.m.request(2500);
    b.m.activated(2, 'takeover: promoted the local standby', 2500);
    const stale = beat('ACTIVE', { rol: 'primary', timeline: 1 });
    b.m.peerBeat(stale, 2600);
    expect(b.m.state).toBe('ACTIVE');

    const p = machine('primary');
    p.m.nodeStatus(primaryNode, 0);
    p.m.peerBeat(beat('BACKUP'), 10);
    p.m.activated(1, 'cold start', 20);
    p.m.peerBeat(b.m.beat(), 2600);
    expect(p.m.state).toBe('FENCED');
    expect(p.m.request(2610).kind).toBe('reject');
  });

  it('an active GA fences as soon as a direct probe finds the peer node primary on a newer timeline', () => {
    const p = machine('primary');
    p.m.nodeStatus(primaryNode, 0);
    p.m.peerBeat(beat('BACKUP'), 10);
    p.m.activated(1, 'cold start', 20);
    p.m.peerNodePrimary(1, 3000);
    expect(p.m.state).toBe('ACTIVE');
    p.m.peerNodePrimary(2, 3100);
    expect(p.m.state).toBe('FENCED');
  });

  it('a peer that is fenced lets the backup take over on a request even while beating', () => {
    const b = passiveBackup(1000);
    b.m.peerBeat(beat('FENCED', { rol: 'primary', timeline: 1 }), 1100);
    expect(b.m.request(1110)).toEqual({ kind: 'activate', reason: 'peer is fenced' });
  });

  it('an ACTIVE GA whose node turns into a standby is no longer active', () => {
    const p = machine('primary');
    p.m.peerBeat(beat('BACKUP'), 10);
    p.m.activated(1, 'cold start', 20);
    p.m.nodeStatus(standbyNode, 30);
    expect(p.m.state).toBe('PASSIVE');
  });
});

describe('fencing tokens carried by clients', () => {
  const S = '7312345678901234567';
  const active = () => {
    const p = machine('primary');
    p.m.nodeStatus({ ...primaryNode, sistema: S }, 0);
    p.m.peerBeat(beat('BACKUP'), 10);
    p.m.activated(1, 'cold start', 20, S);
    return p;
  };

  it('stamps the history its writes go to, once the node was probed', () => {
    const p = machine('primary');
    expect(p.m.fencing()).toBeUndefined();
    p.m.nodeStatus(primaryNode, 0); // a probe that did not tell the cluster: no token
    expect(p.m.fencing()).toBeUndefined();
    expect(active().m.fencing()).toEqual({ sistema: S, timeline: 1 });
  });

  it('a write from a client that already wrote on a newer timeline of this cluster is refused and fences the GA', () => {
    const p = active();
    expect(p.m.writeFencedBy({ sistema: S, timeline: 2 }, 30)).toBe(true);
    expect(p.m.state).toBe('FENCED');
    expect(p.m.highestTimeline).toBe(2);
    expect(p.changes.at(-1)).toMatchObject({ from: 'ACTIVE', to: 'FENCED', reason: expect.stringMatching(/primary on timeline 1 but timeline 2 exists/) });
    expect(p.m.request(40).kind).toBe('reject');
  });

  it('a failed probe does not open a window: the last known history still refuses, and fences once the node answers', () => {
    const p = active();
    p.m.nodeStatus({ reachable: false }, 30);
    expect(p.m.fencing()).toEqual({ sistema: S, timeline: 1 });
    expect(p.m.writeFencedBy({ sistema: S, timeline: 2 }, 40)).toBe(true);
    p.m.nodeStatus({ ...primaryNode, sistema: S }, 50);
    expect(p.m.state).toBe('FENCED');
  });

  it('a GA fenced by a token leaves FENCED once its node rejoined as a standby on that timeline', () => {
    const p = active();
    p.m.writeFencedBy({ sistema: S, timeline: 2 }, 30);
    p.m.nodeStatus({ reachable: true, inRecovery: true, timeline: 2, sistema: S }, 40);
    expect(p.m.state).toBe('PASSIVE');
    expect(p.m.fencing()).toEqual({ sistema: S, timeline: 2 });
  });

  it('tokens of this timeline, an older one, another cluster or a node that never told its cluster change nothing', () => {
    const p = active();
    for (const t of [{ sistema: S, timeline: 1 }, { sistema: '42', timeline: 9 }]) expect(p.m.writeFencedBy(t, 30)).toBe(false);
    expect(p.m.state).toBe('ACTIVE');
    expect(p.m.request(40)).toEqual({ kind: 'serve' });
    const q = machine('primary');
    q.m.nodeStatus(primaryNode, 0); // cluster unknown
    expect(q.m.writeFencedBy({ sistema: S, timeline: 5 }, 10)).toBe(false);
    expect(q.m.state).toBe('PRIMARY');
  });
});

describe('sync replication may degrade to async only when the peer cannot be promoting', () => {
  it('peer heard: allowed; peer silent on our timeline: held; we took over on a newer timeline: allowed', () => {
    const p = machine('primary');
    p.m.nodeStatus(primaryNode, 10);
    p.m.peerBeat(beat('PASSIVE'), 100);
    expect(p.m.syncDegradeHold(200)).toBeUndefined();
    // The link between the hosts broke: the peer may be promoting the standby that stopped streaming.
    expect(p.m.syncDegradeHold(100 + T)).toMatch(/^sin latido del GA par desde hace 1000 ms: puede estar promoviendo el standby/);
    // The backup that took over promoted its standby: timeline 2 against the peer's last 1.
    const b = machine('backup');
    b.m.peerBeat(beat('ACTIVE'), 100);
    b.m.nodeStatus({ reachable: true, inRecovery: false, timeline: 2 }, 100 + T);
    expect(b.m.syncDegradeHold(100 + 2 * T)).toBeUndefined();
    // A peer never heard since start: held (its timeline is unknown).
    const alone = machine('primary');
    alone.m.nodeStatus(primaryNode, 10);
    expect(alone.m.syncDegradeHold(2 * T)).toMatch(/sin noticias del GA par desde el arranque/);
  });
});
