/**
 * The drills' load: N closed-loop PS clients, each with its own DEALER sockets
 * to the GCs (like N separate PS processes) and its own usuario, looping
 * préstamo → renovación → devolución over a few shared books so they contend.
 * The clients are spread over the GCs like PS of every sede: client i puts the
 * (i mod n)-th GC first and fails over down the rest of the list.
 *
 * Every operation has its clave (the op's key in the ledger); an attempt that gets no
 * reply within the PS timeout, or an "unavailable" reply (ALMACENAMIENTO_NO_DISPONIBLE,
 * SIN_ACTORES, TIEMPO_AGOTADO, ERROR_INTERNO), is retried with the SAME clave — what a careful
 * PS does, and what makes "acknowledged ops lost / applied twice" meaningful.
 * Each attempt is recorded with its send and end time: recovery and failures
 * are computed from them (report.ts).
 */
import { errorClass } from '../../common/protocol/codes.js';
import type { OperacionActor, Respuesta } from '../../common/protocol/ps-gc.js';
import { GcPipelineClient } from '../../solicitante/gc-pipeline.js';
import { rotated } from '../../solicitante/load.js';
import { GcNoReplyError } from '../../solicitante/errors.js';

export interface Attempt {
  /** Which of the load's clients (PS) sent it. */
  cliente: number;
  opId: string;
  operacion: OperacionActor;
  /** ms since epoch */
  sentAt: number;
  endAt: number;
  /** 'timeout' = no reply within the PS timeout. */
  outcome: 'reply' | 'timeout';
  codigo?: string;
  exito?: boolean;
  /** The GC that answered. */
  gc?: string;
}

export interface DrillLoadOptions {
  /** Every GC's PS endpoint, in one sede's order. */
  gcEndpoints: string[];
  clients: number;
  isbns: string[];
  /** Prefix of usuarios and op ids: keeps one drill's data apart from another's. */
  prefix: string;
  /** PS timeout per attempt. */
  timeoutMs: number;
  /** Attempts per operation (first send + retries with the same id). */
  maxAttempts: number;
  /** Pause before retrying after an "unavailable" reply. */
  retryDelayMs: number;
}

const OPS: readonly OperacionActor[] = ['prestamo', 'renovacion', 'devolucion'];

/** A reply that says "the service could not do it now" (retry), as opposed to a final outcome. */
export function isUnavailable(codigo: string): boolean {
  const c = errorClass(codigo);
  return c === 'unavailable' || c === 'internal';
}

/** A failed request: no reply within the PS timeout, or an "unavailable" reply. */
export function isFailedAttempt(a: Pick<Attempt, 'outcome' | 'codigo'>): boolean {
  return a.outcome === 'timeout' || isUnavailable(a.codigo ?? '');
}

export function isAcknowledged(codigo: string | undefined): codigo is 'APROBADO' | 'ACEPTADO' {
  return codigo === 'APROBADO' || codigo === 'ACEPTADO';
}

export class DrillLoad {
  readonly attempts: Attempt[] = [];
  /** Op id → the acknowledging code (APROBADO / ACEPTADO). */
  readonly acknowledged = new Map<string, 'APROBADO' | 'ACEPTADO'>();
  /** Ops that never got a final reply (every attempt failed, or the load stopped mid-retry). */
  readonly abandoned: string[] = [];
  /** Op id → its final reply that is not an acknowledgement (a rule's refusal): checks.ts compares it with the ledger. */
  readonly rechazadas = new Map<string, { codigo: string; at: number }>();
  /** Devolución op id → its cycle's préstamo op id (checks.ts: a promised return must take the book back). */
  readonly prestamoDe = new Map<string, string>();
  /** A client that failed other than by a missing reply: the load stops, and stop() throws it. */
  private failure: { error: unknown } | undefined;
  private stopping = false;
  private running: Promise<void> | undefined;
  private readonly clients: GcPipelineClient[] = [];

  constructor(private readonly o: DrillLoadOptions) {}

  start(): this {
    // Handled at once: unhandled, a client's error ended the process with no report and no clean-up.
    this.running = Promise.all(Array.from({ length: this.o.clients }, (_, i) => this.client(i))).then(
      () => undefined,
      (error: unknown) => {
        this.failure = { error };
        this.stopping = true;
      },
    );
    return this;
  }

  /** Stops starting operations and retries; waits for attempts in flight (at most one PS timeout). */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.running;
    for (const c of this.clients) c.close();
    if (this.failure) throw this.failure.error;
  }

  private async client(i: number): Promise<void> {
    // retries 0: this loop does the retrying, so every attempt is visible.
    const c = new GcPipelineClient({ endpoints: rotated(this.o.gcEndpoints, i), timeoutMs: this.o.timeoutMs, retries: 0 });
    this.clients.push(c);
    const usuario = `${this.o.prefix}-${i}`;
    /** The book this client has on loan (its cycle's préstamo applied, its devolución not yet acknowledged). */
    let prestado: string | undefined;
    for (let n = 0; !this.stopping; n++) {
      const operacion = OPS[n % 3]!;
      const isbn = this.o.isbns[(i + Math.floor(n / 3)) % this.o.isbns.length]!;
      const opId = `${this.o.prefix}-${i}-${n}`;
      if (operacion === 'devolucion') this.prestamoDe.set(opId, `${this.o.prefix}-${i}-${n - 2}`);
      let final = false;
      for (let k = 0; k < this.o.maxAttempts && !final && !(this.stopping && k > 0); k++) {
        if (k > 0) await new Promise((r) => setTimeout(r, this.o.retryDelayMs));
        const sentAt = Date.now();
        let r: Respuesta | undefined;
        let gc: string | undefined;
        try {
          // The clave, not an id label: only the clave makes a resend the same operation.
          ({ respuesta: r, endpoint: gc } = await c.request({ operacion, isbn, usuario, clave: opId }));
        } catch (err) {
          if (!(err instanceof GcNoReplyError)) {
            if (this.stopping) break;
            throw err;
          }
        }
        const a: Attempt = { cliente: i, opId, operacion, sentAt, endAt: Date.now(), outcome: r ? 'reply' : 'timeout', codigo: r?.codigo, exito: r?.exito, gc };
        this.attempts.push(a);
        final = !!r && !isUnavailable(r.codigo);
        if (r && isAcknowledged(r.codigo)) this.acknowledged.set(opId, r.codigo);
        else if (r && final) this.rechazadas.set(opId, { codigo: r.codigo, at: a.endAt });
        if (r && operacion === 'prestamo' && r.codigo === 'APROBADO') prestado = isbn;
        if (r && operacion === 'devolucion' && final) prestado = undefined;
      }
      if (!final) this.abandoned.push(opId);
    }
    // Stopped mid-cycle: give the copy back (clean-up, not load: not recorded). Left on loan, it
    // stayed lent for good, and the next drill on the same deployment met SIN_EJEMPLARES.
    if (prestado) await c.request({ operacion: 'devolucion', isbn: prestado, usuario, clave: `${this.o.prefix}-${i}-fin` }).catch(() => undefined);
  }
}
