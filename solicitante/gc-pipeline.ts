/**
 * Pipelined GC client: many requests in flight, replies matched to requests by
 * clave (every request carries one). Used by the load generator and the drills,
 * where one socket per simulated client would cost more than the work being measured.
 *
 * One DEALER per GC in the list (own sede's first); each request goes to the GC
 * gc-rotation.ts picks. A DEALER does not get stuck after a lost reply, so a
 * timed-out request is simply resent with the same clave — to the next GC, as the
 * one that let it time out cools down. When a GC's connection drops (it died) its
 * requests in flight move at once to the next GC, same claves, within the same
 * attempt and its deadline: the PS fails over inside its timeout. A late
 * duplicate reply is ignored. Two requests with the same clave may not be in flight
 * at once (the second is refused). A GC that let a request time out gets no user
 * request again until it answers a ping (`{"operacion":"ping"}`, sent every
 * PING_EVERY_MS while it is suspect): a GC that hangs without dropping its
 * connection (frozen, overloaded) costs each PS one timeout, and the PS is back on
 * it as soon as it answers.
 */
import { Dealer } from 'zeromq';
import { encode, type Respuesta } from '../common/protocol/ps-gc.js';
import { pingMessage } from '../common/protocol/request.js';
import { GcClientClosedError, GcNoReplyError } from './errors.js';
import { GcRotation } from './gc-rotation.js';
import { idGenerator, stamp, type IdGenerator } from './ids.js';
import { parseRespuesta } from '../common/protocol/reply.js';
import { afterResend, saysNotApplied } from './resend.js';
import type { GcAnswer, GcCaller, NuevaPeticion } from './types.js';

export interface GcPipelineOptions {
  /** The GCs, own sede's first (GC_ENDPOINTS). */
  endpoints: readonly string[];
  timeoutMs: number;
  retries: number;
  sede?: string;
  makeId?: IdGenerator;
  /** GCs a probe just found not listening (gc-probe.ts): suspect from the start, back once they answer a ping. */
  downAtStart?: readonly string[];
}

interface PendingRequest {
  clave: string;
  operacion: string;
  body: string;
  attempt: number;
  /** How many times it went out (to any GC): past one, "not applied" is no longer certain (resend.ts). */
  sends: number;
  /** The GC it was last sent to, and when. */
  via: string;
  sentAt?: number;
  timer?: NodeJS.Timeout;
  resolve: (a: GcAnswer) => void;
  reject: (e: Error) => void;
}

/** A ping to a suspect GC, queued on its link like a request. */
interface Ping {
  ping: true;
  clave: string;
  body: string;
}

/** How often a suspect GC is pinged. */
export const PING_EVERY_MS = 500;
/** Pings to one GC awaiting an answer that are remembered (a minute's worth). */
const MAX_PINGS_REMEMBERED = 120;

/** Longest a send waits for a connection to its GC before the request moves to the next one. */
const CONNECT_WAIT_MS = 500;

class Link {
  readonly socket: Dealer;
  readonly queue: Array<PendingRequest | Ping> = [];
  /** Pinging this GC (suspect): the timer, and the claves of the pings sent. */
  pinger?: NodeJS.Timeout;
  readonly pings = new Set<string>();
  sending = false;

  constructor(
    readonly endpoint: string,
    timeoutMs: number,
  ) {
    // immediate: a request is handed only to a connected GC, so one sent while it is gone
    // fails its send (and moves on) instead of waiting in a pipe for a GC that may never return.
    // No HWM: closed-loop clients bound what is in flight anyway.
    this.socket = new Dealer({ linger: 0, immediate: true, sendTimeout: Math.min(CONNECT_WAIT_MS, timeoutMs), sendHighWaterMark: 0, receiveHighWaterMark: 0 });
  }
}

export class GcPipelineClient implements GcCaller {
  private readonly links = new Map<string, Link>();
  private readonly pending = new Map<string, PendingRequest>();
  private closed = false;
  private readonly makeId: IdGenerator;
  private readonly rotation: GcRotation;

  constructor(private readonly opts: GcPipelineOptions) {
    this.makeId = opts.makeId ?? idGenerator();
    this.rotation = GcRotation.forPs(opts.endpoints, opts.timeoutMs, opts.downAtStart);
    for (const endpoint of opts.endpoints) {
      if (this.links.has(endpoint)) continue;
      const link = new Link(endpoint, opts.timeoutMs);
      this.links.set(endpoint, link);
      link.socket.events.on('handshake', () => this.rotation.connected(endpoint));
      link.socket.events.on('disconnect', () => this.onDisconnect(endpoint));
      link.socket.connect(endpoint);
      void this.receiveLoop(link);
    }
    for (const e of opts.downAtStart ?? []) {
      const link = this.links.get(e);
      if (link && this.rotation.isSuspect(e)) this.startPinging(link);
    }
  }

  send(solicitud: NuevaPeticion): Promise<Respuesta> {
    return this.request(solicitud).then((a) => a.respuesta);
  }

  request(solicitud: NuevaPeticion): Promise<GcAnswer> {
    if (this.closed) return Promise.reject(new GcClientClosedError());
    const msg = stamp(solicitud, this.makeId, this.opts.sede);
    if (this.pending.has(msg.clave)) return Promise.reject(new Error(`Ya hay una solicitud en curso con clave ${msg.clave}`));
    return new Promise<GcAnswer>((resolve, reject) => {
      const p: PendingRequest = { clave: msg.clave, operacion: msg.operacion, body: encode(msg), attempt: 0, sends: 0, via: '', resolve, reject };
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
    for (const l of this.links.values()) {
      clearInterval(l.pinger);
      l.socket.close();
    }
  }

  /** Pings `link`'s GC until it answers one (receiveLoop), so the rotation trusts it again. */
  private startPinging(link: Link): void {
    if (link.pinger || this.closed) return;
    let n = 0;
    const ping = () => {
      if (this.closed || !this.rotation.isSuspect(link.endpoint)) {
        clearInterval(link.pinger);
        link.pinger = undefined;
        link.pings.clear();
        return;
      }
      const clave = `ping-${process.pid}-${++n}`;
      link.pings.add(clave);
      // A GC that stays gone: remember only the latest pings (any of them answered will do).
      if (link.pings.size > MAX_PINGS_REMEMBERED) link.pings.delete(link.pings.values().next().value!);
      link.queue.push({ ping: true, clave, body: pingMessage(clave) });
      void this.drain(link);
    };
    link.pinger = setInterval(ping, PING_EVERY_MS);
    link.pinger.unref();
    ping();
  }

  /** A new attempt: a fresh deadline, to the GC the rotation picks now. */
  private transmit(p: PendingRequest): void {
    p.attempt++;
    p.timer = setTimeout(() => this.expire(p), this.opts.timeoutMs);
    this.route(p);
  }

  /** Within the current attempt: (re)send to the GC to use now. */
  private route(p: PendingRequest): void {
    p.via = this.rotation.pick();
    const link = this.links.get(p.via)!;
    link.queue.push(p);
    void this.drain(link);
  }

  private expire(p: PendingRequest): void {
    if (this.pending.get(p.clave) !== p) return;
    // Never sent (its GC unreachable all along) or sent: either way this GC did not answer it.
    this.rotation.failed(p.via, p.sentAt);
    if (this.rotation.isSuspect(p.via)) this.startPinging(this.links.get(p.via)!);
    if (p.attempt > this.opts.retries) {
      this.pending.delete(p.clave);
      p.reject(new GcNoReplyError(this.opts.endpoints.join(', '), p.clave, p.attempt, this.opts.timeoutMs, p.operacion));
      return;
    }
    this.transmit(p);
  }

  /** The GC's connection dropped: what was in flight there goes elsewhere now, not at the timeout. */
  private onDisconnect(endpoint: string): void {
    this.rotation.disconnected(endpoint);
    if (this.closed) return;
    for (const p of this.pending.values()) if (p.via === endpoint && this.rotation.pick() !== endpoint) this.route(p);
  }

  /** zeromq.js allows one pending send per socket: drain the queue from a single loop. */
  private async drain(link: Link): Promise<void> {
    if (link.sending) return;
    link.sending = true;
    try {
      while (!this.closed && link.queue.length > 0) {
        const p = link.queue.shift()!;
        if ('ping' in p) {
          // A ping that cannot go out now is simply not sent: the next one follows.
          await link.socket.send(p.body).catch(() => undefined);
          continue;
        }
        // Answered, or moved elsewhere, while it waited here.
        if (this.pending.get(p.clave) !== p || p.via !== link.endpoint) continue;
        try {
          await link.socket.send(p.body);
          p.sends++;
          p.sentAt = Date.now();
        } catch {
          // No connection to this GC within CONNECT_WAIT_MS: this request and every one queued
          // behind it try the next GC now, same attempt (not one CONNECT_WAIT_MS each in turn).
          if (this.closed) return;
          this.rotation.disconnected(link.endpoint);
          if (this.rotation.pick() === link.endpoint) continue;
          for (const q of [p, ...link.queue.splice(0)]) if (this.pending.get(q.clave) === q && q.via === link.endpoint) this.route(q);
        }
      }
    } finally {
      link.sending = false;
    }
  }

  private async receiveLoop(link: Link): Promise<void> {
    while (!this.closed) {
      let frames: Buffer[];
      try {
        frames = await link.socket.receive();
      } catch {
        if (this.closed) return;
        continue;
      }
      const r = parseRespuesta(frames[frames.length - 1]);
      if (typeof r !== 'string' && r.clave && link.pings.has(r.clave)) {
        // Any ping answered, even a late one: the GC is there and reading again.
        link.pings.clear();
        this.rotation.pinged(link.endpoint);
        continue;
      }
      const p = typeof r === 'string' || !r.clave ? undefined : this.pending.get(r.clave);
      // Matches nothing in flight: a late duplicate of an answered retry, or unreadable.
      if (!p || typeof r === 'string') continue;
      // A GC we already left saying its copy was not applied: the copy at the GC we moved to is the one to hear.
      if (link.endpoint !== p.via && saysNotApplied(r)) continue;
      clearTimeout(p.timer);
      this.pending.delete(p.clave);
      this.rotation.answered(link.endpoint);
      p.resolve({ respuesta: afterResend(r, p.sends), endpoint: link.endpoint });
    }
  }
}
