/**
 * `npm run claves -- [--env <file>] [--reemplazar] [--stdout]`: the CURVE key
 * pairs of a compose deployment (scripts/launcher/deployment-keys.ts: each GC, each GA,
 * the actors of each host), written as a block of CURVE_<IDENTITY>_PUBLIC /
 * _SECRET variables into the deployment's .env (default `.env` where you ran
 * npm), which the compose files turn into each container's ZMQ_CURVE_* settings.
 *
 * Empty passwords of the .env (DB_PASSWORD, DB_REPLICATION_PASSWORD,
 * GRAFANA_ADMIN_PASSWORD) get random ones in the same write
 * (scripts/launcher/deployment-passwords.ts); a password already set is kept.
 *
 * A .env that already has keys is left alone unless --reemplazar: new keys on
 * one host and not the others would lock the hosts out of each other.
 * --reemplazar replaces keys only, never a password (PostgreSQL has it since its
 * first start). The file is written with mode 0600 (it holds secrets).
 */
import { chownSync, existsSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { Command } from 'commander';
import { spanishHelp } from '../../common/cli-args.js';
import { guardStdio } from '../../common/stdio-guard.js';
import { userPath } from '../../common/user-path.js';
import { DEPLOYMENT_IDENTITIES, envBlock, generateKeys, hasKeys, withKeyBlock } from './deployment-keys.js';
import { withPasswords } from './deployment-passwords.js';

export class ClavesError extends Error {
  override name = 'ClavesError';
}

/** Writes a fresh key block, and passwords where empty, into `file`; returns what it did, for the user. Refuses to replace keys unless asked. */
export function writeKeys(file: string, o: { replace?: boolean; now?: Date } = {}): string {
  const before = existsSync(file) ? readFileSync(file, 'utf8') : '';
  if (hasKeys(before) && !o.replace) {
    throw new ClavesError(`${file} ya tiene claves CURVE; no se cambió nada. Para generar otras: --reemplazar (y copie el .env nuevo a todos los hosts antes de reiniciarlos)`);
  }
  const keys = generateKeys(DEPLOYMENT_IDENTITIES);
  const { text, filled } = withPasswords(before);
  // A new file (mode 0600 from its first byte) renamed over the old one: writing secrets into a
  // .env copied from the example (0644) and then chmod-ing would leave them readable meanwhile.
  // Through a symlinked .env to its target; an existing file keeps its owner (claves run with sudo).
  const target = existsSync(file) ? realpathSync(file) : file;
  const owner = existsSync(target) ? statSync(target) : undefined;
  const tmp = `${target}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, withKeyBlock(text, envBlock(keys, o.now)), { mode: 0o600, flag: 'wx' });
    if (owner && process.getuid?.() === 0) chownSync(tmp, owner.uid, owner.gid);
    renameSync(tmp, target);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  const passwords = filled.length ? ` Contraseñas aleatorias para ${filled.join(', ')} (estaban vacías).` : '';
  return `${DEPLOYMENT_IDENTITIES.length} pares de claves CURVE (${DEPLOYMENT_IDENTITIES.join(', ')}) escritos en ${file} (modo 0600).${passwords} Copie el mismo .env a cada host.`;
}

function main(): void {
  guardStdio();
  const program = spanishHelp(new Command())
    .name('npm run claves --')
    .description('genera los pares de claves CURVE de un despliegue (pc1, pc2, pc3) y las contraseñas vacías, y los escribe en su .env')
    .option('--env <fichero>', 'el .env del despliegue', '.env')
    .option('--reemplazar', 'sustituye las claves que el .env ya tenga (nunca una contraseña)')
    .option('--stdout', 'escribe el bloque de claves en la salida estándar, sin tocar ningún fichero')
    .parse();
  const o = program.opts<{ env: string; reemplazar?: boolean; stdout?: boolean }>();
  if (o.stdout) {
    process.stdout.write(envBlock(generateKeys(DEPLOYMENT_IDENTITIES)));
    return;
  }
  try {
    process.stdout.write(`${writeKeys(userPath(o.env), { replace: o.reemplazar })}\n`);
  } catch (err) {
    process.stderr.write(`${err instanceof ClavesError ? '' : 'Error: '}${(err as Error).message}\n`);
    process.exit(1);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
