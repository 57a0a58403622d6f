/**
 * The moments the panel marks on its timeline, found by comparing two
 * consecutive snapshots: a GA's role state or its PostgreSQL's role or timeline
 * changing, a breaker opening or closing, a process that stops answering or
 * comes back. Pure.
 */
import type { PanelEvent, PanelSnapshot } from './snapshot.js';

export function changes(prev: PanelSnapshot | undefined, cur: PanelSnapshot): PanelEvent[] {
  if (!prev) return [];
  const t = cur.t;
  const out: PanelEvent[] = [];
  const add = (tipo: PanelEvent['tipo'], texto: string) => out.push({ t, tipo, texto });

  const prevGa = new Map(prev.gas.map((g) => [g.objetivo.url, g]));
  for (const g of cur.gas) {
    const p = prevGa.get(g.objetivo.url);
    if (!p) continue;
    const host = g.objetivo.host;
    if (p.responde && !g.responde) add('proceso', `GA ${host} no responde`);
    if (!p.responde && g.responde) add('proceso', `GA ${host} responde de nuevo`);
    const before = p.estado;
    const now = g.estado;
    if (!before || !now) continue;
    // Documents come off the network: a GA of another version may lack a field.
    if (before.papel?.estado !== now.papel?.estado) add('rol', `GA ${host}: ${before.papel?.estado ?? '?'} → ${now.papel?.estado ?? '?'}`);
    if (before.postgres?.rolPg !== now.postgres?.rolPg) add('rol', `PostgreSQL del GA ${host}: ${before.postgres?.rolPg ?? '?'} → ${now.postgres?.rolPg ?? '?'}`);
    const tl = (x: typeof now) => (x.postgres && 'timeline' in x.postgres ? x.postgres.timeline : undefined);
    if (tl(before) !== undefined && tl(now) !== undefined && tl(before) !== tl(now)) add('rol', `PostgreSQL del GA ${host}: timeline ${tl(before)} → ${tl(now)}`);
  }

  for (const [list, prevList, what] of [
    [cur.gcs, prev.gcs, 'GC'],
    [cur.actores, prev.actores, 'actor'],
  ] as const) {
    const before = new Map(prevList.map((x) => [x.objetivo.url, x.responde]));
    for (const x of list) {
      const was = before.get(x.objetivo.url);
      if (was === true && !x.responde) add('proceso', `${what} ${x.objetivo.nombre} no responde`);
      if (was === false && x.responde) add('proceso', `${what} ${x.objetivo.nombre} responde de nuevo`);
    }
  }

  const key = (b: PanelSnapshot['disyuntores'][number]) => `${b.cliente} ${b.endpoint}`;
  const prevBreakers = new Map(prev.disyuntores.map((b) => [key(b), b.disyuntor]));
  for (const b of cur.disyuntores) {
    const was = prevBreakers.get(key(b));
    if (was === undefined || was === b.disyuntor) continue;
    if (b.disyuntor === 'open') add('breaker', `breaker abierto: ${b.cliente} → ${b.endpoint.replace('tcp://', '')}`);
    else if (b.disyuntor === 'closed') add('breaker', `breaker cerrado: ${b.cliente} → ${b.endpoint.replace('tcp://', '')}`);
  }
  return out;
}
