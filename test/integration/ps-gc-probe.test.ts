/**
 * The PS's "which GCs listen?" probe (solicitante/gc-probe.ts) against real sockets:
 * a dead GC beside a live one is reported down without holding the command open for
 * the probe's timeout, and the clients made after it start with that GC suspect.
 */
import { expect, test } from 'vitest';
import { Router } from 'zeromq';
import { probeGcs } from '../../solicitante/gc-probe.js';
import { GcRotation } from '../../solicitante/gc-rotation.js';
import { freePorts } from '../harness/ports.js';
import { cleanupAfterEach } from '../harness/fixtures.js';

const defer = cleanupAfterEach();

test('a live GC beside a dead one: found, the dead one reported down, long before the (1 min) timeout', async () => {
  const [dead, live] = (await freePorts(2)).map((p) => `tcp://127.0.0.1:${p}`) as [string, string];
  const r = new Router({ linger: 0 });
  defer(() => r.close());
  await r.bind(live);
  // Were the dead GC's probe not stopped once the live one answered, this would outlive the test's 5 s.
  expect(await probeGcs([dead, live], 60_000)).toEqual({ reachable: [live], down: [dead] });
  // The PS then starts with its own sede's dead GC suspect: its first request goes to the live one.
  expect(GcRotation.forPs([dead, live], 1000, [dead]).pick()).toBe(live);
});

test('no GC listening: every one down once the timeout passes', async () => {
  const [dead] = (await freePorts(1)).map((p) => `tcp://127.0.0.1:${p}`) as [string];
  expect(await probeGcs([dead], 300)).toEqual({ reachable: [], down: [dead] });
  expect(await probeGcs([], 300)).toEqual({ reachable: [], down: [] });
});
