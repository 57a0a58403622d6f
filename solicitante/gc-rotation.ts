/**
 * Which GC a PS sends to. Pure (a clock is its only link to the world), shared by
 * the REQ and the DEALER client.
 *
 * The list is ordered, the PS's own sede's GC first. The PS sends to the first GC
 * that is usable: not known to be disconnected (the DEALER client follows its
 * sockets' connect/disconnect events) and not cooling down after it let a request
 * time out. A GC that timed out is avoided for a while, longer after each failure
 * in a row (it may be hung rather than gone); one that answers is trusted again at
 * once. So a PS sticks to its own sede's GC while it answers, fails over down the
 * list when it does not, and returns as soon as it is back.
 *
 * With `probed`, a GC that let a request time out is also suspect: no user request
 * goes to it again (even once its cooldown ended) until it answered a ping (the
 * client's own, `pinged()`). A frozen GC then costs each PS one timeout, not one per
 * cooldown; a GC that answers pings but still lets requests time out returns only
 * as its cooldown, doubled each time, allows.
 */

export interface GcRotationOptions {
  /** How long a GC that let a request time out is avoided the first time; doubles per failure in a row. */
  cooldownMs: number;
  /** Longest avoidance. */
  maxCooldownMs?: number;
  /**
   * The owner pings a GC that let a request time out: it stays out until pinged() (see
   * above). Ignored with a single GC: with nowhere else to go there is no keeping away.
   */
  probed?: boolean;
  now?: () => number;
}

interface EndpointState {
  /** From socket events; undefined = not known yet (treated as usable). */
  connected?: boolean;
  coolUntil: number;
  failuresInARow: number;
  /** When the last counted failure happened: requests sent before it belong to that incident. */
  failedAt: number;
  /** Let a request time out and has not answered a ping since (probed mode only). */
  suspect: boolean;
}

export class GcRotation {
  private readonly state = new Map<string, EndpointState>();
  private readonly now: () => number;
  private readonly probed: boolean;

  /**
   * A PS's rotation: a timed-out GC avoided for its timeout (1 s at least), and pinged before it is
   * trusted again. `downAtStart`: GCs a probe just found not listening start as if they had let a
   * request time out, so the PS's first request does not wait on its own sede's dead GC.
   */
  static forPs(endpoints: readonly string[], timeoutMs: number, downAtStart: readonly string[] = []): GcRotation {
    const r = new GcRotation(endpoints, { cooldownMs: Math.max(1000, timeoutMs), probed: true });
    for (const e of downAtStart) r.failed(e);
    return r;
  }

  constructor(
    readonly endpoints: readonly string[],
    private readonly o: GcRotationOptions,
  ) {
    if (endpoints.length === 0) throw new Error('GcRotation: at least one GC endpoint');
    for (const e of endpoints) this.state.set(e, { coolUntil: 0, failuresInARow: 0, failedAt: Number.NEGATIVE_INFINITY, suspect: false });
    this.now = o.now ?? Date.now;
    this.probed = !!o.probed && this.state.size > 1;
  }

  /**
   * The GC to send to now: the first usable one in order; else a connected one that is
   * cooling down (slow, perhaps, but there), the one that warms up first; else the first
   * not cooling down (its socket may reconnect any moment); else the one whose cooldown
   * ends first. Never undefined: a PS with every GC down still tries.
   */
  pick(): string {
    const now = this.now();
    const st = (e: string) => this.state.get(e)!;
    // Suspect ones last: a GC that let a request time out and never answered a ping since is
    // the worst bet even when its cooldown ends first.
    const byWarmth = (list: readonly string[]) => [...list].sort((a, b) => Number(st(a).suspect) - Number(st(b).suspect) || st(a).coolUntil - st(b).coolUntil);
    const warm = this.endpoints.filter((e) => st(e).coolUntil <= now && !st(e).suspect);
    return (
      warm.find((e) => st(e).connected !== false) ??
      byWarmth(this.endpoints.filter((e) => st(e).connected !== false))[0] ??
      warm[0] ??
      byWarmth(this.endpoints)[0]!
    );
  }

  connected(e: string): void {
    const s = this.state.get(e);
    if (s) s.connected = true;
  }

  disconnected(e: string): void {
    const s = this.state.get(e);
    if (s) s.connected = false;
  }

  /**
   * `e` let a request go unanswered within the timeout. `sentAt`: when that request went out;
   * one sent before the last counted failure is part of the same incident (many requests in
   * flight time out together) and does not lengthen the cooldown again.
   */
  failed(e: string, sentAt?: number): void {
    const s = this.state.get(e);
    if (!s) return;
    if (sentAt !== undefined && sentAt < s.failedAt) return;
    s.failedAt = this.now();
    s.failuresInARow++;
    const ms = Math.min(this.o.maxCooldownMs ?? 30_000, this.o.cooldownMs * 2 ** Math.min(s.failuresInARow - 1, 16));
    s.coolUntil = this.now() + ms;
    if (this.probed) s.suspect = true;
  }

  /** Suspect GCs whose cooldown has ended: the ones to ping before trusting them again. */
  dueForPing(): string[] {
    const now = this.now();
    return this.endpoints.filter((e) => {
      const s = this.state.get(e)!;
      return s.suspect && s.coolUntil <= now;
    });
  }

  /** A ping went unanswered: the next one after one more base cooldown (not doubled: only requests count). */
  pingUnanswered(e: string): void {
    const s = this.state.get(e);
    if (s) s.coolUntil = this.now() + this.o.cooldownMs;
  }

  /** Suspect (probed mode): the owner should ping it. */
  isSuspect(e: string): boolean {
    return this.state.get(e)?.suspect ?? false;
  }

  /** `e` answered a ping: no longer suspect; usable again once its cooldown ended. */
  pinged(e: string): void {
    const s = this.state.get(e);
    if (!s) return;
    s.suspect = false;
    s.connected = true;
  }

  /** `e` answered: usable again at once. */
  answered(e: string): void {
    const s = this.state.get(e);
    if (!s) return;
    s.failuresInARow = 0;
    s.coolUntil = 0;
    s.suspect = false;
    s.connected = true;
  }
}
