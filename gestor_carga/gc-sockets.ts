/**
 * The GC's three ZeroMQ sockets and their receive loops: the transport edge of gc.ts.
 *
 *  frontend ROUTER  ← PS (REQ or DEALER), one reply per request, many in flight
 *  XPUB             → actors, [topic "<tipo>.<actorId>", Tarea]; its subscription
 *                     messages tell us which actors can actually receive
 *  backend ROUTER   ← actors' DEALERs: hola / latido / resultado / calculado / adios
 */
import { Router, XPublisher } from 'zeromq';
import { MAX_TRANSPORT_BYTES } from '../common/protocol/ps-gc.js';
import type { GcConfig } from '../common/config.js';
import type { Logger } from '../common/logger.js';
import type { SocketSecurity } from '../common/socket-security.js';
import { YieldPoint } from '../common/yield-point.js';
import { MAX_ACTOR_FRAME } from './actor-backend.js';

/** Subscription messages on the XPUB: a topic "<tipo>.<actorId>" is under 100 bytes. */
export const MAX_SUBSCRIPTION_BYTES = 4096;
/** Far beyond any CI stall: only a subscriber that is really gone loses its pipe (its io thread answers even while its JS is busy). */
export const PUB_HEARTBEAT_MS = 2000;
export const PUB_HEARTBEAT_TIMEOUT_MS = 15_000;
/** Replies the frontend keeps per PS (see bindGcSockets). */
export const FRONTEND_SEND_HWM = 10_000;
/** Messages the XPUB keeps per subscriber (see bindGcSockets). */
export const PUB_SEND_HWM = 1000;

export interface GcSockets {
  frontend: Router;
  pub: XPublisher;
  backend: Router;
  /** Endpoints actually bound (resolved when a port 0 was asked for). */
  endpoints: { frontend: string; pub: string; backend: string };
  close(): void;
}

export async function bindGcSockets(cfg: GcConfig, security: SocketSecurity): Promise<GcSockets> {
  // The PS port stays open (NULL): the original clients have no keys. Replies kept for one PS
  // that reads slowly: as many as a load generator's clients (solicitante/load.ts, one DEALER
  // for all of them); libzmq's default 1000 silently dropped replies to a busy one.
  const frontend = new Router({ maxMessageSize: MAX_TRANSPORT_BYTES, linger: 0, sendHighWaterMark: FRONTEND_SEND_HWM });
  // HWM: messages kept for one subscriber that does not read (past it libzmq drops that
  // subscriber's tasks, redelivered at their deadline). Unbounded, one peer that subscribes to
  // everything and never reads (anyone, without CURVE) grew the GC by every task published.
  // Tasks travel in batches (up to 64 per message), so a live actor never lags by this many.
  // 'allSubs' also reports a
  // repeated subscription (an actor restarted with the same id before the old pipe closed).
  // maxMessageSize: what arrives here are subscriptions ("<tipo>.<actorId>", < 100 bytes); a
  // peer sending a bigger one is dropped by libzmq before the topic is stored (abuse campaign).
  // ZMTP heartbeats: a subscriber that stops answering (frozen process, cut link: no TCP reset)
  // has its pipe closed, so tasks stop piling up in it without bound; it resubscribes when back.
  const pub = new XPublisher({
    sendHighWaterMark: PUB_SEND_HWM,
    verbosity: 'allSubs',
    linger: 0,
    maxMessageSize: MAX_SUBSCRIPTION_BYTES,
    heartbeatInterval: PUB_HEARTBEAT_MS,
    heartbeatTimeout: PUB_HEARTBEAT_TIMEOUT_MS,
    ...security.server('gc-pub'),
  });
  const backend = new Router({ maxMessageSize: MAX_ACTOR_FRAME, linger: 0, ...security.server('gc-backend') });
  security.watch(pub, 'gc-pub');
  security.watch(backend, 'gc-backend');
  const all = [frontend, pub, backend];
  const close = () => {
    for (const s of all) s.close();
  };
  try {
    await frontend.bind(cfg.GC_FRONTEND_BIND);
    await pub.bind(cfg.GC_PUB_BIND);
    await backend.bind(cfg.GC_BACKEND_BIND);
  } catch (err) {
    close();
    throw err;
  }
  return {
    frontend,
    pub,
    backend,
    endpoints: {
      frontend: frontend.lastEndpoint ?? cfg.GC_FRONTEND_BIND,
      pub: pub.lastEndpoint ?? cfg.GC_PUB_BIND,
      backend: backend.lastEndpoint ?? cfg.GC_BACKEND_BIND,
    },
    close,
  };
}

/**
 * Hands every message of `sock` to `onMsg` until the socket closes. A handler that throws
 * is logged and the loop goes on; work is started from the loop, never awaited in it, and
 * the loop yields now and then so timers and the other sockets get their turn.
 */
export async function receiveLoop(name: string, sock: Router | XPublisher, onMsg: (frames: Buffer[]) => void, log: Logger, closing: () => boolean): Promise<void> {
  const fair = new YieldPoint();
  try {
    for await (const frames of sock) {
      try {
        onMsg(frames);
      } catch (err) {
        log.error({ err, socket: name }, 'message handler failed');
      }
      const turn = fair.pass();
      if (turn) await turn;
    }
  } catch (err) {
    if (!closing()) log.error({ err, socket: name }, 'receive loop failed');
  }
}
