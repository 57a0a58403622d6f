/**
 * npm start's live status, as text. Pure: the launcher feeds it what /status said
 * and writes what it returns.
 *
 * On a terminal it is a two-line block redrawn in place, each line cut to the
 * terminal's width: a line that wraps pushes the block, and the banner above it,
 * up the screen on every redraw. Anywhere else (a pipe, a file) it is one plain
 * line with no escape codes.
 */
import type { GaStatus } from '../../gestor_almacenamiento/ga.js';
import type { GcStatus } from '../../gestor_carga/gc.js';

/** One GC as the status loop saw it: its host, its /status (undefined: no answer) and its replies per second. */
export interface GcVisto {
  host: string;
  status: GcStatus | undefined;
  rate: number;
}

export interface StatusSnapshot {
  /** HH:MM:SS */
  hora: string;
  gcs: readonly GcVisto[];
  gas: Array<{ host: string; status: GaStatus | undefined }>;
}

/** `pc1 ACTIVE (pg primary tl1)` per GA: who serves, and on what. */
function gaPart(gas: StatusSnapshot['gas']): string {
  return gas
    .map(({ host, status }) => {
      if (!status) return `${host} sin respuesta`;
      const { postgres: p } = status;
      const pg = ` (pg ${p.rolPg}${'timeline' in p ? ` tl${p.timeline}` : ''})`;
      return `${host} ${status.papel.estado}${pg}`;
    })
    .join(', ');
}

/** Only the breakers worth a look: all closed is one word. */
function breakersPart(gc: GcStatus): string {
  const notClosed = gc.almacenamiento.filter((b) => b.disyuntor !== 'closed');
  if (notClosed.length === 0) return 'breakers cerrados';
  return `breakers ${notClosed.map((b) => `${b.endpoint.replace('tcp://', '')} ${b.disyuntor}`).join(', ')}`;
}

/** The status as lines, most important first, not yet cut to any width. */
export function statusLines(s: StatusSnapshot): string[] {
  const ga = `GA ${gaPart(s.gas)}`;
  const first = s.gcs.find((g) => g.status)?.status;
  if (!first) return [`${s.hora}  GC sin respuesta`, ga];
  const up = s.gcs.flatMap((g) => (g.status ? [g.status] : []));
  const total = s.gcs.reduce((n, g) => n + g.rate, 0);
  // Requests served by each GC: the balance between the sedes at a glance.
  const porGc = s.gcs.length > 1 ? ` (${s.gcs.map((g) => (g.status ? `${g.host} ${g.rate.toFixed(0)}` : `${g.host} CAÍDO`)).join(', ')})` : '';
  const live = first.actoresVivos;
  const enCurso = up.reduce((n, t) => n + t.tareas.enviada, 0);
  const cola = up.reduce((n, t) => n + t.tareas['en-cola'] + t.tareas.espera, 0);
  return [
    `${s.hora}  ${total.toFixed(0)} sol/s${porGc}  actores p${live.prestamo ?? 0} d${live.devolucion ?? 0} r${live.renovacion ?? 0}${first.calculo ? ` c${first.calculo.actoresVivos}` : ''}  tareas ${enCurso} en curso, ${cola} en cola`,
    `${ga}  ${breakersPart(first)}`,
  ];
}

/** Cut to at most `width - 1` columns (the last column would make some terminals wrap), with … where cut. */
export function fitWidth(line: string, width: number): string {
  const max = Math.max(1, width - 1);
  const chars = [...line];
  return chars.length <= max ? line : `${chars.slice(0, max - 1).join('')}…`;
}

/** Moves to the start of a block of `lines` drawn earlier (cursor at its end) and clears it and below. */
export function clearBlock(lines: number): string {
  if (lines === 0) return '';
  return `\r${lines > 1 ? `\x1b[${lines - 1}A` : ''}\x1b[J`;
}

/** The block for a terminal of `width` columns, replacing one of `previous` lines; the cursor stays at its end. */
export function redraw(previous: number, lines: string[], width: number): string {
  return clearBlock(previous) + lines.map((l) => fitWidth(l, width)).join('\n');
}

/** The status as one plain line, for pipes and files. */
export function plainLine(lines: string[]): string {
  return lines.join('  |  ');
}
