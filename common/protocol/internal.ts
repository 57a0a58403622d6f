/**
 * Messages between the system's own processes (GC, actors, GA). Pure codec,
 * like ps-gc.ts: schemas, types and parsers, no sockets.
 *
 *  storage client (DEALER) ⇄ GA (ROUTER):   one JSON frame each way, correlated by `ref`
 *  GC PUB/XPUB → actor SUB:                 [topic "<tipo>.<actorId>|", JSON Tarea]
 *  actor DEALER → GC backend ROUTER:        one JSON frame (MensajeActor)
 *  calculo actors: the same, with TareaCalculo / `calculado` (calc.ts)
 * Each JSON frame may also be a batch: an array of such messages (frame.ts).
 */
import { z } from './zod.js';
import { OPERACIONES_ACTOR, isbnSchema, opIdSchema, operacionSolicitadaSchema, resultadoSchema, sedeSchema, tituloSchema, type Resultado } from './ps-gc.js';
import { TIPO_CALCULO, resultadoCalculoSchema } from './calc.js';

export { operacionSolicitadaSchema };

// ---------------------------------------------------------------- GA requests
/** A GC's name: unique among the GCs sharing one ledger (it owns leases under it). */
export const gcIdSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/);

/**
 * The lease a GC takes on an async op it records (registrar): it alone publishes the op
 * until the lease runs out; it renews it with `reclamar` while it lives (006_arriendos.sql).
 */
export const arriendoSchema = z.object({ gestor: gcIdSchema, ms: z.number().int().min(100).max(3_600_000) });
export type Arriendo = z.infer<typeof arriendoSchema>;

/** What a GC reports about itself with each `reclamar`; every GC's /status lists the others' reports. Not strict: a newer GC may say more. */
export const informeGcSchema = z.object({
  id: gcIdSchema,
  sede: sedeSchema.optional(),
  /** Where PS reach it, as configured (GC_FRONTEND_BIND). */
  frontend: z.string().max(200).optional(),
  /** Replies sent since it started, and per second over its last report period. */
  atendidas: z.number().int().nonnegative(),
  porSegundo: z.number().nonnegative(),
  /** Tasks it is tracking now (published, queued, waiting for storage). */
  tareas: z.number().int().nonnegative(),
  iniciado: z.string().max(40),
});
export type InformeGc = z.infer<typeof informeGcSchema>;

/**
 * Fencing token: the newest PostgreSQL history a client has had writes acknowledged on —
 * the cluster (`sistema`, pg_control_system().system_identifier, shared by a primary and
 * the standbys cloned from it) and its timeline. A GA whose node is on an older timeline
 * of the same cluster refuses writes carrying it (fencing.ts).
 */
// Not strict, like the messages around it: a later field must not make older peers reject writes.
export const fencingSchema = z.object({ sistema: z.string().regex(/^[0-9]{1,20}$/), timeline: z.number().int().positive() });
export type Fencing = z.infer<typeof fencingSchema>;

export const gaRequestSchema = z.discriminatedUnion('orden', [
  /** Apply a state-changing op once (ledger + rules in one transaction); repeats return the recorded outcome. */
  z.object({ ref: z.string(), orden: z.literal('aplicar'), op: operacionSolicitadaSchema, fencing: fencingSchema.optional() }),
  /** Durably record an op as PENDIENTE (async mode); returns its current outcome (PENDIENTE or final). */
  z.object({ ref: z.string(), orden: z.literal('registrar'), op: operacionSolicitadaSchema, arriendo: arriendoSchema.optional(), fencing: fencingSchema.optional() }),
  /** Availability of one ISBN. */
  z.object({ ref: z.string(), orden: z.literal('consultar'), isbn: isbnSchema }),
  /** Availability of the one book with this title (case and accents ignored): OK, LIBRO_NO_EXISTE or TITULO_AMBIGUO. */
  z.object({ ref: z.string(), orden: z.literal('consultar_titulo'), titulo: tituloSchema }),
  /** State and outcome of one op: by its key, else the latest op with that client label. */
  z.object({ ref: z.string(), orden: z.literal('estado'), id: opIdSchema }),
  /** Ledger rows still PENDIENTE, oldest first (GC resumes them after a restart). */
  z.object({ ref: z.string(), orden: z.literal('pendientes'), limite: z.number().int().positive().max(10000) }),
  /** A GC's heartbeat to the ledger: records its report, renews its leases, claims orphaned PENDIENTE rows, lists them and every GC. */
  z.object({ ref: z.string(), orden: z.literal('reclamar'), gestor: informeGcSchema, arriendoMs: arriendoSchema.shape.ms, limite: z.number().int().positive().max(10000), fencing: fencingSchema.optional() }),
  /** Liveness/role probe. */
  z.object({ ref: z.string(), orden: z.literal('ping') }),
]);
export type GaRequest = z.infer<typeof gaRequestSchema>;
export type GaCommand = GaRequest['orden'];
/** A request before the client stamps its correlation id. */
export type GaCall = GaRequest extends infer R ? (R extends { ref: string } ? Omit<R, 'ref'> : never) : never;

/**
 * GA-level failure codes. Domain outcomes (SIN_EJEMPLARES, …) are NOT failures:
 * they travel as `exito: true` with a Resultado.
 * - GA_NO_ACTIVO: a passive backup; the client tries the next endpoint without
 *   counting a breaker failure.
 * - ALMACENAMIENTO_NO_DISPONIBLE: the GA cannot reach PostgreSQL; counts as a failure.
 *   With `ocupado`, PostgreSQL answered but the write was not taken (its book's row
 *   stayed locked by another transaction, or the GA's write queue is full): nothing
 *   applied, retry later; not a failure of that GA.
 * - SOLICITUD_INVALIDA: the request itself is wrong; retrying cannot help.
 */
export const GA_FAILURE_CODES = ['GA_NO_ACTIVO', 'ALMACENAMIENTO_NO_DISPONIBLE', 'SOLICITUD_INVALIDA', 'ERROR_INTERNO'] as const;
export type GaFailureCode = (typeof GA_FAILURE_CODES)[number];

/** The correlation id of a GA request or reply that failed its schema, if it still has a usable one. */
export function salvageRef(raw: unknown): string | undefined {
  const ref = raw && typeof raw === 'object' ? (raw as { ref?: unknown }).ref : undefined;
  return typeof ref === 'string' && ref.length <= 200 ? ref : undefined;
}

/** `reclamada` (reclamar only): the lease was taken over just now from a GC whose lease ran out. */
/** `edadMs`: how long ago it was recorded, by the database's clock (reclamar; 007_edad_pendientes.sql). */
export const pendienteSchema = z.object({ op: operacionSolicitadaSchema, registrada: z.string(), edadMs: z.number().optional(), intentos: z.number(), reclamada: z.boolean().optional() });
export type Pendiente = z.infer<typeof pendienteSchema>;

/** A GC as the ledger saw it last: its own report and how long ago (by the database's clock). */
export const gestorVistoSchema = z.object({ id: z.string(), informe: informeGcSchema.partial().passthrough(), vistoHaceMs: z.number() });
export type GestorVisto = z.infer<typeof gestorVistoSchema>;

export const gaReplySchema = z.union([
  z.object({ ref: z.string(), exito: z.literal(true), resultado: resultadoSchema.optional(), pendientes: z.array(pendienteSchema).optional(), gestores: z.array(gestorVistoSchema).optional(), rol: z.string().optional(), fencing: fencingSchema.optional() }),
  z.object({ ref: z.string(), exito: z.literal(false), codigo: z.enum(GA_FAILURE_CODES), mensaje: z.string(), incierta: z.literal(true).optional(), ocupado: z.literal(true).optional() }),
]);
export type GaReply =
  /** `fencing`: on a write acknowledged by a GA of a pair, the history it was written on. */
  | { ref: string; exito: true; resultado?: Resultado; pendientes?: Pendiente[]; gestores?: GestorVisto[]; rol?: string; fencing?: Fencing }
  /** `incierta`: a write's connection to PostgreSQL broke mid-statement; it may have committed. `ocupado`: see GA_FAILURE_CODES. */
  | { ref: string; exito: false; codigo: GaFailureCode; mensaje: string; incierta?: true; ocupado?: true };

// ---------------------------------------------------------------- GC ⇄ actors
/** A task published to one actor: the op plus the delivery attempt number. */
export const tareaSchema = operacionSolicitadaSchema.extend({ intento: z.number().int().positive() });
export type Tarea = z.infer<typeof tareaSchema>;

/**
 * Ends every actor topic. SUB filters match prefixes: without an end "prestamo.actor-1" would
 * also receive (and its GC's pipe queue) every task of "prestamo.actor-10" … "actor-19".
 * Actor ids cannot hold it (actorIdSchema).
 */
export const TOPIC_END = '|';

export function topicFor(tipo: string, actorId: string): string {
  return `${tipo}.${actorId}${TOPIC_END}`;
}

export const actorIdSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/);

/** Every actor type: one per library operation, and the actors that compute (calc.ts). */
export const TIPOS_ACTOR = [...OPERACIONES_ACTOR, TIPO_CALCULO] as const;
export type TipoActor = (typeof TIPOS_ACTOR)[number];

export const mensajeActorSchema = z.discriminatedUnion('t', [
  z.object({ t: z.literal('hola'), actorId: actorIdSchema, tipo: z.enum(TIPOS_ACTOR), pid: z.number().int() }),
  z.object({ t: z.literal('latido'), actorId: actorIdSchema, tipo: z.enum(TIPOS_ACTOR), enCurso: z.number().int().nonnegative() }),
  z.object({ t: z.literal('resultado'), actorId: actorIdSchema, tipo: z.enum(OPERACIONES_ACTOR), resultado: resultadoSchema }),
  z.object({ t: z.literal('adios'), actorId: actorIdSchema, tipo: z.enum(TIPOS_ACTOR) }),
  /** A calculo actor's outcome for one calculation task (no ledger, no Resultado envelope). */
  z.object({ t: z.literal('calculado'), actorId: actorIdSchema, tipo: z.literal(TIPO_CALCULO), resultado: resultadoCalculoSchema }),
]);
export type MensajeActor =
  | Exclude<z.infer<typeof mensajeActorSchema>, { t: 'resultado' }>
  | { t: 'resultado'; actorId: string; tipo: (typeof OPERACIONES_ACTOR)[number]; resultado: Resultado };
