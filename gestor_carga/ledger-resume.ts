/**
 * Every ACEPTADO op must complete, even if the GC restarted after accepting it.
 * At start the GC loads the ledger's PENDIENTE rows (retrying until the GA answers,
 * without holding up the frontend), then re-scans periodically for rows the GC is
 * not tracking (e.g. accepted by a GC that died before publishing them).
 */
import { StorageUnavailableError } from '../common/errors.js';
import type { Logger } from '../common/logger.js';
import type { StorageClient } from '../common/storage-client.js';
import type { Clock } from './actor-registry.js';
import type { TaskTracker } from './task-tracker.js';

export interface LedgerResumeOptions {
  storage: StorageClient;
  tracker: TaskTracker;
  clock: Clock;
  log: Logger;
  /** Rows younger than this during a re-scan are probably being handled right now. */
  minAgeMs: number;
  scanEveryMs?: number;
  limit?: number;
}

export interface LedgerResume {
  /** True once the first load succeeded. */
  loaded(): boolean;
  /** One scan now (tests, and the timer). Returns how many ops were taken up. */
  scanOnce(): Promise<number>;
  stop(): void;
}

export function startLedgerResume(o: LedgerResumeOptions): LedgerResume {
  const scanEvery = o.scanEveryMs ?? 5000;
  const limit = o.limit ?? 1000;
  let initialDone = false;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let failures = 0;

  async function scanOnce(): Promise<number> {
    const rows = await o.storage.pendientes(limit);
    const now = o.clock.now();
    let taken = 0;
    for (const p of rows) {
      if (o.tracker.has(p.op.id)) continue;
      const at = Date.parse(p.registrada);
      // On the first load every row is ours to resume; later only the stale ones.
      if (initialDone && Number.isFinite(at) && now - at < o.minAgeMs) continue;
      o.tracker.submit(p.op, 'async');
      taken++;
      o.log.debug({ opId: p.op.id, intentos: p.intentos }, 'pending op resumed from ledger');
    }
    return taken;
  }

  function schedule(ms: number): void {
    if (stopped) return;
    timer = setTimeout(run, ms);
  }

  function run(): void {
    scanOnce().then(
      (taken) => {
        if (!initialDone) o.log.info({ resumed: taken }, 'pending ops loaded from ledger');
        else if (taken > 0) o.log.info({ resumed: taken }, 'untracked pending ops taken up from ledger');
        initialDone = true;
        failures = 0;
        schedule(scanEvery);
      },
      (err: unknown) => {
        failures++;
        const level = err instanceof StorageUnavailableError ? 'warn' : 'error';
        // Only the first failures are worth a line each; the GA may be down for a while.
        if (failures <= 3 || failures % 20 === 0) o.log[level]({ err, failures }, 'could not read pending ops from ledger; retrying');
        schedule(initialDone ? scanEvery : Math.min(5000, 250 * 2 ** Math.min(failures, 5)));
      },
    );
  }

  schedule(0);
  return {
    loaded: () => initialDone,
    scanOnce,
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
