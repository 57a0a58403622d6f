/**
 * The Linux scheduling policy the system's processes run under: SCHED_BATCH by default.
 *
 * Why: every operation crosses five processes that wake each other with small messages
 * (the PS, then GC → actor → GA → PostgreSQL, and back). Under SCHED_OTHER a thread that is woken
 * preempts the one that woke it when its virtual runtime is lower, which for these
 * mostly-sleeping threads is nearly always: a sender is switched out in the middle of its
 * turn, and switched back in later, once per message. SCHED_BATCH (sched(7)) turns off
 * only that wake-up preemption: a woken thread waits for the running one to block or for
 * the tick, so each process finishes its turn (and its batch) first. Measured on the 2-core
 * development VM with every process of the bench under it (docs/performance.md): CPU per
 * operation −22 to −24 % in all (−26 to −31 % in the GC, actor and GA, −13 to −15 % in
 * PostgreSQL), throughput +10 %. It helps only where
 * all of them share it: with the system under SCHED_BATCH and the load generator under
 * SCHED_OTHER, nothing changed.
 *
 * Entry points that start processes or load the system (npm start, bench, bench:gcs,
 * bench:saltos, carga, drill, contenedores, abuso; npm test's global setup) call
 * `adoptSchedulingPolicy()` first: children inherit the policy across fork and exec, so
 * PostgreSQL and every Node process follow without code of their own; the container
 * entry scripts start their process under `chrt --batch 0` for the same reason.
 * `PLANIFICADOR=normal` keeps SCHED_OTHER (to measure the difference). Best-effort: where
 * `chrt` is missing (not Linux, a minimal image) the process runs on as it was.
 */
import { execFileSync } from 'node:child_process';
import { readConfig } from './config.js';

export type Planificador = 'batch' | 'normal';

/** Each PLANIFICADOR value's policy: its sched(7) name and its class as ps prints it (CLS). */
export const POLITICA: Record<Planificador, { nombre: 'SCHED_BATCH' | 'SCHED_OTHER'; cls: 'B' | 'TS' }> = {
  batch: { nombre: 'SCHED_BATCH', cls: 'B' },
  normal: { nombre: 'SCHED_OTHER', cls: 'TS' },
};

/** PLANIFICADOR from the environment (common/config.ts: default 'batch'); a ConfigError names a bad value. */
export function planificadorDe(env: NodeJS.ProcessEnv = process.env): Planificador {
  return readConfig(['PLANIFICADOR'], env).PLANIFICADOR;
}

export interface SchedulingOutcome {
  planificador: Planificador;
  /** Whether this process (every thread of it) now runs under that policy. */
  aplicado: boolean;
  /** Why not, when it could not be applied. */
  motivo?: string;
}

/**
 * Puts every thread of this process under the configured policy; processes started
 * afterwards inherit it. Never throws for a missing `chrt` (reported in the outcome);
 * throws a ConfigError for an invalid PLANIFICADOR.
 */
export function useSchedulingPolicy(env: NodeJS.ProcessEnv = process.env): SchedulingOutcome {
  const planificador = planificadorDe(env);
  const flag = planificador === 'batch' ? '--batch' : '--other';
  try {
    execFileSync('chrt', [flag, '--all-tasks', '--pid', '0', String(process.pid)], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 5000 });
    return { planificador, aplicado: true };
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: Buffer };
    const motivo = e.code === 'ENOENT' ? 'chrt no está instalado (util-linux)' : String(e.stderr ?? '').trim() || e.message;
    return { planificador, aplicado: false, motivo };
  }
}

/** The line an entry point prints when the policy could not be applied (undefined when it was). */
export function schedulingWarning(o: SchedulingOutcome): string | undefined {
  return o.aplicado ? undefined : `Aviso: no se pudo aplicar el planificador ${o.planificador} (${o.motivo}); los procesos siguen con el actual.\n`;
}

/**
 * What an entry point calls before it starts anything: applies the policy, writes the
 * warning (if any) with `write`, returns the outcome. Throws a ConfigError for a bad PLANIFICADOR.
 */
export function adoptSchedulingPolicy(write: (line: string) => void, env: NodeJS.ProcessEnv = process.env): SchedulingOutcome {
  const o = useSchedulingPolicy(env);
  const aviso = schedulingWarning(o);
  if (aviso) write(aviso);
  return o;
}
