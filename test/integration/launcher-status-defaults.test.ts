/** `npm run status` with no flags asks what a plain `npm start` runs (two GAs, two GCs); explicit flags replace the defaults. Needs dist/. */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const cli = fileURLToPath(new URL('../../dist/scripts/launcher/status.js', import.meta.url));

/** The targets status asked, from its --json output (exit 1 when none answers is fine here). */
async function targets(args: string[]): Promise<Array<{ tipo: string; url: string }>> {
  const r = await run(process.execPath, [cli, '--json', '--timeout', '300', ...args], { timeout: 15_000 }).catch((e: { stdout: string }) => e);
  return (JSON.parse(r.stdout) as Array<{ tipo: string; url: string }>).map(({ tipo, url }) => ({ tipo, url }));
}

describe('status defaults', () => {
  it("default: both GAs and both GCs (pc1, pc2) of npm start's two-hosts topology", async () => {
    expect(await targets([])).toEqual([
      { tipo: 'ga', url: 'http://127.0.1.1:9570' },
      { tipo: 'ga', url: 'http://127.0.1.2:9570' },
      { tipo: 'gc', url: 'http://127.0.0.1:9555' },
      { tipo: 'gc', url: 'http://127.0.1.2:9555' },
    ]);
  });

  it('explicit --ga/--gc (repeatable) replace the defaults; --no-gc drops the GCs', async () => {
    expect(await targets(['--ga', 'http://127.0.0.1:1', '--gc', 'http://127.0.0.1:2'])).toEqual([
      { tipo: 'ga', url: 'http://127.0.0.1:1' },
      { tipo: 'gc', url: 'http://127.0.0.1:2' },
    ]);
    expect((await targets(['--gc', 'http://127.0.0.1:2', '--gc', 'http://127.0.0.1:3'])).filter((t) => t.tipo === 'gc')).toEqual([
      { tipo: 'gc', url: 'http://127.0.0.1:2' },
      { tipo: 'gc', url: 'http://127.0.0.1:3' },
    ]);
    expect(await targets(['--no-gc'])).toEqual([
      { tipo: 'ga', url: 'http://127.0.1.1:9570' },
      { tipo: 'ga', url: 'http://127.0.1.2:9570' },
    ]);
  });
});
