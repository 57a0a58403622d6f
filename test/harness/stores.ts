/**
 * Stores opened by a test file. Each store has a batch connection of its own
 * (gestor_almacenamiento/batch-connection.ts) that the pool's end() does not close:
 * close them all in afterAll, before the pool.
 */
import pg from 'pg';
import { createStore, type Store, type StoreOptions } from '../../gestor_almacenamiento/store.js';

export function storeTracker(): { open(pool: pg.Pool, opts?: StoreOptions): Store; closeAll(): Promise<void> } {
  const opened: Store[] = [];
  return {
    open(pool, opts) {
      const s = createStore(pool, opts);
      opened.push(s);
      return s;
    },
    async closeAll() {
      await Promise.all(opened.splice(0).map((s) => s.close()));
    },
  };
}
