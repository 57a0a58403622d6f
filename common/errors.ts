/** Typed errors; each carries the protocol code a reply should use. */
import type { ErrorCode } from './codes.js';

export class ProtocolError extends Error {
  override name = 'ProtocolError';
  constructor(readonly codigo: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Every GA endpoint failed, timed out, was passive or had its breaker open, for all attempts. */
export class StorageUnavailableError extends ProtocolError {
  override name = 'StorageUnavailableError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('ALMACENAMIENTO_NO_DISPONIBLE', message, options);
  }
}

/** The GA refused the request as malformed; retrying cannot help. */
export class StorageRequestError extends ProtocolError {
  override name = 'StorageRequestError';
  constructor(message: string) {
    super('ERROR_INTERNO', message);
  }
}
