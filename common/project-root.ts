/**
 * Locates files shipped beside the sources (migrations, catalogs, web assets). The same
 * code runs as TS under vitest (<folder>/*.ts) and compiled (dist/<folder>/*.js), and
 * tsc does not copy .sql/.csv/.js assets: so walk up to the project root (the directory
 * with package.json) and resolve from there.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export function projectRoot(from: string = path.dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  for (;;) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`No package.json above ${from}`);
    dir = parent;
  }
}
