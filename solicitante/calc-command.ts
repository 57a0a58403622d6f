/**
 * `ps calc <operacion> [args…]`: the words of the command line as one calculation request,
 * and its reply as text. Pure. Only types are checked here (a number is a number); limits
 * and everything else are the GC's to judge, like for any client.
 */
import { OPERACIONES_BINARIAS, OPERACIONES_CALCULO, type OperacionCalculo } from '../common/protocol/calc.js';
import { normalizeOperacion, type Respuesta } from '../common/protocol/ps-gc.js';
import type { NuevaSolicitudCalculo } from './types.js';

const NUMERO = /^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i;
const ENTERO = /^[-+]?\d+$/;

/**
 * The number a word writes, or undefined; an integer too large to carry exactly is not one
 * (1e23 is not 99999999999999999999999), nor one beyond a double's range (1e400 reads as
 * Infinity, which JSON sends as null).
 */
function numero(x: string): number | undefined {
  if (!NUMERO.test(x)) return undefined;
  const n = Number(x);
  if (!Number.isFinite(n)) return undefined;
  return ENTERO.test(x) && !Number.isSafeInteger(n) ? undefined : n;
}

export const USO_CALC = [
  'calc suma|resta|multiplicacion|division <a> <b>',
  'calc eco|mayusculas <texto…>',
  'calc sumar_lista <n1> <n2> …   (o "1,2,3")',
  'calc suma_cuadrados <n>',
].join('\n');

/** The request the words ask for, or a usage error (Spanish, for the user). */
export function calcRequest(op: string, args: readonly string[]): NuevaSolicitudCalculo | { error: string } {
  const operacion = normalizeOperacion(op) as OperacionCalculo;
  if (!(OPERACIONES_CALCULO as readonly string[]).includes(operacion)) return { error: `operación de cálculo desconocida '${op}'; use ${OPERACIONES_CALCULO.join(', ')}` };
  const noNumero = (x: string) => ({
    error: ENTERO.test(x)
      ? `'${x}' es un entero demasiado grande para enviarlo exacto (como mucho ±${Number.MAX_SAFE_INTEGER})`
      : NUMERO.test(x)
        ? `'${x}' es demasiado grande: no es un número finito (como mucho ±${Number.MAX_VALUE})`
        : `'${x}' no es un número`,
  });
  switch (operacion) {
    case 'eco':
    case 'mayusculas':
      if (args.length === 0) return { error: `${operacion} necesita un texto` };
      return { operacion, texto: args.join(' ') };
    case 'sumar_lista': {
      const numeros: number[] = [];
      for (const x of args.flatMap((a) => a.split(',')).map((a) => a.trim()).filter(Boolean)) {
        const n = numero(x);
        if (n === undefined) return noNumero(x);
        numeros.push(n);
      }
      return { operacion, numeros };
    }
    case 'suma_cuadrados': {
      if (args.length !== 1) return { error: 'suma_cuadrados necesita un solo número, n' };
      const n = numero(args[0]!);
      if (n === undefined) return noNumero(args[0]!);
      return { operacion, n };
    }
    default: {
      if (args.length !== 2) return { error: `${operacion} necesita dos números, a y b` };
      const [a, b] = args.map(numero);
      if (a === undefined) return noNumero(args[0]!);
      if (b === undefined) return noNumero(args[1]!);
      return { operacion: operacion as (typeof OPERACIONES_BINARIAS)[number], a, b };
    }
  }
}

function describeCalculo(s: NuevaSolicitudCalculo): string {
  const op = s.operacion.toUpperCase();
  switch (s.operacion) {
    case 'eco':
    case 'mayusculas':
      return `${op} «${s.texto}»`;
    case 'sumar_lista':
      return `${op} [${s.numeros.join(', ')}]`;
    case 'suma_cuadrados':
      return `${op} ${s.n}`;
    default:
      return `${op} ${s.a} ${s.b}`;
  }
}

/** One line for the reply, then (suma_cuadrados) one per part: its range, sum and actor, and where it was reassigned from. */
export function formatCalc(s: NuevaSolicitudCalculo, r: Respuesta): string[] {
  const line = [describeCalculo(s), '→', r.codigo, `"${r.mensaje}"`];
  if (r.exito && r.datos.resultado !== undefined && s.operacion !== 'suma_cuadrados') line.push(`resultado ${JSON.stringify(r.datos.resultado)}`);
  if (typeof r.datos.actor === 'string') line.push(`(${r.datos.actor})`);
  const key = r.clave ?? r.id;
  if (key) line.push(`[id ${key}]`);
  const lines = [line.join(' ')];
  const partes = Array.isArray(r.datos.partes) ? (r.datos.partes as Array<Record<string, unknown>>) : [];
  for (const p of partes) {
    const desde = Array.isArray(p.reasignadaDesde) && p.reasignadaDesde.length ? `, reasignada desde ${p.reasignadaDesde.join(', ')}` : '';
    lines.push(`  parte ${p.a}..${p.b}: ${p.resultado} (${p.actor}${desde})`);
  }
  return lines;
}
