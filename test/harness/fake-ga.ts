/**
 * A scriptable GA for storage-client tests: a real zeromq ROUTER on 127.0.0.1 that
 * records every request and answers according to the current behaviour (answer
 * ok, answer a failure code, answer late, never answer), and can die and come
 * back on the same port.
 */
import { Router } from 'zeromq';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino, type Logger } from 'pino';
import type { StorageClientConfig } from '../../common/config.js';
import { parseBatch } from '../../common/protocol/frame.js';
import { gaRequestSchema, type Fencing, type GaFailureCode, type GaRequest, type Pendiente } from '../../common/protocol/internal.js';
import type { Resultado } from '../../common/protocol/ps-gc.js';

export type FakeGaBehaviour =
  | { kind: 'ok'; resultado?: Resultado | null; pendientes?: Pendiente[]; fencing?: Fencing; delayMs?: number }
  | { kind: 'fail'; codigo: GaFailureCode; mensaje?: string; delayMs?: number; incierta?: true; ocupado?: true }
  | { kind: 'silent' };

export type FakeGaScript = FakeGaBehaviour | ((req: GaRequest, n: number) => FakeGaBehaviour);

/** A plausible Resultado echoing the request, for ok replies that do not specify one. */
export function resultadoFor(req: GaRequest): Resultado {
  const id = 'op' in req ? req.op.id : 'id' in req ? req.id : undefined;
  return {
    ...(id !== undefined ? { id } : {}),
    exito: true,
    codigo: 'OK',
    mensaje: `fake ${req.orden}`,
    datos: { ref: req.ref },
    fechaOperacion: new Date(0).toISOString(),
  };
}

export class FakeGa {
  readonly endpoint: string;
  /** Every well-formed request received, in order, across restarts. */
  readonly received: GaRequest[] = [];
  private router: Router | undefined;
  private loop: Promise<void> | undefined;
  private sendChain: Promise<unknown> = Promise.resolve();
  private timers = new Set<NodeJS.Timeout>();

  constructor(
    readonly port: number,
    public script: FakeGaScript = { kind: 'ok' },
  ) {
    this.endpoint = `tcp://127.0.0.1:${port}`;
  }

  static async start(port: number, script?: FakeGaScript): Promise<FakeGa> {
    const ga = new FakeGa(port, script);
    await ga.start();
    return ga;
  }

  get running(): boolean {
    return this.router !== undefined;
  }

  /** Binds (again) on the same port; retries briefly while the OS still holds it. */
  async start(): Promise<void> {
    if (this.router) return;
    for (let i = 0; ; i++) {
      const router = new Router({ linger: 0 });
      try {
        await router.bind(this.endpoint);
        this.router = router;
        break;
      } catch (err) {
        router.close();
        if (i >= 50) throw err;
        await sleep(20);
      }
    }
    this.loop = this.serve(this.router);
  }

  /** Dies: closes the socket; delayed replies still scheduled are dropped. */
  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const router = this.router;
    if (!router) return;
    this.router = undefined;
    router.close();
    await this.loop;
  }

  count(orden?: GaRequest['orden']): number {
    return orden ? this.received.filter((r) => r.orden === orden).length : this.received.length;
  }

  private async serve(router: Router): Promise<void> {
    try {
      for await (const [identity, frame] of router) {
        // One request or a batch (the storage client packs what it had queued at once); each answered alone.
        if (!identity) continue;
        for (const req of parseBatch(gaRequestSchema, frame, 1024 * 1024).items) {
          this.received.push(req);
          const b = typeof this.script === 'function' ? this.script(req, this.received.length) : this.script;
          this.respond(router, identity, req, b);
        }
      }
    } catch {
      /* closed while receiving */
    }
  }

  private respond(router: Router, identity: Buffer, req: GaRequest, b: FakeGaBehaviour): void {
    if (b.kind === 'silent') return;
    const body =
      b.kind === 'ok'
        ? {
            ref: req.ref,
            exito: true,
            ...(b.resultado === null ? {} : { resultado: b.resultado ?? resultadoFor(req) }),
            ...(b.pendientes ? { pendientes: b.pendientes } : {}),
            ...(b.fencing ? { fencing: b.fencing } : {}),
          }
        : { ref: req.ref, exito: false, codigo: b.codigo, mensaje: b.mensaje ?? b.codigo, ...(b.incierta ? { incierta: true } : {}), ...(b.ocupado ? { ocupado: true } : {}) };
    const send = () => {
      if (this.router !== router) return;
      // Serialised: zeromq.js rejects a send while another is pending (EBUSY).
      this.sendChain = this.sendChain.then(() => router.send([identity, JSON.stringify(body)])).catch(() => undefined);
    };
    if (b.delayMs) {
      const t = setTimeout(() => {
        this.timers.delete(t);
        send();
      }, b.delayMs);
      this.timers.add(t);
    } else send();
  }
}

/** Storage-client configuration for tests: short timeouts unless overridden. */
export function clientConfig(endpoints: string[], o: Partial<StorageClientConfig> = {}): StorageClientConfig {
  return {
    GA_ENDPOINTS: endpoints,
    GA_TIMEOUT_MS: 1000,
    GA_MAX_ATTEMPTS: 6,
    GA_BREAKER_FAILURES: 3,
    GA_BREAKER_RESET_MS: 2000,
    ...o,
  };
}

/** A debug-level pino logger whose lines are kept in memory for assertions. */
export function captureLogger(): { log: Logger; lines: Record<string, unknown>[]; messages(): string[] } {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  return { log, lines, messages: () => lines.map((l) => String(l.msg)) };
}
