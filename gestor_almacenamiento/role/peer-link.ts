/**
 * Heartbeat transport between the two GAs of a pair: this GA PUBlishes its
 * state on GA_PEER_BIND every GA_HEARTBEAT_MS (and at once on a change), and
 * SUBscribes to the peer's GA_PEER_ENDPOINT. Only transport: what a beat means
 * is role/machine.ts's business.
 *
 * Why PUB/SUB: a heartbeat is fire-and-forget and only the latest one matters,
 * so the SUB side conflates (keeps one message) and a dead peer costs nothing.
 * A new subscriber misses beats published before its handshake (slow joiner);
 * the next periodic beat covers that.
 */
import { randomBytes } from 'node:crypto';
import { Publisher, Subscriber } from 'zeromq';
import { z } from '../../common/protocol/zod.js';
import type { Logger } from '../../common/logger.js';
import { parseFrame } from '../../common/protocol/frame.js';
import type { SocketSecurity } from '../../common/socket-security.js';
import { ROLE_STATES, type PeerBeat } from './machine.js';

const beatSchema = z.object({
  v: z.literal(1),
  /** Random per process: ignores our own beats if GA_PEER_ENDPOINT points back at us. */
  instancia: z.string().max(64),
  rol: z.enum(['primary', 'backup']),
  estado: z.enum(ROLE_STATES),
  activo: z.boolean(),
  timeline: z.number().int().nonnegative().nullable(),
  pgEnRecuperacion: z.boolean().nullable(),
  pgDisponible: z.boolean(),
});

export interface PeerLinkOptions {
  bind: string;
  /** The peer's heartbeat endpoint. */
  peer: string;
  heartbeatMs: number;
  /** Our current state, read at every beat. */
  state: () => PeerBeat;
  onBeat: (b: PeerBeat) => void;
  log: Logger;
  /** CURVE on both sockets (absent: off): our PUB admits the peer's key only. */
  security?: SocketSecurity;
}

export interface PeerLink {
  /** The bound endpoint (resolved port when bind used :0). */
  endpoint: string;
  /** Publish now (after a state change) instead of waiting for the next period. */
  publishNow(): void;
  /** Frames received that were not valid beats. */
  readonly malformed: number;
  close(): Promise<void>;
}

export async function startPeerLink(o: PeerLinkOptions): Promise<PeerLink> {
  const instance = randomBytes(6).toString('hex');
  // Small HWM + linger 0: stale beats are worthless, never queue or block on them.
  const pub = new Publisher({ sendHighWaterMark: 10, linger: 0, ...o.security?.server('ga-peer') });
  // No maxMessageSize: libzmq drops a connection that exceeds it and (measured) the SUB
  // never reconnects, which would fake a dead peer. Size is checked when parsing instead.
  const sub = new Subscriber({ conflate: true, linger: 0, ...o.security?.client(o.peer) });
  o.security?.watch(pub, 'ga-peer');
  o.security?.watch(sub, 'ga-peer-sub', o.peer);
  await pub.bind(o.bind);
  const endpoint = pub.lastEndpoint ?? o.bind;
  sub.connect(o.peer);
  sub.subscribe();

  let closed = false;
  let sending = false;
  let malformed = 0;
  const publish = () => {
    // One send at a time (zeromq.js); a beat skipped because one is in flight is covered by the next.
    if (closed || sending) return;
    sending = true;
    const msg = JSON.stringify({ v: 1, instancia: instance, ...o.state() });
    pub.send(msg).then(
      () => (sending = false),
      (err: unknown) => {
        sending = false;
        if (!closed) o.log.debug({ err: (err as Error).message }, 'heartbeat send failed');
      },
    );
  };
  const timer = setInterval(publish, o.heartbeatMs);
  publish();

  const loop = (async () => {
    try {
      for await (const [frame] of sub) {
        const b = parseFrame(beatSchema, frame, 4096);
        if (!b) {
          malformed++;
          // Rate-limited by nature (a peer sends ~10/s); debug keeps a misconfigured endpoint visible without flooding.
          o.log.debug({ bytes: frame?.length ?? 0, malformed }, 'ignoring malformed heartbeat');
          continue;
        }
        if (b.instancia === instance) continue;
        const { v: _v, instancia: _i, ...beat } = b;
        try {
          o.onBeat(beat);
        } catch (err) {
          o.log.error({ err }, 'heartbeat handler failed');
        }
      }
    } catch (err) {
      if (!closed) o.log.error({ err }, 'heartbeat receive loop stopped');
    }
  })();

  o.log.info({ bind: endpoint, peer: o.peer, heartbeatMs: o.heartbeatMs }, 'peer heartbeat link up');
  return {
    endpoint,
    publishNow: publish,
    get malformed() {
      return malformed;
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      pub.close();
      sub.close();
      await loop;
    },
  };
}
