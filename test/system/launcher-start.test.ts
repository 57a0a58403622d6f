/**
 * `npm start` as a user runs it (dist/scripts/launcher/main.js, free ports, a temp
 * data dir): a second launcher on the same data dir refuses and leaves the first
 * one's PostgreSQL alone (two-hosts and single); a dead process is warned about
 * once; SIGINT and SIGHUP stop everything, PostgreSQL and children included,
 * and remove the lock. Needs `npx tsc -p tsconfig.json` first.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killNode, postmasterPid } from '../../postgres/lifecycle.js';
import { LOCK_FILE } from '../../scripts/launcher/lock.js';
import { projectRoot } from '../../common/project-root.js';
import { eventually } from '../harness/eventually.js';

const launcher = join(projectRoot(), 'dist', 'scripts', 'launcher', 'main.js');

interface Launch {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
  /** Every descendant seen while it ran (its children outlive it if it is SIGKILLed). */
  seen: Set<number>;
}

const launches: Launch[] = [];
const dirs: string[] = [];

function start(dataDir: string, extra: string[] = []): Launch {
  // Its own process group, as a shell job in a terminal: a terminal's signals go to the whole group.
  const child = spawn(process.execPath, [launcher, '--puertos-libres', '--actores', '1', '--data', dataDir, ...extra], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let text = '';
  child.stdout!.on('data', (b: Buffer) => (text += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (text += b.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const l: Launch = { child, output: () => text, exited, seen: new Set() };
  launches.push(l);
  return l;
}

/** Pids whose parent is `pid`, from /proc. */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(f[1]) === pid && f[0] !== 'Z') out.push(Number(e));
    } catch {
      /* gone */
    }
  }
  return out;
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

async function ready(l: Launch): Promise<void> {
  await eventually(() => `the launcher to be ready:\n${l.output()}`, () => l.output().includes('Sistema listo.') || l.child.exitCode !== null, 180_000);
  expect(l.output()).toContain('Sistema listo.');
  for (const p of childrenOf(l.child.pid!)) l.seen.add(p);
}

/** The second launcher's exit code; a second system coming up (the bug) fails fast instead of hanging. */
async function refused(l: Launch): Promise<number | null> {
  await eventually(() => `the second launcher to exit:\n${l.output()}`, () => l.child.exitCode !== null || l.output().includes('Sistema listo.'), 120_000);
  expect(l.output()).not.toContain('Sistema listo.');
  return l.exited;
}

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'lanzador-'));
  dirs.push(d);
  return d;
}

const pgDirs = (dataDir: string) => [join(dataDir, 'pg'), join(dataDir, 'pc1', 'pg'), join(dataDir, 'pc2', 'pg')].filter((d) => existsSync(d));

afterAll(async () => {
  // Also on failure: stop what is still running (orderly first), then kill what is left.
  for (const l of launches) if (l.child.exitCode === null && l.child.signalCode === null) l.child.kill('SIGINT');
  await Promise.race([Promise.all(launches.map((l) => l.exited)), new Promise((r) => setTimeout(r, 30_000))]);
  for (const l of launches) {
    l.child.kill('SIGKILL');
    for (const p of l.seen) if (alive(p)) process.kill(p, 'SIGKILL');
  }
  for (const d of dirs) {
    for (const pgDir of pgDirs(d)) await killNode(pgDir);
    rmSync(d, { recursive: true, force: true });
  }
}, 60_000);

describe('a second launcher on the same data dir', () => {
  it('two-hosts: refuses naming the first one, leaves its PostgreSQL and GA alone; one warning per dead process; SIGINT stops all', async () => {
    const dir = tempDir();
    const a = start(dir);
    await ready(a);
    const lock = JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')) as { pid: number };
    expect(lock.pid).toBe(a.child.pid);
    const postmasters = [join(dir, 'pc1', 'pg'), join(dir, 'pc2', 'pg')].map((d) => postmasterPid(d));
    expect(postmasters.every((p) => p !== undefined)).toBe(true);

    const b = start(dir);
    expect(await refused(b)).not.toBe(0);
    expect(b.output()).toContain(`ya hay un lanzador en marcha sobre ${dir} (pid ${a.child.pid}`);
    // Before the lock, B adopted A's postmasters as its own and stopped them on its way out.
    expect([join(dir, 'pc1', 'pg'), join(dir, 'pc2', 'pg')].map((d) => postmasterPid(d))).toEqual(postmasters);
    expect(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')).pid).toBe(a.child.pid);
    const gaStatus = /GA pc1 \(primario\):\s+\S+\s+\((http:\/\/[^)]+\/status)\)/.exec(a.output())![1]!;
    const st = (await (await fetch(gaStatus)).json()) as { papel?: { estado?: string }; postgres?: { rolPg?: string } };
    expect(st.papel?.estado).toBe('ACTIVE');
    expect(st.postgres?.rolPg).toBe('primary');

    // The banner names the live panel, and it serves the system's state.
    const panelUrl = /Panel en vivo:\s+(http:\/\/\S+)/.exec(a.output())?.[1];
    expect(panelUrl, a.output()).toBeDefined();
    const panel = (await (await fetch(`${panelUrl}api/objetivos`)).json()) as Array<{ tipo: string; host: string }>;
    // One actor process (npm start's default: it serves the three types), one calculo actor, two GAs, two GCs.
    expect(panel.map((t) => `${t.tipo} ${t.host}`).sort()).toEqual(['actor pc1', 'actor pc1', 'ga pc1', 'ga pc2', 'gc pc1', 'gc pc2']);

    // The banner's load suggestion names books, not the shared demo ISBN.
    expect(a.output()).toMatch(/Carga de prueba:\s+npm run ps -- --gc tcp:\/\/\S+ carga --clientes \d+ --duracion 20 --isbns \S+/);

    // A dead actor: one warning, not one per status tick.
    const actor = [...a.seen].find((p) => cmdline(p).includes('actores/main.js'))!;
    expect(actor).toBeDefined();
    process.kill(actor, 'SIGKILL');
    const warnings = () => a.output().match(/AVISO: \S+ no está en marcha/g) ?? [];
    await eventually(() => 'the warning', () => warnings().length > 0, 10_000);
    await new Promise((r) => setTimeout(r, 2500)); // five status ticks
    expect(warnings()).toHaveLength(1);

    a.child.kill('SIGINT');
    expect(await a.exited).toBe(0);
    expect(a.output()).toContain('Sistema detenido.');
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    for (const d of [join(dir, 'pc1', 'pg'), join(dir, 'pc2', 'pg')]) expect(postmasterPid(d)).toBeUndefined();
    for (const p of postmasters) expect(alive(p!)).toBe(false);
    expect([...a.seen].filter(alive)).toEqual([]);
  }, 300_000);

  it('single: refuses without killing the running PostgreSQL; SIGHUP (terminal closed) stops all', async () => {
    const dir = tempDir();
    const a = start(dir, ['--topologia', 'single']);
    await ready(a);
    const pgPid = postmasterPid(join(dir, 'pg'));
    expect(pgPid).toBeDefined();

    const b = start(dir, ['--topologia', 'single']);
    expect(await refused(b)).not.toBe(0);
    expect(b.output()).toContain(`pid ${a.child.pid}`);
    // Before the lock, B's embedded PostgreSQL start killed the postmaster on the dir first thing.
    expect(postmasterPid(join(dir, 'pg'))).toBe(pgPid);

    // The terminal closes: SIGHUP to its foreground process group, not only to the launcher.
    process.kill(-a.child.pid!, 'SIGHUP');
    expect(await a.exited).toBe(0);
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    await eventually(() => `postgres ${pgPid} to be gone`, () => !alive(pgPid!), 5000);
    expect([...a.seen].filter(alive)).toEqual([]);
    // Each child stopped in order (its own 'stopping' line), none killed by the hang-up.
    const logs = readdirSync(join(dir, 'logs')).filter((f) => f.endsWith('.log') && !f.startsWith('pg'));
    expect(logs.length).toBeGreaterThan(2);
    for (const f of logs) expect(readFileSync(join(dir, 'logs', f), 'utf8'), f).toMatch(/"msg":"stopping"/);
  }, 300_000);
});
