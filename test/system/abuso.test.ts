/**
 * The abuse campaign, shortened (~10,000 messages in all), against real systems:
 * open phase (CURVE off: 1,600 messages at each of the GC frontend, backend and
 * XPUB, the GA and the HTTP ports) and secure phase (CURVE on: 400 at each, the
 * internal sockets attacked without valid keys, forged writes included). Each must
 * end with every process up and healthy, memory bounded, libros/prestamos/operaciones
 * unchanged, every PS-port message answered with a code, and the system serving.
 * `npm run abuso` is the full run (100,000 per socket).
 */
import { describe, expect, it } from 'vitest';
import { runPhase, type PhaseReport } from '../../scripts/abuso/campaign.js';
import { TARGETS } from '../../scripts/abuso/generators.js';

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
  expect(r.ps.esperadas).toBeGreaterThan(perSocket * 0.99);
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
  }, 240_000);

  it('secure phase: the internal sockets refuse and count every connection without a valid key; forged writes change nothing', async () => {
    const r = await runPhase({ mensajes: 400, semilla: SEED, modo: 'seguro', intrusos: 30, log });
    expectClean(r, 400);
    expect(r.porSocket.ga.porTipo['forged-write']).toBeGreaterThan(0);
    for (const t of ['backend', 'pub', 'ga'] as const) expect(r.porSocket[t].respuestas, t).toBe(0);
    for (const s of ['gc-backend', 'gc-pub', 'ga']) expect(r.rechazosCurve?.[s], s).toBeGreaterThanOrEqual(10);
  }, 240_000);
});
