/**
 * The GA's data access: each operation is ONE round trip to a PL/pgSQL
 * function (migrations/002_operaciones.sql) through a named prepared
 * statement, so PostgreSQL parses and plans it once per connection.
 * The rules live in SQL; this module only carries values in and results out.
 */
import type pg from 'pg';
import type { Pendiente } from '../common/internal-protocol.js';
import type { OperacionSolicitada, Resultado } from '../common/protocol.js';
import { isRetryable } from './db.js';

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
  aplicar: 'SELECT aplicar_operacion($1, $2, $3, $4, $5) AS r',
  registrar: 'SELECT registrar_operacion($1, $2, $3, $4, $5) AS r',
  consultar: 'SELECT consultar_libro($1) AS r',
  estado: 'SELECT estado_operacion($1) AS r',
  pendientes: 'SELECT listar_pendientes($1) AS r',
} as const;

/** Our locks follow one order so deadlocks should not happen; if one does, the whole call is safe to repeat. */
const MAX_ATTEMPTS = 3;

export function createStore(pool: pg.Pool): Store {
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
  const opValues = (op: OperacionSolicitada) => [op.id, op.operacion, op.isbn, op.usuario, op.sede ?? null];
  return {
    aplicar: (op) => call<Resultado>('aplicar', opValues(op)),
    registrar: (op) => call<Resultado>('registrar', opValues(op)),
    consultar: (isbn) => call<Resultado>('consultar', [isbn]),
    estado: (id) => call<Resultado>('estado', [id]),
    pendientes: (limite) => call<Pendiente[]>('pendientes', [limite]),
  };
}
