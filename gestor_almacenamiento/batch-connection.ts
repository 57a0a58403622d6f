/**
 * The one PostgreSQL connection the GA's write batches run on, in node-postgres's
 * pipeline mode: the next batch is sent while the one before it still runs, and
 * PostgreSQL starts it the moment the first commits. What a batch slot waited for
 * between two batches — the GA's wake for the result, its replies, the next
 * batch's send, the backend's wake — no longer sits between them.
 *
 * Still ONE backend: the batches run one after another, so they never wait for
 * each other's row locks and PostgreSQL never runs two of them on both cores at
 * once (two connections measured worse: more, smaller batches fighting over the
 * same pages, +25 % of PostgreSQL CPU per op). Every query carries its own Sync,
 * so one batch failing does not abort the next.
 *
 * Opened on the first batch and kept; a broken connection is dropped (its queries
 * fail as connection errors: the batch is resent by its clients) and the next batch
 * opens a new one.
 */
import pg from 'pg';

export class BatchConnection {
  private client: Promise<pg.Client> | undefined;
  private closed = false;

  constructor(private readonly config: pg.ClientConfig) {}

  async query<T extends pg.QueryResultRow>(q: pg.QueryConfig): Promise<pg.QueryResult<T>> {
    if (this.closed) throw new Error('Client was closed');
    return (await this.connect()).query<T>(q);
  }

  /** Lets what was sent finish, then closes; later queries fail as a closed client. */
  async close(): Promise<void> {
    this.closed = true;
    const p = this.client;
    this.client = undefined;
    await p?.then((c) => c.end()).catch(() => undefined);
  }

  private connect(): Promise<pg.Client> {
    if (!this.client) {
      const c = new pg.Client({ ...this.config, pipeline: true });
      const p = c.connect().then(() => c);
      const forget = () => {
        if (this.client === p) this.client = undefined;
      };
      // Unhandled, a lost connection's 'error' would crash the GA.
      c.on('error', forget);
      c.on('end', forget);
      p.catch(forget);
      this.client = p;
    }
    return this.client;
  }
}
