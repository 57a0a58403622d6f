/**
 * `npm start`: the whole system on this machine with the documented ports,
 * a demo catalog, two actors of each type and a live one-line status.
 * By default the two-hosts topology (pc1 = 127.0.1.1: PostgreSQL primary, GA
 * primary, a GC, actors; pc2 = 127.0.1.2: streaming standby, GA backup, a second
 * GC, actors; both GCs active, every actor working for both); pc1's GC takes PS
 * requests on 127.0.0.1:5555 and pc2's on 127.0.1.2:5555, the PS's default GC_ENDPOINTS.
 * `--topologia single` runs everything on one address with one PostgreSQL.
 * Data persists in .data/ between runs; Ctrl-C (or SIGTERM, or closing the
 * terminal: SIGHUP) stops everything in order. A second launcher on the same
 * data dir refuses to start (scripts/launcher/lock.ts).
 */
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Command, Option } from 'commander';
import dotenv from 'dotenv';
import pg from 'pg';
import type { GcStatus } from '../../gestor_carga/gc.js';
import type { GaStatus } from '../../gestor_almacenamiento/ga.js';
import { readCatalogFile } from '../../gestor_almacenamiento/catalog.js';
import { intArg, spanishHelp } from '../../common/cli-args.js';
import { DEMO_ISBN } from '../../solicitante/test-sistema.js';
import { startLocalSystem, type LocalSystem, type Topology } from './local-system.js';
import { projectRoot } from '../../common/project-root.js';
import type { PgInfo } from './local-storage.js';
import { clearBlock, plainLine, redraw, statusLines, type GcVisto } from './status-view.js';
import { bannerLines } from './banner.js';
import { describeSystem, removeSystemFile, writeSystemFile } from './system-file.js';
import { takeOverSignals } from './signals.js';
import { guardStdio } from '../../common/stdio-guard.js';
import { adoptSchedulingPolicy } from '../../common/scheduling.js';
import { freePort } from './free-port.js';
import { panelProcess } from './panel-process.js';
import { Supervisor } from './supervisor.js';
import { DEFAULT_PANEL_PORT } from '../../panel/server.js';
import type { ManagedProcess } from './child-process.js';

const out = (s: string) => process.stdout.write(s);

export interface ProcesoVisto {
  name: string;
  running: boolean;
  logFile: string;
}

/**
 * Warnings for the processes whose state changed since the last look (every process
 * was running when the status loop began): one when it stops, one if it comes back,
 * instead of the same line every 500 ms for as long as it is down.
 */
export function processWarnings(prev: ReadonlyMap<string, boolean>, now: readonly ProcesoVisto[]): { avisos: string[]; estado: Map<string, boolean> } {
  const avisos: string[] = [];
  const estado = new Map(prev);
  for (const p of now) {
    if ((prev.get(p.name) ?? true) !== p.running) {
      avisos.push(p.running ? `AVISO: ${p.name} vuelve a estar en marcha` : `AVISO: ${p.name} no está en marcha (log: ${p.logFile})`);
    }
    estado.set(p.name, p.running);
  }
  return { avisos, estado };
}

/** Copies a closed-loop client of `carga --secuencia` may hold at once: its loan, an async return not applied yet, and a margin. */
const COPIAS_POR_CLIENTE = 3;
const CLIENTES_SUGERIDOS = 4;

/**
 * The PS `carga` command the banner suggests: one client per book, on the books with the
 * most free copies, never the book test-sistema uses. 10 clients on the one default
 * ISBN (a few copies) would mostly measure SIN_EJEMPLARES refusals.
 */
export function loadSuggestion(libros: ReadonlyArray<{ isbn: string; disponibles: number }>, reservado = DEMO_ISBN): string | undefined {
  const orden = libros.filter((l) => l.isbn !== reservado && l.disponibles > 0).sort((a, b) => b.disponibles - a.disponibles || a.isbn.localeCompare(b.isbn));
  const holgados = orden.filter((l) => l.disponibles >= COPIAS_POR_CLIENTE).slice(0, CLIENTES_SUGERIDOS);
  const elegidos = holgados.length > 0 ? holgados : orden.slice(0, 1);
  if (elegidos.length === 0) return undefined;
  return `carga --clientes ${elegidos.length} --duracion 20 --isbns ${elegidos.map((l) => l.isbn).join(',')}`;
}

/** Free copies per book now (earlier runs' loans count); the demo catalog's totals if PostgreSQL does not answer. */
async function freeCopies(info: PgInfo, catalog: string): Promise<Array<{ isbn: string; disponibles: number }>> {
  const c = new pg.Client({ ...info, connectionTimeoutMillis: 2000, query_timeout: 2000 });
  c.on('error', () => undefined);
  try {
    await c.connect();
    return (await c.query<{ isbn: string; disponibles: number }>('SELECT isbn, disponibles FROM libros')).rows;
  } catch {
    return (await readCatalogFile(catalog)).map((l) => ({ isbn: l.isbn, disponibles: l.ejemplares }));
  } finally {
    await c.end().catch(() => undefined);
  }
}

async function main(): Promise<void> {
  guardStdio();
  dotenv.config({ quiet: true });
  const program = spanishHelp(new Command())
    .name('npm start --')
    .description('arranca el sistema entero en esta máquina: PostgreSQL (embebido), GA, GC, actores y el panel')
    .option('--actores <n>', 'actores por tipo', intArg(1), 2)
    .addOption(new Option('--tipos-por-actor <t>', 'todos: cada proceso actor sirve los tres tipos (uno por host); uno: un proceso por actor y tipo').choices(['todos', 'uno']).default('todos'))
    .option('--calculo <n>', 'actores calculo, un proceso cada uno (calc y suma_cuadrados; por defecto tantos como --actores)', intArg(0))
    .option('--data <dir>', 'directorio de datos (PostgreSQL y registros)', join(projectRoot(), '.data'))
    .option('--puertos-libres', 'puertos libres cualesquiera en vez de los documentados')
    .addOption(new Option('--topologia <t>', 'two-hosts (pc1 + pc2, par de GA, standby en streaming) o single').choices(['two-hosts', 'single']).default('two-hosts'))
    .addOption(new Option('--replicacion <modo>', 'two-hosts: replicación de PostgreSQL').choices(['async', 'sync']).default('async'))
    .option('--seguro', 'CURVE de ZeroMQ en los sockets internos (PUB y backend del GC, GA, enlace entre GA), claves nuevas en cada arranque')
    .parse();
  const opts = program.opts<{ actores: number; tiposPorActor: 'uno' | 'todos'; calculo?: number; data: string; puertosLibres?: boolean; topologia: Topology; replicacion: 'async' | 'sync'; seguro?: boolean }>();
  const calculo = opts.calculo ?? opts.actores;
  const tty = process.stdout.isTTY;
  // Before anything is started: every process of the system inherits it.
  adoptSchedulingPolicy(out);

  let system: LocalSystem | undefined;
  let starting: Promise<LocalSystem> | undefined;
  let panel: ManagedProcess | undefined;
  const abort = new AbortController();
  // Stopping is the normal way to end `npm start`: exit 0 (npm would report any other code as a failure).
  const signals = takeOverSignals({
    onSignal: () => out(`${tty ? '\n' : ''}Deteniendo…\n`),
    cleanup: async () => {
      abort.abort();
      await starting?.catch(() => undefined); // an interrupted start stops what it had started
      if (system) removeSystemFile(system.dataDir);
      await panel?.stop();
      await system?.stop();
      out('Sistema detenido.\n');
    },
    exitCode: () => 0,
  });

  const twoHosts = opts.topologia === 'two-hosts';
  out(
    twoHosts
      ? `Iniciando dos hosts simulados: pc1 (127.0.1.1: PostgreSQL primario, GA primario, GC, actores) y pc2 (127.0.1.2: standby, GA de respaldo, GC, actores), ${opts.actores} actores por tipo y ${calculo} de cálculo, replicación ${opts.replicacion} (datos en ${opts.data})…\n`
      : `Iniciando PostgreSQL embebido, GA, GC, ${opts.actores} actores por tipo y ${calculo} de cálculo (datos en ${opts.data})…\n`,
  );
  if (opts.seguro) out('CURVE activado en los sockets internos (GC PUB y backend, GA, enlace entre GA); el puerto de los PS sigue abierto. Claves nuevas en cada arranque.\n');
  try {
    starting = startLocalSystem({
      dataDir: opts.data,
      actorsPerType: opts.actores,
      tiposPorActor: opts.tiposPorActor,
      calcActors: calculo,
      ports: opts.puertosLibres ? 'free' : 'standard',
      topology: opts.topologia,
      replicacion: opts.replicacion,
      signal: abort.signal,
      seguro: !!opts.seguro,
    });
    system = await starting;
  } catch (err) {
    if (signals.received) return; // the signal's cleanup reports and exits
    process.stderr.write(`No se pudo iniciar el sistema: ${(err as Error).message}\n`);
    // A refused launcher started nothing; a failed start has already stopped what it had started.
    process.exit(1);
  }
  const s = system;
  const gas = [s.ga, s.gaBackup].filter((g): g is NonNullable<typeof g> => !!g);
  // The panel is a convenience: the system runs on without it (e.g. its port is taken).
  const startPanel = async (): Promise<string> => {
    try {
      const port = opts.puertosLibres ? await freePort('127.0.0.1') : DEFAULT_PANEL_PORT;
      panel = panelProcess(s, { host: '127.0.0.1', port }).start();
      await panel.waitHealthy(10_000);
      return `http://127.0.0.1:${port}/`;
    } catch (err) {
      await panel?.stop();
      panel = undefined;
      return `no se pudo iniciar (${(err as Error).message})`;
    }
  };
  // Independent: the panel's start and the query behind the banner's load suggestion.
  const [panelUrl, libres] = await Promise.all([startPanel(), freeCopies(s.pg, join(projectRoot(), 'gestor_almacenamiento', 'catalogo-demo.csv'))]);
  const carga = loadSuggestion(libres);
  // Stopping already (a signal during the start): its cleanup has removed sistema.json, do not write it back.
  if (signals.received) return;
  const sistema = describeSystem(s);
  // For `npm run catalogo`; removed when the system stops.
  writeSystemFile(s.dataDir, sistema);
  out(
    bannerLines(sistema, {
      // The PS's default GC_ENDPOINTS only reach this system on the standard ports.
      ps: opts.puertosLibres ? `npm run ps -- --gc ${s.gcEndpoints.join(',')}` : 'npm run ps --',
      carga,
      panel: panelUrl,
      dataFlag: resolve(opts.data) === resolve(projectRoot(), '.data') ? '' : ` --data ${opts.data}`,
      logs: join(s.dataDir, 'logs'),
    }).join('\n'),
  );
  const last = new Map<string, { total: number; t: number }>();
  let lastPrinted = 0;
  /** Lines of the status block on the terminal now (0: none drawn yet, or cleared). */
  let drawn = 0;
  let vistos: ReadonlyMap<string, boolean> = new Map();
  const pendientes: string[] = [];
  const procesos = [...gas, ...s.gcs.map((g) => g.process), ...s.actors];
  const supervisor = new Supervisor(procesos, { say: (l) => pendientes.push(l) });
  for (;;) {
    await new Promise((r) => setTimeout(r, 500));
    if (signals.received) break;
    const [gcStatus, gaStatus] = await Promise.all([Promise.all(s.gcs.map((g) => g.process.status<GcStatus>())), Promise.all(gas.map((g) => g.status<GaStatus>()))]);
    const t = Date.now();
    const gcs: GcVisto[] = s.gcs.map((g, i) => {
      const st = gcStatus[i];
      const total = Number(st?.respuestas ?? 0);
      const prev = last.get(g.id);
      // A restarted GC counts from zero again: no negative rate.
      const rate = prev && total >= prev.total ? ((total - prev.total) * 1000) / (t - prev.t) : 0;
      if (st) last.set(g.id, { total, t });
      return { host: g.host, status: st, rate };
    });
    if (signals.received) break;
    const { avisos, estado } = processWarnings(
      vistos,
      procesos.map((p) => ({ name: p.spec.name, running: p.running, logFile: p.spec.logFile })),
    );
    vistos = estado;
    supervisor.tick();
    avisos.push(...pendientes.splice(0));
    const lines = statusLines({
      hora: new Date(t).toISOString().slice(11, 19),
      gcs,
      gas: gas.map((g, i) => ({ host: g.spec.host ?? 'pc1', status: gaStatus[i] })),
    });
    if (tty) {
      // Warnings go above the block: clear it, print them, draw it again below.
      if (avisos.length > 0) {
        out(clearBlock(drawn) + avisos.map((a) => `${a}\n`).join(''));
        drawn = 0;
      }
      out(redraw(drawn, lines, process.stdout.columns || 80));
      drawn = lines.length;
    } else {
      for (const a of avisos) out(`${a}\n`);
      if (t - lastPrinted > 5000) {
        out(plainLine(lines) + '\n');
        lastPrinted = t;
      }
    }
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`Error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
