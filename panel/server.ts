/**
 * The panel's HTTP port: the page (web/panel.html), its scripts and the chart
 * library (from node_modules, never a CDN), the state as JSON (/api/estado) and
 * as a Server-Sent Events stream (/api/eventos: the whole history at connection,
 * then one update per poll). Only GET/HEAD of these paths; anything else is a
 * 404/405 JSON answer, never a crash.
 */
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { isWebAsset, webAsset } from '../informes/assets.js';
import type { Logger } from '../common/logger.js';
import { boundedServer } from '../common/http-server.js';
import type { PanelCollector } from './collector.js';
import type { Target } from './targets.js';

/** The panel's port unless told otherwise (npm start's panel; GC 9555, GA 9570, actors 958x). */
export const DEFAULT_PANEL_PORT = 9500;

export interface PanelServer {
  port: number;
  url: string;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = { js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8', html: 'text/html; charset=utf-8' };
/** The page's own files; the page reads nothing else from the disk. */
const STATIC = new Set(['uplot.js', 'uplot.css', 'graficos.js', 'panel.js', 'estilo.css']);
/** Comment lines keep idle SSE connections from being cut by proxies. */
const SSE_KEEPALIVE_MS = 15_000;
/** Unsent SSE bytes past which a page counts as not reading (a few snapshots' worth). */
const MAX_SSE_BACKLOG_BYTES = 4 * 1024 * 1024;

export async function startPanelServer(o: { host: string; port: number; collector: PanelCollector; targets: Target[]; log: Logger }): Promise<PanelServer> {
  const clients = new Set<http.ServerResponse>();
  const json = (res: http.ServerResponse, code: number, body: unknown) => {
    res.writeHead(code, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
    res.end(JSON.stringify(body));
  };
  const send = (res: http.ServerResponse, event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  const unsubscribe = o.collector.onUpdate((u) => {
    if (clients.size === 0) return;
    // Serialised once for every open page.
    const message = `event: actualizacion\ndata: ${JSON.stringify(u)}\n\n`;
    for (const res of clients) {
      // A page that stopped reading (suspended, stalled link) must not make the panel buffer
      // one snapshot per second without end: cut it off; its EventSource reconnects and gets the history.
      if (res.writableLength > MAX_SSE_BACKLOG_BYTES) {
        o.log.warn({ backlog: res.writableLength }, 'SSE client not reading; disconnected');
        clients.delete(res);
        res.destroy();
        continue;
      }
      res.write(message);
    }
  });

  // The same connection and header limits as every process's port (common/http-server.ts).
  const server = boundedServer((req, res) => {
    try {
      let path: string;
      try {
        path = new URL(req.url ?? '/', 'http://panel').pathname;
      } catch {
        return json(res, 400, { error: 'URL no válida' });
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.setHeader('allow', 'GET, HEAD');
        return json(res, 405, { error: `método ${req.method} no permitido` });
      }
      if (path === '/' || path === '/index.html') {
        res.writeHead(200, { 'content-type': TYPES.html!, 'cache-control': 'no-store' });
        return res.end(webAsset('panel.html'));
      }
      if (path.startsWith('/static/')) {
        const name = path.slice('/static/'.length);
        if (!STATIC.has(name) || !isWebAsset(name)) return json(res, 404, { error: 'no existe', ruta: path });
        res.writeHead(200, { 'content-type': TYPES[name.split('.').pop()!] ?? 'application/octet-stream' });
        return res.end(webAsset(name));
      }
      if (path === '/health') return json(res, 200, { sano: true });
      if (path === '/favicon.ico') {
        res.writeHead(204);
        return res.end();
      }
      if (path === '/api/objetivos') return json(res, 200, o.targets);
      if (path === '/api/estado') return json(res, 200, o.collector.history());
      if (path === '/api/eventos') {
        // HEAD asks for the headers only: not a stream to keep open.
        if (req.method === 'HEAD') {
          res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store' });
          return res.end();
        }
        res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive' });
        send(res, 'inicio', { objetivos: o.targets, ...o.collector.history() });
        clients.add(res);
        const keep = setInterval(() => res.write(': sigo aquí\n\n'), SSE_KEEPALIVE_MS);
        const gone = () => {
          clearInterval(keep);
          clients.delete(res);
        };
        req.on('close', gone);
        res.on('error', gone);
        return;
      }
      json(res, 404, { error: 'no existe', ruta: path, rutas: ['/', '/api/estado', '/api/eventos', '/api/objetivos', '/health'] });
    } catch (err) {
      o.log.error({ err, url: req.url }, 'panel request failed');
      if (!res.headersSent) json(res, 500, { error: String(err) });
      else res.end();
    }
  }, o.log);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => resolve());
  });
  server.on('error', (err) => o.log.error({ err }, 'panel http server error'));
  server.on('clientError', (err, socket) => {
    o.log.debug({ err: err.message }, 'bad HTTP request');
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
  });
  const port = (server.address() as AddressInfo).port;
  const hostForUrl = o.host.includes(':') ? `[${o.host}]` : o.host === '0.0.0.0' ? '127.0.0.1' : o.host;
  return {
    port,
    url: `http://${hostForUrl}:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        unsubscribe();
        for (const res of clients) res.end();
        clients.clear();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
