/**
 * What a drill verifies on the data, after the load stopped: on the surviving
 * PostgreSQL primary, every acknowledged op is in the ledger with a final
 * state, no effect was applied twice, and the stock invariant holds.
 */
import pg from 'pg';
import type { PgInfo } from '../launcher/local-storage.js';
import type { DrillSystem, PgProbe } from './system.js';
import { effectLedgerMismatches, invariantViolations, waitNoPending } from '../../gestor_almacenamiento/consistency.js';

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
  /** How many ACEPTADO ops were still PENDIENTE when the drain wait ended (not lost, not applied yet). */
  stillPending: number;
  /** Effects without a ledger row, or applied more than their ledger rows say (sum over users). */
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

export async function checkLedger(
  node: PgInfo,
  acknowledged: Map<string, 'APROBADO' | 'ACEPTADO'>,
  userPrefix: string,
  o: { drainTimeoutMs?: number; prestamoDe?: ReadonlyMap<string, string> } = {},
): Promise<LedgerCheck> {
  return withPool(node, async (db) => {
    const ids = [...acknowledged.keys()];
    // The GC re-scans the ledger every few seconds after a failover: give it time to apply what it accepted.
    const stillPending = await waitNoPending(db, o.drainTimeoutMs ?? 20_000, ids);
    const rows = await db.query<{ id: string; estado: string }>('SELECT id, estado FROM operaciones WHERE id = ANY($1)', [ids]);
    // The loans the cycles' préstamos made (prestamos.op_id), and whether each is still out.
    const loans = await db.query<{ op_id: string; estado: string }>('SELECT op_id, estado FROM prestamos WHERE op_id = ANY($1)', [[...new Set(o.prestamoDe?.values() ?? [])]]);
    const lost = lostOps(acknowledged, new Map(rows.rows.map((r) => [r.id, r.estado])), o.prestamoDe, new Map(loans.rows.map((r) => [r.op_id, r.estado])));
    const mismatches = await effectLedgerMismatches(db, userPrefix);
    const duplicated = mismatches.reduce((n, r) => n + Math.abs(r.prestamos) + Math.abs(r.devoluciones) + Math.abs(r.renovaciones), 0);
    return { lost, stillPending, duplicated, duplicatedDetail: mismatches, invariantViolations: await invariantViolations(db) };
  });
}

/**
 * The acknowledged ops whose ledger state breaks what their reply promised. APROBADO promised an
 * applied op; ACEPTADO a recorded one that ends applied, or is still on its way (stillPending,
 * reported apart), or ends rejected. A rejected ACEPTADO devolución is a broken promise when its
 * cycle's loan was APROBADO, is in the ledger, and is still out (`loanEstado` ACTIVO): nothing took
 * the book back. (Another devolución of the same loan may have taken it first: the load lends the
 * same book again while a return is on its way, and renews the old loan instead.) Pure.
 */
export function lostOps(
  acknowledged: ReadonlyMap<string, 'APROBADO' | 'ACEPTADO'>,
  estado: ReadonlyMap<string, string>,
  prestamoDe?: ReadonlyMap<string, string>,
  loanEstado?: ReadonlyMap<string, string>,
): LedgerCheck['lost'] {
  const lost: LedgerCheck['lost'] = [];
  for (const [id, codigo] of acknowledged) {
    const e = estado.get(id) ?? 'AUSENTE';
    const prestamo = prestamoDe?.get(id);
    const loanStillOut = prestamo !== undefined && acknowledged.get(prestamo) === 'APROBADO' && estado.get(prestamo) === 'COMPLETADA' && loanEstado?.get(prestamo) === 'ACTIVO';
    const ok = codigo === 'APROBADO' ? e === 'COMPLETADA' : e === 'COMPLETADA' || e === 'PENDIENTE' || (e === 'RECHAZADA' && !loanStillOut);
    if (!ok) lost.push({ id, codigo, estado: e });
  }
  return lost;
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
