/**
 * End-to-end harness: the real system (embedded PostgreSQL, GA, GC, actors as
 * child processes) with a catalog the test writes, plus direct SQL checks.
 */
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startLocalSystem, type LocalSystem, type LocalSystemOptions } from '../../scripts/local-system.js';
import { GcPipelineClient } from '../../solicitante/gc-pipeline.js';

export interface Libro {
  isbn: string;
  ejemplares: number;
}

export interface TestSystem extends LocalSystem {
  db: pg.Pool;
  client(opts?: { timeoutMs?: number; retries?: number }): GcPipelineClient;
}

export async function startTestSystem(libros: Libro[], opts: Omit<LocalSystemOptions, 'catalog'> = {}): Promise<TestSystem> {
  const dir = mkdtempSync(join(tmpdir(), 'biblioteca-cat-'));
  const catalog = join(dir, 'catalogo.csv');
  writeFileSync(catalog, ['isbn,titulo,autor,ejemplares', ...libros.map((l) => `${l.isbn},Libro ${l.isbn},Autor de prueba,${l.ejemplares}`)].join('\n') + '\n');
  let sys: LocalSystem;
  try {
    sys = await startLocalSystem({ ...opts, catalog, env: { LOG_LEVEL: 'info', ...opts.env } });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const db = new pg.Pool({ ...sys.pg, max: 4 });
  db.on('error', () => undefined);
  const clients: GcPipelineClient[] = [];
  return {
    ...sys,
    db,
    client: (o = {}) => {
      const c = new GcPipelineClient({ endpoint: sys.gcEndpoint, timeoutMs: o.timeoutMs ?? 5000, retries: o.retries ?? 3 });
      clients.push(c);
      return c;
    },
    stop: async () => {
      for (const c of clients) c.close();
      await db.end().catch(() => undefined);
      await sys.stop();
    },
  };
}

/** Books whose stock breaks `disponibles + active loans = total` or `0 <= disponibles <= total`. */
export async function invariantViolations(db: pg.Pool): Promise<unknown[]> {
  const r = await db.query(`
    SELECT l.isbn, l.total, l.disponibles, count(p.*) FILTER (WHERE p.estado = 'ACTIVO')::int AS activos
      FROM libros l LEFT JOIN prestamos p ON p.isbn = l.isbn
     GROUP BY l.isbn, l.total, l.disponibles
    HAVING l.disponibles + count(p.*) FILTER (WHERE p.estado = 'ACTIVO') <> l.total
        OR l.disponibles < 0 OR l.disponibles > l.total`);
  return r.rows;
}

export async function pendingOps(db: pg.Pool): Promise<number> {
  const r = await db.query(`SELECT count(*)::int AS n FROM operaciones WHERE estado = 'PENDIENTE'`);
  return r.rows[0].n as number;
}

export async function waitFor(cond: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Effects that do not match the ledger, per user: a loan, return or renewal
 * applied twice (or without its ledger row) shows up here.
 */
export async function effectLedgerMismatches(db: pg.Pool): Promise<unknown[]> {
  const r = await db.query(`
    WITH efectos AS (
      SELECT usuario, count(*)::int AS prestamos,
             count(*) FILTER (WHERE estado = 'DEVUELTO')::int AS devoluciones,
             coalesce(sum(renovaciones), 0)::int AS renovaciones
        FROM prestamos GROUP BY usuario),
    ledger AS (
      SELECT usuario,
             count(*) FILTER (WHERE operacion = 'prestamo')::int AS prestamos,
             count(*) FILTER (WHERE operacion = 'devolucion')::int AS devoluciones,
             count(*) FILTER (WHERE operacion = 'renovacion')::int AS renovaciones
        FROM operaciones WHERE estado = 'COMPLETADA' GROUP BY usuario)
    SELECT coalesce(e.usuario, l.usuario) AS usuario, e.prestamos AS e_p, l.prestamos AS l_p,
           e.devoluciones AS e_d, l.devoluciones AS l_d, e.renovaciones AS e_r, l.renovaciones AS l_r
      FROM efectos e FULL JOIN ledger l ON l.usuario = e.usuario
     WHERE coalesce(e.prestamos, 0) <> coalesce(l.prestamos, 0)
        OR coalesce(e.devoluciones, 0) <> coalesce(l.devoluciones, 0)
        OR coalesce(e.renovaciones, 0) <> coalesce(l.renovaciones, 0)`);
  return r.rows;
}
