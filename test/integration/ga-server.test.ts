/**
 * The GA over real ZeroMQ and a real PostgreSQL: a DEALER client (like the
 * storage client) against startGa, bad requests, many requests in flight, and
 * PostgreSQL going away while the GA stays up.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Dealer, Request } from 'zeromq';
import { pino } from 'pino';
import { randomUUID } from 'node:crypto';
import { GA_VARS, readConfig } from '../../common/config.js';
import { gaReplySchema, type GaCall, type GaReply } from '../../common/protocol/internal.js';
import { loadCatalog } from '../../gestor_almacenamiento/catalog.js';
import { PROBE_DEADLINE_MS, startGa, type GaHandle } from '../../gestor_almacenamiento/ga.js';
import { eventually } from '../harness/eventually.js';
import { startTestPostgres, type TestPostgres } from '../harness/postgres.js';
import { freePorts } from '../harness/ports.js';

const log = pino({ level: 'silent' });
let pgs: TestPostgres;
let ga: GaHandle;
let endpoint: string;
let client: Client;

/** A pipelining DEALER client: one receive loop, replies matched by ref. */
class Client {
  readonly sock = new Dealer({ receiveTimeout: -1, linger: 0 });
  private pending = new Map<string, (r: GaReply) => void>();
  private sending = Promise.resolve();
  constructor(ep: string) {
    this.sock.connect(ep);
    void (async () => {
      for await (const [frame] of this.sock) {
        // Replies done in one turn come as one batch (a JSON array), as the storage client reads them.
        const body = JSON.parse(frame!.toString()) as unknown;
        for (const item of Array.isArray(body) ? body : [body]) {
          const reply = gaReplySchema.parse(item) as GaReply;
          this.pending.get(reply.ref)?.(reply);
          this.pending.delete(reply.ref);
        }
      }
    })().catch(() => undefined);
  }
  call(req: GaCall, timeoutMs = 10_000): Promise<GaReply> {
    const ref = randomUUID();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no reply to ${req.orden}`)), timeoutMs);
      this.pending.set(ref, (r) => {
        clearTimeout(t);
        resolve(r);
      });
      this.sending = this.sending.then(() => this.sock.send(JSON.stringify({ ref, ...req })));
    });
  }
  close(): void {
    this.sock.close();
  }
}

/** One raw message on a fresh DEALER, one reply back (for malformed requests that carry no ref). */
async function raw(frames: (Buffer | string)[]): Promise<GaReply> {
  const d = new Dealer({ receiveTimeout: 5000, linger: 0, maxMessageSize: -1 });
  d.connect(endpoint);
  try {
    await d.send(frames);
    const [reply] = await d.receive();
    return JSON.parse(reply!.toString()) as GaReply;
  } finally {
    d.close();
  }
}

/** A batch frame on a fresh DEALER; its replies, whatever messages they come in, until `n` arrived. */
async function rawBatch(batch: unknown[], n = batch.length): Promise<{ replies: GaReply[]; messages: number }> {
  const d = new Dealer({ receiveTimeout: 5000, linger: 0, maxMessageSize: -1 });
  d.connect(endpoint);
  try {
    await d.send(JSON.stringify(batch));
    const replies: GaReply[] = [];
    let messages = 0;
    while (replies.length < n) {
      const [m] = await d.receive();
      messages++;
      const body = JSON.parse(m!.toString()) as GaReply | GaReply[];
      replies.push(...(Array.isArray(body) ? body : [body]));
    }
    return { replies, messages };
  } finally {
    d.close();
  }
}

async function http(path: string): Promise<{ status: number; body: string }> {
  const r = await fetch(`http://127.0.0.1:${ga.httpPort}${path}`);
  return { status: r.status, body: await r.text() };
}

beforeAll(async () => {
  pgs = await startTestPostgres();
  const [zmqPort, httpPort] = await freePorts(2);
  const cfg = readConfig(GA_VARS, {
    LOG_LEVEL: 'silent',
    GA_BIND: `tcp://127.0.0.1:${zmqPort}`,
    GA_HTTP_PORT: String(httpPort),
    GA_POOL_SIZE: '20',
    PGHOST: pgs.host,
    PGPORT: String(pgs.port),
    PGUSER: pgs.user,
    PGPASSWORD: pgs.password,
    PGDATABASE: pgs.database,
    HTTP_HOST: '127.0.0.1',
  });
  ga = await startGa(cfg, log, { healthProbeMs: 200 });
  endpoint = `tcp://127.0.0.1:${zmqPort}`;
  await loadCatalog(ga.pool, [
    { isbn: '978-84-376-0494-7', titulo: 'Cien años de soledad', autor: 'Gabriel García Márquez', ejemplares: 2 },
    { isbn: '978-84-206-7412-4', titulo: 'Don Quijote de la Mancha', autor: 'Miguel de Cervantes', ejemplares: 50 },
  ]);
  client = new Client(endpoint);
});
afterAll(async () => {
  client?.close();
  await ga?.close();
  await pgs?.stop();
});

describe('commands', () => {
  test('ping answers with the role', async () => {
    expect(await client.call({ orden: 'ping' })).toMatchObject({ exito: true, rol: 'primary' });
  });
  test('aplicar, consultar, estado', async () => {
    const op = { operacion: 'prestamo' as const, isbn: '978-84-376-0494-7', usuario: 'ana', id: 'srv-1' };
    const r = await client.call({ orden: 'aplicar', op });
    expect(r).toMatchObject({ exito: true, resultado: { id: 'srv-1', codigo: 'APROBADO', estado: 'COMPLETADA' } });
    expect(await client.call({ orden: 'aplicar', op })).toEqual({ ...r, ref: expect.any(String) });
    expect(await client.call({ orden: 'consultar', isbn: '978-84-376-0494-7' })).toMatchObject({ exito: true, resultado: { codigo: 'OK', datos: { total: 2, disponibles: 1, prestados: 1 } } });
    expect(await client.call({ orden: 'estado', id: 'srv-1' })).toMatchObject({ exito: true, resultado: { codigo: 'OK', datos: { estado: 'COMPLETADA' } } });
    expect(await client.call({ orden: 'estado', id: 'srv-nada' })).toMatchObject({ exito: true, resultado: { codigo: 'OPERACION_NO_ENCONTRADA' } });
  });
  test('registrar and pendientes', async () => {
    const op = { operacion: 'devolucion' as const, isbn: '978-84-376-0494-7', usuario: 'ana', id: 'srv-2', sede: 'Central' };
    expect(await client.call({ orden: 'registrar', op })).toMatchObject({ exito: true, resultado: { codigo: 'ACEPTADO', estado: 'PENDIENTE' } });
    const p = await client.call({ orden: 'pendientes', limite: 10 });
    expect(p.exito && p.pendientes).toEqual([{ op, registrada: expect.any(String), intentos: 0 }]);
    expect(await client.call({ orden: 'aplicar', op })).toMatchObject({ exito: true, resultado: { codigo: 'APROBADO', estado: 'COMPLETADA' } });
    const p2 = await client.call({ orden: 'pendientes', limite: 10 });
    expect(p2.exito && p2.pendientes).toEqual([]);
  });
  test('registrar with a lease, and reclamar: the GC heartbeat that renews, claims and lists', async () => {
    const op = { operacion: 'devolucion' as const, isbn: '978-84-376-0494-7', usuario: 'ana', id: 'srv-3' };
    expect(await client.call({ orden: 'aplicar', op: { ...op, operacion: 'prestamo', id: 'srv-3p' } })).toMatchObject({ exito: true, resultado: { codigo: 'APROBADO' } });
    expect(await client.call({ orden: 'registrar', op, arriendo: { gestor: 'gc-srv', ms: 60_000 } })).toMatchObject({ exito: true, resultado: { codigo: 'ACEPTADO', datos: { gestor: 'gc-srv' } } });
    const gestor = { id: 'gc-srv', sede: 'Central', atendidas: 3, porSegundo: 1.5, tareas: 1, iniciado: new Date().toISOString() };
    const r = await client.call({ orden: 'reclamar', gestor, arriendoMs: 60_000, limite: 10 });
    expect(r.exito && r.pendientes).toEqual([{ op, registrada: expect.any(String), edadMs: expect.any(Number), intentos: 0, reclamada: false }]);
    expect(r.exito && r.gestores).toEqual([{ id: 'gc-srv', informe: gestor, vistoHaceMs: 0 }]);
    expect(await client.call({ orden: 'aplicar', op })).toMatchObject({ exito: true, resultado: { estado: 'COMPLETADA' } });
  });
  test('a REQ client works too (empty delimiter frame is echoed)', async () => {
    const req = new Request({ receiveTimeout: 5000, linger: 0 });
    req.connect(endpoint);
    try {
      await req.send(JSON.stringify({ ref: 'req-1', orden: 'ping' }));
      const [reply] = await req.receive();
      expect(JSON.parse(reply!.toString())).toEqual({ ref: 'req-1', exito: true, rol: 'primary' });
    } finally {
      req.close();
    }
  });
});

describe('bad requests', () => {
  test('are answered SOLICITUD_INVALIDA and the GA keeps serving', async () => {
    const invalid = { exito: false, codigo: 'SOLICITUD_INVALIDA' };
    expect(await raw(['esto no es JSON'])).toMatchObject({ ...invalid, ref: '' });
    expect(await raw([Buffer.alloc(0)])).toMatchObject({ ...invalid, ref: '' });
    expect(await raw([Buffer.alloc(1024 * 1024, 0x7b)])).toMatchObject({ ...invalid, ref: '' });
    // A batch of three things that are not requests: three invalid replies, in one batch.
    expect(await raw(['[1,2,3]'])).toMatchObject([invalid, invalid, invalid]);
    expect(await raw(['[]'])).toMatchObject({ ...invalid, ref: '' });
    expect(await raw([JSON.stringify(Array.from({ length: 65 }, (_, i) => ({ ref: `b${i}`, orden: 'ping' })))])).toMatchObject({ ...invalid, ref: '' });
    expect(await raw([JSON.stringify({ ref: 'x1', orden: 'borrar' })])).toMatchObject({ ...invalid, ref: 'x1' });
    expect(await raw([JSON.stringify({ ref: 'x2', orden: 'aplicar', op: { operacion: 'prestamo', isbn: 42, usuario: 'ana', id: 'a' } })])).toMatchObject({ ...invalid, ref: 'x2' });
    expect(await raw([JSON.stringify({ ref: 'x3', orden: 'pendientes', limite: -1 })])).toMatchObject({ ...invalid, ref: 'x3' });
    expect(await raw([JSON.stringify({ ref: 7, orden: 'ping' })])).toMatchObject({ ...invalid, ref: '' });
    const gestor = { id: 'gc-x', atendidas: 0, porSegundo: 0, tareas: 0, iniciado: 'x' };
    expect(await raw([JSON.stringify({ ref: 'x4', orden: 'reclamar', gestor, arriendoMs: 0, limite: 5 })])).toMatchObject({ ...invalid, ref: 'x4' });
    expect(await raw([JSON.stringify({ ref: 'x5', orden: 'reclamar', gestor: { ...gestor, id: '../x' }, arriendoMs: 5000, limite: 5 })])).toMatchObject({ ...invalid, ref: 'x5' });
    expect(await raw([JSON.stringify({ ref: 'x6', orden: 'registrar', op: { operacion: 'devolucion', isbn: '978-1', usuario: 'a', id: 'x6' }, arriendo: { gestor: 'gc-x', ms: 'pronto' } })])).toMatchObject({ ...invalid, ref: 'x6' });
    const r = await client.call({ orden: 'consultar', isbn: '978-84-206-7412-4' });
    expect(r).toMatchObject({ exito: true, resultado: { datos: { disponibles: 50 } } });
  });
});

test('a batch frame is answered by ref, each reply as soon as its request is done (those done together in one message); its writes share one transaction', async () => {
  const batch = [
    { ref: 'lote-1', orden: 'aplicar', op: { operacion: 'prestamo', isbn: '978-84-206-7412-4', usuario: 'lote-a', id: 'lote-op-1' } },
    { ref: 'lote-2', orden: 'consultar', isbn: '978-84-206-7412-4' },
    { ref: 'lote-3', orden: 'aplicar', op: { operacion: 'prestamo', isbn: '978-84-206-7412-4', usuario: 'lote-b', id: 'lote-op-2' } },
    { ref: 'lote-4', orden: 'borrar' },
  ];
  const bucket = (body: string, le: string) => Number(new RegExp(`^ga_write_batch_size_bucket\\{le="${le}"[^}]*\\} (\\d+)`, 'm').exec(body)?.[1] ?? NaN);
  const batchesOf2 = async () => {
    const body = (await http('/metrics')).body;
    return bucket(body, '2') - bucket(body, '1');
  };
  const before = await batchesOf2();
  const { replies: got, messages } = await rawBatch(batch);
  expect(await batchesOf2()).toBe(before + 1);
  expect(messages).toBeLessThan(4); // the two writes commit together: their replies leave together
  const replies = ['lote-1', 'lote-2', 'lote-3', 'lote-4'].map((ref) => got.find((r) => r.ref === ref));
  expect(replies).toMatchObject([
    { exito: true, resultado: { codigo: 'APROBADO', id: 'lote-op-1' } },
    { exito: true, resultado: { codigo: 'OK' } },
    { exito: true, resultado: { codigo: 'APROBADO', id: 'lote-op-2' } },
    { exito: false, codigo: 'SOLICITUD_INVALIDA' },
  ]);
});

test('200 requests in flight all complete', async () => {
  const calls: Promise<GaReply>[] = [];
  for (let i = 0; i < 200; i++) {
    const usuario = `carga${i % 40}`;
    calls.push(
      i % 4 === 3
        ? client.call({ orden: 'consultar', isbn: '978-84-206-7412-4' })
        : client.call({ orden: 'aplicar', op: { operacion: i % 4 === 2 ? 'devolucion' : 'prestamo', isbn: '978-84-206-7412-4', usuario, id: `burst-${i}` } }),
    );
  }
  const replies = await Promise.all(calls);
  expect(replies.every((r) => r.exito)).toBe(true);
  const q = await ga.pool.query(`SELECT l.disponibles, (SELECT count(*)::int FROM prestamos p WHERE p.isbn = l.isbn AND p.estado = 'ACTIVO') AS activos FROM libros l WHERE isbn = '978-84-206-7412-4'`);
  expect(q.rows[0].disponibles + q.rows[0].activos).toBe(50);
});

test('observability: /health, /status, /metrics', async () => {
  expect(await http('/health')).toEqual({ status: 200, body: '{"sano":true}' });
  const status = JSON.parse((await http('/status')).body);
  expect(status).toMatchObject({ proceso: 'ga', rol: 'primary', postgres: { host: pgs.host, puerto: pgs.port, disponible: true }, conexiones: { maximo: 20 } });
  expect(status.solicitudes.porOrden.aplicar).toBeGreaterThan(0);
  const metrics = (await http('/metrics')).body;
  expect(metrics).toMatch(/ga_requests_total\{cmd="aplicar",codigo="APROBADO"/);
  expect(metrics).toMatch(/ga_request_duration_seconds_bucket/);
  expect(metrics).toMatch(/ga_pool_connections\{state="total"/);
  // No role gate here: every aplicar that completed was admitted, and only those.
  const admitted = Number(/^ga_writes_admitted_total\{cmd="aplicar"[^}]*\} (\d+)/m.exec(metrics)?.[1]);
  expect(admitted).toBe(status.solicitudes.porOrden.aplicar);
});

test('close() under load: every applied op is answered, later ones get GA_NO_ACTIVO', async () => {
  const { readFileSync } = await import('node:fs');
  const { execFileSync } = await import('node:child_process');
  const [zmqPort] = await freePorts(1);
  const cfg = readConfig(GA_VARS, {
    GA_BIND: `tcp://127.0.0.1:${zmqPort}`, GA_HTTP_PORT: '0', HTTP_HOST: '127.0.0.1', GA_POOL_SIZE: '5',
    PGHOST: pgs.host, PGPORT: String(pgs.port), PGUSER: pgs.user, PGPASSWORD: pgs.password, PGDATABASE: pgs.database,
  });
  const ga2 = await startGa(cfg, log, { healthProbeMs: 0 });
  const c2 = new Client(`tcp://127.0.0.1:${zmqPort}`);
  // PostgreSQL is frozen while close() begins, so the GA still has work in flight (its drain keeps the
  // socket open) when the late requests arrive: they are read, and must be refused, not dropped.
  const postmaster = Number(readFileSync(`${pgs.dataDir}/postmaster.pid`, 'utf8').split('\n')[0]);
  const tree = [postmaster, ...execFileSync('pgrep', ['-P', String(postmaster)], { encoding: 'utf8' }).trim().split('\n').map(Number)];
  const signal = (sig: NodeJS.Signals) => tree.forEach((pid) => { try { process.kill(pid, sig); } catch { /* gone */ } });
  const prestamo = (id: string, usuario: string) => ({ orden: 'aplicar' as const, op: { operacion: 'prestamo' as const, isbn: '978-84-206-7412-4', usuario, id } });
  try {
    expect(await c2.call({ orden: 'ping' })).toMatchObject({ exito: true });
    // Under load: a burst the GA is working through when PostgreSQL freezes …
    const ids = Array.from({ length: 150 }, (_, i) => `cierre-${i}`);
    const calls = ids.map((id, i) => c2.call(prestamo(id, `cierre${i}`), 15_000));
    await calls[0];
    signal('SIGSTOP');
    // … and one op that surely waits on it. A ping needs no database: once it is answered, the GA
    // has read (and started) every request sent before it, in order on this connection.
    ids.push('cierre-en-curso');
    calls.push(c2.call(prestamo('cierre-en-curso', 'cierreEnCurso'), 15_000));
    expect(await c2.call({ orden: 'ping' }, 5000)).toMatchObject({ exito: true });
    const t0 = Date.now();
    const closing = ga2.close();
    // Sent after close() began: refused at once with GA_NO_ACTIVO (no database needed), none applied.
    const late = Array.from({ length: 20 }, (_, i) => `cierre-tarde-${i}`);
    const lateReplies = await Promise.all(late.map((id, i) => c2.call(prestamo(id, `tarde${i}`), 5000)));
    signal('SIGCONT');
    for (const r of lateReplies) expect(r).toMatchObject({ exito: false, codigo: 'GA_NO_ACTIVO' });
    await closing;
    // Functional bound, not performance: close() drains for at most 5 s (ga.ts) and must not hang.
    expect(Date.now() - t0).toBeLessThan(6000);
    // Everything read before close() was finished and answered, the op that waited on the frozen database included.
    const replies = await Promise.all(calls);
    for (const r of replies) expect(r.exito).toBe(true);
    const applied = await ga.pool.query('SELECT id FROM operaciones WHERE id = ANY($1)', [[...ids, ...late]]);
    expect(applied.rows.map((r) => r.id).sort()).toEqual([...ids].sort());
  } finally {
    signal('SIGCONT');
    c2.close();
    await ga2.close();
  }
  // The file's shared GA probes the same PostgreSQL: let it see it back before the next test.
  await eventually('/health 200 on the shared GA', async () => (await http('/health')).status === 200, 15_000);
});

test('PostgreSQL frozen (no answer, no reset): the probe gives up after its deadline, /health 503; back when it thaws', async () => {
  const { readFileSync } = await import('node:fs');
  const { execFileSync } = await import('node:child_process');
  const postmaster = Number(readFileSync(`${pgs.dataDir}/postmaster.pid`, 'utf8').split('\n')[0]);
  const tree = [postmaster, ...execFileSync('pgrep', ['-P', String(postmaster)], { encoding: 'utf8' }).trim().split('\n').map(Number)];
  await ga.pool.query('SELECT 1'); // an idle pooled connection: the probe's query goes to a frozen backend, not a connect
  expect((await http('/health')).status).toBe(200);
  const signal = (sig: NodeJS.Signals) => tree.forEach((pid) => { try { process.kill(pid, sig); } catch { /* gone */ } });
  signal('SIGSTOP');
  try {
    await eventually('/health 503 while PostgreSQL is frozen', async () => (await http('/health')).status === 503, PROBE_DEADLINE_MS * 3);
  } finally {
    signal('SIGCONT');
  }
  await eventually('/health 200 once it answers again', async () => (await http('/health')).status === 200, 15_000);
});

// Last: PostgreSQL is gone for the rest of the file.
test('PostgreSQL stopped: ALMACENAMIENTO_NO_DISPONIBLE, and the GA stays up', async () => {
  await pgs.stop();
  const op = { operacion: 'prestamo' as const, isbn: '978-84-206-7412-4', usuario: 'tarde', id: 'sin-pg-1' };
  for (const req of [{ orden: 'aplicar' as const, op }, { orden: 'consultar' as const, isbn: '978-84-206-7412-4' }, { orden: 'pendientes' as const, limite: 5 }]) {
    expect(await client.call(req)).toMatchObject({ exito: false, codigo: 'ALMACENAMIENTO_NO_DISPONIBLE' });
  }
  const many = await Promise.all(Array.from({ length: 50 }, (_, i) => client.call({ orden: 'aplicar', op: { ...op, id: `sin-pg-${i + 2}` } })));
  expect(many.every((r) => !r.exito && r.codigo === 'ALMACENAMIENTO_NO_DISPONIBLE')).toBe(true);
  expect(await client.call({ orden: 'ping' })).toMatchObject({ exito: true });
  expect((await http('/health')).status).toBe(503);
  expect(JSON.parse((await http('/status')).body).postgres.disponible).toBe(false);
});
