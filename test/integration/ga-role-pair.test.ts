/**
 * A GA primary/backup pair on ONE real PostgreSQL (the "PostgreSQL primary still
 * alive" path), over real ZeroMQ, with the real storage client: the backup is
 * passive, takes over when the primary GA dies and a client asks, and the old
 * primary GA coming back stays passive while the active one keeps serving.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Dealer } from 'zeromq';
import pg from 'pg';
import { pino } from 'pino';
import { GA_VARS, readConfig, type GaConfig } from '../../common/config.js';
import type { GaReply } from '../../common/protocol/internal.js';
import type { OperacionSolicitada } from '../../common/protocol/ps-gc.js';
import { createStorageClient, type StorageClient } from '../../common/storage-client.js';
import { loadCatalog } from '../../gestor_almacenamiento/catalog.js';
import { startGa, type GaHandle } from '../../gestor_almacenamiento/ga.js';
import { migrate } from '../../gestor_almacenamiento/migrate.js';
import type { RoleState } from '../../gestor_almacenamiento/role/machine.js';
import { clientConfig } from '../harness/fake-ga.js';
import { pgConfig, startTestPostgres, type TestPostgres } from '../harness/postgres.js';
import { freePorts } from '../harness/ports.js';
import { eventually } from '../harness/eventually.js';

const log = pino({ level: 'silent' });
const PEER_TIMEOUT_MS = 1000;
const ISBN = '978-0-00-000001-1';
let pgs: TestPostgres;
let db: pg.Pool;

const open: { close(): Promise<unknown> }[] = [];
afterEach(async () => {
  for (const x of open.splice(0).reverse()) await x.close().catch(() => undefined);
});

beforeAll(async () => {
  pgs = await startTestPostgres();
  db = new pg.Pool({ ...pgConfig(pgs), max: 2 });
  db.on('error', () => undefined); // PostgreSQL stopping at the end must not crash the file
  await migrate(db, log);
  await loadCatalog(db, [{ isbn: ISBN, titulo: 'Pareja', autor: 'GA', ejemplares: 100_000 }]);
});

afterAll(async () => {
  await db?.end();
  await pgs?.stop();
});

interface PairConfig {
  primary: GaConfig;
  backup: GaConfig;
}

async function pairConfig(): Promise<PairConfig> {
  const [pz, ph, pp, bz, bh, bp] = await freePorts(6);
  const base = {
    LOG_LEVEL: 'silent',
    PGHOST: pgs.host,
    PGPORT: String(pgs.port),
    PGUSER: pgs.user,
    PGPASSWORD: pgs.password,
    PGDATABASE: pgs.database,
    HTTP_HOST: '127.0.0.1',
    GA_POOL_SIZE: '5',
    GA_HEARTBEAT_MS: '100',
    GA_PEER_TIMEOUT_MS: String(PEER_TIMEOUT_MS),
  };
  return {
    primary: readConfig(GA_VARS, { ...base, GA_ROL: 'primary', GA_BIND: `tcp://127.0.0.1:${pz}`, GA_HTTP_PORT: String(ph), GA_PEER_BIND: `tcp://127.0.0.1:${pp}`, GA_PEER_ENDPOINT: `tcp://127.0.0.1:${bp}` }),
    backup: readConfig(GA_VARS, { ...base, GA_ROL: 'backup', GA_BIND: `tcp://127.0.0.1:${bz}`, GA_HTTP_PORT: String(bh), GA_PEER_BIND: `tcp://127.0.0.1:${bp}`, GA_PEER_ENDPOINT: `tcp://127.0.0.1:${pp}` }),
  };
}

async function ga(cfg: GaConfig): Promise<GaHandle> {
  const g = await startGa(cfg, log, { healthProbeMs: 200 });
  open.push({ close: () => g.abort() });
  return g;
}

function client(endpoints: string[]): StorageClient {
  // Enough attempts (with the client's growing round backoff) to span the peer timeout.
  const c = createStorageClient(clientConfig(endpoints, { GA_TIMEOUT_MS: 500, GA_MAX_ATTEMPTS: 14 }), log);
  open.push(c);
  return c;
}

const estado = (g: GaHandle): RoleState => g.role!.machine.state;

async function rawCall(endpoint: string, body: object): Promise<GaReply> {
  const d = new Dealer({ receiveTimeout: 3000, linger: 0 });
  d.connect(endpoint);
  try {
    await d.send(JSON.stringify({ ref: 'r1', ...body }));
    const [frame] = await d.receive();
    return JSON.parse(frame!.toString()) as GaReply;
  } finally {
    d.close();
  }
}

async function status(g: GaHandle): Promise<Record<string, any>> {
  return (await fetch(`http://127.0.0.1:${g.httpPort}/status`)).json() as Promise<Record<string, any>>;
}

let seq = 0;
const op = (prefix: string): OperacionSolicitada => {
  const n = ++seq;
  return { operacion: 'prestamo', isbn: ISBN, usuario: `${prefix}-u${n}`, id: `${prefix}-${n}` };
};

async function startPair(c: PairConfig): Promise<{ p: GaHandle; b: GaHandle }> {
  const p = await ga(c.primary);
  const b = await ga(c.backup);
  await eventually('primary ACTIVE and backup PASSIVE', () => estado(p) === 'ACTIVE' && estado(b) === 'PASSIVE', 10_000);
  return { p, b };
}

describe('GA pair on one PostgreSQL', () => {
  it('cold start: the primary is active, the backup passive and answers GA_NO_ACTIVO (ping still answers)', async () => {
    const { p, b } = await startPair(await pairConfig());
    const r = await rawCall(b.endpoint, { orden: 'aplicar', op: op('cold') });
    expect(r).toMatchObject({ exito: false, codigo: 'GA_NO_ACTIVO' });
    expect(await rawCall(b.endpoint, { orden: 'ping' })).toMatchObject({ exito: true, rol: 'backup' });
    expect(await rawCall(p.endpoint, { orden: 'aplicar', op: op('cold') })).toMatchObject({ exito: true, resultado: { codigo: 'APROBADO' } });
    // Requests to the passive backup never make it take over while the primary beats.
    for (let i = 0; i < 5; i++) await rawCall(b.endpoint, { orden: 'consultar', isbn: ISBN });
    expect(estado(b)).toBe('PASSIVE');

    const sp = await status(p);
    const sb = await status(b);
    expect(sp.papel).toMatchObject({ rol: 'primary', estado: 'ACTIVE', activo: true, par: { estado: 'PASSIVE', perdido: false } });
    expect(sp.papel.activoDesde).toEqual(expect.any(String));
    expect(sp.papel.par.latidoHaceMs).toBeLessThan(PEER_TIMEOUT_MS);
    expect(sp.postgres).toMatchObject({ rolPg: 'primary', timeline: 1, disponible: true });
    expect(sb.papel).toMatchObject({ rol: 'backup', estado: 'PASSIVE', activo: false, activoDesde: null, par: { estado: 'ACTIVE' } });
    const metrics = await (await fetch(`http://127.0.0.1:${b.httpPort}/metrics`)).text();
    expect(metrics).toMatch(/ga_role_state\{estado="PASSIVE",proc="ga"\} 1/);
  });

  it('primary GA killed under load: the backup takes over after the peer timeout and no acknowledged op is lost or applied twice', async () => {
    const cfg = await pairConfig();
    const { p, b } = await startPair(cfg);
    const c = client([p.endpoint, b.endpoint]);
    const acked: string[] = [];
    const failures: string[] = [];
    let killedAt = 0;
    let firstOkAfterKill = 0;
    let stop = false;
    const worker = async () => {
      while (!stop) {
        const o = op('kill');
        try {
          const r = await c.aplicar(o);
          expect(r.codigo).toBe('APROBADO');
          acked.push(o.id);
          if (killedAt && !firstOkAfterKill) firstOkAfterKill = Date.now();
        } catch (err) {
          failures.push(`${o.id}: ${(err as Error).message}`);
        }
      }
    };
    const workers = Array.from({ length: 4 }, worker);
    let takeoverMs: number;
    try {
      await eventually('some load on the primary', () => acked.length >= 50, 10_000);
      killedAt = Date.now();
      await p.abort();
      const tKill = Date.now();
      await eventually('backup ACTIVE', () => estado(b) === 'ACTIVE', 10_000);
      takeoverMs = Date.now() - tKill;
      await eventually('service back', () => firstOkAfterKill > 0, 10_000);
      const n = acked.length;
      await eventually('more load on the backup', () => acked.length >= n + 50, 10_000);
    } finally {
      // Also on failure: workers left running would spin on the closed client and starve the cleanup.
      stop = true;
      await Promise.all(workers);
    }

    const recoverMs = firstOkAfterKill - killedAt;
    console.info(`[ga-role-pair] takeover: backup ACTIVE ${takeoverMs} ms after the primary GA died; first client success ${recoverMs} ms after (peer timeout ${PEER_TIMEOUT_MS} ms)`);
    expect(failures).toEqual([]);
    expect(takeoverMs).toBeGreaterThanOrEqual(PEER_TIMEOUT_MS - 150);
    expect(recoverMs).toBeLessThan(PEER_TIMEOUT_MS + 1500);

    // Every acknowledged op is in the ledger exactly once; stock adds up.
    const rows = await db.query<{ id: string; estado: string }>('SELECT id, estado FROM operaciones WHERE id = ANY($1)', [acked]);
    expect(rows.rowCount).toBe(acked.length);
    expect(rows.rows.every((r) => r.estado === 'COMPLETADA')).toBe(true);
    const inv = await db.query<{ ok: boolean }>(
      `SELECT l.total = l.disponibles + (SELECT count(*) FROM prestamos p WHERE p.isbn = l.isbn AND p.estado = 'ACTIVO') AS ok FROM libros l WHERE isbn = $1`,
      [ISBN],
    );
    expect(inv.rows[0]!.ok).toBe(true);
    const sb = await status(b);
    expect(sb.papel).toMatchObject({ estado: 'ACTIVE', par: { perdido: true } });
    expect(sb.papel.motivo).toMatch(/peer heartbeat lost/);
    const metrics = await (await fetch(`http://127.0.0.1:${b.httpPort}/metrics`)).text();
    expect(metrics).toMatch(/ga_takeovers_total\{from="PASSIVE",proc="ga"\} 1/);
  });

  it('npm run status prints one block per GA (role, state, PostgreSQL, peer heartbeat) and fails when none answers', async () => {
    const { p, b } = await startPair(await pairConfig());
    const cli = fileURLToPath(new URL('../../dist/scripts/launcher/status.js', import.meta.url));
    const run = promisify(execFile);
    const { stdout } = await run(process.execPath, [cli, '--ga', `http://127.0.0.1:${p.httpPort}`, '--ga', `http://127.0.0.1:${b.httpPort}`, '--no-gc']);
    const [bp, bb] = stdout.split('\n\n');
    expect(bp).toMatch(/^GA http:\/\/127\.0\.0\.1:\d+ {2}primary {2}ACTIVE {2}activo desde /);
    expect(bp).toMatch(/PostgreSQL: {2}127\.0\.0\.1:\d+ primary, timeline 1, accesible/);
    expect(bp).toMatch(/GA par: {6}tcp:\/\/127\.0\.0\.1:\d+ PASSIVE \(backup\), latido hace \d+ ms/);
    expect(bb).toMatch(/backup {2}PASSIVE/);
    const dead = await run(process.execPath, [cli, '--ga', `http://127.0.0.1:${(await freePorts(1))[0]}`, '--no-gc']).catch((err: { code: number; stdout: string }) => err);
    expect(dead).toMatchObject({ code: 1, stdout: expect.stringContaining('NO RESPONDE') });
    // One of two silent is a failure too, and so is a URL that answers as something else (a GA asked as a GC).
    const wrong = await run(process.execPath, [cli, '--ga', `http://127.0.0.1:${p.httpPort}`, '--gc', `http://127.0.0.1:${b.httpPort}`]).catch((err: { code: number; stdout: string }) => err);
    expect(wrong).toMatchObject({ code: 1, stdout: expect.stringMatching(/NO RESPONDE \(su \/status no es el de un GC\)[\s\S]*1 de 2 procesos no responden/) });
  });

  it('heartbeat lost without client requests: the backup stays passive', async () => {
    const { p, b } = await startPair(await pairConfig());
    await p.abort();
    await new Promise((r) => setTimeout(r, PEER_TIMEOUT_MS * 2));
    expect(estado(b)).toBe('PASSIVE');
    expect((await status(b)).papel.par.perdido).toBe(true);
  });

  it('the old primary GA restarted after a takeover stays passive; the active backup keeps serving', async () => {
    const cfg = await pairConfig();
    const { p, b } = await startPair(cfg);
    const c = client([p.endpoint, b.endpoint]);
    await c.aplicar(op('ret'));
    await p.abort();
    await c.aplicar(op('ret')); // a request after the timeout makes the backup take over
    expect(estado(b)).toBe('ACTIVE');

    const p2 = await ga(cfg.primary);
    await eventually('restarted primary hears the active backup', () => estado(p2) !== 'PRIMARY', 5000);
    for (let i = 0; i < 30; i++) {
      expect((await c.aplicar(op('ret'))).codigo).toBe('APROBADO');
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(estado(p2)).toBe('PASSIVE');
    expect(estado(b)).toBe('ACTIVE');
    expect(await rawCall(p2.endpoint, { orden: 'aplicar', op: op('ret') })).toMatchObject({ exito: false, codigo: 'GA_NO_ACTIVO' });
    const s = await status(p2);
    expect(s.papel).toMatchObject({ estado: 'PASSIVE', activo: false, par: { estado: 'ACTIVE', rol: 'backup' } });
    expect(s.papel.motivo).toMatch(/took over while we were away/);
    // Its counters show it served nothing.
    expect(Object.keys(s.solicitudes.porCodigo)).toEqual(['GA_NO_ACTIVO']);
  });

  it('fencing token: writes are stamped with the cluster and timeline; a client that wrote on a newer timeline of this cluster fences the active GA, which then admits nothing', async () => {
    const { p } = await startPair(await pairConfig());
    const admitted = async () => {
      const text = await (await fetch(`http://127.0.0.1:${p.httpPort}/metrics`)).text();
      return [...text.matchAll(/^ga_writes_admitted_total\{[^}]*\}\s+(\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
    };
    const first = await rawCall(p.endpoint, { orden: 'aplicar', op: op('fence') });
    const { rows } = await db.query<{ s: string }>('SELECT system_identifier::text AS s FROM pg_control_system()');
    expect(first).toMatchObject({ exito: true, resultado: { codigo: 'APROBADO' }, fencing: { sistema: rows[0]!.s, timeline: 1 } });
    const sistema = rows[0]!.s;
    // Another cluster's token (a re-initialised deployment) and this timeline's are served.
    expect(await rawCall(p.endpoint, { orden: 'aplicar', op: op('fence'), fencing: { sistema: '1', timeline: 7 } })).toMatchObject({ exito: true });
    expect(await rawCall(p.endpoint, { orden: 'aplicar', op: op('fence'), fencing: { sistema, timeline: 1 } })).toMatchObject({ exito: true });
    const before = await admitted();
    expect(before).toBe(3);

    const stale = [op('fence'), op('fence')];
    const r = await rawCall(p.endpoint, { orden: 'registrar', op: stale[0], fencing: { sistema, timeline: 2 } });
    expect(r).toMatchObject({ exito: false, codigo: 'GA_NO_ACTIVO', mensaje: expect.stringContaining('timeline 2') });
    expect(estado(p)).toBe('FENCED');
    expect((await status(p)).papel).toMatchObject({ estado: 'FENCED', timelineMaximo: 2, aislado: { motivo: expect.stringMatching(/timeline 1 but timeline 2 exists/) } });
    // From now on it refuses every write, with or without a token, and admitted none of them.
    expect(await rawCall(p.endpoint, { orden: 'aplicar', op: stale[1] })).toMatchObject({ exito: false, codigo: 'GA_NO_ACTIVO' });
    expect(await admitted()).toBe(before);
    const ledger = await db.query('SELECT id FROM operaciones WHERE id = ANY($1)', [stale.map((o) => o.id)]);
    expect(ledger.rowCount).toBe(0);
  });
});
