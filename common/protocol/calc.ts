/**
 * The calculation operations, on the wire: PS ⇄ GC requests and GC ⇄ `calculo` actor
 * tasks and results. Pure codec like ps-gc.ts: schemas, limits and types, no sockets.
 *
 * Calculations are pure functions of their input: nothing is recorded in the ledger, so
 * the same clave sent again simply computes again (same answer) and `estado` does not
 * know them.
 */
import { z } from './zod.js';
import { LONE_SURROGATE, describeIssue, echoOf, normalizeOperacion, opIdSchema, present, sedeSchema, type ParseResult } from './ps-gc.js';

/** The actor type (and topic prefix) of the actors that compute. */
export const TIPO_CALCULO = 'calculo';

export const OPERACIONES_BINARIAS = ['suma', 'resta', 'multiplicacion', 'division'] as const;
export const OPERACIONES_TEXTO = ['eco', 'mayusculas'] as const;
export const OPERACIONES_CALCULO = [...OPERACIONES_BINARIAS, ...OPERACIONES_TEXTO, 'sumar_lista', 'suma_cuadrados'] as const;
export type OperacionCalculo = (typeof OPERACIONES_CALCULO)[number];

/**
 * Largest `n` of suma_cuadrados. Below 94,906,266 every square is exact in a double, which
 * the actors' loop relies on; at this bound a whole run is ~0.2 s of CPU over all parts.
 */
export const MAX_N_SUMA_CUADRADOS = 50_000_000;
/** `texto` of eco / mayusculas, in UTF-16 code units. */
export const MAX_TEXTO = 1000;
/** `numeros` of sumar_lista (the 16 KiB request limit may bind first). */
export const MAX_NUMEROS = 1000;
/** suma_cuadrados splits over at most this many actors: past it, more parts cost messages, not time. */
export const MAX_PARTES = 64;

/** A message for a value of the wrong type only; bounds keep their own messages. */
const tipo = (mensaje: string) => ({ error: (issue: { code?: string }) => (issue.code === 'invalid_type' ? mensaje : undefined) });
// zod 4's number() refuses Infinity and NaN: JSON.parse turns 1e400 into Infinity.
const numero = z.number(tipo('se espera un número finito'));
const texto = z
  .string(tipo('se espera un texto'))
  .max(MAX_TEXTO, `como mucho ${MAX_TEXTO} caracteres`)
  .refine((t) => !/\p{Cc}/u.test(t), 'contiene un carácter de control')
  .refine((t) => !LONE_SURROGATE.test(t), 'contiene texto UTF-16 mal formado');
const numeros = z.array(numero, tipo('se espera una lista de números')).max(MAX_NUMEROS, `como mucho ${MAX_NUMEROS} números`);
const enteroRango = z
  .number(tipo('se espera un entero'))
  .int('se espera un entero')
  .min(1, 'debe ser al menos 1')
  .max(MAX_N_SUMA_CUADRADOS, `como mucho ${MAX_N_SUMA_CUADRADOS} (límite de suma_cuadrados)`);

const binaria = z.object({ operacion: z.enum(OPERACIONES_BINARIAS), a: numero, b: numero });
const deTexto = z.object({ operacion: z.enum(OPERACIONES_TEXTO), texto });
const lista = z.object({ operacion: z.literal('sumar_lista'), numeros });
const cuadrados = z.object({ operacion: z.literal('suma_cuadrados'), n: enteroRango });

/** What a calculation request asks for, without its envelope (id, clave, sede). */
export const pedidoCalculoSchema = z.discriminatedUnion('operacion', [binaria, deTexto, lista, cuadrados]);
export type PedidoCalculo = z.infer<typeof pedidoCalculoSchema>;

/** A validated calculation request: like a library Solicitud, `clave` always present (the GC makes one). */
export type SolicitudCalculo = PedidoCalculo & { id?: string; clave: string; sede?: string };

/** As it travels: the pedido's fields plus the envelope every request has; `null` means absent there, as in ps-gc.ts. */
const envoltura = { operacion: z.string(), id: opIdSchema.nullish(), clave: opIdSchema.nullish(), sede: sedeSchema.nullish() };
const WIRE: Record<OperacionCalculo, z.ZodType<Record<string, unknown>>> = {
  suma: binaria.extend(envoltura).strict(),
  resta: binaria.extend(envoltura).strict(),
  multiplicacion: binaria.extend(envoltura).strict(),
  division: binaria.extend(envoltura).strict(),
  eco: deTexto.extend(envoltura).strict(),
  mayusculas: deTexto.extend(envoltura).strict(),
  sumar_lista: lista.extend(envoltura).strict(),
  suma_cuadrados: cuadrados.extend(envoltura).strict(),
};

/** The calculation named by a decoded message's `operacion` (case and accents ignored), if it names one. */
export function operacionCalculoDe(obj: object): OperacionCalculo | undefined {
  const op = (obj as { operacion?: unknown }).operacion;
  if (typeof op !== 'string') return undefined;
  const n = normalizeOperacion(op);
  return (OPERACIONES_CALCULO as readonly string[]).includes(n) ? (n as OperacionCalculo) : undefined;
}

export type CalculoParse = Exclude<ParseResult, { ok: true }> | { ok: true; calculo: SolicitudCalculo };

/** A calculation request from a decoded message whose `operacion` is `operacion`. Never throws. */
export function calculoFromObject(obj: object, operacion: OperacionCalculo, makeKey: () => string): CalculoParse {
  const echo = echoOf(obj);
  const parsed = WIRE[operacion].safeParse(obj);
  if (!parsed.success) {
    const campo = parsed.error.issues[0]?.path[0];
    const mensaje = typeof campo === 'string' && !(campo in obj) ? `Falta el campo '${campo}' para ${operacion}` : describeIssue(parsed.error);
    return { ok: false, codigo: 'SOLICITUD_INVALIDA', mensaje, ...echo };
  }
  const { operacion: _raw, id, clave, sede, ...args } = parsed.data;
  const calculo = { ...args, operacion, ...present({ id, sede }), clave: (clave as string | null | undefined) ?? makeKey() } as SolicitudCalculo;
  return { ok: true, calculo };
}

// ------------------------------------------------------------ GC ⇄ calculo actors
/** One part of a suma_cuadrados: the squares of a..b, both included. */
const parteCuadrados = z.object({ operacion: z.literal('suma_cuadrados'), a: enteroRango, b: enteroRango });
/** What an actor computes: a simple calculation as asked, or one part of a suma_cuadrados. */
export const calculoTareaSchema = z.discriminatedUnion('operacion', [binaria, deTexto, lista, parteCuadrados]);
export type CalculoTarea = z.infer<typeof calculoTareaSchema>;
export type CalculoSimple = Exclude<CalculoTarea, { operacion: 'suma_cuadrados' }>;

/** A task id: made by the GC that publishes it (unique there); results are matched by it. */
export const tareaIdSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/);

/** GC PUB → actor SUB on topic "calculo.<actorId>": one task, its publication number. */
export const tareaCalculoSchema = z.object({ id: tareaIdSchema, intento: z.number().int().positive(), calculo: calculoTareaSchema }).strict();
export type TareaCalculo = z.infer<typeof tareaCalculoSchema>;

export const CODIGOS_CALCULO = ['OK', 'DIVISION_POR_CERO', 'FUERA_DE_RANGO', 'SOLICITUD_INVALIDA', 'ERROR_INTERNO'] as const;
export type CodigoCalculo = (typeof CODIGOS_CALCULO)[number];

/**
 * An actor's outcome for one task. `valor`: a number, a text (eco, mayusculas), or the
 * exact decimal digits of a suma_cuadrados part (a BigInt: it outgrows a double).
 */
export const resultadoCalculoSchema = z.object({
  id: tareaIdSchema,
  codigo: z.enum(CODIGOS_CALCULO),
  valor: z.union([z.number(), z.string().max(4 * MAX_TEXTO)]).optional(),
  mensaje: z.string().max(500).optional(),
});
export type ResultadoCalculo = z.infer<typeof resultadoCalculoSchema>;
