/**
 * `npm run bench:gcs`: latency of the same load through one GC and through two,
 * in one run of the two-hosts system (pc1 and pc2, a GC on each, both active).
 *
 *   node dist/scripts/bench/gcs.js [--clientes 10] [--duracion 15] [--rondas 2] [--json f]
 *
 * N closed-loop PS, each its own REQ socket (like N separate PS processes), the
 * préstamo → renovación → devolución sequence on a book of its own with plenty of
 * copies. Phases alternate, so a drift of the shared machine hits both alike:
 *  - "un GC":  every PS has GC_ENDPOINTS = pc1's, pc2's, so all go to pc1's GC;
 *  - "dos GC": the PS are spread like PS of both sedes (half put pc2's first).
 * Prints throughput and p50/p95/p99 per phase, the replies each GC served, and
 * the ratio of the medians. Ctrl-C stops the system and removes its temp dir.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { Command } from 'commander';
import { waitNoPending } from '../../gestor_almacenamiento/consistency.js';
import { intArg, spanishHelp } from '../../common/cli-args.js';
import { runLoad, type LoadReport } from '../../solicitante/load.js';
import { formatPorGc, latencyRow, table } from '../../solicitante/load-report.js';
import type { LatencyStats } from '../../solicitante/latency.js';
import { mediana } from './rondas.js';
import { projectRoot } from '../../common/project-root.js';
import { startLocalSystem } from '../launcher/local-system.js';
import { takeOverSignals } from '../launcher/signals.js';
import { adoptSchedulingPolicy } from '../../common/scheduling.js';

type Fase = 'un GC' | 'dos GC';

interface Medida {
  fase: Fase;
  ronda: number;
  informe: LoadReport;
}

export function formatComparacion(medidas: Medida[], clientes: number, duracionS: number): string {
  const cab = ['fase', 'ronda', 'respuestas', 'resp/s', 'p50 ms', 'p95 ms', 'p99 ms', 'máx ms'];
  const filas = [cab, ...medidas.map((m) => [m.fase, String(m.ronda), ...latencyRow('', m.informe.global as LatencyStats, m.informe.throughput).slice(1)])];
  const p99 = (f: Fase) => mediana(medidas.filter((m) => m.fase === f).map((m) => m.informe.global.p99));
  const tput = (f: Fase) => mediana(medidas.filter((m) => m.fase === f).map((m) => m.informe.throughput));
  return [
    `${clientes} PS (un socket REQ cada uno), secuencia préstamo→renovación→devolución, ${duracionS} s por fase, fases alternas`,
    table(filas),
    '',
    ...medidas.map((m) => `${m.fase} ronda ${m.ronda}: por GC ${formatPorGc(m.informe.porGc)}`),
    '',
    `mediana p99: un GC ${p99('un GC').toFixed(2)} ms, dos GC ${p99('dos GC').toFixed(2)} ms (dos/un = ${(p99('dos GC') / p99('un GC')).toFixed(2)})`,
    `mediana resp/s: un GC ${tput('un GC').toFixed(0)}, dos GC ${tput('dos GC').toFixed(0)} (dos/un = ${(tput('dos GC') / tput('un GC')).toFixed(2)})`,
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  const o = spanishHelp(new Command('bench:gcs'))
    .description('latencia de la misma carga a través de un GC y de dos, en una misma ejecución del sistema de dos hosts')
    .option('--clientes <n>', 'PS simultáneos', intArg(1), 10)
    .option('--duracion <s>', 'segundos por fase', intArg(1), 15)
    .option('--rondas <n>', 'rondas de (un GC, dos GC)', intArg(1), 2)
    .option('--json <fichero>', 'informe JSON (por defecto reports/bench-gcs-<fecha>.json)')
    .parse()
    .opts<{ clientes: number; duracion: number; rondas: number; json?: string }>();
  // Before the system starts: its processes inherit it, as in bench (common/scheduling.ts).
  adoptSchedulingPolicy((s) => process.stderr.write(s));
  const abort = new AbortController();
  let stop: (() => Promise<void>) | undefined;
  takeOverSignals({
    onSignal: (sig) => process.stderr.write(`\nInterrumpido (${sig}): deteniendo el sistema…\n`),
    cleanup: async () => {
      abort.abort();
      await stop?.();
    },
  });
  const isbns = Array.from({ length: o.clientes }, (_, i) => `979-0-GCS-${String(i + 1).padStart(5, '0')}`);
  process.stderr.write('Arrancando el sistema de dos hosts (dos GC)…\n');
  const sys = await startLocalSystem({
    topology: 'two-hosts',
    ports: 'free',
    actorsPerType: 2,
    libros: isbns.map((isbn, i) => ({ isbn, titulo: `Libro ${i + 1}`, autor: 'Banco', ejemplares: 100_000 })),
    // info-level logs of every process would compete for the CPU being measured.
    env: { LOG_LEVEL: 'warn' },
    signal: abort.signal,
  });
  stop = () => sys.stop();
  const medidas: Medida[] = [];
  try {
    for (let ronda = 1; ronda <= o.rondas; ronda++) {
      for (const fase of ['un GC', 'dos GC'] as const) {
        process.stderr.write(`${fase}, ronda ${ronda}: ${o.clientes} PS, ${o.duracion} s\n`);
        const informe = await runLoad({
          endpoints: sys.gcEndpoints,
          repartir: fase === 'dos GC',
          transporte: 'req',
          clientes: o.clientes,
          duracionS: o.duracion,
          isbns,
          carga: { tipo: 'secuencia' },
          prefijoUsuario: `gcs-${randomBytes(3).toString('hex')}`,
        });
        medidas.push({ fase, ronda, informe });
        // The next phase should not share the machine with this one's async leftovers.
        await waitNoPending(sys.pg, 30_000);
      }
    }
  } finally {
    await sys.stop();
  }
  process.stdout.write(formatComparacion(medidas, o.clientes, o.duracion));
  const fecha = new Date().toISOString();
  const json = o.json ?? join(projectRoot(), 'reports', `bench-gcs-${fecha.replace(/[:.]/g, '-')}.json`);
  mkdirSync(dirname(json), { recursive: true });
  writeFileSync(json, JSON.stringify({ fecha, clientes: o.clientes, duracionS: o.duracion, medidas }, null, 2) + '\n');
  process.stdout.write(`informe JSON: ${json}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e: unknown) => {
    process.stderr.write(`Error: ${(e as Error).message}\n`);
    process.exitCode = 1;
  });
}
