/**
 * Types shared by the PS modules, derived from the common protocol types so the
 * wire contract is declared only once (common/protocol.ts).
 */
import type { Respuesta, Solicitud } from '../common/protocol.js';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/**
 * A request as the PS builds it: `id` is optional because the client stamps one
 * (for `estado`, `id` is the operation being asked about and is required).
 */
export type NuevaSolicitud =
  | (DistributiveOmit<Exclude<Solicitud, { operacion: 'estado' }>, 'id'> & { id?: string })
  | Extract<Solicitud, { operacion: 'estado' }>;

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
