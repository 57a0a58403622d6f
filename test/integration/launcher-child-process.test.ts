/**
 * A system process that dies while starting: the error says how it ended and
 * shows the end of its log (a test's temp dir, and the file, are gone by the
 * time anyone reads the report). A launcher that dies without stopping its
 * processes (SIGKILL) leaves no orphans: they stop themselves.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ManagedProcess } from '../../scripts/launcher/child-process.js';
import { procState } from '../../common/proc.js';
import { eventually } from '../harness/eventually.js';
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

it('a launcher killed with SIGKILL takes its children with it: each stops itself, in order, within a second or two', async () => {
  // A launcher of one real process (the panel), as npm start starts its processes.
  const launcher = path.join(dir, 'launcher.mjs');
  const port = await freePort();
  const childLog = path.join(dir, 'panel.log');
  const childProcessJs = path.resolve('dist/scripts/launcher/child-process.js');
  await writeFile(
    launcher,
    `import { ManagedProcess } from ${JSON.stringify(childProcessJs)};
const p = new ManagedProcess({ name: 'panel', script: ${JSON.stringify(path.resolve('dist/panel/main.js'))},
  args: ['--gc', 'pc1=http://127.0.0.1:9', '--host', '127.0.0.1', '--puerto', '${port}'],
  env: { LOG_LEVEL: 'info' }, logFile: ${JSON.stringify(childLog)}, httpHost: '127.0.0.1', httpPort: ${port} }).start();
await p.waitHealthy(20000);
process.stdout.write(JSON.stringify({ pid: p.pid }) + '\\n');
setInterval(() => {}, 1000);
`,
  );
  const proc = spawn(process.execPath, [launcher], { stdio: ['ignore', 'pipe', 'inherit'] });
  let childPid: number | undefined;
  try {
    childPid = await new Promise<number>((resolve, reject) => {
      let buf = '';
      proc.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        const line = buf.split('\n').find((l) => l.startsWith('{'));
        if (line) resolve((JSON.parse(line) as { pid: number }).pid);
      });
      proc.once('exit', (code) => reject(new Error(`launcher exited (${code}) before its child was healthy`)));
    });
    expect(procState(childPid)).toMatch(/^[RS]$/);
    proc.kill('SIGKILL');
    const pid = childPid;
    // Gone (or a zombie nobody reaps here): it stopped itself.
    const t = Date.now();
    await eventually(`the orphaned panel (pid ${pid}) to stop itself`, () => [undefined, 'Z'].includes(procState(pid)), 10_000);
    const stoppedMs = Date.now() - t;
    expect(stoppedMs).toBeLessThan(5000);
    const log = await readFile(childLog, 'utf8');
    expect(log).toContain('the launcher that started this process is gone');
    expect(log).toMatch(/"signal":"launcher gone".*"msg":"stopping"/);
    // Its port is free again.
    await expect(fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(1000) })).rejects.toThrow();
  } finally {
    proc.kill('SIGKILL');
    if (childPid && procState(childPid) && procState(childPid) !== 'Z') process.kill(childPid, 'SIGKILL');
  }
});
