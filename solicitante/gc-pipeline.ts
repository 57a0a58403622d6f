/**
 * Pipelined GC client over one DEALER socket: many requests in flight,
 * replies matched to requests by clave (every request carries one). Used by the load generator, where one
 * socket per simulated client would cost more than the work being measured.
 *
 * A DEALER does not get stuck after a lost reply, so a timed-out request is
 * simply resent with the same clave; a late duplicate reply is ignored. Two
 * requests with the same clave may not be in flight at once (the second is refused).
 */
import { Dealer } from 'zeromq';
import { encode, type Respuesta } from '../common/protocol.js';
import { GcClientClosedError, GcNoReplyError } from './errors.js';
import { idGenerator, type IdGenerator } from './ids.js';
import { parseRespuesta, stamp } from './reply-codec.js';
import type { GcCaller, NuevaSolicitud } from './types.js';

export interface GcPipelineOptions {
  endpoint: string;
  timeoutMs: number;
  retries: number;
  sede?: string;
  makeId?: IdGenerator;
}

interface PendingRequest {
  clave: string;
  body: Buffer;
  attempt: number;
  timer?: NodeJS.Timeout;
  resolve: (r: Respuesta) => void;
  reject: (e: Error) => void;
}

export class GcPipelineClient implements GcCaller {
  private readonly socket: Dealer;
  private readonly pending = new Map<string, PendingRequest>();
  private readonly sendQueue: Buffer[] = [];
  private sending = false;
  private closed = false;
  private readonly makeId: IdGenerator;

  constructor(private readonly opts: GcPipelineOptions) {
    this.makeId = opts.makeId ?? idGenerator();
    // No send HWM: closed-loop clients bound what is in flight anyway.
    this.socket = new Dealer({ linger: 0, sendTimeout: opts.timeoutMs, sendHighWaterMark: 0, receiveHighWaterMark: 0 });
    this.socket.connect(opts.endpoint);
    void this.receiveLoop();
  }

  send(solicitud: NuevaSolicitud): Promise<Respuesta> {
    if (this.closed) return Promise.reject(new GcClientClosedError());
    const msg = stamp(solicitud, this.makeId, this.opts.sede);
    if (this.pending.has(msg.clave)) return Promise.reject(new Error(`Ya hay una solicitud en curso con clave ${msg.clave}`));
    return new Promise<Respuesta>((resolve, reject) => {
      const p: PendingRequest = { clave: msg.clave, body: encode(msg), attempt: 0, resolve, reject };
      this.pending.set(p.clave, p);
      this.transmit(p);
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new GcClientClosedError());
    }
    this.pending.clear();
    this.socket.close();
  }

  private transmit(p: PendingRequest): void {
    p.attempt++;
    p.timer = setTimeout(() => this.expire(p), this.opts.timeoutMs);
    this.sendQueue.push(p.body);
    void this.drainSendQueue();
  }

  private expire(p: PendingRequest): void {
    if (this.pending.get(p.clave) !== p) return;
    if (p.attempt > this.opts.retries) {
      this.pending.delete(p.clave);
      p.reject(new GcNoReplyError(this.opts.endpoint, p.clave, p.attempt, this.opts.timeoutMs));
      return;
    }
    this.transmit(p);
  }

  /** zeromq.js allows one pending send per socket: drain the queue from a single loop. */
  private async drainSendQueue(): Promise<void> {
    if (this.sending) return;
    this.sending = true;
    try {
      while (!this.closed && this.sendQueue.length > 0) {
        const body = this.sendQueue.shift()!;
        try {
          await this.socket.send(body);
        } catch {
          // No GC connected within sendTimeout: the request's own timer resends or fails it.
        }
      }
    } finally {
      this.sending = false;
    }
  }

  private async receiveLoop(): Promise<void> {
    while (!this.closed) {
      let frames: Buffer[];
      try {
        frames = await this.socket.receive();
      } catch {
        if (this.closed) return;
        continue;
      }
      const r = parseRespuesta(frames[frames.length - 1]);
      const p = typeof r === 'string' || !r.clave ? undefined : this.pending.get(r.clave);
      // Matches nothing in flight: a late duplicate of an answered retry, or unreadable.
      if (!p || typeof r === 'string') continue;
      clearTimeout(p.timer);
      this.pending.delete(p.clave);
      p.resolve(r);
    }
  }
}
