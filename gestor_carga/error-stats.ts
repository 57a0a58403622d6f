/**
 * Counts of error replies by class (invalid, not_found, conflict, unavailable,
 * internal), by the HTTP status of that class (400/404/409/503/500), by code and by
 * channel (ZeroMQ frontend, HTTP gateway), and the most recent ones, for /errors/stats.
 * Pure and bounded.
 */
import { HTTP_STATUS, errorClass, type ErrorClass } from '../common/protocol/codes.js';
import type { Respuesta } from '../common/protocol/ps-gc.js';

/** Longest message (and operation name) kept per recent error. */
export const MAX_MENSAJE = 300;
/** Which door a request came in by. */
export type Canal = 'zeromq' | 'http';

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
  private readonly recent: RecentError[] = [];
  private total = 0;

  constructor(private readonly keep = 50) {}

  record(operacion: string, r: Respuesta, canal: Canal = 'zeromq'): void {
    const clase = errorClass(r.codigo);
    if (!clase) return;
    this.total++;
    this.byClass.set(clase, (this.byClass.get(clase) ?? 0) + 1);
    this.byCode.set(r.codigo, (this.byCode.get(r.codigo) ?? 0) + 1);
    this.byChannel[canal]++;
    // Bounded: a refusal may quote the request (e.g. every unknown field of a 16 KiB body).
    const mensaje = r.mensaje.length > MAX_MENSAJE ? `${r.mensaje.slice(0, MAX_MENSAJE)}…` : r.mensaje;
    this.recent.push({ fecha: r.fechaOperacion, id: r.id, operacion: operacion.slice(0, MAX_MENSAJE), codigo: r.codigo, clase, estadoHttp: HTTP_STATUS[clase], canal, mensaje });
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
    const porEstadoHttp = Object.fromEntries(Object.values(HTTP_STATUS).map((s) => [String(s), 0]));
    for (const [clase, n] of this.byClass) porEstadoHttp[String(HTTP_STATUS[clase])]! += n;
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
