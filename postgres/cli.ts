/**
 * Operator commands for the PostgreSQL pair, on the host of the node concerned:
 *
 *   node dist/postgres/cli.js status --node 127.0.1.1:54329 [--primary 127.0.1.2:54329]
 *       role, timeline, LSN; standbys and their lag (primary) or receive state and lag (standby)
 *
 *   node dist/postgres/cli.js rejoin --data .data/pc1/pg --listen 127.0.1.1:54329 \
 *        --primary 127.0.1.2:54329 [--name pc1] [--primary-data .data/pc2/pg] [--reclone]
 *       Brings a former primary back as the new standby. It is restarted in
 *       standby mode first (it never comes up read-write on its old timeline);
 *       if it diverged it is wiped and re-cloned from the current primary
 *       (over SQL, or by file copy when --primary-data is given). --reclone skips
 *       the attempt and re-clones at once. Exit 0 = streaming; 1 = failed.
 *
 *   node dist/postgres/cli.js promote --node 127.0.1.2:54329
 *       promotes a standby (clears synchronous_standby_names first), prints the new timeline
 *
 * Credentials: PGUSER / PGPASSWORD (or PGPASSWORD_FILE) / PGDATABASE, read as the GA reads them.
 * Result: one JSON object on stdout; pino logs on stderr.
 */
import 'dotenv/config';
import { Command, InvalidArgumentError } from 'commander';
import { pino } from 'pino';
import { existsSync, realpathSync } from 'node:fs';
import { pgRole, promote, replicationStatus, standbyStatus, withAdminClient, type PgConn } from './admin.js';
import { reclone, restartAsStandby } from './rejoin.js';
import { guardStdio } from '../common/stdio-guard.js';
import { intArg, spanishHelp } from '../common/cli-args.js';
import { readConfig } from '../common/config.js';

// A closed stdout (`| head`) must not kill the command.
guardStdio();

const log = pino({ level: process.env.LOG_LEVEL ?? 'info', base: { proc: 'pg-cli', pid: process.pid } }, pino.destination(2));

function hostPort(v: string): { host: string; port: number } {
  const m = /^([^:\s]+):(\d{1,5})$/.exec(v);
  if (!m || Number(m[2]) > 65535) throw new InvalidArgumentError('se esperaba host:puerto');
  return { host: m[1]!, port: Number(m[2]) };
}

function conn(hp: { host: string; port: number }): PgConn {
  // Same validation, defaults and PGPASSWORD_FILE as the GA.
  const c = readConfig(['PGUSER', 'PGPASSWORD', 'PGDATABASE']);
  return { ...hp, user: c.PGUSER, password: c.PGPASSWORD, database: c.PGDATABASE };
}

function print(o: unknown): void {
  process.stdout.write(`${JSON.stringify(o, null, 2)}\n`);
}

const program = spanishHelp(new Command()).name('npm run pg --').description('operaciones del par de PostgreSQL: estado, promover, reincorporar un antiguo primario como standby del nuevo');

program
  .command('status')
  .description('el papel del nodo (primario o standby), su timeline y su replicación, en JSON')
  .requiredOption('--node <host:port>', 'el nodo a describir', hostPort)
  .option('--primary <host:port>', 'su primario, para medir en bytes el retraso de un standby', hostPort)
  .action(async (o: { node: { host: string; port: number }; primary?: { host: string; port: number } }) => {
    const node = conn(o.node);
    const role = await pgRole(node);
    if (!role.inRecovery) print({ node: `${node.host}:${node.port}`, pgRole: 'primary', ...role, standbys: await replicationStatus(node) });
    else print({ node: `${node.host}:${node.port}`, pgRole: 'standby', ...role, standby: await standbyStatus(node, o.primary ? { primary: conn(o.primary) } : {}) });
  });

program
  .command('promote')
  .description('promueve un standby a primario (lo hace el par de GA; esto es a mano)')
  .requiredOption('--node <host:port>', 'el standby a promover', hostPort)
  .action(async (o: { node: { host: string; port: number } }) => {
    const r = await promote(conn(o.node));
    log.warn({ node: `${o.node.host}:${o.node.port}`, ...r }, r.promoted ? 'standby promoted' : 'already a primary');
    print(r);
  });

program
  .command('rejoin')
  .description('arranca un antiguo primario como standby del primario actual; lo vuelve a clonar si divergió')
  .requiredOption('--data <dir>', 'directorio de datos del nodo a reincorporar')
  .requiredOption('--listen <host:port>', 'dirección y puerto en que escucha ese nodo', hostPort)
  .requiredOption('--primary <host:port>', 'el primario actual', hostPort)
  .option('--name <name>', 'application_name y nombre de slot de este standby', 'pc1')
  .option('--primary-data <dir>', 'el directorio de datos del primario, si está en esta máquina (copia de ficheros en vez de SQL)')
  .option('--reclone', 'borra y vuelve a clonar sin intentar seguirlo antes')
  .option('--timeout-ms <ms>', 'cuánto esperar el streaming antes de darlo por divergido', intArg(1000), 5000)
  .action(async (o: { data: string; listen: { host: string; port: number }; primary: { host: string; port: number }; name: string; primaryData?: string; reclone?: boolean; timeoutMs: number }) => {
    const primary = conn(o.primary);
    const spec = { dataDir: o.data, ...o.listen };
    // Rejoin stops what runs on --data and may wipe it: never the primary it is told to follow.
    if (o.listen.host === o.primary.host && o.listen.port === o.primary.port) throw new Error(`--listen y --primary son el mismo servidor (${o.primary.host}:${o.primary.port}): reincorporarlo pararía y borraría el primario`);
    const role = await pgRole(primary);
    if (role.inRecovery) throw new Error(`${primary.host}:${primary.port} no es un primario (está en recuperación)`);
    const primaryData = await withAdminClient(primary, async (c) => (await c.query<{ data_directory: string }>('SHOW data_directory')).rows[0]?.data_directory);
    if (primaryData && existsSync(o.data) && existsSync(primaryData) && realpathSync(primaryData) === realpathSync(o.data)) {
      throw new Error(`--data ${o.data} es el directorio de datos del primario ${primary.host}:${primary.port}: reincorporarlo pararía y borraría el primario`);
    }
    let outcome: 'streaming' | 'diverged' | 'recloned' = 'diverged';
    if (!o.reclone) outcome = await restartAsStandby({ ...spec, newPrimary: primary, slot: o.name, applicationName: o.name, timeoutMs: o.timeoutMs, log });
    let clone: { totalMs: number; bytes: number } | undefined;
    if (outcome !== 'streaming') {
      const r = await reclone({ ...spec, primary, primaryDataDir: o.primaryData, slot: o.name, applicationName: o.name, log });
      clone = { totalMs: r.totalMs, bytes: r.bytes };
      outcome = 'recloned';
    }
    print({ node: `${o.listen.host}:${o.listen.port}`, primary: `${primary.host}:${primary.port}`, outcome, timeline: role.timeline, ...(clone ? { clone } : {}) });
  });

try {
  await program.parseAsync();
} catch (err) {
  // A sentence for the operator, not a log line.
  process.stderr.write(`Error: ${(err as Error).message}\n`);
  process.exitCode = 1;
}
