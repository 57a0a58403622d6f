/**
 * A system process that dies while starting: the error says how it ended and
 * shows the end of its log (a test's temp dir, and the file, are gone by the
 * time anyone reads the report).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ManagedProcess } from '../../scripts/launcher/child-process.js';
import { freePort } from '../harness/ports.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'child-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

it('exited during start-up: the exit code and the last lines of its log are in the error', async () => {
  const script = path.join(dir, 'dies.mjs');
  await writeFile(script, "for (let i = 1; i <= 8; i++) console.log(JSON.stringify({ level: 50, msg: `line ${i}` }));\nconsole.log('listen EADDRINUSE: address already in use');\nprocess.exit(3);\n");
  const p = new ManagedProcess({ name: 'gc-test', script, env: {}, logFile: path.join(dir, 'gc-test.log'), httpPort: await freePort() }).start();
  const err = await p.waitHealthy(10_000).then(() => undefined, (e: unknown) => e as Error);
  expect(err?.message).toMatch(/^gc-test exited during start-up \(code 3\); see .*gc-test\.log; last lines:\n/);
  expect(err?.message).toContain('EADDRINUSE');
  expect(err?.message).toContain('line 8');
  expect(err?.message).not.toContain('line 3'); // only the tail
});
