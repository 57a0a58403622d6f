/** Typed failures of the PS's GC clients (no reply at all, an unreadable one, or a closed client). */
import { OPERACIONES_ACTOR } from '../common/protocol/ps-gc.js';

/**
 * The GC did not answer after every attempt (1 + PS_RETRIES), each with the same clave.
 * Only a préstamo, devolución or renovación may have been applied meanwhile; a consulta,
 * an estado or a calculation changes nothing and is simply asked again.
 */
export class GcNoReplyError extends Error {
  override name = 'GcNoReplyError';
  constructor(
    readonly endpoint: string,
    readonly clave: string,
    readonly attempts: number,
    readonly timeoutMs: number,
    operacion?: string,
  ) {
    const cambia = operacion === undefined || (OPERACIONES_ACTOR as readonly string[]).includes(operacion);
    super(
      `El GC (${endpoint}) no respondió tras ${attempts} intento(s), con un plazo de ${timeoutMs} ms cada uno (clave ${clave}); ` +
        (cambia ? 'la operación pudo aplicarse o no: consulte su estado con esa clave' : `${operacion} no cambia nada: puede repetirla`),
    );
  }
}

/** The GC answered something that is not a protocol reply; retrying the same request would not help. */
export class GcInvalidReplyError extends Error {
  override name = 'GcInvalidReplyError';
  constructor(readonly endpoint: string, detail: string) {
    super(`Respuesta ilegible del GC (${endpoint}): ${detail}`);
  }
}

/** The client was closed while the request was pending. */
export class GcClientClosedError extends Error {
  override name = 'GcClientClosedError';
  constructor() {
    super('Cliente del GC cerrado');
  }
}
