/**
 * The one way GC and actors call the GA. Interface fixed here; implementation
 * being written (see issue 2).
 */
import type { Registry } from 'prom-client';
import type { StorageClientConfig } from './config.js';
import type { Logger } from './logger.js';
import type { GaCall, Pendiente } from './internal-protocol.js';
import type { OperacionSolicitada, Resultado } from './protocol.js';

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface EndpointStatus {
  endpoint: string;
  breaker: BreakerState;
  consecutiveFailures: number;
  lastError?: string;
}

export interface StorageClient {
  /** Sends one GA request with rotation/breakers/retries; resolves with the ok reply, or throws StorageUnavailableError / StorageRequestError. */
  call(req: GaCall, ctx?: { opId?: string }): Promise<{ resultado?: Resultado; pendientes?: Pendiente[]; rol?: string }>;
  aplicar(op: OperacionSolicitada): Promise<Resultado>;
  registrar(op: OperacionSolicitada): Promise<Resultado>;
  consultar(isbn: string, opId?: string): Promise<Resultado>;
  estado(id: string): Promise<Resultado>;
  pendientes(limite: number): Promise<Pendiente[]>;
  status(): EndpointStatus[];
  close(): Promise<void>;
}

export function createStorageClient(_cfg: StorageClientConfig, _log: Logger, _registry?: Registry): StorageClient {
  throw new Error('storage client: not yet implemented');
}
