/**
 * What stops a storm of the abuse campaign before its end: an attacked process that exits
 * (nothing would answer the rest: each message would wait out its send or reply timeout, and
 * a storm of 100,000 messages for hours), or the storm's time limit (any other stall). The
 * senders watch `signal`; the report says why and when the storm stopped (checks.ts).
 */
import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';

export interface StormStop {
  /** 'caida': an attacked process exited; 'limite': the storm ran out of time. */
  motivo: 'caida' | 'limite';
  /** caida: the process that exited, and its pid. */
  proceso?: string;
  pid?: number;
  /** How long after the storm began. */
  trasMs: number;
  /** The round it stopped in (1-based), of `rondas`. */
  ronda: number;
  rondas: number;
  limiteMs: number;
}

/** What the guard watches: read again on every look. */
export interface Watched {
  nombre: string;
  pid: number | undefined;
  /** The process exists (not a zombie). */
  running: () => boolean;
}

/** Default time limit of a phase's storm, all rounds: over 10× what it takes on a 2-core machine (~65 s for 100,000 per socket, 2 rounds). */
export function defaultStormLimitMs(mensajes: number): number {
  return 120_000 + 10 * mensajes;
}

export class StormGuard {
  private readonly ac = new AbortController();
  private stopInfo: StormStop | undefined;
  private t0 = 0;
  private watcher: NodeJS.Timeout | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** The round running now (1-based). */
  round = 1;

  constructor(
    private readonly o: {
      procs: readonly Watched[];
      rondas: number;
      limiteMs: number;
      /** Stops the storm too, without a StormStop (the campaign was interrupted). */
      outer?: AbortSignal;
      everyMs?: number;
      log?: (line: string) => void;
    },
  ) {
    // Every pending send and HTTP request of the storm listens to it.
    setMaxListeners(0, this.ac.signal);
  }

  /** Aborts when the storm must stop. */
  get signal(): AbortSignal {
    return this.ac.signal;
  }

  /** Why the storm stopped early; undefined while it runs or if it ran to its end. */
  get stopped(): StormStop | undefined {
    return this.stopInfo;
  }

  start(): this {
    this.t0 = Date.now();
    this.watcher = setInterval(() => this.look(), this.o.everyMs ?? 100);
    this.timer = setTimeout(() => this.stop({ motivo: 'limite' }), this.o.limiteMs);
    if (this.o.outer) {
      if (this.o.outer.aborted) this.ac.abort();
      else this.o.outer.addEventListener('abort', () => this.ac.abort(), { once: true });
    }
    this.look();
    return this;
  }

  /** Looks at every process once (also called by the watcher). */
  look(): void {
    if (this.ac.signal.aborted) return;
    const gone = this.o.procs.find((p) => !p.running());
    if (gone) this.stop({ motivo: 'caida', proceso: gone.nombre, ...(gone.pid !== undefined ? { pid: gone.pid } : {}) });
  }

  private stop(s: Pick<StormStop, 'motivo' | 'proceso' | 'pid'>): void {
    if (this.ac.signal.aborted) return;
    this.stopInfo = { ...s, trasMs: Date.now() - this.t0, ronda: this.round, rondas: this.o.rondas, limiteMs: this.o.limiteMs };
    this.o.log?.(describeStop(this.stopInfo));
    this.ac.abort();
  }

  /** The storm is over (ran to its end or stopped): no more looking. */
  close(): void {
    clearInterval(this.watcher);
    clearTimeout(this.timer);
  }
}

const seconds = (ms: number) => (ms / 1000).toFixed(ms < 10_000 ? 1 : 0);

export function describeStop(s: StormStop): string {
  const at = `${(s.trasMs / 1000).toFixed(1)} s into the storm (round ${s.ronda} of ${s.rondas})`;
  return s.motivo === 'caida'
    ? `storm stopped: ${s.proceso} (pid ${s.pid ?? '?'}) exited ${at}`
    : `storm cut short: not over after its limit of ${seconds(s.limiteMs)} s, ${at}; the figures cover only what was sent until then`;
}

/** `p`, or undefined as soon as `signal` aborts (a later rejection of `p` is then ignored). */
export function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  return new Promise<T | undefined>((resolve, reject) => {
    const onAbort = () => resolve(undefined);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        if (signal.aborted) resolve(undefined);
        else reject(err);
      },
    );
  });
}

/** A pause that ends early when `signal` aborts. */
export async function pause(ms: number, signal: AbortSignal): Promise<void> {
  await sleep(ms, undefined, { signal }).catch(() => undefined);
}
