/**
 * An actor's link to one GC: a SUB for the tasks that GC publishes on the actor's
 * topic, a DEALER for hola / latido / resultado / adios, and the send queue in
 * front of that DEALER. An actor has one link per GC (all active), so a GC that
 * is away or slow holds up its own link only.
 */
import { Dealer, Subscriber } from 'zeromq';
import { encode } from '../common/protocol/ps-gc.js';
import type { MensajeActor } from '../common/protocol/internal.js';
import type { Logger } from '../common/logger.js';
import { SendQueue } from '../common/send-queue.js';
import { YieldPoint } from '../common/yield-point.js';
import type { SocketSecurity } from '../common/socket-security.js';

/**
 * Messages waiting for the GC. Results can only pile up for tasks already received, so
 * this is a backstop (a few MB at most), not a limit a restarting GC should ever meet.
 */
const MAX_OUTBOX = 10_000;

export interface GcLinkOptions {
  pub: string;
  backend: string;
  /** The actor's topics, one per operation type it serves. */
  topics: readonly string[];
  log: Logger;
  /** CURVE client options for both sockets (absent: off). */
  security?: SocketSecurity;
  /** Every message received on the topic (one task or a batch); returns how many tasks it held. Must not throw. */
  onTask(frames: Buffer[]): number;
}

export class GcLink {
  readonly pub: string;
  readonly backend: string;
  /** Task messages received from this GC. */
  tasks = 0;
  private readonly sub: Subscriber;
  private readonly dealer: Dealer;
  private readonly out: SendQueue;
  private readonly receiving: Promise<void>;
  private stopping = false;

  constructor(o: GcLinkOptions) {
    this.pub = o.pub;
    this.backend = o.backend;
    // HWM 0 on receive: the default 1000 drops tasks silently under bursts.
    const sub = (this.sub = new Subscriber({ receiveHighWaterMark: 0, linger: 0, ...o.security?.client(o.pub) }));
    // While the GC is away nothing may pile up inside ZeroMQ to be replayed later (hours
    // of stale heartbeats): `immediate` queues only to a connected GC, and the HWM is small,
    // so a send just waits (no timeout) in our SendQueue until the GC is back. There
    // heartbeats coalesce (one waits at most, the latest) and the queue is bounded; results
    // are kept, oldest dropped first past the bound, and go out when the GC returns.
    this.dealer = new Dealer({ immediate: true, sendHighWaterMark: 1000, linger: 0, ...o.security?.client(o.backend) });
    o.security?.watch(this.sub, 'gc-sub', o.pub);
    o.security?.watch(this.dealer, 'gc-dealer', o.backend);
    this.sub.connect(o.pub);
    this.sub.subscribe(...o.topics);
    const mine = new Set(o.topics);
    this.dealer.connect(o.backend);
    // Results (and heartbeats) queued at once go as one message: one wake of the GC for all.
    this.out = new SendQueue(this.dealer, o.log, 'dealer', { maxDepth: MAX_OUTBOX, coalesce: true });
    this.receiving = (async () => {
      // A GC releasing a backlog at once must not keep this loop in microtasks: the send
      // queue (results, heartbeats) only gets a turn when the loop yields. Without it a burst
      // of quick tasks filled the outbox past MAX_OUTBOX and dropped results (found by review).
      const yp = new YieldPoint();
      try {
        for await (const frames of sub) {
          // Only our exact topics count (topics end in TOPIC_END, so no other actor's prefix-matches; this guards the rest).
          if (mine.has(frames[0]?.toString('utf8') ?? '')) this.tasks += o.onTask(frames);
          const t = yp.pass();
          if (t) await t;
        }
      } catch (err) {
        if (!this.stopping) o.log.error({ err }, 'task receive loop failed');
      }
    })();
  }

  /** Messages not yet handed to ZeroMQ, those dropped because too many waited, and those sent in how many ZeroMQ messages. */
  get salida(): { enCola: number; descartados: number; mensajes: number; envios: number } {
    return { enCola: this.out.depth, descartados: this.out.dropped, ...this.out.sent };
  }

  send(m: MensajeActor): void {
    // At most one heartbeat per type waits: only the latest is worth sending.
    this.out.send([encode(m)], m.t === 'latido' ? { replaces: `latido:${m.tipo}` } : undefined);
  }

  /** No more tasks from this GC; resolves once the receive loop ended. */
  async stopReceiving(): Promise<void> {
    this.stopping = true;
    if (!this.sub.closed) this.sub.close();
    await this.receiving;
  }

  drain(timeoutMs: number): Promise<void> {
    return this.out.drain(timeoutMs);
  }

  close(): void {
    this.stopping = true;
    this.out.close();
    if (!this.sub.closed) this.sub.close();
    if (!this.dealer.closed) this.dealer.close();
  }
}
