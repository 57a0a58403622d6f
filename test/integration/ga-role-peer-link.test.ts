/**
 * The GA pair's heartbeat transport over real ZeroMQ: beats both ways, our own
 * beats ignored, malformed frames survived.
 */
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { Publisher } from 'zeromq';
import { startPeerLink, type PeerLink } from '../../gestor_almacenamiento/role/peer-link.js';
import type { PeerBeat } from '../../gestor_almacenamiento/role/machine.js';
import { freePorts } from '../harness/ports.js';
import { eventually } from '../harness/eventually.js';
import { cleanupAfterEach } from '../harness/fixtures.js';

const log = pino({ level: 'silent' });
// Undone newest first after each test, also when it fails; one failing step does not stop the rest.
const defer = cleanupAfterEach();

const state = (over: Partial<PeerBeat> = {}): PeerBeat => ({ rol: 'primary', estado: 'ACTIVE', activo: true, timeline: 1, pgEnRecuperacion: false, pgDisponible: true, ...over });

async function link(bind: number, peer: number, s: () => PeerBeat, got: PeerBeat[]): Promise<PeerLink> {
  const l = await startPeerLink({ bind: `tcp://127.0.0.1:${bind}`, peer: `tcp://127.0.0.1:${peer}`, heartbeatMs: 20, state: s, onBeat: (b) => got.push(b), log });
  defer(() => l.close());
  return l;
}

describe('peer link', () => {
  it('carries each side state to the other, periodically and on demand', async () => {
    const [a, b] = await freePorts(2);
    const gotA: PeerBeat[] = [];
    const gotB: PeerBeat[] = [];
    let bState = state({ rol: 'backup', estado: 'BACKUP', activo: false, pgEnRecuperacion: true });
    await link(a!, b!, () => state(), gotA);
    const lb = await link(b!, a!, () => bState, gotB);
    await eventually('condition', () => gotA.length > 2 && gotB.length > 2, 3000);
    expect(gotB.at(-1)).toEqual(state());
    expect(gotA.at(-1)).toEqual(bState);
    bState = { ...bState, estado: 'PASSIVE' };
    lb.publishNow();
    await eventually('condition', () => gotA.at(-1)?.estado === 'PASSIVE', 3000);
  });

  it('ignores its own beats when pointed at itself', async () => {
    const [a] = await freePorts(1);
    const got: PeerBeat[] = [];
    await link(a!, a!, () => state(), got);
    await new Promise((r) => setTimeout(r, 300));
    expect(got).toEqual([]);
  });

  it('survives malformed frames and keeps receiving', async () => {
    const [fakePeer, me] = await freePorts(2);
    const pub = new Publisher({ linger: 0 });
    await pub.bind(`tcp://127.0.0.1:${fakePeer}`);
    defer(() => pub.close());
    const got: PeerBeat[] = [];
    const l = await link(me!, fakePeer!, () => state(), got);
    const good = JSON.stringify({ v: 1, instancia: 'other', ...state({ rol: 'backup', estado: 'PASSIVE', activo: false }) });
    const bad = ['', 'not json', '{"v":1}', JSON.stringify({ v: 1, instancia: 'x', ...state(), estado: 'KING' }), '[1,2]', ['two', 'frames']];
    // The SUB connects asynchronously (slow joiner): keep publishing until the bad frames land.
    const end = Date.now() + 3000;
    while (l.malformed === 0 && Date.now() < end) {
      for (const f of bad) await pub.send(f);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(l.malformed).toBeGreaterThan(0);
    // An oversized frame is ignored too (it must not cut the link).
    await pub.send('x'.repeat(10_000));
    while (got.length === 0 && Date.now() < end + 3000) {
      await pub.send(good);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(got[0]).toMatchObject({ rol: 'backup', estado: 'PASSIVE' });
  });
});
