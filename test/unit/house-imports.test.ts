/**
 * The import rules of docs/architecture.md ("What may import what"), read from the
 * sources: a new edge between folders fails here until the rule changes on purpose.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../harness/fixtures.js';

type Area = 'common/protocol' | 'common' | 'postgres' | 'gestor_carga' | 'actores' | 'gestor_almacenamiento' | 'solicitante' | 'informes' | 'panel' | 'scripts';
const AREAS: Area[] = ['common/protocol', 'common', 'postgres', 'gestor_carga', 'actores', 'gestor_almacenamiento', 'solicitante', 'informes', 'panel', 'scripts'];

/** What each area may import at run time; `types` also for `import type` only. */
const RULES: Record<Area, { runtime: Area[]; types?: Area[] | 'any' }> = {
  'common/protocol': { runtime: [] },
  common: { runtime: ['common/protocol'] },
  postgres: { runtime: ['common'] },
  gestor_carga: { runtime: ['common', 'common/protocol'] },
  actores: { runtime: ['common', 'common/protocol'] },
  gestor_almacenamiento: { runtime: ['common', 'common/protocol', 'postgres'] },
  solicitante: { runtime: ['common', 'common/protocol', 'informes'] },
  informes: { runtime: ['common', 'common/protocol'], types: 'any' },
  panel: { runtime: ['common', 'common/protocol', 'informes'], types: 'any' },
  scripts: { runtime: AREAS },
};

interface Edge {
  file: string;
  from: Area;
  to: Area;
  typeOnly: boolean;
}

function areaOf(rel: string): Area | undefined {
  if (rel.startsWith('common/protocol/')) return 'common/protocol';
  return AREAS.find((a) => rel.startsWith(`${a}/`));
}

function sources(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => path.relative(ROOT, path.join(e.parentPath, e.name)));
}

/** Relative imports and re-exports of one file, static and dynamic. */
export function importsOf(text: string): Array<{ spec: string; typeOnly: boolean }> {
  const out: Array<{ spec: string; typeOnly: boolean }> = [];
  for (const m of text.matchAll(/^\s*(import|export)\s+(type\s+)?[^;]*?from\s+'(\.[^']+)'/gms)) out.push({ spec: m[3]!, typeOnly: m[2] !== undefined });
  for (const m of text.matchAll(/import\(\s*'(\.[^']+)'\s*\)/g)) out.push({ spec: m[1]!, typeOnly: false });
  return out;
}

function edges(): Edge[] {
  const all: Edge[] = [];
  for (const file of ['common', 'postgres', 'gestor_carga', 'actores', 'gestor_almacenamiento', 'solicitante', 'informes', 'panel', 'scripts'].flatMap(sources)) {
    const from = areaOf(file)!;
    for (const { spec, typeOnly } of importsOf(readFileSync(path.join(ROOT, file), 'utf8'))) {
      const to = areaOf(path.relative(ROOT, path.resolve(ROOT, path.dirname(file), spec)));
      if (to && to !== from) all.push({ file, from, to, typeOnly });
    }
  }
  return all;
}

function allowed(e: Edge): boolean {
  const rule = RULES[e.from];
  if (rule.runtime.includes(e.to)) return true;
  return e.typeOnly && (rule.types === 'any' || (rule.types ?? []).includes(e.to));
}

describe('what may import what (docs/architecture.md)', () => {
  const found = edges();

  it('reads the edges the house is built on', () => {
    // The scanner itself: if it stopped seeing imports, every rule below would pass.
    const seen = new Set(found.map((e) => `${e.from}->${e.to}${e.typeOnly ? ' (type)' : ''}`));
    expect(seen).toContain('gestor_almacenamiento->postgres');
    expect(seen).toContain('gestor_carga->common/protocol');
    expect(seen).toContain('common->common/protocol');
    expect(seen).toContain('panel->gestor_carga (type)');
  });

  it('no folder imports against the rules', () => {
    const bad = found.filter((e) => !allowed(e)).map((e) => `${e.file}: ${e.from} -> ${e.to}${e.typeOnly ? ' (type only)' : ''}`);
    expect(bad).toEqual([]);
  });

  it('tells a type-only import from a run-time one', () => {
    expect(importsOf("import type { A } from '../x.js';\nimport { b } from './y.js';\nexport { c } from '../z.js';\nconst m = await import('./w.js');")).toEqual([
      { spec: '../x.js', typeOnly: true },
      { spec: './y.js', typeOnly: false },
      { spec: '../z.js', typeOnly: false },
      { spec: './w.js', typeOnly: false },
    ]);
  });
});
