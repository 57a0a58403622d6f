/**
 * The observability port every process opens (common/http-server.ts) under its connection
 * limits, over real sockets: connections past maxConnections are closed at once (20,000 slow
 * senders once took every file descriptor of a GC, its ZeroMQ ports with them), the port
 * serves again once they are gone, and headers that never finish are cut after headersTimeout.
 * The limits are the defaults' shape, shortened so the test is quick.
 */
import http from 'node:http';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { HTTP_LIMITS, startHttpServer } from '../../common/http-server.js';
import { eventually } from '../harness/eventually.js';
import { cleanupAfterEach, testLog } from '../harness/fixtures.js';

const defer = cleanupAfterEach();
const HOST = '127.0.0.1';

/** A GET that resolves with its status, or with the error when the server closed the connection instead. */
function get(port: number, path: string): Promise<{ status?: number; error?: string }> {
  return new Promise((resolve) => {
    const req = http.get({ host: HOST, port, path, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode }));
    });
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
  });
}

/** A connection that sends the start of a request's headers and never the rest (a slow sender). */
async function slowSender(port: number): Promise<net.Socket> {
  const s = net.connect({ host: HOST, port });
  s.on('error', () => undefined);
  defer(() => s.destroy());
  await new Promise<void>((resolve) => s.once('connect', () => resolve()));
  s.write('POST /operaciones HTTP/1.1\r\nHost: x\r\n');
  return s;
}

describe('HTTP port limits', () => {
  it('the defaults bound connections far below a process\'s descriptors and cut slow headers in seconds', () => {
    expect(HTTP_LIMITS.maxConnections).toBeLessThanOrEqual(1024);
    expect(HTTP_LIMITS.headersTimeoutMs).toBeLessThanOrEqual(10_000);
    expect(HTTP_LIMITS.requestTimeoutMs).toBeGreaterThanOrEqual(HTTP_LIMITS.headersTimeoutMs);
  });

  it('past maxConnections a new connection is closed unanswered; once the idle ones close the port serves again', async () => {
    const lines: string[] = [];
    const log = pino({ level: 'warn' }, { write: (l: string) => void lines.push(l) });
    let statusCalls = 0;
    // Timeouts far beyond the test: only the connection bound can refuse here.
    const server = await startHttpServer({
      host: HOST,
      port: 0,
      registry: new Registry(),
      status: () => ({ llamadas: ++statusCalls }),
      log,
      limits: { maxConnections: 8, headersTimeoutMs: 60_000, requestTimeoutMs: 60_000, keepAliveTimeoutMs: 5_000 },
    });
    defer(() => server.close());

    const idle: net.Socket[] = [];
    for (let i = 0; i < 8; i++) idle.push(await slowSender(server.port));
    // Accepted after the eight (the kernel hands connections over in order): closed at once.
    const refused = await get(server.port, '/status');
    expect(refused.status).toBeUndefined();
    expect(refused.error).toMatch(/ECONNRESET|EPIPE/);
    expect(statusCalls).toBe(0);
    expect(lines.some((l) => JSON.parse(l).msg === 'HTTP connection refused: too many open')).toBe(true);

    for (const s of idle) s.destroy();
    const back = await eventually('the port serves again', async () => ((await get(server.port, '/status')).status === 200 ? true : undefined), 10_000);
    expect(back).toBe(true);
    expect(statusCalls).toBeGreaterThanOrEqual(1);
  });

  it('headers that never finish are answered 408 and the connection closed after headersTimeout', async () => {
    const server = await startHttpServer({
      host: HOST,
      port: 0,
      registry: new Registry(),
      status: () => ({}),
      log: testLog,
      limits: { maxConnections: 512, headersTimeoutMs: 300, requestTimeoutMs: 600, keepAliveTimeoutMs: 200 },
    });
    defer(() => server.close());
    const s = await slowSender(server.port);
    let got = '';
    s.on('data', (d: Buffer) => (got += d.toString('latin1')));
    await new Promise<void>((resolve) => s.once('close', () => resolve()));
    expect(got).toMatch(/^HTTP\/1\.1 408 /);
    // The port itself is fine.
    expect((await get(server.port, '/health')).status).toBe(200);
  });
});
