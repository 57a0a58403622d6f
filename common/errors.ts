/** Typed errors; each carries the protocol code a reply should use. */
import type { ErrorCode } from './protocol/codes.js';

export class ProtocolError extends Error {
  override name = 'ProtocolError';
  constructor(readonly codigo: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * Every GA endpoint failed, timed out, was passive or had its breaker open, for all attempts.
 *
 * `outcomeUnknown`: a write reached a GA that never answered (timeout, lost socket),
 * so it may have committed. Telling the user "not available, retry" would invite a
 * retry under a new id — a second renewal — so such a call carries TIEMPO_AGOTADO
 * ("ask estado with its id") instead of ALMACENAMIENTO_NO_DISPONIBLE.
 */
export class StorageUnavailableError extends ProtocolError {
  override name = 'StorageUnavailableError';
  constructor(message: string, options?: { cause?: unknown; outcomeUnknown?: boolean }) {
    super(options?.outcomeUnknown ? 'TIEMPO_AGOTADO' : 'ALMACENAMIENTO_NO_DISPONIBLE', message, options);
  }

  get outcomeUnknown(): boolean {
    return this.codigo === 'TIEMPO_AGOTADO';
  }
}

/** The GA refused the request as malformed; retrying cannot help. */
export class StorageRequestError extends ProtocolError {
  override name = 'StorageRequestError';
  constructor(message: string) {
    super('ERROR_INTERNO', message);
  }
}
