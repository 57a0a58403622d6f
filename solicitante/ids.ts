/**
 * Claves (idempotency keys) made by the PS: a retry resends the same clave so the
 * operation is applied once. A per-process random prefix keeps claves from
 * different PS processes (or runs) from colliding.
 */
import { randomBytes } from 'node:crypto';
import type { NuevaPeticion } from './types.js';

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

export type SolicitudConClave = NuevaPeticion & { clave: string };

/**
 * Gives the request its clave (the idempotency key: every resend carries the same one)
 * and the PS's sede, if configured and not set. Queries get one too: it is how the
 * pipelined client matches replies to requests.
 */
export function stamp(s: NuevaPeticion, makeKey: IdGenerator, sede?: string): SolicitudConClave {
  const clave = s.clave ?? makeKey();
  return { ...s, clave, ...(sede && !s.sede ? { sede } : {}) } as SolicitudConClave;
}
