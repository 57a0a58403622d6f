/**
 * GA command line: `serve` (default: migrate, then serve), `migrate`,
 * `cargar-catalogo <archivo>`. Configuration comes from the environment
 * (and `.env`), validated by common/config.ts.
 */
import '../common/env.js';
import { guardStdio } from '../common/stdio-guard.js';
import { Command } from 'commander';
import { spanishHelp } from '../common/cli-args.js';
import { ConfigError, GA_VARS, REPLICATION_VARS, readConfig, type GaConfig } from '../common/config.js';
import { createLogger, type Logger } from '../common/logger.js';
import { exitWith, readConfigOrExit, stopOnSignals } from '../common/process-lifecycle.js';
import { userPath } from '../common/user-path.js';
import { CatalogError } from './catalog.js';
import { describeLoad, loadCatalogFile } from './catalog-command.js';
import { createPool } from './db.js';
import { startGa } from './ga.js';
import { newRegistry } from '../common/http-server.js';
import { socketSecurityFromConfig } from '../common/socket-security.js';
import { migrate } from './migrate.js';

guardStdio();

function config(): GaConfig {
  return readConfig(GA_VARS);
}

function poolFor(cfg: GaConfig, log: Logger) {
  return createPool({ host: cfg.PGHOST, port: cfg.PGPORT, user: cfg.PGUSER, password: cfg.PGPASSWORD, database: cfg.PGDATABASE }, { max: 2 }, log);
}

async function serve(): Promise<void> {
  // A pair member (GA_PEER_ENDPOINT set) migrates only once active, and runs the
  // sync-replication watchdog (GA_REPLICACION=sync) only while active.
  const log = createLogger('ga');
  const cfg = readConfigOrExit([...GA_VARS, ...REPLICATION_VARS], log);
  const registry = newRegistry('ga');
  const security = await socketSecurityFromConfig(cfg, { log, registry }).start();
  const ga = await startGa(cfg, log, { registry, security });
  stopOnSignals(log, async () => {
    await ga.close();
    await security.close();
  });
}

async function migrateOnly(): Promise<void> {
  const cfg = config();
  const log = createLogger('ga');
  const pool = poolFor(cfg, log);
  try {
    const applied = await migrate(pool, log);
    process.stdout.write(applied.length ? `Migraciones aplicadas: ${applied.join(', ')}\n` : 'El esquema ya estaba al día\n');
  } finally {
    await pool.end();
  }
}

async function cargarCatalogo(archivo: string): Promise<void> {
  const cfg = config();
  const log = createLogger('ga');
  const file = userPath(archivo);
  const r = await loadCatalogFile({ host: cfg.PGHOST, port: cfg.PGPORT, user: cfg.PGUSER, password: cfg.PGPASSWORD, database: cfg.PGDATABASE }, file, log);
  process.stdout.write(`${describeLoad(archivo, r)}\n`);
}

function fail(err: unknown): never {
  if (err instanceof ConfigError) {
    process.stderr.write(`Configuración inválida (${err.variable}): ${err.message}\n`);
  } else if (err instanceof CatalogError) {
    process.stderr.write(`Catálogo rechazado, no se cambió nada: ${err.message}\n`);
  } else {
    process.stderr.write(`Error: ${err instanceof Error ? err.message : String(err)}\n`);
  }
  process.exit(1);
}

const program = spanishHelp(new Command())
  .name('gestor_almacenamiento')
  .description('Gestor de almacenamiento (GA): único proceso que accede a PostgreSQL');
program
  .command('serve', { isDefault: true })
  .description('aplica las migraciones y atiende solicitudes (por defecto)')
  // A long-running process: a failed start is a pino line (fatal) too, like the GC's and the actors'.
  .action(() => serve().catch((err: unknown) => exitWith(createLogger('ga'), `El GA no pudo arrancar: ${err instanceof Error ? err.message : String(err)}`, { err })));
program.command('migrate').description('aplica las migraciones pendientes y termina').action(() => migrateOnly().catch(fail));
program
  .command('cargar-catalogo')
  .argument('<archivo>', 'CSV (isbn,titulo,autor,ejemplares) o JSON [{isbn,titulo,autor,ejemplares}]')
  .description('carga o actualiza el catálogo de libros en una sola transacción')
  .action((archivo: string) => cargarCatalogo(archivo).catch(fail));

program.parseAsync(process.argv).catch(fail);
