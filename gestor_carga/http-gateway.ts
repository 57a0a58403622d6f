/**
 * The GC's HTTP gateway, on its HTTP port beside /health, /metrics, /status, /errors/stats:
 *
 *   POST /operaciones         the same JSON request as on ZeroMQ → the same JSON reply
 *   GET  /operaciones/{id}    = {"operacion":"estado","id":"{id}"}
 *   GET  /libros/{isbn}       = {"operacion":"consulta","isbn":"{isbn}"}
 *
 * It only translates: every request goes through the GC's one request path (GcHandle.request),
 * so validation, limits, rules, metrics and /errors/stats are those of the ZeroMQ frontend.
 * The body is the protocol reply; the status follows its code's class (codes.ts): 200 (202 for
 * ACEPTADO), 400, 404, 409, 503, 500; 405 for a method a route does not take.
 */
import type http from 'node:http';
import { MAX_REQUEST_BYTES, MAX_TRANSPORT_BYTES, encode, errorReply, type Respuesta } from '../common/protocol/ps-gc.js';
import { httpStatusOf } from '../common/protocol/codes.js';
import type { Logger } from '../common/logger.js';
import type { GcHandle } from './gc.js';

/** The gateway's routes, as an HTTP 404 lists them. */
export const RUTAS_GATEWAY = ['POST /operaciones', 'GET /operaciones/{id}', 'GET /libros/{isbn}'] as const;

/** A body still arriving after this long is refused: a slow sender must not hold a request open. */
export const BODY_TIMEOUT_MS = 10_000;

export type Ruta =
  /** POST /operaciones: the body is the request. */
  | { tipo: 'cuerpo' }
  /** A GET that stands for a request (estado, consulta). */
  | { tipo: 'solicitud'; solicitud: { operacion: 'estado'; id: string } | { operacion: 'consulta'; isbn: string } }
  | { tipo: 'metodo'; permitido: 'GET' | 'POST' }
  | { tipo: 'mal-codificada' };

/** Which gateway route a method and path name; undefined when the path is not the gateway's. Pure. */
export function rutaDe(method: string | undefined, path: string): Ruta | undefined {
  // A trailing slash is the same collection: an empty {id} is no operation to ask about.
  if (path === '/operaciones' || path === '/operaciones/') return method === 'POST' ? { tipo: 'cuerpo' } : { tipo: 'metodo', permitido: 'POST' };
  // An empty {isbn} (/libros/) names no route: the 404 lists them.
  const m = /^\/(operaciones|libros)\/([^/]+)$/.exec(path);
  if (!m) return undefined;
  if (method !== 'GET') return { tipo: 'metodo', permitido: 'GET' };
  let valor: string;
  try {
    valor = decodeURIComponent(m[2]!);
  } catch {
    return { tipo: 'mal-codificada' };
  }
  // The value goes into the request as a string; the request's schema judges it like any other.
  return { tipo: 'solicitud', solicitud: m[1] === 'operaciones' ? { operacion: 'estado', id: valor } : { operacion: 'consulta', isbn: valor } };
}

function send(res: http.ServerResponse, r: Respuesta, status = httpStatusOf(r.codigo), headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const body = encode(r);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(body)), ...headers });
  res.end(body);
}

/**
 * Reads a body, keeping only what validation needs (one byte past the request limit) and
 * counting the rest: a 1 MiB body costs 16 KiB of memory and is refused for its size, like a
 * ZeroMQ message. Past MAX_TRANSPORT_BYTES (where ZeroMQ would disconnect) or BODY_TIMEOUT_MS
 * it stops reading and `refuse`s.
 */
function readBody(req: http.IncomingMessage, done: (head: Buffer, bytes: number) => void, refuse: (mensaje: string) => void): void {
  const chunks: Buffer[] = [];
  let kept = 0;
  let bytes = 0;
  let over = false;
  const stop = (mensaje: string) => {
    if (over) return;
    over = true;
    clearTimeout(timer);
    req.pause();
    refuse(mensaje);
  };
  const timer = setTimeout(() => stop(`El cuerpo no llegó completo en ${BODY_TIMEOUT_MS / 1000} s`), BODY_TIMEOUT_MS);
  const declared = Number(req.headers['content-length']);
  if (declared > MAX_TRANSPORT_BYTES) {
    stop(`Mensaje demasiado grande (${declared} bytes; máximo ${MAX_REQUEST_BYTES})`);
    return;
  }
  req.on('data', (c: Buffer) => {
    if (over) return;
    bytes += c.length;
    if (kept <= MAX_REQUEST_BYTES) {
      const piece = c.subarray(0, MAX_REQUEST_BYTES + 1 - kept);
      chunks.push(piece);
      kept += piece.length;
    }
    if (bytes > MAX_TRANSPORT_BYTES) stop(`Mensaje demasiado grande (más de ${MAX_TRANSPORT_BYTES} bytes; máximo ${MAX_REQUEST_BYTES})`);
  });
  req.on('end', () => {
    if (over) return;
    over = true;
    clearTimeout(timer);
    done(Buffer.concat(chunks), bytes);
  });
  // The client went away: nobody to answer.
  req.on('error', () => {
    over = true;
    clearTimeout(timer);
  });
  req.on('close', () => clearTimeout(timer));
}

/** The `api` hook for startHttpServer (common/http-server.ts). */
export function httpGateway(gc: Pick<GcHandle, 'request' | 'refused'>, log: Logger): (req: http.IncomingMessage, res: http.ServerResponse, path: string) => boolean {
  const answer = (res: http.ServerResponse, p: Promise<{ respuesta: Respuesta }>, what: Record<string, unknown>) => {
    p.then(
      ({ respuesta }) => {
        log.debug({ opId: respuesta.clave ?? respuesta.id, ...what, status: httpStatusOf(respuesta.codigo), codigo: respuesta.codigo }, 'http request answered');
        send(res, respuesta);
      },
      (err: unknown) => {
        log.error({ err, ...what }, 'http gateway request failed');
        send(res, errorReply('ERROR_INTERNO'));
      },
    );
  };
  /** Refused by the gateway itself (method, encoding, size past the transport cap): counted like any reply. */
  const refuse = (res: http.ServerResponse, mensaje: string, status?: number, headers?: Record<string, string>) => {
    const r = errorReply('SOLICITUD_INVALIDA', mensaje);
    // Recorded under the status actually sent (405), not the class's 400.
    gc.refused(r, 'http', status);
    send(res, r, status, headers);
  };

  return (req, res, path) => {
    const ruta = rutaDe(req.method, path);
    if (!ruta) return false;
    const what = { method: req.method, path: path.slice(0, 200) };
    switch (ruta.tipo) {
      case 'metodo':
        refuse(res, `Método ${String(req.method).slice(0, 20)} no admitido en ${path.slice(0, 100)}; use ${ruta.permitido}`, 405, { allow: ruta.permitido });
        req.resume();
        break;
      case 'mal-codificada':
        refuse(res, 'Ruta mal codificada (secuencia % no válida)');
        req.resume();
        break;
      case 'solicitud':
        answer(res, gc.request(Buffer.from(JSON.stringify(ruta.solicitud)), 'http'), what);
        req.resume();
        break;
      case 'cuerpo':
        readBody(
          req,
          (head, bytes) => answer(res, gc.request(head, 'http', bytes), what),
          (mensaje) => {
            // The rest of the body is not read: close the connection once the reply is out.
            res.once('finish', () => req.destroy());
            refuse(res, mensaje, undefined, { connection: 'close' });
          },
        );
        break;
    }
    return true;
  };
}
