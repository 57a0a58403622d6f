/**
 * Is a GC listening at this endpoint? A request to a dead endpoint is only queued
 * by ZeroMQ, so a PS learns that nobody is there after PS_TIMEOUT_MS × (1 +
 * PS_RETRIES) per request: test-sistema took two minutes to say FAIL. The
 * socket's monitor reports the TCP connection as soon as it is made — a few ms
 * against a live GC — so batch commands ask first and fail in seconds.
 */
import { Dealer, type Context } from 'zeromq';
import { parseRespuesta } from '../common/protocol/reply.js';
import { pingMessage } from '../common/protocol/request.js';

/** `signal`: stop looking (false); the socket and its timer go at once, so nothing holds the process open. */
export async function gcReachable(endpoint: string, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
  const sock = new Dealer({ linger: 0 });
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  try {
    const connected = new Promise<boolean>((resolve) => {
      sock.events.on('connect', () => resolve(true));
      timer = setTimeout(() => resolve(false), timeoutMs);
      onAbort = () => resolve(false);
      if (signal?.aborted) resolve(false);
      signal?.addEventListener('abort', onAbort);
    });
    sock.connect(endpoint);
    return await connected;
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
    sock.close();
  }
}

/** How long to look: long enough for a loaded machine, short enough to be "a few seconds". */
export function probeTimeoutMs(psTimeoutMs: number): number {
  return Math.min(3000, Math.max(1000, psTimeoutMs));
}

/**
 * Which GCs accept a connection: all probed at once; once one does, the others get
 * `graceMs` more (a refused connection is known in a few ms, a live GC on the LAN
 * connects in as few) and then stop, so a dead GC never holds the command for the
 * whole timeout. `down`: the ones that did not connect (none did: every one).
 */
export async function probeGcs(endpoints: readonly string[], timeoutMs: number, graceMs = 200): Promise<{ reachable: string[]; down: string[] }> {
  const stop = new AbortController();
  let grace: NodeJS.Timeout | undefined;
  const results = await Promise.all(
    endpoints.map(async (e) => {
      const ok = await gcReachable(e, timeoutMs, stop.signal);
      if (ok && !grace) grace = setTimeout(() => stop.abort(), graceMs);
      return { e, ok };
    }),
  );
  clearTimeout(grace);
  return { reachable: results.filter((r) => r.ok).map((r) => r.e), down: results.filter((r) => !r.ok).map((r) => r.e) };
}

/**
 * Does the GC at `endpoint` answer a ping within `timeoutMs`? (A TCP connection alone says
 * nothing of a frozen GC: its kernel still accepts.) A fresh socket, closed afterwards, on
 * `context` (the asking client's; default zeromq's global one).
 */
export async function gcAnswersPing(endpoint: string, timeoutMs: number, context?: Context): Promise<boolean> {
  const sock = new Dealer({ linger: 0, receiveTimeout: timeoutMs, sendTimeout: timeoutMs, immediate: true, ...(context ? { context } : {}) });
  const clave = `ping-${process.pid}-${Date.now().toString(36)}`;
  try {
    sock.connect(endpoint);
    await sock.send(pingMessage(clave));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const frames = await sock.receive();
      const r = parseRespuesta(frames[frames.length - 1]);
      if (typeof r !== 'string' && r.clave === clave) return true;
      if (Date.now() > deadline) return false;
    }
  } catch {
    return false; // no connection, or no answer in time
  } finally {
    sock.close();
  }
}
