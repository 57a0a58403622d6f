/**
 * Keeps synchronous replication from blocking the primary forever.
 *
 * In sync mode a commit waits until the standby named in
 * synchronous_standby_names confirms it; if that standby is gone, commits wait
 * forever (statement_timeout does not bound the wait). This watchdog:
 * - enables sync only once the standby streams (enabling it earlier would block
 *   every commit until the standby catches up);
 * - when the sync standby has not been streaming for `degradeMs`, clears
 *   synchronous_standby_names (releasing the blocked commits) and says loudly,
 *   at error level, that replication is now ASYNC and acknowledged writes may
 *   be lost on failover;
 * - re-enables sync as soon as the standby streams again, and says so;
 * - in a GA pair, never degrades while the peer GA is silent, unless this GA took over
 *   on a newer timeline: the peer may be promoting that very standby, and writes
 *   acknowledged here after degrading would be lost with this timeline
 *   (RoleMachine.syncDegradeHold). The commits wait instead.
 *
 * It is a small state machine over an injected clock and admin functions, so
 * tests drive it tick by tick without a network; `createSyncWatchdog` wires it
 * to a real primary with postgres/admin.ts.
 */
import { monotonicNow } from '../../common/monotonic.js';
import type { Logger } from '../../common/logger.js';
import { AdminSession, replicationStatus, setSynchronousStandby, synchronousStandbyNames, type PgConn, type ReplicationRow } from '../../postgres/admin.js';

/** 'sync': commits wait for the standby. 'degraded-async': sync requested but off (standby not streaming). 'async': requested. */
export type ReplicationMode = 'sync' | 'degraded-async' | 'async';

export interface SyncWatchdogDeps {
  now(): number;
  /** The primary's pg_stat_replication; rejects when the primary is unreachable. */
  replicationStatus(): Promise<ReplicationRow[]>;
  /** The primary's current synchronous_standby_names ('' = none). */
  synchronousStandbyNames(): Promise<string>;
  /** Sets (name) or clears (null) the one synchronous standby, with a config reload. */
  setSynchronousStandby(name: string | null): Promise<void>;
  /** Releases what the deps hold (a connection), once the watchdog stops. */
  close?(): Promise<void>;
  /**
   * Why degrading must wait, or undefined: a GA of a pair whose peer is silent (it may be
   * promoting this standby: RoleMachine.syncDegradeHold). None: degrading is always allowed.
   */
  holdDegrade?(): string | undefined;
}

export interface SyncWatchdogOptions {
  requested: 'sync' | 'async';
  /** application_name of the standby the primary waits for. */
  standbyName: string;
  /** Not streaming for this long → degrade to async. */
  degradeMs: number;
  /**
   * A standby whose last feedback is older than this counts as not streaming,
   * even if its connection still looks alive (a partitioned or frozen host is
   * only dropped from pg_stat_replication after wal_sender_timeout).
   */
  staleReplyMs?: number;
  /** While degraded, repeat the error this often so it cannot scroll away unnoticed. */
  remindMs?: number;
  log: Logger;
  deps: SyncWatchdogDeps;
}

export interface SyncWatchdogState {
  requested: 'sync' | 'async';
  mode: ReplicationMode;
  standbyName: string;
  standbyStreaming: boolean;
  /** How long the sync standby has not been streaming (0 while it streams). */
  notStreamingMs: number;
  degradeMs: number;
  /** When the current mode began (ISO-8601). */
  since: string;
  /** Last failure to read or change the primary's settings, cleared by the next success. */
  lastError?: string;
  /** Sync should have degraded by now but is held, and why (commits wait for the standby meanwhile). */
  held?: string;
}

export class SyncWatchdog {
  private mode: ReplicationMode;
  private initialised = false;
  private streaming = false;
  private notStreamingSince: number | undefined;
  private modeSince: number;
  private lastReminder = 0;
  private everSynced = false;
  /** The standby named in synchronous_standby_names by this watchdog. */
  private syncedName: string | undefined;
  private lastError: string | undefined;
  private held: string | undefined;
  /** When pg_stat_replication was last read. */
  private lastLookAt: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly staleReplyMs: number;
  private readonly remindMs: number;

  constructor(private readonly o: SyncWatchdogOptions) {
    this.mode = o.requested === 'async' ? 'async' : 'degraded-async';
    this.modeSince = o.deps.now();
    this.staleReplyMs = o.staleReplyMs ?? Math.max(2000, o.degradeMs);
    this.remindMs = o.remindMs ?? 30_000;
  }

  state(): SyncWatchdogState {
    const now = this.o.deps.now();
    return {
      requested: this.o.requested,
      mode: this.mode,
      standbyName: this.o.standbyName,
      standbyStreaming: this.streaming,
      notStreamingMs: this.notStreamingSince === undefined ? 0 : now - this.notStreamingSince,
      degradeMs: this.o.degradeMs,
      since: new Date(this.modeSince).toISOString(),
      ...(this.lastError ? { lastError: this.lastError } : {}),
      ...(this.held ? { held: this.held } : {}),
    };
  }

  /** One check; never throws (failures are kept in state().lastError and retried next tick). */
  async tick(): Promise<SyncWatchdogState> {
    try {
      await this.step();
      this.lastError = undefined;
    } catch (err) {
      const msg = (err as Error).message;
      if (msg !== this.lastError) this.o.log.warn({ err: msg, mode: this.mode }, 'replication watchdog could not check the primary');
      this.lastError = msg;
    }
    return this.state();
  }

  /** Ticks every intervalMs (never two at once) until stop(). */
  start(intervalMs = Math.min(250, Math.max(20, Math.floor(this.o.degradeMs / 4)))): this {
    if (this.timer) return this;
    this.timer = setInterval(() => {
      if (this.running) return;
      this.running = this.tick().then(() => {
        this.running = undefined;
      });
    }, intervalMs);
    this.timer.unref();
    return this;
  }

  /** Stops ticking and releases the deps (also after a lone tick() without start()). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
    await this.o.deps.close?.();
  }

  private setMode(mode: ReplicationMode): void {
    this.mode = mode;
    this.modeSince = this.o.deps.now();
  }

  private async step(): Promise<void> {
    const { deps, log, standbyName } = this.o;
    if (this.o.requested === 'async') {
      // A sync setting persisted by an earlier run (ALTER SYSTEM survives restarts) would block commits.
      if (!this.initialised) {
        const left = await deps.synchronousStandbyNames();
        if (left) {
          await deps.setSynchronousStandby(null);
          log.warn(
            { replication: 'async', cleared: left },
            `cleared synchronous_standby_names = '${left}' left by an earlier sync run: replication is asynchronous as configured, and commits would otherwise wait for that standby (and hang if it is gone)`,
          );
        }
        this.initialised = true;
      }
      return;
    }

    const now = deps.now();
    if (!this.initialised) {
      // A primary restarted with sync persisted is already waiting on the standby: count from now.
      const current = await deps.synchronousStandbyNames();
      if (current) this.setMode('sync');
      this.notStreamingSince = now;
      this.initialised = true;
    }

    // A base backup's WAL stream (pg_basebackup -X stream, e.g. a standby being cloned) is a
    // walsender too, and reports 'streaming': waiting for it would stall every commit.
    const rows = (await deps.replicationStatus()).filter((r) => r.applicationName !== 'pg_basebackup');
    // Unable to look for longer than the degrade delay (the primary itself stalled, or this
    // process did): the standby's silence over that time says nothing about the standby, so in
    // sync mode its count starts now instead of degrading on the first look back.
    const blind = this.mode === 'sync' && this.lastLookAt !== undefined && now - this.lastLookAt > this.o.degradeMs;
    this.lastLookAt = now;
    const fresh = (r: ReplicationRow) => r.state === 'streaming' && (r.replyAgeMs === null || r.replyAgeMs < this.staleReplyMs);
    // The configured standby first, else whichever standby streams: after a takeover on the
    // surviving primary (GA moved, PostgreSQL did not) the standby of the node we write to is
    // not the one this GA was configured to expect.
    const row = rows.find((r) => r.applicationName === standbyName && fresh(r)) ?? rows.find(fresh) ?? rows.find((r) => r.applicationName === standbyName);
    const name = row?.applicationName ?? standbyName;
    this.streaming = !!row && fresh(row);

    if (this.streaming) {
      this.notStreamingSince = undefined;
      this.held = undefined;
      if (this.mode !== 'sync' || this.syncedName !== name) {
        await deps.setSynchronousStandby(name);
        this.syncedName = name;
        this.setMode('sync');
        this.lastReminder = 0;
        const again = this.everSynced;
        this.everSynced = true;
        if (again) log.warn({ replication: 'sync', standby: name }, `replication is SYNCHRONOUS again: standby ${name} streams; acknowledged writes are on both nodes`);
        else log.info({ replication: 'sync', standby: name }, `synchronous replication enabled: commits wait for standby ${name}`);
      }
      return;
    }

    // A connected but silent standby (frozen, partitioned) stopped streaming when it last replied.
    const stale = row && row.state === 'streaming' && row.replyAgeMs !== null ? now - row.replyAgeMs : now;
    if (blind) this.notStreamingSince = now;
    this.notStreamingSince ??= Math.min(now, stale);
    const downMs = now - this.notStreamingSince;
    if (downMs < this.o.degradeMs) return;
    const fields = { replication: 'ASYNC', standby: name, notStreamingMs: downMs, degradeMs: this.o.degradeMs, standbyState: row?.state ?? 'absent' };
    if (this.mode === 'sync') {
      const hold = deps.holdDegrade?.();
      if (hold) {
        if (this.held === undefined || now - this.lastReminder >= this.remindMs) {
          this.lastReminder = now;
          log.error({ ...fields, replication: 'SYNC', held: hold }, `sync standby ${name} not streaming for ${downMs} ms, but replication stays SYNCHRONOUS: ${hold}. Commits wait`);
        }
        this.held = hold;
        return;
      }
      this.held = undefined;
      await deps.setSynchronousStandby(null);
      this.setMode('degraded-async');
      this.lastReminder = now;
      log.error(fields, `REPLICATION DEGRADED TO ASYNC: sync standby ${name} not streaming for ${downMs} ms; synchronous_standby_names cleared so commits proceed. Acknowledged writes may be LOST on failover until it streams again`);
    } else if (this.lastReminder === 0 || now - this.lastReminder >= this.remindMs) {
      this.lastReminder = now;
      log.error(fields, `replication is ASYNC although sync was requested: standby ${name} is not streaming. Acknowledged writes may be LOST on failover`);
    }
  }
}

export interface SyncWatchdogConfig {
  GA_REPLICACION: 'sync' | 'async';
  GA_SYNC_DEGRADE_MS: number;
  GA_STANDBY_NAME: string;
}

/**
 * A watchdog on a real primary (call start() on the node that is primary; stop()
 * before a demotion, and after a lone tick(): it closes the watchdog's connection).
 */
export function createSyncWatchdog(primary: PgConn, cfg: SyncWatchdogConfig, log: Logger, holdDegrade?: () => string | undefined): SyncWatchdog {
  // Each check must finish well within the degrade budget, also when the primary hangs.
  const bounds = { connectTimeoutMs: 1000, queryTimeoutMs: Math.max(500, Math.min(2000, cfg.GA_SYNC_DEGRADE_MS / 2)) };
  // One kept-open connection: in sync mode it ticks every ≤250 ms, and a fresh connection per tick forks a backend each time.
  const session = new AdminSession(primary, bounds);
  return new SyncWatchdog({
    requested: cfg.GA_REPLICACION,
    standbyName: cfg.GA_STANDBY_NAME,
    degradeMs: cfg.GA_SYNC_DEGRADE_MS,
    log,
    deps: {
      now: monotonicNow,
      replicationStatus: () => replicationStatus(session),
      synchronousStandbyNames: () => synchronousStandbyNames(session),
      setSynchronousStandby: (name) => setSynchronousStandby(session, name),
      holdDegrade,
      close: () => session.close(),
    },
  });
}
