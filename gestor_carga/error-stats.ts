/**
 * Counts of error replies by class (invalid, not_found, conflict, unavailable,
 * internal) and the most recent ones, for /errors/stats. Pure and bounded.
 */
import { errorClass, type ErrorClass } from '../common/codes.js';
import type { Respuesta } from '../common/protocol.js';

export interface RecentError {
  at: string;
  id?: string;
  operacion: string;
  codigo: string;
  clase: ErrorClass;
  mensaje: string;
}

export class ErrorStats {
  private readonly byClass = new Map<ErrorClass, number>();
  private readonly byCode = new Map<string, number>();
  private readonly recent: RecentError[] = [];
  private total = 0;

  constructor(private readonly keep = 50) {}

  record(operacion: string, r: Respuesta): void {
    const clase = errorClass(r.codigo);
    if (!clase) return;
    this.total++;
    this.byClass.set(clase, (this.byClass.get(clase) ?? 0) + 1);
    this.byCode.set(r.codigo, (this.byCode.get(r.codigo) ?? 0) + 1);
    this.recent.push({ at: r.fechaOperacion, id: r.id, operacion, codigo: r.codigo, clase, mensaje: r.mensaje });
    if (this.recent.length > this.keep) this.recent.shift();
  }

  snapshot(): { total: number; porClase: Record<string, number>; porCodigo: Record<string, number>; recientes: RecentError[] } {
    return {
      total: this.total,
      porClase: Object.fromEntries(this.byClass),
      porCodigo: Object.fromEntries(this.byCode),
      recientes: [...this.recent].reverse(),
    };
  }
}
