/**
 * `npm run abuso -- [--mensajes 100000] [--rondas 2] [--semilla N] [--modo ambos|abierto|seguro]
 * [--topologia single|two-hosts] [--intrusos 60] [--limite-rss 512] [--limite-tormenta s] [--sockets a,b] [--json f]`:
 * the hostile-input campaign (scripts/abuso/). Each phase starts its own local
 * system, throws `--mensajes` generated messages at every socket (GC frontend,
 * backend and XPUB, GA, HTTP ports), and checks that every process is still up
 * and healthy, memory stayed bounded, libros/prestamos/operaciones did not
 * change, every PS-port message got a reply with a code, and the system still
 * serves. 'abierto': CURVE off, every byte reaches the parsers; 'seguro': CURVE
 * on, the internal sockets are attacked without valid keys (forged writes
 * included) and must refuse and count every handshake. Exit 0 only if every
 * check of every phase passed. The same seed regenerates the same messages.
 * An attacked process that exits stops the storm at once (a failed run, the crash
 * reported), and so does the storm's time limit. Ctrl-C / SIGTERM, also during a
 * system's start, stops that system in order and removes its temp dir.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';
import { guardStdio } from '../../common/stdio-guard.js';
import { userPath } from '../../common/user-path.js';
import { intArg, spanishHelp } from '../../common/cli-args.js';
import { table } from '../../solicitante/load-report.js';
import { runPhase, type Modo, type PhaseReport } from './campaign.js';
import { describeStop } from './storm.js';
import { TARGETS, type Target } from './generators.js';
import { projectRoot } from '../../common/project-root.js';
import type { LocalSystem, Topology } from '../launcher/local-system.js';
import { takeOverSignals } from '../launcher/signals.js';
import { adoptSchedulingPolicy } from '../../common/scheduling.js';

export function formatPhase(r: PhaseReport): string {
  const fmt = (n: number | null) => (n === null ? '—' : n.toFixed(0));
  const sockets = [['socket', 'mensajes', 'respuestas', 'no entregados', 'leído por el servidor', 'familias (mensajes)']];
  for (const t of TARGETS) {
    const f = r.porSocket[t];
    const familias = Object.entries(f.porTipo).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(', ');
    const leido = f.leidoPorElServidor === null ? '—' : f.leidoPorElServidor ? `sí (${(f.esperaVaciadoMs / 1000).toFixed(1)} s)` : `NO: ${f.bytesSinLeer} bytes sin leer al cerrar`;
    sockets.push([t, String(f.enviados), String(f.respuestas), String(f.noEntregados), leido, familias]);
  }
  const procs = [['proceso', 'pid', 'vivo antes', 'vivo después', '/health 200 tras', 'RSS base MiB', 'RSS tras cada ronda', 'RSS máx MiB', 'RSS final MiB']];
  for (const p of r.procesos) {
    const salud = p.saludDespues === null ? '—' : p.saludDespues ? `${((p.saludTrasMs ?? 0) / 1000).toFixed(1)} s` : 'NO';
    procs.push([p.nombre, String(p.pid ?? '—'), p.vivoAntes ? 'sí' : 'NO', p.vivoDespues ? 'sí' : 'NO', salud, fmt(p.rssBaseMiB), p.rssTrasRondasMiB.map(fmt).join(' → '), fmt(p.rssMaxMiB), fmt(p.rssFinalMiB)]);
  }
  const total = TARGETS.reduce((n, t) => n + r.porSocket[t].enviados, 0);
  const codigos = Object.entries(r.porSocket.ps.codigos).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(', ');
  const http = Object.entries(r.porSocket.http.codigos).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(', ');
  return [
    `=== Fase ${r.modo} (CURVE ${r.modo === 'seguro' ? 'activado' : 'desactivado'}), topología ${r.topologia}, semilla ${r.semilla}: ${total} mensajes en ${r.rondas} ronda(s), en ${(r.duracionMs / 1000).toFixed(0)} s`,
    ...(r.tormentaDetenida ? [`TORMENTA DETENIDA: ${describeStop(r.tormentaDetenida)}`] : []),
    table(sockets),
    `Puerto de los PS: ${r.ps.respondidas}/${r.ps.esperadas} respondidos, ${r.ps.sinCodigo} sin código; códigos: ${codigos}`,
    `HTTP: ${http}`,
    ...(r.rechazosCurve ? [`Handshakes CURVE rechazados (zmq_curve_refused_total): ${Object.entries(r.rechazosCurve).map(([k, n]) => `${k} ${n}`).join(', ')}`] : []),
    table(procs),
    `Caídas: ${r.caidas}. Cambios de estado (libros/prestamos/operaciones): ${r.cambiosDeEstado}. Sigue sirviendo: ${r.sigueSirviendo ? 'sí' : 'NO'}.`,
    r.fallos.length ? `FALLOS:\n${r.fallos.map((x) => `  - ${x}`).join('\n')}` : 'Resultado: PASS',
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  guardStdio();
  const program = spanishHelp(new Command())
    .name('npm run abuso --')
    .description('campaña de mensajes hostiles contra todos los sockets del sistema local, con comprobaciones')
    .option('--mensajes <n>', 'mensajes por socket y fase', intArg(1), 100_000)
    .option('--rondas <n>', 'la tormenta en n rondas iguales; el RSS que sigue creciendo de una ronda a otra es una fuga', intArg(1), 2)
    .option('--semilla <n>', 'semilla (la misma semilla genera los mismos mensajes)', intArg(0))
    .addOption(new Option('--modo <modo>', 'fases').choices(['ambos', 'abierto', 'seguro']).default('ambos'))
    .addOption(new Option('--topologia <t>', 'sistema atacado').choices(['single', 'two-hosts']).default('single'))
    .option('--intrusos <n>', 'fase segura: conexiones sin claves válidas por socket interno', intArg(3), 60)
    .option('--limite-rss <MiB>', 'crecimiento máximo del RSS de un proceso sobre su base', intArg(1), 512)
    .option('--limite-tormenta <s>', 'la tormenta de cada fase (todas sus rondas) se corta tras s segundos (por defecto 120 + mensajes/100)', intArg(1))
    .option('--sockets <lista>', `solo estos sockets (${TARGETS.join(',')}); por defecto todos`, (v) => {
      const xs = v.split(',').map((x) => x.trim());
      for (const x of xs) if (!(TARGETS as readonly string[]).includes(x)) throw new InvalidArgumentError(`socket desconocido: ${x}`);
      return xs as Target[];
    })
    .option('--json <fichero>', 'informe JSON (por defecto reports/abuso-<fecha>.json)')
    .parse();
  const o = program.opts<{ mensajes: number; rondas: number; semilla?: number; modo: 'ambos' | Modo; topologia: Topology; intrusos: number; limiteRss: number; limiteTormenta?: number; sockets?: Target[]; json?: string }>();
  const semilla = o.semilla ?? Math.floor(Math.random() * 2 ** 31);
  // The attacked system runs as npm start runs it (common/scheduling.ts).
  adoptSchedulingPolicy((s) => process.stderr.write(s));
  // A signal during a start aborts it: the start stops what it had started and removes its temp
  // dir before it rejects (as `npm start` does, scripts/launcher/main.ts); afterwards the running
  // system is stopped in order. Exit hooks alone would SIGKILL the children and leave the dir.
  const abort = new AbortController();
  let starting: Promise<unknown> | undefined;
  let current: LocalSystem | undefined;
  const signals = takeOverSignals({
    onSignal: (sig) => process.stderr.write(`\nInterrumpido (${sig}): deteniendo el sistema…\n`),
    cleanup: async () => {
      abort.abort();
      await starting?.catch(() => undefined);
      await current?.stop();
    },
  });
  const modos: Modo[] = o.modo === 'ambos' ? ['abierto', 'seguro'] : [o.modo];
  const reports: PhaseReport[] = [];
  for (const modo of modos) {
    let r: PhaseReport;
    try {
      r = await runPhase({
        mensajes: o.mensajes,
        rondas: o.rondas,
        sockets: o.sockets,
        semilla,
        modo,
        topologia: o.topologia,
        intrusos: o.intrusos,
        limits: { rssGrowthMiB: o.limiteRss },
        ...(o.limiteTormenta ? { limiteTormentaMs: o.limiteTormenta * 1000 } : {}),
        log: (l) => process.stderr.write(`${l}\n`),
        signal: abort.signal,
        onStarting: (p) => (starting = p),
        onSystem: (s) => (current = s),
      });
    } catch (err) {
      if (signals.received) return; // the signal's cleanup stops the system and exits
      throw err;
    }
    if (signals.received) return;
    process.stdout.write(formatPhase(r));
    reports.push(r);
  }
  const json = o.json ? userPath(o.json) : join(projectRoot(), 'reports', `abuso-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  mkdirSync(dirname(json), { recursive: true });
  writeFileSync(json, JSON.stringify(reports, null, 2) + '\n');
  process.stdout.write(`informe JSON: ${json}\n`);
  process.exit(reports.every((r) => r.fallos.length === 0) ? 0 : 1);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e: unknown) => {
    process.stderr.write(`Error: ${(e as Error).message}\n`);
    process.exit(1);
  });
}
