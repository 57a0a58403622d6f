/**
 * zeromq.js allows one send in progress per socket (a second one throws EBUSY),
 * while replies and publications are produced concurrently. This FIFO hands
 * frames to the socket one at a time from a single pump; callers never wait,
 * and a failed send is logged, not thrown (the peer retries with the same op id,
 * or the GC re-publishes).
 *
 * Optional bounds, for a socket whose peer can be away for long (the actor's DEALER):
 * `maxDepth` drops the oldest waiting message past that many, and `send(…, { replaces })`
 * keeps at most one waiting message per key (a newer one takes the older one's place),
 * for messages that are only useful fresh, like heartbeats.
 *
 * `coalesce`: messages queued for the same peer while the pump waits go out as one
 * batch message (common/protocol/internal.ts "batches"). A message's last frame is its JSON
 * body and the frames before it its address (a ROUTER's routing id, a PUB topic, none
 * on a DEALER); bodies with the same address are packed into one array, in order.
 * The pump then waits for the end of the current event-loop turn (setImmediate)
 * before sending, so everything one wake produced leaves together.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { encodeBatch, MAX_BATCH_BYTES, MAX_BATCH_ITEMS } from './protocol/frame.js';
import { logThisOne, type Logger } from './logger.js';
import { within } from './within.js';

export interface FrameSink {
  send(frames: Array<Buffer | string>): Promise<void>;
}

export interface SendQueueOptions {
  /** At most this many messages wait; past it the oldest is dropped (counted, logged). Default: no bound. */
  maxDepth?: number;
  /** Pack messages for the same peer into batch messages. */
  coalesce?: boolean;
}

interface Entry {
  frames: Array<Buffer | string>;
  key?: string;
  /** coalesce: addressOf(frames), computed once when queued. */
  address?: string;
}

export class SendQueue {
  private queue: Entry[] = [];
  /** The waiting (not yet handed to ZeroMQ) entry per `replaces` key. */
  private readonly byKey = new Map<string, Entry>();
  private pumping: Promise<void> | undefined;
  private closed = false;
  private droppedCount = 0;
  private failedCount = 0;
  private sentMessages = 0;
  private sentFrames = 0;

  constructor(
    private readonly sock: FrameSink,
    private readonly log: Logger,
    private readonly what: string,
    private readonly opts: SendQueueOptions = {},
  ) {}

  /** Messages queued but not yet handed to ZeroMQ. */
  get depth(): number {
    return this.queue.length;
  }

  /** Messages dropped unsent because the queue was full. */
  get dropped(): number {
    return this.droppedCount;
  }

  /** Messages handed to ZeroMQ, and the ZeroMQ messages they went in (fewer when coalesced). */
  get sent(): { mensajes: number; envios: number } {
    return { mensajes: this.sentMessages, envios: this.sentFrames };
  }

  /**
   * Queues a message. With `replaces`, a message with the same key that is still
   * waiting gets these frames instead (it keeps its place) and nothing is added.
   */
  send(frames: Array<Buffer | string>, opts?: { replaces?: string }): void {
    if (this.closed) return;
    const key = opts?.replaces;
    const waiting = key === undefined ? undefined : this.byKey.get(key);
    const address = this.opts.coalesce ? addressOf(frames) : undefined;
    if (waiting) {
      waiting.frames = frames;
      waiting.address = address;
      return;
    }
    const e: Entry = { frames, key, address };
    this.queue.push(e);
    if (key !== undefined) this.byKey.set(key, e);
    const max = this.opts.maxDepth;
    if (max !== undefined && this.queue.length > max) this.dropOldest();
    if (!this.pumping) this.pumping = this.pump();
  }

  /**
   * Resolves once everything queued so far was handed to ZeroMQ (or failed), or after
   * `timeoutMs` if given (the timer is cleared either way).
   */
  async drain(timeoutMs?: number): Promise<void> {
    const done = (async () => {
      while (this.pumping) await this.pumping;
    })();
    if (timeoutMs === undefined) return done;
    await within(done, timeoutMs);
  }

  close(): void {
    this.closed = true;
    this.queue.length = 0;
    this.byKey.clear();
  }

  /** Leaving the queue: a later message with its key is queued anew, not merged into it. */
  private unindex(e: Entry): void {
    if (e.key !== undefined && this.byKey.get(e.key) === e) this.byKey.delete(e.key);
  }

  private dropOldest(): void {
    const e = this.queue.shift()!;
    this.unindex(e);
    this.droppedCount++;
    if (logThisOne(this.droppedCount)) this.log.warn({ socket: this.what, dropped: this.droppedCount }, 'send queue full; oldest message dropped');
  }

  /**
   * What to send next: the first waiting message, with (coalesce) every other waiting
   * message for the same address packed behind it, within the batch bounds.
   */
  private next(): { frames: Array<Buffer | string>; count: number } | undefined {
    const first = this.queue.shift();
    if (!first) return undefined;
    this.unindex(first);
    if (!this.opts.coalesce || this.queue.length === 0) return { frames: first.frames, count: 1 };
    const address = first.address;
    const bodies = [String(first.frames[first.frames.length - 1])];
    // Bytes, not UTF-16 units: receivers bound the frame in bytes. `[`, `]` and a comma per extra body.
    let bytes = Buffer.byteLength(bodies[0]!) + 2;
    // One pass: what joins the batch leaves the queue, the rest keeps its order.
    const rest: Entry[] = [];
    for (const e of this.queue) {
      const body = bodies.length < MAX_BATCH_ITEMS && e.address === address ? String(e.frames[e.frames.length - 1]) : undefined;
      const size = body === undefined ? 0 : Buffer.byteLength(body);
      if (body === undefined || bytes + size + 1 > MAX_BATCH_BYTES) {
        rest.push(e);
        continue;
      }
      this.unindex(e);
      bodies.push(body);
      bytes += size + 1;
    }
    this.queue = rest;
    if (bodies.length === 1) return { frames: first.frames, count: 1 };
    return { frames: [...first.frames.slice(0, -1), encodeBatch(bodies)], count: bodies.length };
  }

  private async pump(): Promise<void> {
    // Yield first, so `send` has stored this promise in `pumping` before the `finally`
    // below can clear it. zeromq's send throws synchronously (EBADF, EBUSY); without
    // this a pump whose sends all threw would finish inside `send`, and `pumping` would
    // then hold a settled promise for good: nothing sent again, drain() spinning.
    // Coalescing waits for the rest of this event-loop turn: what it produces goes together.
    if (this.opts.coalesce) await nextTurn();
    else await undefined;
    try {
      for (let next = this.next(); next && !this.closed; next = this.next()) {
        try {
          await this.sock.send(next.frames);
          this.sentMessages += next.count;
          this.sentFrames++;
        } catch (err) {
          this.failedCount += next.count;
          if (!this.closed && logThisOne(this.failedCount)) this.log.warn({ err: (err as Error).message, socket: this.what, failed: this.failedCount }, 'send failed; message dropped');
        }
      }
    } finally {
      this.pumping = undefined;
    }
  }
}

/** The frames before the body, as a comparable key (routing ids are binary). */
function addressOf(frames: Array<Buffer | string>): string {
  if (frames.length === 1) return '';
  return frames
    .slice(0, -1)
    .map((f) => (typeof f === 'string' ? `s:${f}` : `b:${f.toString('latin1')}`))
    .join('\u0000');
}
