/**
 * The GC's rules for one validated request, free of sockets: which ops go to an
 * actor, sync vs async, what is answered when. It resolves one Respuesta per
 * request; the frontend only sends it. Actor results come in via onResultado.
 * A state-changing op is keyed by the request's clave (idempotency); the client's
 * `id` travels with it as its label (`etiqueta`), for `estado`.
 */
import { acceptedReply, errorReply, now, replyFromResultado, sameOp, type OperacionActor, type OperacionSolicitada, type Respuesta, type Resultado, type Solicitud } from '../common/protocol/ps-gc.js';
import { ProtocolError } from '../common/errors.js';
import type { StorageClient } from '../common/storage-client.js';
import type { Arriendo } from '../common/protocol/internal.js';
import { logThisOne, type Logger } from '../common/logger.js';
import type { Modo, TaskTracker } from './task-tracker.js';
import type { Clock } from './actor-registry.js';

export interface DispatcherDeps {
  storage: StorageClient;
  tracker: TaskTracker;
  /** The GC's clock (the tracker's): leases are measured on it. */
  clock: Clock;
  modos: Record<OperacionActor, Modo>;
  /** This GC's lease on the async ops it records (its name and how long). */
  arriendo: Arriendo;
  /** A sync request with no final outcome by then is answered TIEMPO_AGOTADO. */
  syncTimeoutMs: number;
  /** A sync request whose task found no live actor for this long is answered SIN_ACTORES. */
  noActorMs: number;
  log: Logger;
}

interface Waiter {
  resolve(r: Respuesta): void;
  timer: NodeJS.Timeout;
}

/**
 * No outcome from storage: the actor got no answer from any GA. ALMACENAMIENTO_NO_DISPONIBLE:
 * not applied; TIEMPO_AGOTADO: a GA got it and never answered, so it may have been.
 * Re-publishing is safe either way (same op id).
 */
function isStorageFailure(r: Resultado): boolean {
  return (r.codigo === 'ALMACENAMIENTO_NO_DISPONIBLE' || r.codigo === 'TIEMPO_AGOTADO') && r.estado === undefined;
}

/** The GA's own ID_REUTILIZADO reply, for a clave the GC is still working on for another op. */
function reusedIdReply(op: OperacionSolicitada, tracked: OperacionSolicitada): Respuesta {
  return errorReply('ID_REUTILIZADO', `La clave ${op.id} ya se usó para otra solicitud (${tracked.operacion}); use una clave nueva`, op.id, { operacionRegistrada: tracked.operacion });
}

/** `estado` of an op the GC holds that has no ledger row yet (a sync op is recorded when applied): as the GA words a pending row. */
function inFlightEstadoReply(op: OperacionSolicitada): Respuesta {
  const datos: Record<string, unknown> = { estado: 'PENDIENTE', operacion: op.operacion, isbn: op.isbn, usuario: op.usuario };
  if (op.sede !== undefined) datos.sede = op.sede;
  datos.clave = op.id;
  if (op.etiqueta !== undefined) datos.etiqueta = op.etiqueta;
  datos.resultado = null;
  return { exito: true, codigo: 'OK', mensaje: `La operación ${op.id} está PENDIENTE`, fechaOperacion: now(), datos, id: op.id };
}

type SolicitudActor = Extract<Solicitud, { operacion: OperacionActor }>;

/** The op a request asks for, on the book it names: keyed by its clave, labelled with the client's id. */
function operacionDe(s: SolicitudActor, isbn: string): OperacionSolicitada {
  const op: OperacionSolicitada = { operacion: s.operacion, isbn, usuario: s.usuario, id: s.clave };
  if (s.id !== undefined) op.etiqueta = s.id;
  if (s.sede !== undefined) op.sede = s.sede;
  return op;
}

export class Dispatcher {
  /** Per op key: the op (what timedOut records) and the requests waiting for its outcome. */
  private readonly waiters = new Map<string, { op: OperacionSolicitada; set: Set<Waiter> }>();
  private closed = false;
  /** Closed without answering (close({ silent })): requests still arriving are left unanswered too. */
  private silent = false;
  /** Sync ops timing out whose ledger record is on its way (timedOut). */
  private readonly recorded = new Map<string, Promise<Respuesta>>();
  private strangerResults = 0;

  constructor(private readonly d: DispatcherDeps) {}

  /** Never rejects: every path ends in a reply. */
  async handle(s: Solicitud): Promise<Respuesta> {
    try {
      switch (s.operacion) {
        case 'consulta':
          return s.isbn !== undefined
            ? await this.fromStorage(() => this.d.storage.consultar(s.isbn!, s.clave), s.clave)
            : await this.fromStorage(() => this.d.storage.consultarTitulo(s.titulo ?? '', s.clave), s.clave);
        case 'estado': {
          // `id` names the op: its clave, else a client label (the GA answers the latest op with it).
          const r = await this.fromStorage(() => this.d.storage.estado(s.id), s.clave);
          const t = r.codigo === 'OPERACION_NO_ENCONTRADA' ? this.d.tracker.find(s.id) : undefined;
          return t ? inFlightEstadoReply(t.op) : r;
        }
        default: {
          const libro = await this.bookOf(s);
          if (typeof libro !== 'string') return libro;
          const op = operacionDe(s, libro);
          return this.d.modos[op.operacion] === 'sync' ? await this.sync(op) : await this.async(op);
        }
      }
    } catch (err) {
      this.d.log.error({ err, opId: s.clave }, 'request failed unexpectedly');
      return errorReply('ERROR_INTERNO', undefined, s.clave);
    }
  }

  /** The isbn a request names; a title is resolved by the GA (one match, else its refusal is the reply). */
  private async bookOf(s: SolicitudActor): Promise<string | Respuesta> {
    if (s.isbn !== undefined) return s.isbn;
    const r = await this.fromStorage(() => this.d.storage.consultarTitulo(s.titulo ?? '', s.clave), s.clave);
    if (r.codigo === 'OK' && typeof r.datos.isbn === 'string') {
      this.d.log.debug({ opId: s.clave, isbn: r.datos.isbn }, 'title resolved');
      return r.datos.isbn;
    }
    return r;
  }

  /** A resultado from an actor. Final outcomes answer sync requesters; "storage down" depends on the mode. */
  onResultado(actorId: string, r: Resultado): void {
    const id = r.id;
    if (id === undefined) {
      this.d.log.warn({ actorId, codigo: r.codigo }, 'actor result without op id; ignored');
      return;
    }
    const t = this.d.tracker.get(id);
    if (t && !t.holders.has(actorId)) {
      // Never given this task (a forged result over the plain backend port, or a stale actor of
      // an earlier run): only the actors it went to report its outcome. A late one of theirs still counts.
      if (logThisOne(++this.strangerResults, 20)) this.d.log.warn({ opId: id, actorId, count: this.strangerResults }, 'result from an actor that was not given this task; ignored');
      return;
    }
    if (t && !resultOf(r, t.op)) {
      // Another op under the same clave (one that ran late on a slow actor): its outcome is not this op's.
      this.d.log.warn({ opId: id, actorId, operacion: r.operacion, tracked: t.op.operacion }, 'result of another op under this clave; ignored');
      return;
    }
    if (isStorageFailure(r)) {
      if (!t) return;
      if (t.modo === 'async') {
        // Durable in the ledger: it must complete, so it goes out again after a backoff.
        if (this.d.tracker.retryLater(id, actorId)) this.d.log.debug({ opId: id, actorId }, 'storage down; async task will be re-published');
      } else if (t.actorId === actorId) {
        // A GA got it and never answered (TIEMPO_AGOTADO), it was published more than once (an
        // earlier actor's call may still reach a GA), or its timeout put it in the ledger: it may
        // be applied yet, so "not applied, retry" would be a promise we cannot keep. The task
        // stays (published again after a backoff, like an async op's) and whoever waits is told
        // TIEMPO_AGOTADO once it is recorded (timedOut): completed for certain.
        if (r.codigo === 'TIEMPO_AGOTADO' || t.intento > 1 || t.enLedger || this.recorded.has(id)) {
          this.d.tracker.retryLater(id, actorId);
          void this.settleTimedOut(t.op);
        } else {
          this.d.tracker.complete(id);
          this.settle(id, replyFromResultado({ ...r, id }));
        }
      }
      return;
    }
    if (r.estado === 'PENDIENTE') return; // not an outcome; the deadline will re-publish
    // COMPLETADA / RECHAZADA, or an error retrying cannot fix (e.g. ERROR_INTERNO): done.
    this.d.tracker.complete(id);
    this.settle(id, replyFromResultado({ ...r, id }));
  }

  /** Called periodically: sync requests whose task found no live actor are told SIN_ACTORES. */
  checkStarved(): void {
    for (const t of this.d.tracker.queuedLongerThan(this.d.noActorMs, 'sync')) {
      // Never published → certainly not applied: drop it so nothing applies it behind the user's back.
      // Published before (its actor died) → it may have been applied; keep it so it completes.
      // Unless its timeout put it in the ledger: that row is a promise it completes.
      if (t.intento === 0 && !t.enLedger) {
        this.d.tracker.complete(t.op.id);
        this.settle(t.op.id, errorReply('SIN_ACTORES', undefined, t.op.id));
      } else {
        // "Retry" would be wrong here: a retry under a new id could apply it twice.
        void this.settleTimedOut(t.op, 'Sin actores vivos para terminarla; se aplicará cuando vuelva uno: consulte su estado con su id');
      }
    }
  }

  waiting(): number {
    let n = 0;
    for (const { set } of this.waiters.values()) n += set.size;
    return n;
  }

  /**
   * Stops answering sync requests. `silent`: another GC is up, so the requests waiting here get
   * no answer at all: the PS sees the GC's port close and resends them, same clave, to the other
   * GC, which gives the real outcome (TIEMPO_AGOTADO from here would be final to a PS, and only
   * this GC knew the op). Alone, everyone waiting is told TIEMPO_AGOTADO as its timer would,
   * once its op is recorded (timedOut), waiting for that at most `recordMs`.
   */
  async close(o: { silent?: boolean; recordMs?: number } = {}): Promise<void> {
    this.closed = true;
    this.silent = !!o.silent;
    const recording: Promise<void>[] = [];
    for (const [id, { op, set }] of [...this.waiters]) {
      if (!this.silent) {
        recording.push(this.settleTimedOut(op));
        continue;
      }
      this.waiters.delete(id);
      for (const w of set) clearTimeout(w.timer);
    }
    if (recording.length > 0) await Promise.race([Promise.all(recording), new Promise((r) => setTimeout(r, o.recordMs ?? 1500).unref?.())]);
  }

  private async async(op: OperacionSolicitada): Promise<Respuesta> {
    const reused = this.reusedId(op);
    if (reused) return reused;
    // Durable first: ACEPTADO is a promise that the op will complete, even across a GC restart.
    const sentAt = this.d.clock.now();
    const r = await this.d.storage.registrar(op, this.d.arriendo).catch((err: unknown) => err);
    if (!isResultado(r)) return this.storageError(r, op.id);
    if (r.estado === 'PENDIENTE' || r.codigo === 'ACEPTADO') {
      const holder = r.datos.gestor;
      if (typeof holder === 'string' && holder !== this.d.arriendo.gestor) {
        // A repeat of an op another live GC recorded (the PS failed over from it): that GC
        // publishes it; if it is gone, its lease runs out and a GC's ledger scan takes it up.
        this.d.log.debug({ opId: op.id, gestor: holder }, 'async op held by another GC; not published here');
        return acceptedReply(op.id, op.operacion);
      }
      // The lease registrar took runs from its commit, so at least until sentAt + the lease. An
      // answer later than that (this GC was frozen or starved meanwhile) no longer proves the op is
      // ours to publish: another GC may have claimed it. Still accepted: it is recorded, and
      // whoever holds it (this GC's next ledger scan, if still this GC) publishes it.
      const leaseUntil = sentAt + this.d.arriendo.ms;
      if (this.d.clock.now() >= leaseUntil) {
        this.d.log.warn({ opId: op.id, ms: this.d.clock.now() - sentAt, leaseMs: this.d.arriendo.ms }, 'registrar answered after the lease; left to the ledger scan');
        return acceptedReply(op.id, op.operacion);
      }
      // 'conflict' (another op took the id while registrar ran): ours is the ledger row, so it is
      // accepted all the same; the ledger re-scan hands it out once the other op is done.
      const outcome = this.d.tracker.submit(op, 'async', leaseUntil);
      this.d.log.debug({ opId: op.id, outcome }, 'async op recorded');
      return acceptedReply(op.id, op.operacion);
    }
    // A repeated id that is already done (or an id reused for another op): its recorded outcome.
    return replyFromResultado({ ...r, id: r.id ?? op.id });
  }

  private sync(op: OperacionSolicitada): Promise<Respuesta> {
    // Closing silently: never answered; the PS resends to another GC (see close()).
    if (this.closed && this.silent) return new Promise<Respuesta>(() => undefined);
    if (this.closed) return Promise.resolve(errorReply('TIEMPO_AGOTADO', undefined, op.id));
    // Waiting on a task of another op under this id would hand us that op's outcome.
    const reused = this.reusedId(op);
    if (reused) return Promise.resolve(reused);
    return new Promise<Respuesta>((resolve) => {
      const w: Waiter = {
        resolve,
        timer: setTimeout(() => {
          // The task keeps going; the client can ask `estado` with its id (through any GC: recorded first).
          const entry = this.waiters.get(op.id);
          entry?.set.delete(w);
          if (entry?.set.size === 0) this.waiters.delete(op.id);
          void this.timedOut(op).then(resolve);
        }, this.d.syncTimeoutMs),
      };
      let entry = this.waiters.get(op.id);
      if (!entry) this.waiters.set(op.id, (entry = { op, set: new Set() }));
      entry.set.add(w);
      const outcome = this.d.tracker.submit(op, 'sync');
      this.d.log.debug({ opId: op.id, outcome }, 'sync op submitted');
    });
  }

  /** ID_REUTILIZADO if the GC is still working on this id for another op. */
  private reusedId(op: OperacionSolicitada): Respuesta | undefined {
    const held = this.d.tracker.get(op.id);
    return held && !sameOp(held.op, op) ? reusedIdReply(op, held.op) : undefined;
  }

  /** Everyone waiting for `op` is told it timed out, once it is recorded (timedOut). */
  private settleTimedOut(op: OperacionSolicitada, mensaje?: string): Promise<void> {
    const set = this.waiters.get(op.id)?.set;
    if (!set) return Promise.resolve();
    this.waiters.delete(op.id);
    for (const w of set) clearTimeout(w.timer);
    return this.timedOut(op, mensaje).then((r) => {
      for (const w of set) w.resolve(r);
    });
  }

  /**
   * The reply to a sync op that may still be applied (its task goes on: an actor holds it, or
   * one will). It says TIEMPO_AGOTADO "consulte su estado", so first the op is recorded in the
   * ledger, PENDIENTE under this GC's lease: a sync op has no ledger row until it is applied,
   * and without one every other GC's `estado` would answer OPERACION_NO_ENCONTRADA (a user then
   * tries again under a new clave, and both apply); if this GC dies, another one's ledger scan
   * takes the row and completes it. Applied meanwhile: its outcome is the reply. Storage
   * unreachable: TIEMPO_AGOTADO all the same (this GC still answers its `estado`). Once per op.
   */
  private timedOut(op: OperacionSolicitada, mensaje?: string): Promise<Respuesta> {
    const known = this.recorded.get(op.id);
    if (known) return known;
    const reply = (async (): Promise<Respuesta> => {
      let r: unknown;
      try {
        r = await this.d.storage.registrar(op, this.d.arriendo);
      } catch (err) {
        r = err;
      }
      if (!isResultado(r)) {
        this.d.log.warn({ err: r, opId: op.id }, 'timed-out sync op could not be recorded in the ledger; only this GC knows it');
        return errorReply('TIEMPO_AGOTADO', mensaje, op.id);
      }
      if (r.estado === 'PENDIENTE' || r.codigo === 'ACEPTADO') {
        const tracked = this.d.tracker.get(op.id);
        if (tracked) tracked.enLedger = true;
        return errorReply('TIEMPO_AGOTADO', mensaje, op.id);
      }
      // Done by now (or the clave belongs to another op): the ledger's answer.
      return replyFromResultado({ ...r, id: r.id ?? op.id });
    })();
    // Shared by the waiters timing out together; a later timeout asks the ledger again.
    this.recorded.set(op.id, reply);
    void reply.finally(() => this.recorded.delete(op.id));
    return reply;
  }

  private settle(id: string, reply: Respuesta): void {
    const set = this.waiters.get(id)?.set;
    if (!set) return;
    this.waiters.delete(id);
    for (const w of set) {
      clearTimeout(w.timer);
      w.resolve(reply);
    }
  }

  private async fromStorage(call: () => Promise<Resultado>, id: string): Promise<Respuesta> {
    const r = await call().catch((err: unknown) => err);
    if (!isResultado(r)) return this.storageError(r, id);
    return replyFromResultado({ ...r, id: r.id ?? id });
  }

  private storageError(err: unknown, id: string): Respuesta {
    if (err instanceof ProtocolError) {
      this.d.log.warn({ err, opId: id }, 'storage call failed');
      return errorReply(err.codigo, undefined, id);
    }
    this.d.log.error({ err, opId: id }, 'storage call failed unexpectedly');
    return errorReply('ERROR_INTERNO', undefined, id);
  }
}

function isResultado(x: unknown): x is Resultado {
  return typeof x === 'object' && x !== null && !(x instanceof Error) && 'codigo' in x && 'exito' in x;
}

/**
 * Whether an actor's result is about this op, not another one that used its clave: the
 * GA's results name the operation, and the library ones its isbn and usuario.
 */
export function resultOf(r: Resultado, op: OperacionSolicitada): boolean {
  const d = r.datos;
  return (
    (r.operacion === undefined || r.operacion === op.operacion) &&
    (typeof d.isbn !== 'string' || d.isbn === op.isbn) &&
    (typeof d.usuario !== 'string' || d.usuario === op.usuario)
  );
}
