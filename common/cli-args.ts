/**
 * Integer option parser shared by every commander CLI (PS, status, benchmarks),
 * so a bad number is refused at parse time with the same message everywhere
 * instead of turning into NaN or a hang later.
 */
import { InvalidArgumentError } from 'commander';

/** Largest delay setTimeout honours; also a sane ceiling for counts given on a command line. */
const MAX_INT_ARG = 2 ** 31 - 1;

/** Parser for an integer option within [min, max]: digits only (no '', '1e3', '0x10' or '12abc'). */
export function intArg(min: number, max?: number): (v: string) => number {
  return (v: string) => {
    const t = v.trim();
    const n = /^-?\d+$/.test(t) ? Number(t) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < min || n > (max ?? MAX_INT_ARG)) {
      throw new InvalidArgumentError(max === undefined ? `debe ser un entero ≥ ${min}` : `debe ser un entero entre ${min} y ${max}`);
    }
    return n;
  };
}
