/**
 * CPU and wake accounting from /proc (scripts/bench/process-cpu.ts) on real processes: a
 * busy child is charged its CPU; a parent's tree includes a child it already reaped
 * (how a PostgreSQL postmaster keeps the time of backends that exited); a process that
 * sleeps and wakes is charged its wakes, and a child that exits never makes them negative;
 * two busy processes on one CPU are charged the preemptions they inflict on each other.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpuPerOp, cpuSnapshot, preemptionsPerOp, switchSnapshot, wakesPerOp } from '../../scripts/bench/process-cpu.js';

const kids: ChildProcess[] = [];
afterEach(() => {
  for (const k of kids.splice(0)) k.kill('SIGKILL');
});

function node(code: string): ChildProcess {
  const k = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  kids.push(k);
  return k;
}

/** Resolves when the child prints `line`. */
function says(k: ChildProcess, line: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let buf = '';
    k.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      if (buf.includes(line)) resolve();
    });
    k.once('exit', () => reject(new Error(`exited before saying ${line}`)));
  });
}

// Burns 0.4 s of its own CPU, however long a loaded machine takes to give it that much.
const BURN = 'const u0 = process.cpuUsage().user; while (process.cpuUsage().user - u0 < 400000);';

describe('process CPU from /proc', () => {
  it('charges a busy process its CPU, and an idle one almost none', async () => {
    const busy = node(`process.stdout.write('ready\\n'); setTimeout(() => { ${BURN} process.stdout.write('done\\n'); setInterval(() => {}, 1000); }, 50);`);
    const idle = node(`process.stdout.write('ready\\n'); setInterval(() => {}, 1000);`);
    await Promise.all([says(busy, 'ready'), says(idle, 'ready')]);
    const targets = [{ name: 'busy', pid: busy.pid! }, { name: 'idle', pid: idle.pid! }];
    const before = cpuSnapshot(targets);
    await says(busy, 'done');
    const after = cpuSnapshot(targets);
    const perOp = cpuPerOp(before, after, 100);
    // 0.4 s of CPU over 100 ops ≈ 4000 µs/op (scheduler and tick granularity aside).
    expect(perOp.busy).toBeGreaterThan(2500);
    expect(perOp.idle).toBeLessThan(500);
  });

  it('a tree includes children that already exited (reaped), like PostgreSQL backends', async () => {
    const parent = node(`
      const { spawnSync } = require('node:child_process');
      process.stdout.write('ready\\n');
      setTimeout(() => {
        spawnSync(process.execPath, ['-e', ${JSON.stringify(BURN)}]);
        process.stdout.write('done\\n');
        setInterval(() => {}, 1000);
      }, 50);`);
    await says(parent, 'ready');
    const targets = [{ name: 'own', pid: parent.pid! }, { name: 'tree', pid: parent.pid!, tree: true }];
    const before = cpuSnapshot(targets);
    await says(parent, 'done');
    const after = cpuSnapshot(targets);
    const perOp = cpuPerOp(before, after, 1);
    expect(perOp.tree! - perOp.own!).toBeGreaterThan(250_000);
  });

  it('counts the wakes of a process that sleeps and wakes, and hardly any for an idle one', async () => {
    // 200 timer wakes of 2 ms each: each one a block in epoll and a wake.
    const ticker = node(`process.stdout.write('ready\\n'); setTimeout(() => { let n = 0; const t = setInterval(() => { if (++n === 200) { clearInterval(t); process.stdout.write('done\\n'); setInterval(() => {}, 1000); } }, 2); }, 50);`);
    const idle = node(`process.stdout.write('ready\\n'); setInterval(() => {}, 1000);`);
    await Promise.all([says(ticker, 'ready'), says(idle, 'ready')]);
    const targets = [{ name: 'ticker', pid: ticker.pid! }, { name: 'idle', pid: idle.pid! }];
    const before = switchSnapshot(targets);
    await says(ticker, 'done');
    const perOp = wakesPerOp(before, switchSnapshot(targets), 100);
    expect(perOp.ticker).toBeGreaterThanOrEqual(1); // ≥ 100 of the 200 ticks (a late timer may find the next one due), per 100 ops
    expect(perOp.idle).toBeLessThan(0.5);
  });

  it("a tree's child that exits between snapshots is not subtracted: wakes never go negative", async () => {
    const parent = node(`
      const { spawn } = require('node:child_process');
      const k = spawn(process.execPath, ['-e', 'let n = 0; const t = setInterval(() => { if (++n === 300) process.exit(0); }, 1); process.stdout.write("")'], { stdio: 'ignore' });
      process.stdout.write('ready\\n');
      k.on('exit', () => { process.stdout.write('done\\n'); setInterval(() => {}, 1000); });`);
    await says(parent, 'ready');
    const targets = [{ name: 'tree', pid: parent.pid!, tree: true }, { name: 'own', pid: parent.pid! }];
    await new Promise((r) => setTimeout(r, 150)); // the child has woken ~100 times, far more than its idle parent will
    const before = switchSnapshot(targets);
    // The parent's threads and the child's.
    expect(before.get('tree')!.size).toBeGreaterThan(before.get('own')!.size);
    await says(parent, 'done');
    const w = wakesPerOp(before, switchSnapshot(targets), 1);
    // The gone child counts for nothing (not minus its ~100 earlier wakes): the tree's
    // wakes are its parent's own (±2 for the moment between the two reads).
    expect(w.tree).toBeGreaterThanOrEqual(0);
    expect(Math.abs(w.tree! - w.own!)).toBeLessThanOrEqual(2);
  });

  it('counts preemptions: two busy processes sharing one CPU switch each other out', async () => {
    // taskset: both on one CPU (the first this process may use), so each runs only when the scheduler preempts the other.
    const cpu = /^Cpus_allowed_list:\s*(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '0';
    const pinned = () => {
      const k = spawn('taskset', ['-c', cpu, process.execPath, '-e', `process.stdout.write('ready\\n'); setTimeout(() => { ${BURN} process.stdout.write('done\\n'); setInterval(() => {}, 1000); }, 100);`], { stdio: ['ignore', 'pipe', 'inherit'] });
      kids.push(k);
      return k;
    };
    const [a, b] = [pinned(), pinned()];
    const idle = node(`process.stdout.write('ready\\n'); setInterval(() => {}, 1000);`);
    await Promise.all([says(a, 'ready'), says(b, 'ready'), says(idle, 'ready')]);
    const targets = [{ name: 'a', pid: a.pid! }, { name: 'b', pid: b.pid! }, { name: 'idle', pid: idle.pid! }];
    const before = switchSnapshot(targets);
    await Promise.all([says(a, 'done'), says(b, 'done')]);
    const perOp = preemptionsPerOp(before, switchSnapshot(targets), 1);
    // Each burns 0.4 s while the other wants the same CPU: switched out every few ms.
    expect(perOp.a! + perOp.b!).toBeGreaterThanOrEqual(20);
    expect(perOp.idle).toBeLessThan(5);
  });

  it('a process that is gone reads as undefined and its figure as null', () => {
    const snap = cpuSnapshot([{ name: 'nadie', pid: 2 ** 22 + 12345 }]);
    expect(snap.get('nadie')).toBeUndefined();
    expect(cpuPerOp(snap, snap, 10)).toEqual({ nadie: null });
    const w = switchSnapshot([{ name: 'nadie', pid: 2 ** 22 + 12345 }]);
    expect(w.get('nadie')).toBeUndefined();
    expect(wakesPerOp(w, w, 10)).toEqual({ nadie: null });
    expect(preemptionsPerOp(w, w, 10)).toEqual({ nadie: null });
  });
});
