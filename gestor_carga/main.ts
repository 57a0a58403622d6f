/** GC process: read config, wire storage client + GC + HTTP port, stop cleanly on signals. */
import 'dotenv/config';
import { ConfigError, GC_VARS, readConfig } from '../common/config.js';
import { createLogger } from '../common/logger.js';
import { newRegistry, startHttpServer } from '../common/http-server.js';
import { createStorageClient } from '../common/storage-client.js';
import { startGc } from './gc.js';

async function main(): Promise<void> {
  const log = createLogger('gc');
  let cfg;
  try {
    cfg = readConfig(GC_VARS);
  } catch (err) {
    if (err instanceof ConfigError) {
      log.fatal({ variable: err.variable }, err.message);
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  log.level = cfg.LOG_LEVEL;
  const registry = newRegistry('gc');
  const storage = createStorageClient(cfg, log.child({ component: 'storage-client' }), registry);
  const gc = await startGc(cfg, log, { storage, registry });
  const http = await startHttpServer({
    host: cfg.HTTP_HOST,
    port: cfg.GC_HTTP_PORT,
    registry,
    status: () => gc.status(),
    routes: { '/errors/stats': () => gc.errorStats() },
    log,
  });
  log.info({ httpPort: http.port }, 'GC HTTP port open');

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    // A stuck close must not keep the process alive forever.
    setTimeout(() => process.exit(1), 5000).unref();
    void (async () => {
      await gc.close();
      await http.close();
      await storage.close();
      process.exit(0);
    })().catch((err: unknown) => {
      log.error({ err }, 'error while stopping');
      process.exit(1);
    });
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err: unknown) => {
  createLogger('gc').fatal({ err }, 'GC failed to start');
  process.exit(1);
});
