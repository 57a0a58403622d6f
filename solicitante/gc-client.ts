/**
 * Reliable request/reply client for the GC over a REQ socket (Lazy Pirate).
 *
 * A REQ socket whose receive timed out is unusable in zeromq.js, so after a
 * timeout the socket is closed and a new one made, and the SAME request (same
 * id) is sent again; the GC applies an id at most once, so retrying is safe.
 * After 1 + retries attempts the call fails with GcSinRespuestaError.
 * Calls are serialised: a REQ socket carries one request at a time.
 */
import { Request } from 'zeromq';
import { encode, type Respuesta } from '../common/protocol.js';
import { GcClienteCerradoError, GcRespuestaInvalidaError, GcSinRespuestaError } from './errors.js';
import { idGenerator, type IdGenerator } from './ids.js';
import { leerRespuesta, sellar } from './reply-codec.js';
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
  onReintento?: (info: { id: string; intento: number; de: number }) => void;
}

export class GcClient implements GcCaller {
  private socket?: Request;
  private cola: Promise<unknown> = Promise.resolve();
  private cerrado = false;
  private readonly makeId: IdGenerator;

  constructor(private readonly opts: GcClientOptions) {
    this.makeId = opts.makeId ?? idGenerator();
  }

  get endpoint(): string {
    return this.opts.endpoint;
  }

  enviar(solicitud: NuevaSolicitud): Promise<Respuesta> {
    const p = this.cola.then(() => this.enviarAhora(solicitud));
    this.cola = p.catch(() => undefined);
    return p;
  }

  close(): void {
    this.cerrado = true;
    this.descartarSocket();
  }

  private crearSocket(): Request {
    // linger 0: a discarded socket must not keep an unsent request around.
    const s = new Request({ linger: 0, receiveTimeout: this.opts.timeoutMs, sendTimeout: this.opts.timeoutMs });
    s.connect(this.opts.endpoint);
    return s;
  }

  private descartarSocket(): void {
    const s = this.socket;
    this.socket = undefined;
    if (s && !s.closed) s.close();
  }

  private async enviarAhora(solicitud: NuevaSolicitud): Promise<Respuesta> {
    const msg = sellar(solicitud, this.makeId, this.opts.sede);
    const body = encode(msg);
    const intentos = this.opts.retries + 1;
    for (let intento = 1; intento <= intentos; intento++) {
      if (this.cerrado) throw new GcClienteCerradoError();
      if (intento > 1) this.opts.onReintento?.({ id: msg.id, intento, de: intentos });
      this.socket ??= this.crearSocket();
      const socket = this.socket;
      let frames: Buffer[];
      try {
        await socket.send(body);
        frames = await socket.receive();
      } catch {
        // Timed out (or failed mid-exchange): the REQ state machine is stuck; start over.
        if (this.socket === socket) this.descartarSocket();
        continue;
      }
      const r = leerRespuesta(frames[frames.length - 1]);
      if (typeof r === 'string') throw new GcRespuestaInvalidaError(this.opts.endpoint, r);
      return r;
    }
    if (this.cerrado) throw new GcClienteCerradoError();
    throw new GcSinRespuestaError(this.opts.endpoint, msg.id, intentos, this.opts.timeoutMs);
  }
}
