/**
 * `ps menu`: interactive loop. Reads lines through an async iterator rather
 * than rl.question so it behaves the same on a terminal and on piped stdin
 * (tests drive it that way): end of input (Ctrl-D) always ends the loop.
 */
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import type { z } from 'zod';
import { isbnSchema, opIdSchema, tituloSchema, usuarioSchema, type Operacion } from '../common/protocol/ps-gc.js';
import { describeRespuesta } from './format.js';
import { parseOperacion } from './line-parser.js';
import type { GcCaller, NuevaSolicitud } from './types.js';

/** Option 6 names the book by its title (the GA resolves it; several matches are refused TITULO_AMBIGUO). */
const OPTIONS: Array<[string, Operacion, string, 'titulo'?]> = [
  ['1', 'prestamo', 'Préstamo'],
  ['2', 'devolucion', 'Devolución'],
  ['3', 'renovacion', 'Renovación'],
  ['4', 'consulta', 'Consulta de disponibilidad'],
  ['5', 'estado', 'Estado de una operación'],
  ['6', 'prestamo', 'Préstamo por título', 'titulo'],
];
const QUIT_WORDS = new Set(['0', 'q', 'quit', 'salir', 'exit']);

export interface MenuOptions {
  input: Readable;
  output: Writable;
  /** Shown in the banner. */
  endpoint?: string;
}

export async function menu(gc: GcCaller, opts: MenuOptions): Promise<void> {
  const out = opts.output;
  const rl = createInterface({ input: opts.input, terminal: false });
  const lines = rl[Symbol.asyncIterator]();
  const ask = async (p: string): Promise<string | undefined> => {
    out.write(p);
    const { value, done } = await lines.next();
    return done ? undefined : String(value).trim();
  };
  // Remembered between requests so repeating an operation takes fewer keystrokes.
  let lastIsbn: string | undefined;
  let lastUsuario: string | undefined;
  let lastId: string | undefined;
  let lastTitulo: string | undefined;

  /** Asks for a field, offering the last value; undefined on end of input, null on an invalid value. */
  const askField = async (label: string, schema: z.ZodType<string>, previous?: string): Promise<string | undefined | null> => {
    const v = await ask(`${label}${previous ? ` [${previous}]` : ''}: `);
    if (v === undefined) return undefined;
    const value = v === '' ? previous : v;
    const r = schema.safeParse(value ?? '');
    if (!r.success) {
      out.write(`  ${label} no válido${value ? ` '${value}'` : ' (vacío)'}\n`);
      return null;
    }
    return r.data;
  };

  out.write(`Biblioteca — solicitante${opts.endpoint ? ` (GC ${opts.endpoint})` : ''}\n`);
  try {
    for (;;) {
      out.write('\n' + OPTIONS.map(([k, , t]) => `  ${k}) ${t}`).join('\n') + '\n  0) Salir\n');
      const choice = await ask('Opción: ');
      if (choice === undefined || QUIT_WORDS.has(choice.toLowerCase())) break;
      if (choice === '') continue;
      const option = OPTIONS.find(([k]) => k === choice);
      const operacion = option?.[1] ?? parseOperacion(choice);
      const byTitle = option?.[3] === 'titulo';
      if (!operacion) {
        out.write(`  Opción desconocida '${choice}'\n`);
        continue;
      }
      let s: NuevaSolicitud;
      if (operacion === 'estado') {
        const id = await askField('Id de operación', opIdSchema, lastId);
        if (id === undefined) break;
        if (id === null) continue;
        s = { operacion, id };
      } else {
        let libro: { isbn: string } | { titulo: string };
        if (byTitle) {
          const titulo = await askField('Título', tituloSchema, lastTitulo);
          if (titulo === undefined) break;
          if (titulo === null) continue;
          libro = { titulo: (lastTitulo = titulo) };
        } else {
          const isbn = await askField('ISBN', isbnSchema, lastIsbn);
          if (isbn === undefined) break;
          if (isbn === null) continue;
          libro = { isbn: (lastIsbn = isbn) };
        }
        if (operacion === 'consulta') {
          s = { operacion, ...libro };
        } else {
          const usuario = await askField('Usuario', usuarioSchema, lastUsuario);
          if (usuario === undefined) break;
          if (usuario === null) continue;
          lastUsuario = usuario;
          s = { operacion, ...libro, usuario };
        }
      }
      try {
        const r = await gc.send(s);
        // Only state-changing operations have a state to ask about later: by their clave.
        const key = r.clave ?? r.id;
        if (key && operacion !== 'estado' && operacion !== 'consulta') lastId = key;
        out.write(`  ${describeRespuesta(s, r)}\n`);
        if (r.codigo === 'ACEPTADO') out.write(`  (se aplicará en breve; consulte con la opción 5 y el id ${key})\n`);
      } catch (e) {
        out.write(`  Sin respuesta: ${(e as Error).message}\n`);
      }
    }
  } finally {
    rl.close();
  }
  out.write('Hasta luego.\n');
}
