/**
 * Reliable request/reply client for the GC over a REQ socket (Lazy Pirate).
 *
 * A REQ socket whose receive timed out is unusable in zeromq.js, so after a
 * timeout the socket is closed and a new one made, and the SAME request (same
 * clave) is sent again; the GC applies a clave at most once, so retrying is safe.
 * After 1 + retries attempts the call fails with GcNoReplyError.
 * Calls are serialised: a REQ socket carries one request at a time.
 */
import { Request } from 'zeromq';
import { encode, type Respuesta } from '../common/protocol.js';
import { GcClientClosedError, GcInvalidReplyError, GcNoReplyError } from './errors.js';
import { idGenerator, type IdGenerator } from './ids.js';
import { parseRespuesta, stamp } from './reply-codec.js';
import type { GcCaller, NuevaSolicitud } from './types.js';

export interface GcClientOptions {
  endpoint: string;
  /** Per-attempt wait for a reply (PS_TIMEOUT_MS). */
  timeoutMs: number;
  /** Resends after the first attempt (PS_RETRIES). */
  retries: number;
  /** Sede stamped on requests that carry none (PS_SEDE). */
  sede?: string;
  makeId?: IdGenerator;
  /** Called before each resend, e.g. to tell the user. */
  onRetry?: (info: { clave: string; attempt: number; attempts: number }) => void;
}

export class GcClient implements GcCaller {
  private socket?: Request;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  private readonly makeId: IdGenerator;

  constructor(private readonly opts: GcClientOptions) {
    this.makeId = opts.makeId ?? idGenerator();
  }

  send(solicitud: NuevaSolicitud): Promise<Respuesta> {
    const p = this.queue.then(() => this.sendNow(solicitud));
    this.queue = p.catch(() => undefined);
    return p;
  }

  close(): void {
    this.closed = true;
    this.dropSocket();
  }

  private newSocket(): Request {
    // linger 0: a discarded socket must not keep an unsent request around.
    const s = new Request({ linger: 0, receiveTimeout: this.opts.timeoutMs, sendTimeout: this.opts.timeoutMs });
    s.connect(this.opts.endpoint);
    return s;
  }

  private dropSocket(): void {
    const s = this.socket;
    this.socket = undefined;
    if (s && !s.closed) s.close();
  }

  private async sendNow(solicitud: NuevaSolicitud): Promise<Respuesta> {
    const msg = stamp(solicitud, this.makeId, this.opts.sede);
    const body = encode(msg);
    const attempts = this.opts.retries + 1;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (this.closed) throw new GcClientClosedError();
      if (attempt > 1) this.opts.onRetry?.({ clave: msg.clave, attempt, attempts });
      this.socket ??= this.newSocket();
      const socket = this.socket;
      let frames: Buffer[];
      try {
        await socket.send(body);
        frames = await socket.receive();
      } catch {
        // Timed out (or failed mid-exchange): the REQ state machine is stuck; start over.
        if (this.socket === socket) this.dropSocket();
        continue;
      }
      const r = parseRespuesta(frames[frames.length - 1]);
      if (typeof r === 'string') throw new GcInvalidReplyError(this.opts.endpoint, r);
      return r;
    }
    if (this.closed) throw new GcClientClosedError();
    throw new GcNoReplyError(this.opts.endpoint, msg.clave, attempts, this.opts.timeoutMs);
  }
}
