/** test-sistema's claves: independent of the usuario and fresh on every run. */
import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { opIdSchema } from '../../common/protocol/ps-gc.js';
import { runCli } from '../../solicitante/cli.js';
import { FakeGc } from '../harness/fake-gc.js';
import { cleanupAfterEach } from '../harness/fixtures.js';

// Undone newest first after each test, also when it fails; one failing step does not stop the rest.
const defer = cleanupAfterEach();

async function testSistema(gc: FakeGc, args: string[]) {
  const out = new PassThrough();
  let text = '';
  out.on('data', (d: Buffer) => (text += d.toString()));
  const code = await runCli(['test-sistema', ...args], {
    stdin: Readable.from(['']),
    stdout: out,
    stderr: new PassThrough(),
    env: { GC_ENDPOINT: gc.endpoint, PS_TIMEOUT_MS: '1000', PS_RETRIES: '1' },
  });
  return { code, out: text };
}

const idsOf = (gc: FakeGc, from = 0) =>
  gc.recibidas
    .slice(from)
    .filter((m) => (m as { operacion: string }).operacion !== 'estado')
    .map((m) => (m as { clave: string }).clave);

describe('ps test-sistema claves', () => {
  it('a usuario with @ still PASSes, and the claves are the run\'s own', async () => {
    const gc = await FakeGc.start({ devolucionAsync: true, retardoAsyncMs: 50 });
    defer(() => gc.stop());
    const r = await testSistema(gc, ['--usuario', 'ana@uni.edu']);
    expect(r.out).not.toContain('FAIL');
    expect(r.code).toBe(0);
    const ids = idsOf(gc);
    expect(ids.length).toBeGreaterThanOrEqual(6);
    for (const id of ids) {
      expect(opIdSchema.safeParse(id).success, id).toBe(true);
      expect(id).toMatch(/^ts-[0-9a-f]+-paso\d+$/);
    }
  });

  it('re-running with the same --usuario sends new claves, so every step is applied again rather than replayed', async () => {
    const gc = await FakeGc.start({ devolucionAsync: false });
    defer(() => gc.stop());
    const first = await testSistema(gc, ['--usuario', 'u7']);
    const n = gc.recibidas.length;
    const a = idsOf(gc);
    const second = await testSistema(gc, ['--usuario', 'u7']);
    expect([first.code, second.code]).toEqual([0, 0]);
    const b = idsOf(gc, n);
    expect(b.length).toBe(a.length);
    expect(new Set([...a, ...b]).size).toBe(a.length + b.length);
    // The second run did real work: all its steps but the refused 3rd renewal were applied, each once.
    expect(b.filter((id) => gc.aplicaciones.get(id) === 1)).toHaveLength(b.length - 1);
  });

  it('a refused first loan stops the run there: one failure, not six', async () => {
    const gc = await FakeGc.start({ libros: { '978-84-376-0494-7': 0 } });
    defer(() => gc.stop());
    const r = await testSistema(gc, []);
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/FAIL {2}1\. Préstamo: esperado APROBADO; obtenido SIN_EJEMPLARES/);
    expect(r.out).toContain('Los pasos 2–6 actúan sobre ese préstamo: no se ejecutan.');
    expect(r.out).toMatch(/Resultado: FAIL \(0\/1 comprobaciones correctas\)/);
    expect(gc.recibidas).toHaveLength(1);
  });

  it('--espera 0 still asks estado once, and reports what it said', async () => {
    const gc = await FakeGc.start({ devolucionAsync: true, retardoAsyncMs: 5_000 });
    defer(() => gc.stop());
    const r = await testSistema(gc, ['--espera', '0']);
    expect(gc.recibidas.filter((m) => (m as { operacion: string }).operacion === 'estado')).toHaveLength(1);
    expect(r.out).toMatch(/FAIL {2}5b\. Devolución aplicada \(estado\): esperado COMPLETADA en 0 ms; obtenido PENDIENTE/);
  });
});
