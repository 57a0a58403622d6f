/**
 * Request-file lines → requests. Pure: no I/O, so the file mode, the menu and
 * the tests share the same rules.
 *
 *   PRESTAMO <isbn> <usuario>     (also PRÉSTAMO, PRES)
 *   DEVOLUCION <isbn> <usuario>   (also DEVOLUCIÓN, DEVO)
 *   RENOVACION <isbn> <usuario>   (also RENOVACIÓN, RENO)
 *   CONSULTA <isbn>               (also CONS)
 *   ESTADO <id>
 *
 * Case-insensitive; fields separated by spaces, tabs, commas or semicolons (the
 * original clients' files used either); `#` starts a comment; blank lines skip.
 */
import { isbnSchema, normalizeOperacion, opIdSchema, usuarioSchema, type Operacion } from '../common/protocol/ps-gc.js';
import type { NuevaSolicitud } from './types.js';

const ALIAS: Record<string, Operacion> = {
  prestamo: 'prestamo',
  pres: 'prestamo',
  devolucion: 'devolucion',
  devo: 'devolucion',
  renovacion: 'renovacion',
  reno: 'renovacion',
  consulta: 'consulta',
  cons: 'consulta',
  estado: 'estado',
};

export type ParsedLine =
  | { tipo: 'vacia'; linea: number }
  | { tipo: 'solicitud'; linea: number; solicitud: NuevaSolicitud }
  | { tipo: 'error'; linea: number; mensaje: string };

/** Maps a word (any case, with or without accents, long or short form) to an operation. */
export function parseOperacion(word: string): Operacion | undefined {
  return ALIAS[normalizeOperacion(word)];
}

/** A value as an error line shows it: control characters escaped (a binary file must not garble the terminal), cut at 40 with '…'. */
function shown(value: string): string {
  const safe = value.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return safe.length > 40 ? `${safe.slice(0, 40)}…` : safe;
}

function field(schema: typeof isbnSchema, value: string | undefined, name: string): string | { error: string } {
  if (value === undefined) return { error: `falta ${name}` };
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  // The schema's own words say why ("de 1 a 64 caracteres, …").
  const why = r.error.issues[0]?.message ?? '';
  return { error: `${name} no válido '${shown(value)}'${why ? `: ${why}` : ''}` };
}

/** Parses one line; `lineNo` is its 1-based number, returned as `linea` (error messages leave it to the caller to show). */
export function parseLine(text: string, lineNo: number): ParsedLine {
  const uncommented = text.replace(/#.*$/, '').trim();
  if (uncommented === '') return { tipo: 'vacia', linea: lineNo };
  const [word = '', ...args] = uncommented.split(/[\s,;]+/).filter(Boolean);
  const error = (m: string): ParsedLine => ({ tipo: 'error', linea: lineNo, mensaje: m });

  const operacion = parseOperacion(word);
  if (!operacion) {
    return error(`operación desconocida '${shown(word)}' (use PRESTAMO, DEVOLUCION, RENOVACION, CONSULTA o ESTADO)`);
  }
  const expectedArgs = operacion === 'consulta' || operacion === 'estado' ? 1 : 2;
  if (args.length > expectedArgs) {
    return error(`sobran campos tras '${args.slice(0, expectedArgs).join(' ')}' (${operacion} lleva ${expectedArgs === 1 ? 'un campo' : 'isbn y usuario'})`);
  }
  if (operacion === 'estado') {
    const id = field(opIdSchema, args[0], 'id de operación');
    if (typeof id !== 'string') return error(id.error);
    return { tipo: 'solicitud', linea: lineNo, solicitud: { operacion, id } };
  }
  const isbn = field(isbnSchema, args[0], 'isbn');
  if (typeof isbn !== 'string') return error(isbn.error);
  if (operacion === 'consulta') return { tipo: 'solicitud', linea: lineNo, solicitud: { operacion, isbn } };
  const usuario = field(usuarioSchema, args[1], 'usuario');
  if (typeof usuario !== 'string') return error(usuario.error);
  return { tipo: 'solicitud', linea: lineNo, solicitud: { operacion, isbn, usuario } };
}

/** Parses a whole file's text; blank and comment lines are returned as 'vacia'. */
export function parseLines(text: string): ParsedLine[] {
  return text.split(/\r?\n/).map((l, i) => parseLine(l, i + 1));
}
