/**
 * Counts of error replies by class (invalid, not_found, conflict, unavailable,
 * internal), by HTTP status (the one the gateway sent; a ZeroMQ reply's class's), by code and by
 * channel (ZeroMQ frontend, HTTP gateway), and the most recent ones, for /errors/stats.
 * Pure and bounded.
 */
import { HTTP_STATUS, errorClass, type ErrorClass } from '../common/protocol/codes.js';
import type { Respuesta } from '../common/protocol/ps-gc.js';

/** Longest message (and operation name) kept per recent error. */
export const MAX_MENSAJE = 300;
/** Which door a request came in by. */
export type Canal = 'zeromq' | 'http';
/** Statuses /errors/stats always lists: each class's, and 405, the gateway's refusal of a method. */
const ESTADOS_LISTADOS: readonly number[] = [...new Set([...Object.values(HTTP_STATUS), 405])].sort((a, b) => a - b);

export interface RecentError {
  fecha: string;
  id?: string;
  operacion: string;
  codigo: string;
  clase: ErrorClass;
  estadoHttp: number;
  canal: Canal;
  mensaje: string;
}

export class ErrorStats {
  private readonly byClass = new Map<ErrorClass, number>();
  private readonly byCode = new Map<string, number>();
  private readonly byChannel: Record<Canal, number> = { zeromq: 0, http: 0 };
  private readonly byStatus = new Map<number, number>();
  private readonly recent: RecentError[] = [];
  private total = 0;

  constructor(private readonly keep = 50) {}

  /**
   * `estadoHttp`: the status the gateway actually sent when it is not the class's (a 405);
   * a ZeroMQ reply counts under its class's status, the one the gateway would have sent.
   */
  record(operacion: string, r: Respuesta, canal: Canal = 'zeromq', estadoHttp?: number): void {
    const clase = errorClass(r.codigo);
    if (!clase) return;
    const estado = estadoHttp ?? HTTP_STATUS[clase];
    this.total++;
    this.byStatus.set(estado, (this.byStatus.get(estado) ?? 0) + 1);
    this.byClass.set(clase, (this.byClass.get(clase) ?? 0) + 1);
    this.byCode.set(r.codigo, (this.byCode.get(r.codigo) ?? 0) + 1);
    this.byChannel[canal]++;
    // Bounded: a refusal may quote the request (e.g. every unknown field of a 16 KiB body).
    const mensaje = r.mensaje.length > MAX_MENSAJE ? `${r.mensaje.slice(0, MAX_MENSAJE)}…` : r.mensaje;
    this.recent.push({ fecha: r.fechaOperacion, id: r.id, operacion: operacion.slice(0, MAX_MENSAJE), codigo: r.codigo, clase, estadoHttp: estado, canal, mensaje });
    if (this.recent.length > this.keep) this.recent.shift();
  }

  snapshot(): {
    total: number;
    porClase: Record<string, number>;
    porEstadoHttp: Record<string, number>;
    porCodigo: Record<string, number>;
    porCanal: Record<Canal, number>;
    recientes: RecentError[];
  } {
    // Every status listed, also at 0: a reader compares counts without guessing absent keys.
    const porEstadoHttp: Record<string, number> = Object.fromEntries(ESTADOS_LISTADOS.map((s) => [String(s), 0]));
    for (const [estado, n] of this.byStatus) porEstadoHttp[String(estado)] = n;
    return {
      total: this.total,
      porClase: Object.fromEntries(this.byClass),
      porEstadoHttp,
      porCodigo: Object.fromEntries(this.byCode),
      porCanal: { ...this.byChannel },
      recientes: [...this.recent].reverse(),
    };
  }
}
