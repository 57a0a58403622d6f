/**
 * Reading a GC reply (GC → PS), for the PS's REQ and DEALER clients alike. Lenient
 * on purpose: what the PS needs is `exito` and `codigo`; a missing or ill-typed
 * `mensaje`, `fechaOperacion`, `datos`, `id` or `clave` reads as empty. Pure, never
 * throws: a defect comes back as a short Spanish description.
 */
import { z } from 'zod';
import type { Codigo } from './codes.js';
import { readFrame } from './frame.js';
import { MAX_TRANSPORT_BYTES, type Respuesta } from './ps-gc.js';

const texto = z
  .unknown()
  .transform((v) => (typeof v === 'string' ? v : undefined))
  .optional();
const respuestaSchema = z.object({
  exito: z.boolean(),
  codigo: z.string(),
  mensaje: texto,
  fechaOperacion: texto,
  datos: z
    .unknown()
    .transform((v) => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined))
    .optional(),
  id: texto,
  clave: texto,
});

/** Parses one reply frame; returns an error string instead of throwing. */
export function parseRespuesta(frame: Buffer | undefined): Respuesta | string {
  const [m] = readFrame(frame, { schema: respuestaSchema, maxBytes: MAX_TRANSPORT_BYTES });
  if (m?.ok) {
    const r = m.value;
    return { exito: r.exito, codigo: r.codigo as Codigo, mensaje: r.mensaje ?? '', fechaOperacion: r.fechaOperacion ?? '', datos: r.datos ?? {}, id: r.id, clave: r.clave };
  }
  if (!m || m.defect) return m?.defect.kind === 'missing' ? 'mensaje sin cuerpo' : 'no es JSON';
  return m.raw && typeof m.raw === 'object' ? "faltan 'exito' o 'codigo'" : 'no es un objeto JSON';
}
