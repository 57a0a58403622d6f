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
import { isbnSchema, normalizeOperacion, opIdSchema, usuarioSchema, type Operacion } from '../common/protocol.js';
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

export type LineaParseada =
  | { tipo: 'vacia'; linea: number }
  | { tipo: 'solicitud'; linea: number; solicitud: NuevaSolicitud }
  | { tipo: 'error'; linea: number; mensaje: string };

/** Maps a word (any case, with or without accents, long or short form) to an operation. */
export function operacionDe(palabra: string): Operacion | undefined {
  return ALIAS[normalizeOperacion(palabra)];
}

function campo(schema: typeof isbnSchema, valor: string | undefined, nombre: string): string | { error: string } {
  if (valor === undefined) return { error: `falta ${nombre}` };
  const r = schema.safeParse(valor);
  return r.success ? r.data : { error: `${nombre} no válido '${valor.slice(0, 40)}'` };
}

/** Parses one line; `linea` is its 1-based number, echoed in errors. */
export function parseLinea(texto: string, linea: number): LineaParseada {
  const sinComentario = texto.replace(/#.*$/, '').trim();
  if (sinComentario === '') return { tipo: 'vacia', linea };
  const [palabra = '', ...args] = sinComentario.split(/[\s,;]+/).filter(Boolean);
  const error = (m: string): LineaParseada => ({ tipo: 'error', linea, mensaje: `línea ${linea}: ${m}` });

  const operacion = operacionDe(palabra);
  if (!operacion) {
    return error(`operación desconocida '${palabra.slice(0, 40)}' (use PRESTAMO, DEVOLUCION, RENOVACION, CONSULTA o ESTADO)`);
  }
  const esperados = operacion === 'consulta' || operacion === 'estado' ? 1 : 2;
  if (args.length > esperados) {
    return error(`sobran campos tras '${args.slice(0, esperados).join(' ')}' (${operacion} lleva ${esperados === 1 ? 'un campo' : 'isbn y usuario'})`);
  }
  if (operacion === 'estado') {
    const id = campo(opIdSchema, args[0], 'id de operación');
    if (typeof id !== 'string') return error(id.error);
    return { tipo: 'solicitud', linea, solicitud: { operacion, id } };
  }
  const isbn = campo(isbnSchema, args[0], 'isbn');
  if (typeof isbn !== 'string') return error(isbn.error);
  if (operacion === 'consulta') return { tipo: 'solicitud', linea, solicitud: { operacion, isbn } };
  const usuario = campo(usuarioSchema, args[1], 'usuario');
  if (typeof usuario !== 'string') return error(usuario.error);
  return { tipo: 'solicitud', linea, solicitud: { operacion, isbn, usuario } };
}

/** Parses a whole file's text; blank and comment lines are returned as 'vacia'. */
export function parseLineas(texto: string): LineaParseada[] {
  return texto.split(/\r?\n/).map((l, i) => parseLinea(l, i + 1));
}
