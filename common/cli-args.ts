/**
 * What every commander CLI (PS, status, benchmarks, drills…) shares: the integer option
 * parser, so a bad number is refused at parse time with the same message everywhere
 * instead of turning into NaN or a hang later, and help in the users' language.
 */
import { Help, InvalidArgumentError, type Command, type CommanderError } from 'commander';

/** Largest delay setTimeout honours; also a sane ceiling for counts given on a command line. */
const MAX_INT_ARG = 2 ** 31 - 1;

/** Parser for an integer option within [min, max]: digits only (no '', '1e3', '0x10' or '12abc'). */
export function intArg(min: number, max?: number): (v: string) => number {
  return (v: string) => {
    const t = v.trim();
    const n = /^-?\d+$/.test(t) ? Number(t) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < min || n > (max ?? MAX_INT_ARG)) {
      throw new InvalidArgumentError(`debe ser un entero entre ${min} y ${max ?? MAX_INT_ARG}`);
    }
    return n;
  };
}

/** Commander's own error lines (commander 14), in the users' language; anything else unchanged. */
const ERRORES: Array<[RegExp, string]> = [
  [/^error: unknown option '([^']*)'/m, "error: opción desconocida '$1'"],
  [/^error: unknown command '([^']*)'/m, "error: comando desconocido '$1'"],
  [/^error: missing required argument '([^']*)'/m, "error: falta el argumento obligatorio '$1'"],
  [/^error: option '([^']*)' argument missing/m, "error: a la opción '$1' le falta su valor"],
  [/^error: required option '([^']*)' not specified/m, "error: falta la opción obligatoria '$1'"],
  [/^error: option '([^']*)' argument '([^']*)' is invalid\./m, "error: valor '$2' no válido para la opción '$1':"],
  [/^error: command-argument value '([^']*)' is invalid for argument '([^']*)'\./m, "error: valor '$1' no válido para el argumento '$2':"],
  [/^error: too many arguments(?: for '([^']*)')?\. Expected (\d+) arguments? but got (\d+)\./m, 'error: demasiados argumentos: se esperaban $2 y llegaron $3.'],
  [/ Allowed choices are (.*)\.$/m, ' valores admitidos: $1.'],
  [/\(Did you mean one of ([^?]*)\?\)/, '(¿quiso decir una de $1?)'],
  [/\(Did you mean ([^?]*)\?\)/, '(¿quiso decir $1?)'],
];

/** What a command exits with when commander stops it: 0 for help and --version, 2 for bad arguments. */
export function usageExitCode(err: CommanderError): number {
  return err.exitCode === 0 ? 0 : 2;
}

export function erroresEnEspanol(str: string): string {
  return ERRORES.reduce((s, [re, es]) => s.replace(re, es), str);
}

const enEspanol = (t: string) => t.replace('[options]', '[opciones]').replace('[command]', '[comando]');

const TITULOS: Record<string, string> = { 'Usage:': 'Uso:', 'Options:': 'Opciones:', 'Commands:': 'Comandos:', 'Arguments:': 'Argumentos:', 'Global Options:': 'Opciones globales:' };

/**
 * Commander's help in Spanish, like every description in it: titles, "(por defecto: …)"
 * and the help option. Set on the program before its commands, which inherit it (a program
 * with commands also names its help command: `.helpCommand('help [comando]', …)`; setting
 * it here would give every program one).
 */
export function spanishHelp(program: Command): Command {
  return program
    .helpOption('-h, --help', 'muestra esta ayuda')
    // Merged with what a program sets later (writeOut/writeErr), and inherited by its commands.
    .configureOutput({ outputError: (str, write) => write(erroresEnEspanol(str)) })
    // Bad arguments exit 2 in every command (help and --version 0), as the PS always did. A
    // program that calls exitOverride() itself (to run in-process, in tests) replaces this.
    .exitOverride((err) => process.exit(usageExitCode(err)))
    .configureHelp({
      styleTitle: (t: string) => TITULOS[t] ?? t,
      styleUsage: (u: string) => enEspanol(u),
      styleSubcommandTerm: (t: string) => enEspanol(t),
      optionDescription(option) {
        return Help.prototype.optionDescription.call(this, option).replace(/\(default: /, '(por defecto: ').replace(/, default: /, ', por defecto: ');
      },
      argumentDescription(argument) {
        return Help.prototype.argumentDescription.call(this, argument).replace(/\(default: /, '(por defecto: ');
      },
    });
}
