/**
 * The PostgreSQL node the GA talks to right now: its pool and store, replaceable
 * at a takeover (the backup may move from its standby to the surviving primary).
 * Callers read `store`/`pool` per request, so a switch takes effect at once.
 *
 * Requests already running on the old pool keep it until they finish: a switch
 * starts `end()` on it (and on the old store's batch connection) in the background,
 * which lets checked-out clients and batches already sent finish.
 * If the old node is dead they fail as ALMACENAMIENTO_NO_DISPONIBLE and the client
 * retries with the same op id (idempotent).
 */
import type pg from 'pg';
import type { Logger } from '../common/logger.js';
import { createPool, type PoolOptions } from './db.js';
import { sameServer, type PgConn } from '../postgres/admin.js';
import { within } from '../common/within.js';
import { createStore, type Store, type StoreOptions } from './store.js';

export class StorageTarget {
  private current: { node: PgConn; pool: pg.Pool; store: Store };
  private readonly retired: Promise<unknown>[] = [];

  constructor(
    node: PgConn,
    private readonly poolOptions: PoolOptions,
    private readonly log: Logger,
    private readonly storeOptions: StoreOptions = {},
  ) {
    this.current = this.open(node);
  }

  get node(): PgConn {
    return this.current.node;
  }

  get pool(): pg.Pool {
    return this.current.pool;
  }

  get store(): Store {
    return this.current.store;
  }

  is(node: PgConn): boolean {
    return sameServer(node, this.current.node);
  }

  switchTo(node: PgConn): void {
    if (this.is(node)) return;
    const old = this.current;
    this.current = this.open(node);
    this.log.warn({ from: `${old.node.host}:${old.node.port}`, to: `${node.host}:${node.port}` }, 'PostgreSQL pool switched');
    this.retired.push(old.store.close(), old.pool.end().catch(() => undefined));
  }

  /** Ends every pool and batch connection; one stuck on a dead node is abandoned after `timeoutMs`. */
  async close(timeoutMs = 3000): Promise<void> {
    const all = Promise.all([this.current.store.close(), this.current.pool.end().catch(() => undefined), ...this.retired]);
    await within(all, timeoutMs);
  }

  private open(node: PgConn) {
    const pool = createPool(node, this.poolOptions, this.log);
    return { node, pool, store: createStore(pool, this.storeOptions) };
  }
}
