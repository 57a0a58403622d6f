/**
 * `npm run informe -- a.json [b.json …] [--html f] [--nombres a,b]`
 *
 * One JSON report (carga, bench or drill): its HTML report again. Several runs
 * (several files, or one file holding several: drill todos, bench:gcs): compared
 * side by side (a table with one column per run, charts with one line per run),
 * e.g. sync vs async devolución, one vs two actors per type, one GC vs two.
 * A CLI: messages on stdout/stderr; exit 2 on bad input.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Command, CommanderError } from 'commander';
import { spanishHelp, usageExitCode } from '../common/cli-args.js';
import { userPath } from '../common/user-path.js';
import { htmlReportPath, reportsDir } from './escribir.js';
import { writeHtmlReport } from './html.js';
import { InformeDesconocidoError, reconocer, vistaComparada, vistaDe, type Informe, type Vista } from './vista.js';
import { fileErrorReason } from '../common/file-errors.js';

class EntradaError extends Error {}

function leer(file: string): Informe[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new EntradaError(`no se puede leer ${file}: ${fileErrorReason(e)}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new EntradaError(`${file} no es JSON válido: ${(e as Error).message}`);
  }
  try {
    return reconocer(json, file);
  } catch (e) {
    if (e instanceof InformeDesconocidoError) throw new EntradaError(e.message);
    throw e;
  }
}

/** Runs the CLI; resolves to the exit code. */
export async function runInforme(argv: string[], io: { out: (s: string) => void; err: (s: string) => void }, now = new Date()): Promise<number> {
  const program = spanishHelp(new Command('informe'))
    .description('informe HTML de un JSON de carga, bench o drill; con varios, los compara lado a lado')
    .argument('<archivo...>', 'informes JSON (de ps carga --json, npm run bench, npm run drill --json)')
    .option('--html <fichero>', 'dónde escribir el HTML (por defecto junto al JSON, o reports/comparacion-<fecha>.html; sustituye al que haya)')
    .option('--nombres <lista>', 'nombre de cada corrida, separados por comas (por defecto el nombre del fichero)')
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err });
  try {
    program.parse(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) return usageExitCode(e);
    throw e;
  }
  const files = program.args.map((f) => userPath(f));
  const o = program.opts<{ html?: string; nombres?: string }>();
  try {
    const nombres = o.nombres?.split(',').map((x) => x.trim()) ?? files.map((f) => path.basename(f).replace(/\.json$/i, ''));
    if (nombres.length !== files.length) throw new EntradaError(`--nombres tiene ${nombres.length} nombres para ${files.length} ficheros`);
    const leidos = files.map(leer);
    // A file with several runs (drill todos, bench:gcs) gives one run each, told apart by their label.
    const entradas = leidos.flatMap((informes, i) =>
      informes.map((informe) => ({ nombre: informes.length > 1 && informe.etiqueta ? `${files.length > 1 ? `${nombres[i]} ` : ''}${informe.etiqueta}` : nombres[i]!, informe })),
    );
    const html = o.html === undefined ? undefined : userPath(o.html);
    const file =
      entradas.length === 1 || files.length === 1
        ? htmlReportPath({ html, json: files[0], nombre: 'informe', fecha: now.toISOString() })
        : (html ?? path.join(reportsDir(), `comparacion-${now.toISOString().replace(/[:.]/g, '-')}.html`));
    if (files.some((f) => path.resolve(f) === path.resolve(file))) throw new EntradaError(`--html ${file} es uno de los informes de entrada: no se sobrescribe`);
    let vista: Vista;
    try {
      vista = entradas.length === 1 ? vistaDe(`Informe: ${nombres[0]}`, leidos[0]!, now) : vistaComparada(entradas, now);
    } catch (e) {
      // reconocer() looks at the top-level shape only; a file of that shape missing a field the view reads is as unusable.
      if (e instanceof TypeError) throw new EntradaError(`${files.join(', ')}: informe incompleto o de otra versión (${e.message})`);
      throw e;
    }
    // Rendering a report again replaces the HTML beside its JSON: say so, it may have been edited or kept.
    const replaced = existsSync(file);
    writeHtmlReport(file, vista);
    io.out(`informe HTML: ${file}${replaced ? ' (sustituye al anterior)' : ''}\n`);
    return 0;
  } catch (e) {
    if (e instanceof EntradaError) {
      io.err(`${e.message}\n`);
      return 2;
    }
    io.err(`Error: ${(e as Error).message}\n`);
    return 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runInforme(process.argv.slice(2), { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) }).then(
    (code) => (process.exitCode = code),
    (e: unknown) => {
      process.stderr.write(`Error: ${(e as Error).message}\n`);
      process.exitCode = 1;
    },
  );
}
