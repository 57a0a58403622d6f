/**
 * A request that waits in the role gate while a takeover switches the GA to
 * another PostgreSQL node must run on the new pool. It used to be bound to the
 * store read before the gate, whose pool the switch had just ended: the client
 * got ERROR_INTERNO ("Cannot use a pool after calling end on the pool").
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { pino } from 'pino';
import { dispatch } from '../../gestor_almacenamiento/dispatch.js';
import { migrate } from '../../gestor_almacenamiento/migrate.js';
import { StorageTarget } from '../../gestor_almacenamiento/storage-target.js';
import { startTestPostgres, type TestPostgres } from '../harness/postgres.js';

const log = pino({ level: 'silent' });
let pgs: TestPostgres;
let target: StorageTarget;

beforeAll(async () => {
  pgs = await startTestPostgres();
  const node = { host: pgs.host, port: pgs.port, user: pgs.user, password: pgs.password, database: pgs.database };
  target = new StorageTarget(node, { max: 2 }, log);
  await migrate(target.pool, log);
});
afterAll(async () => {
  await target?.close();
  await pgs?.stop();
});

test('a request released by the gate after a pool switch is served by the new pool', async () => {
  let open!: () => void;
  const gateOpen = new Promise<void>((r) => (open = r));
  const pending = dispatch(
    { ref: 'r1', orden: 'consultar', isbn: '978-0-00-000000-0' },
    { store: () => target.store, rol: () => 'primary', gate: async () => (await gateOpen, undefined), log },
  );
  // The same server under another name: a different node for the target, so the old pool is ended.
  target.switchTo({ host: 'localhost', port: pgs.port, user: pgs.user, password: pgs.password, database: pgs.database });
  open();
  const reply = await pending;
  expect(reply).toMatchObject({ exito: true, resultado: { codigo: 'LIBRO_NO_EXISTE' } });
});

test('only writes the gate lets through are counted as admitted, before they run', async () => {
  const admitted: string[] = [];
  const deps = (gate: () => undefined | { ref: string; exito: false; codigo: 'GA_NO_ACTIVO'; mensaje: string }) => ({
    store: () => target.store,
    rol: () => 'primary',
    gate,
    onAdmitted: (orden: string) => admitted.push(orden),
    log,
  });
  const op = { operacion: 'prestamo' as const, isbn: '978-0-00-000000-9', usuario: 'u-gate', id: 'gate-1' };
  const refused = await dispatch({ ref: 'r2', orden: 'aplicar', op }, deps(() => ({ ref: 'r2', exito: false, codigo: 'GA_NO_ACTIVO', mensaje: 'fenced' })));
  expect(refused).toMatchObject({ exito: false, codigo: 'GA_NO_ACTIVO' });
  expect(admitted).toEqual([]);
  await dispatch({ ref: 'r3', orden: 'consultar', isbn: op.isbn }, deps(() => undefined));
  expect(admitted).toEqual([]); // reads are not writes
  const served = await dispatch({ ref: 'r4', orden: 'aplicar', op }, deps(() => undefined));
  expect(served).toMatchObject({ exito: true, resultado: { codigo: 'LIBRO_NO_EXISTE' } });
  expect(admitted).toEqual(['aplicar']);
});
