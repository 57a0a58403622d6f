/**
 * The image's entry script (deploy/biblioteca.sh): `help` prints its header comment and
 * no code; `health` (every container's healthcheck) passes on a 200 from /health only.
 */
import { execFile, execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const script = readFileSync(fileURLToPath(new URL('../../deploy/biblioteca.sh', import.meta.url)), 'utf8');
const dir = mkdtempSync(join(tmpdir(), 'biblioteca-help-'));
// The script runs in /app inside the image; here it runs in place of that.
const copy = join(dir, 'biblioteca.sh');
writeFileSync(copy, script.replace(/^cd \/app$/m, ':'));
const servers: { close(): unknown }[] = [];
afterAll(() => {
  for (const s of servers) s.close();
  rmSync(dir, { recursive: true, force: true });
});

async function listen<T extends Server | ReturnType<typeof createTcpServer>>(server: T): Promise<number> {
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

/** `biblioteca health <port>` as Docker runs it, asking 127.0.0.1 (async: the servers are in this process). */
const health = (port: number) =>
  new Promise<{ status: number | null; stderr: string }>((resolve) => {
    execFile('sh', [copy, 'health', String(port)], { env: { ...process.env, HTTP_HOST: '127.0.0.1' }, timeout: 10_000 }, (err, _out, stderr) =>
      resolve({ status: err ? ((err as { code?: number }).code ?? null) : 0, stderr }),
    );
  });

describe('biblioteca (the image entry script)', () => {
  it('prints the usage header without the leading "# " and stops before the first line of code', () => {
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

  it('health: 0 on a 200 from /health; 1 on a 503, a closed port, or a port that never answers', async () => {
    const paths: string[] = [];
    const sano = await listen(createServer((req, res) => (paths.push(req.url ?? ''), res.writeHead(200).end('{"sano":true}'))));
    const enfermo = await listen(createServer((_req, res) => res.writeHead(503).end('{"sano":false}')));
    const mudo = await listen(createTcpServer(() => undefined)); // accepts, never answers
    const cerrado = await listen(createTcpServer());
    servers.pop()!.close();
    await new Promise((r) => setTimeout(r, 50));

    expect(await health(sano)).toEqual({ status: 0, stderr: '' });
    expect(paths).toEqual(['/health']);
    expect(await health(enfermo)).toMatchObject({ status: 1, stderr: expect.stringMatching(/answered 503/) });
    expect((await health(cerrado)).status).toBe(1);
    expect(await health(mudo)).toMatchObject({ status: 1, stderr: expect.stringMatching(/no answer from/) });
  });
});
