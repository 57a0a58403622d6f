/**
 * The one reader of Linux's /proc: what a pid runs, its /proc/<pid>/stat fields,
 * whether it is alive (a zombie is not), its process group, the pids there are.
 * Pure reads that never throw (a field is undefined when it cannot be read).
 * Used by the PostgreSQL node toolkit (postgres/lifecycle.ts: is this pid our
 * postmaster?), the launcher lock (a reused pid) and the bench's CPU table.
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

/** What /proc says about a process; a field is undefined when it cannot be read. */
export interface ProcFacts {
  /** /proc/<pid>/exe: the binary it runs. */
  exe?: string;
  /** /proc/<pid>/cmdline, split at NULs. */
  argv?: string[];
  /** /proc/<pid>/cwd: a postmaster chdirs into its data dir. */
  cwd?: string;
}

export function procFacts(pid: number): ProcFacts {
  const read = <T>(f: () => T): T | undefined => {
    try {
      return f();
    } catch {
      return undefined;
    }
  };
  return {
    exe: read(() => readlinkSync(`/proc/${pid}/exe`)),
    argv: read(() => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a, i, all) => a !== '' || i < all.length - 1)),
    cwd: read(() => readlinkSync(`/proc/${pid}/cwd`)),
  };
}

/**
 * /proc/<pid>/stat after the parenthesised command (which may itself hold spaces and
 * parentheses): [0] state (Z = zombie), [1] ppid, [2] pgrp, … [11] utime, [12] stime,
 * [13] cutime, [14] cstime, … [19] starttime. With `tid`: that thread's (/proc/<pid>/task/<tid>/stat).
 */
export function procStatFields(pid: number, tid?: string): string[] | undefined {
  try {
    const stat = readFileSync(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

export const procState = (pid: number): string | undefined => procStatFields(pid)?.[0];

/** The pid exists and is not a zombie. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A killed postmaster was detached by pg_ctl, so init reaps it, sometimes seconds later.
  return procState(pid) !== 'Z';
}

/** Every pid in /proc now (empty when /proc cannot be read). */
export function allPids(): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  return entries.filter((e) => /^\d+$/.test(e)).map(Number);
}

/** Pids whose parent is `pid`. */
export function childrenOf(pid: number): number[] {
  return allPids().filter((p) => procStatFields(p)?.[1] === String(pid));
}

/** Live (not zombie) pids whose process group is `pgid` (a pg_ctl-started postmaster leads its own group). */
export function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  for (const pid of allPids()) {
    const fields = procStatFields(pid); // undefined: exited meanwhile
    if (fields && Number(fields[2]) === pgid && fields[0] !== 'Z') out.push(pid);
  }
  return out;
}

/** Resident set size of a process in MiB (VmRSS of /proc/<pid>/status); undefined if it is gone. */
export function rssMiB(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}
