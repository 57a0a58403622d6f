/**
 * Replication administration in plain SQL: what role a PostgreSQL node plays,
 * on which timeline, how far its standbys lag, promotion, the synchronous
 * standby setting and replication slots. Works against any PostgreSQL we can
 * reach as a superuser (embedded, system, container) — no local files.
 *
 * Every call runs with a connect timeout and a client-side query timeout: an
 * admin check must never hang the GA or a drill when a node is dead,
 * partitioned or stuck. Admin sessions run with synchronous_commit=local so
 * they can never wait for a gone sync standby.
 *
 * A call given a PgConn opens its own short-lived connection (one-off callers:
 * CLI, takeover choice, promotion). A call given an AdminSession reuses that
 * session's kept-open connection: periodic checks (every 250–500 ms) would
 * otherwise fork and authenticate a PostgreSQL backend each time.
 */
import { createHmac } from 'node:crypto';
import pg from 'pg';
import { within } from '../common/within.js';

/** How to reach one PostgreSQL node and database (as a superuser for admin calls). */
export interface PgConn {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

/** The same PostgreSQL server (host and port; who connects and to which database aside). */
export const sameServer = (a: Pick<PgConn, 'host' | 'port'>, b: Pick<PgConn, 'host' | 'port'>): boolean => a.host === b.host && a.port === b.port;

export interface AdminOptions {
  /** TCP connect + authentication bound. */
  connectTimeoutMs?: number;
  /** Client-side bound for each statement (the server keeps working; we stop waiting). */
  queryTimeoutMs?: number;
}

/** Where an admin call runs: a fresh connection to a node, or a kept-open session (with its own bounds). */
export type AdminTarget = PgConn | AdminSession;

const DEFAULT_CONNECT_MS = 2000;
const DEFAULT_QUERY_MS = 5000;
/** close() waits this long for a graceful end; a half-dead socket must not hold up a shutdown. */
const CLOSE_WAIT_MS = 1000;

function newAdminClient(conn: PgConn, o: AdminOptions): pg.Client {
  return new pg.Client({
    host: conn.host,
    port: conn.port,
    user: conn.user,
    password: conn.password,
    database: conn.database,
    connectionTimeoutMillis: o.connectTimeoutMs ?? DEFAULT_CONNECT_MS,
    query_timeout: o.queryTimeoutMs ?? DEFAULT_QUERY_MS,
    application_name: 'biblioteca-admin',
    options: '-c synchronous_commit=local',
  });
}

/**
 * A failure of the connection rather than of the query: socket errors, "connection
 * terminated", SQLSTATE classes 08 (connection exception) and 57P (server shutting
 * down, backend terminated). Not a client-side timeout, not an SQL error.
 */
function isStaleConnection(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown };
  if (typeof e.message === 'string' && /timeout/i.test(e.message)) return false;
  if (typeof e.code !== 'string') return true;
  return e.code.startsWith('E') || /^(08|57P)/.test(e.code);
}

/** Ends a client without waiting: pg destroys the socket of one with a query still running. */
function drop(c: pg.Client): Promise<void> {
  return c.end().catch(() => undefined);
}

/**
 * One kept-open admin connection to one node, for periodic checks. Connects on
 * the first run (and after a failure), with the bounds given here. On ANY error
 * the connection is dropped and the next run reconnects: a timed-out query keeps
 * running on the server, so its connection is never reused, and a node that was
 * killed or restarted is seen afresh (a dead node fails the very next run, at
 * connect). A connection the server drops while idle is forgotten at once.
 */
export class AdminSession {
  private client: pg.Client | undefined;
  private connecting: Promise<pg.Client> | undefined;
  private closed = false;

  constructor(
    readonly conn: PgConn,
    private readonly o: AdminOptions = {},
  ) {}

  run<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
    return this.attempt(fn, true);
  }

  private async attempt<T>(fn: (c: pg.Client) => Promise<T>, mayRetry: boolean): Promise<T> {
    const reused = this.client !== undefined;
    const c = await this.connect();
    try {
      return await fn(c);
    } catch (err) {
      this.discard(c);
      // A kept connection can die unnoticed between checks (node restarted, backend
      // terminated): retry once on a fresh one, so the session answers as a fresh
      // connection would. Never after a timeout: that would double the wait.
      if (mayRetry && reused && !this.closed && isStaleConnection(err)) return this.attempt(fn, false);
      throw err;
    }
  }

  /** Ends the connection; later runs reject. */
  async close(): Promise<void> {
    this.closed = true;
    await this.connecting?.catch(() => undefined); // connect() drops it itself once it sees `closed`
    const c = this.client;
    this.client = undefined;
    if (!c) return;
    await within(drop(c), CLOSE_WAIT_MS);
  }

  private connect(): Promise<pg.Client> {
    if (this.closed) return Promise.reject(new Error(`admin session to ${this.conn.host}:${this.conn.port} is closed`));
    if (this.client) return Promise.resolve(this.client);
    return (this.connecting ??= this.open().finally(() => (this.connecting = undefined)));
  }

  private async open(): Promise<pg.Client> {
    const c = newAdminClient(this.conn, this.o);
    // A connection dropped by the server (node killed, backend terminated) must not crash the GA.
    c.on('error', () => this.discard(c));
    c.on('end', () => this.discard(c));
    try {
      await c.connect();
    } catch (err) {
      void drop(c);
      throw err;
    }
    if (this.closed) {
      void drop(c);
      throw new Error(`admin session to ${this.conn.host}:${this.conn.port} is closed`);
    }
    this.client = c;
    return c;
  }

  private discard(c: pg.Client): void {
    if (this.client === c) this.client = undefined;
    void drop(c);
  }
}

/** Admin sessions by node (host:port), for a caller whose node can change (a takeover switches the target). */
export class AdminSessions {
  private readonly byNode = new Map<string, AdminSession>();
  private closed = false;

  constructor(private readonly o: AdminOptions) {}

  of(conn: PgConn): AdminSession {
    const key = `${conn.host}:${conn.port}`;
    let s = this.byNode.get(key);
    if (!s) {
      s = new AdminSession(conn, this.o);
      if (this.closed) void s.close(); // asked after close(): a session that never connects
      else this.byNode.set(key, s);
    }
    return s;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.byNode.values()].map((s) => s.close()));
    this.byNode.clear();
  }
}

/**
 * Runs `fn` on an admin connection: a fresh one, always closed afterwards, for a
 * PgConn; the session's kept-open one for an AdminSession (whose own bounds
 * apply; `o` is for fresh connections).
 */
export async function withAdminClient<T>(target: AdminTarget, fn: (c: pg.Client) => Promise<T>, o: AdminOptions = {}): Promise<T> {
  if (target instanceof AdminSession) return target.run(fn);
  const client = newAdminClient(target, o);
  // A connection dropped by the server (node killed) must not crash the caller.
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Timeline id from a WAL file name such as 000000020000000000000003. */
export function timelineOfWalFile(walFile: string): number {
  return Number.parseInt(walFile.slice(0, 8), 16);
}

export interface PgRoleInfo {
  /** true = standby (read-only, replaying WAL). */
  inRecovery: boolean;
  /** Current timeline: the primary's insert timeline, or the standby's receive/replay timeline. */
  timeline: number;
  /** Cluster identity (system_identifier): shared by a primary and the standbys cloned from it. */
  sistema: string;
  /** Primary: current insert LSN. Standby: last replayed LSN. */
  lsn: string;
  /** Standby only: last LSN received and flushed by the walreceiver (null when it never streamed). */
  receiveLsn?: string | null;
}

/**
 * Role and timeline of a node. pg_control_checkpoint().timeline_id lags until the
 * next checkpoint, so a primary's timeline comes from the WAL file name of its
 * insert position (correct right after promotion). pg_walfile_name() refuses to
 * run during recovery, so a standby reports the timeline its walreceiver
 * streams on, else the larger of its last restartpoint's and min-recovery timelines.
 */
export async function pgRole(conn: AdminTarget, o: AdminOptions = {}): Promise<PgRoleInfo> {
  return withAdminClient(
    conn,
    async (c) => {
      const { rows } = await c.query<{ r: boolean; s: string }>('SELECT pg_is_in_recovery() AS r, (pg_control_system()).system_identifier::text AS s');
      const sistema = rows[0]!.s;
      if (!rows[0]!.r) {
        const p = await c.query<{ w: string; lsn: string }>('SELECT pg_walfile_name(pg_current_wal_lsn()) AS w, pg_current_wal_lsn()::text AS lsn');
        const row = p.rows[0]!;
        return { inRecovery: false, timeline: timelineOfWalFile(row.w), sistema, lsn: row.lsn };
      }
      const s = await c.query<{ tli: number; lsn: string | null; recv: string | null }>(
        `SELECT coalesce((SELECT received_tli FROM pg_stat_wal_receiver WHERE received_tli > 0),
                         greatest((pg_control_checkpoint()).timeline_id, (pg_control_recovery()).min_recovery_end_timeline))::int AS tli,
                pg_last_wal_replay_lsn()::text AS lsn,
                pg_last_wal_receive_lsn()::text AS recv`,
      );
      const row = s.rows[0]!;
      return { inRecovery: true, timeline: row.tli, sistema, lsn: row.lsn ?? '0/0', receiveLsn: row.recv };
    },
    o,
  );
}

/** Current value of synchronous_standby_names ('' = asynchronous replication). */
export async function synchronousStandbyNames(conn: AdminTarget, o: AdminOptions = {}): Promise<string> {
  return withAdminClient(conn, async (c) => (await c.query<{ s: string }>('SELECT current_setting($1) AS s', ['synchronous_standby_names'])).rows[0]!.s, o);
}

/**
 * Makes `name` the one synchronous standby (null = asynchronous). ALTER SYSTEM
 * persists in postgresql.auto.conf, so the setting survives restarts; it does not
 * wait for replication itself, and clearing it releases commits already blocked
 * waiting for a gone standby (once the reload is processed).
 */
export async function setSynchronousStandby(conn: AdminTarget, name: string | null, o: AdminOptions = {}): Promise<void> {
  await withAdminClient(
    conn,
    async (c) => {
      if (name === null || name === '') await c.query('ALTER SYSTEM RESET synchronous_standby_names');
      else {
        const value = `FIRST 1 (${c.escapeIdentifier(name)})`;
        await c.query(`ALTER SYSTEM SET synchronous_standby_names = ${c.escapeLiteral(value)}`);
      }
      await c.query('SELECT pg_reload_conf()');
    },
    o,
  );
}

export interface PromoteResult {
  timeline: number;
  /** false when the node was already a primary (nothing done). */
  promoted: boolean;
  lsn: string;
}

/**
 * Promotes a standby to primary. Clears synchronous_standby_names on it first: a
 * node promoted with a sync standby configured would block every commit until
 * some standby (that does not exist yet) confirms. Then waits for the promotion
 * (pg_promote(wait, 10 s)) and checkpoints so every view of the timeline agrees.
 * Idempotent: on a primary it only reports the timeline. One-shot connections
 * only: its 15 s bound is its own, not a periodic session's.
 */
export async function promote(conn: PgConn, o: AdminOptions = {}): Promise<PromoteResult> {
  return withAdminClient(
    conn,
    async (c) => {
      const { rows } = await c.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
      let promoted = false;
      if (rows[0]?.r) {
        if ((await c.query<{ s: string }>("SELECT current_setting('synchronous_standby_names') AS s")).rows[0]?.s) {
          await c.query('ALTER SYSTEM RESET synchronous_standby_names');
          await c.query('SELECT pg_reload_conf()');
        }
        const p = await c.query<{ ok: boolean }>('SELECT pg_promote(true, 10) AS ok');
        if (!p.rows[0]?.ok) throw new Error(`promotion of ${conn.host}:${conn.port} did not complete within 10 s`);
        promoted = true;
        await c.query('CHECKPOINT');
      }
      const r = await c.query<{ w: string; lsn: string }>('SELECT pg_walfile_name(pg_current_wal_lsn()) AS w, pg_current_wal_lsn()::text AS lsn');
      return { timeline: timelineOfWalFile(r.rows[0]!.w), promoted, lsn: r.rows[0]!.lsn };
    },
    { ...o, queryTimeoutMs: Math.max(o.queryTimeoutMs ?? 0, 15_000) },
  );
}

export interface ReplicationRow {
  applicationName: string;
  clientAddr: string | null;
  /** startup | catchup | streaming | backup | stopping */
  state: string;
  /** async | potential | sync | quorum */
  syncState: string;
  /** Bytes of WAL the standby has not replayed yet (null if it never reported). */
  lagBytes: number | null;
  replayLagMs: number | null;
  /** Age of the standby's last feedback message, measured with both hosts' clocks. */
  replyAgeMs: number | null;
}

/** One row per connected standby, from the primary's pg_stat_replication. */
export async function replicationStatus(primary: AdminTarget, o: AdminOptions = {}): Promise<ReplicationRow[]> {
  return withAdminClient(
    primary,
    async (c) => {
      const { rows } = await c.query<{
        application_name: string;
        client_addr: string | null;
        state: string;
        sync_state: string;
        lag_bytes: string | null;
        replay_lag_ms: number | null;
        reply_age_ms: number | null;
      }>(
        `SELECT application_name, client_addr::text AS client_addr, state, sync_state,
                pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint::text AS lag_bytes,
                (extract(epoch FROM replay_lag) * 1000)::float8 AS replay_lag_ms,
                (extract(epoch FROM clock_timestamp() - reply_time) * 1000)::float8 AS reply_age_ms
           FROM pg_stat_replication ORDER BY application_name`,
      );
      return rows.map((r) => ({
        applicationName: r.application_name,
        clientAddr: r.client_addr,
        state: r.state,
        syncState: r.sync_state,
        lagBytes: r.lag_bytes === null ? null : Number(r.lag_bytes),
        replayLagMs: r.replay_lag_ms,
        replyAgeMs: r.reply_age_ms,
      }));
    },
    o,
  );
}

export interface StandbyStatus {
  inRecovery: boolean;
  /** The walreceiver is connected and streaming. */
  receiving: boolean;
  /** walreceiver status (streaming, waiting, stopping, …) or null when none runs. */
  walReceiverStatus: string | null;
  timeline: number | null;
  replayLsn: string | null;
  /** Bytes between the primary's current LSN and this node's replay LSN; null without a reachable primary. */
  lagBytes: number | null;
  /** Time since the last message from the primary (keepalives count). */
  lastMsgAgeMs: number | null;
}

/** The standby's own view (pg_stat_wal_receiver); lag in bytes when the primary is given and reachable. */
export async function standbyStatus(conn: AdminTarget, opts: AdminOptions & { primary?: AdminTarget } = {}): Promise<StandbyStatus> {
  const s = await withAdminClient(
    conn,
    async (c) => {
      const { rows } = await c.query<{ r: boolean; status: string | null; tli: number | null; replay: string | null; age: number | null }>(
        `SELECT pg_is_in_recovery() AS r, w.status, w.received_tli AS tli, pg_last_wal_replay_lsn()::text AS replay,
                (extract(epoch FROM clock_timestamp() - w.last_msg_receipt_time) * 1000)::float8 AS age
           FROM (SELECT 1) one LEFT JOIN pg_stat_wal_receiver w ON true`,
      );
      return rows[0]!;
    },
    opts,
  );
  let lagBytes: number | null = null;
  if (opts.primary && s.replay) {
    lagBytes = await withAdminClient(
      opts.primary,
      async (c) => Number((await c.query<{ d: string }>('SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::bigint::text AS d', [s.replay])).rows[0]!.d),
      opts,
    ).catch(() => null);
  }
  return {
    inRecovery: s.r,
    receiving: s.status === 'streaming',
    walReceiverStatus: s.status,
    timeline: s.tli,
    replayLsn: s.replay,
    lagBytes,
    lastMsgAgeMs: s.age,
  };
}

/** The role standbys stream as: REPLICATION and LOGIN, nothing else (pg_hba refuses it every database). */
export const REPLICATION_USER = 'replicador';

/**
 * The replication role's password on the local topology: derived from the
 * superuser's (HMAC-SHA256), so a separate role with a password of its own needs
 * no second secret to carry around (every tool that rejoins or clones a node
 * already holds the superuser's). Compose deployments set both from .env.
 */
export function replicationPassword(superuserPassword: string): string {
  return createHmac('sha256', superuserPassword).update('biblioteca replicador').digest('base64url');
}

/** Credentials of the replication role for a node reached with superuser credentials. */
export function replicationConn(superuser: PgConn): PgConn {
  return { ...superuser, user: REPLICATION_USER, password: replicationPassword(superuser.password), database: 'replication' };
}

/**
 * Creates the replication role on a primary (superuser credentials) or sets its
 * password (SCRAM) if it exists: a data dir made before the role existed gets it
 * when it is next cloned from. Safe to call concurrently.
 */
export async function ensureReplicationRole(primary: PgConn, o: AdminOptions = {}): Promise<void> {
  await withAdminClient(
    primary,
    async (c) => {
      const pw = c.escapeLiteral(replicationPassword(primary.password));
      const role = c.escapeIdentifier(REPLICATION_USER);
      await c.query("SET password_encryption = 'scram-sha-256'");
      const exists = (await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [REPLICATION_USER])).rowCount === 1;
      try {
        await c.query(exists ? `ALTER ROLE ${role} WITH REPLICATION LOGIN NOSUPERUSER PASSWORD ${pw}` : `CREATE ROLE ${role} WITH REPLICATION LOGIN PASSWORD ${pw}`);
      } catch (err) {
        if ((err as { code?: string }).code !== '42710') throw err; // duplicate_object: created meanwhile
      }
    },
    o,
  );
}

/**
 * Creates a physical slot (reserving WAL now) unless it exists, so a standby
 * that is down or slow never finds its WAL recycled. A slot the primary has
 * invalidated (wal_status 'lost': its standby stayed away past
 * max_slot_wal_keep_size) can never stream again: by default an inactive lost slot
 * is dropped and created afresh, for a standby being (re)cloned now. `keepLost`
 * leaves it as it is and says so ('lost'): for a standby that is only restarting,
 * the lost slot is what tells it (deploy/postgres/biblioteca-postgres.sh) that the
 * WAL it needs is gone and it must be cloned again; a fresh slot would hide that.
 * Safe to call concurrently.
 */
export async function createReplicationSlot(primary: AdminTarget, slot: string, o: AdminOptions & { keepLost?: boolean } = {}): Promise<'ok' | 'lost'> {
  return withAdminClient(
    primary,
    async (c) => {
      if (o.keepLost) {
        const r = await c.query<{ lost: boolean }>(`SELECT wal_status = 'lost' AS lost FROM pg_replication_slots WHERE slot_name = $1`, [slot]);
        if (r.rows[0]?.lost) return 'lost';
      } else {
        await c.query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active AND wal_status = 'lost'`, [slot]);
      }
      try {
        await c.query('SELECT pg_create_physical_replication_slot($1, true) WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)', [slot]);
      } catch (err) {
        if ((err as { code?: string }).code !== '42710') throw err; // duplicate_object: created meanwhile
      }
      return 'ok';
    },
    o,
  );
}

/**
 * The fork point of each earlier timeline, from the node's timeline history file
 * (empty on timeline 1). A node whose WAL on an older timeline goes past that
 * timeline's fork point has diverged and cannot follow this node any more.
 */
export async function timelineHistory(conn: AdminTarget, timeline: number, o: AdminOptions = {}): Promise<Array<{ timeline: number; forkLsn: string }>> {
  if (timeline <= 1) return [];
  return withAdminClient(
    conn,
    async (c) => {
      const file = `pg_wal/${timeline.toString(16).toUpperCase().padStart(8, '0')}.history`;
      const text = (await c.query<{ t: string }>('SELECT pg_read_file($1) AS t', [file])).rows[0]!.t;
      return text
        .split('\n')
        .map((l) => /^\s*(\d+)\s+([0-9A-F]+\/[0-9A-F]+)/i.exec(l))
        .filter((m): m is RegExpExecArray => !!m)
        .map((m) => ({ timeline: Number(m[1]), forkLsn: m[2]! }));
    },
    o,
  );
}

/** Compares two LSNs ('16/B374D848'): negative, zero or positive. */
export function compareLsn(a: string, b: string): number {
  const parse = (s: string) => {
    const [hi, lo] = s.split('/');
    return (BigInt(`0x${hi ?? '0'}`) << 32n) + BigInt(`0x${lo ?? '0'}`);
  };
  const d = parse(a) - parse(b);
  return d < 0n ? -1 : d > 0n ? 1 : 0;
}
