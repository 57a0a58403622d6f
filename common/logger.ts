import { pino, type Logger } from 'pino';
import { VARIABLES } from './config.js';

const LOG_LEVELS = VARIABLES.LOG_LEVEL;

export type { Logger };

/**
 * Structured JSON logs to stdout. Per-operation lines carry `opId`; they are at
 * debug level because at thousands of ops/s info-level lines would cost more
 * than the work itself. LOG_LEVEL=debug shows them.
 */
export function createLogger(proc: string, extra: Record<string, unknown> = {}): Logger {
  // Before the config is read: an empty or bad LOG_LEVEL must not crash here with
  // pino's own error; readConfigOrExit reports a bad one by name right after.
  const level = LOG_LEVELS.safeParse(process.env.LOG_LEVEL);
  return pino({
    level: level.success ? level.data : 'info',
    base: { proc, pid: process.pid, ...extra },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}

/**
 * The n-th occurrence of a per-message warning is logged if among the first `first`
 * or every 1000th: a flood or a peer away for long must not mean one log line per message.
 */
export function logThisOne(count: number, first = 10): boolean {
  return count <= first || count % 1000 === 0;
}
