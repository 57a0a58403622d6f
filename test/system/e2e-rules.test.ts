/**
 * The library's rules end to end through real processes: PS client → GC →
 * actors → GA → PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Respuesta } from '../../common/protocol/ps-gc.js';
import { runLines } from '../../solicitante/file-mode.js';
import { effectLedgerMismatches, invariantViolations, startTestSystem, type TestSystem } from '../harness/system.js';
import { eventually } from '../harness/eventually.js';

const LIBRO = '978-0-00-000001-1'; // 3 copies
const UNICO = '978-0-00-000002-2'; // 1 copy
const AGOTADO = '978-0-00-000003-3'; // 0 copies
const DOBLE = '978-0-00-000004-4'; // 2 copies
const CONCURRIDO = '978-0-00-000005-5'; // 1 copy
const IDEMP = '978-0-00-000006-6'; // 2 copies

let sys: TestSystem;

beforeAll(async () => {
  sys = await startTestSystem([
    { isbn: LIBRO, ejemplares: 3 },
    { isbn: UNICO, ejemplares: 1 },
    { isbn: AGOTADO, ejemplares: 0 },
    { isbn: DOBLE, ejemplares: 2 },
    { isbn: CONCURRIDO, ejemplares: 1 },
    { isbn: IDEMP, ejemplares: 2 },
  ]);
});

afterAll(async () => {
  await sys?.stop();
});

const disponibles = async (isbn: string) =>
  (await sys.db.query('SELECT disponibles FROM libros WHERE isbn = $1', [isbn])).rows[0].disponibles as number;

async function completed(id: string): Promise<Respuesta> {
  const c = sys.client();
  let last!: Respuesta;
  await eventually(`operation ${id} to complete`, async () => {
    last = await c.send({ operacion: 'estado', id });
    return last.datos.estado !== 'PENDIENTE';
  }, 10_000);
  return last;
}

describe('end to end through real processes', () => {
  it('runs the test_sistema scenario', async () => {
    const c = sys.client();
    const u = 'ts-e2e';
    const prestamo = await c.send({ operacion: 'prestamo', isbn: LIBRO, usuario: u });
    expect(prestamo.codigo).toBe('APROBADO');
    const due0 = Date.parse(String(prestamo.datos.fechaDevolucion));
    expect(due0 - Date.now()).toBeGreaterThan(13.9 * 86_400_000);
    expect(due0 - Date.now()).toBeLessThan(14.1 * 86_400_000);

    const r1 = await c.send({ operacion: 'renovacion', isbn: LIBRO, usuario: u });
    expect(r1.codigo).toBe('APROBADO');
    expect(Date.parse(String(r1.datos.fechaDevolucion)) - due0).toBe(7 * 86_400_000);
    const r2 = await c.send({ operacion: 'renovacion', isbn: LIBRO, usuario: u });
    expect(r2.codigo).toBe('APROBADO');
    expect(Date.parse(String(r2.datos.fechaDevolucion)) - due0).toBe(14 * 86_400_000);
    const r3 = await c.send({ operacion: 'renovacion', isbn: LIBRO, usuario: u });
    expect(r3).toMatchObject({ exito: false, codigo: 'LIMITE_RENOVACIONES' });

    const dev = await c.send({ operacion: 'devolucion', isbn: LIBRO, usuario: u });
    expect(dev).toMatchObject({ exito: true, codigo: 'ACEPTADO' });
    expect((await completed(dev.clave!)).datos.estado).toBe('COMPLETADA');

    const again = await c.send({ operacion: 'prestamo', isbn: LIBRO, usuario: u });
    expect(again.codigo).toBe('APROBADO');
  });

  it('refuses a loan when no copy is available, and a return without a loan', async () => {
    const c = sys.client();
    const r = await c.send({ operacion: 'prestamo', isbn: AGOTADO, usuario: 'u-sin' });
    expect(r).toMatchObject({ exito: false, codigo: 'SIN_EJEMPLARES' });
    const before = await disponibles(LIBRO);
    // Async devolución: refused at registration, not ACEPTADO, since no loan exists or is on its way.
    const dev = await c.send({ operacion: 'devolucion', isbn: LIBRO, usuario: 'nunca-presto' });
    expect(dev).toMatchObject({ exito: false, codigo: 'PRESTAMO_NO_ENCONTRADO' });
    const fin = await completed(dev.clave!);
    expect(fin.datos.estado).toBe('RECHAZADA');
    expect(JSON.stringify(fin.datos)).toContain('PRESTAMO_NO_ENCONTRADO');
    expect(await disponibles(LIBRO)).toBe(before);
    const nope = await c.send({ operacion: 'prestamo', isbn: '978-9-99-999999-9', usuario: 'u' });
    expect(nope.codigo).toBe('LIBRO_NO_EXISTE');
  });

  it('ps archivo does not count a return without a loan as a success', async () => {
    let text = '';
    const summary = await runLines(`DEVOLUCION ${LIBRO} nunca-presto-2\n`, sys.client(), { write: (s: string) => (text += s) });
    expect(summary).toMatchObject({ enviadas: 1, exitosas: 0, porCodigo: { PRESTAMO_NO_ENCONTRADO: 1 } });
    expect(text).toMatch(/DEVOLUCION .* nunca-presto-2 → PRESTAMO_NO_ENCONTRADO/);
  });

  it('approves exactly one of 20 concurrent loans of a 1-copy book', async () => {
    const clients = Array.from({ length: 20 }, () => sys.client());
    const replies = await Promise.all(clients.map((c, i) => c.send({ operacion: 'prestamo', isbn: CONCURRIDO, usuario: `conc-${i}` })));
    expect(replies.filter((r) => r.codigo === 'APROBADO')).toHaveLength(1);
    expect(replies.filter((r) => r.codigo === 'SIN_EJEMPLARES')).toHaveLength(19);
    expect(await disponibles(CONCURRIDO)).toBe(0);
  });

  it('two concurrent returns of two loans add two copies', async () => {
    const c = sys.client();
    for (const u of ['dos-a', 'dos-b']) expect((await c.send({ operacion: 'prestamo', isbn: DOBLE, usuario: u })).codigo).toBe('APROBADO');
    expect(await disponibles(DOBLE)).toBe(0);
    const [a, b] = await Promise.all(['dos-a', 'dos-b'].map((u) => sys.client().send({ operacion: 'devolucion', isbn: DOBLE, usuario: u })));
    await completed(a!.clave!);
    await completed(b!.clave!);
    expect(await disponibles(DOBLE)).toBe(2);
  });

  it('the same clave sent twice has one effect and the same reply', async () => {
    const c1 = sys.client();
    const c2 = sys.client();
    const req = { operacion: 'prestamo', isbn: IDEMP, usuario: 'idem', clave: 'idem-op-1' } as const;
    const [a, b] = await Promise.all([c1.send(req), c2.send(req)]);
    const c = await c1.send(req);
    expect(a.codigo).toBe('APROBADO');
    for (const r of [b, c]) {
      expect(r.codigo).toBe(a.codigo);
      expect(r.datos).toEqual(a.datos);
      expect(r).toMatchObject({ id: 'idem-op-1', clave: 'idem-op-1' });
    }
    expect(await disponibles(IDEMP)).toBe(1);
    const other = await c1.send({ ...req, usuario: 'otro' });
    expect(other.codigo).toBe('ID_REUTILIZADO');
    expect(await disponibles(IDEMP)).toBe(1);
  });

  it('refuses a loan right after an async return of the last copy until the return is applied', async () => {
    const c = sys.client();
    expect((await c.send({ operacion: 'prestamo', isbn: UNICO, usuario: 'ultimo-a' })).codigo).toBe('APROBADO');
    // Hold the return back: with no devolución actor it stays durably PENDIENTE.
    const devActors = sys.actors.filter((a) => a.spec.name.startsWith('devolucion'));
    await Promise.all(devActors.map((a) => a.stop('SIGKILL')));
    const dev = await c.send({ operacion: 'devolucion', isbn: UNICO, usuario: 'ultimo-a' });
    expect(dev.codigo).toBe('ACEPTADO');
    const refused = await c.send({ operacion: 'prestamo', isbn: UNICO, usuario: 'ultimo-b' });
    expect(refused.codigo).toBe('SIN_EJEMPLARES');
    expect((await c.send({ operacion: 'estado', id: dev.clave! })).datos.estado).toBe('PENDIENTE');
    // A devolución actor comes back: the queued return is applied, then the loan succeeds.
    for (const a of devActors) a.start();
    await completed(dev.clave!);
    const ok = await c.send({ operacion: 'prestamo', isbn: UNICO, usuario: 'ultimo-b' });
    expect(ok.codigo).toBe('APROBADO');
  });

  it('keeps stock and ledger consistent', async () => {
    expect(await invariantViolations(sys.db)).toEqual([]);
    expect(await effectLedgerMismatches(sys.db)).toEqual([]);
  });
});
