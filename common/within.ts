/**
 * Resolves when `p` settles or after `ms`, whichever is first, and never rejects:
 * for bounded waits at shutdown (a peer or node that may never answer). The timer
 * is cleared as soon as the race ends, so it never keeps the process alive.
 */
export async function within(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([p.catch(() => undefined), new Promise((r) => (timer = setTimeout(r, ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
