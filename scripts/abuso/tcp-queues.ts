/**
 * Whether what the campaign queued on a ZeroMQ socket has reached the server, for the sockets
 * that answer nothing (the GC backend and XPUB): `send()` resolves once libzmq has queued a
 * message on our side, and a socket closed with linger 0 drops whatever is still queued.
 *
 * zeromq.js cannot tell how much a socket still holds, nor wait for a linger to end, so the
 * campaign keeps its sockets open after the storm and watches the kernel instead: every
 * connection this process holds to the server's port (/proc/net/tcp, /proc/self/fd) must have
 * an empty send queue and its server end an empty receive queue, and stay so for a while (libzmq
 * writes whatever its own queue holds as soon as the kernel takes it, so empty kernel queues that
 * stay empty mean libzmq's queue is empty too). Then every byte was read by the server's libzmq,
 * which hands it to the server in order. Linux only, like common/proc.ts.
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export interface TcpEntry {
  /** hex address:port as the kernel writes it (IPv4-mapped IPv6 addresses as IPv4). */
  local: string;
  remote: string;
  localPort: number;
  remotePort: number;
  /** 01 = ESTABLISHED. */
  state: string;
  /** Bytes sent and not acknowledged by the peer (on loopback: not taken by its kernel). */
  txQueue: number;
  /** Bytes received and not read by the application. */
  rxQueue: number;
  inode: string;
}

const V4_MAPPED = '0000000000000000FFFF0000';

function address(hex: string): { addr: string; port: number } {
  const [ip = '', port = ''] = hex.split(':');
  const v4 = ip.length === 32 && ip.toUpperCase().startsWith(V4_MAPPED) ? ip.slice(24) : ip;
  return { addr: `${v4.toUpperCase()}:${port.toUpperCase()}`, port: parseInt(port, 16) };
}

/** The rows of /proc/net/tcp or /proc/net/tcp6 (pure); with `port`, only those with it at one end (a storm leaves thousands of others). */
export function parseProcNetTcp(text: string, port?: number): TcpEntry[] {
  const out: TcpEntry[] = [];
  const mark = port === undefined ? undefined : `:${port.toString(16).toUpperCase().padStart(4, '0')} `;
  for (const line of text.split('\n').slice(1)) {
    if (mark && !line.includes(mark)) continue;
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const l = address(f[1]!);
    const r = address(f[2]!);
    const [tx = '0', rx = '0'] = f[4]!.split(':');
    out.push({ local: l.addr, remote: r.addr, localPort: l.port, remotePort: r.port, state: f[3]!, txQueue: parseInt(tx, 16), rxQueue: parseInt(rx, 16), inode: f[9]! });
  }
  return out;
}

export interface QueueState {
  /** Established connections of ours to the port. */
  conexiones: number;
  /** Bytes queued in the kernel on those connections, ours not yet taken plus the server's not yet read. */
  bytesSinLeer: number;
}

/**
 * Our connections to `port` and what their kernel queues hold (pure): `ours` are the socket
 * inodes of this process; the server's end of each connection is the row with the
 * addresses swapped (absent if the server lives in another network namespace).
 */
export function queuesTowards(entries: readonly TcpEntry[], ours: ReadonlySet<string>, port: number): QueueState {
  const ESTABLISHED = '01';
  const byEnds = new Map(entries.map((e) => [`${e.local}>${e.remote}`, e]));
  let conexiones = 0;
  let bytesSinLeer = 0;
  for (const e of entries) {
    if (e.state !== ESTABLISHED || e.remotePort !== port || !ours.has(e.inode)) continue;
    conexiones++;
    bytesSinLeer += e.txQueue + (byEnds.get(`${e.remote}>${e.local}`)?.rxQueue ?? 0);
  }
  return { conexiones, bytesSinLeer };
}

function ownSocketInodes(): Set<string> {
  const out = new Set<string>();
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
      if (m) out.add(m[1]!);
    } catch {
      /* closed meanwhile */
    }
  }
  return out;
}

/** Our connections to `port` now. */
function queuedTowards(port: number): QueueState {
  const entries = ['/proc/net/tcp', '/proc/net/tcp6'].flatMap((f) => {
    try {
      return parseProcNetTcp(readFileSync(f, 'utf8'), port);
    } catch {
      return [];
    }
  });
  return queuesTowards(entries, ownSocketInodes(), port);
}

export interface Drain {
  /** Every byte queued was read by the server before the wait ended. */
  vaciado: boolean;
  esperaMs: number;
  /** What was still queued in the kernel when the wait ended (0 when drained; libzmq's own queue is not visible). */
  bytesSinLeer: number;
  /** Our established connections to the server then. */
  conexiones: number;
}

/**
 * Waits (sockets still open) until our `conexiones` connections to `port` are all established
 * with empty queues on both ends, and stay so for `stableMs`; gives up after `timeoutMs` or when
 * `signal` aborts (then `vaciado` is false: what is still queued may be dropped at close).
 */
export async function waitDrained(port: number, o: { conexiones: number; timeoutMs: number; stableMs?: number; everyMs?: number; signal?: AbortSignal }): Promise<Drain> {
  const t0 = Date.now();
  const stableMs = o.stableMs ?? 500;
  const everyMs = o.everyMs ?? 100;
  let emptySince: number | undefined;
  let last: QueueState = { conexiones: 0, bytesSinLeer: 0 };
  for (;;) {
    last = queuedTowards(port);
    const now = Date.now();
    if (last.conexiones >= o.conexiones && last.bytesSinLeer === 0) {
      emptySince ??= now;
      if (now - emptySince >= stableMs) return { vaciado: true, esperaMs: now - t0, bytesSinLeer: 0, conexiones: last.conexiones };
    } else emptySince = undefined;
    if (o.signal?.aborted || now - t0 >= o.timeoutMs) return { vaciado: false, esperaMs: now - t0, ...last };
    await sleep(everyMs);
  }
}
