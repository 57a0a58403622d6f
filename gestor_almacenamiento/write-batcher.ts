/**
 * Opportunistic batching (group commit) for the GA's writes.
 *
 * At most `maxInFlight` batches run at once. A request that finds a free slot
 * starts at once, alone: a lightly loaded GA adds no waiting. Requests that
 * arrive while every slot is busy queue up, and the next free slot takes them
 * all (up to `maxBatch`) as one batch — one round trip and one commit instead
 * of one each. The busier the GA, the bigger the batches.
 *
 * Failure: `run` failing rejects the whole batch when `isolate(err)` is false
 * (e.g. the database is unreachable: every op would fail the same way). When it
 * is true (something in the batch itself broke), each op is re-run alone, so one
 * poisoned op fails alone and the others still succeed. A failed batch
 * committed nothing, so re-running is safe.
 */
export interface WriteBatcherOptions<I, O> {
  run(items: I[]): Promise<O[]>;
  maxInFlight: number;
  maxBatch: number;
  isolate(err: unknown): boolean;
  /** Told the size of every batch started (metrics). */
  onBatch?(size: number): void;
}

interface Waiting<I, O> {
  item: I;
  resolve(o: O): void;
  reject(err: unknown): void;
}

export class WriteBatcher<I, O> {
  private readonly queue: Waiting<I, O>[] = [];
  private running = 0;

  constructor(private readonly o: WriteBatcherOptions<I, O>) {}

  /** Ops queued behind the running batches. */
  get queued(): number {
    return this.queue.length;
  }

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (this.running < this.o.maxInFlight) this.next();
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

  private async settle(batch: Waiting<I, O>[]): Promise<void> {
    try {
      const out = await this.o.run(batch.map((w) => w.item));
      if (out.length !== batch.length) throw new Error(`batch of ${batch.length} returned ${out.length} results`);
      batch.forEach((w, i) => w.resolve(out[i]!));
    } catch (err) {
      if (batch.length === 1 || !this.o.isolate(err)) {
        for (const w of batch) w.reject(err);
        return;
      }
      await Promise.all(
        batch.map((w) =>
          this.o.run([w.item]).then(
            (out) => (out.length === 1 ? w.resolve(out[0]!) : w.reject(new Error(`batch of 1 returned ${out.length} results`))),
            (e: unknown) => w.reject(e),
          ),
        ),
      );
    }
  }
}
