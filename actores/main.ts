/** Actor process: read config (ACTOR_TIPO required), wire storage client + actor + HTTP port, stop cleanly on signals. */
import '../common/env.js';
import { guardStdio } from '../common/stdio-guard.js';
import { ACTOR_VARS } from '../common/config.js';
import { createLogger } from '../common/logger.js';
import { newRegistry, startHttpServer } from '../common/http-server.js';
import { exitWith, readConfigOrExit, stopOnSignals } from '../common/process-lifecycle.js';
import { createStorageClient } from '../common/storage-client.js';
import { socketSecurityFromConfig } from '../common/socket-security.js';
import { OPERACIONES_ACTOR } from '../common/protocol.js';
import { defaultActorId, startActor } from './actor.js';

guardStdio();

async function main(): Promise<void> {
  const log = createLogger('actor');
  const cfg = readConfigOrExit(ACTOR_VARS, log);
  const tipo = cfg.ACTOR_TIPO;
  if (!tipo) exitWith(log, `Invalid configuration: ACTOR_TIPO: required, one of ${OPERACIONES_ACTOR.join(', ')}`, { variable: 'ACTOR_TIPO' });
  const actorId = cfg.ACTOR_ID ?? defaultActorId(tipo);
  log.level = cfg.LOG_LEVEL;
  const registry = newRegistry('actor');
  const security = await socketSecurityFromConfig(cfg, { log, registry }).start();
  const storage = createStorageClient(cfg, log.child({ component: 'storage-client' }), registry, { security });
  const actor = await startActor({ ...cfg, ACTOR_TIPO: tipo, ACTOR_ID: actorId }, log, { storage, registry, security });
  const http = await startHttpServer({ host: cfg.HTTP_HOST, port: cfg.ACTOR_HTTP_PORT, registry, status: () => actor.status(), log });
  log.info({ actorId, httpPort: http.port }, 'actor HTTP port open');
  // Running tasks get up to 3 s to finish inside close(); the grace covers that.
  stopOnSignals(
    log,
    async () => {
      await actor.close();
      await http.close();
      await storage.close();
      await security.close();
    },
    8000,
  );
}

main().catch((err: unknown) => {
  createLogger('actor').fatal({ err }, 'actor failed to start');
  process.exit(1);
});
