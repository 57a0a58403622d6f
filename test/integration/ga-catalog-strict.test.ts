/**
 * The CSV catalog is as strict as the JSON one: unknown or repeated columns,
 * counts that are not plain digits, control characters and bytes that are not
 * UTF-8 are refused with the line named, before anything reaches PostgreSQL,
 * and a file with any bad line loads nothing.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { pino } from 'pino';
import { createPool } from '../../gestor_almacenamiento/db.js';
import { migrate } from '../../gestor_almacenamiento/migrate.js';
import { CatalogError, csvCount, headerProblem, loadCatalog, parseCatalog, readCatalogFile } from '../../gestor_almacenamiento/catalog.js';
import { startTestPostgres, type TestPostgres } from '../harness/postgres.js';

const HEADER = 'isbn,titulo,autor,ejemplares\n';
const csv = (body: string, header = HEADER) => () => parseCatalog(`${header}978-1,Bueno,A,1\n${body}`, 'csv');

describe('CSV header', () => {
  test('an unknown column is named, not ignored', () => {
    expect(() => parseCatalog('isbn,titulo,autor,ejemplares,disponibles\n978-1,T,A,2,99\n', 'csv')).toThrow(/línea 1: columnas no admitidas: disponibles/);
    expect(() => parseCatalog('isbn,titulo,autor,ejemplares,\n978-1,T,A,2,\n', 'csv')).toThrow(/línea 1: columnas no admitidas: \(sin nombre\)/);
  });
  test('a repeated column is named, not read once', () => {
    expect(() => parseCatalog('isbn,titulo,autor,ejemplares,Ejemplares\n978-1,T,A,2,7\n', 'csv')).toThrow(/línea 1: columnas repetidas: ejemplares/);
  });
  test('headerProblem: the rules alone', () => {
    expect(headerProblem(['ejemplares', 'autor', 'titulo', 'isbn'])).toBeUndefined();
    expect(headerProblem(['isbn', 'titulo', 'autor'])).toMatch(/faltan columnas.*ejemplares/);
  });
});

describe('CSV ejemplares', () => {
  test('only decimal digits count', () => {
    expect(csvCount('16')).toBe(16);
    expect(csvCount(' 4 ')).toBe(4);
    expect(csvCount('007')).toBe(7);
    for (const bad of ['0x10', '1e3', '+5', '4.0', '0b1', '1_000', '٣']) expect(csvCount(bad), bad).toMatch(/dígitos/);
    expect(csvCount('-1')).toMatch(/negativo/);
    expect(csvCount('')).toMatch(/vacío/);
  });
  test('a bad count names its line', () => {
    expect(csv('978-2,T,A,0x10\n')).toThrow(/línea 3: ejemplares .*'0x10'/);
    expect(csv('978-2,T,A,1e3\n')).toThrow(/línea 3: ejemplares .*'1e3'/);
    expect(csv('978-2,T,A,100001\n')).toThrow(/línea 3: ejemplares/);
  });
});

describe('control characters', () => {
  test('in a CSV text field: the line is named', () => {
    expect(csv('978-2,T\u0000X,A,1\n')).toThrow(/línea 3: titulo: contiene un carácter de control \(U\+0000\)/);
    expect(csv('978-2,"Dos\nlíneas",A,1\n')).toThrow(/línea 3: titulo: contiene un carácter de control \(U\+000A\)/);
    expect(csv('978-2,T,A\tB,1\n')).toThrow(/línea 3: autor: contiene un carácter de control \(U\+0009\)/);
    expect(csv('978-2,T,A\u0085,1\n')).toThrow(/línea 3: autor/);
  });
  test('in a JSON entry: the entry is named', () => {
    const json = JSON.stringify([{ isbn: '978-1', titulo: 'T', autor: 'A', ejemplares: 1 }, { isbn: '978-2', titulo: 'T\u0000', autor: 'A', ejemplares: 1 }]);
    expect(() => parseCatalog(json, 'json')).toThrow(/entrada 1 \(isbn 978-2\): titulo: contiene un carácter de control/);
    expect(() => parseCatalog('[{"isbn":"978-1","titulo":"T\\ud800","autor":"A","ejemplares":1}]', 'json')).toThrow(/entrada 0.*mal formado/);
  });
  test('accented and other printable text still loads', () => {
    expect(parseCatalog(`${HEADER}978-1,"Cien años, ¿de soledad?",García Márquez — 漢字,3\n`, 'csv')).toEqual([
      { isbn: '978-1', titulo: 'Cien años, ¿de soledad?', autor: 'García Márquez — 漢字', ejemplares: 3 },
    ]);
  });
});

describe('loading into PostgreSQL', () => {
  const log = pino({ level: 'silent' });
  let pgs: TestPostgres;
  let pool: pg.Pool;
  let tmp: string;
  const snapshot = async () => (await pool.query('SELECT isbn, titulo, autor, total, disponibles FROM libros ORDER BY isbn')).rows;
  async function catalogError(p: Promise<unknown>): Promise<string> {
    const err = await p.then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(CatalogError);
    return (err as Error).message;
  }

  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'ga-cat-strict-'));
    pgs = await startTestPostgres();
    pool = createPool(pgs, { max: 3 }, log);
    await migrate(pool, log);
    await loadCatalog(pool, [{ isbn: '978-9-0000-0000-1', titulo: 'Antes', autor: 'A', ejemplares: 2 }]);
  });
  afterAll(async () => {
    await pool?.end().catch(() => undefined);
    await pgs?.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  test('a file with a NUL in a title on line 3 is refused naming line 3, and nothing is loaded', async () => {
    const before = await snapshot();
    const f = path.join(tmp, 'nul.csv');
    await writeFile(f, `${HEADER}978-9-0000-0000-2,Bueno,A,1\n978-9-0000-0000-3,Ma\u0000lo,B,1\n`);
    expect(await catalogError(readCatalogFile(f).then((l) => loadCatalog(pool, l)))).toMatch(/nul\.csv: línea 3: titulo: contiene un carácter de control/);
    expect(await snapshot()).toEqual(before);
  });

  test('bytes that are not UTF-8 are refused naming their line', async () => {
    const f = path.join(tmp, 'latin1.csv');
    await writeFile(f, Buffer.concat([Buffer.from(`${HEADER}978-9-0000-0000-4,Bueno,A,1\n978-9-0000-0000-5,Espa`), Buffer.from([0xf1]), Buffer.from('a,B,1\n')]));
    expect(await catalogError(readCatalogFile(f))).toMatch(/latin1\.csv: línea 3: .*UTF-8/);
  });

  test('loadCatalog given a list built in code applies the same rules before touching the database', async () => {
    const before = await snapshot();
    const msg = await catalogError(
      loadCatalog(pool, [
        { isbn: '978-9-0000-0000-6', titulo: 'Bueno', autor: 'A', ejemplares: 1 },
        { isbn: '978-9-0000-0000-7', titulo: 'Malo\u0000', autor: 'B', ejemplares: 1 },
      ]),
    );
    expect(msg).toMatch(/registro 2: titulo: contiene un carácter de control/);
    expect(await snapshot()).toEqual(before);
  });
});
