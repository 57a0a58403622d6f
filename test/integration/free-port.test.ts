import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../scripts/launcher/free-port.js';

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
