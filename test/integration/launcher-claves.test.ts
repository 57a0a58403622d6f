/** `npm run claves`: the deployment's key pairs written into its .env, once; replaced only when asked. */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import dotenv from 'dotenv';
import { afterAll, describe, expect, it } from 'vitest';
import { curvePublicKey } from '../../common/curve-keys.js';
import { DEPLOYMENT_IDENTITIES, envPrefix } from '../../scripts/launcher/deployment-keys.js';
import { ROOT } from '../harness/fixtures.js';

const CLI = path.join(ROOT, 'dist/scripts/launcher/claves.js');
const dir = mkdtempSync(path.join(tmpdir(), 'claves-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const claves = (...args: string[]) => spawnSync(process.execPath, [CLI, ...args], { cwd: dir, env: { ...process.env, INIT_CWD: dir }, encoding: 'utf8' });

describe('npm run claves', () => {
  it('fills the example .env with one valid key pair per identity, mode 0600, other lines untouched', () => {
    const env = path.join(dir, '.env');
    copyFileSync(path.join(ROOT, 'deploy/.env.example'), env);
    const r = claves();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/7 pares de claves CURVE .* escritos en .*\.env \(modo 0600\)/);
    expect(statSync(env).mode & 0o777).toBe(0o600);
    const parsed = dotenv.parse(readFileSync(env));
    for (const id of DEPLOYMENT_IDENTITIES) {
      const p = envPrefix(id);
      expect(curvePublicKey(parsed[`${p}_SECRET`]!), id).toBe(parsed[`${p}_PUBLIC`]);
    }
    const secrets = DEPLOYMENT_IDENTITIES.map((id) => parsed[`${envPrefix(id)}_SECRET`]);
    expect(new Set(secrets).size).toBe(DEPLOYMENT_IDENTITIES.length);
    const example = dotenv.parse(readFileSync(path.join(ROOT, 'deploy/.env.example')));
    for (const [k, v] of Object.entries(example)) if (!k.startsWith('CURVE_')) expect(parsed[k], k).toBe(v);
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
    expect(Object.keys(b).sort()).toEqual(Object.keys(a).sort());
    expect(readFileSync(env, 'utf8').match(/^# CURVE keys of this deployment/gm)).toHaveLength(1);
  });

  it('--stdout prints a block and writes nothing; --env names another file', () => {
    const out = execFileSync(process.execPath, [CLI, '--stdout'], { cwd: dir, encoding: 'utf8' });
    expect(Object.keys(dotenv.parse(out))).toHaveLength(2 * DEPLOYMENT_IDENTITIES.length);
    expect(claves('--env', 'otro.env').status).toBe(0);
    expect(Object.keys(dotenv.parse(readFileSync(path.join(dir, 'otro.env'))))).toHaveLength(2 * DEPLOYMENT_IDENTITIES.length);
  });
});
