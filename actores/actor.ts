/**
 * An actor as an in-process component: it receives the tasks published on its own
 * topics, applies them through the storage client and reports each result.
 *
 * One process may serve several operation types (ACTOR_TIPOS): each type has its
 * topic "<tipo>.<actorId>" and is one actor of that type for the GCs (its own hola,
 * latido, adios), so dispatch and redundancy work per type as before, while the
 * process sees the work of all its types and handles more of it per wake.
 *
 * It works for every GC in its list (all active at once), with one link per GC:
 *  SUB    ← that GC's XPUB, subscribed to exactly "<tipo>.<actorId>|" (topicFor) for each of its types
 *  DEALER → that GC's backend ROUTER: hola, latido (every ACTOR_HEARTBEAT_MS), resultado, adios
 * A result goes back over the link of the GC that published the task (each GC tracks
 * only its own tasks), or of every GC that did, when two sent the same op.
 * The links, heartbeats and shutdown are every actor's (actor-shell.ts).
 *
 * A restarted GC needs nothing special: ZeroMQ reconnects both sockets, the SUB
 * re-sends its subscription and the next latido makes the actor known again. A GC
 * that is gone costs its link only: the others' sockets and queues are their own.
 */
import os from 'node:os';
import { Registry } from 'prom-client';
import type { OperacionActor, Resultado } from '../common/protocol/ps-gc.js';
import { tareaSchema, type Tarea } from '../common/protocol/internal.js';
import type { ActorConfig } from '../common/config.js';
import type { Logger } from '../common/logger.js';
import type { StorageClient } from '../common/storage-client.js';
import { startActorShell, type ActorShellStatus } from './actor-shell.js';
import { TaskRunner } from './task-runner.js';
import type { SocketSecurity } from '../common/socket-security.js';

export type ActorStartConfig = Omit<ActorConfig, 'ACTOR_TIPOS' | 'ACTOR_ID'> & { ACTOR_TIPOS: readonly OperacionActor[]; ACTOR_ID: string };

export interface ActorDeps {
  storage: StorageClient;
  registry?: Registry;
  /** CURVE on the links to the GCs (default off). Owned by the caller. */
  security?: SocketSecurity;
}

export interface ActorHandle {
  actorId: string;
  tipos: readonly OperacionActor[];
  /** One per type, in ACTOR_TIPOS order. */
  topics: readonly string[];
  registry: Registry;
  status(): ActorShellStatus & { almacenamiento: ReturnType<StorageClient['status']> };
  /** Orderly stop: no new tasks, finish running ones (bounded), say adios. */
  close(opts?: { graceMs?: number }): Promise<void>;
  /** Crash simulation for tests: sockets closed at once, no adios, no pending results sent. */
  kill(): void;
}

/**
 * `<tipo>-<hostname>-<pid>` for a one-type actor, `actor-<hostname>-<pid>` for several,
 * with the hostname reduced to what actor ids allow.
 */
export function defaultActorId(tipos: readonly string[], hostname = os.hostname(), pid = process.pid): string {
  const host = hostname.replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 40) || 'host';
  return `${tipos.length === 1 ? tipos[0] : 'actor'}-${host}-${pid}`.slice(0, 64);
}

export async function startActor(cfg: ActorStartConfig, log: Logger, deps: ActorDeps): Promise<ActorHandle> {
  const tipos = [...new Set(cfg.ACTOR_TIPOS)];
  if (tipos.length === 0) throw new Error('an actor serves at least one operation type');
  const actorId = cfg.ACTOR_ID;
  log = log.child({ actorId, tipos });
  const registry = deps.registry ?? new Registry();
  const shell = startActorShell<Tarea, Resultado>({
    cfg,
    tipos,
    log,
    registry,
    security: deps.security,
    taskSchema: tareaSchema,
    runner: (done) => new TaskRunner({ aplicar: (op) => deps.storage.aplicar(op), concurrency: cfg.ACTOR_CONCURRENCY, log, report: done }),
    resultMessage: (resultado, t) => ({ message: { t: 'resultado', actorId, tipo: t.operacion, resultado }, codigo: resultado.codigo }),
    describe: (t) => ({ opId: t.id, intento: t.intento }),
    names: { actor: 'actor', task: 'task', doneHelp: 'Tasks applied, by reply code', timeHelp: 'Time to apply one task through the GA' },
    taskTimeBuckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  });
  return {
    actorId,
    tipos,
    topics: shell.topics,
    registry,
    status: () => ({ ...shell.status(), almacenamiento: deps.storage.status() }),
    close: (opts) => shell.close(opts),
    kill: () => shell.kill(),
  };
}
