/**
 * The GA's PostgreSQL pool and the one place that decides whether an error
 * means "storage unreachable" (retry elsewhere / later) or "bug".
 */
import pg from 'pg';
import type { Logger } from '../common/logger.js';
import type { PgConn } from '../postgres/admin.js';


export interface PoolOptions {
  max: number;
  /** Waiting for a connection (new or from the pool) longer than this fails the call as unavailable. */
  connectionTimeoutMillis?: number;
  /** Server-side cap per statement: a stuck lock must not hold a pool slot forever. */
  statementTimeoutMillis?: number;
  applicationName?: string;
}

export function createPool(pgs: PgConn, o: PoolOptions, log: Logger): pg.Pool {
  const pool = new pg.Pool({
    host: pgs.host,
    port: pgs.port,
    user: pgs.user,
    password: pgs.password,
    database: pgs.database,
    max: o.max,
    connectionTimeoutMillis: o.connectionTimeoutMillis ?? 3000,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
    statement_timeout: o.statementTimeoutMillis ?? 10_000,
    application_name: o.applicationName ?? 'gestor_almacenamiento',
  });
  // An idle client whose server went away emits 'error' on the pool; unhandled it would crash the GA.
  pool.on('error', (err) => log.warn({ err: err.message }, 'idle PostgreSQL connection lost'));
  // Checked-out clients get a listener too: the pool's own listener is only attached while idle.
  pool.on('connect', (client) => client.on('error', (err) => log.debug({ err: err.message }, 'PostgreSQL client error')));
  return pool;
}

/**
 * Connection-level errors in two kinds. Nothing done: raised before a statement could reach
 * the server (refused or failed connect, a client or pool already closed), or refused or
 * cancelled by it (read-only standby 25006, statement cancelled 57014: rolled back).
 * Broken: the connection broke while a statement may have been running (reset, terminated,
 * the server shutting down mid-query), so a write may have committed all the same.
 */
const NOTHING_DONE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', '57P03', '57P05', '53300', '25006', '57014', '08001', '08004']);
const BROKEN_CODES = new Set(['ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ECONNABORTED', '57P01', '57P02', '58030']);
const NOTHING_DONE_MESSAGE = /timeout exceeded when trying to connect|not queryable|Client was closed|Cannot use a pool after calling end/i;
const BROKEN_MESSAGE = /Connection terminated|Client has encountered a connection error|Connection ended/i;

const codeOf = (err: unknown): string | undefined => {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
};
const messageOf = (err: unknown): string => {
  const msg = (err as { message?: unknown } | undefined)?.message;
  return typeof msg === 'string' ? msg : '';
};

/**
 * True when the error says PostgreSQL is unreachable or unusable, as opposed to a bad query.
 * A pool ended by a takeover's switch counts too: the client retries on the new one.
 */
export function isConnectionError(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const code = codeOf(err);
  if (code && (NOTHING_DONE_CODES.has(code) || BROKEN_CODES.has(code) || code.startsWith('08'))) return true;
  const msg = messageOf(err);
  return NOTHING_DONE_MESSAGE.test(msg) || BROKEN_MESSAGE.test(msg);
}

/**
 * A connection error after which a write may have committed all the same: the broken kind
 * above (with synchronous replication a shutdown mid-query can come after the local commit).
 */
export function mayHaveCommitted(err: unknown): boolean {
  if (!isConnectionError(err)) return false;
  const code = codeOf(err);
  return !(code && NOTHING_DONE_CODES.has(code)) && !NOTHING_DONE_MESSAGE.test(messageOf(err));
}

/**
 * 55P03 lock_not_available: a write gave up waiting for a row another transaction
 * holds (store.ts WRITE_LOCK_WAIT_MS). The database is reachable; that row is busy.
 */
export function isLockTimeout(err: unknown): boolean {
  return codeOf(err) === '55P03';
}

/** Serialization failure / deadlock: safe to retry the whole function call. */
export function isRetryable(err: unknown): boolean {
  const code = codeOf(err);
  return code === '40001' || code === '40P01';
}
