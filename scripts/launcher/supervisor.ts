/**
 * `npm start` keeps its Node processes running, as the compose files' `restart:
 * unless-stopped` does in a deployment: a GA, GC or actor that exits (a crash, a
 * `kill -9` by hand to watch the failover) is started again after 1 s, doubling up to
 * 30 s while it keeps dying within 30 s of its start. A frozen one (SIGSTOP) has not
 * exited and is left alone, as Docker leaves it.
 *
 * Not PostgreSQL: a former primary must come back as a standby of the new one
 * (`npm run pg -- rejoin`), never by a blind restart. Not drills and tests either:
 * they use startLocalSystem and decide themselves what is down and for how long.
 */
export interface Supervised {
  readonly spec: { readonly name: string };
  readonly running: boolean;
  restart(): Promise<void>;
}

export interface SupervisorOptions {
  /** Tells the user (the launcher prints it above its status block). */
  say(line: string): void;
  now?: () => number;
  baseMs?: number;
  maxMs?: number;
  /** Up this long after a start: its next exit waits only baseMs again. */
  stableMs?: number;
}

interface State {
  startedAt: number;
  /** Exits in a row, each within stableMs of its start. */
  exits: number;
  /** When the pending restart is due; undefined while the process runs. */
  due?: number;
  restarting: boolean;
}

export class Supervisor {
  private readonly state = new Map<Supervised, State>();
  private readonly now: () => number;

  constructor(
    procs: readonly Supervised[],
    private readonly o: SupervisorOptions,
  ) {
    this.now = o.now ?? Date.now;
    for (const p of procs) this.state.set(p, { startedAt: this.now(), exits: 0, restarting: false });
  }

  /** One look at every process (the launcher's status loop calls it twice a second). */
  tick(): void {
    const now = this.now();
    for (const [p, st] of this.state) {
      if (st.restarting) continue;
      if (p.running) {
        if (now - st.startedAt >= (this.o.stableMs ?? 30_000)) st.exits = 0;
        continue;
      }
      if (st.due === undefined) {
        st.exits++;
        const delay = Math.min(this.o.maxMs ?? 30_000, (this.o.baseMs ?? 1000) * 2 ** (st.exits - 1));
        st.due = now + delay;
        this.o.say(`AVISO: ${p.spec.name} se reinicia en ${(delay / 1000).toFixed(0)} s`);
        continue;
      }
      if (now < st.due) continue;
      st.due = undefined;
      st.restarting = true;
      st.startedAt = now;
      // Back up: the status loop's own warning says so. Only a failed start is told here.
      void p
        .restart()
        .catch((err: unknown) => this.o.say(`AVISO: ${p.spec.name} no arrancó: ${err instanceof Error ? oneLine(err.message) : String(err)}`))
        .finally(() => {
          st.restarting = false;
        });
    }
  }
}

/**
 * A start error on one line above the status: its first line and the log's last one (where the
 * cause usually is, e.g. EADDRINUSE), each cut short; a pino line gives its message.
 */
export function oneLine(message: string, max = 160): string {
  const lines = message.split('\n').map((l) => l.trim()).filter(Boolean);
  const cut = (l: string) => (l.length > max ? `${l.slice(0, max - 1)}…` : l);
  const readable = (l: string) => {
    try {
      const j = JSON.parse(l) as { msg?: unknown; err?: { message?: unknown } };
      return [j.msg, j.err?.message].filter((x) => typeof x === 'string').join(': ') || l;
    } catch {
      return l;
    }
  };
  const first = lines[0] ?? '';
  const last = lines.length > 1 ? readable(lines[lines.length - 1]!) : '';
  return last ? `${cut(first)} ${cut(last)}` : cut(first);
}
