/**
 * A path the user typed, resolved where the user typed it. `npm run` runs scripts
 * in the package root, so a relative `solicitudes.txt` or `--json carga.json`
 * would otherwise be read from, or written into, the repo root; npm puts the
 * directory it was called from in INIT_CWD.
 */
import { isAbsolute, resolve } from 'node:path';

export function userPath(p: string, env: NodeJS.ProcessEnv = process.env): string {
  return isAbsolute(p) ? p : resolve(env.INIT_CWD || process.cwd(), p);
}
