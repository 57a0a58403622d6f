/**
 * Transport to ONE GA endpoint: a single zeromq DEALER socket that multiplexes
 * many in-flight requests, correlated by a unique `ref` per attempt.
 *
 * Why a correlated DEALER and not one REQ socket per call: a REQ socket allows one
 * outstanding request at a time, so hundreds in flight would need hundreds of
 * sockets and TCP connections to the GA; and a REQ socket whose receive timed out
 * is unusable (its next send hangs or fails EFSM — FACTS.md), so every timeout
 * would cost a teardown. One DEALER carries any number of requests; a reply that
 * comes after its attempt timed out is a ref nobody waits for and is dropped.
 *
 * zeromq.js allows one pending receive and one pending send per socket (a second
 * one throws EBUSY), hence one receive loop per socket and a FIFO send queue.
 *
 * Requests queued at once go as one batch frame (common/protocol/internal.ts "batches"):
 * the queue is drained at the end of the event-loop turn, so the calls one wake of
 * the caller made share one message, and one wake of the GA. Replies may come back
 * batched too.
 *
 * Lazy Pirate: `recycle()` closes the socket and fails everything waiting on it;
 * the next request creates a fresh socket. The storage client recycles when the
 * endpoint's breaker opens, so no call ever waits on a socket believed dead.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { Dealer } from 'zeromq';
import type { Logger } from './logger.js';
import { encodeBatch, MAX_BATCH_BYTES, MAX_BATCH_ITEMS, readFrame } from './protocol/frame.js';
import { gaReplySchema, salvageRef, type GaReply, type GaRequest } from './protocol/internal.js';
import { MAX_TRANSPORT_BYTES } from './protocol/ps-gc.js';
import type { SocketSecurity } from './socket-security.js';

/** Why an attempt produced no reply. `kind` drives metrics and the error text. */
export type AttemptFailureKind = 'timeout' | 'unreachable' | 'transport' | 'closed';

export class GaAttemptError extends Error {
  override name = 'GaAttemptError';
  constructor(
    readonly kind: AttemptFailureKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface GaConnectionOptions {
  /** How long a send may wait for a connected peer / queue space before failing (ms). */
  sendTimeoutMs: number;
  reconnectIntervalMs?: number;
  maxMessageBytes?: number;
  /** CURVE client options (absent: off). */
  security?: SocketSecurity;
}

interface Pending {
  resolve(reply: GaReply): void;
  reject(err: GaAttemptError): void;
  timer: NodeJS.Timeout;
  /**
   * 'sent': handed to ZeroMQ, so a GA may have it and a timeout leaves the outcome unknown.
   * 'queued' (or a send that fails): no GA ever saw it. A timeout during 'sending' waits for
   * the send (bounded by sendTimeoutMs) to tell which.
   */
  stage: 'queued' | 'sending' | 'sent';
  expired: boolean;
}

/** One socket generation. Recycling replaces the whole Link, so a stale loop or queue never touches the new one. */
interface Link {
  sock: Dealer;
  pending: Map<string, Pending>;
  queue: { ref: string; frame: string }[];
  draining: boolean;
  closed: boolean;
}

export class GaConnection {
  private link: Link | undefined;
  private closed = false;

  constructor(
    readonly endpoint: string,
    private readonly opts: GaConnectionOptions,
    private readonly log: Logger,
  ) {}

  /**
   * Sends one request and resolves with its reply, or rejects with a
   * GaAttemptError after `timeoutMs` (the timeout covers queueing and sending too).
   */
  request(req: GaRequest, timeoutMs: number): Promise<GaReply> {
    if (this.closed) return Promise.reject(new GaAttemptError('closed', 'connection closed'));
    const link = this.link ?? (this.link = this.openLink());
    const { ref } = req;
    return new Promise<GaReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        const p = link.pending.get(ref);
        if (!p) return;
        if (p.stage === 'sending') {
          p.expired = true; // settled by drain() once the send ends
          return;
        }
        link.pending.delete(ref);
        // "Never sent" must stay distinguishable from "no answer": only the latter may have been applied.
        reject(p.stage === 'sent' ? new GaAttemptError('timeout', `no reply within ${timeoutMs} ms`) : new GaAttemptError('unreachable', `not sent within ${timeoutMs} ms`));
      }, timeoutMs);
      link.pending.set(ref, { resolve, reject, timer, stage: 'queued', expired: false });
      link.queue.push({ ref, frame: JSON.stringify(req) });
      if (!link.draining) void this.drain(link);
    });
  }

  /** Closes the current socket (if any) and fails its waiting calls; the next request opens a new one. */
  recycle(reason: string): void {
    const link = this.link;
    if (!link) return;
    this.link = undefined;
    this.log.info({ endpoint: this.endpoint, reason, failed: link.pending.size }, 'GA socket recycled');
    this.shutLink(link, new GaAttemptError('transport', `socket recycled (${reason})`));
  }

  close(): void {
    this.closed = true;
    const link = this.link;
    this.link = undefined;
    if (link) this.shutLink(link, new GaAttemptError('closed', 'storage client closed'));
  }

  private openLink(): Link {
    const sock = new Dealer({
      // Without `immediate` a send to a dead endpoint is queued and "succeeds", failing
      // only at the reply timeout; with it (+ sendTimeout) it fails fast (FACTS.md).
      immediate: true,
      sendTimeout: this.opts.sendTimeoutMs,
      // Requests left unsent at close are worthless: the caller has moved on.
      linger: 0,
      maxMessageSize: this.opts.maxMessageBytes ?? MAX_TRANSPORT_BYTES,
      reconnectInterval: this.opts.reconnectIntervalMs ?? 100,
      reconnectMaxInterval: 1000,
      // Hundreds of calls in flight must not hit the default HWM of 1000.
      sendHighWaterMark: 100_000,
      receiveHighWaterMark: 100_000,
      ...this.opts.security?.client(this.endpoint),
    });
    this.opts.security?.watch(sock, 'ga-cliente', this.endpoint);
    sock.connect(this.endpoint);
    const link: Link = { sock, pending: new Map(), queue: [], draining: false, closed: false };
    void this.receiveLoop(link);
    this.log.debug({ endpoint: this.endpoint }, 'GA socket opened');
    return link;
  }

  private shutLink(link: Link, err: GaAttemptError): void {
    if (link.closed) return;
    link.closed = true;
    link.queue.length = 0;
    for (const [ref, p] of link.pending) {
      clearTimeout(p.timer);
      link.pending.delete(ref);
      // A request still queued never left: for a recycle that is "not sent", not "outcome unknown".
      p.reject(err.kind === 'transport' && p.stage === 'queued' ? new GaAttemptError('unreachable', `not sent (${err.message})`) : err);
    }
    link.sock.close();
  }

  private async drain(link: Link): Promise<void> {
    link.draining = true;
    // The rest of this turn's calls join the batch.
    await nextTurn();
    try {
      while (!link.closed && link.queue.length > 0) {
        // Requests whose attempt already timed out while queued: nothing to send.
        const batch: { ref: string; frame: string; p: Pending }[] = [];
        let bytes = 1; // `[` and `]`, and a comma per body after the first
        while (link.queue.length > 0 && batch.length < MAX_BATCH_ITEMS) {
          const item = link.queue[0]!;
          // Bytes, not UTF-16 units: the GA bounds the frame in bytes.
          const size = Buffer.byteLength(item.frame);
          if (batch.length > 0 && bytes + size + 1 > MAX_BATCH_BYTES) break;
          link.queue.shift();
          const p = link.pending.get(item.ref);
          if (!p) continue;
          p.stage = 'sending';
          batch.push({ ...item, p });
          bytes += size + 1;
        }
        if (batch.length === 0) continue;
        try {
          await link.sock.send(encodeBatch(batch.map((b) => b.frame)));
          for (const { ref, p } of batch) {
            p.stage = 'sent';
            if (p.expired && link.pending.delete(ref)) p.reject(new GaAttemptError('timeout', 'no reply in time (sent late)'));
          }
        } catch (err) {
          if (link.closed) return;
          // EAGAIN = no connected peer (immediate) or queue full within sendTimeout. Every
          // request queued behind this one waits on the same condition, so fail them all
          // now instead of letting each wait another sendTimeout in turn.
          const code = (err as { code?: string }).code;
          const failure =
            code === 'EAGAIN'
              ? new GaAttemptError('unreachable', `not connected (send timed out after ${this.opts.sendTimeoutMs} ms)`, { cause: err })
              : new GaAttemptError('transport', `send failed: ${(err as Error).message}`, { cause: err });
          for (const { ref } of batch) this.failQueued(link, ref, failure);
          if (code === 'EAGAIN') {
            for (const q of link.queue.splice(0)) this.failQueued(link, q.ref, failure);
          }
        }
      }
    } finally {
      link.draining = false;
    }
  }

  private failQueued(link: Link, ref: string, err: GaAttemptError): void {
    const p = link.pending.get(ref);
    if (!p) return;
    link.pending.delete(ref);
    clearTimeout(p.timer);
    p.reject(err);
  }

  private async receiveLoop(link: Link): Promise<void> {
    try {
      for await (const frames of link.sock) {
        this.onFrame(link, frames[0]);
      }
    } catch (err) {
      if (link.closed) return;
      // The socket is broken: make the next request start over on a fresh one.
      this.log.warn({ endpoint: this.endpoint, err }, 'GA receive loop failed');
      if (this.link === link) this.recycle('receive failed');
    }
  }

  /** One reply, or a batch of them. */
  private onFrame(link: Link, frame: Buffer | undefined): void {
    const maxBytes = this.opts.maxMessageBytes ?? MAX_TRANSPORT_BYTES;
    for (const m of readFrame(frame, { schema: gaReplySchema, maxBytes, batch: true, salvage: salvageRef })) {
      if (m.ok) this.onReply(link, m.value as GaReply);
      else this.onMalformed(link, m.defect ? undefined : m.salvaged, frame?.length ?? 0);
    }
  }

  /** A malformed reply that still names a waiting ref fails that attempt rather than letting it time out. */
  private onMalformed(link: Link, ref: string | undefined, bytes: number): void {
    const p = ref === undefined ? undefined : link.pending.get(ref);
    if (ref !== undefined && p) {
      link.pending.delete(ref);
      clearTimeout(p.timer);
      p.reject(new GaAttemptError('transport', 'malformed GA reply'));
    } else {
      this.log.warn({ endpoint: this.endpoint, bytes }, 'malformed GA reply dropped');
    }
  }

  private onReply(link: Link, reply: GaReply): void {
    const p = link.pending.get(reply.ref);
    if (!p) {
      this.log.debug({ endpoint: this.endpoint, ref: reply.ref }, 'GA reply for unknown or expired ref dropped');
      return;
    }
    link.pending.delete(reply.ref);
    clearTimeout(p.timer);
    p.resolve(reply);
  }
}
