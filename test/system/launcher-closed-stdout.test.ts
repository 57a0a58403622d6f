/**
 * A closed stdout never kills a process or skips its orderly stop:
 * - `npm start | tee log`, then Ctrl-C (SIGINT to the whole foreground group, `tee`
 *   included): the launcher still stops everything in order, exits 0, removes its
 *   lock, and both PostgreSQL servers shut down cleanly;
 * - `ps archivo f | head -1`: no stack trace, and no more requests once nobody reads.
 * Real processes (dist/), free ports, temp dirs. Needs `npm run build` first.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { killNode, postmasterPid } from '../../postgres/lifecycle.js';
import { nodeLogFile } from '../../postgres/node-config.js';
import { LOCK_FILE } from '../../scripts/launcher/lock.js';
import { projectRoot } from '../../common/project-root.js';
import { FakeGc } from '../harness/fake-gc.js';
import { eventually } from '../harness/eventually.js';
import { cleanupAfterEach } from '../harness/fixtures.js';

const dist = join(projectRoot(), 'dist');
const dirs: string[] = [];
const groups: ChildProcess[] = [];
const defer = cleanupAfterEach();

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'stdout-cerrado-'));
  dirs.push(d);
  return d;
}

/** One cleanup step: a failing one is reported and does not stop the others. */
async function step(what: string, undo: () => unknown): Promise<void> {
  try {
    await undo();
  } catch (err) {
    console.warn(`[launcher-closed-stdout] cleanup: ${what}: ${(err as Error).message}`);
  }
}

afterAll(async () => {
  // Also on failure: the launcher's group (its children run in sessions of their own and stop by
  // themselves within half a second of their launcher's death, LANZADOR_PID), then any PostgreSQL it left.
  for (const g of groups) {
    try {
      process.kill(-g.pid!, 'SIGKILL');
    } catch {
      await step(`kill ${g.pid}`, () => g.kill('SIGKILL'));
    }
  }
  for (const d of dirs) {
    for (const pg of [join(d, 'pc1', 'pg'), join(d, 'pc2', 'pg')]) if (existsSync(pg)) await step(`stop PostgreSQL in ${pg}`, () => killNode(pg));
    await step(`remove ${d}`, () => rmSync(d, { recursive: true, force: true }));
  }
}, 60_000);

describe('a closed stdout', () => {
  it('npm start | tee, then Ctrl-C: orderly stop, exit 0, lock removed, both PostgreSQL servers shut down cleanly', async () => {
    const dir = tempDir();
    // Its own process group, like a terminal's foreground job, so one SIGINT reaches all of it.
    const child = spawn(process.execPath, [join(dist, 'scripts', 'launcher', 'main.js'), '--puertos-libres', '--actores', '1', '--data', dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    groups.push(child);
    let out = '';
    let err = '';
    child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    await eventually(() => `the launcher to be ready:\n${out}${err}`, () => out.includes('Sistema listo.') || child.exitCode !== null, 180_000);
    expect(out).toContain('Sistema listo.');
    // Not a terminal: the status comes as plain lines, no escape codes or carriage returns.
    await eventually(() => `a status line:\n${out}`, () => /\d\d:\d\d:\d\d {2}\d+ sol\/s/.test(out), 15_000);
    expect(out).not.toMatch(/[\x1b\r]/);
    const pgDirs = [join(dir, 'pc1', 'pg'), join(dir, 'pc2', 'pg')];
    expect(pgDirs.map((d) => postmasterPid(d)).every((p) => p !== undefined)).toBe(true);

    // Ctrl-C: `tee` dies (the pipe's reader closes) and the whole group gets SIGINT.
    child.stdout!.destroy();
    process.kill(-child.pid!, 'SIGINT');
    expect(await exited, `launcher stderr:\n${err}`).toBe(0);
    expect(err).not.toMatch(/EPIPE|Error/);
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    for (const d of pgDirs) {
      // A SIGKILLed server leaves its postmaster.pid; a clean shutdown removes it and says so.
      expect(existsSync(join(d, 'postmaster.pid')), d).toBe(false);
      expect(readFileSync(nodeLogFile(d), 'utf8')).toMatch(/database system is shut down\s*$/);
    }
  }, 240_000);

  it('ps archivo f | head -1: no stack trace, and it stops sending once the reader is gone', async () => {
    const gc = await FakeGc.start({ libros: { '978-84-376-0494-7': 1000 } });
    defer(() => gc.stop());
    const dir = tempDir();
    const file = join(dir, 'solicitudes.txt');
    const LINES = 200;
    writeFileSync(file, Array.from({ length: LINES }, (_, i) => `CONSULTA 978-84-376-0494-7 # ${i}`).join('\n') + '\n');
    const child = spawn(process.execPath, [join(dist, 'solicitante', 'main.js'), '--gc', gc.endpoint, 'archivo', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    groups.push(child);
    let err = '';
    child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    // `head -1`: read one line, then go away.
    let first = '';
    await new Promise<void>((resolve) => {
      child.stdout!.on('data', (b: Buffer) => {
        first += b.toString();
        if (first.includes('\n')) {
          child.stdout!.destroy();
          resolve();
        }
      });
    });
    expect(first).toMatch(/^\[1\] CONSULTA 978-84-376-0494-7 → OK/);
    // As if the file ended there: the reader chose to stop (and npm run would call a non-zero exit a failure).
    expect(await exited).toBe(0);
    expect(err).toBe('');
    expect(gc.recibidas.length).toBeGreaterThan(0);
    expect(gc.recibidas.length).toBeLessThan(LINES / 4);
  }, 60_000);
});
