/**
 * The GA's data access: every call is ONE round trip to a PL/pgSQL function
 * (migrations/002_operaciones.sql … 006_arriendos.sql) through a named prepared
 * statement, so PostgreSQL parses and plans it once per connection.
 * The rules live in SQL; this module only carries values in and results out.
 *
 * Writes (aplicar, registrar) go through a WriteBatcher: under load the ones
 * that queue up share one transaction and one commit (`aplicar_lote`). A batch
 * never waits for a book another transaction holds: it leaves that book's ops
 * undone and they run alone, outside the batch slot, waiting at most
 * WRITE_LOCK_WAIT_MS (004_lotes_sin_espera.sql).
 */
import type pg from 'pg';
import type { Arriendo, GestorVisto, InformeGc, Pendiente } from '../common/protocol/internal.js';
import type { OperacionSolicitada, Resultado } from '../common/protocol/ps-gc.js';
import { isConnectionError, isRetryable } from './db.js';
import { WriteBatcher } from './write-batcher.js';

export interface Store {
  /** Applies the op at most once; a repeat returns the recorded outcome. */
  aplicar(op: OperacionSolicitada): Promise<Resultado>;
  /** Records the op as PENDIENTE (or returns its current outcome); with `arriendo`, the GC takes its lease when free. */
  registrar(op: OperacionSolicitada, arriendo?: Arriendo): Promise<Resultado>;
  consultar(isbn: string): Promise<Resultado>;
  consultarTitulo(titulo: string): Promise<Resultado>;
  estado(id: string): Promise<Resultado>;
  pendientes(limite: number): Promise<Pendiente[]>;
  /** One GC's heartbeat to the ledger: its report recorded, its leases renewed, orphaned rows claimed (reclamar_pendientes). */
  reclamar(gestor: InformeGc, arriendoMs: number, limite: number): Promise<{ pendientes: Pendiente[]; gestores: GestorVisto[] }>;
}

const STATEMENTS = {
  lote: 'SELECT aplicar_lote($1::jsonb, $2::boolean, $3::integer) AS r',
  consultar: 'SELECT consultar_libro($1) AS r',
  consultarTitulo: 'SELECT consultar_titulo($1) AS r',
  estado: 'SELECT estado_operacion($1) AS r',
  pendientes: 'SELECT listar_pendientes($1) AS r',
  reclamar: 'SELECT reclamar_pendientes($1::jsonb, $2::integer, $3::integer) AS r',
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

/**
 * Longest a write waits for one row lock (SET LOCAL lock_timeout), then fails
 * with 55P03 and commits nothing. Well below the storage client's per-attempt
 * GA_TIMEOUT_MS (1 s by default): the GA's "nothing applied" must reach the client
 * before it gives up the attempt (it would then only know "no answer": outcome
 * unknown); the client resends the same op id, which waits again.
 */
export const WRITE_LOCK_WAIT_MS = 300;

export interface StoreOptions {
  onBatch?(size: number): void;
}

type Write = { cmd: 'aplicar'; op: OperacionSolicitada } | { cmd: 'registrar'; op: OperacionSolicitada; arriendo?: Arriendo };

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
  const lote = (items: Write[], esperar: boolean) =>
    call<(Resultado | null)[]>('lote', [
      JSON.stringify(
        items.map((w) => {
          const { op } = w;
          const arriendo = w.cmd === 'registrar' && w.arriendo ? { gestor: w.arriendo.gestor, arriendoMs: w.arriendo.ms } : {};
          return { cmd: w.cmd, id: op.id, operacion: op.operacion, isbn: op.isbn, usuario: op.usuario, sede: op.sede ?? null, etiqueta: op.etiqueta ?? null, ...arriendo };
        }),
      ),
      esperar,
      WRITE_LOCK_WAIT_MS,
    ]);
  const writes = new WriteBatcher<Write, Resultado>({
    // A batch skips books other transactions hold: null = left undone, run alone.
    run: async (items) => (await lote(items, false)).map((r) => r ?? undefined),
    runAlone: async (item) => {
      const r = (await lote([item], true))[0];
      if (!r) throw new Error('aplicar_lote left a lone op undone');
      return r;
    },
    maxInFlight: BATCHES_IN_FLIGHT,
    maxBatch: MAX_BATCH,
    // Ops waiting alone for a lock hold a connection each: leave the other half of the pool to batches and reads.
    maxAside: Math.max(1, Math.floor((pool.options.max ?? 10) / 2)),
    // An unreachable database (or a statement timeout: PostgreSQL too slow for all alike) fails
    // every op alike; anything else, a lock timeout (55P03) included, may be one op's fault.
    isolate: (err) => !isConnectionError(err),
    onBatch: opts.onBatch,
  });
  return {
    aplicar: (op) => writes.submit({ cmd: 'aplicar', op }),
    registrar: (op, arriendo) => writes.submit({ cmd: 'registrar', op, arriendo }),
    consultar: (isbn) => call<Resultado>('consultar', [isbn]),
    consultarTitulo: (titulo) => call<Resultado>('consultarTitulo', [titulo]),
    estado: (id) => call<Resultado>('estado', [id]),
    pendientes: (limite) => call<Pendiente[]>('pendientes', [limite]),
    reclamar: (gestor, arriendoMs, limite) => call<{ pendientes: Pendiente[]; gestores: GestorVisto[] }>('reclamar', [JSON.stringify(gestor), arriendoMs, limite]),
  };
}
