/**
 * Real-network test hosts: one Linux network namespace per simulated host,
 * each joined to a private bridge by a veth pair, with addresses from
 * 198.18.0.0/24 (the benchmarking range) that this module assigns itself.
 * The bridge gets an address in the same /24 so the launcher (the test
 * process, in the root namespace) reaches every host; no route or address
 * outside 198.18.0.0/24 is added. `cut(host)` sets the host's bridge-side veth
 * down (its link is gone for everyone), `restore(host)` sets it up again.
 *
 * Several runs may share the machine (two `npm test` at once): each takes one
 * /27 slice of the /24 (8 slices, a lock file per slice held by its pid), so
 * their bridges never claim the same subnet.
 *
 * Needs root (CAP_NET_ADMIN + CAP_SYS_ADMIN) and `ip`. Everything created is
 * deleted by `destroy()`, which is also run when the process exits (and on
 * SIGINT/SIGTERM, before the signal's default action).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const NETNS_SUBNET = '198.18.0.0/24';

export interface NetnsHost {
  name: string;
  /** The host's address (198.18.0.x). */
  address: string;
  /** Its network namespace (for `ip netns exec`). */
  netns: string;
  /** Bridge-side end of its veth pair: the link `cut()` takes down. */
  link: string;
}

export interface NetnsNetwork {
  hosts: Record<string, NetnsHost>;
  bridge: string;
  /** The bridge's own address: how the launcher reaches the hosts. */
  bridgeAddress: string;
  /** `ip link set <host's link> down`. */
  cut(host: string): void;
  /** `ip link set <host's link> up`. */
  restore(host: string): void;
  /** Deletes the namespaces, veths and bridge. Idempotent, never throws. */
  destroy(): void;
}

function ip(args: string[]): string {
  return execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
}

/** Why namespaced hosts cannot be used here, or undefined when they can (root, `ip netns` works). */
export function netnsUnavailableReason(): string | undefined {
  if (process.platform !== 'linux') return 'not Linux';
  if (process.getuid?.() !== 0) return 'not running as root';
  const probe = `bdprobe${randomBytes(3).toString('hex')}`;
  try {
    ip(['netns', 'add', probe]);
  } catch (err) {
    return `ip netns add failed: ${(err as Error).message.split('\n')[0]}`;
  }
  try {
    ip(['netns', 'del', probe]);
  } catch {
    /* gone */
  }
  return undefined;
}

const SLICES = 8; // /27 each

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the first free /27 slice of 198.18.0.0/24: its lock file is created exclusively and holds our pid. */
function takeSlice(): { slice: number; release(): void } {
  for (let k = 0; k < SLICES; k++) {
    const lock = join(tmpdir(), `biblioteca-netns-198.18.0.${k * 32}-27.lock`);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        writeFileSync(lock, String(process.pid), { flag: 'wx' });
        return { slice: k, release: () => rmSync(lock, { force: true }) };
      } catch {
        const owner = Number(readFileSync(lock, 'utf8').trim() || '0');
        if (owner > 0 && pidAlive(owner)) break; // in use: next slice
        rmSync(lock, { force: true }); // left by a dead run
      }
    }
  }
  throw new Error(`all ${SLICES} slices of ${NETNS_SUBNET} are in use by other runs`);
}

/**
 * Creates `names.length` hosts (at most 29) in a free /27 slice of 198.18.0.0/24:
 * host i (1-based) gets base+i, the bridge base+30 (first run: 198.18.0.1…, bridge 198.18.0.30).
 * On any failure everything already created is deleted before the error is thrown.
 */
export function createNetwork(names: readonly string[]): NetnsNetwork {
  if (names.length < 1 || names.length > 29) throw new Error('createNetwork: 1..29 hosts');
  const tag = randomBytes(3).toString('hex'); // unique per run: names never clash with others' (max 15 chars for links)
  const bridge = `bdbr${tag}`;
  const { slice, release } = takeSlice();
  const base = slice * 32;
  const bridgeAddress = `198.18.0.${base + 30}`;
  const hosts: Record<string, NetnsHost> = {};
  const namespaces: string[] = [];
  const links: string[] = [];
  let bridgeMade = false;
  let destroyed = false;

  const destroy = () => {
    if (destroyed) return;
    destroyed = true;
    process.removeListener('exit', destroy);
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    // Deleting a namespace deletes its veth end, and with it the pair; the links are deleted explicitly anyway.
    for (const ns of namespaces) {
      try {
        ip(['netns', 'del', ns]);
      } catch {
        /* already gone */
      }
    }
    for (const l of links) {
      try {
        ip(['link', 'del', l]);
      } catch {
        /* went with its namespace */
      }
    }
    if (bridgeMade) {
      try {
        ip(['link', 'del', bridge]);
      } catch {
        /* already gone */
      }
    }
    release();
  };
  // A signal ends the process without 'exit': clean up, then let the signal do what it would have done.
  const onSignal = (sig: NodeJS.Signals) => {
    destroy();
    if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
  };
  process.once('exit', destroy);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    ip(['link', 'add', bridge, 'type', 'bridge']);
    bridgeMade = true;
    ip(['addr', 'add', `${bridgeAddress}/27`, 'dev', bridge]);
    ip(['link', 'set', bridge, 'up']);
    names.forEach((name, i) => {
      const address = `198.18.0.${base + i + 1}`;
      const netns = `bd-${tag}-${name}`;
      const link = `bd${tag}h${i + 1}`;
      const peer = `bd${tag}n${i + 1}`;
      ip(['netns', 'add', netns]);
      namespaces.push(netns);
      ip(['link', 'add', link, 'type', 'veth', 'peer', 'name', peer]);
      links.push(link);
      ip(['link', 'set', peer, 'netns', netns]);
      ip(['link', 'set', link, 'master', bridge]);
      ip(['link', 'set', link, 'up']);
      ip(['-n', netns, 'link', 'set', 'lo', 'up']);
      ip(['-n', netns, 'link', 'set', peer, 'name', 'eth0']);
      ip(['-n', netns, 'addr', 'add', `${address}/27`, 'dev', 'eth0']);
      ip(['-n', netns, 'link', 'set', 'eth0', 'up']);
      hosts[name] = { name, address, netns, link };
    });
  } catch (err) {
    destroy();
    throw err;
  }

  const hostOf = (h: string) => {
    const x = hosts[h];
    if (!x) throw new Error(`no namespaced host ${h}`);
    return x;
  };
  return {
    hosts,
    bridge,
    bridgeAddress,
    cut: (h) => void ip(['link', 'set', hostOf(h).link, 'down']),
    restore: (h) => void ip(['link', 'set', hostOf(h).link, 'up']),
    destroy,
  };
}
