/**
 * `npm run status`: one readable block per process (in Spanish, like every CLI) from their /status ports —
 * GA role/state, PostgreSQL role, timeline, replication lag, peer heartbeat
 * age; each GC's actors, pending work and storage breakers — and the load of
 * every GC (requests served by each, as each reports it through the ledger).
 * Exit 0 only when every process asked answers as what it was asked as (a GA URL that
 * answers with a GC's /status, or some other server's, counts as not answering); 1
 * otherwise, so scripts and drills can wait on it. A CLI, so it writes to stdout.
 *
 *   npm run status                                   # what a plain `npm start` runs (below)
 *   npm run status -- --ga http://127.0.0.1:9570 --gc http://127.0.0.1:9555   # npm start -- --topologia single
 *   npm run status -- --json                         # raw /status documents
 *
 * Defaults: both GAs and both GCs of `npm start`'s two-hosts topology with its
 * standard ports (scripts/launcher/local-system.ts): GAs on :9570 of pc1's and pc2's own
 * address; pc1's GC at 127.0.0.1:9555 (like its PS port), pc2's on its own address.
 * Any --ga replaces the GA list, any --gc the GC list.
 */
import { pathToFileURL } from 'node:url';
import { Command } from 'commander';
import { intArg, spanishHelp } from '../../common/cli-args.js';
import { PC1, PC2 } from './hosts.js';
import { guardStdio } from '../../common/stdio-guard.js';

// A closed stdout (`| head`) must not kill the command.
guardStdio();

const DEFAULT_GAS = [`http://${PC1}:9570`, `http://${PC2}:9570`];
/** npm start's pc1 GC answers HTTP on 127.0.0.1, like its PS port; pc2's on its own address. */
const DEFAULT_GCS = ['http://127.0.0.1:9555', `http://${PC2}:9555`];

type Json = Record<string, any>;

async function fetchStatus(url: string, tipo: 'ga' | 'gc', timeoutMs: number): Promise<Json> {
  const r = await fetch(`${url.replace(/\/+$/, '')}/status`, { signal: AbortSignal.timeout(timeoutMs) });
  if (!r.ok) throw new Error(`HTTP ${r.status}`);
  const doc = (await r.json().catch(() => undefined)) as Json | undefined;
  // Each process's /status names what it is: a GA its role (papel), a GC itself (gc).
  if (!doc || typeof doc !== 'object' || !(tipo === 'ga' ? doc.papel : doc.gc)) throw new Error(`su /status no es el de un ${tipo.toUpperCase()}`);
  return doc;
}

function ago(iso: string | null | undefined): string {
  if (!iso) return '';
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60}s`;
  return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
}

function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '?';
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 ** 2).toFixed(1)} MiB`;
}

function counts(o: Record<string, number> | undefined): string {
  const e = Object.entries(o ?? {}).sort((a, b) => b[1] - a[1]);
  return e.length ? e.map(([k, v]) => `${k} ${v}`).join(', ') : 'ninguna';
}

function formatGa(url: string, s: Json): string {
  const papel = s.papel ?? {};
  const pg = s.postgres ?? {};
  const lines: string[] = [];
  const since = papel.activo ? `activo desde ${papel.activoDesde} (${ago(papel.activoDesde)})` : `desde ${papel.desde ?? '?'} (${ago(papel.desde)})`;
  lines.push(`GA ${url}  ${papel.rol ?? s.rol ?? '?'}  ${papel.estado ?? '?'}${papel.modo === 'standalone' ? ' (standalone)' : `  ${since}`}`);
  if (papel.motivo) lines.push(`  motivo:      ${papel.motivo}`);
  const tl = pg.timeline !== undefined ? `timeline ${pg.timeline}` : 'timeline ?';
  const highest = papel.timelineMaximo !== undefined && papel.timelineMaximo !== pg.timeline ? ` (el más alto visto: ${papel.timelineMaximo})` : '';
  lines.push(`  PostgreSQL:  ${pg.host}:${pg.puerto} ${pg.rolPg ?? '?'}, ${tl}${highest}, ${pg.disponible ? 'accesible' : `NO accesible${pg.ultimoError ? ` (${pg.ultimoError})` : ''}`}`);
  if (Array.isArray(pg.replicas)) {
    if (pg.replicas.length === 0) lines.push('  standbys:    ninguno conectado');
    for (const r of pg.replicas as Json[]) {
      const lag = r.retrasoAplicacionMs !== null && r.retrasoAplicacionMs !== undefined ? `, retraso al aplicar ${Math.round(r.retrasoAplicacionMs)} ms` : '';
      lines.push(`  standby:     ${r.nombre} ${r.estado} ${r.estadoSync}, retraso ${bytes(r.retrasoBytes)}${lag}`);
    }
  } else if (pg.recepcion && !pg.recepcion.error) {
    const sb = pg.recepcion as Json;
    lines.push(`  es standby:  ${sb.recibiendo ? 'recibiendo' : `NO recibe (${sb.estadoWalReceiver ?? 'sin walreceiver'})`}, retraso ${bytes(sb.retrasoBytes)}`);
  }
  const rep = s.replicacion as Json | undefined;
  if (rep) lines.push(`  replicación: pedida ${rep.pedido}, ahora ${rep.modo}${rep.replica ? ` (standby sync ${rep.replica}${rep.replicaTransmite === false ? ', sin transmitir' : ''})` : ''}`);
  if (papel.par) {
    const p = papel.par as Json;
    const age = p.latidoHaceMs === null ? 'nunca oído' : `latido hace ${p.latidoHaceMs} ms${p.perdido ? ' (PERDIDO)' : ''}`;
    lines.push(`  GA par:      ${p.endpoint} ${p.estado ?? '?'}${p.rol ? ` (${p.rol})` : ''}, ${age}`);
  }
  if (papel.aislado) {
    lines.push(`  AISLADO:     ${papel.aislado.motivo}`);
    lines.push(`  reincorporar: ${papel.aislado.reincorporar}`);
  }
  if (papel.ultimoErrorActivacion) lines.push(`  último error al tomar el relevo: ${papel.ultimoErrorActivacion}`);
  lines.push(`  solicitudes: ${counts(s.solicitudes?.porCodigo)}; en curso ${s.enCurso ?? 0}`);
  return lines.join('\n');
}

export function formatGc(url: string, s: Json): string {
  const me = s.gc as Json | undefined;
  const lines = [`GC ${url}${me ? `  ${me.id}${me.sede ? ` (sede ${me.sede})` : ''}, desde ${me.iniciado} (${ago(me.iniciado)})` : ''}`];
  if (s.arriendoVigente === false) lines.push('  ARRIENDOS:   sin renovar en GC_LEASE_MS: su trabajo async puede pasar a otro GC');
  lines.push(`  actores vivos: ${counts(s.actoresVivos)}`);
  const repetidos = ((s.actores ?? []) as Json[]).filter((a) => a.idRepetido).map((a) => `${a.tipo}.${a.actorId}`);
  if (repetidos.length > 0) lines.push(`  ID REPETIDO: ${repetidos.join(', ')}: dos procesos de actor con el mismo ACTOR_ID (cada uno recibe todas sus tareas); dé a cada uno el suyo`);
  const calc = s.calculo as Json | undefined;
  if (calc) lines.push(`  calculo:     ${calc.actoresVivos ?? 0} vivos; tareas ${counts(calc.tareas)}; solicitudes en espera ${calc.solicitudesEsperando ?? 0}`);
  lines.push(`  tareas:      ${counts(s.tareas)}; solicitudes sync en espera ${s.solicitudesSyncEsperando ?? 0}; respuestas ${s.respuestas ?? 0}`);
  if (s.modos) lines.push(`  modos:       ${Object.entries(s.modos as Record<string, string>).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  for (const b of (s.almacenamiento ?? []) as Json[]) {
    lines.push(`  breaker GA:  ${b.endpoint} ${b.disyuntor}${b.preferido ? ' (las llamadas empiezan aquí)' : ''}${b.fallosSeguidos ? `, ${b.fallosSeguidos} fallos seguidos` : ''}${b.ultimoError ? ` (${b.ultimoError})` : ''}`);
  }
  return lines.join('\n');
}

/**
 * Every GC with its load, from the ledger's registry (each GC reports itself there):
 * the freshest view among the GCs that answered, so a GC that is down is still listed.
 */
export function formatGcLoad(views: Json[][]): string | undefined {
  const best = new Map<string, Json>();
  for (const list of views) for (const g of list) if (!best.has(g.id) || g.vistoHaceMs < best.get(g.id)!.vistoHaceMs) best.set(g.id, g);
  if (best.size === 0) return undefined;
  const gcs = [...best.values()].sort((a, b) => String(a.id).localeCompare(String(b.id)));
  const total = gcs.reduce((n, g) => n + Number(g.informe?.atendidas ?? 0), 0);
  const rows = gcs.map((g) => {
    const i = (g.informe ?? {}) as Json;
    const n = Number(i.atendidas ?? 0);
    const share = total ? `${Math.round((n * 100) / total)} %` : '—';
    return `  ${String(g.id).padEnd(14)} ${String(i.sede ?? '').padEnd(10)} ${g.vivo ? 'vivo ' : 'CAÍDO'}  respuestas ${String(n).padStart(8)} (${share.padStart(5)})  ${Number(i.porSegundo ?? 0).toFixed(1).padStart(7)}/s  tareas ${String(i.tareas ?? 0).padStart(4)}  informó hace ${(Number(g.vistoHaceMs) / 1000).toFixed(1)} s`;
  });
  return [`Carga por GC (respuestas desde que arrancó cada uno, según informa cada uno en el registro):`, ...rows].join('\n');
}

const collect = (v: string, prev: string[] | undefined) => [...(prev ?? []), v];

const program = spanishHelp(new Command())
  .name('status')
  .description('Estado de los procesos del sistema (GA: rol, PostgreSQL, timeline, réplica, latido del par; GC: actores, tareas, breakers)')
  .option('--ga <url>', `URL HTTP de un GA (repetible; por defecto ${DEFAULT_GAS.join(' y ')}, los de npm start)`, collect)
  .option('--gc <url>', `URL HTTP de un GC (repetible; por defecto ${DEFAULT_GCS.join(' y ')}, los de npm start)`, collect)
  .option('--no-gc', 'no consultar ningún GC')
  .option('--timeout <ms>', 'espera máxima por proceso (ms)', intArg(1), 2000)
  .option('--json', 'imprime los documentos /status tal cual')
  .action(async (o: { ga?: string[]; gc?: string[] | false; timeout: number; json?: boolean }) => {
    const gas = o.ga?.length ? o.ga : DEFAULT_GAS;
    const gcs = o.gc === false ? [] : o.gc?.length ? o.gc : DEFAULT_GCS;
    // Spanish keys, like the /status documents they carry: tipo, url, estado (the document) or error.
    const targets = [...gas.map((url) => ({ tipo: 'ga' as const, url })), ...gcs.map((url) => ({ tipo: 'gc' as const, url }))];
    const results = await Promise.all(
      targets.map(async (t) => {
        try {
          return { ...t, estado: await fetchStatus(t.url, t.tipo, o.timeout) };
        } catch (err) {
          return { ...t, error: err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err) };
        }
      }),
    );
    if (o.json) {
      process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
    } else {
      const blocks = results.map((r) => {
        if ('error' in r) return `${r.tipo.toUpperCase()} ${r.url}  NO RESPONDE (${r.error})`;
        return r.tipo === 'ga' ? formatGa(r.url, r.estado) : formatGc(r.url, r.estado);
      });
      const load = formatGcLoad(results.flatMap((r) => (r.tipo === 'gc' && 'estado' in r && Array.isArray(r.estado.gestores) ? [r.estado.gestores as Json[]] : [])));
      process.stdout.write(`${[...blocks, ...(load ? [load] : [])].join('\n\n')}\n`);
    }
    const silent = results.filter((r) => 'error' in r).length;
    if (silent > 0) {
      if (!o.json) process.stdout.write(`\n${silent} de ${results.length} procesos no responden\n`);
      process.exitCode = 1;
    }
  });

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  program.parseAsync(process.argv).catch((err: unknown) => {
    process.stderr.write(`Error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
