/**
 * CPU time of processes, read from /proc, so a benchmark can charge each
 * process's CPU to the operations a phase ran (µs of CPU per operation: a
 * figure that does not move with the machine's background noise the way
 * throughput does).
 *
 * A process's CPU is utime + stime of /proc/<pid>/stat. With `tree`, also its
 * live children's and the children it already reaped (cutime + cstime): a
 * PostgreSQL postmaster's backends come and go during a phase, and a backend
 * that exits moves its time from "live child" into its parent's cutime, so the
 * tree's total stays continuous across snapshots.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { allPids, procStatFields } from '../../common/proc.js';
import type { LocalSystem } from '../launcher/local-system.js';

/** Linux's USER_HZ: /proc reports times in 1/100 s on every architecture Node runs on. */
const TICKS_PER_S = 100;

interface Stat {
  ppid: number;
  /** utime + stime, ticks. */
  own: number;
  /** cutime + cstime, ticks: children it waited for. */
  reaped: number;
}

function readStat(pid: number): Stat | undefined {
  const f = procStatFields(pid);
  return f && { ppid: Number(f[1]), own: Number(f[11]) + Number(f[12]), reaped: Number(f[13]) + Number(f[14]) };
}

/** Direct children of each pid, from one scan of /proc. */
function childrenOf(pids: Set<number>): Map<number, number[]> {
  const out = new Map<number, number[]>();
  for (const pid of allPids()) {
    const st = readStat(pid);
    if (st && pids.has(st.ppid)) out.set(st.ppid, [...(out.get(st.ppid) ?? []), pid]);
  }
  return out;
}

export interface CpuTarget {
  /** What the report calls it: 'GC', 'actor prestamo-1', 'PostgreSQL pc1', … */
  name: string;
  pid: number;
  /** Count its children too (PostgreSQL: the postmaster and its backends). */
  tree?: boolean;
}

/** CPU seconds used so far by each target (undefined: the process is gone). */
export function cpuSnapshot(targets: readonly CpuTarget[]): Map<string, number | undefined> {
  const trees = new Set(targets.filter((t) => t.tree).map((t) => t.pid));
  const kids = trees.size ? childrenOf(trees) : new Map<number, number[]>();
  const out = new Map<string, number | undefined>();
  for (const t of targets) {
    const st = readStat(t.pid);
    if (!st) {
      out.set(t.name, undefined);
      continue;
    }
    let ticks = st.own;
    if (t.tree) ticks += st.reaped + (kids.get(t.pid) ?? []).reduce((n, k) => n + (readStat(k)?.own ?? 0), 0);
    out.set(t.name, ticks / TICKS_PER_S);
  }
  return out;
}

/** µs of CPU per operation of each target between two snapshots (null where a process was missing in either). */
export function cpuPerOp(before: Map<string, number | undefined>, after: Map<string, number | undefined>, ops: number): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const [name, b] of before) {
    const a = after.get(name);
    out[name] = a === undefined || b === undefined || ops <= 0 ? null : Math.round(((a - b) * 1e6) / ops);
  }
  return out;
}

/** Context switches of one thread so far: blocked and woken again, or preempted while it could run. */
export interface ThreadSwitches {
  voluntary: number;
  involuntary: number;
}

/**
 * Context switches so far of each target, per thread: its own threads' and (with `tree`)
 * each live child's. A voluntary switch is a wake: the thread blocked — on a socket, a
 * lock, a disk flush — and was woken again. On a VM a wake is dear, and more so on a busy
 * host, so wakes per operation explain why the system's CPU per op moves with the machine
 * more than the ceiling's (docs/performance.md). An involuntary switch is a preemption: the
 * thread could have run on but was switched out, mostly for a thread its own message had
 * just woken (common/scheduling.ts). A thread or child that exits takes its counts with it
 * (nothing like cutime keeps them), so the per-op figures count only threads alive at the
 * end: for PostgreSQL the backends that live through a phase, not a short-lived autovacuum
 * worker or an idle pool connection closed meanwhile. Threads are keyed by id and start
 * time, so a reused id is a new thread, never a subtraction.
 */
export function switchSnapshot(targets: readonly CpuTarget[]): Map<string, Map<string, ThreadSwitches> | undefined> {
  const trees = new Set(targets.filter((t) => t.tree).map((t) => t.pid));
  const kids = trees.size ? childrenOf(trees) : new Map<number, number[]>();
  const out = new Map<string, Map<string, ThreadSwitches> | undefined>();
  for (const t of targets) {
    const byThread = new Map<string, ThreadSwitches>();
    if (!readThreadSwitches(t.pid, byThread)) {
      out.set(t.name, undefined);
      continue;
    }
    if (t.tree) for (const k of kids.get(t.pid) ?? []) readThreadSwitches(k, byThread);
    out.set(t.name, byThread);
  }
  return out;
}

/** Adds each thread of a process to `into` as "tid:starttime" → its switches; false if the process is gone. */
function readThreadSwitches(pid: number, into: Map<string, ThreadSwitches>): boolean {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return false;
  }
  for (const tid of tids) {
    const startTime = procStatFields(pid, tid)?.[19];
    if (startTime === undefined) continue; // the thread ended between the listing and the read
    try {
      const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
      const voluntary = /^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1];
      const involuntary = /^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1];
      if (voluntary !== undefined && involuntary !== undefined) into.set(`${tid}:${startTime}`, { voluntary: Number(voluntary), involuntary: Number(involuntary) });
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return true;
}

/**
 * Switches of one kind per operation of each target between two snapshots, to two decimals
 * (null where the target was missing): what each thread alive at the end did since the
 * first snapshot, or since it started.
 */
function switchesPerOp(kind: keyof ThreadSwitches, before: ReturnType<typeof switchSnapshot>, after: ReturnType<typeof switchSnapshot>, ops: number): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const [name, b] of before) {
    const a = after.get(name);
    if (a === undefined || b === undefined || ops <= 0) {
      out[name] = null;
      continue;
    }
    let n = 0;
    for (const [thread, count] of a) n += count[kind] - (b.get(thread)?.[kind] ?? 0);
    out[name] = Math.round((n * 100) / ops) / 100;
  }
  return out;
}

/** Wakes (voluntary switches) per operation of each target between two snapshots. */
export const wakesPerOp = (before: ReturnType<typeof switchSnapshot>, after: ReturnType<typeof switchSnapshot>, ops: number) => switchesPerOp('voluntary', before, after, ops);

/** Preemptions (involuntary switches) per operation of each target between two snapshots. */
export const preemptionsPerOp = (before: ReturnType<typeof switchSnapshot>, after: ReturnType<typeof switchSnapshot>, ops: number) => switchesPerOp('involuntary', before, after, ops);

/** sched(7) policies by number, as /proc/<pid>/stat's field 41 gives them. */
const POLICIES = ['SCHED_OTHER', 'SCHED_FIFO', 'SCHED_RR', 'SCHED_BATCH', 'SCHED_ISO', 'SCHED_IDLE', 'SCHED_DEADLINE', 'SCHED_EXT'];

/**
 * The scheduling policy the targets run under (common/scheduling.ts): one name when they
 * all share it, else "name policy" for each.
 */
export function schedulingPolicies(targets: readonly CpuTarget[]): string {
  const of = targets.map((t) => {
    const n = procStatFields(t.pid)?.[38];
    return { name: t.name, policy: n === undefined ? '?' : (POLICIES[Number(n)] ?? `política ${n}`) };
  });
  const distinct = new Set(of.map((x) => x.policy));
  return distinct.size === 1 ? [...distinct][0]! : of.map((x) => `${x.name} ${x.policy}`).join(', ');
}

/** Every process of the system whose CPU a phase is charged with, plus this process (the PS). */
export function cpuTargets(sys: LocalSystem): CpuTarget[] {
  const t: CpuTarget[] = [];
  const add = (name: string, pid: number | undefined, tree = false) => pid && t.push({ name, pid, tree });
  add('GC', sys.gc.pid);
  for (const a of sys.actors) add(`actor ${a.spec.name}`, a.pid);
  if (sys.topology === 'single') add('GA', sys.ga.pid);
  else for (const h of ['pc1', 'pc2'] as const) add(`GA ${h}`, sys.hosts[h]?.ga?.pid);
  const pgDirs = sys.pgNodes ? [sys.pgNodes.primary, sys.pgNodes.standby].map((n) => [`PostgreSQL ${n.hostName}`, n.dataDir] as const) : [['PostgreSQL', join(sys.dataDir, 'pg')] as const];
  for (const [name, dir] of pgDirs) {
    const pidFile = join(dir, 'postmaster.pid');
    add(name, existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').split('\n')[0]) : undefined, true);
  }
  add('PS (carga)', process.pid);
  return t;
}
