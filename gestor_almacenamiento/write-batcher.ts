/**
 * Opportunistic batching (group commit) for the GA's writes.
 *
 * At most `maxInFlight` batches run at once. A request that finds a free slot
 * starts at the end of the current event-loop turn, together with every other
 * request that turn produced (a batch frame from a client, or several frames read
 * in one wake): a lightly loaded GA adds no more than that turn. Requests that
 * arrive while every slot is busy queue up, and the next free slot takes them
 * all (up to `maxBatch`) as one batch — one round trip and one commit instead
 * of one each. The busier the GA, the bigger the batches.
 *
 * Aside: an item a batch left undone (`run` gave `undefined` for it, e.g. its
 * row was locked by someone else) is run alone with `runAlone`, OUTSIDE the
 * slots, at most `maxAside` at a time: an item that has to wait (for a lock)
 * waits alone, and the batches behind it go on. One that waits longer than
 * `maxAsideWaitMs` for its turn is refused as busy (nothing of it was done).
 *
 * Failure: `run` failing rejects the whole batch when `isolate(err)` is false
 * (e.g. the database is unreachable: every op would fail the same way). When it
 * is true (something in the batch itself broke, or it timed out on a lock), each
 * op is re-run alone, aside, so one poisoned op fails alone and the others still
 * succeed. A failed batch committed nothing, so re-running is safe.
 */
export interface WriteBatcherOptions<I, O> {
  /** Runs a batch; `undefined` for an item = not done, run it aside. */
  run(items: I[]): Promise<(O | undefined)[]>;
  /** Runs one item outside the slots (it may wait); defaults to `run([item])`. */
  runAlone?(item: I): Promise<O>;
  maxInFlight: number;
  maxBatch: number;
  /** Items run aside at once; more wait their turn. Defaults to unbounded. */
  maxAside?: number;
  /**
   * Longest an item waits for its turn aside; then it is rejected with WriteQueueFullError
   * (nothing of it was done: a batch left it undone). Without it, forty writes for one locked
   * book waited over a second behind each other, past the client's attempt: the client
   * counted "no answer" (outcome unknown) and broke its breaker on a healthy GA. Defaults to
   * no bound.
   */
  maxAsideWaitMs?: number;
  /**
   * Items waiting at most, behind the running batches or for their turn aside; past it submit()
   * rejects at once with WriteQueueFullError (nothing done). Bounds memory when batches stop
   * coming back (a frozen backend, commits held for a sync standby) or a locked row sends every
   * write of its book aside and clients keep resending them. Defaults to unbounded.
   */
  maxQueued?: number;
  isolate(err: unknown): boolean;
  /** Told the size of every batch started (metrics). */
  onBatch?(size: number): void;
}

/** The queue is full: the item was not taken, so nothing of it was done. */
export class WriteQueueFullError extends Error {
  override name = 'WriteQueueFullError';
}

interface Waiting<I, O> {
  item: I;
  resolve(o: O): void;
  reject(err: unknown): void;
  /** Its turn aside has a deadline (maxAsideWaitMs). */
  asideTimer?: NodeJS.Timeout;
}

export class WriteBatcher<I, O> {
  private readonly queue: Waiting<I, O>[] = [];
  private readonly asideQueue: Waiting<I, O>[] = [];
  private running = 0;
  private asideRunning = 0;
  private scheduled = false;

  constructor(private readonly o: WriteBatcherOptions<I, O>) {}

  /** Ops queued behind the running batches. */
  get queued(): number {
    return this.queue.length;
  }

  /** Ops run (or waiting to run) alone, outside the batches. */
  get aside(): number {
    return this.asideRunning + this.asideQueue.length;
  }

  submit(item: I): Promise<O> {
    if (this.queue.length + this.asideQueue.length >= (this.o.maxQueued ?? Infinity)) {
      return Promise.reject(new WriteQueueFullError(`${this.queue.length} writes already wait behind the running batches, ${this.asideQueue.length} to run alone`));
    }
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (this.running < this.o.maxInFlight && !this.scheduled) {
        // The rest of this turn's requests join the batch.
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          while (this.running < this.o.maxInFlight && this.queue.length > 0) this.next();
        });
      }
    });
  }

  private next(): void {
    const batch = this.queue.splice(0, this.o.maxBatch);
    if (batch.length === 0) return;
    this.running++;
    this.o.onBatch?.(batch.length);
    void this.settle(batch).finally(() => {
      this.running--;
      this.next();
    });
  }

  /** Resolves when the batch's own round trip is over; items sent aside go on without the slot. */
  private async settle(batch: Waiting<I, O>[]): Promise<void> {
    let out: (O | undefined)[];
    try {
      out = await this.o.run(batch.map((w) => w.item));
      if (out.length !== batch.length) throw new Error(`batch of ${batch.length} returned ${out.length} results`);
    } catch (err) {
      if (batch.length === 1 || !this.o.isolate(err)) {
        for (const w of batch) w.reject(err);
      } else {
        for (const w of batch) this.runAside(w);
      }
      return;
    }
    batch.forEach((w, i) => {
      const o = out[i];
      if (o === undefined) this.runAside(w);
      else w.resolve(o);
    });
  }

  private runAside(w: Waiting<I, O>): void {
    if (this.asideRunning >= (this.o.maxAside ?? Infinity)) {
      this.asideQueue.push(w);
      const waitMs = this.o.maxAsideWaitMs;
      if (waitMs !== undefined) {
        w.asideTimer = setTimeout(() => {
          const i = this.asideQueue.indexOf(w);
          if (i < 0) return;
          this.asideQueue.splice(i, 1);
          w.reject(new WriteQueueFullError(`waited ${waitMs} ms for a turn alone (${this.asideRunning} writes already wait alone for locked rows)`));
        }, waitMs);
      }
      return;
    }
    clearTimeout(w.asideTimer);
    this.asideRunning++;
    void this.alone(w.item)
      .then(w.resolve, w.reject)
      .finally(() => {
        this.asideRunning--;
        const waiting = this.asideQueue.shift();
        if (waiting) this.runAside(waiting);
      });
  }

  private async alone(item: I): Promise<O> {
    if (this.o.runAlone) return this.o.runAlone(item);
    const out = await this.o.run([item]);
    const o = out.length === 1 ? out[0] : undefined;
    if (o === undefined) throw new Error(`batch of 1 returned ${out.length === 1 ? 'no result' : `${out.length} results`}`);
    return o;
  }
}
