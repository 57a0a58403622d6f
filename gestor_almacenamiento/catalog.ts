/**
 * Catalog loading from a CSV or JSON file into `libros`, in ONE transaction:
 * any bad entry aborts the whole load and nothing changes.
 *
 * Upsert semantics: new ISBNs are inserted with every copy available; for a
 * known ISBN, a change of `total` moves `disponibles` by the same delta (copies
 * on loan stay on loan), refused if fewer copies would remain than are lent.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type pg from 'pg';
import { z } from '../common/protocol/zod.js';
import { isbnSchema, textoLibre, tituloSchema } from '../common/protocol/ps-gc.js';
import { parseCsv, CsvSyntaxError } from './csv.js';
import { fileErrorReason } from '../common/file-errors.js';

/** Copies of one title in a catalog entry. */
const MAX_EJEMPLARES = 100_000;

export const libroCatalogoSchema = z
  .object({
    isbn: z.string().trim().pipe(isbnSchema),
    titulo: tituloSchema,
    autor: textoLibre('autor', 300),
    // Bounds before int(): 1e20 is "too many", not "not an integer".
    ejemplares: z
      .number({ error: (i) => (i.code === 'invalid_type' ? 'debe ser un número' : undefined) })
      .min(0, 'no puede ser negativo')
      .max(MAX_EJEMPLARES, `como mucho ${MAX_EJEMPLARES}`)
      .int('debe ser un número entero'),
  })
  .strict();
export type LibroCatalogo = z.infer<typeof libroCatalogoSchema>;

export type CatalogFormat = 'csv' | 'json';

export class CatalogError extends Error {
  override name = 'CatalogError';
}

const COLUMNS = ['isbn', 'titulo', 'autor', 'ejemplares'] as const;

function describeIssue(err: z.ZodError): string {
  const i = err.issues[0];
  if (!i) return 'entrada inválida';
  if (i.code === 'unrecognized_keys') return `campos no admitidos: ${i.keys.join(', ')}`;
  const where = i.path.length ? `${i.path.join('.')}: ` : '';
  return `${where}${i.message}`;
}

function validate(raw: unknown, where: string): LibroCatalogo {
  const r = libroCatalogoSchema.safeParse(raw);
  if (!r.success) throw new CatalogError(`${where}: ${describeIssue(r.error)}`);
  return r.data;
}

function parseCsvCatalog(text: string): LibroCatalogo[] {
  let records;
  try {
    records = parseCsv(text);
  } catch (err) {
    if (err instanceof CsvSyntaxError) throw new CatalogError(err.message);
    throw err;
  }
  const [header, ...rows] = records;
  if (!header) throw new CatalogError('el archivo CSV está vacío');
  const names = header.fields.map((f) => f.trim().toLowerCase());
  const problem = headerProblem(names);
  if (problem) throw new CatalogError(`línea ${header.line}: ${problem} (se espera ${COLUMNS.join(',')})`);
  const index = Object.fromEntries(COLUMNS.map((c) => [c, names.indexOf(c)])) as Record<(typeof COLUMNS)[number], number>;
  return rows.map((row) => {
    if (row.fields.length !== names.length) {
      throw new CatalogError(`línea ${row.line}: ${row.fields.length} campos, se esperaban ${names.length}`);
    }
    const ejemplares = csvCount(row.fields[index.ejemplares]!);
    if (typeof ejemplares === 'string') throw new CatalogError(`línea ${row.line}: ${ejemplares}`);
    return validate({ isbn: row.fields[index.isbn], titulo: row.fields[index.titulo], autor: row.fields[index.autor], ejemplares }, `línea ${row.line}`);
  });
}

/**
 * What is wrong with a CSV header, if anything: the same rules as a JSON entry's
 * keys (strict), so a column is never silently ignored nor read twice.
 */
export function headerProblem(names: string[]): string | undefined {
  const unknown = names.filter((n) => !(COLUMNS as readonly string[]).includes(n));
  if (unknown.length) return `columnas no admitidas: ${unknown.map((n) => (n === '' ? '(sin nombre)' : n)).join(', ')}`;
  const repeated = names.filter((n, i) => names.indexOf(n) !== i);
  if (repeated.length) return `columnas repetidas: ${[...new Set(repeated)].join(', ')}`;
  const missing = COLUMNS.filter((c) => !names.includes(c));
  if (missing.length) return `faltan columnas en la cabecera: ${missing.join(', ')}`;
  return undefined;
}

/**
 * A CSV `ejemplares` cell as a count, or why it is not one. Decimal digits only:
 * Number() would also read '0x10' as 16, '1e3' as 1000 and '4.0' as 4.
 */
export function csvCount(cell: string): number | string {
  const t = cell.trim();
  if (t === '') return 'ejemplares vacío';
  if (/^-\d+$/.test(t)) return 'ejemplares no puede ser negativo';
  if (!/^\d+$/.test(t)) return `ejemplares debe ser un número entero escrito con dígitos 0-9, no '${t.slice(0, 20)}'`;
  return Number(t);
}

/** " en la línea L, columna C" from V8's "… at position N" (its message itself is in English). */
function whereInText(text: string, message: string): string {
  const m = /position (\d+)/.exec(message);
  if (!m) return message.includes('Unexpected end') ? ': el texto termina antes de tiempo' : '';
  const before = text.slice(0, Number(m[1]));
  const line = before.split('\n').length;
  return ` en la línea ${line}, columna ${before.length - before.lastIndexOf('\n')}`;
}

function parseJsonCatalog(text: string): LibroCatalogo[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new CatalogError(`JSON inválido${whereInText(text, (err as Error).message)}`);
  }
  if (!Array.isArray(data)) throw new CatalogError('el JSON debe ser un arreglo de libros {isbn, titulo, autor, ejemplares}');
  return data.map((entry, i) => {
    const isbn = entry && typeof entry === 'object' && typeof (entry as { isbn?: unknown }).isbn === 'string' ? ` (isbn ${(entry as { isbn: string }).isbn})` : '';
    // ejemplares must be a real number in JSON, not a string
    if (entry && typeof entry === 'object' && 'ejemplares' in entry && typeof (entry as { ejemplares: unknown }).ejemplares !== 'number') {
      throw new CatalogError(`entrada ${i}${isbn}: ejemplares debe ser un número`);
    }
    return validate(entry, `entrada ${i}${isbn}`);
  });
}

function rejectDuplicates(libros: LibroCatalogo[]): void {
  const seen = new Map<string, number>();
  libros.forEach((l, i) => {
    const prev = seen.get(l.isbn);
    if (prev !== undefined) throw new CatalogError(`ISBN ${l.isbn} repetido (registros ${prev + 1} y ${i + 1})`);
    seen.set(l.isbn, i);
  });
}

export function parseCatalog(text: string, format: CatalogFormat): LibroCatalogo[] {
  const libros = format === 'csv' ? parseCsvCatalog(text) : parseJsonCatalog(text);
  rejectDuplicates(libros);
  return libros;
}

export function detectFormat(file: string, text: string): CatalogFormat {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.json') return 'json';
  if (ext === '.csv') return 'csv';
  return text.trimStart().startsWith('[') ? 'json' : 'csv';
}

/** The file's text; bytes that are not UTF-8 are an error naming their line, not a silent U+FFFD. */
function decodeUtf8(bytes: Uint8Array): string {
  const fatal = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  try {
    return fatal.decode(bytes);
  } catch {
    let line = 1;
    let start = 0;
    for (let i = 0; i <= bytes.length; i++) {
      if (i < bytes.length && bytes[i] !== 0x0a) continue;
      try {
        fatal.decode(bytes.subarray(start, i));
      } catch {
        throw new CatalogError(`línea ${line}: el texto no es UTF-8 válido`);
      }
      line++;
      start = i + 1;
    }
    throw new CatalogError('el texto no es UTF-8 válido');
  }
}

export async function readCatalogFile(file: string): Promise<LibroCatalogo[]> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw new CatalogError(`no se pudo leer ${file}: ${fileErrorReason(err)}`);
  }
  try {
    const text = decodeUtf8(bytes);
    return parseCatalog(text, detectFormat(file, text));
  } catch (err) {
    if (err instanceof CatalogError) throw new CatalogError(`${file}: ${err.message}`);
    throw err;
  }
}

export interface CatalogLoadReport {
  insertados: number;
  actualizados: number;
  sinCambios: number;
}

/** Upserts the books in one transaction; throws CatalogError (nothing changed) if a reduction is impossible. */
export async function loadCatalog(pool: pg.Pool, libros: LibroCatalogo[]): Promise<CatalogLoadReport> {
  // Callers may build the list in code: the same rules as a file, before touching the database.
  libros.forEach((l, i) => validate(l, `registro ${i + 1}`));
  rejectDuplicates(libros);
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    try {
      const isbns = libros.map((l) => l.isbn);
      // Lock the existing rows: a concurrent loan must not slip between the check and the update.
      const existing = await client.query<{ isbn: string; titulo: string; autor: string; total: number; disponibles: number }>(
        'SELECT isbn, titulo, autor, total, disponibles FROM libros WHERE isbn = ANY($1) ORDER BY isbn FOR UPDATE',
        [isbns],
      );
      const byIsbn = new Map(existing.rows.map((r) => [r.isbn, r]));
      const report: CatalogLoadReport = { insertados: 0, actualizados: 0, sinCambios: 0 };
      for (const l of libros) {
        const cur = byIsbn.get(l.isbn);
        if (!cur) {
          report.insertados++;
          continue;
        }
        const lent = cur.total - cur.disponibles;
        if (l.ejemplares < lent) {
          throw new CatalogError(`ISBN ${l.isbn}: no se puede bajar a ${l.ejemplares} ejemplares con ${lent} prestado(s)`);
        }
        if (cur.total === l.ejemplares && cur.titulo === l.titulo && cur.autor === l.autor) report.sinCambios++;
        else report.actualizados++;
      }
      await client.query(
        `INSERT INTO libros (isbn, titulo, autor, total, disponibles)
         SELECT isbn, titulo, autor, total, total FROM unnest($1::text[], $2::text[], $3::text[], $4::int[]) AS n(isbn, titulo, autor, total)
         ON CONFLICT (isbn) DO UPDATE
           SET titulo = EXCLUDED.titulo,
               autor = EXCLUDED.autor,
               total = EXCLUDED.total,
               disponibles = libros.disponibles + (EXCLUDED.total - libros.total)
         WHERE (libros.titulo, libros.autor, libros.total) IS DISTINCT FROM (EXCLUDED.titulo, EXCLUDED.autor, EXCLUDED.total)`,
        [isbns, libros.map((l) => l.titulo), libros.map((l) => l.autor), libros.map((l) => l.ejemplares)],
      );
      await client.query('COMMIT');
      return report;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  } catch (err) {
    if (!(err instanceof CatalogError)) broken = err as Error;
    throw err;
  } finally {
    client.release(broken);
  }
}
