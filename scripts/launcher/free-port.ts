import net from 'node:net';
import { readFileSync } from 'node:fs';

// Ports this process already handed out: the OS offers a just-closed probe port again (about
// 3 repeats in 300 probes here), and two children given one number race for it (CI once saw an
// actor die on EADDRINUSE that way).
const handedOut = new Set<number>();

// Below the ephemeral range: between the probe and the child's bind, no outgoing connection
// (a ZeroMQ reconnect, a pg client) can be given the port as its local end.
const LOWEST = 10_000;
const ephemeralLow = (() => {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || 0;
  } catch {
    return 0;
  }
})();
const RANGE = ephemeralLow - LOWEST >= 4096 ? { from: LOWEST, to: ephemeralLow - 1 } : undefined;

/** Listens on `port` (0: one the OS picks) and closes again: the port it got, or undefined if it was taken. */
export function listenOnce(host: string, port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(undefined));
    srv.listen(port, host, () => {
      const { port: bound } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(bound));
    });
  });
}

/**
 * A TCP port that was free on `host` a moment ago, never one this process handed out before:
 * a random one below the ephemeral range where the OS says where that is, else one the OS picks.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const wanted = RANGE ? RANGE.from + Math.floor(Math.random() * (RANGE.to - RANGE.from + 1)) : 0;
    const port = handedOut.has(wanted) ? undefined : await listenOnce(host, wanted);
    if (port === undefined || handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free port on ${host} after 200 tries`);
}
