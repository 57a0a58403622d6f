/**
 * One request in, its reply out: what the GC does with a request body, whichever transport
 * brought it (the ZeroMQ frontend, the HTTP gateway), so both validate and answer alike.
 * Library operations go to the Dispatcher, calculations to the CalcService. No sockets.
 */
import { errorReply, labelReply, now, type Respuesta, type Solicitud } from '../common/protocol/ps-gc.js';
import type { SolicitudCalculo } from '../common/protocol/calc.js';
import { parseRequest, PING } from '../common/protocol/request.js';
import type { Logger } from '../common/logger.js';

export interface RequestHandlerDeps {
  dispatcher: { handle(s: Solicitud): Promise<Respuesta> };
  calculos: { handle(s: SolicitudCalculo): Promise<Respuesta> };
  /** The clave of a request that brought none. */
  makeKey: () => string;
  log: Logger;
}

/**
 * The reply, and the operation it answers, for metrics and error stats: the one the body
 * named, also when a field was wrong; 'invalida' when the body was unreadable or named
 * no known operation.
 */
export interface Handled {
  respuesta: Respuesta;
  operacion: string;
}

/** `bytes`: the body's real size when `body` is only its start (an oversized HTTP body). Never rejects. */
export type RequestHandler = (body: Buffer | string, bytes?: number) => Promise<Handled>;

export function requestHandler(d: RequestHandlerDeps): RequestHandler {
  return (body, bytes) => {
    const parsed = parseRequest(body, d.makeKey, bytes);
    if (!parsed.ok) return Promise.resolve({ respuesta: labelReply(errorReply(parsed.codigo, parsed.mensaje), parsed), operacion: parsed.operacion ?? 'invalida' });
    if ('ping' in parsed) {
      const pong: Respuesta = { exito: true, mensaje: 'El gestor de carga responde', fechaOperacion: now(), datos: {}, codigo: 'OK' };
      return Promise.resolve({ respuesta: labelReply(pong, parsed.ping), operacion: PING });
    }
    if ('calculo' in parsed) {
      const s = parsed.calculo;
      d.log.debug({ opId: s.clave, etiqueta: s.id, operacion: s.operacion }, 'request');
      return d.calculos.handle(s).then((r) => ({ respuesta: labelReply(r, s), operacion: s.operacion }));
    }
    const s = parsed.solicitud;
    d.log.debug({ opId: s.clave, etiqueta: s.id, operacion: s.operacion }, 'request');
    return d.dispatcher.handle(s).then((r) => ({ respuesta: labelReply(r, s), operacion: s.operacion }));
  };
}
