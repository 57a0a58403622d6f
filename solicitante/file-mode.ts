/**
 * `ps archivo <file>`: sends each line's request in order, one at a time,
 * prints each reply on one line and a summary at the end. Bad lines are
 * reported (with their number), counted and skipped; the run continues.
 */
import { readFile } from 'node:fs/promises';
import { isSuccessCode } from '../common/codes.js';
import { describirRespuesta, describirSolicitud, duracion, formatCodigos } from './format.js';
import { parseLineas } from './line-parser.js';
import type { GcCaller } from './types.js';

export interface ResumenArchivo {
  lineas: number;
  enviadas: number;
  exitosas: number;
  porCodigo: Record<string, number>;
  /** Requests that got no usable reply (GC unreachable after retries). */
  fallidas: number;
  /** Lines that could not be parsed. */
  invalidas: number;
  ms: number;
}

export interface Salida {
  write(s: string): unknown;
}

export async function ejecutarLineas(texto: string, gc: GcCaller, out: Salida): Promise<ResumenArchivo> {
  const t0 = performance.now();
  const lineas = parseLineas(texto);
  const res: ResumenArchivo = { lineas: 0, enviadas: 0, exitosas: 0, porCodigo: {}, fallidas: 0, invalidas: 0, ms: 0 };
  for (const l of lineas) {
    if (l.tipo === 'vacia') continue;
    res.lineas++;
    if (l.tipo === 'error') {
      res.invalidas++;
      out.write(`[${l.linea}] ERROR ${l.mensaje}\n`);
      continue;
    }
    res.enviadas++;
    try {
      const r = await gc.enviar(l.solicitud);
      res.porCodigo[r.codigo] = (res.porCodigo[r.codigo] ?? 0) + 1;
      if (isSuccessCode(r.codigo)) res.exitosas++;
      out.write(`[${l.linea}] ${describirRespuesta(l.solicitud, r)}\n`);
    } catch (e) {
      res.fallidas++;
      out.write(`[${l.linea}] ${describirSolicitud(l.solicitud)} → SIN RESPUESTA: ${(e as Error).message}\n`);
    }
  }
  res.ms = performance.now() - t0;
  out.write(formatResumen(res));
  return res;
}

export function formatResumen(r: ResumenArchivo): string {
  const codigos = formatCodigos(r.porCodigo);
  return [
    '— Resumen —',
    `enviadas: ${r.enviadas}  exitosas: ${r.exitosas}  sin respuesta: ${r.fallidas}  líneas inválidas: ${r.invalidas}`,
    `por código: ${codigos}`,
    `tiempo: ${duracion(r.ms)}`,
    '',
  ].join('\n');
}

/** Reads the file and runs it; rejects (with a Spanish message) only if the file cannot be read. */
export async function ejecutarArchivo(ruta: string, gc: GcCaller, out: Salida): Promise<ResumenArchivo> {
  let texto: string;
  try {
    texto = await readFile(ruta, 'utf8');
  } catch (e) {
    throw new Error(`No se pudo leer el archivo '${ruta}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return ejecutarLineas(texto, gc, out);
}
