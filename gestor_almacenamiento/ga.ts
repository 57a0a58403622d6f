/**
 * The GA process core: PostgreSQL pool + migrations, a ZeroMQ ROUTER serving
 * GA requests with many in flight, and the observability HTTP port.
 * Startable in-process (tests) and by main.ts.
 *
 * Two modes. Standalone (GA_PEER_ENDPOINT unset): always active, migrates at
 * start. Pair member (GA_PEER_ENDPOINT set): a RoleController decides whether
 * this GA serves (role/machine.ts); migrations run only when it becomes active,
 * on the node it chose, never on a standby.
 */
import { performance } from 'node:perf_hooks';
import { Router } from 'zeromq';
import type pg from 'pg';
import type { Registry } from 'prom-client';
import type { GaConfig, ReplicationConfig } from '../common/config.js';
import { splitEnvelope } from '../common/envelope.js';
import { startHttpServer, newRegistry, type HttpServer } from '../common/http-server.js';
import type { GaReply } from '../common/protocol/internal.js';
import type { Logger } from '../common/logger.js';
import { MAX_TRANSPORT_BYTES } from '../common/protocol/ps-gc.js';
import { isConnectionError } from './db.js';
import { parseGaRequests, type ParsedRequest } from '../common/protocol/ga-request.js';
import { dispatch, opIdOf, type DispatchDeps, type RoleGate } from './dispatch.js';
import { createBatchMetric, createGaMetrics, createRoleMetrics } from './metrics.js';
import { createPgMetrics } from './replication/pg-metrics.js';
import { migrate } from './migrate.js';
import { describePgNode, pgNodeView, statusSessions, type NodoPgVista } from './replication/pg-status.js';
import { ReplicationMode, type EstadoReplicacion } from './replication/mode.js';
import { RoleController } from './role/controller.js';
import { SendQueue } from '../common/send-queue.js';
import { SocketSecurity } from '../common/socket-security.js';
import { StorageTarget } from './storage-target.js';
import type { PgControl } from './role/takeover.js';

/** Longest the idle probe's SELECT 1 may go unanswered before PostgreSQL counts as unreachable. */
export const PROBE_DEADLINE_MS = 5000;

export interface GaOptions {
  registry?: Registry;
  /** Reported by ping and /status (default: GA_ROL). */
  rol?: () => string;
  /** Runs before dispatch; see RoleGate. Overrides the pair's role gate. */
  gate?: RoleGate;
  /** Apply migrations (default true): at start when standalone, at activation in a pair. */
  migrate?: boolean;
  /** PostgreSQL admin calls of a pair member (default postgres/admin.ts); tests may fake them. */
  pgControl?: PgControl;
  /** Keep retrying an unreachable PostgreSQL at start for this long (default 30 s). */
  startupTimeoutMs?: number;
  /** Period of the background `SELECT 1` that keeps /health honest when idle (default 2000; 0 = off). */
  healthProbeMs?: number;
  connectionTimeoutMillis?: number;
  /** CURVE on the GA socket and the peer link (default off). Owned by the caller, started before. */
  security?: SocketSecurity;
}

/** A pair member's role (RoleController.status), or a standalone GA's fixed one. */
export type GaPapel = Awaited<ReturnType<RoleController['status']>> | { rol: string; estado: 'ACTIVE'; activo: true; modo: 'standalone' };

/**
 * GET /status of a GA (scripts/launcher/status.ts, the launcher and the panel read it).
 * Spanish keys throughout, like every wire and status object; `rol` is the configured
 * primary/backup, `papel` what the role machine says it plays now.
 */
export interface GaStatus {
  proceso: 'ga';
  rol: string;
  endpoint: string;
  papel: GaPapel;
  postgres: { host: string; puerto: number; baseDatos: string; disponible: boolean; ultimoError?: string } & NodoPgVista;
  /** The pool of PostgreSQL connections (pg.Pool). */
  conexiones: { maximo: number; total: number; libres: number; esperando: number };
  replicacion: EstadoReplicacion;
  /** Request frames being handled now. */
  enCurso: number;
  /** Replies waiting for the socket. */
  colaEnvio: number;
  /** Requests handled since start, by `orden` and by reply code. */
  solicitudes: { porOrden: Record<string, number>; porCodigo: Record<string, number> };
}

export interface GaHandle {
  /** The bound ZeroMQ endpoint (as reported by the socket). */
  endpoint: string;
  httpPort: number;
  /** The pool of the PostgreSQL node in use now (a takeover may switch it). */
  readonly pool: pg.Pool;
  /** Present in a pair (GA_PEER_ENDPOINT set). */
  role?: RoleController;
  /** Graceful: new requests get GA_NO_ACTIVO, running ones finish, then everything closes. */
  close(): Promise<void>;
  /** Like a crash (for tests and drills): heartbeats and sockets stop at once, nothing drains. */
  abort(): Promise<void>;
}

async function migrateWhenReachable(pool: pg.Pool, log: Logger, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (let delay = 200; ; delay = Math.min(delay * 2, 2000)) {
    try {
      await migrate(pool, log);
      return;
    } catch (err) {
      if (!isConnectionError(err) || Date.now() + delay > until) throw err;
      log.warn({ err: (err as Error).message, retryInMs: delay }, 'PostgreSQL not reachable yet; retrying');
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

/** GA settings; the replication ones (GA_REPLICACION, …) are optional: async when absent. */
export async function startGa(cfg: GaConfig & Partial<ReplicationConfig>, log: Logger, opts: GaOptions = {}): Promise<GaHandle> {
  const registry = opts.registry ?? newRegistry('ga');
  const target = new StorageTarget(
    { host: cfg.PGHOST, port: cfg.PGPORT, user: cfg.PGUSER, password: cfg.PGPASSWORD, database: cfg.PGDATABASE },
    { max: cfg.GA_POOL_SIZE, connectionTimeoutMillis: opts.connectionTimeoutMillis },
    log,
    { onBatch: createBatchMetric(registry) },
  );
  const cleanup: (() => Promise<unknown>)[] = [() => target.close()];
  const undo = async () => {
    for (const f of cleanup.reverse()) await f().catch(() => undefined);
  };
  const peerEndpoint = cfg.GA_PEER_ENDPOINT;
  const security = opts.security ?? SocketSecurity.off();
  let role: RoleController | undefined;
  const rol = opts.rol ?? (() => cfg.GA_ROL);
  const replication = new ReplicationMode(cfg, log, () => role?.syncDegradeHold(), peerEndpoint === undefined || cfg.PG_PEER_HOST === undefined ? undefined : { host: cfg.PGHOST, port: cfg.PGPORT });
  cleanup.push(() => replication.close());

  try {
    if (peerEndpoint === undefined) {
      if (opts.migrate ?? true) await migrateWhenReachable(target.pool, log, opts.startupTimeoutMs ?? 30_000);
      replication.follow(true, target.node);
    } else {
      const roleMetrics = createRoleMetrics(registry, () => role?.peerAgeMs() ?? null);
      role = await RoleController.start({ cfg: { ...cfg, GA_PEER_ENDPOINT: peerEndpoint }, log, target, metrics: roleMetrics, migrate: opts.migrate ?? true, pgc: opts.pgControl, security, onActive: (active) => replication.follow(active, target.node) });
      const r = role;
      cleanup.push(() => r.close());
    }
    const gate: RoleGate | undefined = opts.gate ?? (role ? (req) => role!.gate(req) : undefined);

    // ---- storage health, fed by every call and by the idle probe
    let dbOk = true;
    let lastDbError: string | undefined;
    const onStorage = (ok: boolean, err?: unknown) => {
      if (!ok) lastDbError = err instanceof Error ? err.message : String(err);
      if (ok && !dbOk) log.info('PostgreSQL reachable again');
      if (!ok && dbOk) log.warn({ err: lastDbError }, 'PostgreSQL unreachable');
      dbOk = ok;
      role?.storage(ok);
    };
    let probing = false;
    const probeMs = opts.healthProbeMs ?? 2000;
    // A PostgreSQL that stopped answering without closing the connection (frozen, link cut
    // without a reset) never fails the probe: past this it counts as unreachable (/health 503).
    const probeDeadlineMs = Math.max(PROBE_DEADLINE_MS, 2 * probeMs);
    const probe =
      probeMs > 0
        ? setInterval(() => {
            if (probing) return;
            probing = true;
            const late = setTimeout(() => onStorage(false, new Error(`PostgreSQL did not answer SELECT 1 within ${probeDeadlineMs} ms`)), probeDeadlineMs);
            target.pool
              .query('SELECT 1')
              .then(() => onStorage(true), (err: unknown) => onStorage(!isConnectionError(err), err))
              .finally(() => {
                clearTimeout(late);
                probing = false;
              });
          }, probeMs).unref()
        : undefined;
    cleanup.push(async () => clearInterval(probe));

    // ---- counters for /status and metrics
    let inFlight = 0;
    const porOrden: Record<string, number> = {};
    const porCodigo: Record<string, number> = {};
    const metrics = createGaMetrics(registry, () => target.pool, { inFlight: () => inFlight, dbOk: () => dbOk });

    // ---- transport
    const router = new Router({
      maxMessageSize: MAX_TRANSPORT_BYTES,
      sendHighWaterMark: 100_000,
      receiveHighWaterMark: 100_000,
      linger: 500,
      ...security.server('ga'),
    });
    security.watch(router, 'ga');
    let closing = false;
    let loop: Promise<void> | undefined;
    cleanup.push(async () => {
      closing = true;
      router.close();
      await loop; // ends once the closed socket's pending receive returns
    });
    await router.bind(cfg.GA_BIND);
    const endpoint = router.lastEndpoint ?? cfg.GA_BIND;
    // Coalescing: replies done in one turn for one client leave as one message (handle()).
    const sends = new SendQueue(router, log, 'router', { coalesce: true });

    // Built once: everything it reaches is read through closures (the target switches at a takeover).
    const dispatchDeps: DispatchDeps = {
      store: () => target.store,
      rol,
      gate,
      onStorage,
      onAdmitted: (c) => metrics.admitted.inc({ cmd: c }),
      fencing: role ? () => role!.machine.fencing() : undefined,
      log,
    };
    const handleOne = async (parsed: ParsedRequest, t0: number): Promise<string> => {
      let reply: GaReply;
      const orden = parsed.ok ? parsed.req.orden : 'invalida';
      if (closing) {
        // Shutting down: send the client to the next GA at once instead of starting new work.
        reply = { ref: parsed.ok ? parsed.req.ref : parsed.ref, exito: false, codigo: 'GA_NO_ACTIVO', mensaje: 'El gestor de almacenamiento se está cerrando' };
      } else if (!parsed.ok) {
        reply = { ref: parsed.ref, exito: false, codigo: 'SOLICITUD_INVALIDA', mensaje: parsed.mensaje };
        log.debug({ ref: parsed.ref, mensaje: parsed.mensaje }, 'invalid GA request');
      } else {
        reply = await dispatch(parsed.req, dispatchDeps);
      }
      const codigo = reply.exito ? (reply.resultado?.codigo ?? 'OK') : reply.codigo;
      const seconds = (performance.now() - t0) / 1000;
      metrics.requests.inc({ cmd: orden, codigo });
      metrics.latency.observe({ cmd: orden }, seconds);
      porOrden[orden] = (porOrden[orden] ?? 0) + 1;
      porCodigo[codigo] = (porCodigo[codigo] ?? 0) + 1;
      if (log.isLevelEnabled('debug')) {
        log.debug({ opId: parsed.ok ? opIdOf(parsed.req) : undefined, ref: reply.ref, orden, codigo, ms: Math.round(seconds * 1e4) / 10 }, 'GA request');
      }
      return JSON.stringify(reply);
    };
    /**
     * A frame holds one request or a batch. Every request runs on its own (a batch's writes
     * start in one turn, so they share a group commit) and its reply leaves as soon as it is
     * done: replies done in the same turn for the same client still go as one message (the
     * queue coalesces), but a batch is no longer held back by its slowest item. Held back,
     * one write waiting for a locked book kept the committed writes beside it unanswered past
     * the client's attempt: counted as "no answer" (outcome unknown), breaking its breaker.
     */
    const handle = async (frames: Buffer[]): Promise<void> => {
      const t0 = performance.now();
      const { envelope, body } = splitEnvelope(frames);
      await Promise.all(parseGaRequests(body).map((p) => handleOne(p, t0).then((r) => sends.send([...envelope, r]))));
    };

    // ONE receive loop; each request runs on its own so many share the pool at once.
    loop = (async () => {
      try {
        for await (const frames of router) {
          inFlight++;
          handle(frames)
            .catch((err: unknown) => log.error({ err }, 'GA request handler failed'))
            .finally(() => inFlight--);
        }
      } catch (err) {
        if (!closing) log.error({ err }, 'GA receive loop stopped');
      }
    })();

    // ---- observability
    const pgStatus = statusSessions(); // target and peer node; closed after the HTTP server (cleanup runs in reverse)
    cleanup.push(() => pgStatus.close());
    const peerPg = cfg.PG_PEER_HOST ? { host: cfg.PG_PEER_HOST, port: cfg.PG_PEER_PORT, user: cfg.PGUSER, password: cfg.PGPASSWORD, database: cfg.PGDATABASE } : undefined;
    // /status and /metrics both read the node: a read already running is joined, not repeated.
    let describing: ReturnType<typeof describePgNode> | undefined;
    const describeNode = () =>
      (describing ??= describePgNode(pgStatus.of(target.node), peerPg && !target.is(peerPg) ? pgStatus.of(peerPg) : undefined).finally(() => (describing = undefined)));
    createPgMetrics(registry, describeNode, () => replication.state().mode === 'sync');
    const http: HttpServer = await startHttpServer({
      host: cfg.HTTP_HOST,
      port: cfg.GA_HTTP_PORT,
      registry,
      log,
      healthy: () => dbOk,
      status: async (): Promise<GaStatus> => {
        const [pgNode, roleStatus] = await Promise.all([
          describeNode(),
          role ? role.status() : Promise.resolve({ rol: cfg.GA_ROL, estado: 'ACTIVE' as const, activo: true as const, modo: 'standalone' as const }),
        ]);
        const pool = target.pool;
        return {
          proceso: 'ga',
          rol: rol(),
          endpoint,
          papel: roleStatus,
          postgres: { host: target.node.host, puerto: target.node.port, baseDatos: cfg.PGDATABASE, disponible: dbOk, ultimoError: lastDbError, ...pgNodeView(pgNode) },
          conexiones: { maximo: cfg.GA_POOL_SIZE, total: pool.totalCount, libres: pool.idleCount, esperando: pool.waitingCount },
          replicacion: replication.view(),
          enCurso: inFlight,
          colaEnvio: sends.depth,
          solicitudes: { porOrden, porCodigo },
        };
      },
    });
    cleanup.push(() => http.close());
    log.info({ endpoint, httpPort: http.port, pg: `${cfg.PGHOST}:${cfg.PGPORT}/${cfg.PGDATABASE}`, poolSize: cfg.GA_POOL_SIZE, pair: peerEndpoint !== undefined, rol: cfg.GA_ROL }, 'GA ready');

    let closed: Promise<void> | undefined;
    const close = () =>
      (closed ??= (async () => {
        closing = true;
        // Stop heartbeats first: the peer's timeout starts now, not after the drain.
        await role?.close();
        // Let requests already received finish and their replies go out before the socket closes.
        const until = Date.now() + 5000;
        while (inFlight > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
        await sends.drain();
        await undo();
        log.info('GA closed');
      })());
    const abort = () =>
      (closed ??= (async () => {
        closing = true;
        await undo();
        log.warn('GA aborted');
      })());
    return {
      endpoint,
      httpPort: http.port,
      get pool() {
        return target.pool;
      },
      role,
      close,
      abort,
    };
  } catch (err) {
    await undo();
    throw err;
  }
}
