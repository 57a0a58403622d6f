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

  const prevGa = new Map(prev.gas.map((g) => [g.target.url, g]));
  for (const g of cur.gas) {
    const p = prevGa.get(g.target.url);
    if (!p) continue;
    const host = g.target.host;
    if (p.ok && !g.ok) add('proceso', `GA ${host} no responde`);
    if (!p.ok && g.ok) add('proceso', `GA ${host} responde de nuevo`);
    const before = p.status;
    const now = g.status;
    if (!before || !now) continue;
    // Documents come off the network: a GA of another version may lack a field.
    if (before.role?.estado !== now.role?.estado) add('rol', `GA ${host}: ${before.role?.estado ?? '?'} → ${now.role?.estado ?? '?'}`);
    if (before.postgres?.pgRole !== now.postgres?.pgRole) add('rol', `PostgreSQL del GA ${host}: ${before.postgres?.pgRole ?? '?'} → ${now.postgres?.pgRole ?? '?'}`);
    const tl = (x: typeof now) => (x.postgres && 'timeline' in x.postgres ? x.postgres.timeline : undefined);
    if (tl(before) !== undefined && tl(now) !== undefined && tl(before) !== tl(now)) add('rol', `PostgreSQL del GA ${host}: timeline ${tl(before)} → ${tl(now)}`);
  }

  for (const [list, prevList, what] of [
    [cur.gcs, prev.gcs, 'GC'],
    [cur.actores, prev.actores, 'actor'],
  ] as const) {
    const before = new Map(prevList.map((x) => [x.target.url, x.ok]));
    for (const x of list) {
      const was = before.get(x.target.url);
      if (was === true && !x.ok) add('proceso', `${what} ${x.target.name} no responde`);
      if (was === false && x.ok) add('proceso', `${what} ${x.target.name} responde de nuevo`);
    }
  }

  const key = (b: PanelSnapshot['breakers'][number]) => `${b.cliente} ${b.endpoint}`;
  const prevBreakers = new Map(prev.breakers.map((b) => [key(b), b.breaker]));
  for (const b of cur.breakers) {
    const was = prevBreakers.get(key(b));
    if (was === undefined || was === b.breaker) continue;
    if (b.breaker === 'open') add('breaker', `breaker abierto: ${b.cliente} → ${b.endpoint.replace('tcp://', '')}`);
    else if (b.breaker === 'closed' && was !== 'closed') add('breaker', `breaker cerrado: ${b.cliente} → ${b.endpoint.replace('tcp://', '')}`);
  }
  return out;
}
