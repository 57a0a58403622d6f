/**
 * The one way GC and actors call the GA.
 *
 * Endpoints are tried starting from the one that last answered a call (the
 * active GA; the configured primary until then), then the others in configured
 * order: after a failover the client sticks to the GA that took over instead of
 * paying a trial of the dead one on users' requests. Each endpoint has a circuit
 * breaker (breaker.ts) and one multiplexed DEALER socket (ga-connection.ts); an
 * open breaker's half-open trial is a background `ping`, never a user's call, so
 * a GA that comes back is noticed (breaker closed, /status) without anyone
 * waiting on it. A call
 * makes at most GA_MAX_ATTEMPTS attempts, all carrying the SAME request (same op
 * id; a fresh `ref` each), so the GA's idempotency makes retries safe. An attempt
 * that times out, fails, finds the breaker open or meets a passive GA
 * (GA_NO_ACTIVO) moves on to the next endpoint; one the active GA answers as busy
 * (`ocupado`: a locked row, a full write queue; nothing applied, and not a failure
 * for its breaker) is tried on that GA again after the backoff; between full rounds over the list
 * the client waits a short, growing backoff so a backup has time to take over.
 * Skipping an endpoint whose breaker is open is not an attempt (nothing is sent),
 * but rounds are capped at GA_MAX_ATTEMPTS too, so a call always ends: worst case
 * ≈ GA_MAX_ATTEMPTS × GA_TIMEOUT_MS plus the backoffs.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Registry } from 'prom-client';
import { BreakerOpenError, EndpointBreaker } from './breaker.js';
import type { StorageClientConfig } from './config.js';
import { StorageRequestError, StorageUnavailableError } from './errors.js';
import { GaAttemptError, GaConnection } from './ga-connection.js';
import type { Logger } from './logger.js';
import { newerFencing } from './protocol/fencing.js';
import type { Arriendo, Fencing, GaCall, GaFailureCode, GaReply, GaRequest, GestorVisto, InformeGc, Pendiente } from './protocol/internal.js';
import { soloOperacion, type OperacionSolicitada, type Resultado } from './protocol/ps-gc.js';
import { StorageClientMetrics, type AttemptOutcome } from './storage-client-metrics.js';
import type { SocketSecurity } from './socket-security.js';

export type BreakerState = 'closed' | 'open' | 'half-open';

export type CallReply = Pick<Extract<GaReply, { exito: true }>, 'resultado' | 'pendientes' | 'gestores' | 'rol'>;

/** One GA endpoint as the GC's and the actors' /status show it (`almacenamiento`): Spanish keys, like all of /status. */
export interface EndpointStatus {
  endpoint: string;
  /** Calls start here: the endpoint that last answered one. */
  preferido: boolean;
  /** The endpoint's breaker: closed, open or half-open. */
  disyuntor: BreakerState;
  fallosSeguidos: number;
  ultimoError?: string;
}

export interface StorageClient {
  /** Sends one GA request with rotation/breakers/retries; resolves with the ok reply, or throws StorageUnavailableError / StorageRequestError. */
  call(req: GaCall, ctx?: { opId?: string }): Promise<CallReply>;
  aplicar(op: OperacionSolicitada): Promise<Resultado>;
  /** With `arriendo`, the GC takes the op's lease when nobody live holds it; `datos.gestor` of an ACEPTADO says who does. */
  registrar(op: OperacionSolicitada, arriendo?: Arriendo): Promise<Resultado>;
  consultar(isbn: string, opId?: string): Promise<Resultado>;
  /** Availability of the one book with this title: OK (datos.isbn names it), LIBRO_NO_EXISTE or TITULO_AMBIGUO. */
  consultarTitulo(titulo: string, opId?: string): Promise<Resultado>;
  estado(id: string): Promise<Resultado>;
  pendientes(limite: number): Promise<Pendiente[]>;
  /** A GC's heartbeat to the ledger (see the GA's reclamar_pendientes): the PENDIENTE rows it holds now, and every GC seen. */
  reclamar(gestor: InformeGc, arriendoMs: number, limite: number): Promise<{ pendientes: Pendiente[]; gestores: GestorVisto[] }>;
  status(): EndpointStatus[];
  /** The fencing token sent with writes: the newest history a write was acknowledged on (fencing.ts). */
  fencing(): Fencing | undefined;
  close(): Promise<void>;
}

/** Waits between full rounds over the endpoint list; the last value repeats. */
// With the default 16 attempts over a GA pair that fails fast (a dead primary, a
// passive backup) the rounds span ~2 s: longer than a backup's takeover (peer
// heartbeat loss, 1 s by default, plus activation), so a call outlives a failover.
const ROUND_BACKOFF_MS = [50, 100, 200, 300, 400, 500];
/** Upper bound on how long a send waits for a connected peer before the attempt fails. */
const MAX_SEND_WAIT_MS = 200;

export function createStorageClient(cfg: StorageClientConfig, log: Logger, registry?: Registry, opts: { security?: SocketSecurity } = {}): StorageClient {
  // Callers bind their own component name on `log` (GC and actors pass log.child({ component: 'storage-client' })).
  return new GaStorageClient(cfg, log, new StorageClientMetrics(registry), opts.security);
}

type OkReply = Extract<GaReply, { exito: true }>;

type AttemptResult =
  | { outcome: 'ok'; reply: OkReply }
  | { outcome: Exclude<AttemptOutcome, 'ok'>; detail: string; incierta?: boolean; codigo?: GaFailureCode };

/** ALMACENAMIENTO_NO_DISPONIBLE travels as a rejection so the breaker counts it. */
class GaUnavailableReply extends Error {
  override name = 'GaUnavailableReply';
  constructor(
    message: string,
    /** The GA's PostgreSQL connection broke mid-write: it may have committed. */
    readonly incierta: boolean,
  ) {
    super(message);
  }
}

interface Endpoint {
  url: string;
  conn: GaConnection;
  breaker: EndpointBreaker;
}

/** What happened on one endpoint during one call, for the final error message. */
class CallJournal {
  private readonly byEndpoint = new Map<string, Map<string, number>>();

  note(endpoint: string, what: string): void {
    let m = this.byEndpoint.get(endpoint);
    if (!m) this.byEndpoint.set(endpoint, (m = new Map()));
    m.set(what, (m.get(what) ?? 0) + 1);
  }

  toString(): string {
    return [...this.byEndpoint]
      .map(([ep, m]) => `${ep}: ${[...m].map(([what, n]) => (n > 1 ? `${what} ×${n}` : what)).join(', ')}`)
      .join('; ');
  }
}

class GaStorageClient implements StorageClient {
  private readonly endpoints: Endpoint[];
  private readonly refPrefix = `${randomBytes(4).toString('hex')}-`;
  private refSeq = 0;
  /** A fresh correlation reference per attempt: a late reply to an old attempt matches nothing. */
  private nextRef(): string {
    return `${this.refPrefix}${(++this.refSeq).toString(36)}`;
  }
  private token: Fencing | undefined;
  /** Index of the endpoint calls start from: the last one that answered ok. */
  private preferred = 0;
  /**
   * Early re-checks of open endpoints (recheckOpen): the last ping, when it started, how long
   * until the next may start, and whether a ping closed the breaker since its endpoint last
   * served a call (if it opens again first, the wait doubles: below).
   */
  private readonly rechecks = new Map<Endpoint, { ping: Promise<void>; at: number; every: number; closedByPing: boolean; inVain: number }>();
  private closed = false;
  private readonly stop = new AbortController();

  constructor(
    private readonly cfg: StorageClientConfig,
    private readonly log: Logger,
    private readonly metrics: StorageClientMetrics,
    security?: SocketSecurity,
  ) {
    const sendTimeoutMs = Math.min(MAX_SEND_WAIT_MS, cfg.GA_TIMEOUT_MS);
    this.endpoints = cfg.GA_ENDPOINTS.map((url) => {
      const conn = new GaConnection(url, { sendTimeoutMs, security }, log);
      const breaker = new EndpointBreaker(url, cfg.GA_BREAKER_FAILURES, cfg.GA_BREAKER_RESET_MS, {
        onStateChange: (state, info) => {
          this.metrics.breakerState(url, state);
          if (state === 'open') {
            log.warn({ endpoint: url, ...info }, 'GA breaker open');
            this.backOffRecheck(url);
            // Lazy Pirate: stop waiting on a socket we believe dead; the half-open trial gets a fresh one.
            conn.recycle('breaker open');
          } else if (state === 'half-open') {
            log.info({ endpoint: url }, 'GA breaker half-open: probing it with a ping');
            // Take the one trial before any user's call can: the breaker admits nothing else meanwhile.
            queueMicrotask(() => void this.probe(url));
          } else {
            log.info({ endpoint: url }, 'GA breaker closed');
          }
        },
      });
      this.metrics.breakerState(url, 'closed');
      return { url, conn, breaker };
    });
    this.metrics.preferred(cfg.GA_ENDPOINTS[0]!, cfg.GA_ENDPOINTS);
  }

  async call(req: GaCall, ctx?: { opId?: string }): Promise<CallReply> {
    if (this.closed) throw new StorageUnavailableError('storage client closed');
    const started = performance.now();
    const opId = ctx?.opId ?? opIdOf(req);
    const journal = new CallJournal();
    const max = this.cfg.GA_MAX_ATTEMPTS;
    let attempts = 0;
    // A write that reached a GA which never answered may have committed (see StorageUnavailableError).
    const isWrite = req.orden === 'aplicar' || req.orden === 'registrar' || req.orden === 'reclamar';
    let maybeApplied = false;
    // Closed under a call: "not applied" only if no attempt of a write may have reached a GA
    // (a caller would retry a 'not applied' under a new key).
    const closedError = (inFlight = false) =>
      new StorageUnavailableError(`storage client closed${isWrite && (maybeApplied || inFlight) ? ' (outcome unknown: a GA got it and never answered)' : ''}`, { outcomeUnknown: isWrite && (maybeApplied || inFlight) });
    // Rounds are bounded too, so a call whose endpoints are all open (no attempt made) still ends.
    for (let round = 0; attempts < max && round < max; round++) {
      if (round > 0 && !(await this.backoff(round))) throw closedError();
      const attemptsBefore = attempts;
      for (const ep of this.order()) {
        if (this.closed) throw closedError();
        if (attempts >= max) break;
        if (!ep.breaker.admits) {
          this.skip(ep, journal, opId);
          continue;
        }
        attempts++;
        const ref = this.nextRef();
        // Each attempt carries the newest token: a concurrent call may have raised it meanwhile.
        const fencing = this.token && isWrite ? { fencing: this.token } : {};
        const r = await this.attempt(ep, { ...req, ref, ...fencing } as GaRequest);
        if (r.outcome === 'breaker_open') {
          // Lost the half-open trial to a concurrent call: a skip, not an attempt.
          attempts--;
          this.skip(ep, journal, opId);
          continue;
        }
        this.metrics.attempt(ep.url, r.outcome);
        if (r.outcome === 'ok') {
          this.metrics.callDone(req.orden, 'ok', (performance.now() - started) / 1000);
          this.noteFencing(r.reply.fencing, ep.url);
          this.prefer(ep);
          this.rechecks.delete(ep); // it serves: re-checks start afresh
          const { resultado, pendientes, gestores, rol } = r.reply;
          return { resultado, pendientes, gestores, rol };
        }
        if (r.outcome === 'rejected') {
          this.metrics.callDone(req.orden, 'rejected', (performance.now() - started) / 1000);
          const detail = `GA ${ep.url} rejected ${req.orden}${opId ? ` ${opId}` : ''}: ${r.detail}`;
          // An internal error now does not undo an earlier attempt that may have committed.
          if (maybeApplied && r.codigo === 'ERROR_INTERNO') throw new StorageUnavailableError(`${detail} (outcome unknown: an earlier attempt reached a GA that never answered)`, { outcomeUnknown: true });
          throw new StorageRequestError(detail);
        }
        // Closed while this attempt was out: it may have reached the GA.
        if (r.outcome === 'closed') throw closedError(true);
        if (isWrite && (r.outcome === 'timeout' || r.outcome === 'transport' || r.incierta)) maybeApplied = true;
        journal.note(ep.url, `${r.outcome} (${r.detail})`);
        this.metrics.rotation(ep.url, r.outcome);
        const busy = r.outcome === 'ocupado';
        const level = r.outcome === 'no_activo' || busy ? 'info' : 'warn';
        this.log[level]({ opId, orden: req.orden, endpoint: ep.url, reason: r.outcome, detail: r.detail, attempt: attempts }, busy ? 'GA busy; trying it again after a backoff' : 'GA attempt failed; rotating to next endpoint');
        // The GA that answered is the active one and only busy: after the backoff, it again.
        if (busy) break;
        await this.recheckOpen(ep);
      }
      // Every breaker open: no attempt fails, so nothing above re-checks, and calls would find
      // nowhere to go until a reset time ends (GA_BREAKER_RESET_MS after the last one opened),
      // however soon a GA can serve again (the drills' storage-host kill: the active GA lost its
      // PostgreSQL, opening its breaker, while the other host's GA is dead; it then takes over
      // with its own standby). Ping them in the background (the call does not wait for the
      // pings: it goes on with its rounds), and a breaker a ping closes is tried in its next round.
      if (attempts === attemptsBefore) void this.recheckOpen();
    }
    this.metrics.attempt('*', 'unavailable');
    this.metrics.callDone(req.orden, 'unavailable', (performance.now() - started) / 1000);
    throw new StorageUnavailableError(
      `GA unavailable for ${req.orden}${opId ? ` ${opId}` : ''} after ${attempts} attempts${maybeApplied ? ' (outcome unknown: a GA got it and never answered)' : ''}: ${journal.toString()}`,
      { outcomeUnknown: maybeApplied },
    );
  }

  async aplicar(op: OperacionSolicitada): Promise<Resultado> {
    return needResultado(await this.call({ orden: 'aplicar', op: soloOperacion(op) }, { opId: op.id }), 'aplicar');
  }

  async registrar(op: OperacionSolicitada, arriendo?: Arriendo): Promise<Resultado> {
    return needResultado(await this.call({ orden: 'registrar', op: soloOperacion(op), ...(arriendo ? { arriendo } : {}) }, { opId: op.id }), 'registrar');
  }

  async consultar(isbn: string, opId?: string): Promise<Resultado> {
    return needResultado(await this.call({ orden: 'consultar', isbn }, { opId }), 'consultar');
  }

  async consultarTitulo(titulo: string, opId?: string): Promise<Resultado> {
    return needResultado(await this.call({ orden: 'consultar_titulo', titulo }, { opId }), 'consultar_titulo');
  }

  async estado(id: string): Promise<Resultado> {
    return needResultado(await this.call({ orden: 'estado', id }, { opId: id }), 'estado');
  }

  async pendientes(limite: number): Promise<Pendiente[]> {
    const r = await this.call({ orden: 'pendientes', limite });
    if (!r.pendientes) throw new StorageRequestError('GA ok reply to pendientes carries no pendientes list');
    return r.pendientes;
  }

  async reclamar(gestor: InformeGc, arriendoMs: number, limite: number): Promise<{ pendientes: Pendiente[]; gestores: GestorVisto[] }> {
    const r = await this.call({ orden: 'reclamar', gestor, arriendoMs, limite });
    if (!r.pendientes || !r.gestores) throw new StorageRequestError('GA ok reply to reclamar carries no pendientes or gestores list');
    return { pendientes: r.pendientes, gestores: r.gestores };
  }

  fencing(): Fencing | undefined {
    return this.token;
  }

  status(): EndpointStatus[] {
    return this.endpoints.map(({ url, breaker }, i) => ({
      endpoint: url,
      preferido: i === this.preferred,
      disyuntor: breaker.state,
      fallosSeguidos: breaker.consecutiveFailures,
      ...(breaker.lastError !== undefined ? { ultimoError: breaker.lastError } : {}),
    }));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stop.abort();
    for (const ep of this.endpoints) {
      ep.conn.close();
      ep.breaker.shutdown();
    }
  }

  private async attempt(ep: Endpoint, req: GaRequest): Promise<AttemptResult> {
    try {
      const reply = await ep.breaker.run(async () => {
        const reply = await ep.conn.request(req, this.cfg.GA_TIMEOUT_MS);
        if (!reply.exito && reply.codigo === 'ALMACENAMIENTO_NO_DISPONIBLE' && !reply.ocupado) throw new GaUnavailableReply(`ALMACENAMIENTO_NO_DISPONIBLE: ${reply.mensaje}`, reply.incierta === true);
        // Anything else is an answer from a live GA, a success as far as the breaker goes:
        // GA_NO_ACTIVO (a passive backup) must not count as a failure.
        return reply;
      });
      if (reply.exito) return { outcome: 'ok', reply };
      if (reply.codigo === 'GA_NO_ACTIVO') return { outcome: 'no_activo', detail: `GA_NO_ACTIVO: ${reply.mensaje}` };
      if (reply.ocupado) return { outcome: 'ocupado', detail: `${reply.codigo}: ${reply.mensaje}` };
      return { outcome: 'rejected', detail: `${reply.codigo}: ${reply.mensaje}`, codigo: reply.codigo };
    } catch (err) {
      // After close() every failure (socket closed, breaker shut down) just means "closed".
      if (this.closed) return { outcome: 'closed', detail: 'storage client closed' };
      if (err instanceof BreakerOpenError) return { outcome: 'breaker_open', detail: 'breaker open' };
      if (err instanceof GaUnavailableReply) return { outcome: 'unavailable', detail: err.message, incierta: err.incierta };
      if (err instanceof GaAttemptError) return { outcome: err.kind, detail: err.message };
      return { outcome: 'transport', detail: err instanceof Error ? err.message : String(err) };
    }
  }

  /** The preferred endpoint, then the others in configured order. */
  private order(): Endpoint[] {
    const p = this.preferred;
    return p === 0 ? this.endpoints : [this.endpoints[p]!, ...this.endpoints.filter((_, i) => i !== p)];
  }

  private prefer(ep: Endpoint): void {
    const i = this.endpoints.indexOf(ep);
    if (i === this.preferred) return;
    this.log.info({ endpoint: ep.url, before: this.endpoints[this.preferred]!.url }, 'GA answered: calls start there from now on');
    this.preferred = i;
    this.metrics.preferred(ep.url, this.endpoints.map((e) => e.url));
  }

  /**
   * An attempt at `tried` found no GA to serve there (passive, silent, or without its
   * PostgreSQL), so the one that can is another endpoint; if its breaker is open, waiting out
   * GA_BREAKER_RESET_MS would leave every call nowhere to go. So ping the other open endpoints
   * now and close the breaker of one that answers. Two cases the drills met: the active GA had a
   * one-second hiccup (three writes without a reply opened its breaker) and the passive one says
   * GA_NO_ACTIVO; and the storage host died under an active GA on the other host, which answered
   * ALMACENAMIENTO_NO_DISPONIBLE until it stepped down (opening its breaker) and can take over
   * only once a request reaches it, while the dead host's GA times out. Without `tried` (every
   * breaker open), every open endpoint is pinged. One ping per endpoint at a time, at most one per
   * GA_TIMEOUT_MS, so a GA that is really dead costs little. A ping says only that a GA is alive,
   * not that it can serve (a GA without its PostgreSQL answers it too, and a passive GA must get
   * requests to take over): when a breaker a ping closed opens again before its endpoint served
   * a call, a second time in a row, that endpoint's next re-check waits twice as long, and so on
   * up to GA_BREAKER_RESET_MS, so a GA that answers pings and fails everything else is soon
   * re-tried no more often than its breaker's reset time would.
   */
  private async recheckOpen(tried?: Endpoint): Promise<void> {
    const now = performance.now();
    const pings: Promise<void>[] = [];
    for (const ep of this.endpoints) {
      if (ep === tried || ep.breaker.state !== 'open') continue;
      let r = this.rechecks.get(ep);
      if (!r) this.rechecks.set(ep, (r = { ping: Promise.resolve(), at: -Infinity, every: this.cfg.GA_TIMEOUT_MS, closedByPing: false, inVain: 0 }));
      // A ping ends within GA_TIMEOUT_MS: a younger one is still running (or just answered), so join it.
      if (now - r.at >= r.every) {
        r.ping = this.pingOpen(ep);
        r.at = now;
      }
      pings.push(r.ping);
    }
    await Promise.all(pings);
  }

  private async pingOpen(ep: Endpoint): Promise<void> {
    try {
      const reply = await ep.conn.request({ ref: this.nextRef(), orden: 'ping' }, this.cfg.GA_TIMEOUT_MS);
      if (!reply.exito || this.closed || ep.breaker.state !== 'open') return;
      this.log.info({ endpoint: ep.url }, 'GA answered a ping while no other GA serves: breaker closed before its reset time');
      const r = this.rechecks.get(ep);
      if (r) r.closedByPing = true;
      ep.breaker.closeNow();
    } catch {
      // Still silent: the breaker stays open until its reset time or the next re-check.
    }
  }

  /**
   * A breaker opened: if a ping had closed it and its endpoint served nothing since, that was in
   * vain. The first time is let pass (a GA that lost its PostgreSQL refuses calls for about a
   * second before it steps down or takes over with its own standby, and the next re-check should
   * find it serving); from the second on, each doubles the wait before the next re-check.
   */
  private backOffRecheck(url: string): void {
    const ep = this.endpoints.find((e) => e.url === url);
    const r = ep && this.rechecks.get(ep);
    if (!r?.closedByPing) return;
    r.closedByPing = false;
    if (++r.inVain >= 2) r.every = Math.min(r.every * 2, Math.max(this.cfg.GA_TIMEOUT_MS, this.cfg.GA_BREAKER_RESET_MS));
  }

  /** The half-open trial of an open endpoint: a ping, so no user's request waits on a GA that may still be dead. */
  private async probe(url: string): Promise<void> {
    const ep = this.endpoints.find((e) => e.url === url);
    if (!ep || this.closed || !ep.breaker.admits) return;
    const r = await this.attempt(ep, { ref: this.nextRef(), orden: 'ping' });
    if (r.outcome === 'breaker_open' || r.outcome === 'closed') return;
    this.metrics.attempt(ep.url, r.outcome);
    // Success closes the breaker, failure re-opens it: opossum's own transitions; the next half-open probes again.
    this.log.debug({ endpoint: url, outcome: r.outcome }, 'GA probe done');
  }

  private noteFencing(seen: Fencing | undefined, endpoint: string): void {
    const next = newerFencing(this.token, seen);
    if (next === this.token) return;
    // Once per new history (start, failover): from now on older timelines refuse our writes.
    this.log.info({ endpoint, sistema: next?.sistema, timeline: next?.timeline, before: this.token?.timeline }, 'GA writes fenced at a new PostgreSQL history');
    this.token = next;
  }

  private skip(ep: Endpoint, journal: CallJournal, opId: string | undefined): void {
    journal.note(ep.url, 'breaker open');
    this.metrics.attempt(ep.url, 'breaker_open');
    this.metrics.rotation(ep.url, 'breaker_open');
    // Every call skips an open endpoint: logging each skip would flood; the open itself is logged.
    this.log.debug({ opId, endpoint: ep.url }, 'GA breaker open; skipping endpoint');
  }

  /** False when the client was closed meanwhile. */
  private async backoff(round: number): Promise<boolean> {
    const ms = ROUND_BACKOFF_MS[Math.min(round - 1, ROUND_BACKOFF_MS.length - 1)]!;
    try {
      await sleep(ms, undefined, { signal: this.stop.signal });
      return true;
    } catch {
      return false;
    }
  }
}

function opIdOf(req: GaCall): string | undefined {
  if ('op' in req) return req.op.id;
  if ('id' in req) return req.id;
  return undefined;
}

function needResultado(r: { resultado?: Resultado }, orden: string): Resultado {
  if (!r.resultado) throw new StorageRequestError(`GA ok reply to ${orden} carries no resultado`);
  return r.resultado;
}
