/**
 * The GA's data access: every call is ONE round trip to a PL/pgSQL function
 * (migrations/002_operaciones.sql, 003_lotes.sql) through a named prepared
 * statement, so PostgreSQL parses and plans it once per connection.
 * The rules live in SQL; this module only carries values in and results out.
 *
 * Writes (aplicar, registrar) go through a WriteBatcher: under load the ones
 * that queue up share one transaction and one commit (`aplicar_lote`).
 */
import type pg from 'pg';
import type { Pendiente } from '../common/internal-protocol.js';
import type { OperacionSolicitada, Resultado } from '../common/protocol.js';
import { isConnectionError, isRetryable } from './db.js';
import { WriteBatcher } from './write-batcher.js';

export interface Store {
  /** Applies the op at most once; a repeat returns the recorded outcome. */
  aplicar(op: OperacionSolicitada): Promise<Resultado>;
  /** Records the op as PENDIENTE (or returns its current outcome). */
  registrar(op: OperacionSolicitada): Promise<Resultado>;
  consultar(isbn: string): Promise<Resultado>;
  estado(id: string): Promise<Resultado>;
  pendientes(limite: number): Promise<Pendiente[]>;
}

const STATEMENTS = {
  lote: 'SELECT aplicar_lote($1::jsonb) AS r',
  consultar: 'SELECT consultar_libro($1) AS r',
  estado: 'SELECT estado_operacion($1) AS r',
  pendientes: 'SELECT listar_pendientes($1) AS r',
} as const;

/**
 * Locks follow one order (003_lotes.sql), so only an op id reused with another isbn can meet a
 * crossing batch in a deadlock; PostgreSQL aborts one, and the whole call is safe to repeat.
 */
const MAX_ATTEMPTS = 3;

/**
 * Batches running at once: one, as in PostgreSQL's own WAL group commit. While
 * it runs, the next batch forms; its size follows the load. Measured here (2
 * cores, 10 clients, `npm run bench`): one slot gives batches of ~3.8 writes and
 * ~600 µs of PostgreSQL CPU per op, two slots batches of ~2.2 and ~640–810 µs,
 * at the same throughput. PostgreSQL shares the CPU with every other process,
 * so fewer commits per op is what counts.
 */
export const BATCHES_IN_FLIGHT = 1;
/** Bounds how many book rows one transaction holds locked. */
export const MAX_BATCH = 32;

export interface StoreOptions {
  onBatch?(size: number): void;
}

type Write = { cmd: 'aplicar' | 'registrar'; op: OperacionSolicitada };

export function createStore(pool: pg.Pool, opts: StoreOptions = {}): Store {
  async function call<T>(name: keyof typeof STATEMENTS, values: unknown[]): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        const res = await pool.query<{ r: T }>({ name: `ga_${name}`, text: STATEMENTS[name], values });
        return res.rows[0]!.r;
      } catch (err) {
        if (attempt >= MAX_ATTEMPTS || !isRetryable(err)) throw err;
      }
    }
  }
  const writes = new WriteBatcher<Write, Resultado>({
    run: (items) =>
      call<Resultado[]>('lote', [JSON.stringify(items.map(({ cmd, op }) => ({ cmd, id: op.id, operacion: op.operacion, isbn: op.isbn, usuario: op.usuario, sede: op.sede ?? null })))]),
    maxInFlight: BATCHES_IN_FLIGHT,
    maxBatch: MAX_BATCH,
    // An unreachable database fails every op alike; anything else may be one op's fault.
    isolate: (err) => !isConnectionError(err),
    onBatch: opts.onBatch,
  });
  return {
    aplicar: (op) => writes.submit({ cmd: 'aplicar', op }),
    registrar: (op) => writes.submit({ cmd: 'registrar', op }),
    consultar: (isbn) => call<Resultado>('consultar', [isbn]),
    estado: (id) => call<Resultado>('estado', [id]),
    pendientes: (limite) => call<Pendiente[]>('pendientes', [limite]),
  };
}
