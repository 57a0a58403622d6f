/** Actor process: read config (ACTOR_TIPO required), wire storage client + actor + HTTP port, stop cleanly on signals. */
import 'dotenv/config';
import { ACTOR_VARS, ConfigError, readConfig } from '../common/config.js';
import { createLogger } from '../common/logger.js';
import { newRegistry, startHttpServer } from '../common/http-server.js';
import { createStorageClient } from '../common/storage-client.js';
import { OPERACIONES_ACTOR } from '../common/protocol.js';
import { defaultActorId, startActor } from './actor.js';

function fail(log: ReturnType<typeof createLogger>, message: string): never {
  log.fatal(message);
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

async function main(): Promise<void> {
  const log = createLogger('actor');
  let cfg;
  try {
    cfg = readConfig(ACTOR_VARS);
  } catch (err) {
    if (err instanceof ConfigError) fail(log, err.message);
    throw err;
  }
  const tipo = cfg.ACTOR_TIPO;
  if (!tipo) fail(log, `Invalid configuration: ACTOR_TIPO: required, one of ${OPERACIONES_ACTOR.join(', ')}`);
  const actorId = cfg.ACTOR_ID ?? defaultActorId(tipo);
  log.level = cfg.LOG_LEVEL;
  const registry = newRegistry('actor');
  const storage = createStorageClient(cfg, log.child({ component: 'storage-client' }), registry);
  const actor = await startActor({ ...cfg, ACTOR_TIPO: tipo, ACTOR_ID: actorId }, log, { storage, registry });
  const http = await startHttpServer({ host: cfg.HTTP_HOST, port: cfg.ACTOR_HTTP_PORT, registry, status: () => actor.status(), log });
  log.info({ actorId, httpPort: http.port }, 'actor HTTP port open');

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    setTimeout(() => process.exit(1), 8000).unref();
    void (async () => {
      await actor.close();
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
  createLogger('actor').fatal({ err }, 'actor failed to start');
  process.exit(1);
});
