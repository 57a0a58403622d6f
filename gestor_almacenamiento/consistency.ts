/**
 * The checks that say the data is sound, for tests, drills and operators:
 * the stock invariant, "every effect has exactly one ledger row" and "nothing
 * left PENDIENTE". SQL over the GA's own schema, so it lives with the schema.
 */
import pg from 'pg';

type Queryable = Pick<pg.Pool, 'query'>;

export interface InvariantViolation {
  isbn: string;
  total: number;
  disponibles: number;
  activos: number;
}

/** Books whose stock breaks `disponibles + active loans = total` or `0 <= disponibles <= total`. */
export async function invariantViolations(db: Queryable): Promise<InvariantViolation[]> {
  const r = await db.query<InvariantViolation>(`
    SELECT l.isbn, l.total, l.disponibles, count(p.*) FILTER (WHERE p.estado = 'ACTIVO')::int AS activos
      FROM libros l LEFT JOIN prestamos p ON p.isbn = l.isbn
     GROUP BY l.isbn, l.total, l.disponibles
    HAVING l.disponibles + count(p.*) FILTER (WHERE p.estado = 'ACTIVO') <> l.total
        OR l.disponibles < 0 OR l.disponibles > l.total`);
  return r.rows;
}

/** Per user: effects minus COMPLETADA ledger rows, by kind (non-zero = applied twice, or without its row). */
export interface EffectMismatch {
  usuario: string;
  prestamos: number;
  devoluciones: number;
  renovaciones: number;
}

/**
 * Users (optionally only those starting with `userPrefix`) whose loans, returns or
 * renewals do not match their completed ledger rows one to one.
 */
export async function effectLedgerMismatches(db: Queryable, userPrefix = ''): Promise<EffectMismatch[]> {
  const r = await db.query<EffectMismatch>(
    `WITH efectos AS (
       SELECT usuario, count(*)::int AS prestamos,
              count(*) FILTER (WHERE estado = 'DEVUELTO')::int AS devoluciones,
              coalesce(sum(renovaciones), 0)::int AS renovaciones
         FROM prestamos WHERE usuario LIKE $1 || '%' GROUP BY usuario),
     ledger AS (
       SELECT usuario,
              count(*) FILTER (WHERE operacion = 'prestamo')::int AS prestamos,
              count(*) FILTER (WHERE operacion = 'devolucion')::int AS devoluciones,
              count(*) FILTER (WHERE operacion = 'renovacion')::int AS renovaciones
         FROM operaciones WHERE estado = 'COMPLETADA' AND usuario LIKE $1 || '%' GROUP BY usuario)
     SELECT coalesce(e.usuario, l.usuario) AS usuario,
            coalesce(e.prestamos, 0) - coalesce(l.prestamos, 0) AS prestamos,
            coalesce(e.devoluciones, 0) - coalesce(l.devoluciones, 0) AS devoluciones,
            coalesce(e.renovaciones, 0) - coalesce(l.renovaciones, 0) AS renovaciones
       FROM efectos e FULL JOIN ledger l ON l.usuario = e.usuario
      WHERE coalesce(e.prestamos, 0) <> coalesce(l.prestamos, 0)
         OR coalesce(e.devoluciones, 0) <> coalesce(l.devoluciones, 0)
         OR coalesce(e.renovaciones, 0) <> coalesce(l.renovaciones, 0)`,
    [userPrefix],
  );
  return r.rows;
}

/** A préstamo op whose loans do not match its ledger row one to one. */
export interface LoanOpMismatch {
  op: string;
  /** Loans made under this op id (prestamos.op_id). */
  prestamos: number;
  /** Its ledger row's operation and state ('AUSENTE': no row). */
  ledger: string;
}

/**
 * Per op, where the per-user counts can cancel out (an extra loan for one op and a missing one
 * for another of the same user): COMPLETADA préstamos of users starting with `userPrefix` with
 * no loan or several, and loans whose op id has no COMPLETADA préstamo row.
 */
export async function loanOpMismatches(db: Queryable, userPrefix = ''): Promise<LoanOpMismatch[]> {
  const r = await db.query<LoanOpMismatch>(
    `WITH prestamos_por_op AS (
       SELECT op_id, count(*)::int AS n FROM prestamos WHERE op_id IS NOT NULL AND usuario LIKE $1 || '%' GROUP BY op_id),
     ops AS (
       SELECT id, operacion, estado FROM operaciones WHERE operacion = 'prestamo' AND estado = 'COMPLETADA' AND usuario LIKE $1 || '%')
     SELECT coalesce(o.id, p.op_id) AS op, coalesce(p.n, 0) AS prestamos,
            coalesce((SELECT x.operacion || ' ' || x.estado FROM operaciones x WHERE x.id = p.op_id), CASE WHEN o.id IS NULL THEN 'AUSENTE' ELSE 'prestamo COMPLETADA' END) AS ledger
       FROM ops o FULL JOIN prestamos_por_op p ON p.op_id = o.id
      WHERE o.id IS NULL OR coalesce(p.n, 0) <> 1`,
    [userPrefix],
  );
  return r.rows;
}

/**
 * Waits (bounded) until no ledger row — or, with `ids`, none of those — is PENDIENTE
 * (async ops the GC has yet to apply; after a failover it re-scans the ledger every few
 * seconds). Takes a pool/client, or connection settings for a connection of its own.
 * Returns how many were still PENDIENTE at the end: 0 = drained. `timeoutMs` 0 = one look.
 */
export async function waitNoPending(db: Queryable | pg.PoolConfig, timeoutMs: number, ids?: string[]): Promise<number> {
  if (!('query' in db)) {
    const pool = new pg.Pool({ connectionTimeoutMillis: 5000, ...db, max: 1 });
    pool.on('error', () => undefined);
    try {
      return await waitNoPending(pool, timeoutMs, ids);
    } finally {
      await pool.end().catch(() => undefined);
    }
  }
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = ids
      ? await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM operaciones WHERE estado = 'PENDIENTE' AND id = ANY($1)`, [ids])
      : await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM operaciones WHERE estado = 'PENDIENTE'`);
    const n = r.rows[0]?.n ?? 0;
    if (n === 0 || Date.now() >= deadline) return n;
    await new Promise((res) => setTimeout(res, 100));
  }
}
