/**
 * Catalog loading (CSV and JSON) into a real PostgreSQL: upsert semantics,
 * validation errors naming the line/entry, and all-or-nothing loads.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { pino } from 'pino';
import { createPool } from '../../gestor_almacenamiento/db.js';
import { migrate } from '../../gestor_almacenamiento/migrate.js';
import { storeTracker } from '../harness/stores.js';
import { CatalogError, loadCatalog, parseCatalog, readCatalogFile } from '../../gestor_almacenamiento/catalog.js';
import { projectRoot } from '../../common/project-root.js';
import { startTestPostgres, type TestPostgres } from '../harness/postgres.js';

const stores = storeTracker();
const createStore = stores.open;

const log = pino({ level: 'silent' });
let pgs: TestPostgres;
let pool: pg.Pool;
let tmp: string;

async function snapshot(): Promise<unknown[]> {
  return (await pool.query('SELECT isbn, titulo, autor, total, disponibles FROM libros ORDER BY isbn')).rows;
}
async function file(name: string, text: string): Promise<string> {
  const f = path.join(tmp, name);
  await writeFile(f, text);
  return f;
}
async function expectCatalogError(p: Promise<unknown>, match: RegExp): Promise<void> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(CatalogError);
  expect((err as Error).message).toMatch(match);
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'ga-cat-'));
  pgs = await startTestPostgres();
  pool = createPool(pgs, { max: 5 }, log);
  await migrate(pool, log);
});
afterAll(async () => {
  await stores.closeAll();
  await pool?.end().catch(() => undefined);
  await pgs?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('parsing', () => {
  test('CSV with quoted fields, commas, escaped quotes, CRLF and a BOM', () => {
    const csv = '\ufeffisbn,titulo,autor,ejemplares\r\n978-1,"Uno, dos y ""tres""",Autora,2\r\n\r\n978-2,Otro,"Pérez, Ana",0\r\n';
    expect(parseCatalog(csv, 'csv')).toEqual([
      { isbn: '978-1', titulo: 'Uno, dos y "tres"', autor: 'Autora', ejemplares: 2 },
      { isbn: '978-2', titulo: 'Otro', autor: 'Pérez, Ana', ejemplares: 0 },
    ]);
  });
  test('CSV columns in any order', () => {
    expect(parseCatalog('ejemplares,autor,titulo,isbn\n3,A,T,978-3\n', 'csv')).toEqual([{ isbn: '978-3', titulo: 'T', autor: 'A', ejemplares: 3 }]);
  });
  test('CSV errors name the line', () => {
    const bad = (body: string) => () => parseCatalog(`isbn,titulo,autor,ejemplares\n978-1,T,A,1\n${body}`, 'csv');
    expect(bad('978-2,T,A,-1\n')).toThrow(/línea 3: .*negativ/);
    expect(bad('978-2,T,A,dos\n')).toThrow(/línea 3: .*número/);
    expect(bad('978-2,T,A\n')).toThrow(/línea 3: 3 campos/);
    expect(bad('978 2,T,A,1\n')).toThrow(/línea 3: isbn/);
    expect(bad('978-2,,A,1\n')).toThrow(/línea 3: .*titulo/);
    expect(bad('978-2,"T sin cerrar,A,1\n')).toThrow(/línea 3: comillas/);
    expect(bad('978-1,Repetido,A,1\n')).toThrow(/978-1 repetido/);
    expect(() => parseCatalog('isbn,titulo,autor\n', 'csv')).toThrow(/línea 1: faltan columnas.*ejemplares/);
  });
  test('JSON array and its errors name the entry', () => {
    expect(parseCatalog('[{"isbn":"978-1","titulo":"T","autor":"A","ejemplares":1}]', 'json')).toHaveLength(1);
    expect(() => parseCatalog('{"isbn":"978-1"}', 'json')).toThrow(/arreglo/);
    expect(() => parseCatalog('[{"isbn":"978-1","titulo":"T","autor":"A","ejemplares":1},{"isbn":"978-2","titulo":"T","autor":"A","ejemplares":"3"}]', 'json')).toThrow(/entrada 1 \(isbn 978-2\): ejemplares/);
    expect(() => parseCatalog('[{"isbn":"978-1","titulo":"T","autor":"A","ejemplares":1,"extra":1}]', 'json')).toThrow(/entrada 0.*extra/);
    expect(() => parseCatalog('[{"isbn":"978-1",', 'json')).toThrow(/JSON inválido en la línea 1, columna \d+/);
    expect(() => parseCatalog('[{"isbn":"978-1",\n "titulo":"T" "autor":"A"}]', 'json')).toThrow('JSON inválido en la línea 2, columna 15');
    // The limit is named as a limit, and the field once, however large the number.
    for (const n of ['100001', '99999999999999999999']) {
      expect(() => parseCatalog(`[{"isbn":"978-1","titulo":"T","autor":"A","ejemplares":${n}}]`, 'json')).toThrow(/^entrada 0 \(isbn 978-1\): ejemplares: como mucho 100000$/);
    }
    expect(() => parseCatalog('isbn,titulo,autor,ejemplares\n978-1,T,A,1.5\n', 'csv')).toThrow(/^línea 2: ejemplares debe ser un número entero escrito con dígitos 0-9, no '1.5'$/);
  });
});

describe('loading', () => {
  test('the demo catalog loads; loading it again changes nothing', async () => {
    const libros = await readCatalogFile(path.join(projectRoot(), 'gestor_almacenamiento', 'catalogo-demo.csv'));
    expect(libros.length).toBeGreaterThanOrEqual(30);
    expect(libros.some((l) => l.ejemplares === 1)).toBe(true);
    expect(libros.some((l) => l.ejemplares === 0)).toBe(true);
    expect(libros.find((l) => l.isbn === '978-84-376-0494-7')?.titulo).toBe('Cien años de soledad');
    const r1 = await loadCatalog(pool, libros);
    expect(r1).toEqual({ insertados: libros.length, actualizados: 0, sinCambios: 0 });
    const before = await snapshot();
    expect(await loadCatalog(pool, libros)).toEqual({ insertados: 0, actualizados: 0, sinCambios: libros.length });
    expect(await snapshot()).toEqual(before);
    const quijote = await pool.query(`SELECT total, disponibles FROM libros WHERE isbn = '978-84-206-7412-4'`);
    expect(quijote.rows[0]).toEqual({ total: 5, disponibles: 5 });
  });

  test('JSON file: upsert moves disponibles by the total delta and keeps loans', async () => {
    await loadCatalog(pool, [{ isbn: '978-1-0000-0001-1', titulo: 'Libro', autor: 'A', ejemplares: 3 }]);
    const store = createStore(pool);
    await store.aplicar({ id: 'cat-1', operacion: 'prestamo', isbn: '978-1-0000-0001-1', usuario: 'u1' });
    await store.aplicar({ id: 'cat-2', operacion: 'prestamo', isbn: '978-1-0000-0001-1', usuario: 'u2' });
    const f = await file('c.json', JSON.stringify([
      { isbn: '978-1-0000-0001-1', titulo: 'Libro (2.ª ed.)', autor: 'A', ejemplares: 5 },
      { isbn: '978-1-0000-0002-8', titulo: 'Nuevo', autor: 'B', ejemplares: 2 },
    ]));
    expect(await loadCatalog(pool, await readCatalogFile(f))).toEqual({ insertados: 1, actualizados: 1, sinCambios: 0 });
    const r = await pool.query(`SELECT isbn, titulo, total, disponibles FROM libros WHERE isbn LIKE '978-1-0000-%' ORDER BY isbn`);
    expect(r.rows).toEqual([
      { isbn: '978-1-0000-0001-1', titulo: 'Libro (2.ª ed.)', total: 5, disponibles: 3 },
      { isbn: '978-1-0000-0002-8', titulo: 'Nuevo', total: 2, disponibles: 2 },
    ]);
    // down to exactly the lent copies is allowed; below is refused and nothing changes
    await loadCatalog(pool, [{ isbn: '978-1-0000-0001-1', titulo: 'Libro (2.ª ed.)', autor: 'A', ejemplares: 2 }]);
    expect((await pool.query(`SELECT total, disponibles FROM libros WHERE isbn = '978-1-0000-0001-1'`)).rows[0]).toEqual({ total: 2, disponibles: 0 });
    const before = await snapshot();
    await expectCatalogError(
      loadCatalog(pool, [
        { isbn: '978-1-0000-0003-5', titulo: 'Otro', autor: 'C', ejemplares: 1 },
        { isbn: '978-1-0000-0001-1', titulo: 'Libro', autor: 'A', ejemplares: 1 },
      ]),
      /978-1-0000-0001-1: no se puede bajar a 1 ejemplares con 2 prestado/,
    );
    expect(await snapshot()).toEqual(before);
  });

  test('a bad file is rejected with the line named and nothing changes', async () => {
    const before = await snapshot();
    const f = await file('malo.csv', 'isbn,titulo,autor,ejemplares\n978-2-0000-0001-1,Bueno,A,1\n978-2-0000-0002-8,Malo,B,x\n');
    await expectCatalogError(readCatalogFile(f).then((l) => loadCatalog(pool, l)), /malo\.csv: línea 3: ejemplares/);
    expect(await snapshot()).toEqual(before);
    await expectCatalogError(readCatalogFile(path.join(tmp, 'no-existe.csv')), /no se pudo leer .*no-existe.csv: no existe \[ENOENT\]/);
  });
});
