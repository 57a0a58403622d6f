/**
 * Loading a catalog file into one PostgreSQL, as a command does it: the file is
 * validated first (a bad line is named and nothing is touched), then the schema
 * is brought up to date and the load runs in one transaction. Shared by the GA's
 * `cargar-catalogo` and `npm run catalogo` (the running local system).
 */
import type { Logger } from '../common/logger.js';
import { loadCatalog, readCatalogFile, type CatalogLoadReport } from './catalog.js';
import { createPool } from './db.js';
import type { PgConn } from '../postgres/admin.js';
import { migrate } from './migrate.js';

export async function loadCatalogFile(pg: PgConn, file: string, log: Logger): Promise<CatalogLoadReport> {
  const libros = await readCatalogFile(file); // validate before touching the database
  const pool = createPool(pg, { max: 2, applicationName: 'cargar-catalogo' }, log);
  try {
    await migrate(pool, log);
    return await loadCatalog(pool, libros);
  } finally {
    await pool.end();
  }
}

export function describeLoad(file: string, r: CatalogLoadReport): string {
  return `Catálogo ${file}: ${r.insertados} libro(s) nuevo(s), ${r.actualizados} actualizado(s), ${r.sinCambios} sin cambios`;
}
