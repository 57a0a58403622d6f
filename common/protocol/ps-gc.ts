/**
 * PS ⇄ GC wire protocol: one JSON object per ZeroMQ message.
 * Pure codec: validates bytes into typed requests and builds replies. It never
 * opens a socket, so every process and every test uses the same rules.
 */
import { z } from './zod.js';
import { MENSAJES, type Codigo, type ErrorCode } from './codes.js';
import { plainObject, readFrame, type FrameDefect } from './frame.js';

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

export const isbnSchema = z.string().regex(/^[0-9A-Za-z][0-9A-Za-z-]{0,31}$/, 'de 1 a 32 caracteres, letras sin acento (A-Z, a-z), dígitos o guiones, empezando por letra o dígito');
export const usuarioSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/, 'de 1 a 64 caracteres, letras sin acento ni ñ (A-Z, a-z), dígitos o . _ @ -, empezando por letra o dígito');
/** An op's key (`clave`) or a client's label (`id`): `@` too, since original clients build ids as `<isbn>_<usuario>`. */
export const opIdSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:@-]{0,79}$/, 'de 1 a 80 caracteres, letras sin acento ni ñ (A-Z, a-z), dígitos o . _ : @ -, empezando por letra o dígito');
export const sedeSchema = z.string().regex(/^[\p{L}\p{N}][\p{L}\p{N} ._-]{0,63}$/u, '1–64 letras, dígitos, espacios o . _ -');

/**
 * Free text as stored: no control characters (they would garble every reply and
 * listing; PostgreSQL refuses NUL) and no lone UTF-16 surrogates (the driver would
 * store U+FFFD instead). The catalog's titles and authors, and a request's `titulo`.
 */
export const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
export const textoLibre = (campo: string, max: number) =>
  z
    .string()
    .trim()
    .min(1, `${campo} vacío`)
    .max(max)
    .refine((t) => !/\p{Cc}/u.test(t), { error: (i) => `contiene un carácter de control (${controlChar(i.input as string)})` })
    .refine((t) => !LONE_SURROGATE.test(t), 'contiene texto UTF-16 mal formado');

function controlChar(t: string): string {
  const c = /\p{Cc}/u.exec(t)?.[0] ?? '';
  return `U+${(c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
}

export const tituloSchema = textoLibre('titulo', 500);

/**
 * The request as it travels. Original Python clients send `None` (null) for what does
 * not apply (`"titulo": null`, `"isbn": null` in a préstamo by title), so null means absent.
 *  - `id`: the client's label, echoed back in the reply; never an idempotency key.
 *  - `clave`: the idempotency key. The same clave never applies twice; a request
 *    without one is a new operation every time (the GC makes its key).
 *  - `titulo`: stands for `isbn` when that is absent (resolved by the GA: exact
 *    title, case and accents ignored).
 */
const requestShape = z
  .object({
    operacion: z.string(),
    isbn: isbnSchema.nullish(),
    titulo: tituloSchema.nullish(),
    usuario: usuarioSchema.nullish(),
    id: opIdSchema.nullish(),
    clave: opIdSchema.nullish(),
    sede: sedeSchema.nullish(),
  })
  .strict();

/** What a client may send (nulls included). */
export type SolicitudEnviada = z.input<typeof requestShape>;

/**
 * A request after validation. `clave` is always present (the GC makes one when the
 * client sent none); `id` only when the client sent one. A book is named by `isbn`,
 * or by `titulo` when there is no isbn (at least one of them for every operation but estado).
 * `estado`'s `id` names the operation asked about: its clave, or a client label.
 */
export type Solicitud =
  | { operacion: OperacionActor; isbn?: string; titulo?: string; usuario: string; id?: string; clave: string; sede?: string }
  | { operacion: 'consulta'; isbn?: string; titulo?: string; usuario?: string; id?: string; clave: string; sede?: string }
  | { operacion: 'estado'; id: string; clave: string; sede?: string };

/**
 * A state-changing op as carried to actors and the GA. `id` is its key in the ledger
 * (the request's clave); `etiqueta` the client's label (its `id`), kept so `estado` by label works.
 */
export const operacionSolicitadaSchema = z
  .object({
    operacion: z.enum(OPERACIONES_ACTOR),
    isbn: isbnSchema,
    usuario: usuarioSchema,
    id: opIdSchema,
    etiqueta: opIdSchema.optional(),
    sede: sedeSchema.optional(),
  })
  .strict();
export type OperacionSolicitada = z.infer<typeof operacionSolicitadaSchema>;

/** The GA's notion of "the same op" for one id (aplicar_operacion / registrar_operacion). */
export function sameOp(a: OperacionSolicitada, b: OperacionSolicitada): boolean {
  return a.operacion === b.operacion && a.isbn === b.isbn && a.usuario === b.usuario;
}

/** A key equal for two ops exactly when they have the same id and sameOp holds. */
export function opKey(op: OperacionSolicitada): string {
  return `${op.id}\n${op.operacion}\n${op.isbn}\n${op.usuario}`;
}

/** Exactly the fields of an op, from anything that carries them (a request, a task): strict schemas downstream refuse extras. */
export function soloOperacion(x: OperacionSolicitada): OperacionSolicitada {
  const { operacion, isbn, usuario, id, etiqueta, sede } = x;
  const op: OperacionSolicitada = { operacion, isbn, usuario, id };
  if (etiqueta !== undefined) op.etiqueta = etiqueta;
  if (sede !== undefined) op.sede = sede;
  return op;
}

export interface Respuesta {
  exito: boolean;
  mensaje: string;
  fechaOperacion: string;
  datos: Record<string, unknown>;
  /** The client's `id`, echoed; when it sent none, the request's clave. */
  id?: string;
  /** The request's key: the client's clave, or the one the GC made (an op's key in the ledger: retry with it, ask `estado` with it). */
  clave?: string;
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
  | { ok: false; codigo: ErrorCode; mensaje: string; id?: string; clave?: string };

/** Accepts "Préstamo", "PRESTAMO", "prestamo" alike: original clients vary in case and accents. */
export function normalizeOperacion(op: string): string {
  return op.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase().trim();
}

/** Best-effort recovery of a valid `id` / `clave` from a rejected message so its error reply still echoes them. */
function salvage(obj: object, field: 'id' | 'clave'): string | undefined {
  if (!(field in obj)) return undefined;
  const r = opIdSchema.safeParse((obj as Record<string, unknown>)[field]);
  return r.success ? r.data : undefined;
}

/** Drops the keys whose value is null or undefined: the wire's "absent". */
export function present<T extends Record<string, unknown>>(o: T): { [K in keyof T]?: NonNullable<T[K]> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null && v !== undefined)) as { [K in keyof T]?: NonNullable<T[K]> };
}

/**
 * Validates one raw message. `makeKey` supplies the clave when the client sent none.
 * Never throws: every input maps to a request or to an error code with a message.
 */
export function parseSolicitud(raw: Buffer | string, makeKey: () => string): ParseResult {
  const d = decodeRequest(raw);
  return d.ok ? solicitudFromObject(d.obj, makeKey) : d;
}

export type DecodeResult = { ok: true; obj: object } | { ok: false; codigo: ErrorCode; mensaje: string };


function defectMessage(d: FrameDefect): string {
  switch (d.kind) {
    case 'missing':
    case 'empty':
      return 'Mensaje vacío';
    case 'too-big':
      return `Mensaje demasiado grande (${d.bytes} bytes; máximo ${MAX_REQUEST_BYTES})`;
    case 'not-utf8':
      return 'El mensaje no es texto UTF-8 válido';
    case 'not-json':
      return 'El mensaje no es JSON válido';
    case 'batch-size': // not a batch codec: never happens
      return 'El mensaje debe ser un objeto JSON';
  }
}

/**
 * The checks every request passes before its operation is known: size, JSON, an object
 * (the one frame reader, frame.ts). `bytes`: the message's real size when `raw` is only
 * its start (the HTTP gateway stops buffering an oversized body), so the refusal names
 * the size that was sent.
 */
export function decodeRequest(raw: Buffer | string, bytes?: number): DecodeResult {
  const [m] = readFrame(raw, { schema: plainObject, maxBytes: MAX_REQUEST_BYTES, bytes });
  if (m?.ok) return { ok: true, obj: m.value };
  const mensaje = m?.defect ? defectMessage(m.defect) : 'El mensaje debe ser un objeto JSON';
  return { ok: false, codigo: 'SOLICITUD_INVALIDA', mensaje };
}

/** The `id` and `clave` of a rejected message that are valid, so its error reply still echoes them. */
export function echoOf(obj: object): { id?: string; clave?: string } {
  return present({ id: salvage(obj, 'id'), clave: salvage(obj, 'clave') });
}

/** "Solicitud inválida en 'a': …" from a schema's first complaint. */
export function describeIssue(error: z.ZodError, input?: unknown): string {
  const issue = error.issues[0];
  const where = issue?.path.length ? issue.path.join('.') : '';
  // A field left out reads as such, not as "se esperaba texto, recibido indefinido".
  const top = issue?.path.length === 1 ? issue.path[0] : undefined;
  if (typeof top === 'string' && input && typeof input === 'object' && !(top in input)) return `Falta el campo '${top}'`;
  const what = issue?.code === 'unrecognized_keys' ? `campos no admitidos: ${(issue as { keys: string[] }).keys.join(', ')}` : issue?.message;
  return `Solicitud inválida${where ? ` en '${where}'` : ''}: ${what}`;
}

/** A library request from a decoded message (decodeRequest). */
export function solicitudFromObject(obj: object, makeKey: () => string): ParseResult {
  const echo = echoOf(obj);
  const parsed = requestShape.safeParse(obj);
  if (!parsed.success) return { ok: false, codigo: 'SOLICITUD_INVALIDA', mensaje: describeIssue(parsed.error, obj), ...echo };
  const { operacion: raw_op, ...fields } = parsed.data;
  const r = present(fields);
  const operacion = normalizeOperacion(raw_op);
  if (!(OPERACIONES as readonly string[]).includes(operacion)) {
    return { ok: false, codigo: 'OPERACION_DESCONOCIDA', mensaje: `Operación desconocida '${raw_op.slice(0, 40)}'; use ${OPERACIONES.join(', ')}`, ...echo };
  }
  const missing = (f: string): ParseResult => ({ ok: false, codigo: 'SOLICITUD_INVALIDA', mensaje: `Falta el campo '${f}' para ${operacion}`, ...echo });
  const clave = r.clave ?? makeKey();
  if (operacion === 'estado') {
    if (!r.id) return missing('id');
    return { ok: true, solicitud: present({ operacion, id: r.id, clave, sede: r.sede }) as Solicitud };
  }
  const { isbn, titulo, ...rest } = r;
  if (!isbn && !titulo) return missing('isbn');
  // An isbn names the book; a titulo only stands in for a missing isbn.
  const libro = isbn ? { isbn } : { titulo };
  if (operacion !== 'consulta' && !r.usuario) return missing('usuario');
  return { ok: true, solicitud: { ...rest, ...libro, operacion, clave } as Solicitud };
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

/** The reply as the client sees it: its own `id` echoed (else the clave), and the request's clave. */
export function labelReply(r: Respuesta, s: { id?: string; clave?: string }): Respuesta {
  const { exito, mensaje, fechaOperacion, datos, codigo } = r;
  return { exito, mensaje, fechaOperacion, datos, id: s.id ?? s.clave ?? r.id, clave: s.clave ?? r.clave, codigo };
}

/**
 * A message body as a JSON string. A string, not a Buffer: zeromq.js sends a Buffer over
 * 128 bytes zero-copy and must then wake the JS thread (uv_async) to release it after the
 * I/O thread wrote it; a string it copies once into the message and frees on any thread.
 */
export function encode(msg: unknown): string {
  return JSON.stringify(msg);
}
