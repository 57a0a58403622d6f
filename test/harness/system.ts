/**
 * End-to-end harness: the real system (embedded PostgreSQL, GA, GC, actors as
 * child processes) with a catalog the test writes, plus direct SQL checks.
 */
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startLocalSystem, type LocalSystem, type LocalSystemOptions } from '../../scripts/local-system.js';
import { GcPipelineClient } from '../../solicitante/gc-pipeline.js';

export { effectLedgerMismatches, invariantViolations } from '../../gestor_almacenamiento/consistency.js';

export interface Libro {
  isbn: string;
  ejemplares: number;
}

export interface TestSystem extends LocalSystem {
  db: pg.Pool;
  client(opts?: { timeoutMs?: number; retries?: number }): GcPipelineClient;
}

export async function startTestSystem(libros: Libro[], opts: Omit<LocalSystemOptions, 'catalog'> = {}): Promise<TestSystem> {
  const dir = mkdtempSync(join(tmpdir(), 'biblioteca-cat-'));
  const catalog = join(dir, 'catalogo.csv');
  writeFileSync(catalog, ['isbn,titulo,autor,ejemplares', ...libros.map((l) => `${l.isbn},Libro ${l.isbn},Autor de prueba,${l.ejemplares}`)].join('\n') + '\n');
  let sys: LocalSystem;
  try {
    sys = await startLocalSystem({ ...opts, catalog, env: { LOG_LEVEL: 'info', ...opts.env } });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const db = new pg.Pool({ ...sys.pg, max: 4 });
  db.on('error', () => undefined);
  const clients: GcPipelineClient[] = [];
  return {
    ...sys,
    db,
    client: (o = {}) => {
      const c = new GcPipelineClient({ endpoint: sys.gcEndpoint, timeoutMs: o.timeoutMs ?? 5000, retries: o.retries ?? 3 });
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

export async function pendingOps(db: pg.Pool): Promise<number> {
  const r = await db.query(`SELECT count(*)::int AS n FROM operaciones WHERE estado = 'PENDIENTE'`);
  return r.rows[0].n as number;
}

export async function waitFor(cond: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
