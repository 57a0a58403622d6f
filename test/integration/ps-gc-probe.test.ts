/**
 * The PS's "is any GC listening?" probe (solicitante/gc-probe.ts) against real sockets:
 * a dead GC beside a live one must not hold the command open for the probe's timeout.
 */
import { afterEach, expect, test } from 'vitest';
import { Router } from 'zeromq';
import { anyGcReachable, gcReachable } from '../../solicitante/gc-probe.js';
import { freePorts } from '../harness/ports.js';

const routers: Router[] = [];
afterEach(() => {
  for (const r of routers.splice(0)) r.close();
});

test('a live GC beside a dead one: found, and the dead one’s probe stops with it', async () => {
  const [dead, live] = await freePorts(2);
  const r = new Router({ linger: 0 });
  routers.push(r);
  await r.bind(`tcp://127.0.0.1:${live}`);
  const stop = new AbortController();
  const deadProbe = gcReachable(`tcp://127.0.0.1:${dead}`, 60_000, stop.signal);
  expect(await anyGcReachable([`tcp://127.0.0.1:${dead}`, `tcp://127.0.0.1:${live}`], 60_000)).toBe(true);
  // Without the abort this probe would run its full minute (and keep a process alive).
  stop.abort();
  expect(await deadProbe).toBe(false);
});

test('no GC listening: false once the timeout passes', async () => {
  const [dead] = await freePorts(1);
  expect(await anyGcReachable([`tcp://127.0.0.1:${dead}`], 300)).toBe(false);
  expect(await anyGcReachable([], 300)).toBe(false);
});
