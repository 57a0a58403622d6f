/**
 * A `calculo` actor as an in-process component: it computes the calculation tasks
 * published on its own topic and reports each result. No storage: calculations touch no
 * database. Everything else is every actor's (actor-shell.ts): one GcLink per GC (all
 * active), hola / latido / adios on the same schedule, so the GCs' registry, strategies and
 * redelivery treat it like any actor; a result goes back to the GC(s) that sent the task.
 */
import { Registry } from 'prom-client';
import { TIPO_CALCULO, tareaCalculoSchema, type ResultadoCalculo, type TareaCalculo } from '../common/protocol/calc.js';
import { topicFor } from '../common/protocol/internal.js';
import type { ActorConfig } from '../common/config.js';
import type { Logger } from '../common/logger.js';
import type { SocketSecurity } from '../common/socket-security.js';
import { startActorShell, type ActorShellStatus } from './actor-shell.js';
import { CalcRunner } from './calc-runner.js';

export type CalcActorConfig = Pick<ActorConfig, 'GC_PUB_ENDPOINTS' | 'GC_BACKEND_ENDPOINTS' | 'ACTOR_HEARTBEAT_MS' | 'ACTOR_CONCURRENCY'> & { ACTOR_ID: string };

export interface CalcActorHandle {
  actorId: string;
  tipo: typeof TIPO_CALCULO;
  topic: string;
  registry: Registry;
  /** The same shape as a library actor's (actor.ts), so the panel and `npm run status` read both alike. */
  status(): ActorShellStatus;
  /** Orderly stop: no new tasks, finish running ones (bounded), say adios. */
  close(opts?: { graceMs?: number }): Promise<void>;
  /** Crash simulation for tests: sockets closed at once, no adios, no pending results sent. */
  kill(): void;
}

export async function startCalcActor(cfg: CalcActorConfig, log: Logger, deps: { registry?: Registry; security?: SocketSecurity } = {}): Promise<CalcActorHandle> {
  const tipo = TIPO_CALCULO;
  const actorId = cfg.ACTOR_ID;
  log = log.child({ actorId, tipo });
  const registry = deps.registry ?? new Registry();
  const shell = startActorShell<TareaCalculo, ResultadoCalculo>({
    cfg,
    tipos: [tipo],
    log,
    registry,
    security: deps.security,
    taskSchema: tareaCalculoSchema,
    runner: (done) => new CalcRunner({ concurrency: cfg.ACTOR_CONCURRENCY, log, report: done }),
    resultMessage: (resultado) => ({ message: { t: 'calculado', actorId, tipo, resultado }, codigo: resultado.codigo }),
    describe: (t) => ({ tarea: t.id, intento: t.intento, operacion: t.calculo.operacion }),
    names: { actor: 'calculation actor', task: 'calculation task', doneHelp: 'Tasks done, by reply code', timeHelp: 'Time to compute one task' },
    taskTimeBuckets: [0.0001, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  });
  return { actorId, tipo, topic: topicFor(tipo, actorId), registry, status: () => shell.status(), close: (opts) => shell.close(opts), kill: () => shell.kill() };
}
