/**
 * The PS command line, as a function of argv and streams so tests can run it
 * in-process; main.ts binds it to the real process. Prints the CLI's product
 * (replies, summaries, reports) to stdout, progress and errors to stderr.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { userPath } from '../common/user-path.js';
import type { Readable, Writable } from 'node:stream';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { ConfigError, PS_VARS, VARIABLES, readConfig, type PsConfig } from '../common/config.js';
import { isbnSchema, usuarioSchema } from '../common/protocol/ps-gc.js';
import { escribirInformeHtml } from '../informes/escribir.js';
import { intArg, spanishHelp, usageExitCode } from '../common/cli-args.js';
import { complete, readRequestsFile, runLines } from './file-mode.js';
import { GcClient } from './gc-client.js';
import { probeGcs, probeTimeoutMs } from './gc-probe.js';
import { formatLoadReport, formatProgress } from './load-report.js';
import { CargaDetenidaError, DEFAULT_MIX, MAX_CLIENTES, maxClientesReq, parseMix, runLoad, type LoadPattern } from './load.js';
import { menu } from './menu.js';
import { DEMO_ISBN, runSystemTest } from './test-sistema.js';
import { USO_CALC, calcRequest, formatCalc } from './calc-command.js';
import { fileErrorReason } from '../common/file-errors.js';

export interface CliIO {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  /** Called once `carga` has checked its options, before its clients start (main.ts: the scheduling policy). */
  beforeLoad?: () => void;
  /**
   * Subscribes to the user's interrupt (main.ts: the first SIGINT/SIGTERM; a second one exits at once).
   * Returns the unsubscribe. `carga` then stops early and still returns its loans and reports.
   */
  onInterrupt?: (cb: () => void) => () => void;
}

interface GlobalOptions {
  gc?: string[];
  timeout?: number;
  reintentos?: number;
}

const validated = (schema: typeof isbnSchema) => (v: string) => {
  const r = schema.safeParse(v);
  if (!r.success) throw new InvalidArgumentError(r.error.issues[0]?.message ?? 'no válido');
  return r.data;
};

/**
 * Why a PS cannot connect to this endpoint, or undefined. GC_ENDPOINTS's schema takes any
 * tcp://x:digits (it is also the shape of a bind address), but zeromq's connect refuses a
 * wildcard host or a port outside 1..65535 with an English 'Invalid argument' on the first
 * request (exit 1), and a port it takes modulo 65536 would be the wrong GC.
 */
function notConnectable(endpoint: string): string | undefined {
  const m = /^tcp:\/\/(.*):(\d+)$/.exec(endpoint);
  if (!m) return undefined;
  const [, host = '', port = ''] = m;
  if (host.includes('*')) return `'${endpoint}': '*' no es una dirección a la que conectarse (eso es para escuchar); indique la del GC, p. ej. tcp://127.0.0.1:5555`;
  const n = Number(port);
  if (n < 1 || n > 65535) return `'${endpoint}': puerto ${port} fuera de rango (1-65535)`;
  return undefined;
}

/** `--gc` by the same rule as GC_ENDPOINTS, and connectable: a bad endpoint would otherwise fail every request with 'Invalid argument'. */
const endpointsArg = (v: string): string[] => {
  const r = VARIABLES.GC_ENDPOINTS.safeParse(v);
  if (!r.success) throw new InvalidArgumentError('endpoint no válido; se espera tcp://host:puerto, o varios separados por comas, el de su sede primero (p. ej. tcp://127.0.0.1:5555,tcp://127.0.1.2:5555)');
  const why = r.data.map(notConnectable).find((x) => x !== undefined);
  if (why) throw new InvalidArgumentError(`endpoint no válido ${why}`);
  return r.data;
};

/** A wrong combination of options, found after parsing; exit code 2 like commander's own usage errors. */
class UsageError extends Error {}

/** Creates (empty) the report file the user named, or says in Spanish why it cannot be. */
async function writableOrUsage(file: string, what: string): Promise<void> {
  try {
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, '', { flag: 'a' });
  } catch (e) {
    throw new UsageError(`no se puede escribir el informe ${what} en ${file} (${fileErrorReason(e)})`);
  }
}

/** Runs the CLI; resolves to the process exit code. */
export async function runCli(argv: string[], io: CliIO): Promise<number> {
  let exitCode = 0;
  const out = io.stdout;

  const config = (cmd: Command): PsConfig => {
    const g = cmd.optsWithGlobals<GlobalOptions>();
    const c = readConfig(PS_VARS, io.env);
    // The variable gets the same check as --gc (a usage error, exit 2), unless --gc replaces it.
    const why = g.gc ? undefined : c.GC_ENDPOINTS.map(notConnectable).find((x) => x !== undefined);
    if (why) throw new UsageError(`${io.env.GC_ENDPOINTS ? 'GC_ENDPOINTS' : 'GC_ENDPOINT'}: endpoint no válido ${why}`);
    return {
      ...c,
      PS_TIMEOUT_MS: g.timeout ?? c.PS_TIMEOUT_MS,
      PS_RETRIES: g.reintentos ?? c.PS_RETRIES,
      GC_ENDPOINTS: g.gc ?? c.GC_ENDPOINTS,
    };
  };
  /** Which GCs listen (gc-probe.ts); `down`: those that do not, when some do (clients start with them suspect). */
  const probe = async (cmd: Command): Promise<{ ok: boolean; down: string[] }> => {
    const c = config(cmd);
    const r = await probeGcs(c.GC_ENDPOINTS, probeTimeoutMs(c.PS_TIMEOUT_MS));
    return r.reachable.length > 0 ? { ok: true, down: r.down } : { ok: false, down: [] };
  };
  /** Batch commands first check that a GC listens: against none they would wait out every timeout. */
  const gcListening = async (cmd: Command): Promise<{ ok: boolean; down: string[] }> => {
    const p = await probe(cmd);
    if (!p.ok) io.stderr.write(`No se alcanza ningún GC (${config(cmd).GC_ENDPOINTS.join(', ')}): ¿está npm start en marcha? (otro GC: --gc tcp://host:puerto)\n`);
    return p;
  };
  const makeClient = (cmd: Command, downAtStart: readonly string[] = []) => {
    const c = config(cmd);
    return new GcClient({
      endpoints: c.GC_ENDPOINTS,
      downAtStart,
      timeoutMs: c.PS_TIMEOUT_MS,
      retries: c.PS_RETRIES,
      sede: c.PS_SEDE,
      onRetry: (i) => io.stderr.write(`(sin respuesta del GC; reintento ${i.attempt}/${i.attempts} con la misma clave ${i.clave}, a ${i.endpoint})\n`),
    });
  };

  const program = spanishHelp(new Command('ps'))
    .description('Proceso solicitante de la biblioteca: envía préstamos, devoluciones y renovaciones al gestor de carga')
    .option('--gc <endpoints>', 'GC a usar, tcp://host:puerto; varios separados por comas, el de su sede primero (por defecto GC_ENDPOINTS)', endpointsArg)
    .option('--timeout <ms>', 'espera por intento (por defecto PS_TIMEOUT_MS)', intArg(50))
    // Bounded like PS_RETRIES (common/config.ts).
    .option('--reintentos <n>', 'reenvíos tras un intento sin respuesta (por defecto PS_RETRIES)', intArg(0, 100))
    .helpCommand('help [comando]', 'muestra la ayuda de un comando')
    .exitOverride()
    .configureOutput({ writeOut: (s) => out.write(s), writeErr: (s) => io.stderr.write(s) });

  program
    .command('menu', { isDefault: true })
    .description('menú interactivo (por defecto)')
    .action(async (_o, cmd: Command) => {
      // A warning, not a refusal: the user may start the system while the menu waits.
      const gcs = config(cmd).GC_ENDPOINTS.join(', ');
      const p = await probe(cmd);
      if (!p.ok) io.stderr.write(`aviso: no se alcanza ningún GC (${gcs}); ¿está npm start en marcha?\n`);
      const gc = makeClient(cmd, p.down);
      try {
        await menu(gc, { input: io.stdin, output: out, endpoint: gcs });
      } finally {
        gc.close();
      }
    });

  program
    .command('archivo <archivo>')
    .description('envía en orden las solicitudes de un fichero (PRESTAMO|DEVOLUCION|RENOVACION <isbn> <usuario>, CONSULTA <isbn>, ESTADO <id>); sale con 1 si alguna línea no es válida o no tuvo respuesta')
    .action(async (file: string, _o, cmd: Command) => {
      // The configuration and the file first: either wrong is the user's mistake (exit 2), GCs up or not.
      config(cmd);
      let text: string;
      try {
        text = await readRequestsFile(userPath(file, io.env));
      } catch (e) {
        io.stderr.write(`${(e as Error).message}\n`);
        exitCode = 2;
        return;
      }
      const listening = await gcListening(cmd);
      if (!listening.ok) {
        exitCode = 1;
        return;
      }
      const gc = makeClient(cmd, listening.down);
      try {
        // Like carga and test-sistema: a run with lost requests or bad lines is not a success.
        // `| head -1`: once the reader is gone, stop sending rather than apply requests nobody sees answered.
        if (!complete(await runLines(text, gc, out, { outputGone: () => !out.writable }))) exitCode = 1;
      } finally {
        gc.close();
      }
    });

  program
    .command('test-sistema')
    .description('escenario préstamo → 2 renovaciones → 3.ª renovación rechazada → devolución → nuevo préstamo; PASS/FAIL')
    .option('--isbn <isbn>', 'libro del catálogo', validated(isbnSchema), DEMO_ISBN)
    .option('--usuario <usuario>', 'usuario (por defecto uno nuevo, ts-<marca de tiempo>)', validated(usuarioSchema))
    .option('--espera <ms>', 'espera máxima a que se aplique la devolución', intArg(0), 10_000)
    .option('--no-limpieza', 'no devolver al final el préstamo de prueba')
    .action(async (o: { isbn: string; usuario?: string; espera: number; limpieza: boolean }, cmd: Command) => {
      const listening = await gcListening(cmd);
      if (!listening.ok) {
        out.write('Resultado: FAIL (GC inalcanzable)\n');
        exitCode = 1;
        return;
      }
      const gc = makeClient(cmd, listening.down);
      try {
        const r = await runSystemTest(gc, out, { isbn: o.isbn, usuario: o.usuario, devolucionTimeoutMs: o.espera, cleanup: o.limpieza });
        exitCode = r.ok ? 0 : 1;
      } finally {
        gc.close();
      }
    });

  program
    .command('carga')
    .description('generador de carga: N clientes en bucle cerrado durante S segundos')
    .option('--clientes <n>', 'clientes simultáneos', intArg(1, MAX_CLIENTES), 10)
    .option('--duracion <s>', 'duración en segundos', intArg(1), 20)
    .option('--mezcla [pesos]', `mezcla aleatoria de operaciones (por defecto ${Object.entries(DEFAULT_MIX).map(([k, v]) => `${k}=${v}`).join(',')})`)
    .option('--secuencia', 'cada cliente repite préstamo → renovación → devolución (por defecto; un ciclo cuyo préstamo falla termina ahí)')
    .option('--isbns <lista>', 'ISBN separados por comas (cliente i usa el i-ésimo, cíclicamente)')
    .option('--transporte <t>', "'dealer' (un socket, en paralelo) o 'req' (un socket REQ por cliente)", 'dealer')
    .option('--repartir', 'reparte los clientes entre los GC como PS de cada sede: el cliente i usa primero el i-ésimo GC de --gc')
    .option('--json [fichero]', 'escribe el informe en JSON (por defecto reports/carga-<fecha>.json; relativo al directorio desde el que se ejecuta)')
    .option('--html <fichero>', 'informe HTML con gráficos (por defecto junto al JSON, o reports/carga-<fecha>.html)')
    .option('--no-html', 'sin informe HTML')
    .action(async (o: { clientes: number; duracion: number; mezcla?: string | boolean; secuencia?: boolean; isbns?: string; transporte: string; repartir?: boolean; json?: string | boolean; html?: string | false }, cmd: Command) => {
      if (o.mezcla !== undefined && o.secuencia) throw new UsageError('use --mezcla o --secuencia, no ambas');
      if (o.transporte !== 'dealer' && o.transporte !== 'req') throw new UsageError("--transporte debe ser 'dealer' o 'req'");
      const maxReq = o.transporte === 'req' ? maxClientesReq() : Infinity;
      if (o.clientes > maxReq) {
        throw new UsageError(
          `--transporte req: caben como mucho ${maxReq} clientes con el límite de ficheros abiertos de este proceso (cada uno usa hasta 6); use menos --clientes, --transporte dealer, o suba el límite (ulimit -n)`,
        );
      }
      let pattern: LoadPattern = { tipo: 'secuencia' };
      // `--mezcla ''` is a mix with no weight (refused), not the sequence.
      if (o.mezcla !== undefined) {
        try {
          pattern = { tipo: 'mezcla', pesos: typeof o.mezcla === 'string' ? parseMix(o.mezcla) : DEFAULT_MIX };
        } catch (e) {
          throw new UsageError((e as Error).message);
        }
      }
      const isbns = o.isbns?.split(',').map((x) => x.trim()).filter(Boolean);
      if (isbns && isbns.length === 0) throw new UsageError('--isbns: la lista está vacía');
      const bad = isbns?.find((i) => !isbnSchema.safeParse(i).success);
      if (bad) throw new UsageError(`--isbns: isbn no válido '${bad}'`);
      const c = config(cmd);
      // A report file that cannot be written is found before the run, not after it.
      if (typeof o.json === 'string') await writableOrUsage(userPath(o.json, io.env), 'JSON');
      if (typeof o.html === 'string') await writableOrUsage(userPath(o.html, io.env), 'HTML');
      const listening = await gcListening(cmd);
      if (!listening.ok) {
        exitCode = 1;
        return;
      }
      io.beforeLoad?.();
      const tty = !!io.stderr.isTTY;
      if (!isbns && o.clientes > 1) {
        io.stderr.write(`aviso: todos los clientes usarán ${DEMO_ISBN}; si tiene pocos ejemplares habrá SIN_EJEMPLARES (indique --isbns)\n`);
      }
      const interrupted = new AbortController();
      const unsubscribe = io.onInterrupt?.(() => {
        io.stderr.write(`${tty ? '\n' : ''}interrumpida: terminando las solicitudes en curso y devolviendo los préstamos abiertos (otra vez para salir ya)…\n`);
        interrupted.abort();
      });
      let report;
      try {
        report = await runLoad({
          signal: interrupted.signal,
          endpoints: c.GC_ENDPOINTS,
          downAtStart: listening.down,
          repartir: o.repartir,
          clientes: o.clientes,
          duracionS: o.duracion,
          carga: pattern,
          isbns,
          timeoutMs: c.PS_TIMEOUT_MS,
          retries: c.PS_RETRIES,
          sede: c.PS_SEDE,
          transporte: o.transporte,
          // A live line on a terminal; occasional plain lines in logs and pipes.
          intervaloProgresoMs: tty ? 500 : 5000,
          onProgreso: (p) => io.stderr.write(tty ? `\r\x1b[K${formatProgress(p)}` : `${formatProgress(p)}\n`),
        });
      } catch (e) {
        // An error that is not a missing reply (no socket left, an unreadable reply): the
        // run stopped at once, and its numbers would describe nothing: no report.
        if (!(e instanceof CargaDetenidaError)) throw e;
        io.stderr.write(`${tty ? '\n' : ''}${e.message}\n`);
        exitCode = 1;
        return;
      } finally {
        unsubscribe?.();
      }
      if (tty) io.stderr.write('\n');
      out.write(formatLoadReport(report));
      const fecha = report.inicio.replace(/[:.]/g, '-');
      let jsonFile: string | undefined;
      if (o.json) {
        // Where the user ran the command (npm runs it in the repo root), reports/ by default (git-ignored).
        const file = (jsonFile = userPath(typeof o.json === 'string' ? o.json : join('reports', `carga-${fecha}.json`), io.env));
        await mkdir(dirname(file), { recursive: true });
        await writeFile(file, JSON.stringify(report, null, 2) + '\n');
        out.write(`informe JSON: ${file}\n`);
      }
      if (o.html !== false) {
        // Beside the JSON; without one, reports/ where the user ran the command, like the JSON's default.
        const html = userPath(o.html || (jsonFile ? jsonFile.replace(/\.json$/i, '') + '.html' : join('reports', `carga-${fecha}.html`)), io.env);
        try {
          out.write(`informe HTML: ${escribirInformeHtml([{ tipo: 'carga', datos: report }], { html, nombre: 'carga', fecha: report.inicio })}\n`);
        } catch (e) {
          // Only an asked-for file is the run's failure; the default place may be read-only (a container).
          io.stderr.write(`no se pudo escribir el informe HTML: ${(e as Error).message}\n`);
          if (o.html) exitCode = 1;
        }
      }
      if (report.respuestas === 0) exitCode = 1;
      // Cut short by the user: the report covers what ran, and the exit says it was interrupted.
      if (interrupted.signal.aborted) exitCode = 130;
    });

  program
    .command('calc <operacion> [args...]')
    .description(`un cálculo en los actores de cálculo; sale con 1 si la respuesta es un error\n${USO_CALC}`)
    .option('--json', 'imprime la respuesta tal cual (JSON)')
    // Negative numbers (`calc resta 10 -5`) are operands, not options.
    .allowUnknownOption()
    .action(async (operacion: string, args: string[], o: { json?: boolean }, cmd: Command) => {
      const s = calcRequest(operacion, args);
      if ('error' in s) throw new UsageError(`${s.error}\nuso:\n${USO_CALC}`);
      const listening = await gcListening(cmd);
      if (!listening.ok) {
        exitCode = 1;
        return;
      }
      const gc = makeClient(cmd, listening.down);
      try {
        const r = await gc.send(s);
        out.write(o.json ? `${JSON.stringify(r)}\n` : formatCalc(s, r).map((l) => `${l}\n`).join(''));
        if (!r.exito) exitCode = 1;
      } finally {
        gc.close();
      }
    });

  // `menu` is the default command, so commander would take a mistyped command for menu's argument.
  const first = firstCommandWord(argv, ['--gc', '--timeout', '--reintentos']);
  const known = program.commands.flatMap((c) => [c.name(), ...c.aliases()]).concat('help');
  if (first !== undefined && !known.includes(first)) {
    io.stderr.write(`comando desconocido '${first}'; comandos: ${known.filter((k) => k !== 'help').join(', ')} (ps --help)\n`);
    return 2;
  }

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) return usageExitCode(e);
    if (e instanceof ConfigError || e instanceof UsageError) {
      io.stderr.write(`${e.message}\n`);
      return 2;
    }
    io.stderr.write(`Error: ${(e as Error).message}\n`);
    return 1;
  }
  return exitCode;
}

/** The first word of argv that is neither an option nor the value of one of `withValue`. */
function firstCommandWord(argv: readonly string[], withValue: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (withValue.includes(a)) i++;
    else if (!a.startsWith('-')) return a;
  }
  return undefined;
}
