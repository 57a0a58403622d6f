/** npm start's banner (scripts/launcher/banner.ts): its per-host line counts actor processes, and says so. */
import { describe, expect, it } from 'vitest';
import { bannerLines } from '../../scripts/launcher/banner.js';
import type { Sistema } from '../../scripts/launcher/system-file.js';

const actor = (nombre: string, host: string, port: number) => ({ nombre, host, http: `http://127.0.1.${host === 'pc1' ? 1 : 2}:${port}` });
const pg = (host: string, nombre: string) => ({ host, port: 5432, user: 'biblioteca', password: 'x', database: 'biblioteca', nombre });

const sistema: Sistema = {
  pid: 1,
  topologia: 'dos-hosts',
  gcs: [{ host: 'pc1', endpoint: 'tcp://127.0.0.1:5555', http: 'http://127.0.0.1:9555' }],
  gas: [
    { host: 'pc1', endpoint: 'tcp://127.0.1.1:5570', http: 'http://127.0.1.1:9570' },
    { host: 'pc2', endpoint: 'tcp://127.0.1.2:5570', http: 'http://127.0.1.2:9570' },
  ],
  // npm start's default: per host one process with an actor of each library type, and a calculo actor.
  actores: [actor('actor-1', 'pc1', 9580), actor('calculo-1', 'pc1', 9581), actor('actor-2', 'pc2', 9580), actor('calculo-2', 'pc2', 9581)],
  postgres: [pg('127.0.1.1', 'pc1'), pg('127.0.1.2', 'pc2')],
};

describe("npm start's banner", () => {
  it('counts actor processes per host, named, under a label that says they are processes', () => {
    const lines = bannerLines(sistema, { ps: 'npm run ps --', dataFlag: '', logs: '.data/logs' });
    const perHost = lines.filter((l) => /^ {2}(Actores|Procesos actor):/.test(l));
    expect(perHost.map((l) => l.replace(/\s+/g, ' '))).toEqual([' Procesos actor: pc1 2 (actor-1, calculo-1), pc2 2 (actor-2, calculo-2)']);
  });

  it('one host: no per-host line', () => {
    const single = { ...sistema, gas: sistema.gas.slice(0, 1), actores: sistema.actores.slice(0, 2) };
    expect(bannerLines(single, { ps: 'npm run ps --', dataFlag: '', logs: '.data/logs' }).some((l) => l.includes('Procesos actor'))).toBe(false);
  });
});
