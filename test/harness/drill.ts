/**
 * Drill tests' harness: one two-hosts system per test file (GA pair, streaming
 * standby, 2 actors per type split across pc1/pc2), short drills run one after
 * another on it, and the old side restored as the new standby in between.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { startLocalSystem, type LocalSystem } from '../../scripts/launcher/local-system.js';
import { tableRow, type DrillReport } from '../../scripts/drill/report.js';
import { DRILL_CLIENT_ENV, restoreAfter, runDrill, type DrillOutcome } from '../../scripts/drill/run.js';
import { SCENARIOS, type Scenario, type ScenarioName } from '../../scripts/drill/scenarios.js';

export const DRILL_ISBNS = Array.from({ length: 6 }, (_, i) => `978-7-00-${String(i + 1).padStart(6, '0')}-0`);
/** The drills' catalog: 4 copies of each of DRILL_ISBNS. */
export const DRILL_LIBROS = DRILL_ISBNS.map((isbn) => ({ isbn, titulo: `Simulacro ${isbn}`, autor: 'Prueba', ejemplares: 4 }));

export interface DrillSystem extends LocalSystem {
  /** Stops everything; the data dir (PostgreSQL data, process logs) is kept when `keep`, for the post-mortem. */
  stopAndClean(keep: boolean): Promise<void>;
}

/** `seguro`: CURVE on the internal sockets, as compose deploys it (the drills must pass either way). */
export async function startDrillSystem(replicacion: 'async' | 'sync', o: { seguro?: boolean } = {}): Promise<DrillSystem> {
  const dir = mkdtempSync(join(tmpdir(), 'drill-'));
  const clean = () => rmSync(dir, { recursive: true, force: true });
  let sys: LocalSystem;
  try {
    sys = await startLocalSystem({
      topology: 'two-hosts',
      ports: 'free',
      dataDir: join(dir, 'datos'),
      libros: DRILL_LIBROS,
      actorsPerType: 2,
      replicacion,
      env: { LOG_LEVEL: 'info', ...DRILL_CLIENT_ENV },
      seguro: o.seguro,
    });
  } catch (err) {
    clean();
    throw err;
  }
  return {
    ...sys,
    stopAndClean: async (keep) => {
      await sys.stop();
      if (keep) process.stdout.write(`drill data and logs kept in ${dir}\n`);
      else clean();
    },
  };
}

/** Short drill (a built-in scenario by name, or the test's own): 5 PS (or `clients`), 1.5 s before the fault, 4 s after it. Prints the table row (timings in the test output). */
export async function drill(sys: LocalSystem, scenario: ScenarioName | Scenario, replicacion: 'async' | 'sync', prefix: string, o: { clients?: number } = {}): Promise<DrillOutcome> {
  const progress = process.env.DRILL_PROGRESS ? (l: string) => process.stdout.write(`${l}\n`) : undefined;
  const out = await runDrill(sys, typeof scenario === 'string' ? SCENARIOS[scenario] : scenario, { clients: o.clients ?? 5, warmupMs: 1500, afterFaultMs: 4000, replicacion, isbns: DRILL_ISBNS, prefix, progress });
  process.stdout.write(`${tableRow(out.report)}\n`);
  return out;
}

export async function restore(sys: LocalSystem, d: DrillOutcome, replicacion: 'async' | 'sync'): Promise<void> {
  await restoreAfter(sys, d, replicacion);
}

/** What every drill must show: recovery without help, nothing acknowledged lost (unless allowed), nothing doubled, stock adds up. */
export function expectSound(r: DrillReport, o: { lossAllowed?: boolean } = {}): void {
  const failed = r.verificaciones.filter((v) => !v.ok && !v.informativo);
  expect(failed, JSON.stringify(r.verificaciones, null, 1)).toEqual([]);
  expect(r.recuperacionMs).not.toBeNull();
  expect(r.solicitudes.abandonadas).toBe(0);
  if (!o.lossAllowed) expect(r.perdidas).toBe(0);
  expect(r.pendientesSinAplicar).toBe(0);
  expect(r.duplicadas).toBe(0);
  expect(r.invariante.ok).toBe(true);
  expect(r.primarioFinal.splitBrain).toBe(false);
}
