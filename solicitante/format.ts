/**
 * Human-readable text for requests and replies (Spanish, one line each). Pure.
 */
import type { EstadoOperacion, Respuesta } from '../common/protocol/ps-gc.js';
import { ESTADOS } from '../common/protocol/ps-gc.js';
import type { NuevaSolicitud } from './types.js';

/** The loan's due date in a reply, if it carries one (préstamo, renovación): `fechaDevolucion`, as the GA's SQL names it. */
export function dueDate(r: Respuesta): string | undefined {
  for (const source of [r.datos, resultadoOf(r)?.datos]) {
    if (!source || typeof source !== 'object') continue;
    const v = (source as Record<string, unknown>).fechaDevolucion;
    if (typeof v === 'string' && v) return v;
  }
  return undefined;
}

function resultadoOf(r: Respuesta): Partial<Respuesta> | undefined {
  const res = r.datos.resultado;
  return res && typeof res === 'object' ? (res as Partial<Respuesta>) : undefined;
}

/**
 * State of an operation from an `estado` reply: `datos.estado`, else the
 * nested result's. Undefined when the reply carries none (e.g. unknown id).
 */
export function estadoOf(r: Respuesta): EstadoOperacion | undefined {
  const candidates = [r.datos.estado, (resultadoOf(r) as Record<string, unknown> | undefined)?.estado];
  for (const c of candidates) if (typeof c === 'string' && (ESTADOS as readonly string[]).includes(c)) return c as EstadoOperacion;
  return undefined;
}

/** "2025-01-31T10:00:00.000Z" → "2025-01-31"; other strings unchanged. */
export function shortDate(iso: string): string {
  return /^\d{4}-\d{2}-\d{2}T/.test(iso) ? iso.slice(0, 10) : iso;
}

export function describeSolicitud(s: NuevaSolicitud): string {
  if (s.operacion === 'estado') return `ESTADO ${s.id}`;
  const libro = s.isbn ?? `«${s.titulo ?? ''}»`;
  if (s.operacion === 'consulta') return `CONSULTA ${libro}`;
  return `${s.operacion.toUpperCase()} ${libro} ${s.usuario}`;
}

/** One line: operation, isbn, usuario, codigo, mensaje, due date if any, the request's id (clave, and the client's label if it differs). */
export function describeRespuesta(s: NuevaSolicitud, r: Respuesta): string {
  return `${describeSolicitud(s)} → ${describeResultado(s, r)}`;
}

/** What describeRespuesta puts after the request's description and its arrow. */
export function describeResultado(s: NuevaSolicitud, r: Respuesta): string {
  const parts = [r.codigo, `"${r.mensaje}"`];
  const due = dueDate(r);
  if (due) parts.push(`vence ${shortDate(due)}`);
  if (s.operacion === 'consulta' && typeof r.datos.disponibles === 'number') {
    parts.push(`disponibles ${r.datos.disponibles}${typeof r.datos.total === 'number' ? `/${r.datos.total}` : ''}`);
  }
  if (s.operacion === 'estado') {
    const e = estadoOf(r);
    const res = resultadoOf(r);
    if (e) parts.push(`estado ${e}`);
    if (res?.codigo) parts.push(`resultado ${res.codigo}`);
  }
  // The clave is what `estado` and a retry need; our PS sends no label, so id = clave.
  const key = r.clave ?? r.id;
  if (key) parts.push(r.id && r.id !== key ? `[id ${r.id}, clave ${key}]` : `[id ${key}]`);
  return parts.join(' ');
}

export function formatDuration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

/** "A=3, B=1": most frequent first, ties by name, so output is stable. */
export function formatCodigos(countsByCodigo: Record<string, number>): string {
  const e = Object.entries(countsByCodigo).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  return e.length ? e.map(([c, n]) => `${c}=${n}`).join(', ') : '(ninguno)';
}
