/**
 * `ps test-sistema`: the acceptance scenario against a running system.
 * préstamo → renovación → renovación → 3rd renovación REFUSED
 * (LIMITE_RENOVACIONES) → devolución → new préstamo.
 * Each step prints its reply, what was expected and PASS/FAIL; the result is
 * PASS only if every step passes. Claves (idempotency keys) are chosen here so
 * the devolución's can be polled with `estado` when the GC answers it
 * asynchronously (ACEPTADO). They are fresh per run and never derived from the
 * usuario: re-used claves would only replay the outcomes recorded by an earlier
 * run instead of applying anything.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Codigo } from '../common/protocol/codes.js';
import type { Respuesta } from '../common/protocol/ps-gc.js';
import { describeRespuesta, dueDate, estadoOf, shortDate } from './format.js';
import type { Output } from './file-mode.js';
import type { GcCaller, NuevaSolicitud } from './types.js';

export const DEMO_ISBN = '978-84-376-0494-7';

export interface SystemTestOptions {
  isbn?: string;
  /** Default a fresh `ts-<timestamp>` so the scenario can be re-run on the same database. */
  usuario?: string;
  /** Bound on waiting for an async devolución to complete. */
  devolucionTimeoutMs?: number;
  estadoPollMs?: number;
  /** Return the last loan at the end so re-runs keep the book's stock (default true). */
  cleanup?: boolean;
}

export interface StepResult {
  step: string;
  expected: string;
  actual: string;
  ok: boolean;
}

const DAY_MS = 86_400_000;

export async function runSystemTest(gc: GcCaller, out: Output, opts: SystemTestOptions = {}): Promise<{ ok: boolean; steps: StepResult[] }> {
  const isbn = opts.isbn ?? DEMO_ISBN;
  const usuario = opts.usuario ?? `ts-${Date.now()}`;
  const steps: StepResult[] = [];
  const run = `ts-${randomBytes(4).toString('hex')}`;
  let n = 0;
  const nextId = () => `${run}-paso${++n}`;
  out.write(`Prueba del sistema: isbn ${isbn}, usuario ${usuario}, claves ${run}-pasoN\n`);

  const record = (step: string, expected: string, actual: string, ok: boolean) => {
    steps.push({ step, expected, actual, ok });
    out.write(`  ${ok ? 'PASS' : 'FAIL'}  ${step}: esperado ${expected}; obtenido ${actual}\n`);
  };

  /** Sends one step; on no reply records a FAIL and returns undefined. */
  const sendStep = async (step: string, s: NuevaSolicitud, expected: string): Promise<Respuesta | undefined> => {
    out.write(`\n${step}\n`);
    try {
      const r = await gc.send(s);
      out.write(`  ${describeRespuesta(s, r)}\n`);
      return r;
    } catch (e) {
      record(step, expected, `sin respuesta (${(e as Error).message})`, false);
      return undefined;
    }
  };

  const expectCodigo = async (step: string, s: NuevaSolicitud, codigos: Codigo[]): Promise<Respuesta | undefined> => {
    const expected = codigos.join(' o ');
    const r = await sendStep(step, s, expected);
    if (r) record(step, expected, r.codigo, codigos.includes(r.codigo));
    return r;
  };

  /** A renewal must move the due date exactly 7 days past the previous one. */
  const checkDueDate = (step: string, before: string | undefined, r: Respuesta | undefined) => {
    const after = r && dueDate(r);
    if (!r?.exito || !before || !after) return;
    const days = (Date.parse(after) - Date.parse(before)) / DAY_MS;
    record(`${step} (fecha)`, `vencimiento ${shortDate(before)} + 7 días`, `${shortDate(after)} (${days.toFixed(1)} días más)`, Math.abs(days - 7) < 0.001);
  };

  const op = (operacion: 'prestamo' | 'devolucion' | 'renovacion'): NuevaSolicitud => ({ operacion, isbn, usuario, clave: nextId() });

  const p1 = await expectCodigo('1. Préstamo', op('prestamo'), ['APROBADO']);
  let due = p1 && dueDate(p1);
  if (p1?.exito) {
    const days = due ? (Date.parse(due) - Date.parse(p1.fechaOperacion || new Date().toISOString())) / DAY_MS : NaN;
    record('1. Préstamo (fecha)', 'vencimiento a 14 días', due ? `${shortDate(due)} (${days.toFixed(1)} días)` : 'sin fecha', Math.abs(days - 14) < 0.01);
    await afterLoan();
  } else {
    // Every later step acts on this loan: their failures would only repeat this one.
    out.write('\nLos pasos 2–6 actúan sobre ese préstamo: no se ejecutan.\n');
  }

  async function afterLoan(): Promise<void> {
    const r1 = await expectCodigo('2. Primera renovación', op('renovacion'), ['APROBADO']);
    checkDueDate('2. Primera renovación', due, r1);
    due = (r1 && dueDate(r1)) ?? due;
    const r2 = await expectCodigo('3. Segunda renovación', op('renovacion'), ['APROBADO']);
    checkDueDate('3. Segunda renovación', due, r2);
    await expectCodigo('4. Tercera renovación (debe rechazarse)', op('renovacion'), ['LIMITE_RENOVACIONES']);

    const dev = op('devolucion');
    const d = await expectCodigo('5. Devolución', dev, ['APROBADO', 'ACEPTADO']);
    if (d?.codigo === 'ACEPTADO') await awaitDevolucion(gc, dev.clave!, out, record, opts);

    const p2 = await expectCodigo('6. Nuevo préstamo tras la devolución', op('prestamo'), ['APROBADO']);
    // Give the copy back so repeated runs do not drain the demo book's stock; not part of the verdict.
    if (p2?.exito && opts.cleanup !== false) {
      const s = op('devolucion');
      try {
        const r = await gc.send(s);
        out.write(`\nLimpieza (no cuenta para el resultado)\n  ${describeRespuesta(s, r)}\n`);
      } catch (e) {
        out.write(`\nLimpieza: sin respuesta (${(e as Error).message})\n`);
      }
    }
  }

  const ok = steps.length > 0 && steps.every((p) => p.ok);
  const failures = steps.filter((p) => !p.ok).length;
  out.write(`\nResultado: ${ok ? 'PASS' : 'FAIL'} (${steps.length - failures}/${steps.length} comprobaciones correctas)\n`);
  return { ok, steps };
}

/** Polls `estado` for the async devolución until it is final or the bounded wait ends. */
async function awaitDevolucion(
  gc: GcCaller,
  id: string,
  out: Output,
  record: (step: string, expected: string, actual: string, ok: boolean) => void,
  opts: SystemTestOptions,
): Promise<void> {
  const step = '5b. Devolución aplicada (estado)';
  const deadline = Date.now() + (opts.devolucionTimeoutMs ?? 10_000);
  let last = 'sin respuesta';
  out.write(`  esperando a que la devolución ${id} se aplique…\n`);
  // At least once, even with no wait at all (--espera 0): the answer is then whatever estado says now.
  for (let first = true; first || Date.now() < deadline; first = false) {
    try {
      const r = await gc.send({ operacion: 'estado', id });
      const e = estadoOf(r);
      last = e ?? r.codigo;
      if (e === 'COMPLETADA' || e === 'RECHAZADA') {
        out.write(`  ${describeRespuesta({ operacion: 'estado', id }, r)}\n`);
        record(step, 'COMPLETADA', e, e === 'COMPLETADA');
        return;
      }
    } catch (e) {
      last = `sin respuesta (${(e as Error).message})`;
    }
    if (Date.now() < deadline) await sleep(opts.estadoPollMs ?? 100);
  }
  record(step, `COMPLETADA en ${opts.devolucionTimeoutMs ?? 10_000} ms`, last, false);
}
