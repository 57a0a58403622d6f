/**
 * What many tests share: where the project and its build are, a quiet logger, the
 * GC/actor timings of in-process socket tests, and one way to undo what a test
 * started. A test's own data (its books, its users) stays in the test.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach } from 'vitest';
import { pino } from 'pino';

/** The repository root (this file is test/harness/fixtures.ts). */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The compiled build that process-level tests run (`npm test` builds it first). */
export const DIST = path.join(ROOT, 'dist');

/** Silent unless TEST_LOG_LEVEL says otherwise (e.g. TEST_LOG_LEVEL=debug npx vitest run …). */
export const testLog = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

/** In-process GC and actors that notice a dead actor in 300 ms and re-publish its tasks after 600 ms. */
export const FAST_GC_TIMING = { GC_TASK_DEADLINE_MS: '600', ACTOR_HEARTBEAT_MS: '50', ACTOR_DEAD_MS: '300', GC_SYNC_TIMEOUT_MS: '4000' } as const;
/** For tests that load the sockets hard (CURVE handshakes, floods): a slow turn declares no actor dead. */
export const RELAXED_GC_TIMING = { ACTOR_HEARTBEAT_MS: '100', ACTOR_DEAD_MS: '1000', GC_SYNC_TIMEOUT_MS: '20000' } as const;

/**
 * Registers an afterEach that undoes, newest first, what the test deferred; one
 * failing step does not stop the others. Returns the function that defers a step.
 *
 *   const defer = cleanupAfterEach();
 *   const gc = await startGc(…); defer(() => gc.close());
 */
export function cleanupAfterEach(): (undo: () => unknown) => void {
  const steps: Array<() => unknown> = [];
  afterEach(async () => {
    for (const undo of steps.splice(0).reverse()) {
      try {
        await undo();
      } catch {
        /* keep cleaning the rest */
      }
    }
  });
  return (undo) => void steps.push(undo);
}
