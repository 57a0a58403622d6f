/**
 * npm start's live status (scripts/launcher/status-view.ts): on a terminal a two-line block
 * redrawn in place, every line within the terminal's width (a wrapped line scrolls
 * the banner away on each redraw); elsewhere one plain line without escape codes.
 */
import { describe, expect, it } from 'vitest';
import type { GaStatus } from '../../gestor_almacenamiento/ga.js';
import type { GcStatus } from '../../gestor_carga/gc.js';
import { clearBlock, fitWidth, plainLine, redraw, statusLines, type StatusSnapshot } from '../../scripts/launcher/status-view.js';

/** A busy two-hosts system mid-failover: long GA states, breakers open. */
const gcStatus = {
  actoresVivos: { prestamo: 2, devolucion: 2, renovacion: 1 },
  tareas: { enviada: 120, 'en-cola': 30, espera: 4, total: 154 },
  almacenamiento: [
    { endpoint: 'tcp://127.0.1.1:5570', disyuntor: 'open', fallosSeguidos: 3 },
    { endpoint: 'tcp://127.0.1.2:5570', disyuntor: 'half-open', fallosSeguidos: 0 },
  ],
} as unknown as GcStatus;
const snapshot: StatusSnapshot = {
  hora: '12:34:56',
  gcs: [{ host: 'pc1', status: gcStatus, rate: 1234.4 }],
  gas: [
    { host: 'pc1', status: undefined },
    { host: 'pc2', status: { papel: { estado: 'TAKING_OVER' }, postgres: { rolPg: 'primary', timeline: 12 } } as unknown as GaStatus },
  ],
};

// What a terminal shows: escape sequences take no columns.
const visible = (s: string) => [...s.replace(/\x1b\[[0-9]*[A-Za-z]/g, '').replace(/\r/g, '')];

describe('status view', () => {
  it('says what matters: requests/s, live actors, tasks, each GA and its PostgreSQL, breakers not closed', () => {
    const [a, b] = statusLines(snapshot);
    expect(a).toBe('12:34:56  1234 sol/s  actores p2 d2 r1  tareas 120 en curso, 34 en cola');
    expect(b).toBe('GA pc1 sin respuesta, pc2 TAKING_OVER (pg primary tl12)  breakers 127.0.1.1:5570 open, 127.0.1.2:5570 half-open');
    const calm = statusLines({ ...snapshot, gcs: [{ host: 'pc1', rate: 1, status: { ...gcStatus, almacenamiento: [{ endpoint: 'tcp://x:1', preferido: true, disyuntor: 'closed', fallosSeguidos: 0 }] } }] });
    expect(calm[1]).toMatch(/breakers cerrados$/);
    expect(statusLines({ ...snapshot, gcs: [{ host: 'pc1', status: undefined, rate: 0 }] })[0]).toBe('12:34:56  GC sin respuesta');
  });

  it('with several GCs: the total and each GC\'s rate, a GC that does not answer, tasks summed over the GCs', () => {
    const [a] = statusLines({ ...snapshot, gcs: [{ host: 'pc1', status: gcStatus, rate: 120 }, { host: 'pc2', status: gcStatus, rate: 80 }, { host: 'pc3', status: undefined, rate: 0 }] });
    expect(a).toBe('12:34:56  200 sol/s (pc1 120, pc2 80, pc3 CAÍDO)  actores p2 d2 r1  tareas 240 en curso, 68 en cola');
  });

  it.each([40, 80, 132])('on a %i-column terminal no line wraps', (width) => {
    const block = redraw(2, statusLines(snapshot), width);
    const lines = block.split('\n');
    expect(lines).toHaveLength(2);
    for (const l of lines) expect(visible(l).length).toBeLessThanOrEqual(width - 1);
    // The cursor stays at the block's end (no trailing newline), so the next redraw can go back over it.
    expect(block.endsWith('\n')).toBe(false);
  });

  it('a cut line says so; a short one is left alone; width is counted in characters, not bytes', () => {
    expect(fitWidth('abcdefghij', 6)).toBe('abcd…');
    expect(fitWidth('abc', 80)).toBe('abc');
    expect(fitWidth('ñññññ', 6)).toBe('ñññññ');
  });

  it('redraws in place: back to the first line of the previous block, cleared to the end of the screen', () => {
    expect(clearBlock(0)).toBe('');
    expect(clearBlock(1)).toBe('\r\x1b[J');
    expect(clearBlock(2)).toBe('\r\x1b[1A\x1b[J');
    expect(redraw(2, ['x', 'y'], 80)).toBe('\r\x1b[1A\x1b[Jx\ny');
    expect(redraw(0, ['x', 'y'], 80)).toBe('x\ny');
  });

  it('a pipe or a file gets one plain line without escape codes', () => {
    const line = plainLine(statusLines(snapshot));
    expect(line).not.toMatch(/[\x1b\r\n]/);
    expect(line).toContain('1234 sol/s');
    expect(line).toContain('pc2 TAKING_OVER');
  });
});
