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
import { BatchConnection } from './batch-connection.js';
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
  /** Closes the batches' connection once what was sent finished (the pool is the caller's). */
  close(): Promise<void>;
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
 * Batches in flight at once, on ONE pipelined connection (batch-connection.ts): one
 * runs while the next waits on the wire behind it, so PostgreSQL runs them back to
 * back, one at a time, as in its own WAL group commit; the batch after those forms
 * meanwhile, its size following the load. Measured here (2 cores, 10 clients, two
 * systems side by side, ABBA): against one batch at a time on a pooled connection,
 * 10 of 14 pairs faster, +5 % throughput on average; two batches at once on two
 * connections instead: −9 % (PostgreSQL's CPU per op +25 %: smaller batches and two
 * backends fighting over the same pages); three in the pipeline: no better than two.
 */
export const BATCHES_IN_FLIGHT = 2;
/** Bounds how many book rows one transaction holds locked. */
export const MAX_BATCH = 32;
/**
 * Writes waiting behind the batches at most (WriteBatcher.maxQueued): ~10 MB. Normally a few
 * dozen; many more only when batches stop coming back (a frozen backend, commits held for a
 * silent sync standby), and then clients have long given up on them.
 */
const MAX_QUEUED_WRITES = 10_000;

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
  /** A deadlock or serialization failure aborted the call: it committed nothing, run it again. */
  async function retried<T>(run: () => Promise<pg.QueryResult<{ r: T }>>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return (await run()).rows[0]!.r;
      } catch (err) {
        if (attempt >= MAX_ATTEMPTS || !isRetryable(err)) throw err;
      }
    }
  }
  const statement = (name: keyof typeof STATEMENTS, values: unknown[]): pg.QueryConfig => ({ name: `ga_${name}`, text: STATEMENTS[name], values });
  const call = <T>(name: keyof typeof STATEMENTS, values: unknown[]) => retried<T>(() => pool.query<{ r: T }>(statement(name, values)));
  const loteValues = (items: Write[], esperar: boolean) => [
    JSON.stringify(
      items.map((w) => {
        const { op } = w;
        const arriendo = w.cmd === 'registrar' && w.arriendo ? { gestor: w.arriendo.gestor, arriendoMs: w.arriendo.ms } : {};
        return { cmd: w.cmd, id: op.id, operacion: op.operacion, isbn: op.isbn, usuario: op.usuario, sede: op.sede ?? null, etiqueta: op.etiqueta ?? null, ...arriendo };
      }),
    ),
    esperar,
    WRITE_LOCK_WAIT_MS,
  ];
  // The batches' own connection, with the pool's settings (server, credentials, statement_timeout,
  // application_name). pg-pool keeps the password out of a spread of its options (not enumerable).
  const batches = new BatchConnection({ ...pool.options, password: pool.options.password });
  const writes = new WriteBatcher<Write, Resultado>({
    // A batch skips books other transactions hold: null = left undone, run alone.
    run: async (items) =>
      (await retried<(Resultado | null)[]>(() => batches.query(statement('lote', loteValues(items, false))))).map((r) => r ?? undefined),
    runAlone: async (item) => {
      const r = (await call<(Resultado | null)[]>('lote', loteValues([item], true)))[0];
      if (!r) throw new Error('aplicar_lote left a lone op undone');
      return r;
    },
    maxInFlight: BATCHES_IN_FLIGHT,
    maxBatch: MAX_BATCH,
    maxQueued: MAX_QUEUED_WRITES,
    // Ops waiting alone for a lock hold a connection each: leave the other half of the pool to batches and reads.
    maxAside: Math.max(1, Math.floor((pool.options.max ?? 10) / 2)),
    // With the lock wait, still inside the client's attempt: "busy, nothing applied" arrives in time.
    maxAsideWaitMs: WRITE_LOCK_WAIT_MS,
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
    close: () => batches.close(),
  };
}
