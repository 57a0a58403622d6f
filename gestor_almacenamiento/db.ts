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

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ECONNABORTED']);
/** SQLSTATEs meaning the server is going away, not accepting us, or not writable (a standby). */
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '57P05', '53300', '25006', '58030', '57014']);

/**
 * True when the error says PostgreSQL is unreachable or unusable, as opposed to a bad query.
 * A pool ended by a takeover's switch counts too: the client retries on the new one.
 */
export function isConnectionError(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (NETWORK_CODES.has(code) || UNAVAILABLE_SQLSTATES.has(code) || code.startsWith('08')) return true;
  }
  const msg = (err as { message?: unknown }).message;
  if (typeof msg === 'string') {
    return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection ended|not queryable|Client was closed|Cannot use a pool after calling end/i.test(msg);
  }
  return false;
}

/** Connection errors raised before a statement could reach the server: nothing it asked for was done. */
const BEFORE_SEND_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', '57P03', '57P05', '53300', '08001', '08004']);

/**
 * A connection error after which a write may have committed all the same: the connection
 * broke while its statement ran (reset, terminated, the server shutting down mid-query, which
 * with synchronous replication can come after the local commit). A refused or failed connect,
 * a read-only server (25006) or a cancelled statement (57014) did nothing.
 */
export function mayHaveCommitted(err: unknown): boolean {
  if (!isConnectionError(err)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (BEFORE_SEND_CODES.has(code) || code === '25006' || code === '57014')) return false;
  const msg = (err as { message?: unknown }).message;
  return !(typeof msg === 'string' && /timeout exceeded when trying to connect|not queryable|Client was closed|Cannot use a pool after calling end/i.test(msg));
}

/**
 * 55P03 lock_not_available: a write gave up waiting for a row another transaction
 * holds (store.ts WRITE_LOCK_WAIT_MS). The database is reachable; that row is busy.
 */
export function isLockTimeout(err: unknown): boolean {
  return (err as { code?: unknown } | undefined)?.code === '55P03';
}

/** Serialization failure / deadlock: safe to retry the whole function call. */
export function isRetryable(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  return code === '40001' || code === '40P01';
}
