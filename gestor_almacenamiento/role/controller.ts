/**
 * Runs the GA pair's role machine (role/machine.ts) against the world: feeds it
 * peer heartbeats (peer-link.ts), probes of our PostgreSQL node and storage
 * outcomes, carries out the activations it asks for (takeover.ts + pool switch +
 * migrations), and is the RoleGate every request passes before dispatch.
 */
import { monotonicNow } from '../../common/monotonic.js';
import type { GaConfig } from '../../common/config.js';
import type { Fencing, GaReply, GaRequest } from '../../common/protocol/internal.js';
import type { Logger } from '../../common/logger.js';
import type { PgConn } from '../../postgres/admin.js';
import type { RoleMetrics } from '../metrics.js';
import { migrate } from '../migrate.js';
import { AdminSessions, pgRole } from '../../postgres/admin.js';
import { startPeerLink, type PeerLink } from './peer-link.js';
import type { SocketSecurity } from '../../common/socket-security.js';
import { RoleMachine, type RoleChange } from './machine.js';
import type { StorageTarget } from '../storage-target.js';
import { chooseNode, nodeLabel, pgAdminControl, PROBE, type PgControl, type PgNode } from './takeover.js';
import { clientsStayed, contactGapMs, silentPeerVerdict, type PeerProbeResult } from './silent-peer.js';

/** How often our PostgreSQL node's role and timeline are probed (fencing reacts this fast). */
const NODE_PROBE_MS = 500;
/**
 * Bounds of that probe's kept-open connection. A node that goes silent
 * (partition, frozen host) now shows as a query timeout, not a connect timeout:
 * queries get the connect bound so it is reported unreachable as fast as
 * with a fresh connection per probe.
 */
const NODE_PROBE = { connectTimeoutMs: PROBE.connectTimeoutMs, queryTimeoutMs: PROBE.connectTimeoutMs };
/**
 * A request that meets a running takeover waits this long for it before being told
 * GA_NO_ACTIVO. Short on purpose: it must stay well below the clients' per-attempt
 * timeout (GA_TIMEOUT_MS), or waiting requests time out and open this GA's breaker
 * just as it becomes the one to use. A takeover onto a live primary fits in it; a
 * promotion may not, and the client simply comes back after its round backoff.
 */
const TAKEOVER_WAIT_MS = 250;
/**
 * Bound of the direct probe of the peer's PostgreSQL an ACTIVE GA makes while the
 * peer is silent. Short: a request may have to wait for one, and a peer host that
 * is down (no RST, just silence) must cost a few hundred ms, not a client timeout.
 */
const PEER_NODE_PROBE = { connectTimeoutMs: 200, queryTimeoutMs: 300 };
/**
 * While the peer is silent the ACTIVE GA probes the peer's PostgreSQL in the
 * background this often (back to back when a probe takes longer: a dead host
 * costs the 200 ms connect bound each time); how fresh a probe a request needs is
 * PEER_PROBE_FRESH_MS (silent-peer.ts).
 */
const PEER_PROBE_EVERY_MS = 200;

export const REJOIN_HINT =
  'rejoin this PostgreSQL node as a standby of the current primary: locally `npm run pg -- rejoin --data <dir> --listen <host:port> --primary <host:port> --name <pcN> [--reclone]`; in the compose deployment `docker stop pcN-postgres && docker compose -f docker-compose.pcN.yml run --rm postgres-rejoin && docker start pcN-postgres` (docs/deploy.md, "Bringing a former primary back"); this GA leaves FENCED by itself once its node follows the newest timeline';

export interface RoleControllerOptions {
  cfg: GaConfig & { GA_PEER_ENDPOINT: string };
  log: Logger;
  target: StorageTarget;
  metrics: RoleMetrics;
  /** Apply migrations on the node chosen at activation (never on a standby). */
  migrate: boolean;
  pgc?: PgControl;
  now?: () => number;
  /** Told when this GA becomes active (true) or stops being active (false). */
  onActive?: (active: boolean) => void;
  /** CURVE on the peer heartbeat link (absent: off). */
  security?: SocketSecurity;
}

export class RoleController {
  readonly machine: RoleMachine;
  private link: PeerLink | undefined;
  private activation: Promise<void> | undefined;
  private activeSince: number | undefined;
  /** When the peer's heartbeat was declared lost, or never came within T of the start (undefined: the peer is heard). */
  private peerSilentSince: number | undefined;
  /** Last completed probe of the peer's PostgreSQL during this silence. */
  private peerProbeResult: PeerProbeResult | undefined;
  /** Bumped when a silence starts or ends: a probe's answer only counts for its own silence. */
  private peerEpoch = 0;
  /** When the last peer beat arrived (0: never). */
  private peerLastBeatAt = 0;
  /** This silence's unreachable peer node is trusted (clientsStayed came true). */
  private trustUnreachable = false;
  /** Client contact: start of the current run of requests, and the last request. */
  private contactSince = 0;
  private lastContactAt: number | undefined;
  private readonly contactGapMs: number;
  private timers: NodeJS.Timeout[] = [];
  private probing = false;
  private closed = false;
  private readonly pgc: PgControl;
  private readonly now: () => number;
  private readonly nodes: PgNode[];
  private readonly log: Logger;
  /** The running probe of the silent peer's PostgreSQL (startPeerProbe). */
  private peerNodeProbe: { startedAt: number; done: Promise<void> } | undefined;
  /**
   * Kept-open connections for the NODE_PROBE_MS probe, by node (a takeover may
   * switch the target): a fresh one every 500 ms would fork a backend each time.
   * Takeover choice and the silent-peer probes keep fresh connections on purpose.
   */
  private readonly probeSessions = new AdminSessions(NODE_PROBE);

  private constructor(private readonly o: RoleControllerOptions) {
    this.log = o.log.child({ component: 'role' });
    this.pgc = o.pgc ?? pgAdminControl;
    this.now = o.now ?? monotonicNow;
    this.contactGapMs = contactGapMs(o.cfg.GA_PEER_TIMEOUT_MS, o.cfg.GA_HEARTBEAT_MS);
    const base = { user: o.cfg.PGUSER, password: o.cfg.PGPASSWORD, database: o.cfg.PGDATABASE };
    this.nodes = [{ name: 'local', conn: { ...base, host: o.cfg.PGHOST, port: o.cfg.PGPORT } }];
    if (o.cfg.PG_PEER_HOST) this.nodes.push({ name: 'peer', conn: { ...base, host: o.cfg.PG_PEER_HOST, port: o.cfg.PG_PEER_PORT } });
    this.machine = new RoleMachine(
      {
        rol: o.cfg.GA_ROL,
        peerTimeoutMs: o.cfg.GA_PEER_TIMEOUT_MS,
        rejoinHint: REJOIN_HINT,
        onChange: (c) => this.changed(c),
        onPeerLost: (ms, heard) => {
          this.newSilence(this.now());
          this.trustUnreachable = false;
          if (heard) this.log.warn({ silentMs: ms, estado: this.machine.state }, 'peer GA heartbeat lost; a client request will make the non-active GA take over');
          else this.log.warn({ silentMs: ms, estado: this.machine.state }, 'no peer GA heartbeat since start');
          this.probePeerInBackground();
        },
      },
      this.now(),
    );
    o.metrics.setState(this.machine.state);
  }

  static async start(o: RoleControllerOptions): Promise<RoleController> {
    const c = new RoleController(o);
    try {
      c.link = await startPeerLink({
        bind: o.cfg.GA_PEER_BIND,
        peer: o.cfg.GA_PEER_ENDPOINT,
        heartbeatMs: o.cfg.GA_HEARTBEAT_MS,
        state: () => c.machine.beat(),
        onBeat: (b) => c.onBeat(b),
        log: c.log,
        security: o.security,
      });
    } catch (err) {
      throw new Error(`cannot bind the peer heartbeat on ${o.cfg.GA_PEER_BIND}: ${(err as Error).message}`, { cause: err });
    }
    c.timers.push(setInterval(() => c.machine.tick(c.now()), Math.min(o.cfg.GA_HEARTBEAT_MS, 100)));
    c.timers.push(setInterval(() => void c.probeNode(), NODE_PROBE_MS));
    c.timers.push(setInterval(() => c.probePeerInBackground(), PEER_PROBE_EVERY_MS));
    void c.probeNode();
    c.log.info({ rol: o.cfg.GA_ROL, peer: o.cfg.GA_PEER_ENDPOINT, nodes: c.nodes.map(nodeLabel), peerTimeoutMs: o.cfg.GA_PEER_TIMEOUT_MS }, 'GA pair member starting');
    return c;
  }

  /** ms since the peer's last heartbeat (null: never heard), on this controller's clock. */
  peerAgeMs(): number | null {
    return this.machine.snapshot(this.now()).peerAgeMs;
  }

  /** Why sync replication must not degrade to async now (the peer may be taking over), or undefined (RoleMachine.syncDegradeHold). */
  syncDegradeHold(): string | undefined {
    return this.machine.syncDegradeHold(this.now());
  }

  /** Told after every storage call and health probe. */
  storage(ok: boolean): void {
    this.machine.storage(ok, this.now());
  }

  /** The RoleGate: undefined = serve; a reply = answer that instead. */
  async gate(req: GaRequest): Promise<GaReply | undefined> {
    this.noteContact(this.now());
    // A ping is a liveness/role probe, not client demand: it never triggers a takeover.
    if (req.orden === 'ping') return undefined;
    // A write's fencing token is checked on arrival and again right before serving:
    // an activation or a probe in between may have told us our node's history.
    const token = 'fencing' in req ? req.fencing : undefined;
    const refuseIfBehind = (): GaReply | undefined =>
      token && this.machine.writeFencedBy(token, this.now())
        ? { ref: req.ref, exito: false, codigo: 'GA_NO_ACTIVO', mensaje: `GA aislado: el cliente ya escribió en el timeline ${token.timeline} y nuestro PostgreSQL está en uno anterior` }
        : undefined;
    // An active GA refuses at once: the node it writes to is behind the client. One that is not
    // active has learnt the newer timeline (refuseIfBehind) and goes on to decide: a takeover
    // may choose a node on that timeline (the peer's primary: chooseNode gets the token), and
    // the check runs again before serving. Refusing here kept a GA whose own node was dead
    // from serving from the peer's newer primary while the peer's GA was down.
    const refused = refuseIfBehind();
    if (refused && this.machine.active) return refused;
    const arrivedAt = this.now();
    for (let round = 0; round < 3; round++) {
      const d = this.machine.request(this.now());
      if (d.kind === 'serve') {
        const verdict = await this.verifyPeerNode(arrivedAt);
        if (!this.machine.active) continue; // fenced meanwhile: decide again (reject)
        if (verdict === 'doubt') {
          return { ref: req.ref, exito: false, codigo: 'GA_NO_ACTIVO', mensaje: 'GA verificando el PostgreSQL del par: reintente' };
        }
        return refuseIfBehind();
      }
      if (d.kind === 'reject') return { ref: req.ref, exito: false, codigo: 'GA_NO_ACTIVO', mensaje: d.mensaje };
      if (d.kind === 'activate') this.activation = this.activate(d.reason, token, d.noPromotion).finally(() => (this.activation = undefined));
      if (!(await this.waitActivation())) break;
    }
    return { ref: req.ref, exito: false, codigo: 'GA_NO_ACTIVO', mensaje: 'GA tomando el control: reintente' };
  }

  /** The `papel` part of the GA's /status: what the role machine says this GA plays now (Spanish keys, like all of /status). */
  async status() {
    const now = this.now();
    const s = this.machine.snapshot(now);
    const { reachable, inRecovery, ...node } = s.node;
    return {
      rol: s.rol,
      estado: s.estado,
      activo: s.activo,
      desde: new Date(s.since).toISOString(),
      activoDesde: s.activo && this.activeSince !== undefined ? new Date(this.activeSince).toISOString() : null,
      motivo: s.reason,
      activando: s.activating,
      timelineMaximo: s.highestTimeline,
      nodo: { host: this.o.target.node.host, puerto: this.o.target.node.port, alcanzable: reachable, ...(inRecovery !== undefined ? { enRecuperacion: inRecovery } : {}), ...node },
      par: {
        endpoint: this.o.cfg.GA_PEER_ENDPOINT,
        latidoHaceMs: s.peerAgeMs,
        perdido: s.peerLost,
        ...(s.peer ? { rol: s.peer.rol, estado: s.peer.estado, activo: s.peer.activo, timeline: s.peer.timeline, pgDisponible: s.peer.pgDisponible } : {}),
        // While the peer is silent: the last direct probe of its PostgreSQL (null = none yet).
        ...(this.peerSilentSince !== undefined
          ? { sondeoNodo: this.peerProbeResult ? { alcanzable: this.peerProbeResult.reachable, haceMs: now - this.peerProbeResult.startedAt } : null }
          : {}),
        latidosMalformados: this.link?.malformed ?? 0,
      },
      ...(s.fenced ? { aislado: { motivo: s.fenced.reason, reincorporar: s.fenced.rejoin } } : {}),
      ...(s.lastActivationError ? { ultimoErrorActivacion: s.lastActivationError } : {}),
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    await this.link?.close();
    await this.activation?.catch(() => undefined);
    await this.probeSessions.close();
  }

  // ------------------------------------------------------------------ internals

  /** A silence starts (`since`) or ends (undefined): everything about the last one is forgotten; probes still running belong to it. */
  private newSilence(since: number | undefined): void {
    this.peerSilentSince = since;
    this.peerEpoch++;
    this.peerProbeResult = undefined;
  }

  private onBeat(b: Parameters<RoleMachine['peerBeat']>[0]): void {
    this.peerLastBeatAt = this.now();
    if (this.peerSilentSince !== undefined) {
      this.newSilence(undefined);
      this.log.info({ peer: b }, 'peer GA heartbeat back');
    }
    const activate = this.machine.peerBeat(b, this.now());
    if (activate) this.activation = this.activate(activate).finally(() => (this.activation = undefined));
  }

  /**
   * While the peer is silent, an ACTIVE GA serves only on a recent probe of the
   * peer's PostgreSQL: after a healed partition the peer heartbeat can take seconds
   * to flow again (TCP retransmission backoff), while a fresh connection sees at
   * once that the peer promoted its standby to a newer timeline, and this GA fences
   * itself instead of acknowledging writes that the newer timeline would lose.
   * The probes run in the background (probePeerInBackground), so a request only
   * waits when the last one is older than PEER_PROBE_FRESH_MS; the rule itself is
   * silentPeerVerdict.
   */
  private async verifyPeerNode(arrivedAt: number): Promise<'doubt' | 'serve'> {
    const peer = this.peerNode();
    while (!this.closed && peer && this.peerSilentSince !== undefined) {
      this.trustUnreachable ||= clientsStayed(this.now(), this.contactSince, this.peerLastBeatAt);
      const verdict = silentPeerVerdict({
        probe: this.peerProbeResult,
        arrivedAt,
        activeSince: this.activeSince,
        silentSince: this.peerSilentSince,
        trustUnreachable: this.trustUnreachable,
      });
      if (verdict !== 'probe') return verdict;
      const p = this.peerNodeProbe;
      // A probe that started recently enough answers this request; an older one is waited out, then a new one starts.
      await (p ?? this.startPeerProbe(peer)).done;
    }
    return 'serve';
  }

  /** The peer's PostgreSQL node, unless it is unknown or the node we serve from anyway. */
  private peerNode(): PgNode | undefined {
    const peer = this.nodes.find((n) => n.name === 'peer');
    return peer && !this.o.target.is(peer.conn) ? peer : undefined;
  }

  /** Keeps the silent-peer probe result fresh without a request having to wait for it. */
  private probePeerInBackground(): void {
    if (this.closed || this.peerSilentSince === undefined || !this.machine.active || this.peerNodeProbe) return;
    const peer = this.peerNode();
    if (peer) this.startPeerProbe(peer);
  }

  /**
   * One probe of the peer's PostgreSQL, on a fresh connection on purpose: one kept
   * open across a cut would sit in TCP retransmission backoff after the heal, like
   * the heartbeat. A primary on a newer timeline fences this GA at once.
   */
  private startPeerProbe(peer: PgNode): { startedAt: number; done: Promise<void> } {
    const startedAt = this.now();
    const epoch = this.peerEpoch;
    const done = this.pgc
      .role(peer.conn, PEER_NODE_PROBE)
      .then(
        (r) => {
          if (!r.inRecovery) this.machine.peerNodePrimary(r.timeline, this.now());
          return true;
        },
        () => false,
      )
      .then((reachable) => {
        if (epoch !== this.peerEpoch) return; // the silence it was for is over
        if (this.peerProbeResult?.reachable !== reachable) {
          this.log.info({ node: nodeLabel(peer), reachable }, reachable ? 'silent peer: its PostgreSQL answers' : 'silent peer: its PostgreSQL does not answer');
        }
        this.peerProbeResult = { startedAt, reachable };
      })
      .finally(() => {
        if (this.peerNodeProbe?.done === done) this.peerNodeProbe = undefined;
      });
    this.peerNodeProbe = { startedAt, done };
    return this.peerNodeProbe;
  }

  /** Client requests reach us: a pause of contactGapMs or more starts a new run (clientsStayed). */
  private noteContact(now: number): void {
    if (this.lastContactAt === undefined || now - this.lastContactAt >= this.contactGapMs) this.contactSince = now;
    this.lastContactAt = now;
  }

  /** Waits for the running activation (bounded). False when none runs. */
  private async waitActivation(): Promise<boolean> {
    const a = this.activation;
    if (!a) return false;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([a.then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), TAKEOVER_WAIT_MS)))]);
    clearTimeout(timer);
    return !timedOut;
  }

  /**
   * `token`: the fencing token of the write that asked for it (a newer timeline it proves exists).
   * `noPromotion`: the machine allows only a primary that is already there (role/machine.ts).
   */
  private async activate(reason: string, token?: Fencing, noPromotion?: true): Promise<void> {
    const t0 = this.now();
    try {
      const choice = await chooseNode(this.nodes, this.machine.highestTimeline, this.pgc, this.log, token, { mayPromote: !noPromotion });
      if (this.closed) throw new Error('GA closing');
      this.o.target.switchTo(choice.node.conn);
      if (this.o.migrate) await migrate(this.o.target.pool, this.log);
      const ok = this.machine.activated(choice.timeline, `${reason}; ${choice.detail}`, this.now(), choice.sistema);
      if (ok) this.log.warn({ opMs: this.now() - t0, node: nodeLabel(choice.node), timeline: choice.timeline, promoted: choice.promoted }, 'takeover complete: serving');
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      this.machine.activationFailed(msg, this.now());
      this.log.error({ reason, err: msg, ms: this.now() - t0 }, 'takeover failed; staying passive');
    }
  }

  private async probeNode(): Promise<void> {
    if (this.probing || this.closed) return;
    this.probing = true;
    const node: PgConn = this.o.target.node;
    try {
      const r = await this.probeRole(node);
      // The target may have switched while we probed: a stale answer says nothing about the new node.
      if (this.closed || !this.o.target.is(node)) return;
      this.machine.nodeStatus({ reachable: true, inRecovery: r.inRecovery, timeline: r.timeline, sistema: r.sistema }, this.now());
      this.machine.storage(true, this.now());
    } catch {
      // Closing ends the probe session under a running probe: that says nothing about the node.
      if (this.closed || !this.o.target.is(node)) return;
      this.machine.nodeStatus({ reachable: false }, this.now());
      this.machine.storage(false, this.now());
    } finally {
      this.probing = false;
    }
  }

  /** An injected PgControl (tests) answers as is; the real probe reuses a kept-open session. */
  private probeRole(node: PgConn): Promise<{ inRecovery: boolean; timeline: number; sistema?: string }> {
    return this.o.pgc ? this.o.pgc.role(node) : pgRole(this.probeSessions.of(node));
  }

  private changed(c: RoleChange): void {
    const now = this.now();
    if (c.to === 'ACTIVE') {
      this.activeSince = now;
      this.o.metrics.takeover(c.from);
    }
    if (c.to === 'ACTIVE' || c.from === 'ACTIVE') this.o.onActive?.(c.to === 'ACTIVE');
    this.o.metrics.setState(c.to);
    this.log[c.level]({ rol: this.o.cfg.GA_ROL, from: c.from, to: c.to, reason: c.reason, ...(c.to === 'FENCED' ? { rejoin: REJOIN_HINT } : {}) }, `GA role change ${c.from} → ${c.to}`);
    this.link?.publishNow();
  }
}
