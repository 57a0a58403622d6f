import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Structured JSON logs to stdout. Per-operation lines carry `opId`; they are at
 * debug level because at thousands of ops/s info-level lines would cost more
 * than the work itself. LOG_LEVEL=debug shows them.
 */
export function createLogger(proc: string, extra: Record<string, unknown> = {}): Logger {
  return pino({
    level: process.env.LOG_LEVEL ?? 'info',
    base: { proc, pid: process.pid, ...extra },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}
