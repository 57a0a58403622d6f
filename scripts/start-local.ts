/**
 * `npm start`: the whole system on this machine with the documented ports,
 * a demo catalog, two actors of each type and a live one-line status.
 * Data persists in .data/ between runs; Ctrl-C stops everything.
 */
import 'dotenv/config';
import { join } from 'node:path';
import { Command } from 'commander';
import type { GcStatus } from '../gestor_carga/gc.js';
import { startLocalSystem, repoRoot, type LocalSystem } from './local-system.js';

const program = new Command()
  .name('npm start --')
  .description('Runs PostgreSQL (embedded), GA, GC and actors on this machine')
  .option('--actores <n>', 'actors per type', (v) => Number.parseInt(v, 10), 2)
  .option('--data <dir>', 'data directory (PostgreSQL + logs)', join(repoRoot(), '.data'))
  .option('--puertos-libres', 'use any free ports instead of the documented defaults')
  .parse();
const opts = program.opts<{ actores: number; data: string; puertosLibres?: boolean }>();

const out = (s: string) => process.stdout.write(s);
const tty = process.stdout.isTTY;

async function fetchJson<T>(url: string): Promise<T | undefined> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(800) });
    return r.ok ? ((await r.json()) as T) : undefined;
  } catch {
    return undefined;
  }
}

function statusLine(gc: GcStatus | undefined, ga: { rol?: string; estado?: string } | undefined, rate: number): string {
  if (!gc) return 'GC: sin respuesta';
  const live = gc.actoresVivos;
  const actores = `actores prestamo:${live.prestamo ?? 0} devolucion:${live.devolucion ?? 0} renovacion:${live.renovacion ?? 0}`;
  const enCurso = gc.tareas.enviada;
  const cola = gc.tareas['en-cola'] + gc.tareas.espera;
  const breakers = gc.almacenamiento.map((b) => `${b.endpoint.replace('tcp://', '')}=${b.breaker}`).join(' ');
  const gaRole = ga ? `GA ${ga.rol ?? 'ok'}${ga.estado ? `/${ga.estado}` : ''}` : 'GA: sin respuesta';
  return `${new Date().toISOString().slice(11, 19)} | ${rate.toFixed(0)} sol/s | ${actores} | tareas en curso:${enCurso} en cola:${cola} | ${gaRole} | breakers ${breakers}`;
}

let system: LocalSystem | undefined;
let stopping = false;
async function shutdown(code: number) {
  if (stopping) return;
  stopping = true;
  out(`${tty ? '\n' : ''}Deteniendo…\n`);
  await system?.stop();
  out('Sistema detenido.\n');
  process.exit(code);
}
process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));

try {
  out(`Iniciando PostgreSQL embebido, GA, GC y ${opts.actores} actores por tipo (datos en ${opts.data})…\n`);
  system = await startLocalSystem({ dataDir: opts.data, actorsPerType: opts.actores, ports: opts.puertosLibres ? 'free' : 'standard' });
  const s = system;
  out(
    [
      '',
      'Sistema listo.',
      `  GC (PS → GC, REQ/DEALER):  ${s.gcEndpoint}`,
      `  GC /status /metrics:       ${s.gcHttp}/status  ${s.gcHttp}/errors/stats`,
      `  GA:                        ${s.gaEndpoint}   (${s.gaHttp}/status)`,
      `  PostgreSQL:                postgres://${s.pg.user}@${s.pg.host}:${s.pg.port}/${s.pg.database}`,
      `  Logs:                      ${join(s.dataDir, 'logs')}`,
      '',
      'En otra terminal:  npm run ps -- test-sistema   |   npm run ps -- menu   |   npm run ps -- carga --clientes 10 --duracion 20',
      'Ctrl-C para detener.',
      '',
    ].join('\n'),
  );
  let last = -1;
  let lastT = Date.now();
  let lastPrinted = 0;
  for (;;) {
    await new Promise((r) => setTimeout(r, 500));
    if (stopping) break;
    const [gc, ga] = await Promise.all([fetchJson<GcStatus>(`${s.gcHttp}/status`), fetchJson<{ rol?: string; estado?: string }>(`${s.gaHttp}/status`)]);
    const total = Number(gc?.respuestas ?? 0);
    const t = Date.now();
    const rate = last < 0 ? 0 : ((total - last) * 1000) / (t - lastT);
    last = total;
    lastT = t;
    for (const p of [s.ga, s.gc, ...s.actors]) if (!p.running) out(`${tty ? '\n' : ''}AVISO: ${p.spec.name} no está en marcha (log: ${p.spec.logFile})\n`);
    const line = statusLine(gc, ga, rate);
    if (tty) out(`\r\x1b[2K${line}`);
    else if (t - lastPrinted > 5000) {
      out(line + '\n');
      lastPrinted = t;
    }
  }
} catch (err) {
  process.stderr.write(`No se pudo iniciar el sistema: ${(err as Error).message}\n`);
  await shutdown(1);
}
