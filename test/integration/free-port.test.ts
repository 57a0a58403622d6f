import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import net from 'node:net';
import { freePort } from '../../scripts/launcher/free-port.js';
import { freePortOnAll } from '../../scripts/launcher/hosts.js';
import { PortTakenError, requireFree } from '../../scripts/launcher/local-system.js';

describe('freePort', () => {
  it('never hands out the same port twice in one process', async () => {
    const ports: number[] = [];
    for (let i = 0; i < 300; i++) ports.push(await freePort('127.0.0.1'));
    expect(new Set(ports).size).toBe(ports.length);
  });

  it('stays below the ephemeral range, where no outgoing connection takes the port before the child binds it', async () => {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    const ports = await Promise.all(Array.from({ length: 50 }, () => freePort('127.0.0.1')));
    for (const p of ports) {
      expect(p).toBeGreaterThanOrEqual(10_000);
      if (low - 10_000 >= 4096) expect(p).toBeLessThan(low);
    }
  });
});

describe('requireFree (npm start on the documented ports)', () => {
  it('names the taken port, where it is taken and the ways out; a free port passes', async () => {
    const port = await freePortOnAll(['127.0.1.1', '127.0.1.2']);
    const holder = net.createServer();
    await new Promise<void>((r) => holder.listen(port, '127.0.1.2', r));
    try {
      const err = await requireFree(['127.0.1.1', '127.0.1.2'], port, 'GA').then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(PortTakenError);
      const msg = (err as Error).message;
      expect(msg).toContain(`el puerto ${port} (GA) ya está en uso en 127.0.1.2:`);
      expect(msg).not.toContain('127.0.1.1');
      expect(msg).toContain('--puertos-libres');
    } finally {
      await new Promise((r) => holder.close(r));
    }
    await expect(requireFree(['127.0.1.1', '127.0.1.2'], port, 'GA')).resolves.toBeUndefined();
  });
});
