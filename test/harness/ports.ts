import { freePort } from '../../scripts/launcher/free-port.js';

export { freePort };

/** Several free ports (freePort never repeats one within a process). */
export async function freePorts(n: number, host = '127.0.0.1'): Promise<number[]> {
  const out: number[] = [];
  while (out.length < n) out.push(await freePort(host));
  return out;
}
