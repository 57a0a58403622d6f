/**
 * A tiny scripted GC for the PS tests: a real zeromq Router answering by
 * simple in-memory library rules (stock, one active loan per isbn+usuario,
 * 2 renewals, async devolución with `estado`), idempotent by clave (books by isbn only).
 * Knobs simulate faults: drop the first N requests, delay replies, allow
 * too many renewals (a wrong GC, for test-sistema's FAIL path), hang (pause():
 * it reads but answers nothing until resume(), then answers all it read).
 */
import { Router } from 'zeromq';
import { splitEnvelope } from '../../common/envelope.js';
import { acceptedReply, encode, errorReply, labelReply, now, parseSolicitud, type OperacionActor, type Respuesta } from '../../common/protocol/ps-gc.js';
import type { Codigo } from '../../common/protocol/codes.js';
import { freePort } from './ports.js';

export interface FakeGcOptions {
  /** isbn → total copies. */
  libros?: Record<string, number>;
  /** Renewals allowed per loan (the real rule is 2). */
  maxRenovaciones?: number;
  /** devolución answers ACEPTADO and applies after `retardoAsyncMs` (default true). */
  devolucionAsync?: boolean;
  retardoAsyncMs?: number;
  /** The first N requests get no reply at all (a lost message). */
  descartarPrimeras?: number;
  /** Delay before every reply. */
  retardoMs?: number;
  /** Bind here instead of a free port (a GC coming back on its old address). */
  endpoint?: string;
}

interface Prestamo {
  vence: Date;
  renovaciones: number;
}

interface Registro {
  estado: 'PENDIENTE' | 'COMPLETADA' | 'RECHAZADA';
  respuesta: Respuesta;
  firma: string;
}

const DIA = 86_400_000;

/** A state-changing op as this fake keys it: `id` is the request's clave. */
interface Op {
  operacion: OperacionActor;
  isbn: string;
  usuario: string;
  id: string;
}

export class FakeGc {
  readonly recibidas: unknown[] = [];
  /** clave → times its effect was applied (must stay ≤ 1). */
  readonly aplicaciones = new Map<string, number>();
  private readonly router = new Router({ linger: 0 });
  private readonly stock = new Map<string, { total: number; disponibles: number }>();
  private readonly prestamos = new Map<string, Prestamo>();
  private readonly ledger = new Map<string, Registro>();
  private descartar: number;
  private envio: Promise<unknown> = Promise.resolve();
  private seq = 0;
  private timers = new Set<NodeJS.Timeout>();
  private paused = false;
  private held: Array<() => void> = [];

  private constructor(
    readonly endpoint: string,
    private readonly opts: FakeGcOptions,
  ) {
    for (const [isbn, total] of Object.entries(opts.libros ?? { '978-84-376-0494-7': 5 })) this.stock.set(isbn, { total, disponibles: total });
    this.descartar = opts.descartarPrimeras ?? 0;
  }

  static async start(opts: FakeGcOptions = {}): Promise<FakeGc> {
    const gc = new FakeGc(opts.endpoint ?? `tcp://127.0.0.1:${await freePort()}`, opts);
    // A port just released by a closed socket can take a moment to be free again.
    for (let i = 0; ; i++) {
      try {
        await gc.router.bind(gc.endpoint);
        break;
      } catch (err) {
        if (i > 40) throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    void gc.loop();
    return gc;
  }

  /** Hangs: keeps its connections, reads, answers nothing (a frozen process, as its peers see it). */
  pause(): void {
    this.paused = true;
  }

  /** Answers everything it read while paused, in order, and goes on normally. */
  resume(): void {
    this.paused = false;
    for (const send of this.held.splice(0)) send();
  }

  disponibles(isbn: string): number | undefined {
    return this.stock.get(isbn)?.disponibles;
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.router.close();
  }

  private later(ms: number, f: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      f();
    }, ms);
    this.timers.add(t);
  }

  private async loop(): Promise<void> {
    while (!this.router.closed) {
      let frames: Buffer[];
      try {
        frames = await this.router.receive();
      } catch {
        return;
      }
      const { envelope, body } = splitEnvelope(frames);
      try {
        this.recibidas.push(JSON.parse(body?.toString() ?? 'null'));
      } catch {
        this.recibidas.push(body?.toString());
      }
      if (this.descartar > 0) {
        this.descartar--;
        continue;
      }
      const reply = this.handle(body ?? Buffer.alloc(0));
      const send = () => {
        this.envio = this.envio.then(() => (this.router.closed ? undefined : this.router.send([...envelope, encode(reply)]))).catch(() => undefined);
      };
      if (this.paused) this.held.push(send);
      else if (this.opts.retardoMs) this.later(this.opts.retardoMs, send);
      else send();
    }
  }

  private handle(body: Buffer): Respuesta {
    const p = parseSolicitud(body, () => `gc-${++this.seq}`);
    if (!p.ok) return labelReply(errorReply(p.codigo, p.mensaje), p);
    const s = p.solicitud;
    if (s.operacion === 'estado') {
      const r = this.ledger.get(s.id);
      if (!r) return labelReply(errorReply('OPERACION_NO_ENCONTRADA'), s);
      return labelReply(this.reply(true, 'OK', `Operación ${r.estado}`, { estado: r.estado, resultado: r.respuesta }, s.id), s);
    }
    if (s.isbn === undefined) return labelReply(errorReply('LIBRO_NO_EXISTE', 'El GC de prueba no busca por título'), s);
    if (s.operacion === 'consulta') {
      const l = this.stock.get(s.isbn);
      if (!l) return labelReply(errorReply('LIBRO_NO_EXISTE'), s);
      return labelReply(this.reply(true, 'OK', `Disponibles ${l.disponibles} de ${l.total}`, { isbn: s.isbn, ...l }, s.clave), s);
    }
    return labelReply(this.operacion({ operacion: s.operacion, isbn: s.isbn, usuario: s.usuario, id: s.clave }), s);
  }

  private operacion(s: Op): Respuesta {
    const firma = `${s.operacion}|${s.isbn}|${s.usuario}`;
    const previo = this.ledger.get(s.id);
    if (previo) {
      if (previo.firma !== firma) return errorReply('ID_REUTILIZADO', undefined, s.id);
      return previo.estado === 'PENDIENTE' ? acceptedReply(s.id, s.operacion) : previo.respuesta;
    }
    if (s.operacion === 'devolucion' && this.opts.devolucionAsync !== false) {
      const reg: Registro = { estado: 'PENDIENTE', respuesta: acceptedReply(s.id, s.operacion), firma };
      this.ledger.set(s.id, reg);
      this.later(this.opts.retardoAsyncMs ?? 50, () => this.completar(s, reg));
      return reg.respuesta;
    }
    const reg: Registro = { estado: 'PENDIENTE', respuesta: acceptedReply(s.id, s.operacion), firma };
    this.ledger.set(s.id, reg);
    return this.completar(s, reg);
  }

  private completar(s: Op, reg: Registro): Respuesta {
    const r = this.aplicar(s);
    reg.respuesta = r;
    reg.estado = r.exito ? 'COMPLETADA' : 'RECHAZADA';
    return r;
  }

  private aplicar(s: Op): Respuesta {
    const libro = this.stock.get(s.isbn);
    if (!libro) return errorReply('LIBRO_NO_EXISTE', undefined, s.id);
    const clave = `${s.isbn}|${s.usuario}`;
    const prestamo = this.prestamos.get(clave);
    const aplicado = () => this.aplicaciones.set(s.id, (this.aplicaciones.get(s.id) ?? 0) + 1);
    switch (s.operacion) {
      case 'prestamo': {
        if (prestamo) return errorReply('PRESTAMO_ACTIVO', undefined, s.id);
        if (libro.disponibles <= 0) return errorReply('SIN_EJEMPLARES', undefined, s.id);
        libro.disponibles--;
        const vence = new Date(Date.now() + 14 * DIA);
        this.prestamos.set(clave, { vence, renovaciones: 0 });
        aplicado();
        return this.reply(true, 'APROBADO', 'Préstamo aprobado', { isbn: s.isbn, usuario: s.usuario, fechaDevolucion: vence.toISOString(), renovaciones: 0 }, s.id);
      }
      case 'renovacion': {
        if (!prestamo) return errorReply('PRESTAMO_NO_ENCONTRADO', undefined, s.id);
        if (prestamo.renovaciones >= (this.opts.maxRenovaciones ?? 2)) return errorReply('LIMITE_RENOVACIONES', undefined, s.id);
        prestamo.renovaciones++;
        prestamo.vence = new Date(prestamo.vence.getTime() + 7 * DIA);
        aplicado();
        return this.reply(true, 'APROBADO', 'Renovación aprobada', { isbn: s.isbn, usuario: s.usuario, fechaDevolucion: prestamo.vence.toISOString(), renovaciones: prestamo.renovaciones }, s.id);
      }
      case 'devolucion': {
        if (!prestamo) return errorReply('PRESTAMO_NO_ENCONTRADO', undefined, s.id);
        this.prestamos.delete(clave);
        libro.disponibles++;
        aplicado();
        return this.reply(true, 'APROBADO', 'Devolución registrada', { isbn: s.isbn, usuario: s.usuario }, s.id);
      }
    }
  }

  private reply(exito: boolean, codigo: Codigo, mensaje: string, datos: Record<string, unknown>, id: string): Respuesta {
    return { exito, codigo, mensaje, datos, id, fechaOperacion: now() };
  }
}
