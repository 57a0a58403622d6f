/**
 * A book row held by another transaction (an idle session, a catalog load, the
 * other GA) against the GA's write path on a real PostgreSQL: the ops on that
 * book wait alone and fail alone (55P03 after WRITE_LOCK_WAIT_MS, nothing
 * written); every other write, in the same batch or after it, goes on.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import pg from 'pg';
import { pino } from 'pino';
import type { OperacionSolicitada } from '../../common/protocol/ps-gc.js';
import { createPool } from '../../gestor_almacenamiento/db.js';
import { dispatch } from '../../gestor_almacenamiento/dispatch.js';
import { migrate } from '../../gestor_almacenamiento/migrate.js';
import { storeTracker } from '../harness/stores.js';
import { pgConfig, startTestPostgres, type TestPostgres } from '../harness/postgres.js';

const stores = storeTracker();
const createStore = stores.open;

const log = pino({ level: 'silent' });
let pgs: TestPostgres;
let pool: pg.Pool;
let seq = 0;
const op = (isbn: string, usuario = `u${++seq}`): OperacionSolicitada => ({ id: `lock-${++seq}`, operacion: 'prestamo', isbn, usuario });

beforeAll(async () => {
  pgs = await startTestPostgres();
  pool = createPool(pgs, { max: 10 }, log);
  await migrate(pool, log);
});
afterAll(async () => {
  await stores.closeAll();
  await pool?.end().catch(() => undefined);
  await pgs?.stop();
});

async function addBooks(...isbns: string[]): Promise<void> {
  for (const isbn of isbns) await pool.query(`INSERT INTO libros (isbn, titulo, autor, total, disponibles) VALUES ($1, 'T', 'A', 5, 5)`, [isbn]);
}
async function disponibles(isbn: string): Promise<number> {
  return (await pool.query('SELECT disponibles FROM libros WHERE isbn = $1', [isbn])).rows[0].disponibles;
}
async function ledgerRows(id: string): Promise<number> {
  return (await pool.query('SELECT count(*)::int AS n FROM operaciones WHERE id = $1', [id])).rows[0].n;
}
/** Another session holding `isbn`'s row lock in an open, idle transaction until release(). */
async function holdRow(isbn: string): Promise<{ release(): Promise<void> }> {
  const c = new pg.Client(pgConfig(pgs));
  await c.connect();
  await c.query('BEGIN');
  await c.query('SELECT 1 FROM libros WHERE isbn = $1 FOR UPDATE', [isbn]);
  return {
    async release() {
      await c.query('ROLLBACK').catch(() => undefined);
      await c.end().catch(() => undefined);
    },
  };
}

test('a held row lock on one book does not fail writes to other books in the same batch', async () => {
  await addBooks('LK-HOT-1', 'LK-B0-1', 'LK-B1-1', 'LK-B2-1');
  const lock = await holdRow('LK-HOT-1');
  try {
    const sizes: number[] = [];
    const store = createStore(pool, { onBatch: (n) => sizes.push(n) });
    const settled: string[] = [];
    const track = <T>(name: string, p: Promise<T>) => p.finally(() => settled.push(name));
    const blocker = store.aplicar(op('LK-B0-1'));
    // It starts at the end of this turn and occupies the slot: the next three, submitted in one turn, form one batch.
    await new Promise((r) => setImmediate(r));
    const hot = op('LK-HOT-1');
    const [h, b1, b2] = await Promise.allSettled([
      track('hot', store.aplicar(hot)),
      track('b1', store.aplicar(op('LK-B1-1'))),
      track('b2', store.aplicar(op('LK-B2-1'))),
    ]);
    await blocker;
    expect(sizes).toEqual([1, 3]);
    expect(b1).toMatchObject({ status: 'fulfilled', value: { codigo: 'APROBADO' } });
    expect(b2).toMatchObject({ status: 'fulfilled', value: { codigo: 'APROBADO' } });
    expect(h).toMatchObject({ status: 'rejected', reason: { code: '55P03' } });
    expect(settled.indexOf('hot')).toBe(2); // the others did not wait for the locked book
    expect(await ledgerRows(hot.id!)).toBe(0); // nothing written for the op that gave up
    expect([await disponibles('LK-B1-1'), await disponibles('LK-B2-1')]).toEqual([4, 4]);

    await lock.release();
    expect(await store.aplicar(hot)).toMatchObject({ codigo: 'APROBADO', id: hot.id }); // the client's resend applies it once
    expect(await disponibles('LK-HOT-1')).toBe(4);
  } finally {
    await lock.release();
  }
});

test('writes after an op that waits for a locked book are not held up behind it', async () => {
  await addBooks('LK-HOT-2', 'LK-B1-2');
  const lock = await holdRow('LK-HOT-2');
  try {
    const store = createStore(pool);
    let hotDone = false;
    const hot = store.aplicar(op('LK-HOT-2')).finally(() => (hotDone = true));
    hot.catch(() => undefined);
    // Submitted while the hot op holds the only batch slot (before the fix) or waits aside (after).
    const later = await Promise.all([store.aplicar(op('LK-B1-2')), store.aplicar(op('LK-B1-2'))]);
    expect(later.map((r) => r.codigo)).toEqual(['APROBADO', 'APROBADO']);
    expect(hotDone).toBe(false);
    await expect(hot).rejects.toMatchObject({ code: '55P03' });
  } finally {
    await lock.release();
  }
});

test('the GA answers a write on a locked book ALMACENAMIENTO_NO_DISPONIBLE, ocupado (busy, not down), without reporting PostgreSQL down', async () => {
  await addBooks('LK-HOT-3', 'LK-B1-3');
  const lock = await holdRow('LK-HOT-3');
  try {
    const store = createStore(pool);
    const health: boolean[] = [];
    const deps = { store: () => store, rol: () => 'primary', onStorage: (ok: boolean) => health.push(ok), log };
    const [hot, other] = await Promise.all([
      dispatch({ orden: 'aplicar', ref: 'r1', op: op('LK-HOT-3') }, deps),
      dispatch({ orden: 'aplicar', ref: 'r2', op: op('LK-B1-3') }, deps),
    ]);
    expect(hot).toMatchObject({ ref: 'r1', exito: false, codigo: 'ALMACENAMIENTO_NO_DISPONIBLE', ocupado: true });
    expect(other).toMatchObject({ ref: 'r2', exito: true, resultado: { codigo: 'APROBADO' } });
    expect(health).toEqual([true, true]);
  } finally {
    await lock.release();
  }
});
