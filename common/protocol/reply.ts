/**
 * Reading a GC reply (GC → PS), for the PS's REQ and DEALER clients alike. Lenient
 * on purpose: what the PS needs is `exito` and `codigo`; a missing or ill-typed
 * `mensaje`, `fechaOperacion`, `datos`, `id` or `clave` reads as empty. Pure, never
 * throws: a defect comes back as a short Spanish description.
 */
import type { Codigo } from './codes.js';
import { plainObject, readFrame } from './frame.js';
import { MAX_TRANSPORT_BYTES, type Respuesta } from './ps-gc.js';

// A reply is a JSON object whose fields are read leniently below (typeof, no schema objects: this runs once per reply in every PS).
const text = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** Parses one reply frame; returns an error string instead of throwing. */
export function parseRespuesta(frame: Buffer | undefined): Respuesta | string {
  const [m] = readFrame(frame, { schema: plainObject, maxBytes: MAX_TRANSPORT_BYTES });
  if (!m?.ok) {
    if (m && !m.defect) return 'no es un objeto JSON';
    if (m?.defect.kind === 'not-utf8') return 'no es texto UTF-8';
    return m?.defect.kind === 'missing' ? 'mensaje sin cuerpo' : 'no es JSON';
  }
  const r = m.value;
  if (typeof r.exito !== 'boolean' || typeof r.codigo !== 'string') return "faltan 'exito' o 'codigo'";
  const datos = r.datos && typeof r.datos === 'object' && !Array.isArray(r.datos) ? (r.datos as Record<string, unknown>) : {};
  return { exito: r.exito, codigo: r.codigo as Codigo, mensaje: text(r.mensaje) ?? '', fechaOperacion: text(r.fechaOperacion) ?? '', datos, id: text(r.id), clave: text(r.clave) };
}
