/** `npm run claves`: the deployment's key pairs (and empty passwords) written into its .env, once; keys replaced only when asked, passwords never. */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import dotenv from 'dotenv';
import { afterAll, describe, expect, it } from 'vitest';
import { curvePublicKey } from '../../common/curve-keys.js';
import { DEPLOYMENT_IDENTITIES, envPrefix } from '../../scripts/launcher/deployment-keys.js';
import { DEPLOYMENT_PASSWORDS } from '../../scripts/launcher/deployment-passwords.js';
import { ROOT } from '../harness/fixtures.js';

const CLI = path.join(ROOT, 'dist/scripts/launcher/claves.js');
const dir = mkdtempSync(path.join(tmpdir(), 'claves-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const claves = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { cwd: dir, env: { ...process.env, INIT_CWD: dir }, encoding: 'utf8' });

describe('npm run claves', () => {
  it('fills the example .env with one valid key pair per identity, mode 0600, other lines untouched', () => {
    const env = path.join(dir, '.env');
    copyFileSync(path.join(ROOT, 'deploy/.env.example'), env);
    const copied = statSync(env);
    expect(copied.mode & 0o077).not.toBe(0); // readable by others, as a copy usually is
    const r = claves();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/7 pares de claves CURVE .* escritos en .*\.env \(modo 0600\)/);
    expect(statSync(env).mode & 0o777).toBe(0o600);
    // A new file renamed over the copy: the secrets never sat in the readable one.
    expect(statSync(env).ino).not.toBe(copied.ino);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    const parsed = dotenv.parse(readFileSync(env));
    for (const id of DEPLOYMENT_IDENTITIES) {
      const p = envPrefix(id);
      expect(curvePublicKey(parsed[`${p}_SECRET`]!), id).toBe(parsed[`${p}_PUBLIC`]);
    }
    const secrets = DEPLOYMENT_IDENTITIES.map((id) => parsed[`${envPrefix(id)}_SECRET`]);
    expect(new Set(secrets).size).toBe(DEPLOYMENT_IDENTITIES.length);
    // The example's empty passwords get random ones, each its own; every other line stays.
    expect(r.stdout).toMatch(/Contraseñas aleatorias para DB_PASSWORD, DB_REPLICATION_PASSWORD, GRAFANA_ADMIN_PASSWORD/);
    const passwords = DEPLOYMENT_PASSWORDS.map((k) => parsed[k]!);
    for (const p of passwords) expect(p).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(new Set(passwords).size).toBe(DEPLOYMENT_PASSWORDS.length);
    const example = dotenv.parse(readFileSync(path.join(ROOT, 'deploy/.env.example')));
    for (const [k, v] of Object.entries(example)) {
      if (!k.startsWith('CURVE_') && !(DEPLOYMENT_PASSWORDS as readonly string[]).includes(k)) expect(parsed[k], k).toBe(v);
    }
  });

  it('keeps a password the user set, and fills a missing one', () => {
    const env = path.join(dir, 'propio.env');
    writeFileSync(env, "PC1_ADDR=10.0.0.1\nDB_PASSWORD='mi clave #1'\nGRAFANA_ADMIN_PASSWORD=  # vacía\n");
    expect(claves('--env', 'propio.env').status).toBe(0);
    const parsed = dotenv.parse(readFileSync(env));
    expect(parsed.DB_PASSWORD).toBe('mi clave #1');
    expect(parsed.PC1_ADDR).toBe('10.0.0.1');
    expect(parsed.GRAFANA_ADMIN_PASSWORD).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(parsed.DB_REPLICATION_PASSWORD).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('refuses to replace keys unless asked, and then changes only the keys', () => {
    const env = path.join(dir, '.env');
    const before = readFileSync(env, 'utf8');
    const again = claves();
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/ya tiene claves CURVE; no se cambió nada/);
    expect(readFileSync(env, 'utf8')).toBe(before);
    expect(claves('--reemplazar').status).toBe(0);
    const [a, b] = [dotenv.parse(before), dotenv.parse(readFileSync(env))];
    expect(b.CURVE_GC_PC1_SECRET).not.toBe(a.CURVE_GC_PC1_SECRET);
    for (const k of DEPLOYMENT_PASSWORDS) expect(b[k], k).toBe(a[k]); // never a password: PostgreSQL has it
    expect(Object.keys(b).sort()).toEqual(Object.keys(a).sort());
    expect(readFileSync(env, 'utf8').match(/^# CURVE keys of this deployment/gm)).toHaveLength(1);
  });

  it('keys written as `export CURVE_…=` (dotenv reads them) count as keys: refused without --reemplazar, replaced (not duplicated) with it', () => {
    const env = path.join(dir, 'export.env');
    expect(claves('--env', 'export.env').status).toBe(0);
    const exported = readFileSync(env, 'utf8').replace(/^CURVE_/gm, 'export CURVE_');
    writeFileSync(env, exported, { mode: 0o600 });
    const again = claves('--env', 'export.env');
    expect(again.status).toBe(1);
    expect(readFileSync(env, 'utf8')).toBe(exported);
    expect(claves('--env', 'export.env', '--reemplazar').status).toBe(0);
    const text = readFileSync(env, 'utf8');
    expect(text).not.toMatch(/^export CURVE_/m);
    expect(text.match(/^CURVE_GC_PC1_SECRET=/gm)).toHaveLength(1);
    expect(dotenv.parse(text).CURVE_GC_PC1_SECRET).not.toBe(dotenv.parse(exported).CURVE_GC_PC1_SECRET);
  });

  it('--stdout prints a block and writes nothing; --env names another file', () => {
    const out = execFileSync(process.execPath, [CLI, '--stdout'], { cwd: dir, encoding: 'utf8' });
    expect(Object.keys(dotenv.parse(out))).toHaveLength(2 * DEPLOYMENT_IDENTITIES.length);
    expect(claves('--env', 'otro.env').status).toBe(0);
    expect(Object.keys(dotenv.parse(readFileSync(path.join(dir, 'otro.env'))))).toHaveLength(2 * DEPLOYMENT_IDENTITIES.length + DEPLOYMENT_PASSWORDS.length);
  });
});
