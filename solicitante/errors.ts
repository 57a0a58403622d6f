/** Typed failures of the PS's GC clients (no reply at all, or an unreadable one). */

/** The GC did not answer after every attempt (1 + PS_RETRIES), each with the same op id. */
export class GcSinRespuestaError extends Error {
  override name = 'GcSinRespuestaError';
  constructor(
    readonly endpoint: string,
    readonly id: string,
    readonly intentos: number,
    readonly timeoutMs: number,
  ) {
    super(`El GC (${endpoint}) no respondió tras ${intentos} intento(s) de ${timeoutMs} ms (id ${id}); la operación pudo aplicarse o no: consulte su estado con ese id`);
  }
}

/** The GC answered something that is not a protocol reply; retrying the same request would not help. */
export class GcRespuestaInvalidaError extends Error {
  override name = 'GcRespuestaInvalidaError';
  constructor(readonly endpoint: string, detalle: string) {
    super(`Respuesta ilegible del GC (${endpoint}): ${detalle}`);
  }
}

/** The client was closed while the request was pending. */
export class GcClienteCerradoError extends Error {
  override name = 'GcClienteCerradoError';
  constructor() {
    super('Cliente del GC cerrado');
  }
}
