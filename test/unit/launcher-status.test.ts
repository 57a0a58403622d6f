/**
 * npm start's status rules (scripts/launcher/main.ts): a dead process is warned
 * about once per change, not every 500 ms; the banner's `carga` suggestion uses
 * books with copies to spare from the demo catalog, never test-sistema's book.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { readCatalogFile } from '../../gestor_almacenamiento/catalog.js';
import { DEMO_ISBN } from '../../solicitante/test-sistema.js';
import { projectRoot } from '../../common/project-root.js';
import { loadSuggestion, processWarnings, type ProcesoVisto } from '../../scripts/launcher/main.js';
import { formatGc, formatGcLoad } from '../../scripts/launcher/status.js';

const proc = (name: string, running: boolean): ProcesoVisto => ({ name, running, logFile: `/logs/${name}.log` });

describe('processWarnings', () => {
  it('warns once when a process stops, stays quiet while it stays down, warns again when it returns or dies again', () => {
    const looks = [
      [proc('gc', true), proc('prestamo-1', true)],
      [proc('gc', true), proc('prestamo-1', false)],
      [proc('gc', true), proc('prestamo-1', false)],
      [proc('gc', true), proc('prestamo-1', false)],
      [proc('gc', true), proc('prestamo-1', true)],
      [proc('gc', true), proc('prestamo-1', false)],
    ];
    let estado: ReadonlyMap<string, boolean> = new Map();
    const all: string[][] = [];
    for (const now of looks) {
      const r = processWarnings(estado, now);
      estado = r.estado;
      all.push(r.avisos);
    }
    expect(all).toEqual([
      [],
      ['AVISO: prestamo-1 no está en marcha (log: /logs/prestamo-1.log)'],
      [],
      [],
      ['AVISO: prestamo-1 vuelve a estar en marcha'],
      ['AVISO: prestamo-1 no está en marcha (log: /logs/prestamo-1.log)'],
    ]);
  });

  it('a process already down at the first look is warned about', () => {
    expect(processWarnings(new Map(), [proc('ga-pc2', false)]).avisos).toHaveLength(1);
  });
});

describe('loadSuggestion', () => {
  it('on the demo catalog: one client per book with at least 3 copies, never the test-sistema book', async () => {
    const libros = (await readCatalogFile(join(projectRoot(), 'gestor_almacenamiento', 'catalogo-demo.csv'))).map((l) => ({ isbn: l.isbn, disponibles: l.ejemplares }));
    const cmd = loadSuggestion(libros)!;
    const m = /^carga --clientes (\d+) --duracion \d+ --isbns (\S+)$/.exec(cmd);
    expect(m).not.toBeNull();
    const isbns = m![2]!.split(',');
    expect(Number(m![1])).toBe(isbns.length);
    expect(isbns.length).toBeGreaterThanOrEqual(2);
    expect(new Set(isbns).size).toBe(isbns.length);
    expect(isbns).not.toContain(DEMO_ISBN);
    for (const i of isbns) expect(libros.find((l) => l.isbn === i)!.disponibles).toBeGreaterThanOrEqual(3);
  });

  it('follows the copies free now: drained books are skipped; with none roomy, one client on the best one; none free, no suggestion', () => {
    const libros = [
      { isbn: 'A', disponibles: 5 },
      { isbn: 'B', disponibles: 0 },
      { isbn: 'C', disponibles: 3 },
      { isbn: DEMO_ISBN, disponibles: 9 },
    ];
    expect(loadSuggestion(libros)).toBe('carga --clientes 2 --duracion 20 --isbns A,C');
    expect(loadSuggestion([{ isbn: 'A', disponibles: 1 }, { isbn: 'C', disponibles: 2 }])).toBe('carga --clientes 1 --duracion 20 --isbns C');
    expect(loadSuggestion([{ isbn: 'A', disponibles: 0 }, { isbn: DEMO_ISBN, disponibles: 4 }])).toBeUndefined();
  });
});

describe('load per GC', () => {
  const g = (id: string, atendidas: number, vistoHaceMs: number, vivo = true) => ({ id, vivo, vistoHaceMs, informe: { id, sede: id.slice(3), atendidas, porSegundo: atendidas / 10, tareas: 0 } });

  it('npm run status lists every GC with its share, from the freshest view, a dead one too', () => {
    const fromPc1 = [g('gc-pc1', 300, 0), g('gc-pc2', 90, 5000, false)];
    const fromPc2 = [g('gc-pc1', 290, 1500), g('gc-pc2', 100, 0)];
    const text = formatGcLoad([fromPc1, fromPc2])!;
    expect(text.split('\n')).toHaveLength(3);
    expect(text).toMatch(/gc-pc1\s+pc1\s+vivo\s+respuestas\s+300 \(\s*75 %\)/);
    expect(text).toMatch(/gc-pc2\s+pc2\s+vivo\s+respuestas\s+100 \(\s*25 %\)/);
    expect(formatGcLoad([[g('gc-pc1', 5, 0), g('gc-pc2', 0, 9000, false)]])).toMatch(/gc-pc2\s+pc2\s+CAÍDO\s+respuestas\s+0/);
    expect(formatGcLoad([])).toBeUndefined();
  });
});

describe('formatGc', () => {
  const gc = (actores: object[]) => ({ actoresVivos: { prestamo: 2, devolucion: 2, renovacion: 2 }, actores, tareas: {} });

  it('names the actor ids two processes share, and says nothing when none does', () => {
    const a = (actorId: string, extra = {}) => ({ tipo: 'prestamo', actorId, vivo: true, suscrito: true, enCursoReportado: 0, ...extra });
    const repeated = formatGc('http://gc', gc([a('actor-1', { idRepetido: true }), a('actor-2')]));
    expect(repeated).toMatch(/ID REPETIDO: prestamo\.actor-1: dos procesos/);
    expect(repeated).not.toMatch(/actor-2/);
    expect(formatGc('http://gc', gc([a('actor-1'), a('actor-2')]))).not.toMatch(/REPETIDO/);
  });
});
