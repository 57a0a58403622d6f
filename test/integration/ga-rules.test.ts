/**
 * The library's rules, called through the GA's store module against a real
 * PostgreSQL (no mocks): loans, renewals, returns, the ledger's at-most-once
 * semantics and the stock invariant under concurrency.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import pg from 'pg';
import { pino } from 'pino';
import { resultadoSchema, type OperacionSolicitada, type Resultado } from '../../common/protocol/ps-gc.js';
import { pendienteSchema } from '../../common/protocol/internal.js';
import { createPool } from '../../gestor_almacenamiento/db.js';
import { effectLedgerMismatches, loanOpMismatches } from '../../gestor_almacenamiento/consistency.js';
import { migrate } from '../../gestor_almacenamiento/migrate.js';
import type { Store } from '../../gestor_almacenamiento/store.js';
import { WriteQueueFullError } from '../../gestor_almacenamiento/write-batcher.js';
import { storeTracker } from '../harness/stores.js';
import { startTestPostgres, type TestPostgres } from '../harness/postgres.js';

const stores = storeTracker();
const createStore = stores.open;

const log = pino({ level: 'silent' });
const DAY = 86_400_000;
let pgs: TestPostgres;
let pool: pg.Pool;
let store: Store;
let seq = 0;
const nextId = (p = 'op') => `${p}-${++seq}`;

async function addBook(isbn: string, total: number, disponibles = total): Promise<void> {
  await pool.query('INSERT INTO libros (isbn, titulo, autor, total, disponibles) VALUES ($1, $2, $3, $4, $5)', [isbn, `Título ${isbn}`, 'Autor', total, disponibles]);
}
async function stock(isbn: string): Promise<{ total: number; disponibles: number; activos: number }> {
  const r = await pool.query(
    `SELECT l.total, l.disponibles, (SELECT count(*)::int FROM prestamos p WHERE p.isbn = l.isbn AND p.estado = 'ACTIVO') AS activos FROM libros l WHERE isbn = $1`,
    [isbn],
  );
  return r.rows[0];
}
const op = (operacion: OperacionSolicitada['operacion'], isbn: string, usuario: string, id = nextId()): OperacionSolicitada => ({ operacion, isbn, usuario, id });
function valid(r: Resultado): Resultado {
  expect(resultadoSchema.safeParse(r).success, JSON.stringify(r)).toBe(true);
  expect(new Date(r.fechaOperacion).toISOString()).toBe(r.fechaOperacion);
  return r;
}

beforeAll(async () => {
  pgs = await startTestPostgres();
  pool = createPool(pgs, { max: 25 }, log);
  await migrate(pool, log);
  store = createStore(pool);
});
afterAll(async () => {
  await stores.closeAll();
  await pool?.end().catch(() => undefined);
  await pgs?.stop();
});

describe('migrations', () => {
  test('a second run applies nothing', async () => {
    expect(await migrate(pool, log)).toEqual([]);
  });
  test('two concurrent runs on a fresh database apply each file once', async () => {
    await pool.query('CREATE DATABASE mig_concurrente');
    const p2 = createPool({ ...pgs, database: 'mig_concurrente' }, { max: 4 }, log);
    try {
      const [a, b] = await Promise.all([migrate(p2, log), migrate(p2, log)]);
      expect([...a, ...b].sort()).toEqual(a.length ? a.slice().sort() : b.slice().sort());
      expect(a.length + b.length).toBeGreaterThan(0);
      const r = await p2.query('SELECT count(*)::int AS n FROM schema_migrations');
      expect(r.rows[0].n).toBe(a.length + b.length);
    } finally {
      await p2.end();
    }
  });
});

describe('préstamo', () => {
  test('approved: due date = now + 14 days, one copy fewer', async () => {
    await addBook('978-84-0000-001-1', 3);
    const r = valid(await store.aplicar(op('prestamo', '978-84-0000-001-1', 'ana')));
    expect(r).toMatchObject({ estado: 'COMPLETADA', exito: true, codigo: 'APROBADO', operacion: 'prestamo' });
    expect(r.datos).toMatchObject({ isbn: '978-84-0000-001-1', usuario: 'ana', disponibles: 2 });
    const due = Date.parse(r.datos.fechaDevolucion as string);
    expect(due - Date.parse(r.fechaOperacion)).toBe(14 * DAY);
    expect(Math.abs(due - (Date.now() + 14 * DAY))).toBeLessThan(60_000);
    expect(await stock('978-84-0000-001-1')).toEqual({ total: 3, disponibles: 2, activos: 1 });
  });
  test('refused with 0 copies', async () => {
    await addBook('978-84-0000-002-8', 1, 0);
    await pool.query(`INSERT INTO prestamos (isbn, usuario, fecha_prestamo, fecha_devolucion_prevista) VALUES ('978-84-0000-002-8', 'otro', now(), now())`);
    const r = valid(await store.aplicar(op('prestamo', '978-84-0000-002-8', 'ana')));
    expect(r).toMatchObject({ estado: 'RECHAZADA', exito: false, codigo: 'SIN_EJEMPLARES' });
    expect((await stock('978-84-0000-002-8')).disponibles).toBe(0);
  });
  test('a second active loan of the same ISBN by the same user is refused', async () => {
    await addBook('978-84-0000-003-5', 5);
    expect((await store.aplicar(op('prestamo', '978-84-0000-003-5', 'bea'))).codigo).toBe('APROBADO');
    const r = valid(await store.aplicar(op('prestamo', '978-84-0000-003-5', 'bea')));
    expect(r).toMatchObject({ estado: 'RECHAZADA', codigo: 'PRESTAMO_ACTIVO' });
    expect(await stock('978-84-0000-003-5')).toEqual({ total: 5, disponibles: 4, activos: 1 });
  });
  test('unknown ISBN', async () => {
    const r = valid(await store.aplicar(op('prestamo', '978-00-0000-000-0', 'ana')));
    expect(r).toMatchObject({ estado: 'RECHAZADA', codigo: 'LIBRO_NO_EXISTE', exito: false });
  });
  test('20 concurrent loans of a 1-copy book: exactly one approved', async () => {
    await addBook('978-84-0000-004-2', 1);
    const rs = await Promise.all(Array.from({ length: 20 }, (_, i) => store.aplicar(op('prestamo', '978-84-0000-004-2', `u${i}`))));
    expect(rs.filter((r) => r.codigo === 'APROBADO')).toHaveLength(1);
    expect(rs.filter((r) => r.codigo === 'SIN_EJEMPLARES')).toHaveLength(19);
    expect(await stock('978-84-0000-004-2')).toEqual({ total: 1, disponibles: 0, activos: 1 });
  });
});

describe('renovación', () => {
  test('two renewals move the due date +7 days each; the third is refused', async () => {
    await addBook('978-84-0000-005-9', 2);
    const p = await store.aplicar(op('prestamo', '978-84-0000-005-9', 'carla'));
    let due = Date.parse(p.datos.fechaDevolucion as string);
    for (let n = 1; n <= 2; n++) {
      const r = valid(await store.aplicar(op('renovacion', '978-84-0000-005-9', 'carla')));
      expect(r).toMatchObject({ estado: 'COMPLETADA', codigo: 'APROBADO', datos: { renovaciones: n } });
      const next = Date.parse(r.datos.fechaDevolucion as string);
      expect(next - due).toBe(7 * DAY);
      due = next;
    }
    const r3 = valid(await store.aplicar(op('renovacion', '978-84-0000-005-9', 'carla')));
    expect(r3).toMatchObject({ estado: 'RECHAZADA', codigo: 'LIMITE_RENOVACIONES', datos: { renovaciones: 2 } });
    expect(Date.parse(r3.datos.fechaDevolucion as string)).toBe(due);
  });
  test('without an active loan', async () => {
    await addBook('978-84-0000-006-6', 2);
    const r = valid(await store.aplicar(op('renovacion', '978-84-0000-006-6', 'dario')));
    expect(r).toMatchObject({ estado: 'RECHAZADA', codigo: 'PRESTAMO_NO_ENCONTRADO' });
  });
});

describe('devolución', () => {
  test('without a loan: RECHAZADA and stock unchanged', async () => {
    await addBook('978-84-0000-007-3', 2);
    await store.aplicar(op('prestamo', '978-84-0000-007-3', 'otro'));
    const r = valid(await store.aplicar(op('devolucion', '978-84-0000-007-3', 'eva')));
    expect(r).toMatchObject({ estado: 'RECHAZADA', codigo: 'PRESTAMO_NO_ENCONTRADO', exito: false });
    expect((await stock('978-84-0000-007-3')).disponibles).toBe(1);
  });
  test('returns the copy and allows a new loan', async () => {
    await addBook('978-84-0000-008-0', 1);
    await store.aplicar(op('prestamo', '978-84-0000-008-0', 'fede'));
    const r = valid(await store.aplicar(op('devolucion', '978-84-0000-008-0', 'fede')));
    expect(r).toMatchObject({ estado: 'COMPLETADA', codigo: 'APROBADO', datos: { disponibles: 1, atrasada: false } });
    expect(await stock('978-84-0000-008-0')).toEqual({ total: 1, disponibles: 1, activos: 0 });
    expect((await store.aplicar(op('prestamo', '978-84-0000-008-0', 'fede'))).codigo).toBe('APROBADO');
  });
});

describe('ledger', () => {
  test('the same op id twice: one effect, identical resultado', async () => {
    await addBook('978-84-0000-009-7', 3);
    const o = op('prestamo', '978-84-0000-009-7', 'gabi');
    const a = await store.aplicar(o);
    const b = await store.aplicar(o);
    expect(b).toEqual(a);
    expect(await stock('978-84-0000-009-7')).toEqual({ total: 3, disponibles: 2, activos: 1 });
  });
  test('the same op id concurrently: one effect', async () => {
    await addBook('978-84-0000-010-3', 3);
    const o = op('prestamo', '978-84-0000-010-3', 'hugo');
    const rs = await Promise.all(Array.from({ length: 10 }, () => store.aplicar(o)));
    for (const r of rs) expect(r).toEqual(rs[0]);
    expect(rs[0]!.codigo).toBe('APROBADO');
    expect(await stock('978-84-0000-010-3')).toEqual({ total: 3, disponibles: 2, activos: 1 });
  });
  test('a reused id with another payload: ID_REUTILIZADO, nothing changes', async () => {
    await addBook('978-84-0000-011-0', 3);
    const o = op('prestamo', '978-84-0000-011-0', 'ines');
    const first = await store.aplicar(o);
    const r = valid(await store.aplicar({ ...o, usuario: 'otra' }));
    expect(r).toMatchObject({ id: o.id, estado: 'RECHAZADA', codigo: 'ID_REUTILIZADO', exito: false });
    const r2 = await store.aplicar({ ...o, operacion: 'devolucion' });
    expect(r2.codigo).toBe('ID_REUTILIZADO');
    expect((await store.registrar({ ...o, isbn: '978-84-0000-001-1' })).codigo).toBe('ID_REUTILIZADO');
    expect(await store.aplicar(o)).toEqual(first);
    expect(await stock('978-84-0000-011-0')).toEqual({ total: 3, disponibles: 2, activos: 1 });
    const e = await store.estado(o.id);
    expect(e.datos.resultado).toEqual(first);
  });
  test('one id reused on two books at once: the second transaction is aborted whole, then refused ID_REUTILIZADO', async () => {
    // A new op's row is written once, after its rule (008): the book lock keeps two
    // transactions of one id on one book apart, but not on two books. Force that race.
    const [libroA, libroB] = ['978-84-0000-041-7', '978-84-0000-042-4'];
    await addBook(libroA, 2);
    await addBook(libroB, 2);
    const id = nextId('carrera');
    const lote = (isbn: string) => [JSON.stringify([{ cmd: 'aplicar', id, operacion: 'prestamo', isbn, usuario: 'rita' }]), true, 300];
    const [t1, t2] = [await pool.connect(), await pool.connect()];
    try {
      await t1.query('BEGIN');
      const [primero] = (await t1.query('SELECT aplicar_lote($1::jsonb, $2, $3) AS r', lote(libroA))).rows[0].r;
      expect(primero.codigo).toBe('APROBADO');
      // t2 finds no row (t1 has not committed), lends book B, then waits on t1's row.
      const segundo = t2.query('SELECT aplicar_lote($1::jsonb, $2, $3) AS r', lote(libroB)).then(
        () => 'sin error',
        (err: { code?: string }) => err.code,
      );
      await new Promise((r) => setTimeout(r, 100));
      await t1.query('COMMIT');
      expect(await segundo).toBe('40001');
      const [otra] = (await t2.query('SELECT aplicar_lote($1::jsonb, $2, $3) AS r', lote(libroB))).rows[0].r;
      expect(otra).toMatchObject({ id, codigo: 'ID_REUTILIZADO', estado: 'RECHAZADA' });
    } finally {
      await t1.query('ROLLBACK').catch(() => undefined);
      t1.release();
      t2.release();
    }
    expect(await stock(libroA)).toEqual({ total: 2, disponibles: 1, activos: 1 });
    expect(await stock(libroB)).toEqual({ total: 2, disponibles: 2, activos: 0 });
  });
  test('one id reused on two books by two GAs at once, many times: one effect each, the other refused', async () => {
    const [libroA, libroB] = ['978-84-0000-043-1', '978-84-0000-044-8'];
    await addBook(libroA, 50);
    await addBook(libroB, 50);
    const [s1, s2] = [createStore(pool), createStore(pool)];
    for (let i = 0; i < 20; i++) {
      const id = nextId('carrera');
      const rs = await Promise.all([s1.aplicar(op('prestamo', libroA, `u${i}`, id)), s2.aplicar(op('prestamo', libroB, `u${i}`, id))]);
      expect(rs.map((r) => r.codigo).sort()).toEqual(['APROBADO', 'ID_REUTILIZADO']);
    }
    const [a, b] = [await stock(libroA), await stock(libroB)];
    expect(a.activos + b.activos).toBe(20);
    expect([a.total - a.disponibles, b.total - b.disponibles]).toEqual([a.activos, b.activos]);
  });
  test('registrar then aplicar: PENDIENTE -> COMPLETADA', async () => {
    await addBook('978-84-0000-012-7', 2);
    await store.aplicar(op('prestamo', '978-84-0000-012-7', 'juan'));
    const o = op('devolucion', '978-84-0000-012-7', 'juan');
    const reg = valid(await store.registrar({ ...o, sede: 'Sede Norte' }));
    expect(reg).toMatchObject({ id: o.id, estado: 'PENDIENTE', exito: true, codigo: 'ACEPTADO', datos: { estado: 'PENDIENTE', operacion: 'devolucion' } });
    expect((await store.registrar(o)).codigo).toBe('ACEPTADO');
    expect((await store.estado(o.id)).datos).toMatchObject({ estado: 'PENDIENTE', operacion: 'devolucion', sede: 'Sede Norte', resultado: null });
    const pend = await store.pendientes(10_000);
    const mine = pend.find((p) => p.op.id === o.id);
    expect(mine).toBeDefined();
    expect(pendienteSchema.safeParse(mine).success).toBe(true);
    expect(mine!.op).toEqual({ ...o, sede: 'Sede Norte' });
    const applied = valid(await store.aplicar(o));
    expect(applied).toMatchObject({ estado: 'COMPLETADA', codigo: 'APROBADO' });
    expect(await store.registrar(o)).toEqual(applied);
    const e = valid(await store.estado(o.id));
    expect(e).toMatchObject({ codigo: 'OK', exito: true, datos: { estado: 'COMPLETADA', operacion: 'devolucion', isbn: o.isbn, usuario: 'juan', resultado: applied } });
    expect((await store.pendientes(10_000)).some((p) => p.op.id === o.id)).toBe(false);
  });
  test('pendientes are listed oldest first, up to the limit', async () => {
    const ids = [nextId('pend'), nextId('pend'), nextId('pend')];
    // A loan to act on: without one a devolución is refused at registration.
    expect((await store.aplicar(op('prestamo', '978-84-0000-001-1', 'zoe'))).codigo).toBe('APROBADO');
    for (const id of ids) await store.registrar({ operacion: 'devolucion', isbn: '978-84-0000-001-1', usuario: 'zoe', id });
    const all = (await store.pendientes(10_000)).map((p) => p.op.id);
    expect(all.filter((id) => ids.includes(id))).toEqual(ids);
    expect(await store.pendientes(1)).toHaveLength(1);
  });
  test('estado of an unknown id', async () => {
    const r = valid(await store.estado('no-existe-1'));
    expect(r).toMatchObject({ codigo: 'OPERACION_NO_ENCONTRADA', exito: false, id: 'no-existe-1' });
  });
});

describe('async registration of an op that can only be refused', () => {
  test('a devolución with no active loan and no préstamo on its way: RECHAZADA at once, recorded, nothing pending', async () => {
    await addBook('978-84-0000-020-2', 2);
    const o = op('devolucion', '978-84-0000-020-2', 'sin-prestamo');
    const r = valid(await store.registrar(o));
    expect(r).toMatchObject({ id: o.id, estado: 'RECHAZADA', exito: false, codigo: 'PRESTAMO_NO_ENCONTRADO' });
    expect(await store.registrar(o)).toEqual(r); // the same clave again: the recorded outcome
    expect((await store.estado(o.id)).datos).toMatchObject({ estado: 'RECHAZADA', resultado: r });
    expect((await store.pendientes(10_000)).some((p) => p.op.id === o.id)).toBe(false);
    expect(await stock('978-84-0000-020-2')).toEqual({ total: 2, disponibles: 2, activos: 0 });
    // A renovación without a loan alike; an unknown book too.
    expect((await store.registrar(op('renovacion', '978-84-0000-020-2', 'sin-prestamo'))).codigo).toBe('PRESTAMO_NO_ENCONTRADO');
    expect((await store.registrar(op('devolucion', '978-00-0000-404-0', 'nadie'))).codigo).toBe('PRESTAMO_NO_ENCONTRADO');
  });
  test('with an active loan, or a préstamo of it still pending (async préstamo), it is accepted', async () => {
    await addBook('978-84-0000-021-9', 2);
    await store.aplicar(op('prestamo', '978-84-0000-021-9', 'con'));
    expect((await store.registrar(op('devolucion', '978-84-0000-021-9', 'con'))).codigo).toBe('ACEPTADO');
    const loan = op('prestamo', '978-84-0000-021-9', 'en-camino');
    expect((await store.registrar(loan)).codigo).toBe('ACEPTADO');
    const dev = op('devolucion', '978-84-0000-021-9', 'en-camino');
    expect((await store.registrar(dev)).codigo).toBe('ACEPTADO');
    // Applied in order, both complete.
    expect((await store.aplicar(loan)).codigo).toBe('APROBADO');
    expect((await store.aplicar(dev)).codigo).toBe('APROBADO');
  });
  test('applied before the préstamo it was accepted on, a devolución is not applied yet: it waits, and then completes', async () => {
    await addBook('978-84-0000-061-5', 2);
    const loan = op('prestamo', '978-84-0000-061-5', 'desorden');
    const dev = op('devolucion', '978-84-0000-061-5', 'desorden');
    const ren = op('renovacion', '978-84-0000-061-5', 'desorden');
    for (const o of [loan, dev, ren]) expect((await store.registrar(o)).codigo).toBe('ACEPTADO');
    // Their actors run first: "not applied" (the GC publishes them again), nothing changes, rows still pending.
    for (const o of [ren, dev]) {
      const early = valid(await store.aplicar(o));
      expect(early).toMatchObject({ codigo: 'ALMACENAMIENTO_NO_DISPONIBLE', exito: false });
      expect(early.estado).toBeUndefined();
      expect((await store.estado(o.id)).datos).toMatchObject({ estado: 'PENDIENTE' });
    }
    expect(await stock('978-84-0000-061-5')).toEqual({ total: 2, disponibles: 2, activos: 0 });
    expect((await store.aplicar(loan)).codigo).toBe('APROBADO');
    expect((await store.aplicar(ren)).codigo).toBe('APROBADO');
    expect((await store.aplicar(dev)).codigo).toBe('APROBADO');
    expect(await stock('978-84-0000-061-5')).toEqual({ total: 2, disponibles: 2, activos: 0 });
    // Sent synchronously, a devolución is judged on the loans as they are: no waiting.
    const loan2 = op('prestamo', '978-84-0000-061-5', 'sync');
    expect((await store.registrar(loan2)).codigo).toBe('ACEPTADO');
    expect((await store.aplicar(op('devolucion', '978-84-0000-061-5', 'sync'))).codigo).toBe('PRESTAMO_NO_ENCONTRADO');
  });
});

describe('client labels (etiqueta) and estado', () => {
  test('estado by a label answers the latest op sent with it; a clave always names its own op', async () => {
    await addBook('978-84-0000-022-6', 2);
    const label = '978-84-0000-022-6_lara';
    const a = { ...op('prestamo', '978-84-0000-022-6', 'lara'), etiqueta: label };
    const b = { ...op('renovacion', '978-84-0000-022-6', 'lara'), etiqueta: label };
    expect((await store.aplicar(a)).codigo).toBe('APROBADO');
    expect((await store.aplicar(b)).codigo).toBe('APROBADO');
    const e = valid(await store.estado(label));
    expect(e).toMatchObject({ codigo: 'OK', id: b.id, datos: { clave: b.id, etiqueta: label, operacion: 'renovacion', estado: 'COMPLETADA' } });
    expect((await store.estado(a.id)).datos).toMatchObject({ clave: a.id, etiqueta: label, operacion: 'prestamo' });
    // A label equal to another op's clave: the clave wins.
    const c = { ...op('devolucion', '978-84-0000-022-6', 'lara'), etiqueta: a.id };
    expect((await store.aplicar(c)).codigo).toBe('APROBADO');
    expect((await store.estado(a.id)).datos).toMatchObject({ clave: a.id, operacion: 'prestamo' });
    const row = await pool.query('SELECT etiqueta FROM operaciones WHERE id = $1', [b.id]);
    expect(row.rows[0].etiqueta).toBe(label);
  });
  test('a pending op keeps its label through listar_pendientes (a restarted GC resumes it with it)', async () => {
    await addBook('978-84-0000-023-3', 1);
    await store.aplicar(op('prestamo', '978-84-0000-023-3', 'pepa'));
    const o = { ...op('devolucion', '978-84-0000-023-3', 'pepa'), etiqueta: 'mi-etiqueta' };
    expect((await store.registrar(o)).codigo).toBe('ACEPTADO');
    const mine = (await store.pendientes(10_000)).find((p) => p.op.id === o.id);
    expect(mine?.op).toEqual(o);
    expect(pendienteSchema.safeParse(mine).success).toBe(true);
  });
});

describe('consulta by title', () => {
  test('exact title, case, accents and runs of blanks ignored', async () => {
    await pool.query(`INSERT INTO libros (isbn, titulo, autor, total, disponibles) VALUES ('978-84-0000-030-1', 'El Ñandú Árbol', 'A', 3, 3)`);
    for (const t of ['El Ñandú Árbol', 'el ñandu arbol', '  EL   NANDU   ÁRBOL ', 'EL ÑANDÚ ÁRBOL']) {
      expect(valid(await store.consultarTitulo(t)), t).toMatchObject({ codigo: 'OK', exito: true, datos: { isbn: '978-84-0000-030-1', titulo: 'El Ñandú Árbol', disponibles: 3 } });
    }
    // Exact: a part of the title, or more than it, is no match.
    for (const t of ['El Ñandú', 'El Ñandú Árbol Grande']) {
      expect(valid(await store.consultarTitulo(t)), t).toMatchObject({ codigo: 'LIBRO_NO_EXISTE', exito: false, datos: { titulo: t } });
    }
  });
  test('several books with that title: TITULO_AMBIGUO with the candidates', async () => {
    await pool.query(`INSERT INTO libros (isbn, titulo, autor, total, disponibles) VALUES
      ('978-84-0000-031-8', 'Poesía', 'Uno', 1, 1), ('978-84-0000-032-5', 'POESIA', 'Otro', 1, 1)`);
    const r = valid(await store.consultarTitulo('poesía'));
    expect(r).toMatchObject({ codigo: 'TITULO_AMBIGUO', exito: false });
    expect((r.datos.candidatos as Array<{ isbn: string }>).map((c) => c.isbn)).toEqual(['978-84-0000-031-8', '978-84-0000-032-5']);
    expect(r.mensaje).toContain('indique el ISBN');
  });
});

describe('consulta', () => {
  test('availability of a book', async () => {
    await addBook('978-84-0000-013-4', 4);
    await store.aplicar(op('prestamo', '978-84-0000-013-4', 'kike'));
    const r = valid(await store.consultar('978-84-0000-013-4'));
    expect(r).toMatchObject({ codigo: 'OK', exito: true, datos: { isbn: '978-84-0000-013-4', titulo: 'Título 978-84-0000-013-4', total: 4, disponibles: 3, prestados: 1 } });
    expect(r.estado).toBeUndefined();
  });
  test('unknown book', async () => {
    expect(valid(await store.consultar('978-99-9999-999-9'))).toMatchObject({ codigo: 'LIBRO_NO_EXISTE', exito: false });
  });
});

test('invariant holds after a concurrent mixed burst', async () => {
  const isbns = ['978-84-1111-001-0', '978-84-1111-002-7', '978-84-1111-003-4'];
  for (const [i, isbn] of isbns.entries()) await addBook(isbn, i + 1);
  const kinds = ['prestamo', 'prestamo', 'renovacion', 'devolucion'] as const;
  const ops: OperacionSolicitada[] = [];
  for (let i = 0; i < 600; i++) ops.push(op(kinds[i % 4]!, isbns[i % 3]!, `m${i % 7}`));
  // a few repeats of the same ids, as at-least-once delivery would send
  ops.push(...ops.slice(0, 50));
  const rs = await Promise.all(ops.map((o) => store.aplicar(o)));
  expect(rs.every((r) => resultadoSchema.safeParse(r).success)).toBe(true);
  const bad = await pool.query(
    `SELECT l.isbn FROM libros l
      WHERE l.disponibles + (SELECT count(*) FROM prestamos p WHERE p.isbn = l.isbn AND p.estado = 'ACTIVO') <> l.total
         OR l.disponibles < 0 OR l.disponibles > l.total`,
  );
  expect(bad.rows).toEqual([]);
  const effects = await pool.query(`SELECT count(*)::int AS n FROM prestamos WHERE isbn = ANY($1)`, [isbns]);
  const approvedLoans = new Set(rs.filter((r) => r.operacion === 'prestamo' && r.codigo === 'APROBADO').map((r) => r.id));
  expect(effects.rows[0].n).toBe(approvedLoans.size);
});

describe('group commit (aplicar_lote)', () => {
  const deadlocks = async () => (await pool.query('SELECT deadlocks::int AS n FROM pg_stat_database WHERE datname = current_database()')).rows[0].n as number;

  test('concurrent writes share transactions, and each caller gets its own outcome', async () => {
    const isbns = ['978-84-2222-001-0', '978-84-2222-002-0', '978-84-2222-003-0'];
    for (const isbn of isbns) await addBook(isbn, 5);
    const sizes: number[] = [];
    const batched = createStore(pool, { onBatch: (n) => sizes.push(n) });
    const ops = Array.from({ length: 30 }, (_, i) => op('prestamo', isbns[i % 3]!, `lote-${i}`));
    const rs = await Promise.all(ops.map((o) => batched.aplicar(o)));
    expect(Math.max(...sizes)).toBeGreaterThan(1);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(30);
    rs.forEach((r, i) => {
      valid(r);
      expect(r.id).toBe(ops[i]!.id);
      expect(r.datos).toMatchObject({ isbn: ops[i]!.isbn, usuario: ops[i]!.usuario });
    });
    for (const isbn of isbns) {
      expect(rs.filter((r) => r.datos.isbn === isbn && r.codigo === 'APROBADO')).toHaveLength(5);
      expect(await stock(isbn)).toEqual({ total: 5, disponibles: 0, activos: 5 });
    }
  });

  test('an op that makes its batch fail fails alone; the rest of the batch is applied once', async () => {
    await addBook('978-84-2222-004-0', 10);
    const batched = createStore(pool);
    const blocker = batched.aplicar(op('prestamo', '978-84-2222-004-0', 'bloqueo'));
    const good = [op('prestamo', '978-84-2222-004-0', 'p1'), op('prestamo', '978-84-2222-004-0', 'p2')];
    // Not a valid operation: the ledger's CHECK constraint raises inside the batch's transaction.
    const poisoned = { ...op('prestamo', '978-84-2222-004-0', 'p3'), operacion: 'quemar' } as unknown as OperacionSolicitada;
    const [b, g1, bad, g2] = await Promise.allSettled([blocker, batched.aplicar(good[0]!), batched.aplicar(poisoned), batched.aplicar(good[1]!)]);
    expect(b.status).toBe('fulfilled');
    expect(g1).toMatchObject({ status: 'fulfilled', value: { codigo: 'APROBADO', id: good[0]!.id } });
    expect(g2).toMatchObject({ status: 'fulfilled', value: { codigo: 'APROBADO', id: good[1]!.id } });
    expect(bad.status).toBe('rejected');
    expect(await stock('978-84-2222-004-0')).toEqual({ total: 10, disponibles: 7, activos: 3 });
    const ledger = await pool.query('SELECT count(*)::int AS n FROM operaciones WHERE id = $1', [poisoned.id]);
    expect(ledger.rows[0].n).toBe(0);
  });

  test('batches crossing the same books in opposite orders never deadlock', async () => {
    const isbns = ['978-84-2222-005-0', '978-84-2222-006-0', '978-84-2222-007-0'];
    for (const isbn of isbns) await addBook(isbn, 50);
    const missing = '978-84-2222-999-9'; // no book row, so no book lock: ledger order alone must hold
    const before = await deadlocks();
    // Two stores = two batches in flight at once on the same database.
    const stores = [createStore(pool), createStore(pool)];
    const ops: OperacionSolicitada[] = [];
    for (let i = 0; i < 120; i++) ops.push(op(i % 5 === 4 ? 'devolucion' : 'prestamo', i % 7 === 6 ? missing : isbns[i % 3]!, `cruce-${i % 11}`));
    const calls: Promise<Resultado>[] = [];
    // What a storage client does with "busy, nothing applied" (a write that waited too long for
    // its turn alone): the same op again after a pause.
    const applied = async (s: Store, o: OperacionSolicitada): Promise<Resultado> => {
      for (;;) {
        try {
          return await s.aplicar(o);
        } catch (err) {
          if (!(err instanceof WriteQueueFullError)) throw err;
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    };
    for (let round = 0; round < 4; round++) {
      // Each store gets every op (duplicates by id), one of them in reverse order.
      for (const [k, s] of stores.entries()) {
        const mine = k === 0 ? ops : [...ops].reverse();
        for (const o of mine) calls.push(applied(s, o));
      }
    }
    const rs = await Promise.all(calls);
    const byId = new Map<string, Resultado>();
    for (const r of rs) {
      const seen = byId.get(r.id!);
      if (seen) expect(r).toEqual(seen); // every repeat returns the recorded outcome
      else byId.set(r.id!, r);
    }
    expect(await deadlocks()).toBe(before);
    const bad = await pool.query(
      `SELECT l.isbn FROM libros l
        WHERE l.isbn = ANY($1) AND l.disponibles + (SELECT count(*) FROM prestamos p WHERE p.isbn = l.isbn AND p.estado = 'ACTIVO') <> l.total`,
      [isbns],
    );
    expect(bad.rows).toEqual([]);
  });
});

describe('consistency checks (drills, tests)', () => {
  test('loans per préstamo op: a COMPLETADA préstamo with two loans and one with none are found even when the per-user counts cancel out', async () => {
    await addBook('978-84-0000-090-5', 5);
    await addBook('978-84-0000-091-2', 5);
    const a = op('prestamo', '978-84-0000-090-5', 'lc-u1');
    const b = op('prestamo', '978-84-0000-091-2', 'lc-u1');
    expect((await store.aplicar(a)).codigo).toBe('APROBADO');
    expect((await store.aplicar(b)).codigo).toBe('APROBADO');
    expect(await loanOpMismatches(pool, 'lc-')).toEqual([]);
    // b's loan labelled as a's: per user the counts still match (two loans, two COMPLETADA
    // préstamos); per op, a has two loans and b none.
    await pool.query(`UPDATE prestamos SET op_id = $1 WHERE op_id = $2`, [a.id, b.id]);
    expect(await effectLedgerMismatches(pool, 'lc-')).toEqual([]);
    const found = (await loanOpMismatches(pool, 'lc-')).sort((x, y) => x.op.localeCompare(y.op));
    expect(found).toEqual([
      { op: a.id, prestamos: 2, ledger: 'prestamo COMPLETADA' },
      { op: b.id, prestamos: 0, ledger: 'prestamo COMPLETADA' },
    ].sort((x, y) => x.op.localeCompare(y.op)));
    // A loan whose op has no ledger row.
    await pool.query(`UPDATE prestamos SET op_id = 'lc-sin-fila' WHERE op_id = $1 AND id = (SELECT min(id) FROM prestamos WHERE op_id = $1)`, [a.id]);
    expect((await loanOpMismatches(pool, 'lc-')).find((m) => m.op === 'lc-sin-fila')).toEqual({ op: 'lc-sin-fila', prestamos: 1, ledger: 'AUSENTE' });
  });
});
