/** GC process: read config, wire storage client + GC + HTTP port, stop cleanly on signals. */
import '../common/env.js';
import { guardStdio } from '../common/stdio-guard.js';
import { GC_VARS } from '../common/config.js';
import { createLogger } from '../common/logger.js';
import { newRegistry, startHttpServer } from '../common/http-server.js';
import { readConfigOrExit, stopOnSignals } from '../common/process-lifecycle.js';
import { createStorageClient } from '../common/storage-client.js';
import { socketSecurityFromConfig } from '../common/socket-security.js';
import { startGc } from './gc.js';
import { RUTAS_GATEWAY, httpGateway } from './http-gateway.js';

guardStdio();

async function main(): Promise<void> {
  const log = createLogger('gc');
  const cfg = readConfigOrExit(GC_VARS, log);
  log.level = cfg.LOG_LEVEL;
  const registry = newRegistry('gc');
  const security = await socketSecurityFromConfig(cfg, { log, registry }).start();
  const storage = createStorageClient(cfg, log.child({ component: 'storage-client' }), registry, { security });
  const gc = await startGc(cfg, log, { storage, registry, security });
  const http = await startHttpServer({
    host: cfg.HTTP_HOST,
    port: cfg.GC_HTTP_PORT,
    registry,
    status: () => gc.status(),
    routes: { '/errors/stats': () => gc.errorStats() },
    // POST /operaciones, GET /operaciones/{id}, GET /libros/{isbn}: the same requests as on ZeroMQ.
    api: httpGateway(gc, log),
    apiRoutes: RUTAS_GATEWAY,
    log,
  });
  log.info({ httpPort: http.port }, 'GC HTTP port open');
  stopOnSignals(log, async () => {
    await gc.close();
    await http.close();
    await storage.close();
    await security.close();
  });
}

main().catch((err: unknown) => {
  createLogger('gc').fatal({ err }, 'GC failed to start');
  process.exit(1);
});
