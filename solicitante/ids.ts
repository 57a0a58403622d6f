/**
 * Claves (idempotency keys) made by the PS: a retry resends the same clave so the
 * operation is applied once. A per-process random prefix keeps claves from
 * different PS processes (or runs) from colliding.
 */
import { randomBytes } from 'node:crypto';

export type IdGenerator = () => string;

/** A short random process id, e.g. `ps-3f9a1c`. */
export function newPsId(prefix = 'ps'): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

/** `<psId>-<counter>`; matches opIdSchema (letters, digits, . _ : -). */
export function idGenerator(psId: string = newPsId()): IdGenerator {
  let n = 0;
  return () => `${psId}-${++n}`;
}
