/**
 * npm start's "ready" banner: every endpoint and HTTP URL of the running system
 * (GC, each GA, each actor, PostgreSQL) and the commands that work against it.
 * Pure: built from the same description the launcher writes to sistema.json.
 */
import type { Sistema } from './system-file.js';

export interface BannerExtras {
  /** `npm run ps --`, with `--gc` when the PS's default endpoint would miss this system. */
  ps: string;
  /** The PS `carga` command to suggest, if any. */
  carga?: string;
  /** The live panel's URL (or why it did not start). */
  panel?: string;
  /** `--data <dir>` for commands that must find this system, when it is not the default data dir. */
  dataFlag: string;
  logs: string;
}

/** A column of labels; a label longer than the column still gets a space before its value. */
const label = (s: string) => `  ${s}: `.padEnd(29);

export function bannerLines(s: Sistema, x: BannerExtras): string[] {
  const twoHosts = s.gas.length > 1;
  // Processes, not actors: one process may host an actor of each library type.
  const byHost = (h: string) => {
    const names = s.actores.filter((a) => a.host === h).map((a) => a.nombre);
    return `${h} ${names.length}${names.length ? ` (${names.join(', ')})` : ''}`;
  };
  return [
    '',
    'Sistema listo.',
    ...(x.panel ? [`${label('Panel en vivo')}${x.panel}`] : []),
    ...s.gcs.flatMap((g) => {
      const which = s.gcs.length > 1 ? ` ${g.host}` : '';
      return [`${label(`GC${which} (PS → GC, REQ/DEALER)`)}${g.endpoint}`, `${label(`GC${which} HTTP`)}${g.http}  (/status /errors/stats /metrics /health)`];
    }),
    ...s.gas.map((g, i) => `${label(`GA ${g.host} (${i === 0 ? 'primario' : 'respaldo'})`)}${g.endpoint}   (${g.http}/status)`),
    ...s.actores.map((a) => `${label(`Actor ${a.nombre}${twoHosts ? ` (${a.host})` : ''}`)}${a.http}/status`),
    ...s.postgres.map((n, i) => `${label(`PostgreSQL ${twoHosts ? `${n.nombre} (${i === 0 ? 'primario' : 'standby'})` : ''}`.trimEnd())}postgres://${n.user}@${n.host}:${n.port}/${n.database}`),
    ...(twoHosts ? [`${label('Procesos actor')}${byHost('pc1')}, ${byHost('pc2')}`] : []),
    `${label('Logs')}${x.logs}`,
    '',
    `En otra terminal:   ${x.ps} test-sistema   |   ${x.ps} menu`,
    ...(x.carga ? [`Carga de prueba:    ${x.ps} ${x.carga}`] : []),
    `Cálculo:            ${x.ps} calc suma 10 5   |   ${x.ps} calc suma_cuadrados 1000000`,
    ...(s.gcs[0] ? [`API HTTP del GC:    curl -s ${s.gcs[0].http}/libros/<isbn>   |   curl -s -X POST ${s.gcs[0].http}/operaciones -d '{"operacion":"suma","a":10,"b":5}'`] : []),
    `Cargar un catálogo: npm run catalogo --${x.dataFlag} <archivo.csv|archivo.json>`,
    `${twoHosts ? 'Estado del par:  ' : 'Estado:          '}   npm run status -- ${s.gas.map((g) => `--ga ${g.http}`).join(' ')} ${s.gcs.map((g) => `--gc ${g.http}`).join(' ')}`,
    'Ctrl-C para detener.',
    '',
  ];
}
