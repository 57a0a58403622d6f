/**
 * Runs the sync-replication watchdog (sync-watchdog.ts) on the PostgreSQL
 * primary this GA writes to — and only while it is the active GA: the watchdog
 * changes settings on a primary, and exactly one GA must own that. A takeover
 * moves it: the old active stops its watchdog when it leaves ACTIVE, the new one
 * starts its own on the node it chose (a promoted standby starts async, see
 * postgres/admin.ts promote(), until its own standby streams).
 *
 * In async mode nothing runs periodically; each activation only clears, once, a
 * synchronous_standby_names left on the node by an earlier sync run (ALTER SYSTEM
 * persists it): otherwise the primary keeps waiting for that standby, and every
 * commit hangs once it is gone.
 */
import type { ReplicationConfig } from '../../common/config.js';
import type { Logger } from '../../common/logger.js';
import { createReplicationSlot, sameServer, type PgConn } from '../../postgres/admin.js';
import { createSyncWatchdog, type SyncWatchdog, type SyncWatchdogState } from './sync-watchdog.js';

/**
 * The `replicacion` part of a GA's /status: the mode asked for (GA_REPLICACION) and the
 * one in force; with the watchdog running, the sync standby it watches (`replica`).
 */
export type EstadoReplicacion =
  | { pedido: 'sync' | 'async'; modo: 'async' | 'inactive' }
  | {
      pedido: 'sync' | 'async';
      modo: SyncWatchdogState['mode'];
      replica: string;
      replicaTransmite: boolean;
      /** How long the sync standby has not been streaming (0 while it streams). */
      sinTransmitirMs: number;
      degradarTrasMs: number;
      /** When the current mode began (ISO-8601). */
      desde: string;
      ultimoError?: string;
      /** Sync kept although the standby does not stream, and why (sync-watchdog.ts): commits wait. */
      retenida?: string;
    };

export class ReplicationMode {
  private watchdog: SyncWatchdog | undefined;
  private node: PgConn | undefined;
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly cfg: Partial<ReplicationConfig>,
    private readonly log: Logger,
    /** A pair's role: why degrading must wait (sync-watchdog.ts); none in standalone. */
    private readonly holdDegrade?: () => string | undefined,
    /**
     * A pair member's standby (its slot is named like its application_name, GA_STANDBY_NAME)
     * and this GA's own PostgreSQL node: the slot is made on every activation on the own
     * node. A standby that came back while this node was not yet a primary (a site power
     * cut, pc2 booting last) otherwise finds no slot and its walreceiver fails until someone
     * makes one. Not on the peer's node, which a GA may serve from ("using primary peer"):
     * there the standby is that node itself, and a slot nobody reads would hold its WAL.
     * Only for a pair over two nodes (PG_PEER_HOST): standalone GAs, and a pair sharing one
     * node, have no standby.
     */
    private readonly ownNode?: { host: string; port: number },
  ) {}

  get requested(): 'sync' | 'async' {
    return this.cfg.GA_REPLICACION ?? 'async';
  }

  /** Follow the GA's state: watch `node` while active, nothing otherwise. Calls are serialised. */
  follow(active: boolean, node: PgConn): void {
    // Beside the watchdog, not before it: an unreachable node must not delay its start.
    if (active && this.ownNode && sameServer(node, this.ownNode)) void this.ensureSlot(node, this.cfg.GA_STANDBY_NAME ?? 'pc2');
    if (this.requested !== 'sync') {
      if (active) this.chain = this.chain.then(() => this.clearLeftoverSync(node));
      return;
    }
    this.chain = this.chain.then(async () => {
      const same = this.node && sameServer(this.node, node);
      if (active && this.watchdog && same) return;
      await this.stopNow();
      if (!active) return;
      this.node = node;
      this.watchdog = createSyncWatchdog(
        node,
        { GA_REPLICACION: 'sync', GA_SYNC_DEGRADE_MS: this.cfg.GA_SYNC_DEGRADE_MS ?? 3000, GA_STANDBY_NAME: this.cfg.GA_STANDBY_NAME ?? 'pc2' },
        this.log.child({ component: 'sync-watchdog' }),
        this.holdDegrade,
      ).start();
      this.log.info({ node: `${node.host}:${node.port}`, standby: this.cfg.GA_STANDBY_NAME }, 'sync replication watchdog started on the active node');
    });
  }

  state(): SyncWatchdogState | { requested: 'sync' | 'async'; mode: 'async' | 'inactive' } {
    if (this.watchdog) return this.watchdog.state();
    return { requested: this.requested, mode: this.requested === 'sync' ? 'inactive' : 'async' };
  }

  /** state() as the GA's /status shows it (`replicacion`): Spanish keys, the same values. */
  view(): EstadoReplicacion {
    const s = this.state();
    if (!('standbyName' in s)) return { pedido: s.requested, modo: s.mode };
    return {
      pedido: s.requested,
      modo: s.mode,
      replica: s.standbyName,
      replicaTransmite: s.standbyStreaming,
      sinTransmitirMs: s.notStreamingMs,
      degradarTrasMs: s.degradeMs,
      desde: s.since,
      ...(s.lastError ? { ultimoError: s.lastError } : {}),
      ...(s.held ? { retenida: s.held } : {}),
    };
  }

  async close(): Promise<void> {
    this.chain = this.chain.then(() => this.stopNow());
    await this.chain;
  }

  private async ensureSlot(node: PgConn, slot: string): Promise<void> {
    try {
      if ((await createReplicationSlot(node, slot, { keepLost: true })) === 'lost') {
        this.log.error(
          { slot, node: `${node.host}:${node.port}` },
          'the standby stayed away past max_slot_wal_keep_size: its slot was given up and the WAL it needs is gone, so it cannot stream until it is cloned again; its PostgreSQL container does that when restarted (docker restart <host>-postgres), a local node with npm run pg -- rejoin --reclone',
        );
      }
    } catch (err) {
      this.log.warn({ err, slot, node: `${node.host}:${node.port}` }, 'could not make sure the standby has its replication slot; its walreceiver retries until one exists');
    }
  }

  /** Async mode, on activation: one check of the async watchdog (clears a persisted sync setting; never throws). */
  private async clearLeftoverSync(node: PgConn): Promise<void> {
    const once = createSyncWatchdog(
      node,
      { GA_REPLICACION: 'async', GA_SYNC_DEGRADE_MS: this.cfg.GA_SYNC_DEGRADE_MS ?? 3000, GA_STANDBY_NAME: this.cfg.GA_STANDBY_NAME ?? 'pc2' },
      this.log.child({ component: 'sync-watchdog' }),
    );
    await once.tick();
    await once.stop(); // closes its connection
  }

  private async stopNow(): Promise<void> {
    const w = this.watchdog;
    this.watchdog = undefined;
    this.node = undefined;
    await w?.stop().catch((err: unknown) => this.log.warn({ err }, 'sync watchdog stop failed'));
  }
}
