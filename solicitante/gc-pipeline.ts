/**
 * Pipelined GC client over one DEALER socket: many requests in flight,
 * replies matched to requests by op id. Used by the load generator, where one
 * socket per simulated client would cost more than the work being measured.
 *
 * A DEALER does not get stuck after a lost reply, so a timed-out request is
 * simply resent with the same id; a late duplicate reply is ignored. Two
 * requests with the same id may not be in flight at once (the second is refused).
 */
import { Dealer } from 'zeromq';
import { encode, type Respuesta } from '../common/protocol.js';
import { GcClienteCerradoError, GcSinRespuestaError } from './errors.js';
import { idGenerator, type IdGenerator } from './ids.js';
import { leerRespuesta, sellar } from './reply-codec.js';
import type { GcCaller, NuevaSolicitud } from './types.js';

export interface GcPipelineOptions {
  endpoint: string;
  timeoutMs: number;
  retries: number;
  sede?: string;
  makeId?: IdGenerator;
}

interface Pendiente {
  id: string;
  body: Buffer;
  intento: number;
  timer?: NodeJS.Timeout;
  resolve: (r: Respuesta) => void;
  reject: (e: Error) => void;
}

export class GcPipelineClient implements GcCaller {
  private readonly socket: Dealer;
  private readonly pendientes = new Map<string, Pendiente>();
  private readonly porEnviar: Buffer[] = [];
  private enviando = false;
  private cerrado = false;
  private readonly makeId: IdGenerator;
  /** Replies that matched nothing in flight (late duplicates or unreadable). */
  descartadas = 0;

  constructor(private readonly opts: GcPipelineOptions) {
    this.makeId = opts.makeId ?? idGenerator();
    // No send HWM: closed-loop clients bound what is in flight anyway.
    this.socket = new Dealer({ linger: 0, sendTimeout: opts.timeoutMs, sendHighWaterMark: 0, receiveHighWaterMark: 0 });
    this.socket.connect(opts.endpoint);
    void this.recibir();
  }

  get enVuelo(): number {
    return this.pendientes.size;
  }

  enviar(solicitud: NuevaSolicitud): Promise<Respuesta> {
    if (this.cerrado) return Promise.reject(new GcClienteCerradoError());
    const msg = sellar(solicitud, this.makeId, this.opts.sede);
    if (this.pendientes.has(msg.id)) return Promise.reject(new Error(`Ya hay una solicitud en curso con id ${msg.id}`));
    return new Promise<Respuesta>((resolve, reject) => {
      const p: Pendiente = { id: msg.id, body: encode(msg), intento: 0, resolve, reject };
      this.pendientes.set(p.id, p);
      this.transmitir(p);
    });
  }

  close(): void {
    if (this.cerrado) return;
    this.cerrado = true;
    for (const p of this.pendientes.values()) {
      clearTimeout(p.timer);
      p.reject(new GcClienteCerradoError());
    }
    this.pendientes.clear();
    this.socket.close();
  }

  private transmitir(p: Pendiente): void {
    p.intento++;
    p.timer = setTimeout(() => this.expirar(p), this.opts.timeoutMs);
    this.porEnviar.push(p.body);
    void this.bombear();
  }

  private expirar(p: Pendiente): void {
    if (this.pendientes.get(p.id) !== p) return;
    if (p.intento > this.opts.retries) {
      this.pendientes.delete(p.id);
      p.reject(new GcSinRespuestaError(this.opts.endpoint, p.id, p.intento, this.opts.timeoutMs));
      return;
    }
    this.transmitir(p);
  }

  /** zeromq.js allows one pending send per socket: drain the queue from a single loop. */
  private async bombear(): Promise<void> {
    if (this.enviando) return;
    this.enviando = true;
    try {
      while (!this.cerrado && this.porEnviar.length > 0) {
        const body = this.porEnviar.shift()!;
        try {
          await this.socket.send(body);
        } catch {
          // No GC connected within sendTimeout: the request's own timer resends or fails it.
        }
      }
    } finally {
      this.enviando = false;
    }
  }

  private async recibir(): Promise<void> {
    while (!this.cerrado) {
      let frames: Buffer[];
      try {
        frames = await this.socket.receive();
      } catch {
        if (this.cerrado) return;
        continue;
      }
      const r = leerRespuesta(frames[frames.length - 1]);
      const p = typeof r === 'string' || !r.id ? undefined : this.pendientes.get(r.id);
      if (!p || typeof r === 'string') {
        this.descartadas++;
        continue;
      }
      clearTimeout(p.timer);
      this.pendientes.delete(p.id);
      p.resolve(r);
    }
  }
}
