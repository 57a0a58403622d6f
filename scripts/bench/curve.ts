/**
 * `npm run bench -- --ab-curve`: what CURVE costs, A/B in one run. Two local
 * systems run side by side (same catalog, same code), one with plain ZeroMQ and
 * one with CURVE on every internal socket (`seguro`); the same closed-loop load
 * (préstamo → renovación → devolución) goes to each in turn, in ABBA order over
 * `rondas` rounds so drift of the shared machine falls on both alike. Printed per
 * variant: throughput, p50/p99, and CPU µs per operation of every process (from
 * /proc, scripts/bench/process-cpu.ts), then the CURVE/plain ratios. The idle system
 * costs the measured one only its heartbeats.
 */
import { randomBytes } from 'node:crypto';
import { runLoad } from '../../solicitante/load.js';
import { table } from '../../solicitante/load-report.js';
import { cpuTargets } from './process-cpu.js';
import { startLocalSystem, type LocalSystem } from '../launcher/local-system.js';
import { cpuSnapshot } from './process-cpu.js';

export interface CurveAbOptions {
  clientes: number;
  duracionS: number;
  actoresPorTipo?: number;
  /** Rounds of A and B (ABBA order); default 2. */
  rondas?: number;
  log?: (s: string) => void;
  signal?: AbortSignal;
}

export interface VariantFigures {
  respuestas: number;
  exitosas: number;
  /** Operations per second over all its phases. */
  throughput: number;
  p50: number;
  p99: number;
  /** CPU µs per operation by process role (GC, actors together, GA, PostgreSQL, PS), over all its phases. */
  cpuUsPorOp: Record<string, number>;
  fases: Array<{ throughput: number; p99: number; cpuUsPorOp: number }>;
}

export interface CurveAbReport {
  fecha: string;
  config: { clientes: number; duracionS: number; actoresPorTipo: number; rondas: number };
  sinCurve: VariantFigures;
  conCurve: VariantFigures;
}

/** The role a CPU target belongs to: every actor together, each other process on its own. */
function role(name: string): string {
  return name.startsWith('actor ') ? 'actores (todos)' : name;
}

export async function runCurveAb(o: CurveAbOptions): Promise<CurveAbReport> {
  const log = o.log ?? (() => undefined);
  const actoresPorTipo = o.actoresPorTipo ?? 2;
  const rondas = o.rondas ?? 2;
  const isbns = Array.from({ length: o.clientes }, (_, i) => `979-0-CURVE-${String(i + 1).padStart(5, '0')}`);
  const libros = isbns.map((isbn, i) => ({ isbn, titulo: `Libro AB ${i + 1}`, autor: 'Banco de pruebas', ejemplares: 100_000 }));
  log('Arrancando dos sistemas locales: sin CURVE y con CURVE…\n');
  const start = (seguro: boolean) => startLocalSystem({ actorsPerType: actoresPorTipo, libros, ports: 'free', seguro, env: { LOG_LEVEL: 'warn' }, signal: o.signal });
  const [plain, curve] = await Promise.allSettled([start(false), start(true)]);
  const systems: LocalSystem[] = [plain, curve].flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  try {
    if (plain.status === 'rejected') throw plain.reason;
    if (curve.status === 'rejected') throw curve.reason;
    const variants = { sinCurve: plain.value, conCurve: curve.value } as const;
    type V = keyof typeof variants;
    const acc: Record<V, { ops: number; ok: number; ms: number; cpu: Record<string, number>; p50: number[]; p99: number[]; fases: VariantFigures['fases'] }> = {
      sinCurve: { ops: 0, ok: 0, ms: 0, cpu: {}, p50: [], p99: [], fases: [] },
      conCurve: { ops: 0, ok: 0, ms: 0, cpu: {}, p50: [], p99: [], fases: [] },
    };
    const order: V[] = [];
    for (let r = 0; r < rondas; r++) order.push(...((r % 2 === 0 ? ['sinCurve', 'conCurve'] : ['conCurve', 'sinCurve']) as V[]));
    for (const [i, v] of order.entries()) {
      if (o.signal?.aborted) throw new Error('banco de pruebas interrumpido');
      const sys = variants[v];
      log(`Fase ${i + 1}/${order.length}: ${v === 'conCurve' ? 'con CURVE' : 'sin CURVE'}, ${o.clientes} clientes, ${o.duracionS} s\n`);
      const targets = cpuTargets(sys);
      const c0 = cpuSnapshot(targets);
      const r = await runLoad({ endpoints: [sys.gcEndpoint], clientes: o.clientes, duracionS: o.duracionS, isbns, carga: { tipo: 'secuencia' }, prefijoUsuario: `ab-${randomBytes(3).toString('hex')}` });
      const c1 = cpuSnapshot(targets);
      const a = acc[v];
      a.ops += r.respuestas;
      a.ok += r.exitosas;
      a.ms += r.duracionMs;
      a.p50.push(r.global.p50);
      a.p99.push(r.global.p99);
      let phaseCpu = 0;
      for (const [name, before] of c0) {
        const after = c1.get(name);
        if (before === undefined || after === undefined) continue;
        a.cpu[role(name)] = (a.cpu[role(name)] ?? 0) + (after - before);
        phaseCpu += after - before;
      }
      a.fases.push({ throughput: Math.round(r.throughput), p99: r.global.p99, cpuUsPorOp: r.respuestas ? Math.round((phaseCpu * 1e6) / r.respuestas) : 0 });
    }
    const figures = (v: V): VariantFigures => {
      const a = acc[v];
      const cpuUsPorOp = Object.fromEntries(Object.entries(a.cpu).map(([k, s]) => [k, a.ops ? Math.round((s * 1e6) / a.ops) : 0]));
      cpuUsPorOp.total = Object.values(cpuUsPorOp).reduce((n, x) => n + x, 0);
      const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] ?? 0;
      return { respuestas: a.ops, exitosas: a.ok, throughput: a.ms ? Math.round((a.ops * 1000) / a.ms) : 0, p50: median(a.p50), p99: median(a.p99), cpuUsPorOp, fases: a.fases };
    };
    return { fecha: new Date().toISOString(), config: { clientes: o.clientes, duracionS: o.duracionS, actoresPorTipo, rondas }, sinCurve: figures('sinCurve'), conCurve: figures('conCurve') };
  } finally {
    for (const s of systems) await s.stop().catch(() => undefined);
  }
}

export function formatCurveAb(r: CurveAbReport): string {
  const ratio = (b: number, a: number) => (a > 0 ? (b / a).toFixed(2) : '—');
  const rows = [['', 'sin CURVE', 'con CURVE', 'con/sin']];
  rows.push(['ops/s', String(r.sinCurve.throughput), String(r.conCurve.throughput), ratio(r.conCurve.throughput, r.sinCurve.throughput)]);
  rows.push(['p50 ms (mediana de fases)', r.sinCurve.p50.toFixed(2), r.conCurve.p50.toFixed(2), ratio(r.conCurve.p50, r.sinCurve.p50)]);
  rows.push(['p99 ms (mediana de fases)', r.sinCurve.p99.toFixed(2), r.conCurve.p99.toFixed(2), ratio(r.conCurve.p99, r.sinCurve.p99)]);
  const roles = [...new Set([...Object.keys(r.sinCurve.cpuUsPorOp), ...Object.keys(r.conCurve.cpuUsPorOp)])].filter((k) => k !== 'total');
  for (const k of [...roles, 'total']) {
    const [a, b] = [r.sinCurve.cpuUsPorOp[k] ?? 0, r.conCurve.cpuUsPorOp[k] ?? 0];
    rows.push([`CPU µs/op ${k}`, String(a), String(b), ratio(b, a)]);
  }
  const fases = (v: VariantFigures) => v.fases.map((f) => `${f.throughput} ops/s, p99 ${f.p99.toFixed(1)} ms, ${f.cpuUsPorOp} µs/op`).join(' | ');
  return [
    `Coste de CURVE, A/B en la misma ejecución: ${r.config.clientes} clientes, ${r.config.duracionS} s por fase, ${r.config.rondas} rondas ABBA, ${r.config.actoresPorTipo} actores por tipo`,
    '',
    table(rows),
    '',
    `fases sin CURVE: ${fases(r.sinCurve)}`,
    `fases con CURVE: ${fases(r.conCurve)}`,
    `respuestas: sin CURVE ${r.sinCurve.respuestas} (${r.sinCurve.exitosas} exitosas), con CURVE ${r.conCurve.respuestas} (${r.conCurve.exitosas} exitosas)`,
    '',
  ].join('\n');
}
