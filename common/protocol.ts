/**
 * PS ⇄ GC wire protocol: one JSON object per ZeroMQ message.
 * Pure codec: validates bytes into typed requests and builds replies. It never
 * opens a socket, so every process and every test uses the same rules.
 */
import { z } from 'zod';
import { MENSAJES, type Codigo, type ErrorCode } from './codes.js';

/** Larger requests are refused with SOLICITUD_INVALIDA before parsing. */
export const MAX_REQUEST_BYTES = 16 * 1024;
/** Transport cap (ZMQ_MAXMSGSIZE): beyond this the peer is disconnected, unanswered. */
export const MAX_TRANSPORT_BYTES = 4 * 1024 * 1024;

export const OPERACIONES = ['prestamo', 'devolucion', 'renovacion', 'consulta', 'estado'] as const;
export type Operacion = (typeof OPERACIONES)[number];
/** Operations that change state and are applied by actors. */
export const OPERACIONES_ACTOR = ['prestamo', 'devolucion', 'renovacion'] as const;
export type OperacionActor = (typeof OPERACIONES_ACTOR)[number];

export const ESTADOS = ['PENDIENTE', 'COMPLETADA', 'RECHAZADA'] as const;
export type EstadoOperacion = (typeof ESTADOS)[number];

export const isbnSchema = z.string().regex(/^[0-9A-Za-z][0-9A-Za-z-]{0,31}$/, 'isbn: 1–32 letras, dígitos o guiones');
export const usuarioSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/, 'usuario: 1–64 letras, dígitos o . _ @ -');
export const opIdSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,79}$/, 'id: 1–80 letras, dígitos o . _ : -');
export const sedeSchema = z.string().regex(/^[\p{L}\p{N}][\p{L}\p{N} ._-]{0,63}$/u, 'sede: 1–64 letras, dígitos, espacios o . _ -');

/** A request after validation; `id` is always present (the GC makes one if absent). */
const requestShape = z
  .object({
    operacion: z.string(),
    isbn: isbnSchema.optional(),
    usuario: usuarioSchema.optional(),
    id: opIdSchema.optional(),
    sede: sedeSchema.optional(),
  })
  .strict();

export type Solicitud =
  | { operacion: OperacionActor; isbn: string; usuario: string; id: string; sede?: string }
  | { operacion: 'consulta'; isbn: string; usuario?: string; id: string; sede?: string }
  | { operacion: 'estado'; id: string; isbn?: string; usuario?: string; sede?: string };

/** A state-changing operation as carried to actors and the GA. */
export type OperacionSolicitada = Extract<Solicitud, { operacion: OperacionActor }>;

/** Exactly the fields of an op, from anything that carries them (a request, a task): strict schemas downstream refuse extras. */
export function soloOperacion(x: OperacionSolicitada): OperacionSolicitada {
  const { operacion, isbn, usuario, id, sede } = x;
  return sede === undefined ? { operacion, isbn, usuario, id } : { operacion, isbn, usuario, id, sede };
}

export interface Respuesta {
  exito: boolean;
  mensaje: string;
  fechaOperacion: string;
  datos: Record<string, unknown>;
  id?: string;
  codigo: Codigo;
}

/**
 * Outcome of an operation as the GA records and returns it; the GC turns it into
 * a Respuesta unchanged. `estado` is absent for read-only queries.
 */
export const resultadoSchema = z.object({
  id: z.string().optional(),
  operacion: z.string().optional(),
  estado: z.enum(ESTADOS).optional(),
  exito: z.boolean(),
  codigo: z.string(),
  mensaje: z.string(),
  datos: z.record(z.string(), z.unknown()),
  fechaOperacion: z.string(),
});
export type Resultado = Omit<z.infer<typeof resultadoSchema>, 'codigo'> & { codigo: Codigo };

export type ParseResult =
  | { ok: true; solicitud: Solicitud }
  | { ok: false; codigo: ErrorCode; mensaje: string; id?: string };

/** Accepts "Préstamo", "PRESTAMO", "prestamo" alike: original clients vary in case and accents. */
export function normalizeOperacion(op: string): string {
  return op.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase().trim();
}

/** Best-effort id recovery from a rejected message so its error reply still echoes it. */
function salvageId(obj: unknown): string | undefined {
  if (obj && typeof obj === 'object' && 'id' in obj) {
    const r = opIdSchema.safeParse((obj as { id: unknown }).id);
    if (r.success) return r.data;
  }
  return undefined;
}

/**
 * Validates one raw message. `makeId` supplies an id when the client sent none.
 * Never throws: every input maps to a request or to an error code with a message.
 */
export function parseSolicitud(raw: Buffer | string, makeId: () => string): ParseResult {
  const size = typeof raw === 'string' ? Buffer.byteLength(raw) : raw.length;
  if (size === 0) return { ok: false, codigo: 'SOLICITUD_INVALIDA', mensaje: 'Mensaje vacío' };
  if (size > MAX_REQUEST_BYTES) {
    return { ok: false, codigo: 'SOLICITUD_INVALIDA', mensaje: `Mensaje demasiado grande (${size} bytes; máximo ${MAX_REQUEST_BYTES})` };
  }
  let obj: unknown;
  try {
    obj = JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8'));
  } catch {
    return { ok: false, codigo: 'SOLICITUD_INVALIDA', mensaje: 'El mensaje no es JSON válido' };
  }
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) {
    return { ok: false, codigo: 'SOLICITUD_INVALIDA', mensaje: 'El mensaje debe ser un objeto JSON' };
  }
  const id = salvageId(obj);
  const parsed = requestShape.safeParse(obj);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? issue.path.join('.') : '';
    const what = issue?.code === 'unrecognized_keys' ? `campos no admitidos: ${(issue as { keys: string[] }).keys.join(', ')}` : issue?.message;
    return { ok: false, codigo: 'SOLICITUD_INVALIDA', mensaje: `Solicitud inválida${where ? ` en '${where}'` : ''}: ${what}`, id };
  }
  const r = parsed.data;
  const operacion = normalizeOperacion(r.operacion);
  if (!(OPERACIONES as readonly string[]).includes(operacion)) {
    return { ok: false, codigo: 'OPERACION_DESCONOCIDA', mensaje: `Operación desconocida '${r.operacion.slice(0, 40)}'; use ${OPERACIONES.join(', ')}`, id };
  }
  const missing = (f: string): ParseResult => ({ ok: false, codigo: 'SOLICITUD_INVALIDA', mensaje: `Falta el campo '${f}' para ${operacion}`, id });
  if (operacion === 'estado') {
    if (!r.id) return missing('id');
    return { ok: true, solicitud: { ...r, operacion, id: r.id } };
  }
  if (!r.isbn) return missing('isbn');
  if (operacion === 'consulta') return { ok: true, solicitud: { ...r, operacion, isbn: r.isbn, id: r.id ?? makeId() } };
  if (!r.usuario) return missing('usuario');
  return { ok: true, solicitud: { ...r, operacion: operacion as OperacionActor, isbn: r.isbn, usuario: r.usuario, id: r.id ?? makeId() } };
}

export function now(): string {
  return new Date().toISOString();
}

export function errorReply(codigo: ErrorCode, mensaje?: string, id?: string, datos: Record<string, unknown> = {}): Respuesta {
  return { exito: false, mensaje: mensaje ?? MENSAJES[codigo], fechaOperacion: now(), datos, id, codigo };
}

export function replyFromResultado(r: Resultado): Respuesta {
  return { exito: r.exito, mensaje: r.mensaje, fechaOperacion: r.fechaOperacion, datos: r.datos, id: r.id, codigo: r.codigo };
}

export function acceptedReply(id: string, operacion: OperacionActor): Respuesta {
  return { exito: true, mensaje: MENSAJES.ACEPTADO, fechaOperacion: now(), datos: { estado: 'PENDIENTE', operacion }, id, codigo: 'ACEPTADO' };
}

export function encode(msg: unknown): Buffer {
  return Buffer.from(JSON.stringify(msg));
}
