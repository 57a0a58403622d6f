/**
 * Versioned schema migrations: `migrations/NNN_name.sql`, applied in order,
 * each in its own transaction and recorded in `schema_migrations`. A session
 * advisory lock makes a second GA starting at the same time wait instead of
 * applying the same file twice.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import type { Logger } from '../common/logger.js';
import { projectRoot } from '../common/project-root.js';

/** Arbitrary constant shared by every GA: "biblioteca migrations". */
const MIGRATION_LOCK_KEY = 7_245_118_001;

export interface Migration {
  version: string; // "001"
  name: string; // "001_esquema.sql"
  sql: string;
  checksum: string;
}

function migrationsDir(): string {
  return path.join(projectRoot(), 'gestor_almacenamiento', 'migrations');
}

export function loadMigrations(dir: string = migrationsDir()): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d{3,}_[\w-]+\.sql$/.test(f))
    .sort()
    .map((name) => {
      const sql = readFileSync(path.join(dir, name), 'utf8');
      return { version: name.split('_')[0]!, name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    });
}

/** Applies pending migrations; returns the names applied now. */
export async function migrate(pool: pg.Pool, log: Logger, dir?: string): Promise<string[]> {
  const migrations = loadMigrations(dir);
  const client = await pool.connect();
  const applied: string[] = [];
  let broken: Error | undefined;
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      // Create only when missing: on a read-only standby with the schema already replicated, a
      // fully migrated database then needs no write at all.
      const exists = await client.query<{ t: string | null }>(`SELECT to_regclass('schema_migrations')::text AS t`);
      if (!exists.rows[0]?.t) await client.query(`CREATE TABLE schema_migrations (
        version text PRIMARY KEY, name text NOT NULL, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
      const done = new Map<string, { name: string; checksum: string }>();
      for (const r of (await client.query<{ version: string; name: string; checksum: string }>('SELECT version, name, checksum FROM schema_migrations')).rows) {
        done.set(r.version, r);
      }
      for (const m of migrations) {
        const prev = done.get(m.version);
        if (prev) {
          // An edited, already-applied file is a mistake worth shouting about, but not worth refusing to start.
          if (prev.checksum !== m.checksum) log.warn({ migration: m.name, applied: prev.name }, 'migration file changed after it was applied; add a new migration instead');
          continue;
        }
        await client.query('BEGIN');
        try {
          await client.query(m.sql);
          await client.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [m.version, m.name, m.checksum]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw new Error(`Migration ${m.name} failed: ${(err as Error).message}`, { cause: err });
        }
        applied.push(m.name);
        log.info({ migration: m.name }, 'migration applied');
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    }
  } catch (err) {
    broken = err as Error;
    throw err;
  } finally {
    // A failed session may be mid-transaction or dead: drop it rather than return it to the pool.
    client.release(broken);
  }
  return applied;
}
