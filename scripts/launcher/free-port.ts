import net from 'node:net';

// Ports this process already handed out: the OS may offer a port again as soon as the probe closes it,
// and two children given the same number race for it (CI once saw an actor die on EADDRINUSE that way).
const handedOut = new Set<number>();

function probe(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** A TCP port that was free on `host` a moment ago (the OS picks it), never one this process handed out before. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = await probe(host);
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`no fresh free port on ${host} after 100 tries`);
}
