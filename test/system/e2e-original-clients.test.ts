/**
 * The original system's clients, unchanged, against the real system (processes,
 * PostgreSQL, ZeroMQ): a pyzmq REQ client sending exactly their messages — the
 * interactive menu's (every request with `titulo`, often null; préstamo by title)
 * and the batch scripts' (one id per (isbn, usuario) reused for every operation) —
 * and this repo's Locust file run headless, as a user who knows Locust would.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Respuesta } from '../../common/protocol/ps-gc.js';
import { projectRoot } from '../../common/project-root.js';
import { effectLedgerMismatches, invariantViolations, startTestSystem, type TestSystem } from '../harness/system.js';
import { findPythonTools, requireTool, skipWithoutPython } from '../harness/python.js';
import { waitNoPending } from '../../gestor_almacenamiento/consistency.js';
import { eventually } from '../harness/eventually.js';

const tools = findPythonTools();
const skip = skipWithoutPython(tools, 'original Python clients (test/system/e2e-original-clients.test.ts)');

const MENU_A = '978-0-00-000101-1'; // "Cien Años de Soledad", 3 copies
const MENU_B = '978-0-00-000102-2'; // "Rayuela", 2 copies
const POESIA_1 = '978-0-00-000103-3'; // "Poesía"
const POESIA_2 = '978-0-00-000104-4'; // "POESIA": same title, case and accents aside
const LOTE = '978-0-00-000105-5'; // 2 copies
const LOCUST = ['978-0-00-000201-1', '978-0-00-000202-2', '978-0-00-000203-3', '978-0-00-000204-4']; // 50 copies each

let sys: TestSystem;
const children = new Set<ChildProcess>();
const tmp = mkdtempSync(join(tmpdir(), 'clientes-originales-'));

beforeAll(async () => {
  if (skip) return;
  requireTool(tools.python, tools);
  requireTool(tools.locust, tools);
  sys = await startTestSystem([
    { isbn: MENU_A, ejemplares: 3, titulo: 'Cien Años de Soledad' },
    { isbn: MENU_B, ejemplares: 2, titulo: 'Rayuela' },
    { isbn: POESIA_1, ejemplares: 1, titulo: 'Poesía' },
    { isbn: POESIA_2, ejemplares: 1, titulo: 'POESIA' },
    { isbn: LOTE, ejemplares: 2, titulo: 'Libro del lote' },
    ...LOCUST.map((isbn) => ({ isbn, ejemplares: 50 })),
  ]);
});

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await sys?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

/** Runs a command to completion (killed after `timeoutMs`); its output and exit code. */
function run(cmd: string, args: string[], o: { input?: string; timeoutMs: number; env?: NodeJS.ProcessEnv; cwd?: string }): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: o.cwd, env: { ...process.env, ...o.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    children.add(child);
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, out, err });
    });
    child.stdin.end(o.input ?? '');
  });
}

/** Sends exactly these messages from a pyzmq REQ socket, one after another; the replies in order. */
async function pythonReq(messages: unknown[]): Promise<Respuesta[]> {
  const r = await run(requireTool(tools.python, tools), [join(projectRoot(), 'test', 'python', 'cliente_req.py'), sys.gcEndpoint], { input: JSON.stringify(messages), timeoutMs: 60_000 });
  expect(r.code, `python client: ${r.err}${r.out}`).toBe(0);
  const replies = r.out.trim().split('\n').map((l) => JSON.parse(l) as Respuesta);
  expect(replies).toHaveLength(messages.length);
  for (const reply of replies) {
    // The original clients read these fields.
    expect(typeof reply.exito).toBe('boolean');
    expect(typeof reply.mensaje).toBe('string');
    expect(typeof reply.fechaOperacion).toBe('string');
    expect(typeof reply.datos).toBe('object');
    expect(typeof reply.codigo).toBe('string');
  }
  return replies;
}

const count = async (sql: string, params: unknown[]) => (await sys.db.query<{ n: number }>(sql, params)).rows[0]!.n;

describe.skipIf(skip)('original Python clients, unchanged', () => {
  it("the interactive menu's five options, every request with titulo (null but for the préstamo by title)", async () => {
    const u = 'menu-ana';
    const r = await pythonReq([
      { operacion: 'prestamo', isbn: MENU_A, titulo: null, usuario: u },
      { operacion: 'prestamo', isbn: null, titulo: 'rayuela', usuario: u },
      { operacion: 'devolucion', isbn: MENU_A, titulo: null, usuario: u },
      { operacion: 'renovacion', isbn: MENU_B, titulo: null, usuario: u },
      { operacion: 'consulta', isbn: MENU_B, titulo: null, usuario: u },
      // By title: case and accents ignored; an ambiguous or unknown title is refused with a clear code.
      { operacion: 'consulta', isbn: null, titulo: 'CIEN AÑOS DE SOLEDAD', usuario: u },
      { operacion: 'prestamo', isbn: null, titulo: 'poesia', usuario: u },
      { operacion: 'prestamo', isbn: null, titulo: 'Un libro que no está', usuario: u },
    ]);
    expect(r.map((x) => x.codigo)).toEqual(['APROBADO', 'APROBADO', 'ACEPTADO', 'APROBADO', 'OK', 'OK', 'TITULO_AMBIGUO', 'LIBRO_NO_EXISTE']);
    expect(r[0]!.datos).toMatchObject({ isbn: MENU_A, usuario: u });
    expect(r[1]!.datos).toMatchObject({ isbn: MENU_B, usuario: u }); // the title named Rayuela
    expect(r[3]!.datos).toMatchObject({ isbn: MENU_B, renovaciones: 1 });
    expect(r[4]!.datos).toMatchObject({ isbn: MENU_B, total: 2, disponibles: 1 });
    expect(r[5]!.datos).toMatchObject({ isbn: MENU_A, titulo: 'Cien Años de Soledad' });
    expect((r[6]!.datos.candidatos as Array<{ isbn: string }>).map((c) => c.isbn).sort()).toEqual([POESIA_1, POESIA_2]);
    // The async devolución is applied; the refusals changed nothing.
    await eventually('the devolución to be applied', async () => (await waitNoPending(sys.db, 0)) === 0, 10_000);
    expect(await count(`SELECT count(*)::int AS n FROM prestamos WHERE usuario = $1 AND estado = 'ACTIVO'`, [u])).toBe(1);
    expect(await count(`SELECT count(*)::int AS n FROM prestamos WHERE isbn = ANY($1)`, [[POESIA_1, POESIA_2]])).toBe(0);
    expect(await invariantViolations(sys.db)).toEqual([]);
  });

  it('the batch scripts: one id per (isbn, usuario) reused for every operation, each one applied', async () => {
    const usuario = 'lote-1';
    const id = `${LOTE}_${usuario}`;
    const msg = (operacion: string) => ({ operacion, isbn: LOTE, usuario, id });
    const r = await pythonReq([msg('prestamo'), msg('renovacion'), msg('renovacion'), msg('renovacion'), msg('devolucion')]);
    expect(r.map((x) => x.codigo)).toEqual(['APROBADO', 'APROBADO', 'APROBADO', 'LIMITE_RENOVACIONES', 'ACEPTADO']);
    expect(r.map((x) => x.datos.renovaciones)).toEqual([0, 1, 2, 2, undefined]);
    // Their id comes back as they sent it; each request was its own operation (its own clave).
    for (const x of r) expect(x.id).toBe(id);
    expect(new Set(r.map((x) => x.clave)).size).toBe(5);
    // estado by that id answers the latest operation sent with it: the devolución, once applied.
    const c = sys.client();
    let e!: Respuesta;
    await eventually('the devolución to complete', async () => {
      e = await c.send({ operacion: 'estado', id });
      return e.datos.estado === 'COMPLETADA';
    }, 10_000);
    expect(e).toMatchObject({ codigo: 'OK', id, datos: { operacion: 'devolucion', clave: r[4]!.clave, etiqueta: id } });
    const loan = await sys.db.query(`SELECT estado, renovaciones FROM prestamos WHERE isbn = $1 AND usuario = $2`, [LOTE, usuario]);
    expect(loan.rows).toEqual([{ estado: 'DEVUELTO', renovaciones: 2 }]);
    expect(await count(`SELECT disponibles AS n FROM libros WHERE isbn = $1`, [LOTE])).toBe(2);
    expect(await effectLedgerMismatches(sys.db, 'lote-')).toEqual([]);
  });

  it("the repo's Locust file, headless for a few seconds: every request answered, none failed, stock consistent", async () => {
    const csv = join(tmp, 'locust');
    const r = await run(
      requireTool(tools.locust, tools),
      ['-f', join(projectRoot(), 'solicitante', 'locustfile.py'), '--headless', '-u', '4', '-r', '4', '-t', '4s', '--host', sys.gcEndpoint, '--csv', csv, '--only-summary'],
      { cwd: tmp, timeoutMs: 90_000, env: { BIBLIOTECA_ISBNS: LOCUST.join(',') } },
    );
    expect(r.code, `locust exit code; its output:\n${r.err.slice(-3000)}`).toBe(0);
    const rows = readFileSync(`${csv}_stats.csv`, 'utf8').trim().split('\n').map((l) => l.split(','));
    const header = rows[0]!;
    const col = (row: string[], name: string) => row[header.indexOf(name)]!;
    const byName = new Map(rows.slice(1).map((row) => [col(row, 'Name').replace(/"/g, ''), row]));
    const total = byName.get('Aggregated')!;
    expect(Number(col(total, 'Request Count'))).toBeGreaterThan(30);
    expect(Number(col(total, 'Failure Count'))).toBe(0);
    for (const op of ['prestamo', 'renovacion', 'devolucion']) expect(Number(col(byName.get(op)!, 'Request Count')), op).toBeGreaterThan(5);
    // Every request was a new operation: the GC applied each one, and nothing twice.
    expect(await waitNoPending(sys.db, 20_000)).toBe(0);
    expect(await effectLedgerMismatches(sys.db, 'locust-')).toEqual([]);
    expect(await invariantViolations(sys.db)).toEqual([]);
    // A loan the end of the run cut short was returned by the user's on_stop.
    expect(await count(`SELECT count(*)::int AS n FROM prestamos WHERE usuario LIKE 'locust-%' AND estado = 'ACTIVO'`, [])).toBe(0);
  });
});
