/**
 * The one validation path for a request to the GC, whatever carried it (the ZeroMQ
 * frontend, the HTTP gateway): size, JSON and object checks, then a library operation
 * (ps-gc.ts) or a calculation (calc.ts) by its `operacion`. Pure, never throws.
 */
import { OPERACIONES, decodeRequest, echoOf, normalizeOperacion, solicitudFromObject, type ParseResult } from './ps-gc.js';
import { OPERACIONES_CALCULO, calculoFromObject, operacionCalculoDe, type SolicitudCalculo } from './calc.js';

/**
 * `{"operacion":"ping"}`: answered by the GC itself at once, touching nothing else. A PS
 * that left a GC which let a request time out asks it this until it answers, instead of
 * trying it again with a user's request (solicitante/gc-pipeline.ts).
 */
export const PING = 'ping';

/** A ping as a PS sends it; the reply echoes `clave`. */
export function pingMessage(clave: string): string {
  return JSON.stringify({ operacion: PING, clave });
}

/**
 * A refused request. `operacion`: the known operation the body named when only a field was
 * wrong, so error stats and metrics say which one; absent for an unreadable body or an
 * unknown operation.
 */
export type RequestRefusal = Extract<ParseResult, { ok: false }> & { operacion?: string };

export type RequestParse = RequestRefusal | Extract<ParseResult, { ok: true }> | { ok: true; calculo: SolicitudCalculo } | { ok: true; ping: { id?: string; clave?: string } };

/** The library operation a decoded message names, normalised, if it is one. */
function operacionBibliotecaDe(obj: object): string | undefined {
  const op = (obj as { operacion?: unknown }).operacion;
  if (typeof op !== 'string') return undefined;
  const n = normalizeOperacion(op);
  return (OPERACIONES as readonly string[]).includes(n) ? n : undefined;
}

/** A refusal of a message that named `operacion` keeps that name. */
function named<P extends { ok: boolean }>(r: P, operacion: string | undefined): P {
  return r.ok || operacion === undefined ? r : { ...r, operacion };
}

/** `bytes`: the real size when `raw` is only the start of an oversized message (decodeRequest). */
export function parseRequest(raw: Buffer | string, makeKey: () => string, bytes?: number): RequestParse {
  const d = decodeRequest(raw, bytes);
  if (!d.ok) return d;
  if ((d.obj as { operacion?: unknown }).operacion === PING) return { ok: true, ping: echoOf(d.obj) };
  const calculo = operacionCalculoDe(d.obj);
  if (calculo) return named(calculoFromObject(d.obj, calculo, makeKey), calculo);
  const r = solicitudFromObject(d.obj, makeKey);
  // The library parser lists only its own operations.
  if (!r.ok && r.codigo === 'OPERACION_DESCONOCIDA') return { ...r, mensaje: `${r.mensaje}, ${OPERACIONES_CALCULO.join(', ')}, ${PING}` };
  return named(r, operacionBibliotecaDe(d.obj));
}
