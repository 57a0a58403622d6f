/**
 * The real GC and real actors in-process over real ZeroMQ sockets, with an
 * in-memory StorageClient defined here (a Map ledger that applies each id once).
 * The GA/PostgreSQL path is covered by the end-to-end tests.
 */
import { describe, expect, it } from 'vitest';
import { Dealer, Request } from 'zeromq';
import { freePorts } from '../harness/ports.js';
import { startGc, type GcHandle } from '../../gestor_carga/gc.js';
import { startActor, type ActorHandle } from '../../actores/actor.js';
import { ACTOR_VARS, GC_VARS, readConfig } from '../../common/config.js';
import { StorageUnavailableError } from '../../common/errors.js';
import type { StorageClient } from '../../common/storage-client.js';
import type { Arriendo, GestorVisto, InformeGc, Pendiente } from '../../common/protocol/internal.js';
import { OPERACIONES_ACTOR, type OperacionActor, type OperacionSolicitada, type Respuesta, type Resultado } from '../../common/protocol/ps-gc.js';
import { eventually } from '../harness/eventually.js';
import { FAST_GC_TIMING, cleanupAfterEach, testLog as log } from '../harness/fixtures.js';


// ------------------------------------------------------------ in-memory storage
/** `gestor`/`hasta`: the lease of a pending row, as 006_arriendos.sql keeps it. */
interface Row { op: OperacionSolicitada; resultado?: Resultado; registrada: string; gestor?: string; hasta?: number }

class MemoryStorage implements StorageClient {
  readonly ledger = new Map<string, Row>();
  readonly stock = new Map<string, number>([['978-1', 5], ['978-2', 1]]);
  readonly loans = new Set<string>();
  /** Applications that changed state (each op id at most once). */
  effects = 0;
  aplicarCalls = 0;
  down = false;
  aplicarDown = false;
  /** aplicar fails as a GA that got the write and never answered would (it may have committed). */
  aplicarUnknown = false;
  registrarCalls = 0;
  delayMs = 0;
  /** Only aplicar is this slow (an actor's call that outlasts the GC's sync timeout). */
  aplicarDelayMs = 0;

  private async gate(extraMs = 0): Promise<void> {
    if (this.delayMs + extraMs) await new Promise((r) => setTimeout(r, this.delayMs + extraMs));
    if (this.down) throw new StorageUnavailableError('memory storage is down');
  }

  private res(op: OperacionSolicitada, estado: Resultado['estado'], codigo: Resultado['codigo'], datos: Record<string, unknown> = {}): Resultado {
    return { id: op.id, operacion: op.operacion, estado, exito: codigo === 'APROBADO' || codigo === 'ACEPTADO', codigo, mensaje: codigo, datos, fechaOperacion: new Date().toISOString() };
  }

  private apply(op: OperacionSolicitada): Resultado {
    const loan = `${op.isbn}|${op.usuario}`;
    const disp = this.stock.get(op.isbn);
    if (disp === undefined) return this.res(op, 'RECHAZADA', 'LIBRO_NO_EXISTE');
    if (op.operacion === 'prestamo') {
      if (this.loans.has(loan)) return this.res(op, 'RECHAZADA', 'PRESTAMO_ACTIVO');
      if (disp === 0) return this.res(op, 'RECHAZADA', 'SIN_EJEMPLARES');
      this.stock.set(op.isbn, disp - 1);
      this.loans.add(loan);
    } else {
      if (!this.loans.has(loan)) return this.res(op, 'RECHAZADA', 'PRESTAMO_NO_ENCONTRADO');
      if (op.operacion === 'devolucion') {
        this.loans.delete(loan);
        this.stock.set(op.isbn, disp + 1);
      }
    }
    this.effects++;
    return this.res(op, 'COMPLETADA', 'APROBADO', { disponibles: this.stock.get(op.isbn) });
  }

  async call(): Promise<never> {
    throw new Error('not used');
  }
  async aplicar(op: OperacionSolicitada): Promise<Resultado> {
    this.aplicarCalls++;
    await this.gate(this.aplicarDelayMs);
    if (this.aplicarDown) throw new StorageUnavailableError('memory storage is down for aplicar');
    if (this.aplicarUnknown) throw new StorageUnavailableError('memory GA silent after receiving', { outcomeUnknown: true });
    const row = this.ledger.get(op.id);
    if (row?.resultado) return row.resultado;
    const r = this.apply(op);
    this.ledger.set(op.id, { op, resultado: r, registrada: row?.registrada ?? new Date().toISOString() });
    return r;
  }
  async registrar(op: OperacionSolicitada, arriendo?: Arriendo): Promise<Resultado> {
    this.registrarCalls++;
    await this.gate();
    let row = this.ledger.get(op.id);
    if (row?.resultado) return row.resultado;
    if (!row) this.ledger.set(op.id, (row = { op, registrada: new Date().toISOString() }));
    if (arriendo && (!row.gestor || row.gestor === arriendo.gestor || (row.hasta ?? 0) < Date.now())) {
      row.gestor = arriendo.gestor;
      row.hasta = Date.now() + arriendo.ms;
    }
    return this.res(op, 'PENDIENTE', 'ACEPTADO', row.gestor ? { gestor: row.gestor } : {});
  }
  async consultar(isbn: string, opId?: string): Promise<Resultado> {
    await this.gate();
    const disp = this.stock.get(isbn);
    const r = { id: opId, exito: disp !== undefined, codigo: disp === undefined ? 'LIBRO_NO_EXISTE' : 'OK', mensaje: 'consulta', datos: { isbn, disponibles: disp }, fechaOperacion: new Date().toISOString() } as Resultado;
    return r;
  }
  /** Titles: `Libro <isbn>` for each book in stock; `Repetido` names two books. */
  async consultarTitulo(titulo: string, opId?: string): Promise<Resultado> {
    await this.gate();
    const hits = titulo.toLowerCase() === 'repetido' ? ['978-1', '978-2'] : [...this.stock.keys()].filter((isbn) => `libro ${isbn}` === titulo.toLowerCase());
    if (hits.length === 1) return this.consultar(hits[0]!, opId);
    const codigo = hits.length === 0 ? 'LIBRO_NO_EXISTE' : 'TITULO_AMBIGUO';
    return { id: opId, exito: false, codigo, mensaje: codigo, datos: { titulo }, fechaOperacion: new Date().toISOString() } as Resultado;
  }
  async estado(id: string): Promise<Resultado> {
    await this.gate();
    const row = this.ledger.get(id);
    if (!row) return { id, exito: false, codigo: 'OPERACION_NO_ENCONTRADA', mensaje: 'no', datos: {}, fechaOperacion: new Date().toISOString() };
    return row.resultado ?? this.res(row.op, 'PENDIENTE', 'ACEPTADO');
  }
  async pendientes(limite: number): Promise<Pendiente[]> {
    await this.gate();
    return [...this.ledger.values()].filter((r) => !r.resultado).slice(0, limite).map((r) => ({ op: r.op, registrada: r.registrada, intentos: 0 }));
  }
  async reclamar(gestor: InformeGc, arriendoMs: number, limite: number): Promise<{ pendientes: Pendiente[]; gestores: GestorVisto[] }> {
    await this.gate();
    const now = Date.now();
    const mine: Pendiente[] = [];
    for (const r of this.ledger.values()) {
      if (r.resultado) continue;
      const claimed = !r.gestor || (r.gestor !== gestor.id && (r.hasta ?? 0) < now);
      if (claimed || r.gestor === gestor.id) {
        r.gestor = gestor.id;
        r.hasta = now + arriendoMs;
        if (mine.length < limite) mine.push({ op: r.op, registrada: r.registrada, intentos: 0, reclamada: claimed });
      }
    }
    return { pendientes: mine, gestores: [{ id: gestor.id, informe: gestor, vistoHaceMs: 0 }] };
  }
  status() {
    return [];
  }
  fencing() {
    return undefined;
  }
  async close(): Promise<void> {}
}

// ------------------------------------------------------------ harness
const defer = cleanupAfterEach();

const TIMING = FAST_GC_TIMING;

async function ports() {
  const [f, p, b] = await freePorts(3);
  return { front: `tcp://127.0.0.1:${f}`, pub: `tcp://127.0.0.1:${p}`, back: `tcp://127.0.0.1:${b}` };
}
type Ports = Awaited<ReturnType<typeof ports>>;

async function gc(storage: StorageClient, p: Ports, env: Record<string, string> = {}): Promise<GcHandle> {
  const cfg = readConfig(GC_VARS, { ...TIMING, GC_FRONTEND_BIND: p.front, GC_PUB_BIND: p.pub, GC_BACKEND_BIND: p.back, ...env });
  // A port just released by a closed GC can take a moment to be free again.
  for (let i = 0; ; i++) {
    try {
      const h = await startGc(cfg, log, { storage, ledgerScanMs: 300 });
      defer(() => h.close());
      return h;
    } catch (err) {
      if (i > 40) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

async function actor(storage: StorageClient, p: Ports, tipo: OperacionActor, id: string): Promise<ActorHandle> {
  const cfg = readConfig(ACTOR_VARS, { ...TIMING, GC_PUB_ENDPOINT: p.pub, GC_BACKEND_ENDPOINT: p.back });
  const a = await startActor({ ...cfg, ACTOR_TIPOS: [tipo], ACTOR_ID: id }, log, { storage });
  defer(() => a.kill());
  return a;
}

async function liveActors(g: GcHandle, tipo: OperacionActor, n: number): Promise<void> {
  await eventually(`${n} live ${tipo} actors`, () => g.status().actoresVivos[tipo] >= n, 5000);
}

/** A DEALER client with many requests in flight, replies matched by clave (or by id). */
function dealerClient(endpoint: string) {
  const sock = new Dealer({ linger: 0, receiveTimeout: 10_000 });
  sock.connect(endpoint);
  defer(() => sock.close());
  return {
    sock,
    async send(frames: Array<Buffer | string>): Promise<void> {
      await sock.send(frames);
    },
    async recv(): Promise<Respuesta> {
      const frames = await sock.receive();
      return JSON.parse(frames[frames.length - 1]!.toString()) as Respuesta;
    },
    /** Sends all requests at once and returns replies in request order. */
    async many(reqs: unknown[]): Promise<Respuesta[]> {
      for (const r of reqs) await sock.send(JSON.stringify(r));
      const got: Respuesta[] = [];
      for (let i = 0; i < reqs.length; i++) got.push(await this.recv());
      // A request's clave comes back as `clave`; one without a clave (estado) is matched by its id.
      return reqs.map((r) => {
        const q = r as { id?: string; clave?: string };
        return got.find((g) => (q.clave ? g.clave === q.clave : g.id === q.id))!;
      });
    },
  };
}

async function reqOnce(endpoint: string, body: string | Buffer): Promise<Respuesta> {
  const sock = new Request({ linger: 0, receiveTimeout: 10_000 });
  defer(() => sock.close());
  sock.connect(endpoint);
  await sock.send(body);
  const [reply] = await sock.receive();
  sock.close();
  return JSON.parse(reply!.toString()) as Respuesta;
}

// ------------------------------------------------------------ tests
describe('GC with actors over ZeroMQ', () => {
  it('sync préstamo is applied by an actor and answered with its final outcome', async () => {
    const storage = new MemoryStorage();
    const p = await ports();
    const g = await gc(storage, p);
    await actor(storage, p, 'prestamo', 'p1');
    await liveActors(g, 'prestamo', 1);
    const c = dealerClient(p.front);
    const [r] = await c.many([{ operacion: 'prestamo', isbn: '978-1', usuario: 'u1', clave: 'op-1' }]);
    expect(r).toMatchObject({ exito: true, codigo: 'APROBADO', id: 'op-1' });
    expect(storage.stock.get('978-1')).toBe(4);
    const [again] = await c.many([{ operacion: 'prestamo', isbn: '978-1', usuario: 'u1', clave: 'op-2' }]);
    expect(again).toMatchObject({ exito: false, codigo: 'PRESTAMO_ACTIVO' });
  });

  it('async devolución is ACEPTADO once recorded, then applied by an actor', async () => {
    const storage = new MemoryStorage();
    storage.loans.add('978-1|u1');
    storage.stock.set('978-1', 4);
    const p = await ports();
    const g = await gc(storage, p);
    await actor(storage, p, 'devolucion', 'd1');
    await liveActors(g, 'devolucion', 1);
    const c = dealerClient(p.front);
    const [r] = await c.many([{ operacion: 'devolucion', isbn: '978-1', usuario: 'u1', clave: 'dev-1' }]);
    expect(r).toMatchObject({ exito: true, codigo: 'ACEPTADO', id: 'dev-1', datos: { estado: 'PENDIENTE' } });
    await eventually('devolución applied', () => storage.ledger.get('dev-1')?.resultado?.estado === 'COMPLETADA', 5000);
    expect(storage.stock.get('978-1')).toBe(5);
    const [e] = await c.many([{ operacion: 'estado', id: 'dev-1' }]);
    expect(e).toMatchObject({ codigo: 'APROBADO', datos: { disponibles: 5 } });
    // Repeating a finished async clave returns its outcome and publishes nothing.
    const calls = storage.aplicarCalls;
    const [rep] = await c.many([{ operacion: 'devolucion', isbn: '978-1', usuario: 'u1', clave: 'dev-1' }]);
    expect(rep).toMatchObject({ codigo: 'APROBADO' });
    await new Promise((r) => setTimeout(r, 100));
    expect(storage.aplicarCalls).toBe(calls);
    expect(g.status().tareas.total).toBe(0);
  });

  it('the same clave twice gives one effect: concurrent copies share one task, a later copy gets the record', async () => {
    const storage = new MemoryStorage();
    storage.delayMs = 100;
    const p = await ports();
    // A deadline no stalled test host reaches: a re-delivery would be a second aplicar too.
    const g = await gc(storage, p, { GC_TASK_DEADLINE_MS: '10000' });
    const a = await actor(storage, p, 'prestamo', 'p1');
    await liveActors(g, 'prestamo', 1);
    const c1 = dealerClient(p.front);
    const c2 = dealerClient(p.front);
    const req = { operacion: 'prestamo', isbn: '978-1', usuario: 'u9', clave: 'same-1' };
    const [r1, r2] = await Promise.all([c1.many([req]), c2.many([req])]);
    expect(r1[0]).toMatchObject({ codigo: 'APROBADO', id: 'same-1' });
    expect(r2[0]).toEqual(r1[0]);
    expect(storage.aplicarCalls).toBe(1); // attached to the task in flight: published once
    const [r3] = await c1.many([req]);
    expect(r3).toMatchObject({ codigo: 'APROBADO', id: 'same-1' });
    expect(storage.effects).toBe(1);
    expect(storage.stock.get('978-1')).toBe(4);
    expect(a.status().completadas).toBe(2);
  });

  it('a clave in flight for another op is refused ID_REUTILIZADO, never handed the other op\'s outcome', async () => {
    const storage = new MemoryStorage();
    storage.delayMs = 800;
    storage.loans.add('978-2|u2');
    const p = await ports();
    const g = await gc(storage, p);
    await actor(storage, p, 'prestamo', 'p1');
    await actor(storage, p, 'renovacion', 'r1');
    await actor(storage, p, 'devolucion', 'd1');
    await liveActors(g, 'renovacion', 1);
    await liveActors(g, 'devolucion', 1);
    const c1 = dealerClient(p.front);
    const c2 = dealerClient(p.front);
    const first = c1.many([{ operacion: 'prestamo', isbn: '978-1', usuario: 'u1', clave: 'reuse-1' }]);
    await eventually('the préstamo in flight', () => storage.aplicarCalls === 1, 2000);
    storage.delayMs = 0; // the préstamo's aplicar keeps its 800 ms; what follows is answered at once
    // While it runs (no ledger row yet), estado says it is pending rather than unknown.
    const [e] = await c2.many([{ operacion: 'estado', id: 'reuse-1' }]);
    expect(e).toMatchObject({ exito: true, codigo: 'OK', id: 'reuse-1', datos: { estado: 'PENDIENTE', operacion: 'prestamo', isbn: '978-1', usuario: 'u1' } });
    // The same clave for a sync renovación and for an async devolución (which would otherwise be registered first).
    const [sync] = await c2.many([{ operacion: 'renovacion', isbn: '978-2', usuario: 'u2', clave: 'reuse-1' }]);
    expect(sync).toMatchObject({ exito: false, codigo: 'ID_REUTILIZADO', id: 'reuse-1', datos: { operacionRegistrada: 'prestamo' } });
    const [async] = await c2.many([{ operacion: 'devolucion', isbn: '978-2', usuario: 'u2', clave: 'reuse-1' }]);
    expect(async).toMatchObject({ exito: false, codigo: 'ID_REUTILIZADO', id: 'reuse-1' });
    const [r1] = await first;
    expect(r1).toMatchObject({ exito: true, codigo: 'APROBADO', id: 'reuse-1' });
    expect(storage.aplicarCalls).toBe(1);
    expect(storage.registrarCalls).toBe(0);
    expect(storage.effects).toBe(1);
    expect(storage.loans.has('978-2|u2')).toBe(true);
  });

  it('an id without a clave is only a label: every request with it is a new op, estado answers the latest', async () => {
    const storage = new MemoryStorage();
    const p = await ports();
    const g = await gc(storage, p);
    await actor(storage, p, 'prestamo', 'p1');
    await actor(storage, p, 'devolucion', 'd1');
    await liveActors(g, 'prestamo', 1);
    await liveActors(g, 'devolucion', 1);
    const label = '978-1_u7';
    const send = (operacion: string) => reqOnce(p.front, JSON.stringify({ operacion, isbn: '978-1', usuario: 'u7', id: label }));
    const loan = await send('prestamo');
    expect(loan).toMatchObject({ codigo: 'APROBADO', id: label });
    // The same label again is a second préstamo, refused by the rule, not the first one's record.
    expect(await send('prestamo')).toMatchObject({ codigo: 'PRESTAMO_ACTIVO', id: label });
    const dev = await send('devolucion');
    expect(dev).toMatchObject({ codigo: 'ACEPTADO', id: label });
    expect(new Set([loan.clave, dev.clave]).size).toBe(2);
    await eventually('devolución applied', () => storage.ledger.get(dev.clave!)?.resultado?.estado === 'COMPLETADA', 5000);
    expect(storage.effects).toBe(2);
    // estado by its clave finds that op.
    expect(await reqOnce(p.front, JSON.stringify({ operacion: 'estado', id: loan.clave }))).toMatchObject({ codigo: 'APROBADO', id: loan.clave });
  });

  it('a book named by title is resolved before anything is applied; no match or several → a clear code, nothing applied', async () => {
    const storage = new MemoryStorage();
    const p = await ports();
    const g = await gc(storage, p);
    await actor(storage, p, 'prestamo', 'p1');
    await liveActors(g, 'prestamo', 1);
    const byTitle = (titulo: string, usuario = 'ut') => reqOnce(p.front, JSON.stringify({ operacion: 'prestamo', isbn: null, titulo, usuario, id: null }));
    expect(await byTitle('Libro 978-1')).toMatchObject({ exito: true, codigo: 'APROBADO' });
    expect(storage.stock.get('978-1')).toBe(4);
    expect(storage.loans.has('978-1|ut')).toBe(true);
    expect(await byTitle('Repetido', 'ut2')).toMatchObject({ exito: false, codigo: 'TITULO_AMBIGUO' });
    expect(await byTitle('No existe', 'ut3')).toMatchObject({ exito: false, codigo: 'LIBRO_NO_EXISTE' });
    expect(storage.aplicarCalls).toBe(1);
    expect(await reqOnce(p.front, JSON.stringify({ operacion: 'consulta', titulo: 'Libro 978-2' }))).toMatchObject({ codigo: 'OK', datos: { isbn: '978-2', disponibles: 1 } });
  });

  it('an actor that got no answer from a GA that had the write → TIEMPO_AGOTADO (ask estado), not "retry"; the task stays and completes once the GA answers', async () => {
    const storage = new MemoryStorage();
    storage.aplicarUnknown = true;
    const p = await ports();
    const g = await gc(storage, p);
    await actor(storage, p, 'prestamo', 'p1');
    await liveActors(g, 'prestamo', 1);
    const r = await reqOnce(p.front, JSON.stringify({ operacion: 'prestamo', isbn: '978-1', usuario: 'u1', clave: 'unknown-1' }));
    expect(r).toMatchObject({ exito: false, codigo: 'TIEMPO_AGOTADO', id: 'unknown-1' });
    // Kept (it may be applied): published again until an outcome, which the ledger then has.
    expect(g.status().tareas.total).toBe(1);
    storage.aplicarUnknown = false;
    await eventually('unknown-1 applied', () => storage.ledger.get('unknown-1')?.resultado?.estado === 'COMPLETADA', 5000);
    expect(storage.effects).toBe(1);
  });

  it('a GA that never answered and a registrar that fails too: TIEMPO_AGOTADO, and the task stays, so this GC still knows it and completes it', async () => {
    const storage = new MemoryStorage();
    storage.aplicarUnknown = true;
    const registrar = storage.registrar.bind(storage);
    let registrarDown = true;
    storage.registrar = async (op, arriendo) => {
      if (registrarDown) throw new StorageUnavailableError('memory storage is down for registrar');
      return registrar(op, arriendo);
    };
    const p = await ports();
    const g = await gc(storage, p);
    await actor(storage, p, 'prestamo', 'p1');
    await liveActors(g, 'prestamo', 1);
    const r = await reqOnce(p.front, JSON.stringify({ operacion: 'prestamo', isbn: '978-1', usuario: 'u1', clave: 'unknown-2' }));
    expect(r).toMatchObject({ exito: false, codigo: 'TIEMPO_AGOTADO', id: 'unknown-2' });
    expect(await reqOnce(p.front, JSON.stringify({ operacion: 'estado', id: 'unknown-2' }))).toMatchObject({ codigo: 'OK', datos: { estado: 'PENDIENTE' } });
    registrarDown = false;
    storage.aplicarUnknown = false;
    await eventually('unknown-2 applied', () => storage.ledger.get('unknown-2')?.resultado?.estado === 'COMPLETADA', 5000);
    expect(storage.effects).toBe(1);
  });

  it('storage down for a sync op already re-published → TIEMPO_AGOTADO: an earlier attempt may still apply it', async () => {
    const storage = new MemoryStorage();
    storage.aplicarDown = true;
    storage.delayMs = 900; // past the 600 ms task deadline: the op goes to the second actor first
    const p = await ports();
    const g = await gc(storage, p);
    await actor(storage, p, 'prestamo', 'p1');
    await actor(storage, p, 'prestamo', 'p2');
    await liveActors(g, 'prestamo', 2);
    const r = await reqOnce(p.front, JSON.stringify({ operacion: 'prestamo', isbn: '978-1', usuario: 'u1', clave: 'repub-1' }));
    // Both actors tried (a stalled host may let the second attempt's deadline pass too: a third).
    expect(storage.aplicarCalls).toBeGreaterThanOrEqual(2);
    expect(r).toMatchObject({ exito: false, codigo: 'TIEMPO_AGOTADO', id: 'repub-1' });
  });

  it('an original REQ client sending {"operacion","isbn","usuario"} gets exito/mensaje/datos', async () => {
    const storage = new MemoryStorage();
    const p = await ports();
    const g = await gc(storage, p);
    await actor(storage, p, 'prestamo', 'p1');
    await liveActors(g, 'prestamo', 1);
    const r = await reqOnce(p.front, JSON.stringify({ operacion: 'Préstamo', isbn: '978-2', usuario: 'ana' }));
    expect(r.exito).toBe(true);
    expect(typeof r.mensaje).toBe('string');
    expect(r.datos).toBeTypeOf('object');
    expect(r.id).toMatch(/^[0-9a-f-]{36}$/);
    const r2 = await reqOnce(p.front, JSON.stringify({ operacion: 'consulta', isbn: '978-2', usuario: 'ana' }));
    expect(r2).toMatchObject({ exito: true, datos: { disponibles: 0 } });
  });

  it('no live actor of the type → SIN_ACTORES for a sync op, nothing applied', async () => {
    const storage = new MemoryStorage();
    const p = await ports();
    const g = await gc(storage, p);
    await actor(storage, p, 'devolucion', 'd1'); // wrong type for a préstamo
    await liveActors(g, 'devolucion', 1);
    const t0 = Date.now();
    const r = await reqOnce(p.front, JSON.stringify({ operacion: 'prestamo', isbn: '978-1', usuario: 'u1', clave: 'lonely' }));
    expect(r).toMatchObject({ exito: false, codigo: 'SIN_ACTORES', id: 'lonely' });
    expect(Date.now() - t0).toBeLessThan(2000);
    // Dropped, not left to be applied later behind the user's back.
    await actor(storage, p, 'prestamo', 'p-late');
    await liveActors(g, 'prestamo', 1);
    await new Promise((r) => setTimeout(r, 200));
    expect(storage.aplicarCalls).toBe(0);
    expect(g.errorStats().porClase).toMatchObject({ unavailable: 1 });
  });

  it('a sync op that timed out before it found an actor is in the ledger: never dropped as SIN_ACTORES afterwards, completed once an actor comes', async () => {
    const storage = new MemoryStorage();
    const p = await ports();
    // The timeout comes before "no actor for ACTOR_DEAD_MS".
    const g = await gc(storage, p, { GC_SYNC_TIMEOUT_MS: '300', ACTOR_DEAD_MS: '1500', ACTOR_HEARTBEAT_MS: '100' });
    await actor(storage, p, 'devolucion', 'd1');
    await liveActors(g, 'devolucion', 1);
    const req = JSON.stringify({ operacion: 'prestamo', isbn: '978-1', usuario: 'u1', clave: 'queued-1' });
    expect(await reqOnce(p.front, req)).toMatchObject({ codigo: 'TIEMPO_AGOTADO', id: 'queued-1' });
    expect(await storage.estado('queued-1')).toMatchObject({ estado: 'PENDIENTE' });
    // Past ACTOR_DEAD_MS the task is still queued, not dropped as "never published, certainly not
    // applied" (a request for it then would hear SIN_ACTORES, "retry under a new clave").
    await new Promise((r) => setTimeout(r, 2000));
    expect(g.status().tareas.total).toBe(1);
    expect((await reqOnce(p.front, req)).codigo).toBe('TIEMPO_AGOTADO');
    await actor(storage, p, 'prestamo', 'p-late');
    await eventually('queued-1 applied', () => storage.ledger.get('queued-1')?.resultado?.estado === 'COMPLETADA', 5000);
    expect(storage.effects).toBe(1);
  });

  it('storage down at registrar → ALMACENAMIENTO_NO_DISPONIBLE and nothing published', async () => {
    const storage = new MemoryStorage();
    storage.loans.add('978-1|u1');
    const p = await ports();
    const g = await gc(storage, p);
    await actor(storage, p, 'devolucion', 'd1');
    await liveActors(g, 'devolucion', 1);
    storage.down = true;
    const r = await reqOnce(p.front, JSON.stringify({ operacion: 'devolucion', isbn: '978-1', usuario: 'u1', clave: 'dev-x' }));
    expect(r).toMatchObject({ exito: false, codigo: 'ALMACENAMIENTO_NO_DISPONIBLE', id: 'dev-x' });
    expect(storage.aplicarCalls).toBe(0);
    expect(g.status().tareas.total).toBe(0);
  });

  it('async op whose actor finds storage down is re-published after a backoff and completes', async () => {
    const storage = new MemoryStorage();
    storage.loans.add('978-1|u1');
    storage.stock.set('978-1', 4);
    const p = await ports();
    const g = await gc(storage, p);
    await actor(storage, p, 'devolucion', 'd1');
    await liveActors(g, 'devolucion', 1);
    storage.aplicarDown = true;
    const r = await reqOnce(p.front, JSON.stringify({ operacion: 'devolucion', isbn: '978-1', usuario: 'u1', clave: 'dev-y' }));
    expect(r.codigo).toBe('ACEPTADO');
    await eventually('a retry', () => storage.aplicarCalls >= 2, 5000);
    storage.aplicarDown = false;
    await eventually('completion', () => storage.ledger.get('dev-y')?.resultado?.estado === 'COMPLETADA', 8000);
    expect(storage.effects).toBe(1);
  });

  it('sync op with storage down at the actor → ALMACENAMIENTO_NO_DISPONIBLE to the PS', async () => {
    const storage = new MemoryStorage();
    const p = await ports();
    const g = await gc(storage, p);
    await actor(storage, p, 'prestamo', 'p1');
    await liveActors(g, 'prestamo', 1);
    storage.aplicarDown = true;
    const r = await reqOnce(p.front, JSON.stringify({ operacion: 'prestamo', isbn: '978-1', usuario: 'u1', clave: 'p-down' }));
    expect(r).toMatchObject({ exito: false, codigo: 'ALMACENAMIENTO_NO_DISPONIBLE', id: 'p-down' });
  });

  it('a sync op with no final outcome in GC_SYNC_TIMEOUT_MS → TIEMPO_AGOTADO once it is recorded (estado through any GC sees it), and it still completes', async () => {
    const storage = new MemoryStorage();
    storage.aplicarDelayMs = 900;
    const p = await ports();
    const g = await gc(storage, p, { GC_SYNC_TIMEOUT_MS: '300', GC_TASK_DEADLINE_MS: '2000' });
    await actor(storage, p, 'prestamo', 'p1');
    await liveActors(g, 'prestamo', 1);
    const r = await reqOnce(p.front, JSON.stringify({ operacion: 'prestamo', isbn: '978-1', usuario: 'u1', clave: 'slow-1' }));
    expect(r).toMatchObject({ exito: false, codigo: 'TIEMPO_AGOTADO', id: 'slow-1' });
    // The ledger has it (PENDIENTE) before the reply: another GC's estado, which asks the GA, finds it.
    expect(await storage.estado('slow-1')).toMatchObject({ estado: 'PENDIENTE' });
    await eventually('completion', () => storage.ledger.get('slow-1')?.resultado?.estado === 'COMPLETADA', 3000);
    expect(storage.effects).toBe(1);
  });

  it('a sync op applied while its timeout was being recorded is answered with its outcome, not TIEMPO_AGOTADO', async () => {
    const storage = new MemoryStorage();
    storage.delayMs = 400; // every call: the actor's aplicar lands while registrar waits
    const p = await ports();
    const g = await gc(storage, p, { GC_SYNC_TIMEOUT_MS: '200', GC_TASK_DEADLINE_MS: '3000' });
    await actor(storage, p, 'prestamo', 'p1');
    await liveActors(g, 'prestamo', 1);
    const r = await reqOnce(p.front, JSON.stringify({ operacion: 'prestamo', isbn: '978-1', usuario: 'u1', clave: 'late-1' }));
    expect(r).toMatchObject({ exito: true, codigo: 'APROBADO', id: 'late-1' });
    expect(storage.effects).toBe(1);
  });
});

describe('GC input hardening', () => {
  it('answers every bad input with a code and stays up', async () => {
    const storage = new MemoryStorage();
    const p = await ports();
    await gc(storage, p);
    const c = dealerClient(p.front);
    const cases: Array<[Buffer | string, string]> = [
      ['not json', 'SOLICITUD_INVALIDA'],
      ['', 'SOLICITUD_INVALIDA'],
      [Buffer.alloc(1024 * 1024, 0x41), 'SOLICITUD_INVALIDA'],
      ['[1,2]', 'SOLICITUD_INVALIDA'],
      ['42', 'SOLICITUD_INVALIDA'],
      ['null', 'SOLICITUD_INVALIDA'],
      [JSON.stringify({ operacion: 'prestamo', isbn: '978-1', usuario: 'u1', extra: 1 }), 'SOLICITUD_INVALIDA'],
      [JSON.stringify({ operacion: 'prestamo', isbn: '978-1' }), 'SOLICITUD_INVALIDA'],
      [JSON.stringify({ operacion: 'prestamo', usuario: 'u1' }), 'SOLICITUD_INVALIDA'],
      [JSON.stringify({ operacion: 'prestamo', isbn: 978, usuario: 'u1' }), 'SOLICITUD_INVALIDA'],
      [JSON.stringify({ operacion: ['prestamo'], isbn: '978-1', usuario: 'u1' }), 'SOLICITUD_INVALIDA'],
      [JSON.stringify({ operacion: 'borrar', isbn: '978-1', usuario: 'u1' }), 'OPERACION_DESCONOCIDA'],
      [JSON.stringify({ operacion: 'estado' }), 'SOLICITUD_INVALIDA'],
      [JSON.stringify({ operacion: 'prestamo', isbn: "1' OR '1'='1", usuario: 'u1' }), 'SOLICITUD_INVALIDA'],
      [JSON.stringify({ operacion: 'prestamo', isbn: '978-1', usuario: '<script>alert(1)</script>' }), 'SOLICITUD_INVALIDA'],
      [JSON.stringify({ operacion: 'prestamo', isbn: '978-1', usuario: 'u1', clave: '../../etc/passwd' }), 'SOLICITUD_INVALIDA'],
      ['{"__proto__":{"polluted":1},"operacion":"prestamo","isbn":"978-1","usuario":"u1"}', 'SOLICITUD_INVALIDA'],
      [JSON.stringify({ operacion: 'prestamo\u0000', isbn: '978-1', usuario: 'u1' }), 'OPERACION_DESCONOCIDA'],
      [JSON.stringify({ operacion: 'x'.repeat(10_000), isbn: '978-1', usuario: 'u1' }), 'OPERACION_DESCONOCIDA'],
      ['\uFFFD\uD800 not utf8 \u0000', 'SOLICITUD_INVALIDA'],
    ];
    for (const [body, codigo] of cases) {
      await c.send([body]);
      const r = await c.recv();
      expect(r, `reply to ${String(body).slice(0, 60)}`).toMatchObject({ exito: false, codigo });
      expect(typeof r.mensaje).toBe('string');
      expect(typeof r.fechaOperacion).toBe('string');
    }
    // Echoes the op id of a rejected request when it can.
    await c.send([JSON.stringify({ operacion: 'prestamo', isbn: '978-1', clave: 'keep-me' })]);
    expect(await c.recv()).toMatchObject({ codigo: 'SOLICITUD_INVALIDA', id: 'keep-me' });
    // A request is one frame: a multi-part one is refused with one reply frame, its parts never echoed.
    await c.send(['junk', JSON.stringify({ operacion: 'consulta', isbn: '978-1' })]);
    const multi = await c.sock.receive();
    expect(multi).toHaveLength(1);
    expect(JSON.parse(multi[0]!.toString())).toMatchObject({ exito: false, codigo: 'SOLICITUD_INVALIDA', mensaje: expect.stringContaining('2 partes') });
    const req = new Request({ linger: 0, receiveTimeout: 5000 });
    defer(() => req.close());
    req.connect(p.front);
    await req.send([JSON.stringify({ operacion: 'consulta', isbn: '978-1' }), 'second part']);
    const reqReply = await req.receive();
    expect(reqReply).toHaveLength(1);
    expect(JSON.parse(reqReply[0]!.toString())).toMatchObject({ exito: false, codigo: 'SOLICITUD_INVALIDA' });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // REQ empty message, then a good one: still alive.
    expect(await reqOnce(p.front, '')).toMatchObject({ codigo: 'SOLICITUD_INVALIDA' });
    expect(await reqOnce(p.front, JSON.stringify({ operacion: 'consulta', isbn: '978-1' }))).toMatchObject({ exito: true, codigo: 'OK' });
  });

  it('answers a ping itself (no actor, no storage involved) and does not count it as load', async () => {
    const storage = new MemoryStorage();
    const p = await ports();
    const g = await gc(storage, p);
    const r = await reqOnce(p.front, JSON.stringify({ operacion: 'ping', clave: 'ping-7-1' }));
    expect(r).toMatchObject({ exito: true, codigo: 'OK', id: 'ping-7-1', clave: 'ping-7-1' });
    expect(g.status().respuestas).toBe(0);
    expect(await reqOnce(p.front, JSON.stringify({ operacion: 'consulta', isbn: '978-1' }))).toMatchObject({ exito: true });
    expect(g.status().respuestas).toBe(1);
  });

  it('a result forged by a peer that was never given the task is ignored: the request waits for a real actor', async () => {
    const storage = new MemoryStorage();
    const p = await ports();
    await gc(storage, p, { GC_SYNC_TIMEOUT_MS: '20000', ACTOR_DEAD_MS: '5000' }); // no SIN_ACTORES while no actor is there yet
    const c = dealerClient(p.front);
    await c.send([JSON.stringify({ operacion: 'prestamo', isbn: '978-1', usuario: 'forjado', clave: 'forjada-1' })]);
    const rogue = new Dealer({ linger: 0 });
    defer(() => rogue.close());
    rogue.connect(p.back);
    const forged = { id: 'forjada-1', operacion: 'prestamo', exito: true, codigo: 'APROBADO', estado: 'COMPLETADA', mensaje: 'forjado', datos: {}, fechaOperacion: new Date().toISOString() };
    await rogue.send(JSON.stringify({ t: 'resultado', actorId: 'intruso', tipo: 'prestamo', resultado: forged }));
    // No live actor yet: had the forgery been taken, the PS would have its APROBADO now, applied nowhere.
    c.sock.receiveTimeout = 700;
    await expect(c.recv()).rejects.toThrow();
    expect(storage.ledger.has('forjada-1')).toBe(false);
    c.sock.receiveTimeout = 10_000;
    await actor(storage, p, 'prestamo', 'real');
    const r = await c.recv();
    expect(r).toMatchObject({ clave: 'forjada-1', codigo: 'APROBADO' });
    expect(r.mensaje).not.toBe('forjado');
    expect(storage.ledger.has('forjada-1')).toBe(true);
  });

  it('keeps serving when an actor-side peer sends garbage to the backend', async () => {
    const storage = new MemoryStorage();
    const p = await ports();
    const g = await gc(storage, p);
    const rogue = new Dealer({ linger: 0 });
    defer(() => rogue.close());
    rogue.connect(p.back);
    for (const m of ['', 'nope', '{"t":"hola"}', JSON.stringify({ t: 'resultado', actorId: 'x', tipo: 'prestamo', resultado: { nope: 1 } }), Buffer.alloc(512 * 1024)]) await rogue.send(m);
    await actor(storage, p, 'prestamo', 'p1');
    await liveActors(g, 'prestamo', 1);
    const r = await reqOnce(p.front, JSON.stringify({ operacion: 'prestamo', isbn: '978-1', usuario: 'u1' }));
    expect(r.codigo).toBe('APROBADO');
  });
});

describe('an actor process serving several types (ACTOR_TIPOS)', () => {
  it('is one live actor of each type, applies every type, and its adios ends all three at once', async () => {
    const storage = new MemoryStorage();
    const p = await ports();
    // Silence alone would take 30 s to end an actor here: only its adios can do it sooner.
    const g = await gc(storage, p, { ACTOR_DEAD_MS: '30000', GC_TASK_DEADLINE_MS: '10000' });
    const cfg = readConfig(ACTOR_VARS, { ...TIMING, GC_PUB_ENDPOINT: p.pub, GC_BACKEND_ENDPOINT: p.back, ACTOR_TIPOS: 'prestamo,devolucion,renovacion' });
    const a = await startActor({ ...cfg, ACTOR_TIPOS: cfg.ACTOR_TIPOS as OperacionActor[], ACTOR_ID: 'multi' }, log, { storage });
    defer(() => a.kill());
    expect(a.topics).toEqual(['prestamo.multi|', 'devolucion.multi|', 'renovacion.multi|']);
    await eventually('one live actor of each type', () => OPERACIONES_ACTOR.every((t) => g.status().actoresVivos[t] === 1), 5000);
    const c = dealerClient(p.front);
    const [loan] = await c.many([{ operacion: 'prestamo', isbn: '978-1', usuario: 'mt', clave: 'mt-p' }]);
    const [renew] = await c.many([{ operacion: 'renovacion', isbn: '978-1', usuario: 'mt', clave: 'mt-r' }]);
    const [ret] = await c.many([{ operacion: 'devolucion', isbn: '978-1', usuario: 'mt', clave: 'mt-d' }]);
    expect([loan!.codigo, renew!.codigo, ret!.codigo]).toEqual(['APROBADO', 'APROBADO', 'ACEPTADO']);
    await eventually('return applied', () => storage.ledger.get('mt-d')?.resultado?.estado === 'COMPLETADA', 5000);
    expect(a.status().completadas).toBe(3);
    await a.close();
    await eventually('all three gone by its adios', () => OPERACIONES_ACTOR.every((t) => g.status().actoresVivos[t] === 0), 5000);
  });
});

describe('GC redundancy and restarts', () => {
  it('two actors per type, one dies abruptly: its tasks are re-published and requests keep succeeding', async () => {
    const storage = new MemoryStorage();
    storage.stock.set('978-1', 100);
    storage.delayMs = 150;
    const p = await ports();
    const g = await gc(storage, p, { GC_TASK_DEADLINE_MS: '20000' });
    const a1 = await actor(storage, p, 'prestamo', 'p1');
    const a2 = await actor(storage, p, 'prestamo', 'p2');
    await liveActors(g, 'prestamo', 2);
    const c = dealerClient(p.front);
    const reqs = Array.from({ length: 10 }, (_, i) => ({ operacion: 'prestamo', isbn: '978-1', usuario: `u${i}`, clave: `kill-${i}` }));
    const pending = c.many(reqs);
    await eventually('tasks at p1', () => a1.status().enCurso > 0, 2000);
    const killedAt = Date.now();
    a1.kill();
    const replies = await pending;
    expect(replies.map((r) => r.codigo)).toEqual(Array(10).fill('APROBADO'));
    // Its tasks went to p2 well before the 20 s deadline: death was noticed (~0.3 s here).
    expect(Date.now() - killedAt).toBeLessThan(10_000);
    await eventually('p1 seen dead', () => g.status().actoresVivos.prestamo === 1, 2000);
    const more = await c.many(Array.from({ length: 5 }, (_, i) => ({ operacion: 'prestamo', isbn: '978-1', usuario: `v${i}`, clave: `after-${i}` })));
    expect(more.every((r) => r.codigo === 'APROBADO')).toBe(true);
    expect(storage.effects).toBe(15);
    expect(storage.stock.get('978-1')).toBe(85);
    expect(a2.status().completadas).toBeGreaterThanOrEqual(10);
    const metrics = await g.registry.metrics();
    expect(metrics).toMatch(/gc_republications_total\{motivo="actor-muerto",tipo="prestamo"\} [1-9]/);
  });

  it('a task whose result never comes is re-published after the deadline', async () => {
    const storage = new MemoryStorage();
    const p = await ports();
    const g = await gc(storage, p, { GC_TASK_DEADLINE_MS: '300' });
    await actor(storage, p, 'prestamo', 'p1');
    await liveActors(g, 'prestamo', 1);
    // A subscriber that looks alive (subscribed + heartbeating) but never answers.
    const { Subscriber } = await import('zeromq');
    const mute = new Subscriber({ linger: 0 });
    const hb = new Dealer({ linger: 0 });
    defer(() => { mute.close(); hb.close(); });
    mute.connect(p.pub);
    mute.subscribe('prestamo.mute|');
    hb.connect(p.back);
    const beat = setInterval(() => void hb.send(JSON.stringify({ t: 'latido', actorId: 'mute', tipo: 'prestamo', enCurso: 0 })).catch(() => {}), 50);
    defer(() => clearInterval(beat));
    await liveActors(g, 'prestamo', 2);
    const c = dealerClient(p.front);
    const replies = await c.many(Array.from({ length: 4 }, (_, i) => ({ operacion: 'prestamo', isbn: '978-1', usuario: `w${i}`, clave: `dl-${i}` })));
    expect(replies.every((r) => r.codigo === 'APROBADO')).toBe(true);
    expect(await g.registry.metrics()).toMatch(/gc_republications_total\{motivo="plazo",tipo="prestamo"\} [1-9]/);
  });

  it('after a GC restart, ACEPTADO ops left pending are loaded from the ledger and completed; actors reconnect', async () => {
    const storage = new MemoryStorage();
    for (let i = 0; i < 3; i++) storage.loans.add(`978-1|r${i}`);
    storage.stock.set('978-1', 2);
    const p = await ports();
    const g1 = await gc(storage, p);
    const pa = await actor(storage, p, 'prestamo', 'p1');
    await liveActors(g1, 'prestamo', 1);
    const c = dealerClient(p.front);
    const acc = await c.many(Array.from({ length: 3 }, (_, i) => ({ operacion: 'devolucion', isbn: '978-1', usuario: `r${i}`, clave: `rs-${i}` })));
    expect(acc.every((r) => r.codigo === 'ACEPTADO')).toBe(true);
    expect(g1.status().tareas['en-cola']).toBe(3); // no devolución actor yet
    await g1.close();

    const g2 = await gc(storage, p);
    await actor(storage, p, 'devolucion', 'd1');
    await eventually('resumed ops completed', () => [0, 1, 2].every((i) => storage.ledger.get(`rs-${i}`)?.resultado?.estado === 'COMPLETADA'), 8000);
    expect(storage.stock.get('978-1')).toBe(5);
    // The préstamo actor started before the restart is known again and serves.
    await liveActors(g2, 'prestamo', 1);
    const [r] = await c.many([{ operacion: 'prestamo', isbn: '978-1', usuario: 'new', clave: 'post-restart' }]);
    expect(r).toMatchObject({ codigo: 'APROBADO' });
    expect(pa.status().completadas).toBeGreaterThanOrEqual(1); // more only if a stall re-delivered it
    expect(storage.stock.get('978-1')).toBe(4); // applied once
  });

  it('an actor that says adios stops getting work at once; least-load spreads tasks', async () => {
    const storage = new MemoryStorage();
    storage.stock.set('978-1', 100);
    storage.delayMs = 30;
    const p = await ports();
    const g = await gc(storage, p, { GC_ESTRATEGIA: 'least-load' });
    const a1 = await actor(storage, p, 'prestamo', 'p1');
    const a2 = await actor(storage, p, 'prestamo', 'p2');
    await liveActors(g, 'prestamo', 2);
    const c = dealerClient(p.front);
    await c.many(Array.from({ length: 20 }, (_, i) => ({ operacion: 'prestamo', isbn: '978-1', usuario: `l${i}`, clave: `ll-${i}` })));
    expect(a1.status().completadas).toBeGreaterThan(3);
    expect(a2.status().completadas).toBeGreaterThan(3);
    await a1.close();
    await eventually('p1 gone', () => g.status().actoresVivos.prestamo === 1, 1000);
    const before = a1.status().completadas;
    const rs = await c.many(Array.from({ length: 5 }, (_, i) => ({ operacion: 'prestamo', isbn: '978-1', usuario: `m${i}`, clave: `ad-${i}` })));
    expect(rs.every((r) => r.codigo === 'APROBADO')).toBe(true);
    expect(a1.status().completadas).toBe(before);
  });
});
