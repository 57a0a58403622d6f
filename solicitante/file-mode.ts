/**
 * `ps archivo <file>`: sends each line's request in order, one at a time,
 * prints each reply on one line and a summary at the end. Bad lines are
 * reported (with their number), counted and skipped; the run continues.
 * If the output goes away (`| head -1` exited) no further line is sent — nobody
 * would see its reply — and the run ends as if the file ended there (the reader
 * chose to stop; `npm run` would report a non-zero exit as a failure). `complete()`
 * tells whether every line up to there was valid and answered (the exit code).
 */
import { readFile } from 'node:fs/promises';
import { isSuccessCode } from '../common/protocol/codes.js';
import { describeRespuesta, describeSolicitud, formatCodigos, formatDuration } from './format.js';
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
  write(s: string): unknown;
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
    res.enviadas++;
    try {
      const r = await gc.send(l.solicitud);
      res.porCodigo[r.codigo] = (res.porCodigo[r.codigo] ?? 0) + 1;
      if (isSuccessCode(r.codigo)) res.exitosas++;
      out.write(`[${l.linea}] ${describeRespuesta(l.solicitud, r)}\n`);
    } catch (e) {
      res.fallidas++;
      out.write(`[${l.linea}] ${describeSolicitud(l.solicitud)} → SIN RESPUESTA: ${(e as Error).message}\n`);
    }
  }
  res.ms = performance.now() - t0;
  out.write(formatSummary(res));
  return res;
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

/** Reads the file and runs it; rejects (with a Spanish message) only if the file cannot be read. */
export async function runFile(path: string, gc: GcCaller, out: Output, opts: RunOptions = {}): Promise<FileRunSummary> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new Error(`No se pudo leer el archivo '${path}': ${fileErrorReason(e)}`);
  }
  return runLines(text, gc, out, opts);
}
