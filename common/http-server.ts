/**
 * The observability port every process opens: /health, /metrics (Prometheus),
 * /metrics.json (the same, as prom-client's JSON: the live panel reads it without
 * a text-format parser), /status (process-specific JSON) and any extra JSON
 * routes (GC: /errors/stats).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { logThisOne, type Logger } from './logger.js';

/**
 * What one HTTP port may cost its process. Node's defaults hold any number of connections
 * and wait 60 s for headers (checked every 30 s): 20,000 sockets sending headers slowly
 * took every file descriptor of a GC, and its ZeroMQ ports stopped answering with them.
 */
export interface HttpLimits {
  /** Open connections; one more is closed at once (and logged), far below any fd limit. */
  maxConnections: number;
  /** A request's headers must have arrived by then (408 and closed otherwise). */
  headersTimeoutMs: number;
  /** The whole request (headers and body) must have arrived by then; the answer may take longer. */
  requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this long. */
  keepAliveTimeoutMs: number;
}

export const HTTP_LIMITS: HttpLimits = { maxConnections: 512, headersTimeoutMs: 10_000, requestTimeoutMs: 15_000, keepAliveTimeoutMs: 5_000 };

/**
 * An http.Server under `limits` (every process's port: this module's, and the panel's).
 * The timeouts are checked every second at most, not Node's 30 s, so they hold as set.
 */
export function boundedServer(handler: http.RequestListener, log: Logger, limits: HttpLimits = HTTP_LIMITS): http.Server {
  const server = http.createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(limits.headersTimeoutMs / 4))),
    },
    handler,
  );
  server.maxConnections = limits.maxConnections;
  let dropped = 0;
  server.on('drop', () => {
    if (logThisOne(++dropped, 20)) log.warn({ dropped, maxConnections: limits.maxConnections }, 'HTTP connection refused: too many open');
  });
  return server;
}

export interface HttpServerOptions {
  host: string;
  port: number; // 0 = any free port
  registry: Registry;
  status: () => unknown | Promise<unknown>;
  /** Healthy unless this returns false (e.g. GA without PostgreSQL). */
  healthy?: () => boolean;
  routes?: Record<string, () => unknown | Promise<unknown>>;
  /**
   * Offered every request first (GC: the HTTP gateway, gestor_carga/http-gateway.ts); returns
   * true when it took it, and then answers it itself.
   */
  api?: (req: http.IncomingMessage, res: http.ServerResponse, path: string) => boolean;
  /** The api's routes, as a 404 lists them beside the fixed ones ("POST /operaciones"). */
  apiRoutes?: readonly string[];
  /** Default HTTP_LIMITS; tests shorten them. */
  limits?: HttpLimits;
  log: Logger;
}

export interface HttpServer {
  port: number;
  close(): Promise<void>;
}

export function newRegistry(proc: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ proc });
  collectDefaultMetrics({ register: registry });
  return registry;
}

export async function startHttpServer(o: HttpServerOptions): Promise<HttpServer> {
  const json = (res: http.ServerResponse, code: number, body: unknown) => {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const server = boundedServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    try {
      if (o.api?.(req, res, path)) return;
    } catch (err) {
      o.log.error({ err, path }, 'http api handler failed');
      if (!res.headersSent) json(res, 500, { error: String(err) });
      return;
    }
    void (async () => {
      try {
        if (path === '/health') {
          const sano = o.healthy ? o.healthy() : true;
          return json(res, sano ? 200 : 503, { sano });
        }
        if (path === '/metrics') {
          res.writeHead(200, { 'content-type': o.registry.contentType });
          return res.end(await o.registry.metrics());
        }
        if (path === '/metrics.json') {
          // ?nombre=<metric>: that one only, so a poller need not collect the whole registry (default metrics read /proc).
          const nombre = new URLSearchParams((req.url ?? '').split('?')[1] ?? '').get('nombre');
          if (nombre === null) return json(res, 200, await o.registry.getMetricsAsJSON());
          const metric = o.registry.getSingleMetric(nombre);
          return json(res, 200, metric ? [await metric.get()] : []);
        }
        if (path === '/status') return json(res, 200, await o.status());
        const route = o.routes?.[path];
        if (route) return json(res, 200, await route());
        // In Spanish like every /status and the panel's own 404.
        json(res, 404, { error: 'no existe', ruta: path, rutas: ['/health', '/metrics', '/metrics.json', '/status', ...Object.keys(o.routes ?? {}), ...(o.apiRoutes ?? [])] });
      } catch (err) {
        o.log.error({ err, path }, 'http handler failed');
        if (!res.headersSent) json(res, 500, { error: String(err) });
      }
    })();
  }, o.log, o.limits);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => resolve());
  });
  server.on('error', (err) => o.log.error({ err }, 'http server error'));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
