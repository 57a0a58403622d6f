/**
 * A system process started by the local launcher: spawned with its own
 * environment, logs appended to a file, health polled over its HTTP port, and
 * killed (also with SIGKILL, for drills) or restarted on demand.
 *
 * The child writes its log file itself (its stdout and stderr are that file, opened
 * O_APPEND), not through pipes the launcher copies: a launcher that dies without
 * stopping it (SIGKILL) would leave it writing into a closed pipe, where its logger
 * retries forever and its orderly stop never runs. Its stop on the launcher's death
 * is common/process-lifecycle.ts (LANZADOR_PID).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { within } from '../../common/within.js';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ChildSpec {
  name: string;
  script: string; // path to a compiled .js entry
  args?: string[];
  env: Record<string, string>;
  logFile: string;
  /** Port of the process's HTTP endpoint (/health). */
  httpPort?: number;
  httpHost?: string;
  /** Simulated host this process belongs to (pc1, pc2, …): a host's processes are killed together. */
  host?: string;
  /** Network namespace to run in (`ip netns exec <netns> node …`, root only); default: this process's own. */
  netns?: string;
}

const live = new Set<ChildProcess>();
// If the launcher exits for any reason, take its children with it.
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

export class ManagedProcess {
  private child?: ChildProcess;
  private exitedP: Promise<number | null> = Promise.resolve(null);
  /** Settles once the child's stdout and stderr are closed too (after 'exit'). */
  private closedP: Promise<void> = Promise.resolve();

  constructor(readonly spec: ChildSpec) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  start(): this {
    const argv = [this.spec.script, ...(this.spec.args ?? [])];
    // `ip netns exec` execs the command in place: the child's pid is node's own, so kill() still hits it.
    const [cmd, args] = this.spec.netns ? ['ip', ['netns', 'exec', this.spec.netns, process.execPath, ...argv]] : [process.execPath, argv];
    const log = openSync(this.spec.logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(cmd, args, {
        // LANZADOR_PID: the child stops itself if this launcher dies without stopping it.
        env: { ...process.env, ...this.spec.env, LANZADOR_PID: String(process.pid) },
        stdio: ['ignore', log, log],
        // A session of its own: a terminal's Ctrl-C (SIGINT) or hang-up (SIGHUP) goes to the
        // launcher's process group only, and the launcher stops its children in order. In the
        // launcher's group they got it too, all at once, and SIGHUP killed them outright.
        detached: true,
      });
    } finally {
      closeSync(log); // the child holds its own copy
    }
    this.child = child;
    live.add(child);
    this.closedP = new Promise((resolve) => child.once('close', () => resolve()));
    this.exitedP = new Promise((resolve) => {
      child.once('exit', (code) => {
        live.delete(child);
        resolve(code);
      });
    });
    return this;
  }

  /** Resolves once GET /health answers 200; rejects if the process exits first or time runs out. */
  async waitHealthy(timeoutMs = 30_000): Promise<void> {
    if (!this.spec.httpPort) return;
    const url = `http://${this.spec.httpHost ?? '127.0.0.1'}:${this.spec.httpPort}/health`;
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`${this.spec.name} exited during start-up (${this.child?.signalCode ?? `code ${this.child?.exitCode}`}); see ${this.spec.logFile}${await this.logTail()}`);
      try {
        const r = await fetch(url, { signal: AbortSignal.timeout(1000) });
        if (r.ok) return;
      } catch {
        // not listening yet
      }
      await sleep(50);
    }
    throw new Error(`${this.spec.name} not healthy after ${timeoutMs} ms; see ${this.spec.logFile}`);
  }

  /** The log's last lines, for an error that would otherwise only name the file (a test's temp dir is gone by the time anyone looks). */
  private async logTail(lines = 5): Promise<string> {
    // The exit is reported a moment before the child's stdio is closed: let it finish.
    await within(this.closedP, 1000);
    const tail = await this.lastLines(lines);
    return tail ? `; last lines:\n${tail}` : '';
  }

  /** The last lines its log holds now (the child writes the file itself). */
  async lastLines(lines = 5): Promise<string> {
    const text = await readFile(this.spec.logFile, 'utf8').catch(() => '');
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  }

  async status<T = unknown>(): Promise<T | undefined> {
    if (!this.spec.httpPort) return undefined;
    try {
      const r = await fetch(`http://${this.spec.httpHost ?? '127.0.0.1'}:${this.spec.httpPort}/status`, { signal: AbortSignal.timeout(1000) });
      return r.ok ? ((await r.json()) as T) : undefined;
    } catch {
      return undefined;
    }
  }

  /** Sends a signal and waits for the exit; SIGTERM escalates to SIGKILL after graceMs. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await this.exitedP;
    clearTimeout(timer);
  }

  /** SIGSTOP / SIGCONT: a process that stops answering without dying (a frozen VM, a long pause), for drills. */
  freeze(): void {
    if (this.running) this.child!.kill('SIGSTOP');
  }

  thaw(): void {
    if (this.running) this.child!.kill('SIGCONT');
  }

  /** SIGKILL, no grace: a crash, for drills. */
  async kill(): Promise<void> {
    await this.stop('SIGKILL', 0);
  }

  async restart(): Promise<void> {
    await this.stop();
    this.start();
    await this.waitHealthy();
  }
}
