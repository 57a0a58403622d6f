/**
 * One validated GA request in, one GaReply out (reading frames into requests is
 * common/protocol/ga-request.ts). No sockets here: ga.ts feeds the requests in and
 * sends replies back, tests may call this directly.
 */
import type { Logger } from '../common/logger.js';
import type { Fencing, GaReply, GaRequest } from '../common/protocol/internal.js';
import { isConnectionError, isLockTimeout, mayHaveCommitted } from './db.js';
import { WriteQueueFullError } from './write-batcher.js';
import type { Store } from './store.js';

/**
 * Decides, before dispatch, whether this GA may serve the request (e.g. a
 * passive backup answers GA_NO_ACTIVO). Returning undefined lets it through.
 * May be async: a request that triggers a takeover waits for it (briefly).
 */
export type RoleGate = (req: GaRequest) => GaReply | undefined | Promise<GaReply | undefined>;

export interface DispatchDeps {
  /**
   * Read after the gate: a request that waits in the gate for a takeover must run
   * on the pool chosen by that takeover, not on the one ended by the switch.
   */
  store: () => Store;
  rol: () => string;
  gate?: RoleGate;
  /** Told after every storage call: ok, or the connection error that made it fail. */
  onStorage?: (ok: boolean, err?: unknown) => void;
  /** Told when the gate lets a write through, before it runs. */
  onAdmitted?: (orden: 'aplicar' | 'registrar' | 'reclamar') => void;
  /** A pair member's history, stamped on acknowledged writes (the clients' fencing token). */
  fencing?: () => Fencing | undefined;
  log: Logger;
}

export async function dispatch(req: GaRequest, d: DispatchDeps): Promise<GaReply> {
  const gated = d.gate ? await d.gate(req) : undefined;
  if (gated) return gated;
  if (req.orden === 'aplicar' || req.orden === 'registrar' || req.orden === 'reclamar') d.onAdmitted?.(req.orden);
  const ref = req.ref;
  if (req.orden === 'ping') return { ref, exito: true, rol: d.rol() };
  const store = d.store();
  try {
    let reply: GaReply;
    switch (req.orden) {
      case 'aplicar':
        reply = withFencing({ ref, exito: true, resultado: await store.aplicar(req.op) }, d.fencing?.());
        break;
      case 'registrar':
        reply = withFencing({ ref, exito: true, resultado: await store.registrar(req.op, req.arriendo) }, d.fencing?.());
        break;
      case 'consultar':
        reply = { ref, exito: true, resultado: await store.consultar(req.isbn) };
        break;
      case 'consultar_titulo':
        reply = { ref, exito: true, resultado: await store.consultarTitulo(req.titulo) };
        break;
      case 'estado':
        reply = { ref, exito: true, resultado: await store.estado(req.id) };
        break;
      case 'pendientes':
        reply = { ref, exito: true, pendientes: await store.pendientes(req.limite) };
        break;
      case 'reclamar': {
        const r = await store.reclamar(req.gestor, req.arriendoMs, req.limite);
        reply = withFencing({ ref, exito: true, pendientes: r.pendientes, gestores: r.gestores }, d.fencing?.());
        break;
      }
    }
    d.onStorage?.(true);
    return reply;
  } catch (err) {
    if (isConnectionError(err)) {
      d.onStorage?.(false, err);
      // A write whose connection broke mid-statement may have committed: the client must not say "not applied, retry".
      const incierta = (req.orden === 'aplicar' || req.orden === 'registrar') && mayHaveCommitted(err);
      return { ref, exito: false, codigo: 'ALMACENAMIENTO_NO_DISPONIBLE', mensaje: `PostgreSQL no disponible: ${(err as Error).message}`, ...(incierta ? { incierta } : {}) };
    }
    if (err instanceof WriteQueueFullError) {
      // Not a storage failure (PostgreSQL may be fine, only slow to confirm): nothing taken, retry later.
      d.log.warn({ opId: opIdOf(req), orden: req.orden, ref, err: err.message }, 'write refused: the write queue is full');
      return { ref, exito: false, codigo: 'ALMACENAMIENTO_NO_DISPONIBLE', ocupado: true, mensaje: 'El gestor de almacenamiento tiene demasiadas escrituras en espera; nada se aplicó, reintente' };
    }
    if (isLockTimeout(err)) {
      // PostgreSQL answered (so no storage-health failure); the row is busy, nothing was written: retry later.
      d.onStorage?.(true);
      d.log.warn({ opId: opIdOf(req), orden: req.orden, ref }, 'write gave up waiting for a row lock held by another transaction');
      return { ref, exito: false, codigo: 'ALMACENAMIENTO_NO_DISPONIBLE', ocupado: true, mensaje: 'El libro está bloqueado por otra transacción; nada se aplicó, reintente' };
    }
    d.log.error({ err, orden: req.orden, ref }, 'storage call failed');
    return { ref, exito: false, codigo: 'ERROR_INTERNO', mensaje: 'Error interno del gestor de almacenamiento' };
  }
}

function withFencing(reply: Extract<GaReply, { exito: true }>, fencing: Fencing | undefined): GaReply {
  return fencing ? { ...reply, fencing } : reply;
}

/** The op id a request is about, for logs. */
export function opIdOf(req: GaRequest): string | undefined {
  if (req.orden === 'aplicar' || req.orden === 'registrar') return req.op.id;
  if (req.orden === 'estado') return req.id;
  return undefined;
}
