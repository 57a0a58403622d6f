/**
 * The silent-peer rules of the GA pair, pure (no clock, no sockets, no SQL): what an
 * ACTIVE GA whose peer's heartbeat went silent does with a request — wait for a
 * probe of the peer's PostgreSQL, doubt (answer GA_NO_ACTIVO), or serve — and when
 * an unreachable peer node is trusted. The controller (controller.ts) feeds them the
 * times and probe results; test/unit/ga-role-silent-peer-rule.test.ts drives them alone.
 */

/**
 * While the peer is silent, a request is decided on the last probe of the peer's
 * PostgreSQL (made in the background, controller.ts) if that probe started at most
 * this long before the request arrived; otherwise it waits for a newer one. It
 * bounds how late a newer timeline on the peer's node is noticed (plus the probe
 * itself); above two probes of a dead host, so the steady state never waits.
 */
const PEER_PROBE_FRESH_MS = 500;

/**
 * A peer PostgreSQL that cannot be reached says nothing until this GA has had
 * its clients for this long since the peer's last beat: right after a healed
 * partition the first probes fail (a SYN lost in the cut, EHOSTUNREACH until
 * ARP resolves again) although the peer is up and promoted, and serving on such
 * a failure admitted writes on the old timeline (link-cut drill). See
 * silentPeerVerdict and clientsStayed.
 */
const PEER_NODE_UNREACHABLE_MS = 1000;

/** What the last probe of the silent peer's PostgreSQL showed (one silence: older ones are dropped). */
export interface PeerProbeResult {
  startedAt: number;
  reachable: boolean;
}

/**
 * The rule for a request to an ACTIVE GA whose peer is silent (pure).
 *  - 'probe': no probe started within PEER_PROBE_FRESH_MS before the request: wait for one;
 *  - 'doubt': the peer's node did not answer, this GA was ACTIVE before the silence,
 *    and an unreachable peer is not trusted yet (clientsStayed): it may be the
 *    stale side of a partition that just healed; answer GA_NO_ACTIVO;
 *  - 'serve': the peer's node answered (a newer timeline there has fenced us
 *    already), or it is unreachable and there is no reason to doubt it.
 */
export function silentPeerVerdict(s: {
  probe: PeerProbeResult | undefined;
  arrivedAt: number;
  activeSince: number | undefined;
  silentSince: number;
  trustUnreachable: boolean;
}): 'probe' | 'doubt' | 'serve' {
  if (!s.probe || s.probe.startedAt < s.arrivedAt - PEER_PROBE_FRESH_MS) return 'probe';
  if (s.probe.reachable) return 'serve';
  // A GA that took over after the silence is the survivor by decision: no doubt.
  const wasActiveBefore = s.activeSince !== undefined && s.activeSince < s.silentSince;
  return wasActiveBefore && !s.trustUnreachable ? 'doubt' : 'serve';
}

/**
 * Whether this GA has had its clients without a pause (contactSince: start of the
 * current run of requests, see contactGapMs) for PEER_NODE_UNREACHABLE_MS since
 * the peer's last beat. Once true, an unreachable peer is trusted for the rest
 * of that silence (pure).
 * Why: a cut that isolated this GA while the pair still heard each other, long
 * enough for the peer to take over and promote, also kept its clients away for
 * a pause, so the run that follows the heal starts after the last beat and the
 * first second of it is doubted. If the clients stayed (the peer's host died,
 * or only the link between the hosts broke), nothing is doubted. A cut that
 * starts once the pair no longer hears each other is the documented partition
 * limit (the peer may take over at any time), which no check here can see.
 */
export function clientsStayed(now: number, contactSince: number, peerLastBeatAt: number): boolean {
  return now - Math.max(contactSince, peerLastBeatAt) >= PEER_NODE_UNREACHABLE_MS;
}

/**
 * A pause in client requests at least this long starts a new run of contact. A
 * takeover by the peer needs our heartbeat silent for T (GA_PEER_TIMEOUT_MS), and
 * our last beat before a cut is at most one heartbeat old, so a cut that let the
 * peer promote kept our clients away for more than T − heartbeat. Shorter pauses
 * (a client's retry rounds are ≤ ~0.7 s) must not restart the doubt.
 */
export function contactGapMs(peerTimeoutMs: number, heartbeatMs: number): number {
  return Math.max(peerTimeoutMs - heartbeatMs, heartbeatMs);
}
