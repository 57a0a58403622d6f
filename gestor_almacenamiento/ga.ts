/**
 * The GA process core: PostgreSQL pool + migrations, a ZeroMQ ROUTER serving
 * GA requests with many in flight, and the observability HTTP port.
 * Startable in-process (tests) and by main.ts.
 */
import { performance } from 'node:perf_hooks';
import { Router } from 'zeromq';
import type pg from 'pg';
import type { Registry } from 'prom-client';
import type { GaConfig } from '../common/config.js';
import { splitEnvelope } from '../common/envelope.js';
import { startHttpServer, newRegistry, type HttpServer } from '../common/http-server.js';
import type { GaReply } from '../common/internal-protocol.js';
import type { Logger } from '../common/logger.js';
import { MAX_TRANSPORT_BYTES } from '../common/protocol.js';
import { createPool, isConnectionError } from './db.js';
import { dispatch, opIdOf, parseGaRequest, type RoleGate } from './dispatch.js';
import { createGaMetrics } from './metrics.js';
import { migrate } from './migrate.js';
import { SendQueue } from './send-queue.js';
import { createStore } from './store.js';

export interface GaOptions {
  registry?: Registry;
  /** Reported by ping and /status. The primary/backup state machine will supply it. */
  rol?: () => string;
  /** Runs before dispatch; see RoleGate. */
  gate?: RoleGate;
  /** Apply migrations at start (default true). */
  migrate?: boolean;
  /** Keep retrying an unreachable PostgreSQL at start for this long (default 30 s). */
  startupTimeoutMs?: number;
  /** Period of the background `SELECT 1` that keeps /health honest when idle (default 2000; 0 = off). */
  healthProbeMs?: number;
  connectionTimeoutMillis?: number;
}

export interface GaHandle {
  /** The bound ZeroMQ endpoint (as reported by the socket). */
  endpoint: string;
  httpPort: number;
  pool: pg.Pool;
  close(): Promise<void>;
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

export async function startGa(cfg: GaConfig, log: Logger, opts: GaOptions = {}): Promise<GaHandle> {
  const rol = opts.rol ?? (() => 'primary');
  const pool = createPool(
    { host: cfg.PGHOST, port: cfg.PGPORT, user: cfg.PGUSER, password: cfg.PGPASSWORD, database: cfg.PGDATABASE },
    { max: cfg.GA_POOL_SIZE, connectionTimeoutMillis: opts.connectionTimeoutMillis },
    log,
  );
  const cleanup: (() => Promise<unknown>)[] = [() => pool.end()];
  const undo = async () => {
    for (const f of cleanup.reverse()) await f().catch(() => undefined);
  };

  try {
    if (opts.migrate ?? true) await migrateWhenReachable(pool, log, opts.startupTimeoutMs ?? 30_000);
    const store = createStore(pool);

    // ---- storage health, fed by every call and by the idle probe
    let dbOk = true;
    let lastDbError: string | undefined;
    const onStorage = (ok: boolean, err?: unknown) => {
      if (!ok) lastDbError = err instanceof Error ? err.message : String(err);
      if (ok && !dbOk) log.info('PostgreSQL reachable again');
      if (!ok && dbOk) log.warn({ err: lastDbError }, 'PostgreSQL unreachable');
      dbOk = ok;
    };
    let probing = false;
    const probeMs = opts.healthProbeMs ?? 2000;
    const probe =
      probeMs > 0
        ? setInterval(() => {
            if (probing) return;
            probing = true;
            pool
              .query('SELECT 1')
              .then(() => onStorage(true), (err: unknown) => onStorage(!isConnectionError(err), err))
              .finally(() => (probing = false));
          }, probeMs).unref()
        : undefined;
    cleanup.push(async () => clearInterval(probe));

    // ---- counters for /status and metrics
    let inFlight = 0;
    const byCmd: Record<string, number> = {};
    const byCodigo: Record<string, number> = {};
    const registry = opts.registry ?? newRegistry('ga');
    const metrics = createGaMetrics(registry, pool, { inFlight: () => inFlight, dbOk: () => dbOk });

    // ---- transport
    const router = new Router({
      maxMessageSize: MAX_TRANSPORT_BYTES,
      sendHighWaterMark: 100_000,
      receiveHighWaterMark: 100_000,
      linger: 500,
    });
    let closing = false;
    let loop: Promise<void> | undefined;
    cleanup.push(async () => {
      closing = true;
      router.close();
      await loop; // ends once the closed socket's pending receive returns
    });
    await router.bind(cfg.GA_BIND);
    const endpoint = router.lastEndpoint ?? cfg.GA_BIND;
    const sends = new SendQueue(router, log);

    const handle = async (frames: Buffer[]): Promise<void> => {
      const t0 = performance.now();
      const { envelope, body } = splitEnvelope(frames);
      const parsed = parseGaRequest(body);
      let reply: GaReply;
      const cmd = parsed.ok ? parsed.req.cmd : 'invalida';
      if (closing) {
        // Shutting down: send the client to the next GA at once instead of starting new work.
        reply = { rid: parsed.ok ? parsed.req.rid : parsed.rid, ok: false, codigo: 'GA_NO_ACTIVO', mensaje: 'El gestor de almacenamiento se está cerrando' };
      } else if (!parsed.ok) {
        reply = { rid: parsed.rid, ok: false, codigo: 'SOLICITUD_INVALIDA', mensaje: parsed.mensaje };
        log.debug({ rid: parsed.rid, mensaje: parsed.mensaje }, 'invalid GA request');
      } else {
        reply = await dispatch(parsed.req, { store, rol, gate: opts.gate, onStorage, log });
      }
      sends.push([...envelope, Buffer.from(JSON.stringify(reply))]);
      const codigo = reply.ok ? (reply.resultado?.codigo ?? 'OK') : reply.codigo;
      const seconds = (performance.now() - t0) / 1000;
      metrics.requests.inc({ cmd, codigo });
      metrics.latency.observe({ cmd }, seconds);
      byCmd[cmd] = (byCmd[cmd] ?? 0) + 1;
      byCodigo[codigo] = (byCodigo[codigo] ?? 0) + 1;
      if (log.isLevelEnabled('debug')) {
        log.debug({ opId: parsed.ok ? opIdOf(parsed.req) : undefined, rid: reply.rid, cmd, codigo, ms: Math.round(seconds * 1e4) / 10 }, 'GA request');
      }
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
    const http: HttpServer = await startHttpServer({
      host: cfg.HTTP_HOST,
      port: cfg.GA_HTTP_PORT,
      registry,
      log,
      healthy: () => dbOk,
      status: () => ({
        proc: 'ga',
        rol: rol(),
        endpoint,
        postgres: { host: cfg.PGHOST, port: cfg.PGPORT, database: cfg.PGDATABASE, ok: dbOk, lastError: lastDbError },
        pool: { max: cfg.GA_POOL_SIZE, total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount },
        inFlight,
        sendQueue: sends.length,
        ops: { byCmd, byCodigo },
      }),
    });
    cleanup.push(() => http.close());
    log.info({ endpoint, httpPort: http.port, pg: `${cfg.PGHOST}:${cfg.PGPORT}/${cfg.PGDATABASE}`, poolSize: cfg.GA_POOL_SIZE }, 'GA ready');

    let closed: Promise<void> | undefined;
    const close = () =>
      (closed ??= (async () => {
        closing = true;
        // Let requests already received finish and their replies go out before the socket closes.
        const until = Date.now() + 5000;
        while (inFlight > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
        await sends.drain();
        await undo();
        log.info('GA closed');
      })());
    return { endpoint, httpPort: http.port, pool, close };
  } catch (err) {
    await undo();
    throw err;
  }
}
