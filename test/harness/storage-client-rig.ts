/**
 * The storage-client tests' rig: fake GAs on ports of their own and storage clients,
 * each closed after its test (newest first, also when the test fails).
 */
import { afterEach } from 'vitest';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { createStorageClient, type StorageClient } from '../../common/storage-client.js';
import type { StorageClientConfig } from '../../common/config.js';
import { FakeGa, captureLogger, type FakeGaScript } from './fake-ga.js';
import { freePort } from './ports.js';

export function storageClientRig() {
  const open: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    for (const x of open.splice(0).reverse()) await x.close().catch(() => undefined);
  });
  return {
    async ga(script?: FakeGaScript): Promise<FakeGa> {
      const g = await FakeGa.start(await freePort(), script);
      open.push({ close: () => g.stop() });
      return g;
    },
    client(cfg: StorageClientConfig, o: { log?: Logger; registry?: Registry } = {}): StorageClient {
      const c = createStorageClient(cfg, o.log ?? captureLogger().log, o.registry);
      open.push(c);
      return c;
    },
  };
}
