/**
 * zeromq.js allows one pending send per socket (a second one fails with
 * EBUSY), while replies are produced concurrently: queue them and send one at
 * a time, in order.
 */
import type { Logger } from '../common/logger.js';

export interface Sender {
  send(frames: Buffer[]): Promise<void>;
}

export class SendQueue {
  private readonly queue: Buffer[][] = [];
  private pumping: Promise<void> | undefined;

  constructor(
    private readonly sock: Sender,
    private readonly log: Logger,
  ) {}

  get length(): number {
    return this.queue.length;
  }

  push(frames: Buffer[]): void {
    this.queue.push(frames);
    this.pumping ??= this.pump();
  }

  /** Resolves once everything queued so far has been handed to the socket. */
  async drain(): Promise<void> {
    while (this.pumping) await this.pumping;
  }

  private async pump(): Promise<void> {
    try {
      for (let next = this.queue.shift(); next; next = this.queue.shift()) {
        try {
          await this.sock.send(next);
        } catch (err) {
          // A reply that cannot be sent (socket closing, peer gone) is lost; the client retries with the same op id.
          this.log.warn({ err: (err as Error).message }, 'reply could not be sent');
        }
      }
    } finally {
      this.pumping = undefined;
    }
  }
}
