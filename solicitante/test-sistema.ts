/**
 * `ps test-sistema`: the acceptance scenario against a running system.
 * préstamo → renovación → renovación → 3rd renovación REFUSED
 * (LIMITE_RENOVACIONES) → devolución → new préstamo.
 * Each step prints its reply, what was expected and PASS/FAIL; the result is
 * PASS only if every step passes. Ids are chosen here so the devolución's can
 * be polled with `estado` when the GC answers it asynchronously (ACEPTADO).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Codigo } from '../common/codes.js';
import type { Respuesta } from '../common/protocol.js';
import { describirRespuesta, estadoDe, fechaCorta, fechaVencimiento } from './format.js';
import type { Salida } from './file-mode.js';
import type { GcCaller, NuevaSolicitud } from './types.js';

export const ISBN_PRUEBA = '978-84-376-0494-7';

export interface TestSistemaOptions {
  isbn?: string;
  /** Default a fresh `ts-<timestamp>` so the scenario can be re-run on the same database. */
  usuario?: string;
  /** Bound on waiting for an async devolución to complete. */
  esperaDevolucionMs?: number;
  intervaloEstadoMs?: number;
  /** Return the last loan at the end so re-runs keep the book's stock (default true). */
  limpiar?: boolean;
}

export interface PasoResultado {
  paso: string;
  esperado: string;
  obtenido: string;
  ok: boolean;
}

const DIA = 86_400_000;

export async function testSistema(gc: GcCaller, out: Salida, opts: TestSistemaOptions = {}): Promise<{ ok: boolean; pasos: PasoResultado[] }> {
  const isbn = opts.isbn ?? ISBN_PRUEBA;
  const usuario = opts.usuario ?? `ts-${Date.now()}`;
  const pasos: PasoResultado[] = [];
  let n = 0;
  const idDe = () => `${usuario}-paso${++n}`;
  out.write(`Prueba del sistema: isbn ${isbn}, usuario ${usuario}\n`);

  const registrar = (paso: string, esperado: string, obtenido: string, ok: boolean) => {
    pasos.push({ paso, esperado, obtenido, ok });
    out.write(`  ${ok ? 'PASS' : 'FAIL'}  ${paso}: esperado ${esperado}; obtenido ${obtenido}\n`);
  };

  /** Sends one step; on no reply records a FAIL and returns undefined. */
  const enviar = async (paso: string, s: NuevaSolicitud, esperado: string): Promise<Respuesta | undefined> => {
    out.write(`\n${paso}\n`);
    try {
      const r = await gc.enviar(s);
      out.write(`  ${describirRespuesta(s, r)}\n`);
      return r;
    } catch (e) {
      registrar(paso, esperado, `sin respuesta (${(e as Error).message})`, false);
      return undefined;
    }
  };

  const esperarCodigo = async (paso: string, s: NuevaSolicitud, codigos: Codigo[]): Promise<Respuesta | undefined> => {
    const esperado = codigos.join(' o ');
    const r = await enviar(paso, s, esperado);
    if (r) registrar(paso, esperado, r.codigo, codigos.includes(r.codigo));
    return r;
  };

  /** A renewal must move the due date exactly 7 days past the previous one. */
  const comprobarVencimiento = (paso: string, antes: string | undefined, r: Respuesta | undefined) => {
    const despues = r && fechaVencimiento(r);
    if (!r?.exito || !antes || !despues) return;
    const dias = (Date.parse(despues) - Date.parse(antes)) / DIA;
    registrar(`${paso} (fecha)`, `vencimiento ${fechaCorta(antes)} + 7 días`, `${fechaCorta(despues)} (${dias.toFixed(1)} días más)`, Math.abs(dias - 7) < 0.001);
  };

  const op = (operacion: 'prestamo' | 'devolucion' | 'renovacion'): NuevaSolicitud => ({ operacion, isbn, usuario, id: idDe() });

  const p1 = await esperarCodigo('1. Préstamo', op('prestamo'), ['APROBADO']);
  let vence = p1 && fechaVencimiento(p1);
  if (p1?.exito) {
    const dias = vence ? (Date.parse(vence) - Date.parse(p1.fechaOperacion || new Date().toISOString())) / DIA : NaN;
    registrar('1. Préstamo (fecha)', 'vencimiento a 14 días', vence ? `${fechaCorta(vence)} (${dias.toFixed(1)} días)` : 'sin fecha', Math.abs(dias - 14) < 0.01);
  }
  const r1 = await esperarCodigo('2. Primera renovación', op('renovacion'), ['APROBADO']);
  comprobarVencimiento('2. Primera renovación', vence, r1);
  vence = (r1 && fechaVencimiento(r1)) ?? vence;
  const r2 = await esperarCodigo('3. Segunda renovación', op('renovacion'), ['APROBADO']);
  comprobarVencimiento('3. Segunda renovación', vence, r2);
  await esperarCodigo('4. Tercera renovación (debe rechazarse)', op('renovacion'), ['LIMITE_RENOVACIONES']);

  const dev = op('devolucion');
  const d = await esperarCodigo('5. Devolución', dev, ['APROBADO', 'ACEPTADO']);
  if (d?.codigo === 'ACEPTADO') await esperarDevolucion(gc, dev.id!, out, registrar, opts);

  const p2 = await esperarCodigo('6. Nuevo préstamo tras la devolución', op('prestamo'), ['APROBADO']);
  // Give the copy back so repeated runs do not drain the demo book's stock; not part of the verdict.
  if (p2?.exito && opts.limpiar !== false) {
    const s = op('devolucion');
    try {
      const r = await gc.enviar(s);
      out.write(`\nLimpieza (no cuenta para el resultado)\n  ${describirRespuesta(s, r)}\n`);
    } catch (e) {
      out.write(`\nLimpieza: sin respuesta (${(e as Error).message})\n`);
    }
  }

  const ok = pasos.length > 0 && pasos.every((p) => p.ok);
  const fallos = pasos.filter((p) => !p.ok).length;
  out.write(`\nResultado: ${ok ? 'PASS' : 'FAIL'} (${pasos.length - fallos}/${pasos.length} comprobaciones correctas)\n`);
  return { ok, pasos };
}

/** Polls `estado` for the async devolución until it is final or the bounded wait ends. */
async function esperarDevolucion(
  gc: GcCaller,
  id: string,
  out: Salida,
  registrar: (paso: string, esperado: string, obtenido: string, ok: boolean) => void,
  opts: TestSistemaOptions,
): Promise<void> {
  const paso = '5b. Devolución aplicada (estado)';
  const limite = Date.now() + (opts.esperaDevolucionMs ?? 10_000);
  let ultimo = 'sin respuesta';
  out.write(`  esperando a que la devolución ${id} se aplique…\n`);
  while (Date.now() < limite) {
    try {
      const r = await gc.enviar({ operacion: 'estado', id });
      const e = estadoDe(r);
      ultimo = e ?? r.codigo;
      if (e === 'COMPLETADA' || e === 'RECHAZADA') {
        out.write(`  ${describirRespuesta({ operacion: 'estado', id }, r)}\n`);
        registrar(paso, 'COMPLETADA', e, e === 'COMPLETADA');
        return;
      }
    } catch (e) {
      ultimo = `sin respuesta (${(e as Error).message})`;
    }
    await sleep(opts.intervaloEstadoMs ?? 100);
  }
  registrar(paso, `COMPLETADA en ${opts.esperaDevolucionMs ?? 10_000} ms`, ultimo, false);
}
