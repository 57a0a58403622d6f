/**
 * common/scheduling.ts on real processes: a process that applies the policy runs every
 * thread under it, and what it starts afterwards inherits it (how PostgreSQL and the
 * system's processes follow npm start); PLANIFICADOR=normal keeps SCHED_OTHER.
 * Read back from /proc through the bench's own reader (process-cpu.ts schedulingPolicies).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { schedulingPolicies } from '../../scripts/bench/process-cpu.js';

const kids: ChildProcess[] = [];
const grandchildren: number[] = [];
afterEach(() => {
  for (const pid of grandchildren.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const k of kids.splice(0)) k.kill('SIGKILL');
});

const MODULE = pathToFileURL(resolve('dist/common/scheduling.js')).href;

/**
 * A Node process started under the other policy (`from`: so applying one is seen to change
 * it, whatever the test runner's own policy) that applies the configured one, starts
 * `sleep`, and prints the outcome, the sleep's pid and its own policy before applying.
 */
async function applyIn(env: Record<string, string>, from: 'batch' | 'other'): Promise<{ pid: number; outcome: { planificador: string; aplicado: boolean }; sleeper: number; before: string }> {
  const code = `
    const { useSchedulingPolicy } = await import(${JSON.stringify(MODULE)});
    const { spawn } = await import('node:child_process');
    const { readFileSync } = await import('node:fs');
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const before = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[38];
    const outcome = useSchedulingPolicy();
    const s = spawn('sleep', ['60'], { stdio: 'ignore' });
    process.stdout.write(JSON.stringify({ outcome, sleeper: s.pid, before }) + '\\n');
    setInterval(() => {}, 1000);`;
  // chrt execs node: the child's pid is node's.
  const k = spawn('chrt', [`--${from}`, '0', process.execPath, '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  kids.push(k);
  const line = await new Promise<string>((res, rej) => {
    let buf = '';
    k.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      if (buf.includes('\n')) res(buf.split('\n')[0]!);
    });
    k.once('exit', (c) => rej(new Error(`exited (${c}) before reporting`)));
  });
  const r = JSON.parse(line) as { outcome: { planificador: string; aplicado: boolean }; sleeper: number; before: string };
  grandchildren.push(r.sleeper);
  return { pid: k.pid!, ...r };
}

/** Every thread of a process as a target of its own. */
const threadsOf = (pid: number) => readdirSync(`/proc/${pid}/task`).map((tid) => ({ name: `${pid}/${tid}`, pid: Number(tid) }));

describe('scheduling policy', () => {
  it('batch (the default): every thread of the process, and the process it starts afterwards', async () => {
    const p = await applyIn({ PLANIFICADOR: '' }, 'other');
    expect(p.before).toBe('0'); // SCHED_OTHER until it applied the policy
    expect(p.outcome).toEqual({ planificador: 'batch', aplicado: true });
    expect(threadsOf(p.pid).length).toBeGreaterThan(1); // V8's and libuv's threads too
    expect(schedulingPolicies([...threadsOf(p.pid), { name: 'sleep', pid: p.sleeper }])).toBe('SCHED_BATCH');
  });

  it('normal puts it back under SCHED_OTHER', async () => {
    const p = await applyIn({ PLANIFICADOR: 'normal' }, 'batch');
    expect(p.before).toBe('3'); // SCHED_BATCH until it applied the policy
    expect(p.outcome).toEqual({ planificador: 'normal', aplicado: true });
    expect(schedulingPolicies([...threadsOf(p.pid), { name: 'sleep', pid: p.sleeper }])).toBe('SCHED_OTHER');
  });

  it('names each process when their policies differ', async () => {
    const [a, b] = await Promise.all([applyIn({ PLANIFICADOR: 'batch' }, 'other'), applyIn({ PLANIFICADOR: 'normal' }, 'batch')]);
    expect(schedulingPolicies([{ name: 'a', pid: a.pid }, { name: 'b', pid: b.pid }])).toBe('a SCHED_BATCH, b SCHED_OTHER');
  });
});
