/**
 * Reliable request/reply client for the GCs over a REQ socket (Lazy Pirate with
 * rotation).
 *
 * A REQ socket whose receive timed out is unusable in zeromq.js, so after a
 * timeout the socket is closed and a new one made, and the SAME request (same
 * clave) is sent again — to the next GC in the list (gc-rotation.ts): the GCs share
 * one ledger and the GA applies a clave at most once, so retrying anywhere is safe.
 * A GC that drops the connection (it died) ends the wait at once instead of at the
 * timeout. After 1 + retries attempts the call fails with GcNoReplyError.
 * Calls are serialised: a REQ socket carries one request at a time.
 * A GC that let a request time out is suspect: before a request may go to it again
 * (its cooldown over) it is pinged on a socket of its own, for at most PING_WAIT_MS:
 * a GC that is still hung costs that, not a whole PS timeout.
 */
import { Request, type Context } from 'zeromq';
import { encode, type Respuesta } from '../common/protocol/ps-gc.js';
import { GcClientClosedError, GcInvalidReplyError, GcNoReplyError } from './errors.js';
import { gcAnswersPing } from './gc-probe.js';
import { GcRotation } from './gc-rotation.js';
import { idGenerator, stamp, type IdGenerator } from './ids.js';
import { parseRespuesta } from '../common/protocol/reply.js';
import { afterResend } from './resend.js';
import type { GcAnswer, GcCaller, NuevaPeticion } from './types.js';

export interface GcClientOptions {
  /** The GCs, own sede's first (GC_ENDPOINTS). */
  endpoints: readonly string[];
  /** Per-attempt wait for a reply (PS_TIMEOUT_MS). */
  timeoutMs: number;
  /** Resends after the first attempt (PS_RETRIES). */
  retries: number;
  /** Sede stamped on requests that carry none (PS_SEDE). */
  sede?: string;
  makeId?: IdGenerator;
  /** GCs a probe just found not listening (gc-probe.ts): suspect from the start, back once they answer a ping. */
  downAtStart?: readonly string[];
  /** The zeromq context of its sockets (default zeromq's global one, 1023 sockets at most: load.ts's REQ clients need more). */
  context?: Context;
  /** Called before each resend, e.g. to tell the user. */
  onRetry?: (info: { clave: string; attempt: number; attempts: number; endpoint: string }) => void;
}

/** Longest wait for a connection to the chosen GC before the attempt counts as failed: a dead GC costs this, not a whole timeout. */
const CONNECT_WAIT_MS = 1000;
/** Longest wait for a suspect GC's answer to a ping. */
const PING_WAIT_MS = 500;

export class GcClient implements GcCaller {
  private socket?: { endpoint: string; req: Request };
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  private readonly makeId: IdGenerator;
  private readonly rotation: GcRotation;

  constructor(private readonly opts: GcClientOptions) {
    this.makeId = opts.makeId ?? idGenerator();
    this.rotation = GcRotation.forPs(opts.endpoints, opts.timeoutMs, opts.downAtStart);
  }

  send(solicitud: NuevaPeticion): Promise<Respuesta> {
    return this.request(solicitud).then((a) => a.respuesta);
  }

  request(solicitud: NuevaPeticion): Promise<GcAnswer> {
    const p = this.queue.then(() => this.sendNow(solicitud));
    this.queue = p.catch(() => undefined);
    return p;
  }

  close(): void {
    this.closed = true;
    this.dropSocket();
  }

  private socketFor(endpoint: string): Request {
    if (this.socket && !this.socket.req.closed && this.socket.endpoint === endpoint) return this.socket.req;
    this.dropSocket();
    // linger 0: a discarded socket must not keep an unsent request around. immediate: a
    // send waits for a live connection (at most CONNECT_WAIT_MS), never queues to a dead GC.
    const req = new Request({ linger: 0, immediate: true, receiveTimeout: this.opts.timeoutMs, sendTimeout: Math.min(CONNECT_WAIT_MS, this.opts.timeoutMs), ...(this.opts.context ? { context: this.opts.context } : {}) });
    try {
      // The GC went away mid-request: closing ends the pending receive now (EAGAIN) rather than at the timeout.
      req.events.on('disconnect', () => {
        if (!req.closed) req.close();
      });
      req.connect(endpoint);
    } catch (e) {
      // Out of sockets or descriptors for its monitor: a socket left open would hang the process's exit.
      req.close();
      throw e;
    }
    this.socket = { endpoint, req };
    return req;
  }

  private dropSocket(): void {
    const s = this.socket?.req;
    this.socket = undefined;
    if (s && !s.closed) s.close();
  }

  /** Suspect GCs whose cooldown ended are pinged (all at once): trusted again only if they answer. */
  private async pingDue(): Promise<void> {
    const due = this.rotation.dueForPing();
    if (due.length === 0) return;
    const wait = Math.min(PING_WAIT_MS, this.opts.timeoutMs);
    await Promise.all(due.map(async (e) => ((await gcAnswersPing(e, wait, this.opts.context)) ? this.rotation.pinged(e) : this.rotation.pingUnanswered(e))));
  }

  private async sendNow(solicitud: NuevaPeticion): Promise<GcAnswer> {
    const msg = stamp(solicitud, this.makeId, this.opts.sede);
    const body = encode(msg);
    const attempts = this.opts.retries + 1;
    let sends = 0;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (this.closed) throw new GcClientClosedError();
      await this.pingDue();
      const endpoint = this.rotation.pick();
      if (attempt > 1) this.opts.onRetry?.({ clave: msg.clave, attempt, attempts, endpoint });
      const socket = this.socketFor(endpoint);
      let frames: Buffer[];
      try {
        await socket.send(body);
        sends++;
        frames = await socket.receive();
      } catch {
        // Timed out, no connection, or the GC went away: the REQ state machine is stuck; start over elsewhere.
        if (this.socket?.req === socket) this.dropSocket();
        this.rotation.failed(endpoint);
        continue;
      }
      this.rotation.answered(endpoint);
      const r = parseRespuesta(frames[frames.length - 1]);
      if (typeof r === 'string') throw new GcInvalidReplyError(endpoint, r);
      return { respuesta: afterResend(r, sends), endpoint };
    }
    if (this.closed) throw new GcClientClosedError();
    throw new GcNoReplyError(this.opts.endpoints.join(', '), msg.clave, attempts, this.opts.timeoutMs, msg.operacion);
  }
}
