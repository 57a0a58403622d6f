/**
 * The processes the panel watches: each one's kind, the host it runs on and its
 * HTTP observability URL, from arguments such as `pc1=http://127.0.1.1:9570`
 * (or a bare URL: the host is then the URL's address). Pure.
 */
export type ProcessKind = 'gc' | 'ga' | 'actor';

/** Spanish keys: the page gets them as JSON (/api/objetivos, and in every snapshot). */
export interface Target {
  tipo: ProcessKind;
  /** Host label shown and grouped by (pc1, pc2, … or the address). */
  host: string;
  /** Base URL without a trailing slash: /status, /metrics.json, … are appended. */
  url: string;
  /** Unique among the targets: `<kind> <host>`, numbered when a host has several of a kind. */
  nombre: string;
}

export class TargetError extends Error {
  override name = 'TargetError';
}

const HOST_LABEL = /^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$/;

export function parseTarget(kind: ProcessKind, spec: string): Omit<Target, 'nombre'> {
  const eq = spec.indexOf('=');
  const label = eq > 0 && !spec.slice(0, eq).includes('/') ? spec.slice(0, eq) : undefined;
  const raw = label === undefined ? spec : spec.slice(eq + 1);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new TargetError(`--${kind} ${spec}: no es una URL (se espera [host=]http://dirección:puerto, p. ej. pc1=http://127.0.1.1:9570)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TargetError(`--${kind} ${spec}: solo http:// o https://`);
  if (url.search || url.hash || (url.pathname !== '/' && url.pathname !== '')) throw new TargetError(`--${kind} ${spec}: solo dirección y puerto, sin ruta (el panel añade /status)`);
  if (label !== undefined && !HOST_LABEL.test(label)) throw new TargetError(`--${kind} ${spec}: nombre de host no válido '${label}' (letras, dígitos, . _ -)`);
  return { tipo: kind, host: label ?? url.hostname, url: `${url.protocol}//${url.host}` };
}

/** Names every target uniquely; the same URL twice is refused. */
export function nameTargets(targets: ReadonlyArray<Omit<Target, 'nombre'>>): Target[] {
  const seen = new Set<string>();
  const count = new Map<string, number>();
  for (const t of targets) {
    if (seen.has(t.url)) throw new TargetError(`${t.url} aparece dos veces`);
    seen.add(t.url);
    count.set(`${t.tipo} ${t.host}`, (count.get(`${t.tipo} ${t.host}`) ?? 0) + 1);
  }
  const n = new Map<string, number>();
  return targets.map((t) => {
    const base = `${t.tipo} ${t.host}`;
    const i = (n.get(base) ?? 0) + 1;
    n.set(base, i);
    return { ...t, nombre: count.get(base)! > 1 ? `${base} #${i}` : base };
  });
}
