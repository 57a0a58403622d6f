/**
 * zeromq.js allows one send in progress per socket (a second one throws EBUSY),
 * while replies and publications are produced concurrently. This FIFO hands
 * frames to the socket one at a time from a single pump; callers never wait,
 * and a failed send is logged, not thrown (the peer retries with the same op id,
 * or the GC re-publishes).
 */
import type { Logger } from './logger.js';

export interface FrameSink {
  send(frames: Array<Buffer | string>): Promise<void>;
}

export class SendQueue {
  private readonly queue: Array<Array<Buffer | string>> = [];
  private pumping: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly sock: FrameSink,
    private readonly log: Logger,
    private readonly what: string,
  ) {}

  /** Messages queued but not yet handed to ZeroMQ. */
  get depth(): number {
    return this.queue.length;
  }

  send(frames: Array<Buffer | string>): void {
    if (this.closed) return;
    this.queue.push(frames);
    this.pumping ??= this.pump();
  }

  /** Resolves once everything queued so far was handed to ZeroMQ (or failed). */
  async drain(): Promise<void> {
    while (this.pumping) await this.pumping;
  }

  close(): void {
    this.closed = true;
    this.queue.length = 0;
  }

  private async pump(): Promise<void> {
    try {
      for (let next = this.queue.shift(); next && !this.closed; next = this.queue.shift()) {
        try {
          await this.sock.send(next);
        } catch (err) {
          if (!this.closed) this.log.warn({ err: (err as Error).message, socket: this.what }, 'send failed; message dropped');
        }
      }
    } finally {
      this.pumping = undefined;
    }
  }
}
