/**
 * The GA README's table of where each SQL function's current definition lives must
 * match the migrations: the last file that defines it (migrations are never edited).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../gestor_almacenamiento', import.meta.url));

it("the README names, for each function it lists, the last migration that defines it", () => {
  const dir = join(ROOT, 'migrations');
  const latest = new Map<string, string>();
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.sql')).sort()) {
    for (const m of readFileSync(join(dir, f), 'utf8').matchAll(/CREATE (?:OR REPLACE )?FUNCTION (\w+)\(/g)) latest.set(m[1]!, f);
  }
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const rows = [...readme.matchAll(/^\| ((?:`\w+`(?:, )?)+) \| `(\d{3}_\w+\.sql)` \|$/gm)];
  expect(rows.length).toBeGreaterThan(5);
  for (const [, names, file] of rows) {
    for (const name of names!.match(/\w+/g)!) expect(`${name} → ${latest.get(name)}`).toBe(`${name} → ${file}`);
  }
});
