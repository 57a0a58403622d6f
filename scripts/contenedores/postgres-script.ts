/**
 * `npm run contenedores -- postgres`: the PostgreSQL entry script's own rules
 * (deploy/postgres/biblioteca-postgres.sh), checked on the real containers with
 * no load and both GAs stopped, so only the script decides:
 *   1. a former primary holding transactions the new primary never got counts
 *      them and keeps its data directory aside before it rejoins;
 *   2. a former primary never starts beside a standby on a newer timeline: it
 *      waits, and rejoins once that standby is promoted;
 *   3. `docker stop` during that wait ends the container at once (143), not
 *      after stop_grace_period;
 *   4. with the GAs started again and client requests coming, the GA pair promotes
 *      the standby on the newest timeline by itself, and the waiting node rejoins it;
 *   5. two primaries (one promoted beside the other): the newer one, restarted, neither
 *      rewinds onto the older one nor starts beside it; once the older one is stopped,
 *      the pair promotes the newer one and the older one rejoins it, nothing lost;
 *   6. a standby away while the primary wrote past max_slot_wal_keep_size (its slot
 *      given up, the WAL it needs removed) clones the primary again when it starts,
 *      instead of asking forever for WAL that is gone: stopped cleanly, with nothing kept
 *      (pg_rewind --dry-run shows it holds nothing the primary lacks); killed, with its
 *      directory kept aside first.
 * The drills cover the rest (the automatic rejoin under load, sync restored).
 * At the end, in sync mode, sync replication is back.
 */
import type { GaStatus } from '../../gestor_almacenamiento/ga.js';
import type { HostName } from '../launcher/hosts.js';
import type { Verification } from '../drill/report.js';
import { docker, inspect } from './docker.js';
import type { ContainerSystem } from './sistema.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const other = (h: HostName): HostName => (h === 'pc1' ? 'pc2' : 'pc1');
const TABLE = 'prueba_divergencia';
const DIVERGENT_COMMITS = 3;

/** SQL as the postgres user on the container's local socket (no password, no network). */
function psql(h: HostName, sql: string): Promise<string> {
  return docker(['exec', '-u', 'postgres', `${h}-postgres`, 'psql', '-XAtq', '-v', 'ON_ERROR_STOP=1', '-d', 'postgres', '-c', sql], { timeoutMs: 15_000 }).then((s) => s.trim());
}

/** The notes (DIVERGIDO.txt) of every copy `h`'s wrapper kept aside, oldest first. */
async function keptNotes(h: HostName): Promise<string[]> {
  const out = await docker(['exec', `${h}-postgres`, 'sh', '-c', 'for d in /var/lib/postgresql/divergido-*/; do [ -f "$d/DIVERGIDO.txt" ] && { cat "$d/DIVERGIDO.txt"; echo =====; }; done; true']).catch(() => '');
  return out.split('=====').map((n) => n.trim()).filter(Boolean);
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const t = Date.now();
  for (;;) {
    if (await check().catch(() => false)) return Date.now() - t;
    if (Date.now() - t > timeoutMs) throw new Error(`${what}: not after ${timeoutMs} ms`);
    await sleep(250);
  }
}

const inRecovery = (h: HostName) => async () => (await psql(h, 'SELECT pg_is_in_recovery()')) === 't';
const readWrite = (h: HostName) => async () => (await psql(h, 'SELECT pg_is_in_recovery()')) === 'f';

export interface PostgresScriptReport {
  ok: boolean;
  verificaciones: Verification[];
}

export async function checkPostgresScript(sys: ContainerSystem, replicacion: 'sync' | 'async', progress: (line: string) => void): Promise<PostgresScriptReport> {
  const a = await sys.primaryHost();
  if (!a) throw new Error('no PostgreSQL primary to start from');
  const b = other(a);
  const v: Verification[] = [];
  // Only what the script said in this check: earlier drills may have left the same lines.
  const since = new Date().toISOString();
  const logs = (h: HostName, from = since) => docker(['logs', '--since', from, `${h}-postgres`], { stderr: true });
  /** Runs `wait` while consultas go through the GC every 500 ms: client demand is what makes the GA pair take over. */
  const withConsultas = async <T>(wait: () => Promise<T>): Promise<T> => {
    const poke = setInterval(() => {
      void fetch(`${sys.gcHttp}/operaciones`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ operacion: 'consulta', isbn: '978-9-98-000001-0' }), signal: AbortSignal.timeout(2000) }).catch(() => undefined);
    }, 500);
    try {
      return await wait();
    } finally {
      clearInterval(poke);
    }
  };

  progress('docker stop pc1-ga pc2-ga: sólo decide el script de PostgreSQL');
  await docker(['stop', 'pc1-ga', 'pc2-ga']);
  try {
    // 1. Transactions only the old primary has. Async first (the GAs are stopped: nobody
    // puts sync back), the table replicated, then the standby stopped so the inserts stay on `a`.
    await psql(a, "ALTER SYSTEM SET synchronous_standby_names = ''");
    await psql(a, 'SELECT pg_reload_conf()');
    await psql(a, `DROP TABLE IF EXISTS ${TABLE}; CREATE TABLE ${TABLE} (x int)`);
    await waitFor(`${b} replays the table`, async () => (await psql(b, `SELECT to_regclass('${TABLE}') IS NOT NULL`)) === 't', 20_000);
    await docker(['stop', `${b}-postgres`]);
    for (let i = 1; i <= DIVERGENT_COMMITS; i++) await psql(a, `INSERT INTO ${TABLE} VALUES (${i})`);
    progress(`${a}: ${DIVERGENT_COMMITS} inserciones que ${b} no tiene; docker kill ${a}-postgres; ${b} promovido a mano (como haría el GA)`);
    await docker(['kill', `${a}-postgres`]);
    await docker(['start', `${b}-postgres`]);
    await waitFor(`${b} starts as a standby`, inRecovery(b), 60_000);
    await psql(b, 'SELECT pg_promote()');
    await waitFor(`${b} promoted`, readWrite(b), 30_000);
    await docker(['start', `${a}-postgres`]);
    const rejoinMs = await waitFor(`${a} rejoins as a standby`, inRecovery(a), 90_000);
    const log1 = await logs(a);
    const counted = new RegExp(`\\b${DIVERGENT_COMMITS} transaction\\(s\\) committed here after`).test(log1);
    const note = await keptNotes(a).then((n) => n.at(-1) ?? '');
    const onNew = await psql(b, `SELECT count(*) FROM ${TABLE}`);
    v.push({
      nombre: `un antiguo primario cuenta las ${DIVERGENT_COMMITS} transacciones que sólo él tiene y conserva su directorio antes de reincorporarse`,
      ok: counted && note.includes(`${DIVERGENT_COMMITS} transaction(s)`) && onNew === '0',
      detalle: `${counted ? 'contadas en el registro' : 'NO contadas en el registro'}; divergido-*/DIVERGIDO.txt: ${note.trim().split('\n')[0] || 'ausente'}; filas en el nuevo primario ${onNew}; standby en ${rejoinMs} ms`,
    });

    // 2. Now `b` is the primary and `a` its standby. `b` dies, `a` is promoted (a newer
    // timeline) and restarted as a standby: `b` comes back as a former primary on an older one.
    await docker(['kill', `${b}-postgres`]);
    await psql(a, 'SELECT pg_promote()');
    await waitFor(`${a} promoted`, readWrite(a), 30_000);
    await docker(['exec', '-u', 'postgres', `${a}-postgres`, 'sh', '-c', 'touch "$PGDATA/standby.signal"']);
    await docker(['restart', `${a}-postgres`]);
    await waitFor(`${a} back as a standby`, inRecovery(a), 60_000);
    progress(`${a}: standby en un timeline más nuevo; docker start ${b}-postgres (antiguo primario en uno más viejo)`);
    await docker(['start', `${b}-postgres`]);
    const restartsBefore = (await inspect(`${b}-postgres`))?.restartCount ?? 0;
    const waitMs = await waitFor(`${b} sees the newer timeline`, async () => (await logs(b)).includes('newer than ours'), 30_000);
    await sleep(3000);
    const served = await psql(b, 'SELECT 1').then(
      () => 'acepta conexiones',
      () => 'no acepta conexiones',
    );
    // Waiting, not crashed: the container still runs the same script, never restarted.
    const state = await inspect(`${b}-postgres`);
    const waiting = served === 'no acepta conexiones' && !!state?.running && state.restartCount === restartsBefore;
    v.push({
      nombre: 'un antiguo primario no arranca junto a un standby de un timeline más nuevo: espera',
      ok: waiting,
      detalle: `aviso "newer than ours" a los ${waitMs} ms; 3 s después ${b} ${served}, contenedor ${state?.running ? 'en marcha' : 'parado'}, reinicios ${restartsBefore} → ${state?.restartCount ?? '?'}`,
    });

    // 3. docker stop while it waits: the script is PID 1 and must exit on the signal.
    const t = Date.now();
    await docker(['stop', `${b}-postgres`]);
    const stopMs = Date.now() - t;
    const exitCode = (await docker(['inspect', '--format', '{{.State.ExitCode}}', `${b}-postgres`])).trim();
    v.push({ nombre: 'docker stop durante la espera termina en seguida', ok: stopMs < 5000 && exitCode === '143', detalle: `${stopMs} ms, código de salida ${exitCode}` });

    // Back to a pair with nobody's help: `b` waits again; the GAs start and, at the first client
    // requests (consultas through the GC's HTTP gateway), the pair promotes `a`, the standby on
    // the newest timeline (role/takeover.ts); then `b` sees a primary and rejoins it.
    await docker(['start', `${b}-postgres`]);
    await waitFor(`${b} waits again`, async () => (await logs(b)).split('newer than ours').length > 2, 30_000);
    progress(`docker start pc1-ga pc2-ga, y consultas a través del GC: el par de GA debe promover a ${a} por sí solo`);
    await docker(['start', 'pc1-ga', 'pc2-ga']);
    const t0 = Date.now();
    const { promotedMs, backMs } = await withConsultas(async () => {
      const promotedMs = await waitFor(`the GA pair promotes ${a}`, readWrite(a), 60_000);
      return { promotedMs, backMs: (await waitFor(`${b} rejoins`, inRecovery(b), 90_000)) + promotedMs };
    });
    const rejoined = (await logs(b)).includes('rejoined: a standby of');
    v.push({
      nombre: 'el par de GA promueve por sí solo al standby del timeline más nuevo, y el antiguo primario se reincorpora solo',
      ok: rejoined,
      detalle: `${a} primario a los ${promotedMs} ms de arrancar los GA; ${b} standby a los ${backMs} ms (${Date.now() - t0} ms en total); ${rejoined ? '"rejoined" en su registro' : 'sin "rejoined" en su registro'}`,
    });
    await psql(a, `DROP TABLE IF EXISTS ${TABLE}`);

    // 5. Two primaries: `b` promoted by hand while `a` stays primary (what a partition in
    // sync mode leads to), `b` writes, then restarts. A primary on an older timeline holds
    // less than `b`: `b` must neither rewind onto it nor start beside it, but wait; stopped
    // (the way out its log gives), `a` lets `b` come up as a standby that the GA pair
    // promotes, and `a`, started again, rejoins `b` with nothing of `b`'s lost.
    await docker(['stop', 'pc1-ga', 'pc2-ga']);
    await waitFor(`${b} streams from ${a}`, inRecovery(b), 30_000);
    await psql(b, 'SELECT pg_promote()');
    await waitFor(`${b} promoted beside ${a}`, readWrite(b), 30_000);
    await psql(b, `CREATE TABLE ${TABLE} (x int); INSERT INTO ${TABLE} SELECT generate_series(1, ${DIVERGENT_COMMITS}); CHECKPOINT`);
    progress(`${b}: promovido a mano junto a ${a} (dos primarios), ${DIVERGENT_COMMITS} filas; docker restart ${b}-postgres`);
    const since5 = new Date().toISOString();
    await docker(['restart', `${b}-postgres`]);
    const splitMs = await waitFor(`${b} sees two primaries`, async () => (await logs(b, since5)).includes('not newer than ours'), 30_000);
    await sleep(3000);
    const servedSplit = await psql(b, 'SELECT 1').then(() => true, () => false);
    const rewound = (await logs(b, since5)).includes('pg_rewind');
    v.push({
      nombre: 'un primario más nuevo no se rebobina sobre uno más viejo ni arranca junto a él: espera y dice cómo salir',
      ok: !servedSplit && !rewound,
      detalle: `aviso "not newer than ours" a los ${splitMs} ms; 3 s después ${b} ${servedSplit ? 'ACEPTA conexiones' : 'no acepta conexiones'}; ${rewound ? 'pg_rewind EN su registro' : 'sin pg_rewind'}`,
    });
    progress(`docker stop ${a}-postgres (la salida que da el aviso); ${b} arrancará como standby y el par de GA lo promoverá`);
    await docker(['stop', `${a}-postgres`]);
    await waitFor(`${b} starts as a standby`, inRecovery(b), 60_000);
    await docker(['start', 'pc1-ga', 'pc2-ga']);
    await withConsultas(() => waitFor(`the GA pair promotes ${b}`, readWrite(b), 60_000));
    await docker(['start', `${a}-postgres`]);
    await waitFor(`${a} rejoins ${b}`, inRecovery(a), 90_000);
    const kept = await psql(b, `SELECT count(*) FROM ${TABLE}`);
    const followed = await waitFor(`${a} replays ${b}'s rows`, async () => (await psql(a, `SELECT count(*) FROM ${TABLE}`)) === String(DIVERGENT_COMMITS), 30_000).then(() => true, () => false);
    v.push({
      nombre: 'tras parar el primario viejo, el par promueve al más nuevo y el viejo se reincorpora a él: nada de lo suyo se pierde',
      ok: kept === String(DIVERGENT_COMMITS) && followed,
      detalle: `${b}: ${kept} de ${DIVERGENT_COMMITS} filas; ${a} ${followed ? 'las replica como standby' : 'NO las replica'}`,
    });
    await psql(b, `DROP TABLE IF EXISTS ${TABLE}`);

    // 6. `a` (a standby of `b`) away while `b` moves its WAL position past
    // max_slot_wal_keep_size (4 GB): each pg_switch_wal ends a 16-MB segment, and without
    // wal_init_zero a new segment is a sparse file, so ~5 GB of positions cost little disk.
    // The checkpoint gives the slot up and removes the WAL `a` would resume from. Twice:
    // stopped cleanly (pg_rewind --dry-run shows it holds nothing `b` lacks: cloned, nothing
    // kept), then killed (it cannot show that: kept aside, then cloned).
    await docker(['stop', 'pc1-ga', 'pc2-ga']);
    await psql(b, "ALTER SYSTEM SET synchronous_standby_names = ''");
    await psql(b, 'SELECT pg_reload_conf()');
    const SEGMENTS = 272; // 4 GB / 16 MB = 256, and a margin
    for (const away of ['stop', 'kill'] as const) {
      await waitFor(`${a} streams from ${b}`, async () => (await psql(a, 'SELECT status FROM pg_stat_wal_receiver')) === 'streaming', 60_000);
      await docker([away, `${a}-postgres`]);
      progress(`docker ${away} ${a}-postgres; ${b} avanza ${SEGMENTS} segmentos de WAL (más que max_slot_wal_keep_size) y hace un checkpoint`);
      await psql(b, 'ALTER SYSTEM SET wal_init_zero = off');
      await psql(b, 'SELECT pg_reload_conf()');
      const fill = (segments: number) => psql(b, `DO $$ BEGIN FOR i IN 1..${segments} LOOP PERFORM pg_logical_emit_message(false, 'relleno', 'x'); PERFORM pg_switch_wal(); END LOOP; END $$`);
      const walStatus = () => psql(b, `SELECT coalesce((SELECT wal_status FROM pg_replication_slots WHERE slot_name = '${a}'), 'ninguno')`);
      await fill(SEGMENTS);
      // The checkpoint that gives the slot up is the one whose redo point is past the bound; one
      // that began during the switches ('unreserved' after it, seen in CI) is not: a few more.
      for (let i = 0; i < 5; i++) {
        await psql(b, 'CHECKPOINT');
        if ((await walStatus()) === 'lost') break;
        await fill(4);
      }
      await psql(b, 'ALTER SYSTEM RESET wal_init_zero');
      await psql(b, 'SELECT pg_reload_conf()');
      const slotState = await walStatus();
      await psql(b, `DROP TABLE IF EXISTS ${TABLE}; CREATE TABLE ${TABLE} (x int); INSERT INTO ${TABLE} VALUES (1)`);
      const from = new Date().toISOString();
      await docker(['start', `${a}-postgres`]);
      const streamsFromB = async () => (await psql(a, 'SELECT status FROM pg_stat_wal_receiver')) === 'streaming' && (await psql(a, `SELECT count(*) FROM ${TABLE}`)) === '1';
      const recloneMs = await waitFor(`${a} streams again`, streamsFromB, 120_000).catch(() => undefined);
      const log6 = await logs(a, from);
      const recloned = log6.includes('stayed away past max_slot_wal_keep_size') && log6.includes('clone complete');
      const kept = log6.includes('keeping this data directory');
      // A new copy never replaces an older one: step 1's, the only record of its divergent commits, is still there.
      const notes = await keptNotes(a);
      const firstCopyKept = notes.some((n) => n.includes(`${DIVERGENT_COMMITS} transaction(s)`));
      const keptRight = away === 'stop' ? !kept && log6.includes('nothing here that the primary lacks') : kept && firstCopyKept && notes.length >= 2;
      v.push({
        nombre: `un standby fuera más allá de max_slot_wal_keep_size (docker ${away}) se clona de nuevo al arrancar y vuelve a replicar; ${away === 'stop' ? 'parado limpio, nada que guardar' : 'sin poder mostrar que no tiene nada propio, guarda antes su directorio'}`,
        ok: slotState === 'lost' && recloned && keptRight && recloneMs !== undefined,
        detalle: `slot ${a} en ${b}: ${slotState}; ${recloned ? 'clonado de nuevo' : 'NO clonado de nuevo'}; ${kept ? 'directorio guardado aparte' : 'nada guardado aparte'} (${notes.length} copias guardadas, ${firstCopyKept ? 'la del paso 1 sigue' : 'la del paso 1 NO está'}); ${recloneMs !== undefined ? `replicando a los ${recloneMs} ms` : 'NO replica tras 120 s'}`,
      });
    }
    await psql(b, `DROP TABLE IF EXISTS ${TABLE}`);
  } finally {
    // Whatever happened above: every container of the pair running again (a no-op for those that are).
    await docker(['start', 'pc1-postgres', 'pc2-postgres', 'pc1-ga', 'pc2-ga']).catch(() => undefined);
  }
  await Promise.all(['pc1-ga', 'pc2-ga', 'pc1-postgres', 'pc2-postgres'].map((n) => sys.waitHealthy(n, 120_000)));
  await waitFor('one GA ACTIVE' + (replicacion === 'sync' ? ' with sync replication' : ''), async () => {
    const s = await Promise.all((['pc1', 'pc2'] as const).map((h) => sys.hosts[h].ga.status<GaStatus>()));
    return s.some((x) => x?.papel.estado === 'ACTIVE' && (replicacion !== 'sync' || x.replicacion.modo === 'sync'));
  }, 60_000);
  return { ok: v.every((x) => x.ok), verificaciones: v };
}
