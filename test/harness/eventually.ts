/**
 * The one way a test waits for something: polls `probe` until it returns a value
 * that is not false, null or undefined, and resolves with that value. A probe that
 * throws counts as "not yet" (the last error is quoted if time runs out). Rejects
 * after `timeoutMs` naming `what` — a string, or a function for a description that
 * is only worth building on failure (a log tail, the last status).
 *
 *   await eventually('backup ACTIVE', () => estado(b) === 'ACTIVE', 10_000);
 *   const st = await eventually('GC status', () => gc.status<GcStatus>(), 5000);
 */
export interface EventuallyOptions {
  /** Pause between probes (default 20 ms). */
  everyMs?: number;
}

export async function eventually<T>(
  what: string | (() => string),
  probe: () => T | Promise<T>,
  timeoutMs = 5000,
  o: EventuallyOptions = {},
): Promise<Exclude<T, false | null | undefined>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== false && v !== null && v !== undefined) return v as Exclude<T, false | null | undefined>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const because = last === undefined ? '' : ` (last error: ${last instanceof Error ? last.message : String(last)})`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'function' ? what() : what}${because}`);
    }
    await new Promise((r) => setTimeout(r, o.everyMs ?? 20));
  }
}
