/**
 * A circuit breaker for one GA endpoint: opossum, driven by CONSECUTIVE failures.
 *
 * opossum has no "open after N consecutive failures" option (`maxFailures` is
 * ignored) and with defaults one first failure is a 100 % error rate and opens it
 * (FACTS.md). So its own rate rule is switched off (volumeThreshold never reached)
 * and this wrapper counts consecutive failures from its events and calls `open()`.
 * What opossum still does: fail fast while open, half-open after `resetMs` with
 * exactly one trial call, close on the trial's success, re-open on its failure.
 *
 * opossum's own timeout is disabled: it would reject the caller but not cancel the
 * pending socket receive. The transport's per-attempt timeout decides instead.
 */
import CircuitBreaker from 'opossum';
import type { BreakerState } from './storage-client.js';

export interface BreakerEvents {
  onStateChange(state: BreakerState, info: { consecutiveFailures: number; lastError?: string }): void;
}

export class EndpointBreaker {
  private readonly cb: CircuitBreaker<[() => Promise<unknown>], unknown>;
  private failures = 0;
  private lastErr: string | undefined;

  constructor(
    readonly name: string,
    private readonly failureThreshold: number,
    resetMs: number,
    events: BreakerEvents,
  ) {
    this.cb = new CircuitBreaker((thunk: () => Promise<unknown>) => thunk(), {
      name,
      timeout: false,
      resetTimeout: resetMs,
      // Never let opossum's rolling error rate open the breaker: only our count does.
      volumeThreshold: Number.MAX_SAFE_INTEGER,
      errorThresholdPercentage: 100,
      allowWarmUp: false,
    });
    this.cb.on('failure', (err: unknown) => {
      this.failures += 1;
      this.lastErr = errorText(err);
      if (this.failures >= this.failureThreshold && this.cb.closed) this.cb.open();
    });
    this.cb.on('success', () => {
      this.failures = 0;
    });
    const info = () => ({ consecutiveFailures: this.failures, lastError: this.lastErr });
    this.cb.on('open', () => events.onStateChange('open', info()));
    this.cb.on('halfOpen', () => events.onStateChange('half-open', info()));
    this.cb.on('close', () => {
      this.failures = 0;
      events.onStateChange('closed', info());
    });
  }

  get state(): BreakerState {
    if (this.cb.opened) return 'open';
    if (this.cb.halfOpen) return 'half-open';
    return 'closed';
  }

  get consecutiveFailures(): number {
    return this.failures;
  }

  get lastError(): string | undefined {
    return this.lastErr;
  }

  /** True if a call would be let through now: closed, or half-open with its one trial not yet taken. */
  get admits(): boolean {
    return this.cb.closed || this.cb.pendingClose;
  }

  /**
   * Runs `fn` under the breaker. A rejection counts as a failure, a resolution as a
   * success (so a reply the caller treats as "try elsewhere", like GA_NO_ACTIVO, is
   * resolved, not rejected). Throws BreakerOpenError without running `fn` when open.
   */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return (await this.cb.fire(fn)) as T;
    } catch (err) {
      if ((err as { code?: string }).code === 'EOPENBREAKER') throw new BreakerOpenError(this.name);
      throw err;
    }
  }

  /** Closes an open breaker before its reset time, when the endpoint was seen alive another way. */
  closeNow(): void {
    if (!this.cb.closed) this.cb.close();
  }

  /** Stops opossum's timers (reset and rolling-stats intervals) for good. */
  shutdown(): void {
    this.cb.shutdown();
  }
}

export class BreakerOpenError extends Error {
  override name = 'BreakerOpenError';
  constructor(endpoint: string) {
    super(`breaker open for ${endpoint}`);
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
