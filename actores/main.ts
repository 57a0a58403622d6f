/** Actor process: read config (ACTOR_TIPOS or ACTOR_TIPO required), wire storage client + actor + HTTP port, stop cleanly on signals. */
import '../common/env.js';
import { guardStdio } from '../common/stdio-guard.js';
import { ACTOR_VARS, type ActorConfig } from '../common/config.js';
import { createLogger, type Logger } from '../common/logger.js';
import { newRegistry, startHttpServer } from '../common/http-server.js';
import { exitWith, readConfigOrExit, stopOnSignals } from '../common/process-lifecycle.js';
import { createStorageClient } from '../common/storage-client.js';
import { socketSecurityFromConfig } from '../common/socket-security.js';
import { OPERACIONES_ACTOR, type OperacionActor } from '../common/protocol/ps-gc.js';
import { TIPO_CALCULO } from '../common/protocol/calc.js';
import { defaultActorId, startActor } from './actor.js';
import { startCalcActor } from './calc-actor.js';

guardStdio();

async function main(): Promise<void> {
  const log = createLogger('actor');
  const cfg = readConfigOrExit(ACTOR_VARS, log);
  const tipos = cfg.ACTOR_TIPOS;
  if (!tipos) exitWith(log, `Invalid configuration: ACTOR_TIPOS (or ACTOR_TIPO): required, one or more of ${OPERACIONES_ACTOR.join(', ')}, or ${TIPO_CALCULO} alone`, { variable: 'ACTOR_TIPOS' });
  const actorId = cfg.ACTOR_ID ?? defaultActorId(tipos);
  log.level = cfg.LOG_LEVEL;
  const registry = newRegistry('actor');
  const security = await socketSecurityFromConfig(cfg, { log, registry }).start();
  // The config allows calculo only alone: the rest are library types (a calculo actor has no storage client: calculations touch no database).
  if (tipos.includes(TIPO_CALCULO)) {
    const actor = await startCalcActor({ ...cfg, ACTOR_ID: actorId }, log, { registry, security });
    return serve(cfg, actorId, log, registry, actor, [() => security.close()]);
  }
  const libraryTypes = tipos.filter((t): t is OperacionActor => t !== TIPO_CALCULO);
  const storage = createStorageClient(cfg, log.child({ component: 'storage-client' }), registry, { security });
  const actor = await startActor({ ...cfg, ACTOR_TIPOS: libraryTypes, ACTOR_ID: actorId }, log, { storage, registry, security });
  return serve(cfg, actorId, log, registry, actor, [() => storage.close(), () => security.close()]);
}

/** The actor's HTTP port, and an orderly stop on signals: the actor, its HTTP port, then what it used (`after`, in order). */
async function serve(
  cfg: ActorConfig,
  actorId: string,
  log: Logger,
  registry: ReturnType<typeof newRegistry>,
  actor: { status(): unknown; close(): Promise<void> },
  after: Array<() => Promise<void>>,
): Promise<void> {
  const http = await startHttpServer({ host: cfg.HTTP_HOST, port: cfg.ACTOR_HTTP_PORT, registry, status: () => actor.status(), log });
  log.info({ actorId, httpPort: http.port }, 'actor HTTP port open');
  // Running tasks get up to 3 s to finish inside close(); the grace covers that.
  stopOnSignals(
    log,
    async () => {
      await actor.close();
      await http.close();
      for (const f of after) await f();
    },
    8000,
  );
}

main().catch((err: unknown) => {
  createLogger('actor').fatal({ err }, 'actor failed to start');
  process.exit(1);
});
