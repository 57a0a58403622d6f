/** What every long-running process's main.ts does the same way: config errors and signals. */
import { ConfigError, readConfig, type VariableName } from './config.js';
import type { Logger } from './logger.js';
import { alive } from './proc.js';

/** Reads the process's variables; a bad one is named on stderr and the process exits 1. */
export function readConfigOrExit<K extends VariableName>(names: readonly K[], log: Logger): ReturnType<typeof readConfig<K>> {
  try {
    return readConfig(names);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    exitWith(log, err.message, { variable: err.variable });
  }
}

export function exitWith(log: Logger, message: string, fields: Record<string, unknown> = {}): never {
  log.fatal(fields, message);
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

/** How often a launched process checks that its launcher is still its parent. */
export const LAUNCHER_CHECK_MS = 500;

/**
 * SIGINT/SIGTERM run `close` once, then exit 0. A close that hangs must not keep
 * the process alive: after `graceMs`, or on a second signal, it exits 1.
 * A process started by a launcher (LANZADOR_PID, its parent's pid) also stops, the
 * same way, once that launcher is gone: a SIGKILLed `npm start` cannot stop its
 * children, and orphans would keep their ports and talk to the next start's processes.
 */
export function stopOnSignals(log: Logger, close: () => Promise<void>, graceMs = 5000, env: NodeJS.ProcessEnv = process.env): void {
  let launcher: number | undefined;
  try {
    launcher = readConfig(['LANZADOR_PID'], env).LANZADOR_PID;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    exitWith(log, err.message, { variable: err.variable });
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'stopping');
    setTimeout(() => process.exit(1), graceMs).unref();
    close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  if (launcher === undefined) return;
  const launcherGone = () => {
    log.warn({ launcher }, 'the launcher that started this process is gone');
    stop('launcher gone');
  };
  if (process.ppid !== launcher) {
    // The launcher died while this process was starting (this runs once it is up): stop now.
    if (!alive(launcher)) return launcherGone();
    // Inherited by something the launcher did not start itself (a grandchild): not ours to watch.
    log.warn({ launcher, ppid: process.ppid }, 'LANZADOR_PID is not this process\'s parent: not watching it');
    return;
  }
  const watch = setInterval(() => {
    if (process.ppid === launcher) return;
    clearInterval(watch);
    launcherGone();
  }, LAUNCHER_CHECK_MS);
  watch.unref();
}
