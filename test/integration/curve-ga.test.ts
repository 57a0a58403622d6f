/**
 * CURVE on the GA socket (real GA, real PostgreSQL) and on the GA pair's heartbeat
 * link: a client with an allowed key is served; one with an unknown key, with no
 * CURVE, or expecting another server key gets no reply and changes nothing in the
 * database; a heartbeat listener with an unknown key hears nothing. Refusals are counted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import pg from 'pg';
import { Registry } from 'prom-client';
import { GA_VARS, readConfig } from '../../common/config.js';
import { newCurveKeyPair, type CurveKeyPair } from '../../common/curve-keys.js';
import { StorageUnavailableError } from '../../common/errors.js';
import { SocketSecurity } from '../../common/socket-security.js';
import { createStorageClient, type StorageClient } from '../../common/storage-client.js';
import { loadCatalog } from '../../gestor_almacenamiento/catalog.js';
import { startGa, type GaHandle } from '../../gestor_almacenamiento/ga.js';
import { startPeerLink, type PeerLink } from '../../gestor_almacenamiento/role/peer-link.js';
import type { PeerBeat } from '../../gestor_almacenamiento/role/machine.js';
import { clientConfig } from '../harness/fake-ga.js';
import { freePorts } from '../harness/ports.js';
import { startTestPostgres, type TestPostgres } from '../harness/postgres.js';

const log = pino({ level: 'silent' });
const ISBN = '978-84-376-0494-7';
const [gaKey, gcKey, intruderKey] = [newCurveKeyPair(), newCurveKeyPair(), newCurveKeyPair()];
let pgs: TestPostgres;
let ga: GaHandle;
let gaSecurity: SocketSecurity;
let endpoint: string;
let db: pg.Pool;
const registry = new Registry();
const clients: StorageClient[] = [];
/** The client sides' SocketSecurity, to read their failed handshakes. */
const securityOf = new Map<SocketSecurity, CurveKeyPair>();

beforeAll(async () => {
  pgs = await startTestPostgres();
  const [zmqPort, httpPort] = await freePorts(2);
  endpoint = `tcp://127.0.0.1:${zmqPort}`;
  const cfg = readConfig(GA_VARS, {
    LOG_LEVEL: 'silent', GA_BIND: endpoint, GA_HTTP_PORT: String(httpPort), HTTP_HOST: '127.0.0.1',
    PGHOST: pgs.host, PGPORT: String(pgs.port), PGUSER: pgs.user, PGPASSWORD: pgs.password, PGDATABASE: pgs.database,
    ZMQ_CURVE: 'on', ZMQ_CURVE_SECRET_KEY: gaKey.secretKey, GA_CURVE_CLIENTS: gcKey.publicKey,
  });
  gaSecurity = await new SocketSecurity({ secretKey: gaKey.secretKey, clients: { ga: cfg.GA_CURVE_CLIENTS }, log, registry }).start();
  ga = await startGa(cfg, log, { registry, security: gaSecurity, healthProbeMs: 0 });
  await loadCatalog(ga.pool, [{ isbn: ISBN, titulo: 'Cien años de soledad', autor: 'Gabriel García Márquez', ejemplares: 3 }]);
  db = new pg.Pool({ host: pgs.host, port: pgs.port, user: pgs.user, password: pgs.password, database: pgs.database, max: 2 });
}, 60_000);
afterAll(async () => {
  for (const c of clients) await c.close();
  await db?.end();
  await ga?.close();
  await gaSecurity?.close();
  await pgs?.stop();
});

function client(key: CurveKeyPair | undefined, serverKey = gaKey.publicKey): StorageClient {
  const security = key ? new SocketSecurity({ secretKey: key.secretKey, serverKeys: new Map([[endpoint, serverKey]]) }) : undefined;
  if (security) securityOf.set(security, key!);
  const c = createStorageClient(clientConfig([endpoint], { GA_TIMEOUT_MS: 300, GA_MAX_ATTEMPTS: 2 }), log, undefined, { security });
  clients.push(c);
  return c;
}

async function snapshot(): Promise<unknown> {
  const r = await db.query(`SELECT (SELECT json_agg(l ORDER BY isbn) FROM libros l) AS libros,
                                   (SELECT json_agg(p ORDER BY id) FROM prestamos p) AS prestamos,
                                   (SELECT json_agg(o ORDER BY id) FROM operaciones o) AS operaciones`);
  return r.rows[0];
}

describe('CURVE on the GA socket', () => {
  it('serves a client whose key is allowed', async () => {
    const r = await client(gcKey).aplicar({ operacion: 'prestamo', isbn: ISBN, usuario: 'permitido', id: 'curve-ga-ok' });
    expect(r).toMatchObject({ codigo: 'APROBADO', estado: 'COMPLETADA' });
  });

  it('gives an unknown key, a plain client or a client expecting another server nothing, and the database does not change', async () => {
    const before = await snapshot();
    const refusedBefore = gaSecurity.refused().ga ?? 0;
    const attempts: Array<[string, StorageClient]> = [
      ['unknown key', client(intruderKey)],
      ['no CURVE', client(undefined)],
      ['another server key', client(gcKey, intruderKey.publicKey)],
    ];
    for (const [what, c] of attempts) {
      const write = c.aplicar({ operacion: 'prestamo', isbn: ISBN, usuario: `intruso-${what.replace(/\W/g, '')}`, id: `curve-ga-${what.replace(/\W/g, '-')}` });
      await expect(write, what).rejects.toBeInstanceOf(StorageUnavailableError);
      await expect(c.consultar(ISBN), what).rejects.toBeInstanceOf(StorageUnavailableError);
    }
    expect(await snapshot()).toEqual(before);
    // Only the CURVE client with an unknown key reaches the ZAP handler (the others fail earlier, in the handshake).
    expect(gaSecurity.refused().ga).toBeGreaterThan(refusedBefore);
    expect(await registry.getSingleMetricAsString('zmq_curve_refused_total')).toMatch(new RegExp(`socket="ga"} ${gaSecurity.refused().ga}`));
    // The failures the ZAP handler never sees are counted too, where they happen: the plain client's
    // on the GA (mechanism mismatch), and on each CURVE client's own side (refused, or a stale server key).
    expect(gaSecurity.handshakeFailures().ga).toBeGreaterThan(0);
    expect(await registry.getSingleMetricAsString('zmq_curve_handshake_failed_total')).toMatch(/socket="ga"/);
    const side = (k: CurveKeyPair) => [...securityOf].filter(([, key]) => key === k).reduce((n, [sec]) => n + (sec.handshakeFailures()['ga-cliente'] ?? 0), 0);
    expect(side(intruderKey)).toBeGreaterThan(0);
    expect(side(gcKey)).toBeGreaterThan(0); // the client expecting another server key (the allowed client never failed)
  });
});

describe('CURVE on the GA peer heartbeat link', () => {
  it('carries beats between the two GAs; a listener with an unknown key hears nothing and is counted', async () => {
    const [a, b] = await freePorts(2);
    const [ka, kb] = [newCurveKeyPair(), newCurveKeyPair()];
    const ea = `tcp://127.0.0.1:${a}`;
    const eb = `tcp://127.0.0.1:${b}`;
    const state = (rol: PeerBeat['rol']): PeerBeat => ({ rol, estado: rol === 'primary' ? 'ACTIVE' : 'PASSIVE', activo: rol === 'primary', timeline: 1, pgEnRecuperacion: rol !== 'primary', pgDisponible: true });
    const secA = await new SocketSecurity({ secretKey: ka.secretKey, clients: { 'ga-peer': [kb.publicKey] }, serverKeys: new Map([[eb, kb.publicKey]]) }).start();
    const secB = await new SocketSecurity({ secretKey: kb.secretKey, clients: { 'ga-peer': [ka.publicKey] }, serverKeys: new Map([[ea, ka.publicKey]]) }).start();
    const secX = await new SocketSecurity({ secretKey: intruderKey.secretKey, clients: { 'ga-peer': [ka.publicKey] }, serverKeys: new Map([[ea, ka.publicKey]]) }).start();
    const got: Record<'a' | 'b' | 'x', PeerBeat[]> = { a: [], b: [], x: [] };
    const links: PeerLink[] = [];
    try {
      links.push(await startPeerLink({ bind: ea, peer: eb, heartbeatMs: 20, state: () => state('primary'), onBeat: (x) => got.a.push(x), log, security: secA }));
      links.push(await startPeerLink({ bind: eb, peer: ea, heartbeatMs: 20, state: () => state('backup'), onBeat: (x) => got.b.push(x), log, security: secB }));
      // An intruder that knows pc1's public key and listens to it (its own PUB on a free port).
      const [xp] = await freePorts(1);
      links.push(await startPeerLink({ bind: `tcp://127.0.0.1:${xp}`, peer: ea, heartbeatMs: 20, state: () => state('backup'), onBeat: (x) => got.x.push(x), log, security: secX }));
      for (const end = Date.now() + 10_000; got.a.length < 5 || got.b.length < 5 || !secA.refused()['ga-peer']; await new Promise((r) => setTimeout(r, 20))) {
        if (Date.now() > end) throw new Error(`no beats or no refusal in time (${got.a.length}, ${got.b.length}, ${JSON.stringify(secA.refused())})`);
      }
      expect(got.a.at(-1)?.rol).toBe('backup');
      expect(got.b.at(-1)?.rol).toBe('primary');
      expect(got.x).toEqual([]);
      expect(secA.refused()['ga-peer']).toBeGreaterThan(0);
    } finally {
      for (const l of links) await l.close();
      for (const s of [secA, secB, secX]) await s.close();
    }
  });
});
