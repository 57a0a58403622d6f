/**
 * End-to-end harness: the real system (embedded PostgreSQL, GA, GC, actors as
 * child processes) with the test's books as its catalog, plus direct SQL checks.
 */
import pg from 'pg';
import { startLocalSystem, type LocalSystem, type LocalSystemOptions } from '../../scripts/launcher/local-system.js';
import { GcPipelineClient } from '../../solicitante/gc-pipeline.js';

export { effectLedgerMismatches, invariantViolations } from '../../gestor_almacenamiento/consistency.js';

export interface Libro {
  isbn: string;
  ejemplares: number;
  /** Default `Libro <isbn>`. */
  titulo?: string;
}

export interface TestSystem extends LocalSystem {
  db: pg.Pool;
  client(opts?: { timeoutMs?: number; retries?: number }): GcPipelineClient;
}

export async function startTestSystem(libros: Libro[], opts: Omit<LocalSystemOptions, 'catalog' | 'libros'> = {}): Promise<TestSystem> {
  const sys = await startLocalSystem({
    ...opts,
    libros: libros.map((l) => ({ isbn: l.isbn, titulo: l.titulo ?? `Libro ${l.isbn}`, autor: 'Autor de prueba', ejemplares: l.ejemplares })),
    env: { LOG_LEVEL: 'info', ...opts.env },
  });
  const db = new pg.Pool({ ...sys.pg, max: 4 });
  db.on('error', () => undefined);
  const clients: GcPipelineClient[] = [];
  return {
    ...sys,
    db,
    client: (o = {}) => {
      const c = new GcPipelineClient({ endpoints: [sys.gcEndpoint], timeoutMs: o.timeoutMs ?? 5000, retries: o.retries ?? 3 });
      clients.push(c);
      return c;
    },
    stop: async () => {
      for (const c of clients) c.close();
      await db.end().catch(() => undefined);
      await sys.stop();
    },
  };
}
