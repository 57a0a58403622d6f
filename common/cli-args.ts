/**
 * What every commander CLI (PS, status, benchmarks, drills…) shares: the integer option
 * parser, so a bad number is refused at parse time with the same message everywhere
 * instead of turning into NaN or a hang later, and help in the users' language.
 */
import { Help, InvalidArgumentError, type Command } from 'commander';

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
