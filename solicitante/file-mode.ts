/**
 * `ps archivo <file>`: sends each line's request in order, one at a time,
 * prints each reply on one line and a summary at the end. Bad lines are
 * reported (with their number), counted and skipped; the run continues.
 * If the output goes away (`| head -1` exited) no further line is sent — nobody
 * would see its reply — and the run ends as if the file ended there (the reader
 * chose to stop; `npm run` would report a non-zero exit as a failure). A closed pipe
 * shows only when a write fails, so each line's description (`[n] PRESTAMO … →`) is
 * written before its request goes out, and the request is sent only if that write
 * found the output still there: a reader that left while the previous reply was
 * awaited costs no request. One that leaves after the description went out still
 * gets that line sent (nothing tells a writer that a pipe's reader is about to go).
 * `complete()` tells whether every line up to there was valid and answered (the exit code).
 */
import { readFile } from 'node:fs/promises';
import { isSuccessCode } from '../common/protocol/codes.js';
import { describeResultado, describeSolicitud, formatCodigos, formatDuration } from './format.js';
import { parseLines } from './line-parser.js';
import type { GcCaller } from './types.js';
import { fileErrorReason } from '../common/file-errors.js';

export interface FileRunSummary {
  lineas: number;
  enviadas: number;
  exitosas: number;
  porCodigo: Record<string, number>;
  /** Requests that got no usable reply (GC unreachable after retries). */
  fallidas: number;
  /** Lines that could not be parsed. */
  invalidas: number;
  /** Requests not sent because the output was closed. */
  sinEnviar: number;
  ms: number;
}

export interface Output {
  /** `done` (a stream's write callback) gets the error of a failed write, e.g. EPIPE. */
  write(s: string, done?: (err?: Error | null) => void): unknown;
}

export interface RunOptions {
  /** True once nobody reads the output (a closed pipe): the run stops sending. */
  outputGone?: () => boolean;
}

export async function runLines(text: string, gc: GcCaller, out: Output, opts: RunOptions = {}): Promise<FileRunSummary> {
  const t0 = performance.now();
  const lines = parseLines(text);
  const res: FileRunSummary = { lineas: 0, enviadas: 0, exitosas: 0, porCodigo: {}, fallidas: 0, invalidas: 0, sinEnviar: 0, ms: 0 };
  for (const l of lines) {
    if (l.tipo === 'vacia') continue;
    res.lineas++;
    if (opts.outputGone?.()) {
      res.sinEnviar++;
      continue;
    }
    if (l.tipo === 'error') {
      res.invalidas++;
      out.write(`[${l.linea}] ERROR ${l.mensaje}\n`);
      continue;
    }
    // The line's description first: if that write finds the output closed, nothing is sent.
    if (!(await written(out, `[${l.linea}] ${describeSolicitud(l.solicitud)} → `, opts.outputGone ?? (() => false)))) {
      res.sinEnviar++;
      continue;
    }
    res.enviadas++;
    try {
      const r = await gc.send(l.solicitud);
      res.porCodigo[r.codigo] = (res.porCodigo[r.codigo] ?? 0) + 1;
      if (isSuccessCode(r.codigo)) res.exitosas++;
      out.write(`${describeResultado(l.solicitud, r)}\n`);
    } catch (e) {
      res.fallidas++;
      out.write(`SIN RESPUESTA: ${(e as Error).message}\n`);
    }
  }
  res.ms = performance.now() - t0;
  out.write(formatSummary(res));
  return res;
}

/**
 * Writes `s` and tells whether the output took it: false once the write failed or `gone()`
 * says so. A stream reports a failed write (EPIPE) to its callback or an 'error' event after
 * write() returned, so this waits a turn of the event loop for either to land; an output that
 * never calls back (a plain object) is judged by `gone()` alone.
 */
async function written(out: Output, s: string, gone: () => boolean): Promise<boolean> {
  let failed = false;
  out.write(s, (err) => {
    if (err) failed = true;
  });
  await new Promise<void>((resolve) => setImmediate(resolve));
  return !failed && !gone();
}

export function formatSummary(r: FileRunSummary): string {
  const codigos = formatCodigos(r.porCodigo);
  return [
    '— Resumen —',
    `enviadas: ${r.enviadas}  exitosas: ${r.exitosas}  sin respuesta: ${r.fallidas}  líneas inválidas: ${r.invalidas}${r.sinEnviar ? `  sin enviar (salida cerrada): ${r.sinEnviar}` : ''}`,
    `por código: ${codigos}`,
    `tiempo: ${formatDuration(r.ms)}`,
    '',
  ].join('\n');
}

/** True when every line parsed and every request sent got a reply (whatever its code). */
export function complete(r: FileRunSummary): boolean {
  return r.fallidas + r.invalidas === 0;
}

/** The file's text; rejects with a Spanish message if it cannot be read (checked before any GC is probed). */
export async function readRequestsFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    throw new Error(`No se pudo leer el archivo '${path}': ${fileErrorReason(e)}`);
  }
}

