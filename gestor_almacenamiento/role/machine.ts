/**
 * The GA pair's role rules (the Binary Star idea over PostgreSQL streaming
 * replication), as a pure state machine: inputs are events with a timestamp,
 * outputs are decisions and role changes. No sockets, no timers, no SQL — the
 * controller (role/controller.ts) feeds it and carries out what it decides.
 *
 *   PRIMARY ──peer BACKUP/PASSIVE/FENCED──▶ (activation) ──▶ ACTIVE
 *   PRIMARY ──request, no peer for T──────▶ (activation) ──▶ ACTIVE
 *   PRIMARY/BACKUP ──peer ACTIVE──────────▶ PASSIVE
 *   PASSIVE/BACKUP ──request AND (peer silent for T, or peer fenced,
 *                    or peer passive without PostgreSQL)──▶ (activation) ──▶ ACTIVE
 *   BACKUP ──request, no peer ever heard for T, its node already the primary on the
 *            highest timeline──▶ (activation, never a promotion) ──▶ ACTIVE
 *   ACTIVE ──PostgreSQL unreachable for stepDownMs──▶ PASSIVE (the peer may take over)
 *   PRIMARY ──PostgreSQL unreachable for stepDownMs, no activation running──▶ PASSIVE (idem)
 *   ACTIVE ──peer ACTIVE on the same timeline, we are the backup──▶ PASSIVE
 *   any ──serving node on a timeline below the highest seen──▶ FENCED
 *   FENCED ──serving node is a standby on the highest timeline (rejoined)──▶ PASSIVE
 *
 * "Activation" is the async part (choose/promote a PostgreSQL node, switch the
 * pool): the machine asks for it and is told how it went (activated / activationFailed).
 *
 * Why a takeover needs a client request as well as a silent peer: a backup that
 * merely stops hearing the primary (a network blip between the two GAs) must not
 * promote anything while the clients are still happily served by the primary.
 * Why a backup that never heard its primary never promotes: at a cold start it
 * cannot tell "primary dead" from "primary not started yet / unreachable". It may
 * still serve when its own node already IS the primary on the newest timeline it
 * knows (it restarted after a failover, maybe with the other host gone): that
 * needs no promotion, so it adds no split-brain risk beyond what the configured
 * primary has when it starts alone.
 */

import { isBehind } from '../../common/protocol/fencing.js';
import type { Fencing } from '../../common/protocol/internal.js';

export type GaRol = 'primary' | 'backup';
export const ROLE_STATES = ['PRIMARY', 'BACKUP', 'ACTIVE', 'PASSIVE', 'FENCED'] as const;
export type RoleState = (typeof ROLE_STATES)[number];

/** What each GA tells its peer every heartbeat. */
export interface PeerBeat {
  rol: GaRol;
  estado: RoleState;
  activo: boolean;
  /** Timeline of the PostgreSQL node the GA uses (null = not known yet). */
  timeline: number | null;
  pgEnRecuperacion: boolean | null;
  /** The GA reaches its PostgreSQL node. */
  pgDisponible: boolean;
}

/** The PostgreSQL node this GA serves from (or would), as last probed. */
export interface NodeStatus {
  reachable: boolean;
  inRecovery?: boolean;
  timeline?: number;
  /** The node's cluster (system_identifier), when known: scopes fencing tokens. */
  sistema?: string;
}

export interface RoleChange {
  from: RoleState;
  to: RoleState;
  reason: string;
  level: 'info' | 'warn' | 'error';
}

export type RequestDecision =
  | { kind: 'serve' }
  /** Answer GA_NO_ACTIVO with this message. */
  | { kind: 'reject'; mensaje: string }
  /**
   * Run the activation now, then report activated() / activationFailed().
   * noPromotion: use a primary that is already there, never promote a standby.
   */
  | { kind: 'activate'; reason: string; noPromotion?: true }
  /** An activation is already running: wait for it, then ask again. */
  | { kind: 'wait' };

export interface RoleMachineOptions {
  rol: GaRol;
  /** A peer silent this long is lost (GA_PEER_TIMEOUT_MS). */
  peerTimeoutMs: number;
  /** An ACTIVE GA whose PostgreSQL is unreachable this long steps down (default peerTimeoutMs). */
  stepDownMs?: number;
  /** After a failed activation, the next attempt waits this long (default 500 ms). */
  activationRetryMs?: number;
  /** Told on every state change (log it, count it). */
  onChange?: (c: RoleChange) => void;
  /**
   * Told once each time the peer turns silent (not a state change: takeover waits
   * for a request); also once when no beat came within T of the start (heard = false).
   */
  onPeerLost?: (silentMs: number, heard: boolean) => void;
  /** How to rejoin a fenced node, shown in messages and /status. */
  rejoinHint?: string;
}

export interface RoleSnapshot {
  rol: GaRol;
  estado: RoleState;
  activo: boolean;
  /** When the current state began (ms, the caller's clock). */
  since: number;
  reason: string;
  activating: boolean;
  highestTimeline: number;
  node: NodeStatus;
  /** ms since the last peer heartbeat (null = never heard). */
  peerAgeMs: number | null;
  peerLost: boolean;
  peer: PeerBeat | null;
  /** Since when PostgreSQL has been unreachable (null = reachable). */
  storageDownSince: number | null;
  fenced?: { reason: string; rejoin: string };
  lastActivationError?: string;
}

export class RoleMachine {
  private estado: RoleState;
  private since: number;
  private reason = 'starting';
  private readonly startedAt: number;
  private peer: { beat: PeerBeat; at: number } | undefined;
  private peerLostNoted = false;
  private highest = 0;
  private node: NodeStatus = { reachable: false };
  /** Our node's cluster and timeline as last seen (fencing tokens); survives failed probes. */
  private history: Fencing | undefined;
  private storageDownSince: number | undefined;
  private activating = false;
  private lastActivationError: string | undefined;
  private nextActivationAt = 0;
  private readonly stepDownMs: number;
  private readonly rejoinHint: string;

  constructor(
    private readonly o: RoleMachineOptions,
    now: number,
  ) {
    this.estado = o.rol === 'primary' ? 'PRIMARY' : 'BACKUP';
    this.since = now;
    this.startedAt = now;
    this.stepDownMs = o.stepDownMs ?? o.peerTimeoutMs;
    this.rejoinHint = o.rejoinHint ?? 'rejoin this PostgreSQL node as a standby of the current primary, then it leaves FENCED by itself';
  }

  get state(): RoleState {
    return this.estado;
  }

  get active(): boolean {
    return this.estado === 'ACTIVE';
  }

  /** A heartbeat from the peer GA. Returns an activation reason when we must activate now (cold start). */
  peerBeat(b: PeerBeat, now: number): string | undefined {
    this.peer = { beat: b, at: now };
    this.peerLostNoted = false;
    if (b.timeline !== null) this.seeTimeline(b.timeline);
    if (this.checkFence(now)) return undefined;

    if (b.activo) {
      if (this.estado === 'PRIMARY') this.go('PASSIVE', 'peer is already active (it took over while we were away)', now, 'warn');
      else if (this.estado === 'BACKUP') this.go('PASSIVE', 'peer is active', now, 'info');
      else if (this.estado === 'ACTIVE' && this.o.rol === 'backup' && (b.timeline ?? 0) >= (this.node.timeline ?? 0)) {
        // Never yield to a peer on an older timeline: that peer is the stale side of a healed
        // partition and fences itself as soon as it hears our timeline.
        // Two actives on one timeline share one PostgreSQL primary (harmless: the ledger makes
        // every op idempotent), but one is enough: the configured backup yields.
        this.go('PASSIVE', `peer is active too (timeline ${b.timeline ?? '?'}): the backup yields`, now, 'error');
      }
      return undefined;
    }
    // Cold start: the configured primary activates as soon as it knows the peer is not active.
    if (this.estado === 'PRIMARY' && !this.activating && b.estado !== 'PRIMARY' && now >= this.nextActivationAt) {
      this.activating = true;
      return `cold start: peer is ${b.estado}`;
    }
    return undefined;
  }

  /** Latest probe of the PostgreSQL node this GA serves from. */
  nodeStatus(s: NodeStatus, now: number): void {
    this.node = s;
    this.noteHistory(s);
    if (s.timeline !== undefined) this.seeTimeline(s.timeline);
    if (this.checkFence(now)) return;
    // Someone turned our node into a standby under us: it takes no writes, so we are not active.
    if (this.estado === 'ACTIVE' && s.reachable && s.inRecovery) this.go('PASSIVE', 'our PostgreSQL node is in recovery (read-only)', now, 'error');
  }

  /** Outcome of a storage call or probe: feeds the step-down rule. */
  storage(ok: boolean, now: number): void {
    if (ok) this.storageDownSince = undefined;
    else this.storageDownSince ??= now;
    this.tick(now);
  }

  /** Time passes: step down after a long storage outage; note a silent peer. */
  tick(now: number): void {
    const downMs = this.storageDownSince === undefined ? undefined : now - this.storageDownSince;
    if (downMs !== undefined && downMs >= this.stepDownMs) {
      // A configured primary that cannot reach its node at start (down, or waiting beside a
      // standby on a newer timeline for the pair to promote it: deploy/postgres) would hold the
      // pair for good while it stayed PRIMARY, which the backup never takes over from. Passive
      // without PostgreSQL, it lets the backup promote its standby; its own node then rejoins.
      if (this.estado === 'ACTIVE') this.go('PASSIVE', `PostgreSQL unreachable for ${downMs} ms: stepping down so the peer can take over`, now, 'warn');
      else if (this.estado === 'PRIMARY' && !this.activating) this.go('PASSIVE', `PostgreSQL unreachable for ${downMs} ms since start: passive so the peer can take over`, now, 'warn');
    }
    if (!this.peerLostNoted && this.peerLost(now)) {
      this.peerLostNoted = true;
      this.o.onPeerLost?.(now - (this.peer?.at ?? this.startedAt), this.peer !== undefined);
    }
  }

  /** A client request reached this GA. */
  request(now: number): RequestDecision {
    this.tick(now);
    switch (this.estado) {
      case 'ACTIVE':
        return { kind: 'serve' };
      case 'FENCED':
        return { kind: 'reject', mensaje: `GA aislado (FENCED): ${this.reason}` };
      default: {
        if (this.activating) return { kind: 'wait' };
        const why = this.takeoverReason(now);
        if (why && now < this.nextActivationAt) {
          return { kind: 'reject', mensaje: `GA pasivo: el último intento de tomar el control falló (${this.lastActivationError ?? '?'})` };
        }
        if (why) {
          this.activating = true;
          return { kind: 'activate', ...why };
        }
        return { kind: 'reject', mensaje: this.passiveMessage(now) };
      }
    }
  }

  /** The activation asked for succeeded on a primary node with this timeline. False = refused (fenced meanwhile). */
  activated(timeline: number, reason: string, now: number, sistema?: string): boolean {
    this.activating = false;
    this.lastActivationError = undefined;
    this.seeTimeline(timeline);
    this.node = { reachable: true, inRecovery: false, timeline, sistema };
    this.noteHistory(this.node);
    this.storageDownSince = undefined;
    if (this.estado === 'FENCED' || this.checkFence(now)) return false;
    this.go('ACTIVE', reason, now, this.estado === 'PRIMARY' ? 'info' : 'warn');
    return true;
  }

  activationFailed(error: string, now: number): void {
    this.activating = false;
    this.lastActivationError = error;
    this.nextActivationAt = now + (this.o.activationRetryMs ?? 500);
  }

  /** The peer's PostgreSQL node answered as a primary on this timeline (probed directly, not via heartbeat). */
  peerNodePrimary(timeline: number, now: number): void {
    this.seeTimeline(timeline);
    this.checkFence(now);
  }

  /**
   * A write carries a client's fencing token. True = refuse it: a client already
   * wrote on a newer timeline of our node's cluster, so our node is the stale side
   * of a failover, and we are FENCED from now on (as if a probe had shown it).
   */
  writeFencedBy(token: Fencing, now: number): boolean {
    // The last known history, not this.node: a failed probe must not open a window for stale writes.
    if (!this.history || !isBehind(this.history, token)) return false;
    this.seeTimeline(token.timeline);
    this.checkFence(now);
    return true;
  }

  /** The history our writes go to, stamped on every acknowledged write (undefined until probed). */
  fencing(): Fencing | undefined {
    return this.history;
  }

  /** What we tell the peer. */
  beat(): PeerBeat {
    return {
      rol: this.o.rol,
      estado: this.estado,
      activo: this.estado === 'ACTIVE',
      timeline: this.node.timeline ?? null,
      pgEnRecuperacion: this.node.inRecovery ?? null,
      pgDisponible: this.storageDownSince === undefined,
    };
  }

  get highestTimeline(): number {
    return this.highest;
  }

  snapshot(now: number): RoleSnapshot {
    const peerAgeMs = this.peer ? now - this.peer.at : null;
    return {
      rol: this.o.rol,
      estado: this.estado,
      activo: this.estado === 'ACTIVE',
      since: this.since,
      reason: this.reason,
      activating: this.activating,
      highestTimeline: this.highest,
      node: { ...this.node },
      peerAgeMs,
      peerLost: this.peerLost(now),
      peer: this.peer?.beat ?? null,
      storageDownSince: this.storageDownSince ?? null,
      ...(this.estado === 'FENCED' ? { fenced: { reason: this.reason, rejoin: this.rejoinHint } } : {}),
      ...(this.lastActivationError ? { lastActivationError: this.lastActivationError } : {}),
    };
  }

  /**
   * Why this GA must not degrade sync replication to async now, or undefined when it may.
   * With the peer heard it may: the peer is alive and not active, so it promotes nothing.
   * With the peer silent, the peer may be taking over right now — promoting the very standby
   * that stopped streaming (only the link between the hosts broke, and the commits hanging on
   * it sent the clients to the peer) — and writes acknowledged here after a degrade would be
   * lost with this timeline. Unless this GA is the one that took over: its node is on a newer
   * timeline than the peer's last one, so a peer that comes back is fenced, not promoted.
   */
  syncDegradeHold(now: number): string | undefined {
    if (!this.peerLost(now)) return undefined;
    const peerTl = this.peer?.beat.timeline ?? null;
    if (peerTl !== null && this.node.timeline !== undefined && this.node.timeline > peerTl) return undefined;
    const silent = this.peer ? `sin latido del GA par desde hace ${now - this.peer.at} ms` : `sin noticias del GA par desde el arranque`;
    return `${silent}: puede estar promoviendo el standby; la replicación sigue síncrona (las escrituras esperan) hasta oírlo o hasta que el standby vuelva a transmitir`;
  }

  // ------------------------------------------------------------------ rules

  private peerLost(now: number): boolean {
    if (this.peer) return now - this.peer.at >= this.o.peerTimeoutMs;
    return now - this.startedAt >= this.o.peerTimeoutMs;
  }

  /** Why a non-active GA may take over on this request, or undefined. */
  private takeoverReason(now: number): { reason: string; noPromotion?: true } | undefined {
    const p = this.peer;
    if (!p) {
      if (!this.peerLost(now)) return undefined;
      const silent = `no peer heartbeat ${now - this.startedAt} ms after start`;
      // Never heard the peer: the configured primary may serve alone (Binary Star)...
      if (this.o.rol === 'primary') return { reason: silent };
      // ...a backup cannot tell a dead primary from one not started yet, so it never
      // promotes; but a node that already is the newest primary needs no promotion.
      if (isNewestPrimary(this.node, this.highest)) return { reason: `${silent}; our PostgreSQL is already the primary on timeline ${this.node.timeline} (no promotion)`, noPromotion: true };
      return undefined;
    }
    if (now - p.at >= this.o.peerTimeoutMs) return { reason: `peer heartbeat lost for ${now - p.at} ms` };
    if (p.beat.activo) return undefined;
    if (p.beat.estado === 'FENCED') return { reason: 'peer is fenced' };
    if (!p.beat.pgDisponible && p.beat.estado !== 'PRIMARY' && p.beat.estado !== 'BACKUP') return { reason: 'peer is passive and cannot reach PostgreSQL' };
    // Both alive, neither active, both with storage: the configured primary serves.
    if (this.o.rol === 'primary' && this.storageDownSince === undefined) return { reason: `peer is ${p.beat.estado}, not active` };
    return undefined;
  }

  private passiveMessage(now: number): string {
    const p = this.peer?.beat;
    if (p?.activo) return `GA pasivo (${this.o.rol}): el GA activo es el par`;
    if (!p && this.o.rol === 'backup' && this.peerLost(now)) return 'GA backup sin noticias de su par: no promueve nada sin oírlo y su PostgreSQL no es el primario más nuevo';
    if (!p) return `GA ${this.o.rol} iniciando: todavía no oye a su par`;
    return `GA pasivo (${this.o.rol}): esperando a que el par ${p.estado} se active`;
  }

  /** Kept across failed probes (a node's history only changes by promotion or a switch, both probed/activated). */
  private noteHistory(s: NodeStatus): void {
    if (s.sistema !== undefined && s.timeline !== undefined) this.history = { sistema: s.sistema, timeline: s.timeline };
    else if (s.reachable) this.history = undefined; // answered without telling its cluster: no claim
  }

  private seeTimeline(t: number): void {
    if (t > this.highest) this.highest = t;
  }

  /**
   * Fencing: never write through a node on a timeline below the highest seen
   * (it diverged, or is a standby that has not followed the new primary yet).
   * Returns true when the machine is (now) FENCED.
   */
  private checkFence(now: number): boolean {
    const t = this.node.timeline;
    const stale = this.node.reachable && t !== undefined && t < this.highest;
    if (stale && this.estado !== 'FENCED') {
      const what = this.node.inRecovery ? 'standby' : 'primary';
      this.go('FENCED', `our PostgreSQL node is a ${what} on timeline ${t} but timeline ${this.highest} exists: not writing to it`, now, 'error');
      return true;
    }
    if (this.estado === 'FENCED' && !stale && this.node.reachable && this.node.inRecovery && t !== undefined) {
      this.go('PASSIVE', `our PostgreSQL node rejoined: standby on timeline ${t}`, now, 'warn');
      return false;
    }
    return this.estado === 'FENCED';
  }

  private go(to: RoleState, reason: string, now: number, level: RoleChange['level']): void {
    const from = this.estado;
    this.reason = reason;
    if (from === to) return;
    this.estado = to;
    this.since = now;
    this.o.onChange?.({ from, to, reason, level });
  }
}

/**
 * A node that takes writes on the newest history this GA knows of: serving from it
 * promotes nothing (a standby, an unreachable node or an older timeline do not qualify).
 */
function isNewestPrimary(node: NodeStatus, highestTimeline: number): boolean {
  return node.reachable && node.inRecovery === false && node.timeline !== undefined && node.timeline >= highestTimeline;
}
