/**
 * What a "not applied" refusal means once a clave went out more than once. A GC answers
 * ALMACENAMIENTO_NO_DISPONIBLE or SIN_ACTORES ("nothing was done, retry") for its own copy
 * only: an earlier copy, sent to another GC (or to the same one before a timeout), may still
 * be recorded and applied there. Past the first send the PS cannot promise "not applied",
 * so it says what it knows: the outcome is unknown; ask `estado` with the clave.
 */
import { MENSAJES } from '../common/protocol/codes.js';
import type { Respuesta } from '../common/protocol/ps-gc.js';

const NO_APLICADA = new Set(['ALMACENAMIENTO_NO_DISPONIBLE', 'SIN_ACTORES']);

/** A reply that says the op was not applied, and that a retry under a new clave would be safe. */
export function saysNotApplied(r: Respuesta): boolean {
  return NO_APLICADA.has(r.codigo);
}

/** The reply to give the caller for a clave sent `sends` times (1 = this one only). */
export function afterResend(r: Respuesta, sends: number): Respuesta {
  if (sends <= 1 || !saysNotApplied(r)) return r;
  return { ...r, codigo: 'TIEMPO_AGOTADO', mensaje: MENSAJES.TIEMPO_AGOTADO, datos: { ...r.datos, codigoRecibido: r.codigo } };
}
