/**
 * zeromq.js allows one send in progress per socket (a second one throws EBUSY),
 * while replies and publications are produced concurrently. This queue runs the
 * sends one after another; callers never wait and a failed send is logged, not thrown.
 * Used by the GC's sockets and by the actor's Dealer.
 */
import type { Logger } from '../common/logger.js';

export interface FrameSink {
  send(frames: Array<Buffer | string>): Promise<void>;
}

export class SendQueue {
  private tail: Promise<void> = Promise.resolve();
  private pending = 0;
  private closed = false;

  constructor(
    private readonly sock: FrameSink,
    private readonly log: Logger,
    private readonly what: string,
  ) {}

  /** Frames queued but not yet handed to ZeroMQ. */
  get depth(): number {
    return this.pending;
  }

  send(frames: Array<Buffer | string>): void {
    if (this.closed) return;
    this.pending++;
    this.tail = this.tail.then(async () => {
      try {
        if (!this.closed) await this.sock.send(frames);
      } catch (err) {
        if (!this.closed) this.log.warn({ err, socket: this.what }, 'send failed; message dropped');
      } finally {
        this.pending--;
      }
    });
  }

  /** Waits until everything queued so far was handed to ZeroMQ (or failed). */
  drain(): Promise<void> {
    return this.tail;
  }

  close(): void {
    this.closed = true;
  }
}
