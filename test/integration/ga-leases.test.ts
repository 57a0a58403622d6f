/**
 * Leases on pending async ops (006_arriendos.sql), through the GA's store against a
 * real PostgreSQL: the GC that records an op holds it; a repeat through another GC
 * leaves a live holder alone; a lease that runs out is claimed by exactly one GC;
 * renewals keep a live GC's rows, also against a takeover racing them; the registry of GCs
 * lists each with its report.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import pg from 'pg';
import { pino } from 'pino';
import { gestorVistoSchema, pendienteSchema, type InformeGc } from '../../common/protocol/internal.js';
import type { OperacionSolicitada } from '../../common/protocol/ps-gc.js';
import { createPool } from '../../gestor_almacenamiento/db.js';
import { migrate } from '../../gestor_almacenamiento/migrate.js';
import type { Store } from '../../gestor_almacenamiento/store.js';
import { storeTracker } from '../harness/stores.js';
import { startTestPostgres, type TestPostgres } from '../harness/postgres.js';

const stores = storeTracker();
const createStore = stores.open;

const log = pino({ level: 'silent' });
let pgs: TestPostgres;
let pool: pg.Pool;
let store: Store;
let seq = 0;
const ISBN = '978-84-0000-500-1';
/** An async préstamo of its own user (a return needs a loan, or it is refused at once: 005). */
const dev = (p: string): OperacionSolicitada => {
  const n = ++seq;
  return { operacion: 'prestamo', isbn: ISBN, usuario: `u-${p}-${n}`, id: `${p}-${n}` };
};
const informe = (id: string, atendidas = 0): InformeGc => ({ id, sede: id.replace(/^gc-/, ''), atendidas, porSegundo: 0, tareas: 0, iniciado: new Date().toISOString() });
/** The lease row of one op, read straight from the ledger. */
async function lease(id: string): Promise<{ gestor: string | null; vigente: boolean }> {
  const r = await pool.query<{ gestor: string | null; vigente: boolean }>('SELECT gestor, arriendo_vigente(gestor, arriendo_hasta) AS vigente FROM operaciones WHERE id = $1', [id]);
  return r.rows[0]!;
}
/** Makes a lease run out now (as if its GC had stopped renewing it long ago): the rows' own, and their GCs'. */
async function expire(ids: string[]): Promise<void> {
  await pool.query(`UPDATE operaciones SET arriendo_hasta = now() - interval '1 second' WHERE id = ANY($1)`, [ids]);
  await pool.query(`UPDATE gestores_carga SET arriendo_hasta = now() - interval '1 second' WHERE id IN (SELECT gestor FROM operaciones WHERE id = ANY($1))`, [ids]);
}

beforeAll(async () => {
  pgs = await startTestPostgres();
  pool = createPool(pgs, { max: 25 }, log);
  await migrate(pool, log);
  await pool.query(`INSERT INTO libros (isbn, titulo, autor, total, disponibles) VALUES ($1, 'T', 'A', 1000, 1000)`, [ISBN]);
  store = createStore(pool);
});
afterAll(async () => {
  await stores.closeAll();
  await pool?.end().catch(() => undefined);
  await pgs?.stop();
});

describe('leases on pending async ops', () => {
  test('registrar with a lease: the recording GC holds it, and the ACEPTADO says so', async () => {
    const o = dev('a');
    const r = await store.registrar(o, { gestor: 'gc-a', ms: 60_000 });
    expect(r).toMatchObject({ codigo: 'ACEPTADO', estado: 'PENDIENTE', datos: { estado: 'PENDIENTE', operacion: 'prestamo', gestor: 'gc-a' } });
    expect(await lease(o.id)).toEqual({ gestor: 'gc-a', vigente: true });
  });

  test('a repeat through another GC leaves a live holder alone; once the lease ran out that GC takes it', async () => {
    const o = dev('b');
    await store.registrar(o, { gestor: 'gc-a', ms: 60_000 });
    expect((await store.registrar(o, { gestor: 'gc-b', ms: 60_000 })).datos.gestor).toBe('gc-a');
    expect((await lease(o.id)).gestor).toBe('gc-a');
    // The holder itself may repeat it (its own PS retried): still its own.
    expect((await store.registrar(o, { gestor: 'gc-a', ms: 60_000 })).datos.gestor).toBe('gc-a');
    await expire([o.id]);
    expect((await store.registrar(o, { gestor: 'gc-b', ms: 60_000 })).datos.gestor).toBe('gc-b');
    expect(await lease(o.id)).toEqual({ gestor: 'gc-b', vigente: true });
    // Without a lease (an older GC) the row is recorded and the lease left as it is.
    expect((await store.registrar(o)).datos.gestor).toBe('gc-b');
  });

  test('a repeat of an op already applied returns its outcome, lease or not', async () => {
    const o = dev('c');
    await store.registrar(o, { gestor: 'gc-a', ms: 60_000 });
    const applied = await store.aplicar(o);
    expect(applied.estado).toBe('COMPLETADA');
    expect(await store.registrar(o, { gestor: 'gc-b', ms: 60_000 })).toEqual(applied);
  });

  test('reclamar renews the caller’s leases, lists its rows, and leaves live leases of others alone', async () => {
    const mine = [dev('r1'), dev('r1')];
    const theirs = dev('r2');
    for (const o of mine) await store.registrar(o, { gestor: 'gc-r1', ms: 300 });
    await store.registrar(theirs, { gestor: 'gc-r2', ms: 60_000 });
    await expire([mine[0]!.id]); // a renewal comes late: still nobody else's claim yet in this instant, and its own
    const r = await store.reclamar(informe('gc-r1'), 60_000, 1000);
    const listed = r.pendientes.filter((p) => p.op.id.startsWith('r1-') || p.op.id.startsWith('r2-'));
    expect(listed.map((p) => p.op.id).sort()).toEqual(mine.map((o) => o.id).sort());
    for (const p of listed) expect(pendienteSchema.parse(p)).toMatchObject({ reclamada: false });
    // Each row's age by the database's clock: recorded just now, so between 0 and this test's run.
    for (const p of listed) expect(p.edadMs).toBeGreaterThanOrEqual(0);
    for (const p of listed) expect(p.edadMs).toBeLessThan(30_000);
    for (const o of mine) expect(await lease(o.id)).toEqual({ gestor: 'gc-r1', vigente: true });
    expect(await lease(theirs.id)).toEqual({ gestor: 'gc-r2', vigente: true });
  });

  test('a lease that ran out is claimed by the next GC to call, flagged reclamada; rows with no holder too', async () => {
    const orphan = dev('o');
    await store.registrar(orphan, { gestor: 'gc-muerto', ms: 60_000 });
    const legacy = dev('o');
    await store.registrar(legacy); // recorded by a GC without leases
    await expire([orphan.id]);
    const r = await store.reclamar(informe('gc-vivo'), 60_000, 1000);
    const got = new Map(r.pendientes.map((p) => [p.op.id, p.reclamada]));
    expect(got.get(orphan.id)).toBe(true);
    expect(got.get(legacy.id)).toBe(true);
    expect(await lease(orphan.id)).toEqual({ gestor: 'gc-vivo', vigente: true });
    // Next time they are simply its own.
    const again = new Map((await store.reclamar(informe('gc-vivo'), 60_000, 1000)).pendientes.map((p) => [p.op.id, p.reclamada]));
    expect(again.get(orphan.id)).toBe(false);
  });

  test('a renewal is one row whatever the backlog: the rows are left as they are and stay held through the GC', async () => {
    // 5,000 pending rows of one GC, written straight to the ledger (registrar one by one would be slow).
    await pool.query(
      `INSERT INTO operaciones (id, operacion, isbn, usuario, estado, gestor, arriendo_hasta)
       SELECT 'big-' || i, 'prestamo', $1, 'u-big-' || i, 'PENDIENTE', 'gc-big', now() + interval '1 minute' FROM generate_series(1, 5000) i`,
      [ISBN],
    );
    await store.reclamar(informe('gc-big'), 60_000, 10);
    const before = await pool.query<{ h: string }>(`SELECT md5(string_agg(arriendo_hasta::text || xmin::text, ',' ORDER BY id)) AS h FROM operaciones WHERE gestor = 'gc-big'`);
    const r = await store.reclamar(informe('gc-big'), 60_000, 10);
    expect(r.pendientes).toHaveLength(10); // the listing is bounded too
    const after = await pool.query<{ h: string }>(`SELECT md5(string_agg(arriendo_hasta::text || xmin::text, ',' ORDER BY id)) AS h FROM operaciones WHERE gestor = 'gc-big'`);
    expect(after.rows[0]!.h).toBe(before.rows[0]!.h);
    // The rows' own leases run out; the GC's holds them all: nobody else may claim one.
    await pool.query(`UPDATE operaciones SET arriendo_hasta = now() - interval '1 second' WHERE gestor = 'gc-big'`);
    const other = await store.reclamar(informe('gc-otro'), 60_000, 1000);
    expect(other.pendientes.filter((p) => p.op.id.startsWith('big-'))).toEqual([]);
    expect(await lease('big-1')).toEqual({ gestor: 'gc-big', vigente: true });
    // Once the GC's lease runs out as well, they are claimable (the limit bounds one call).
    await pool.query(`UPDATE gestores_carga SET arriendo_hasta = now() - interval '1 second' WHERE id = 'gc-big'`);
    const claimed = (await store.reclamar(informe('gc-otro'), 60_000, 1000)).pendientes.filter((p) => p.op.id.startsWith('big-') && p.reclamada);
    expect(claimed).toHaveLength(1000);
    await pool.query(`DELETE FROM operaciones WHERE id LIKE 'big-%'`);
  });

  test('the listing takes turns between operations: old rows of one cannot hide a newer one of another', async () => {
    // 30 old devoluciones (their actors down: the GC tracks them and waits), then one préstamo.
    await pool.query(
      `INSERT INTO operaciones (id, operacion, isbn, usuario, estado, gestor, creada)
       SELECT 'turno-d-' || i, 'devolucion', $1, 'u-turno-' || i, 'PENDIENTE', 'gc-turnos', now() - interval '1 hour' + i * interval '1 second' FROM generate_series(1, 30) i`,
      [ISBN],
    );
    await pool.query(`INSERT INTO operaciones (id, operacion, isbn, usuario, estado, gestor) VALUES ('turno-p', 'prestamo', $1, 'u-turno-p', 'PENDIENTE', 'gc-turnos')`, [ISBN]);
    const listed = (await store.reclamar(informe('gc-turnos'), 60_000, 10)).pendientes.map((p) => p.op.id);
    expect(listed).toHaveLength(10);
    expect(listed).toContain('turno-p');
    // Alone, one operation fills the limit, oldest first.
    await pool.query(`DELETE FROM operaciones WHERE id = 'turno-p'`);
    expect((await store.reclamar(informe('gc-turnos'), 60_000, 10)).pendientes.map((p) => p.op.id)).toEqual(Array.from({ length: 10 }, (_, i) => `turno-d-${i + 1}`));
    await pool.query(`DELETE FROM operaciones WHERE id LIKE 'turno-%'`);
  });

  test('GCs claiming the same orphaned rows at the same time never both get one', async () => {
    const ops = Array.from({ length: 60 }, () => dev('x'));
    for (const o of ops) await store.registrar(o, { gestor: 'gc-x-muerto', ms: 60_000 });
    await expire(ops.map((o) => o.id));
    const ids = new Set(ops.map((o) => o.id));
    const claimers = ['gc-x1', 'gc-x2', 'gc-x3'];
    const rounds = await Promise.all(claimers.flatMap((g) => [1, 2, 3].map(() => store.reclamar(informe(g), 60_000, 25).then((r) => ({ g, r })))));
    const claimedBy = new Map<string, string[]>();
    for (const { g, r } of rounds) for (const p of r.pendientes) if (p.reclamada && ids.has(p.op.id)) claimedBy.set(p.op.id, [...(claimedBy.get(p.op.id) ?? []), g]);
    for (const who of claimedBy.values()) expect(who).toHaveLength(1);
    // Every row ends with exactly one live holder, and it is the GC that claimed it.
    const rows = await pool.query<{ id: string; gestor: string }>('SELECT id, gestor FROM operaciones WHERE id = ANY($1)', [[...ids]]);
    for (const row of rows.rows) {
      expect(claimers).toContain(row.gestor);
      if (claimedBy.has(row.id)) expect(claimedBy.get(row.id)).toEqual([row.gestor]);
    }
  });

  test('a row being applied right now is passed by, never waited for', async () => {
    const o = dev('lock');
    await store.registrar(o, { gestor: 'gc-l-muerto', ms: 60_000 });
    await expire([o.id]);
    const c = await pool.connect();
    try {
      await c.query('BEGIN');
      await c.query('SELECT 1 FROM operaciones WHERE id = $1 FOR UPDATE', [o.id]);
      // Were it to wait for the lock it would never return: this transaction holds it until after the call.
      const r = await store.reclamar(informe('gc-l'), 60_000, 1000);
      expect(r.pendientes.some((p) => p.op.id === o.id)).toBe(false);
    } finally {
      await c.query('ROLLBACK');
      c.release();
    }
    expect((await store.reclamar(informe('gc-l'), 60_000, 1000)).pendientes.find((p) => p.op.id === o.id)?.reclamada).toBe(true);
  });

  test('every GC that called is listed with its own report and how long ago, by the database clock', async () => {
    await store.reclamar(informe('gc-lista-1', 41), 60_000, 10);
    const r = await store.reclamar(informe('gc-lista-2', 7), 60_000, 10);
    const byId = new Map(r.gestores.map((g) => [g.id, gestorVistoSchema.parse(g)]));
    expect(byId.get('gc-lista-1')).toMatchObject({ informe: { atendidas: 41, sede: 'lista-1' } });
    // Seen by the call just before: a few ms ago by the database's clock, never in the future.
    expect(byId.get('gc-lista-1')!.vistoHaceMs).toBeGreaterThanOrEqual(0);
    expect(byId.get('gc-lista-1')!.vistoHaceMs).toBeLessThan(5000);
    expect(byId.get('gc-lista-2')).toMatchObject({ informe: { atendidas: 7 }, vistoHaceMs: 0 });
  });

  test('a bad call changes nothing', async () => {
    const before = await pool.query('SELECT count(*)::int AS n FROM gestores_carga');
    await expect(store.reclamar({ ...informe('gc-malo'), id: undefined as unknown as string }, 60_000, 10)).rejects.toThrow(/falta el id/);
    await expect(store.reclamar(informe('gc-malo'), 0, 10)).rejects.toThrow(/falta el id del gestor o el arriendo/);
    expect((await pool.query('SELECT count(*)::int AS n FROM gestores_carga')).rows[0].n).toBe(before.rows[0].n);
  });

  test('a holder renewing right now keeps its lapsed row: a repeat through another GC neither waits nor takes it (012)', async () => {
    const o = dev('ren');
    await store.registrar(o, { gestor: 'gc-ren-a', ms: 60_000 });
    await expire([o.id]);
    const a = await pool.connect();
    try {
      await a.query('BEGIN');
      // gc-ren-a's renewal, not committed yet: it lists the row as its own.
      const listed = (await a.query(`SELECT reclamar_pendientes($1::jsonb, 60000, 1000) AS r`, [JSON.stringify(informe('gc-ren-a'))])).rows[0].r.pendientes as Array<{ op: { id: string } }>;
      expect(listed.map((p) => p.op.id)).toContain(o.id);
      // Meanwhile the PS repeats the op through gc-ren-b: answered at once, the row left to its holder.
      const r = await store.registrar(o, { gestor: 'gc-ren-b', ms: 60_000 });
      expect(r.datos.gestor).toBe('gc-ren-a');
      await a.query('COMMIT');
    } finally {
      a.release();
    }
    expect(await lease(o.id)).toEqual({ gestor: 'gc-ren-a', vigente: true });
  });

  test('a row taken over from a lapsed holder is not listed by that holder\'s renewal racing the takeover (the renewal waits for the row)', async () => {
    const o = dev('tom');
    await store.registrar(o, { gestor: 'gc-tom-a', ms: 60_000 });
    await expire([o.id]);
    const b = await pool.connect();
    try {
      await b.query('BEGIN');
      const taken = (await b.query(`SELECT registrar_operacion($1, 'prestamo', $2, $3, NULL, NULL, 'gc-tom-b', 60000) AS r`, [o.id, o.isbn, o.usuario])).rows[0].r as { datos: { gestor: string } };
      expect(taken.datos.gestor).toBe('gc-tom-b');
      // gc-tom-a renews while the takeover is still open: it waits for it, then no longer lists the row.
      const renewal = pool.query(`SELECT reclamar_pendientes($1::jsonb, 60000, 1000) AS r`, [JSON.stringify(informe('gc-tom-a'))]);
      await new Promise((r) => setTimeout(r, 200));
      await b.query('COMMIT');
      const listed = (await renewal).rows[0].r.pendientes as Array<{ op: { id: string } }>;
      expect(listed.map((p) => p.op.id)).not.toContain(o.id);
    } finally {
      b.release();
    }
    expect(await lease(o.id)).toEqual({ gestor: 'gc-tom-b', vigente: true });
  });
});
