/**
 * `ps menu`: interactive loop. Reads lines through an async iterator rather
 * than rl.question so it behaves the same on a terminal and on piped stdin
 * (tests drive it that way): end of input (Ctrl-D) always ends the loop.
 */
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { isbnSchema, opIdSchema, usuarioSchema, type Operacion } from '../common/protocol.js';
import { describirRespuesta } from './format.js';
import { operacionDe } from './line-parser.js';
import type { GcCaller, NuevaSolicitud } from './types.js';

const OPCIONES: Array<[string, Operacion, string]> = [
  ['1', 'prestamo', 'Préstamo'],
  ['2', 'devolucion', 'Devolución'],
  ['3', 'renovacion', 'Renovación'],
  ['4', 'consulta', 'Consulta de disponibilidad'],
  ['5', 'estado', 'Estado de una operación'],
];
const SALIR = new Set(['0', 'q', 'quit', 'salir', 'exit']);

export interface MenuOptions {
  input: Readable;
  output: Writable;
  /** Shown in the banner. */
  endpoint?: string;
}

export async function menu(gc: GcCaller, opts: MenuOptions): Promise<void> {
  const out = opts.output;
  const rl = createInterface({ input: opts.input, terminal: false });
  const lineas = rl[Symbol.asyncIterator]();
  const preguntar = async (p: string): Promise<string | undefined> => {
    out.write(p);
    const { value, done } = await lineas.next();
    return done ? undefined : String(value).trim();
  };
  // Remembered between requests so repeating an operation takes fewer keystrokes.
  let ultimoIsbn: string | undefined;
  let ultimoUsuario: string | undefined;
  let ultimoId: string | undefined;

  /** Asks for a field, offering the last value; undefined on end of input or an invalid value. */
  const campo = async (nombre: string, schema: typeof isbnSchema, previo?: string): Promise<string | undefined | null> => {
    const v = await preguntar(`${nombre}${previo ? ` [${previo}]` : ''}: `);
    if (v === undefined) return undefined;
    const valor = v === '' ? previo : v;
    const r = schema.safeParse(valor ?? '');
    if (!r.success) {
      out.write(`  ${nombre} no válido${valor ? ` '${valor}'` : ' (vacío)'}\n`);
      return null;
    }
    return r.data;
  };

  out.write(`Biblioteca — solicitante${opts.endpoint ? ` (GC ${opts.endpoint})` : ''}\n`);
  try {
    for (;;) {
      out.write('\n' + OPCIONES.map(([k, , t]) => `  ${k}) ${t}`).join('\n') + '\n  0) Salir\n');
      const eleccion = await preguntar('Opción: ');
      if (eleccion === undefined || SALIR.has(eleccion.toLowerCase())) break;
      if (eleccion === '') continue;
      const operacion = OPCIONES.find(([k]) => k === eleccion)?.[1] ?? operacionDe(eleccion);
      if (!operacion) {
        out.write(`  Opción desconocida '${eleccion}'\n`);
        continue;
      }
      let s: NuevaSolicitud;
      if (operacion === 'estado') {
        const id = await campo('Id de operación', opIdSchema, ultimoId);
        if (id === undefined) break;
        if (id === null) continue;
        s = { operacion, id };
      } else {
        const isbn = await campo('ISBN', isbnSchema, ultimoIsbn);
        if (isbn === undefined) break;
        if (isbn === null) continue;
        ultimoIsbn = isbn;
        if (operacion === 'consulta') {
          s = { operacion, isbn };
        } else {
          const usuario = await campo('Usuario', usuarioSchema, ultimoUsuario);
          if (usuario === undefined) break;
          if (usuario === null) continue;
          ultimoUsuario = usuario;
          s = { operacion, isbn, usuario };
        }
      }
      try {
        const r = await gc.enviar(s);
        // Only state-changing operations have a state to ask about later.
        if (r.id && operacion !== 'estado' && operacion !== 'consulta') ultimoId = r.id;
        out.write(`  ${describirRespuesta(s, r)}\n`);
        if (r.codigo === 'ACEPTADO') out.write(`  (se aplicará en breve; consulte con la opción 5 y el id ${r.id})\n`);
      } catch (e) {
        out.write(`  Sin respuesta: ${(e as Error).message}\n`);
      }
    }
  } finally {
    rl.close();
  }
  out.write('Hasta luego.\n');
}
