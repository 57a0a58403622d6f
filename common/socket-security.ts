/**
 * The one place every internal ZeroMQ socket gets its security options from.
 *
 * With CURVE on, each process has one key pair (its identity). Server sockets
 * (GC PUB and backend, GA, GA peer heartbeat PUB) act as CURVE servers with the
 * process's secret key and a ZAP domain of their own, whose allow-list names the
 * client public keys they admit; every other handshake is refused, counted
 * (`zmq_curve_refused_total{socket}`) and logged (rate-limited). Client sockets
 * (actors' SUB and DEALER, storage clients, the GA's peer SUB) authenticate with
 * the process's key pair and check the server by the public key configured for
 * the endpoint they connect to. The PS-facing GC frontend stays open (NULL), as
 * the original clients need it.
 *
 * With CURVE off every helper returns no options: the sockets are exactly as before.
 *
 * Lifecycle: a process builds one SocketSecurity from its config, awaits
 * `start()` (the ZAP domains must be registered before a server socket binds:
 * without a handler libzmq admits any client), passes it to its components and
 * `close()`s it after them. Components never close it.
 */
import { Counter, type Registry } from 'prom-client';
import { curvePublicKey } from './curve-keys.js';
import { logThisOne, type Logger } from './logger.js';
import { zapAuthority, type ZapRefusal } from './zap.js';

/** The internal server sockets, each with its own allow-list. */
export const SERVER_SOCKETS = ['gc-pub', 'gc-backend', 'ga', 'ga-peer'] as const;
export type ServerSocket = (typeof SERVER_SOCKETS)[number];

/** Options spread into a zeromq socket constructor (all absent with CURVE off). */
export interface CurveSocketOptions {
  curveServer?: boolean;
  curveSecretKey?: string;
  curvePublicKey?: string;
  curveServerKey?: string;
  zapDomain?: string;
  zapEnforceDomain?: boolean;
}

/** What watch() needs of a zeromq socket: its event emitter. */
export interface WatchableSocket {
  events: { on(type: HandshakeFailure, listener: (ev: { address?: string; error?: Error }) => void): unknown };
}
type HandshakeFailure = 'handshake:error:protocol' | 'handshake:error:auth' | 'handshake:error:other';
const HANDSHAKE_FAILURES: readonly HandshakeFailure[] = ['handshake:error:protocol', 'handshake:error:auth', 'handshake:error:other'];

export interface SocketSecurityOptions {
  /** This process's secret key (Z85); absent = CURVE off. */
  secretKey?: string;
  /** Client public keys each server socket admits. A server socket without a list admits nobody. */
  clients?: Partial<Record<ServerSocket, readonly string[]>>;
  /** The server public key of every endpoint this process connects to. */
  serverKeys?: ReadonlyMap<string, string>;
  log?: Logger;
  registry?: Registry;
}

export class SocketSecurityError extends Error {
  override name = 'SocketSecurityError';
}

export class SocketSecurity {
  readonly enabled: boolean;
  /** This process's public key (CURVE on). */
  readonly publicKey: string | undefined;
  private readonly secretKey: string | undefined;
  private readonly domains = new Map<ServerSocket, { domain: string; release: () => Promise<void> }>();
  private readonly refusedBySocket = new Map<ServerSocket, number>();
  private readonly counter: Counter<'socket'> | undefined;
  private readonly failedCounter: Counter<'socket' | 'motivo'> | undefined;
  private readonly failedBySocket = new Map<string, number>();
  private started = false;

  /** CURVE off: no options anywhere. */
  static off(): SocketSecurity {
    return new SocketSecurity({});
  }

  constructor(private readonly o: SocketSecurityOptions) {
    this.enabled = o.secretKey !== undefined;
    this.secretKey = o.secretKey;
    this.publicKey = o.secretKey === undefined ? undefined : curvePublicKey(o.secretKey);
    if (this.enabled && o.registry) {
      this.counter = new Counter({
        name: 'zmq_curve_refused_total',
        help: 'CURVE handshakes refused by the ZAP handler (client key not on the socket\'s allow-list), by server socket',
        labelNames: ['socket'],
        registers: [o.registry],
      });
      for (const s of SERVER_SOCKETS) if (o.clients?.[s]) this.counter.inc({ socket: s }, 0);
      this.failedCounter = new Counter({
        name: 'zmq_curve_handshake_failed_total',
        help: 'CURVE handshakes that failed on this side (a peer with another key pair, a stale server key, CURVE off at the other end), by socket and kind (protocol, auth, other)',
        labelNames: ['socket', 'motivo'],
        registers: [o.registry],
      });
    }
  }

  /** Registers the ZAP domains of the server sockets that have an allow-list. Idempotent. */
  async start(): Promise<this> {
    if (!this.enabled || this.started) return this;
    this.started = true;
    try {
      for (const socket of SERVER_SOCKETS) {
        const clients = this.o.clients?.[socket];
        if (!clients) continue;
        this.domains.set(socket, await zapAuthority.register(socket, clients, (r) => this.onRefused(socket, r)));
      }
    } catch (err) {
      await this.close();
      throw err;
    }
    return this;
  }

  /** Options of a server socket: CURVE server under its own ZAP domain. */
  server(socket: ServerSocket): CurveSocketOptions {
    if (!this.enabled) return {};
    const d = this.domains.get(socket);
    if (!d) {
      throw new SocketSecurityError(
        this.started ? `CURVE is on but the ${socket} socket has no allow-list of client keys` : 'SocketSecurity.start() must complete before a server socket is created',
      );
    }
    // Enforced: were the ZAP handler ever gone, libzmq would otherwise admit any client.
    return { curveServer: true, curveSecretKey: this.secretKey!, zapDomain: d.domain, zapEnforceDomain: true };
  }

  /** Options of a client socket connecting to `endpoint`: this process's key pair and that server's public key. */
  client(endpoint: string): CurveSocketOptions {
    if (!this.enabled) return {};
    const serverKey = this.o.serverKeys?.get(endpoint);
    if (!serverKey) throw new SocketSecurityError(`CURVE is on but no server public key is configured for ${endpoint}`);
    return { curveSecretKey: this.secretKey!, curvePublicKey: this.publicKey!, curveServerKey: serverKey };
  }

  /**
   * Counts and logs (rate-limited) every failed CURVE handshake of `sock`, named `socket`
   * (a server socket's name, or the client side's: 'ga-cliente', 'gc-sub', …). libzmq retries
   * such a connection forever without a word: an actor given a stale GC key, a client without
   * CURVE, a server that refuses our key all looked like a silent hang. Only the refusals the
   * ZAP handler makes were counted before. `endpoint`: what a client socket connects to.
   */
  watch(sock: WatchableSocket, socket: string, endpoint?: string): void {
    if (!this.enabled) return;
    for (const type of HANDSHAKE_FAILURES) {
      sock.events.on(type, (ev) => this.onHandshakeFailed(socket, type.slice('handshake:error:'.length), endpoint ?? ev.address, ev.error));
    }
  }

  /** Failed handshakes so far, per watched socket. */
  handshakeFailures(): Record<string, number> {
    return Object.fromEntries(this.failedBySocket);
  }

  /** Handshakes refused so far, per server socket. */
  refused(): Record<string, number> {
    return Object.fromEntries(this.refusedBySocket);
  }

  async close(): Promise<void> {
    const all = [...this.domains.values()];
    this.domains.clear();
    for (const d of all) await d.release();
  }

  private onHandshakeFailed(socket: string, motivo: string, peer: string | undefined, error: Error | undefined): void {
    const n = (this.failedBySocket.get(socket) ?? 0) + 1;
    this.failedBySocket.set(socket, n);
    this.failedCounter?.inc({ socket, motivo });
    if (logThisOne(n, 10)) {
      this.o.log?.warn(
        { socket, peer, motivo, err: error?.message, failed: n },
        'CURVE handshake failed: the two ends do not share keys (a stale server key or .env on one host? ZMQ_CURVE on at one end only?); libzmq keeps retrying',
      );
    }
  }

  private onRefused(socket: ServerSocket, r: ZapRefusal): void {
    const n = (this.refusedBySocket.get(socket) ?? 0) + 1;
    this.refusedBySocket.set(socket, n);
    this.counter?.inc({ socket });
    if (logThisOne(n, 10)) {
      this.o.log?.warn(
        { socket, address: r.address, mechanism: r.mechanism, clientKey: r.clientKey, reason: r.text, refused: n },
        'CURVE handshake refused: client key not allowed on this socket',
      );
    }
  }
}

/** The CURVE variables of common/config.ts a process may have read (absent = not read). */
export interface CurveConfig {
  ZMQ_CURVE?: 'on' | 'off';
  ZMQ_CURVE_SECRET_KEY?: string;
  GC_CURVE_CLIENTS?: string[];
  GA_CURVE_CLIENTS?: string[];
  GA_CURVE_SERVER_KEYS?: string[];
  GA_ENDPOINTS?: string[];
  GC_CURVE_SERVER_KEYS?: string[];
  GC_PUB_ENDPOINTS?: string[];
  GC_BACKEND_ENDPOINTS?: string[];
  GA_PEER_CURVE_KEY?: string;
  GA_PEER_ENDPOINT?: string;
}

/**
 * A process's SocketSecurity from its validated config (readConfig checked that
 * what CURVE needs is there and that the key lists pair up with the endpoints).
 */
export function socketSecurityFromConfig(cfg: CurveConfig, deps: { log?: Logger; registry?: Registry } = {}): SocketSecurity {
  if (cfg.ZMQ_CURVE !== 'on') return SocketSecurity.off();
  if (!cfg.ZMQ_CURVE_SECRET_KEY) throw new SocketSecurityError('ZMQ_CURVE=on needs ZMQ_CURVE_SECRET_KEY');
  const serverKeys = new Map<string, string>();
  const pair = (endpoints: string[] | undefined, keys: string[] | undefined) => endpoints?.forEach((e, i) => keys?.[i] && serverKeys.set(e, keys[i]!));
  pair(cfg.GA_ENDPOINTS, cfg.GA_CURVE_SERVER_KEYS);
  pair(cfg.GC_PUB_ENDPOINTS, cfg.GC_CURVE_SERVER_KEYS);
  pair(cfg.GC_BACKEND_ENDPOINTS, cfg.GC_CURVE_SERVER_KEYS);
  if (cfg.GA_PEER_ENDPOINT && cfg.GA_PEER_CURVE_KEY) serverKeys.set(cfg.GA_PEER_ENDPOINT, cfg.GA_PEER_CURVE_KEY);
  return new SocketSecurity({
    secretKey: cfg.ZMQ_CURVE_SECRET_KEY,
    clients: {
      ...(cfg.GC_CURVE_CLIENTS ? { 'gc-pub': cfg.GC_CURVE_CLIENTS, 'gc-backend': cfg.GC_CURVE_CLIENTS } : {}),
      ...(cfg.GA_CURVE_CLIENTS ? { ga: cfg.GA_CURVE_CLIENTS } : {}),
      ...(cfg.GA_PEER_CURVE_KEY ? { 'ga-peer': [cfg.GA_PEER_CURVE_KEY] } : {}),
    },
    serverKeys,
    ...deps,
  });
}
