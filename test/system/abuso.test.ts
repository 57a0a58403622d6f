/**
 * The abuse campaign, shortened (~10,000 messages in all), against real systems:
 * open phase (CURVE off: 1,600 messages at each of the GC frontend, backend and
 * XPUB, the GA and the HTTP ports) and secure phase (CURVE on: 400 at each, the
 * internal sockets attacked without valid keys, forged writes included). Each must
 * end with every process up and healthy, memory bounded, libros/prestamos/operaciones
 * unchanged, every PS-port message answered with a code, and the system serving.
 * `npm run abuso` is the full run (100,000 per socket).
 *
 * And the campaign itself: a process killed mid-storm stops the storm at once and fails
 * the run as a crash (it used to wait out a send or reply timeout per message: hours); a
 * SIGTERM during the system's start stops what was started and removes the temp dir.
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runPhase, type PhaseReport } from '../../scripts/abuso/campaign.js';
import { TARGETS } from '../../scripts/abuso/generators.js';
import { DIST } from '../harness/fixtures.js';
import { eventually } from '../harness/eventually.js';

const SEED = 20261206;
const lines: string[] = [];
const log = (l: string) => void lines.push(l);

function expectClean(r: PhaseReport, perSocket: number): void {
  expect(r.fallos, r.fallos.join('\n')).toEqual([]);
  for (const t of TARGETS) expect(r.porSocket[t].enviados, t).toBe(perSocket);
  expect(r.caidas).toBe(0);
  expect(r.cambiosDeEstado).toBe(0);
  expect(r.checksums.despues).toEqual(r.checksums.antes);
  expect(r.ps.respondidas).toBe(r.ps.esperadas);
  expect(r.ps.crudas.respondidas).toBe(r.ps.crudas.enviadas);
  expect(r.ps.crudas.enviadas).toBeGreaterThan(0); // the wrong-frame-count messages, sent as they are
  expect(r.ps.esperadas + r.ps.crudas.enviadas).toBeGreaterThan(perSocket * 0.99);
  expect(r.sigueSirviendo).toBe(true);
  expect(r.procesos.length).toBeGreaterThanOrEqual(5); // GC, GA, one actor of each type
  for (const p of r.procesos) expect(p.vivoDespues && p.saludDespues, p.nombre).toBe(true);
  process.stdout.write(`abuso ${r.modo}: ${TARGETS.map((t) => `${t} ${r.porSocket[t].enviados}`).join(', ')}; RSS máx ${r.procesos.map((p) => `${p.nombre} ${p.rssMaxMiB}`).join(', ')} MiB${r.rechazosCurve ? `; rechazos CURVE ${JSON.stringify(r.rechazosCurve)}` : ''}\n`);
}

describe.sequential('abuse campaign (shortened)', () => {
  it('open phase: every hostile byte reaches the parsers; nothing crashes, nothing changes, every PS message is answered', async () => {
    const r = await runPhase({ mensajes: 1600, semilla: SEED, modo: 'abierto', log });
    expectClean(r, 1600);
    // The messages really reached the servers: the GA answered its socket's, the PS port answered all.
    expect(r.porSocket.ga.respuestas).toBeGreaterThan(1500);
    expect(r.porSocket.ps.codigos.SOLICITUD_INVALIDA).toBeGreaterThan(1000);
    // The GC backend and XPUB answer nothing: the GC read all they queued before they closed.
    for (const t of ['backend', 'pub'] as const) expect(r.porSocket[t].leidoPorElServidor, t).toBe(true);
    expect(r.tormentaDetenida).toBeUndefined();
  }, 240_000);

  it('secure phase: the internal sockets refuse and count every connection without a valid key; forged writes change nothing', async () => {
    const r = await runPhase({ mensajes: 400, semilla: SEED, modo: 'seguro', intrusos: 30, log });
    expectClean(r, 400);
    expect(r.porSocket.ga.porTipo['forged-write']).toBeGreaterThan(0);
    for (const t of ['backend', 'pub', 'ga'] as const) expect(r.porSocket[t].respuestas, t).toBe(0);
    for (const s of ['gc-backend', 'gc-pub', 'ga']) expect(r.rechazosCurve?.[s], s).toBeGreaterThanOrEqual(10);
  }, 240_000);

  it('a process that dies mid-storm stops the storm at once; the run fails, naming the crash', async () => {
    let killedAt = 0;
    let gcPid: number | undefined;
    // 50,000 per socket would take minutes: the storm is still going when the GC dies.
    const r = await runPhase({
      mensajes: 50_000,
      rondas: 2,
      semilla: SEED,
      modo: 'abierto',
      log,
      onStormStart: (sys) => {
        gcPid = sys.gc.pid;
        setTimeout(() => {
          killedAt = Date.now();
          process.kill(gcPid!, 'SIGKILL');
        }, 1500);
      },
    });
    const afterKill = Date.now() - killedAt;
    process.stdout.write(`abuso, GC muerto a mitad: tormenta detenida ${JSON.stringify(r.tormentaDetenida)}; informe ${afterKill} ms tras la muerte; enviados ${TARGETS.map((t) => `${t} ${r.porSocket[t].enviados}`).join(', ')}\n`);
    expect(killedAt).toBeGreaterThan(0);
    expect(r.tormentaDetenida).toMatchObject({ motivo: 'caida', proceso: 'gc', pid: gcPid, ronda: 1, rondas: 2 });
    // Stopped when it died (the guard looks every 100 ms), not after the next timeout (5 s per backend message, 30 s per PS one).
    expect(r.tormentaDetenida!.trasMs).toBeGreaterThanOrEqual(1500);
    expect(r.tormentaDetenida!.trasMs).toBeLessThan(4000);
    // The checks ran and the report came back in seconds: without a GC, no wait on its socket or its /health.
    expect(afterKill).toBeLessThan(45_000);
    expect(r.caidas).toBe(1);
    expect(r.fallos[0]).toMatch(/^storm stopped: gc \(pid \d+\) exited \d+\.\d s into the storm \(round 1 of 2\)$/);
    expect(r.fallos).toContain('gc: CRASHED (not running after the campaign)');
    expect(r.procesos.find((p) => p.nombre === 'gc')?.vivoDespues).toBe(false);
    for (const p of r.procesos.filter((x) => x.nombre !== 'gc')) expect(p.vivoDespues, p.nombre).toBe(true);
    for (const t of TARGETS) expect(r.porSocket[t].enviados, t).toBeLessThan(25_000);
    expect(r.cambiosDeEstado).toBe(0);
  }, 120_000);

  it('a storm that outlasts its time limit is cut there; the run fails, saying so', async () => {
    const r = await runPhase({ mensajes: 50_000, rondas: 2, semilla: SEED, modo: 'abierto', limiteTormentaMs: 2500, log });
    expect(r.tormentaDetenida).toMatchObject({ motivo: 'limite', ronda: 1, rondas: 2, limiteMs: 2500 });
    expect(r.tormentaDetenida!.trasMs).toBeLessThan(5000);
    expect(r.fallos[0]).toMatch(/^storm cut short: not over after its limit of 2\.5 s, \d+\.\d s into the storm \(round 1 of 2\)/);
    expect(r.caidas).toBe(0);
    expect(r.cambiosDeEstado).toBe(0);
    for (const t of TARGETS) expect(r.porSocket[t].enviados, t).toBeLessThan(25_000);
  }, 120_000);

  it('SIGTERM while the system starts: `npm run abuso` stops what was started and removes its temp dir', async () => {
    // The campaign's temp dirs go where TMPDIR says: this test's own dir.
    const tmp = mkdtempSync(join(tmpdir(), 'abuso-senal-'));
    chmodSync(tmp, 0o755); // as root, initdb runs as the postgres user and reads a file here
    try {
      const child = spawn(process.execPath, [join(DIST, 'scripts', 'abuso', 'main.js'), '--modo', 'abierto', '--mensajes', '10', '--rondas', '1', '--json', join(tmp, 'r.json')], {
        env: { ...process.env, TMPDIR: tmp },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      // PostgreSQL runs (its postmaster.pid is written): the start is under way, the GA and the rest to come.
      const dir = await eventually(
        () => `the system's temp dir with a running PostgreSQL in ${tmp}; output: ${out}`,
        () => readdirSync(tmp).find((d) => d.startsWith('biblioteca-') && readdirSync(join(tmp, d, 'pg')).includes('postmaster.pid')),
        60_000,
        { everyMs: 10 },
      );
      child.kill('SIGTERM');
      expect(await exited, out).toBe(143);
      expect(out).toContain('Interrumpido (SIGTERM)');
      // Stopped in order by the start itself: nothing left, not even by the exit hooks' SIGKILL.
      expect(readdirSync(tmp).filter((d) => d.startsWith('biblioteca-')), out).toEqual([]);
      const leftovers = readdirSync('/proc')
        .filter((p) => /^\d+$/.test(p))
        .filter((p) => {
          try {
            return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(join(tmp, dir)) || readFileSync(`/proc/${p}/environ`, 'utf8').includes(`LANZADOR_PID=${child.pid}\0`);
          } catch {
            return false;
          }
        });
      expect(leftovers).toEqual([]);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 120_000);
});
