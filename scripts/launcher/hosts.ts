/**
 * Simulated hosts on one machine: each binds its own loopback address (no set-up
 * or root needed on Linux), so "the same port on two hosts" works like real
 * hosts and a host's processes can be told apart and killed together.
 */
import { freePort, listenOnce } from './free-port.js';

export type HostName = 'pc1' | 'pc2';

/** A simulated host's address and, optionally, its network namespace. */
export interface NetHost {
  address: string;
  netns?: string;
}

export const PC1 = '127.0.1.1';
export const PC2 = '127.0.1.2';

/** A TCP port that was free a moment ago on every one of `hosts` (freePort picks it on the first). */
export async function freePortOnAll(hosts: readonly string[]): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await freePort(hosts[0]);
    let ok = true;
    for (const h of hosts.slice(1)) if ((await listenOnce(h, port)) === undefined) ok = false;
    if (ok) return port;
  }
  throw new Error(`no port free on all of ${hosts.join(', ')}`);
}
