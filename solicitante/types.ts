/**
 * Types shared by the PS modules, derived from the common protocol types so the
 * wire contract is declared only once (common/protocol/ps-gc.ts).
 */
import type { Respuesta, Solicitud } from '../common/protocol/ps-gc.js';
import type { SolicitudCalculo } from '../common/protocol/calc.js';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/**
 * A request as the PS builds it: `clave` (the idempotency key) is optional because
 * the client stamps one; `id` is a label of the caller's, echoed by the GC (for
 * `estado`, the operation asked about: its clave, or a label).
 */
export type NuevaSolicitud = DistributiveOmit<Solicitud, 'clave'> & { clave?: string };

/** A calculation as the PS builds it (`calc`), clave optional likewise. */
export type NuevaSolicitudCalculo = DistributiveOmit<SolicitudCalculo, 'clave'> & { clave?: string };

/** Anything the PS's own clients send. */
export type NuevaPeticion = NuevaSolicitud | NuevaSolicitudCalculo;

/** A reply and the GC (endpoint) that gave it. */
export interface GcAnswer {
  respuesta: Respuesta;
  endpoint: string;
}

/** What every GC client offers: one request in, its reply out (or a typed error). */
export interface GcCaller {
  send(solicitud: NuevaSolicitud): Promise<Respuesta>;
  /** As send, also saying which GC answered (the PS's own clients; the load report counts per GC). */
  request?(solicitud: NuevaSolicitud): Promise<GcAnswer>;
  close(): void;
}
