/** `biblioteca help` (the image's entry script) prints its header comment and no code. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const script = readFileSync(fileURLToPath(new URL('../../deploy/biblioteca.sh', import.meta.url)), 'utf8');
const dir = mkdtempSync(join(tmpdir(), 'biblioteca-help-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('biblioteca help', () => {
  it('prints the usage header without the leading "# " and stops before the first line of code', () => {
    // The script runs in /app inside the image; here it runs in place of that.
    const copy = join(dir, 'biblioteca.sh');
    writeFileSync(copy, script.replace(/^cd \/app$/m, ':'));
    const out = execFileSync('sh', [copy, 'help'], { encoding: 'utf8' });
    const header = script
      .split('\n')
      .slice(1)
      .filter((_, i, a) => a.slice(0, i + 1).every((l) => l.startsWith('#')))
      .map((l) => l.replace(/^# ?/, ''));
    expect(out).toBe(header.join('\n') + '\n');
    expect(out).toMatch(/^Entry point of the biblioteca image/);
    expect(out).toContain('biblioteca health [port]');
    expect(out).not.toMatch(/set -eu|^#/m);
  });
});
