/**
 * The rule an ACTIVE GA applies to a request while its peer is silent
 * (role/silent-peer.ts: silentPeerVerdict, clientsStayed, contactGapMs), with
 * plain numbers. The same rule against real processes: test/integration/ga-role-silent-peer.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { clientsStayed, contactGapMs, silentPeerVerdict } from '../../gestor_almacenamiento/role/silent-peer.js';

/** Active since 0, peer silent since 10 000, an unreachable peer not trusted yet. */
const base = { arrivedAt: 20_000, activeSince: 0, silentSince: 10_000, trustUnreachable: false };

describe('silentPeerVerdict', () => {
  it('decides on a probe started up to 500 ms before the request arrived; with none, the request waits for one', () => {
    expect(silentPeerVerdict({ ...base, probe: undefined })).toBe('probe');
    expect(silentPeerVerdict({ ...base, probe: { startedAt: 19_499, reachable: true } })).toBe('probe');
    expect(silentPeerVerdict({ ...base, probe: { startedAt: 19_500, reachable: true } })).toBe('serve');
  });

  it('a peer node that answers lets it serve (a newer timeline there has fenced the GA already)', () => {
    expect(silentPeerVerdict({ ...base, probe: { startedAt: 19_900, reachable: true } })).toBe('serve');
  });

  it('an unreachable peer node: doubt until it is trusted, for a GA that was active before the silence', () => {
    const failed = { ...base, probe: { startedAt: 19_900, reachable: false } };
    expect(silentPeerVerdict(failed)).toBe('doubt');
    expect(silentPeerVerdict({ ...failed, trustUnreachable: true })).toBe('serve');
  });

  it('no doubt for a GA that took over after the silence (the survivor by decision), or one never active before it', () => {
    const failed = { ...base, probe: { startedAt: 19_900, reachable: false } };
    expect(silentPeerVerdict({ ...failed, activeSince: 10_500 })).toBe('serve');
    expect(silentPeerVerdict({ ...failed, activeSince: undefined })).toBe('serve');
  });
});

describe('clientsStayed', () => {
  const lastBeat = 10_000;
  it('the peer host died under load (clients there since long before its last beat): trusted 1 s after that beat', () => {
    expect(clientsStayed(10_999, 2_000, lastBeat)).toBe(false);
    expect(clientsStayed(11_000, 2_000, lastBeat)).toBe(true); // with T = 1 s: before the silence is even declared
  });

  it('a healed cut (clients back after a pause, so their run starts after the last beat): 1 s from their return', () => {
    expect(clientsStayed(13_999, 13_000, lastBeat)).toBe(false);
    expect(clientsStayed(14_000, 13_000, lastBeat)).toBe(true);
  });
});

describe('contactGapMs', () => {
  it('is the peer timeout minus one heartbeat: the shortest client pause a takeover behind our back leaves', () => {
    expect(contactGapMs(1000, 100)).toBe(900);
    expect(contactGapMs(300, 100)).toBe(200);
    // Above a client's pause between retries with the defaults (round backoff up to 500 ms, a dead GA fails a send in 200 ms).
    expect(contactGapMs(1000, 100)).toBeGreaterThan(700);
  });
});
