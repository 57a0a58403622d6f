/**
 * Building request bodies and reading GC replies. Pure, shared by the REQ and
 * DEALER clients so both stamp ids and validate replies the same way.
 */
import type { Respuesta } from '../common/protocol/ps-gc.js';
import type { Codigo } from '../common/protocol/codes.js';
import type { IdGenerator } from './ids.js';
import type { NuevaPeticion } from './types.js';

export type SolicitudConClave = NuevaPeticion & { clave: string };

/**
 * Gives the request its clave (the idempotency key: every resend carries the same one)
 * and the PS's sede, if configured and not set. Queries get one too: it is how the
 * pipelined client matches replies to requests.
 */
export function stamp(s: NuevaPeticion, makeKey: IdGenerator, sede?: string): SolicitudConClave {
  const clave = s.clave ?? makeKey();
  return { ...s, clave, ...(sede && !s.sede ? { sede } : {}) } as SolicitudConClave;
}

/** Parses one reply frame; returns an error string instead of throwing. */
export function parseRespuesta(frame: Buffer | undefined): Respuesta | string {
  if (!frame) return 'mensaje sin cuerpo';
  let obj: unknown;
  try {
    obj = JSON.parse(frame.toString('utf8'));
  } catch {
    return 'no es JSON';
  }
  if (!obj || typeof obj !== 'object') return 'no es un objeto JSON';
  const r = obj as Record<string, unknown>;
  if (typeof r.exito !== 'boolean' || typeof r.codigo !== 'string') return "faltan 'exito' o 'codigo'";
  return {
    exito: r.exito,
    codigo: r.codigo as Codigo,
    mensaje: typeof r.mensaje === 'string' ? r.mensaje : '',
    fechaOperacion: typeof r.fechaOperacion === 'string' ? r.fechaOperacion : '',
    datos: r.datos && typeof r.datos === 'object' && !Array.isArray(r.datos) ? (r.datos as Record<string, unknown>) : {},
    id: typeof r.id === 'string' ? r.id : undefined,
    clave: typeof r.clave === 'string' ? r.clave : undefined,
  };
}
