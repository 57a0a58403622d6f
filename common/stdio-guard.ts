/**
 * A closed stdout or stderr must never kill a process or skip its orderly stop.
 *
 * `npm start | tee log` and Ctrl-C: the terminal's SIGINT ends `tee` too, and the
 * launcher's next write ("Deteniendo…") fails with EPIPE. `ps archivo f | head -1`:
 * `head` exits after one line. A closed terminal: EIO. Node reports these as an
 * 'error' event on process.stdout/stderr, emitted after the write returned; with no
 * listener that is an uncaught exception, which ended the launcher before it had
 * stopped PostgreSQL (its exit hook then SIGKILLed the servers and left its lock).
 *
 * With the guard, such a stream is taken as gone: its errors are swallowed (they
 * would only repeat on every later write) and `closed()` tells callers that nobody
 * reads it any more. pino's own destination already survives EPIPE.
 */
type StdStream = 'stdout' | 'stderr';

const closed: Record<StdStream, boolean> = { stdout: false, stderr: false };
let installed = false;

export function guardStdio(): void {
  if (installed) return;
  installed = true;
  for (const name of ['stdout', 'stderr'] as const) {
    process[name].on('error', () => {
      closed[name] = true;
    });
  }
}

/** True once a write to that stream failed (EPIPE, EIO, …): whoever read it is gone. */
export function stdioClosed(name: StdStream): boolean {
  return closed[name];
}
