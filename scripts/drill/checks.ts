/**
 * What a drill verifies on the data, after the load stopped: on the surviving
 * PostgreSQL primary, every acknowledged op is in the ledger with a final
 * state, no effect was applied twice, and the stock invariant holds.
 */
import pg from 'pg';
import type { PgInfo } from '../launcher/local-storage.js';
import type { DrillSystem, PgProbe } from './system.js';
import { effectLedgerMismatches, invariantViolations, loanOpMismatches, waitNoPending } from '../../gestor_almacenamiento/consistency.js';
import type { DrillLoad } from './load.js';

/** The primary to check: the one node not in recovery on the highest timeline. Two primaries = split brain. */
export async function survivingPrimary(sys: DrillSystem): Promise<{ node: PgInfo; host: string; timeline?: number; splitBrain: boolean }> {
  if (!sys.pgNodes) return { node: sys.pg, host: 'pc1', splitBrain: false };
  const nodes: PgProbe[] = [sys.pgNodes.primary, sys.pgNodes.standby];
  const roles = await Promise.all(nodes.map((n) => n.role().then((r) => ({ n, r }), () => undefined)));
  const primaries = roles.filter((x): x is NonNullable<typeof x> => !!x && !x.r.inRecovery).sort((a, b) => b.r.timeline - a.r.timeline);
  const top = primaries[0];
  if (!top) throw new Error('no PostgreSQL primary is reachable');
  return { node: top.n.info, host: top.n.hostName, timeline: top.r.timeline, splitBrain: primaries.length > 1 };
}

export interface LedgerCheck {
  /** Acknowledged ops missing from the ledger or not in a state their reply promised. */
  lost: Array<{ id: string; codigo: string; estado: string }>;
  /** Refusals the PS got that the ledger does not hold as such (another code, another state, no row). */
  refusalMismatches: Array<{ id: string; codigo: string; ledger: string; at: number }>;
  /** How many ACEPTADO ops were still PENDIENTE when the drain wait ended (not lost, not applied yet). */
  stillPending: number;
  /** Effects without a ledger row, or applied more than their ledger rows say (per user, and loans per préstamo op). */
  duplicated: number;
  duplicatedDetail: unknown[];
  invariantViolations: unknown[];
}

async function withPool<T>(node: PgInfo, fn: (db: pg.Pool) => Promise<T>): Promise<T> {
  const db = new pg.Pool({ ...node, max: 2, connectionTimeoutMillis: 3000 });
  db.on('error', () => undefined);
  try {
    return await fn(db);
  } finally {
    await db.end().catch(() => undefined);
  }
}

/** A ledger row as the checks read it; times in µs since the epoch (PostgreSQL's now(): a transaction's start). */
export interface LedgerRow {
  estado: string;
  codigo: string | null;
  actualizadaUs: number;
}

/** When a loan was out: from its préstamo to its return (undefined: still out). */
export interface LoanSpan {
  desdeUs: number;
  hastaUs?: number;
}

const US = (col: string) => `(extract(epoch FROM ${col}) * 1000000)::float8`;

export async function checkLedger(
  node: PgInfo,
  load: Pick<DrillLoad, 'acknowledged' | 'rechazadas' | 'prestamoDe'>,
  userPrefix: string,
  o: { drainTimeoutMs?: number; onWait?: (line: string) => void } = {},
): Promise<LedgerCheck> {
  return withPool(node, async (db) => {
    const ids = [...load.acknowledged.keys()];
    // The GC re-scans the ledger every few seconds after a failover: give it time to apply what it accepted.
    o.onWait?.(`esperando a que se apliquen las operaciones ACEPTADAS (hasta ${((o.drainTimeoutMs ?? 20_000) / 1000).toFixed(0)} s)…`);
    const stillPending = await waitNoPending(db, o.drainTimeoutMs ?? 20_000, ids);
    const all = [...ids, ...load.rechazadas.keys()];
    const rows = await db.query<{ id: string; estado: string; codigo: string | null; us: number }>(
      `SELECT id, estado, resultado->>'codigo' AS codigo, ${US('actualizada')} AS us FROM operaciones WHERE id = ANY($1)`,
      [all],
    );
    const ledger = new Map(rows.rows.map((r) => [r.id, { estado: r.estado, codigo: r.codigo, actualizadaUs: r.us }]));
    // The loans the cycles' préstamos made (prestamos.op_id), and when each was out.
    const loans = await db.query<{ op_id: string; desde: number; hasta: number | null }>(
      `SELECT op_id, ${US('fecha_prestamo')} AS desde, ${US('fecha_devolucion')} AS hasta FROM prestamos WHERE op_id = ANY($1)`,
      [[...new Set(load.prestamoDe.values())]],
    );
    const spans = new Map(loans.rows.map((r) => [r.op_id, { desdeUs: r.desde, ...(r.hasta !== null ? { hastaUs: r.hasta } : {}) }]));
    const lost = lostOps(load.acknowledged, ledger, load.prestamoDe, spans);
    const refusalMismatches = refusalsNotInLedger(load.rechazadas, ledger);
    const mismatches = await effectLedgerMismatches(db, userPrefix);
    const loanMismatches = await loanOpMismatches(db, userPrefix);
    const duplicated = mismatches.reduce((n, r) => n + Math.abs(r.prestamos) + Math.abs(r.devoluciones) + Math.abs(r.renovaciones), 0) + loanMismatches.length;
    return { lost, refusalMismatches, stillPending, duplicated, duplicatedDetail: [...mismatches, ...loanMismatches], invariantViolations: await invariantViolations(db) };
  });
}

/**
 * The acknowledged ops whose ledger state breaks what their reply promised. APROBADO promised an
 * applied op; ACEPTADO a recorded one that ends applied, or is still on its way (stillPending,
 * reported apart), or ends rejected. A rejected ACEPTADO devolución is a broken promise when its
 * cycle's loan was out at the moment of the rejection: nothing else had taken the book back, so
 * the return should have. (Another devolución of the same loan may take it first, legitimately:
 * the load comes back to the same book while a return is on its way, renews the old loan and
 * returns it again; then the late one finds the loan already returned.) Times are each
 * transaction's start (now()): a rejection counts as "while out" only if its transaction started
 * inside the loan's span. Writes run aside for a locked book could in principle start before the
 * return that beats them to the lock (microseconds between a transaction's start and its first
 * lock): that would read as a loss; not seen in any run. Pure.
 */
export function lostOps(
  acknowledged: ReadonlyMap<string, 'APROBADO' | 'ACEPTADO'>,
  ledger: ReadonlyMap<string, LedgerRow>,
  prestamoDe?: ReadonlyMap<string, string>,
  loans?: ReadonlyMap<string, LoanSpan>,
): LedgerCheck['lost'] {
  const lost: LedgerCheck['lost'] = [];
  for (const [id, codigo] of acknowledged) {
    const row = ledger.get(id);
    const e = row?.estado ?? 'AUSENTE';
    const prestamo = prestamoDe?.get(id);
    const loan = prestamo !== undefined ? loans?.get(prestamo) : undefined;
    const at = row?.actualizadaUs;
    const loanOutAtRejection = !!loan && at !== undefined && loan.desdeUs <= at && (loan.hastaUs === undefined || at < loan.hastaUs);
    const ok = codigo === 'APROBADO' ? e === 'COMPLETADA' : e === 'COMPLETADA' || e === 'PENDIENTE' || (e === 'RECHAZADA' && !loanOutAtRejection);
    if (!ok) lost.push({ id, codigo, estado: e });
  }
  return lost;
}

/** Refusals (a rule's final "no") that the ledger does not record as that refusal: what the PS was told did not happen. Pure. */
export function refusalsNotInLedger(rechazadas: ReadonlyMap<string, { codigo: string; at: number }>, ledger: ReadonlyMap<string, LedgerRow>): LedgerCheck['refusalMismatches'] {
  const out: LedgerCheck['refusalMismatches'] = [];
  for (const [id, r] of rechazadas) {
    const row = ledger.get(id);
    if (row?.estado === 'RECHAZADA' && row.codigo === r.codigo) continue;
    out.push({ id, codigo: r.codigo, ledger: row ? `${row.estado} ${row.codigo ?? ''}`.trim() : 'AUSENTE', at: r.at });
  }
  return out;
}

/** Ops still PENDIENTE whose ledger lease is held by GC `gcId` (006_arriendos.sql). */
export async function opsHeldBy(node: PgInfo, gcId: string): Promise<string[]> {
  return withPool(node, async (db) => (await db.query<{ id: string }>(`SELECT id FROM operaciones WHERE estado = 'PENDIENTE' AND gestor = $1 ORDER BY id`, [gcId])).rows.map((r) => r.id));
}

export interface OpFinalState {
  id: string;
  estado: string;
  /** The GC that held its lease last: the one that published it to completion. */
  gestor: string | null;
  actualizada: string;
}

/** Waits (bounded) until none of `ids` is PENDIENTE, then returns each one's state and last lease holder. */
export async function waitOpsFinal(node: PgInfo, ids: string[], timeoutMs: number): Promise<OpFinalState[]> {
  return withPool(node, async (db) => {
    await waitNoPending(db, timeoutMs, ids);
    const r = await db.query<OpFinalState>(`SELECT id, estado, gestor, to_char(actualizada AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS actualizada FROM operaciones WHERE id = ANY($1)`, [ids]);
    return r.rows;
  });
}
