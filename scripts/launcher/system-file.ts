/**
 * What `npm start` is running, written to `<data>/sistema.json` once it is ready
 * and removed when it stops: the endpoints and HTTP URLs of every process and the
 * PostgreSQL nodes. The banner prints it; `npm run catalogo` reads it to find the
 * running system's PostgreSQL (ports differ with --puertos-libres, and after a
 * failover the primary is on pc2).
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from '../../common/protocol/zod.js';
import type { LocalSystem } from './local-system.js';
import { isStale, parseOwner, procProbe, LOCK_FILE } from './lock.js';

export const SYSTEM_FILE = 'sistema.json';

const urlOf = (host: string | undefined, port: number | undefined) => `http://${host ?? '127.0.0.1'}:${port ?? 0}`;

const pgNodeSchema = z.object({ host: z.string(), port: z.number(), user: z.string(), password: z.string(), database: z.string(), nombre: z.string() });
const sistemaSchema = z.object({
  pid: z.number(),
  topologia: z.string(),
  gcs: z.array(z.object({ host: z.string(), endpoint: z.string(), http: z.string() })),
  gas: z.array(z.object({ host: z.string(), endpoint: z.string(), http: z.string() })),
  actores: z.array(z.object({ nombre: z.string(), host: z.string(), http: z.string() })),
  postgres: z.array(pgNodeSchema),
});
export type Sistema = z.infer<typeof sistemaSchema>;
export type PgNodo = z.infer<typeof pgNodeSchema>;

export function describeSystem(s: LocalSystem): Sistema {
  const gas = [s.ga, s.gaBackup].filter((g): g is NonNullable<typeof g> => !!g);
  const nodes = s.pgNodes ? [s.pgNodes.primary, s.pgNodes.standby].map((n) => ({ ...n.info, nombre: n.hostName })) : [{ ...s.pg, nombre: 'pc1' }];
  return {
    pid: process.pid,
    topologia: s.topology,
    gcs: s.gcs.map((g) => ({ host: g.host, endpoint: g.endpoint, http: g.http })),
    gas: gas.map((g, i) => ({ host: g.spec.host ?? 'pc1', endpoint: s.gaEndpoints[i]!, http: urlOf(g.spec.httpHost, g.spec.httpPort) })),
    actores: s.actors.map((a) => ({ nombre: a.spec.name, host: a.spec.host ?? 'pc1', http: urlOf(a.spec.httpHost, a.spec.httpPort) })),
    postgres: nodes,
  };
}

export function writeSystemFile(dataDir: string, s: Sistema): void {
  writeFileSync(join(dataDir, SYSTEM_FILE), JSON.stringify(s, null, 2) + '\n', { mode: 0o600 });
}

export function removeSystemFile(dataDir: string): void {
  rmSync(join(dataDir, SYSTEM_FILE), { force: true });
}

export class NoRunningSystemError extends Error {
  override name = 'NoRunningSystemError';
}

/** The system running on `dataDir`, or NoRunningSystemError saying why there is none. */
export function readRunningSystem(dataDir: string): Sistema {
  const none = (why: string) => new NoRunningSystemError(`no hay un sistema de npm start en marcha sobre ${dataDir} (${why}): arránquelo con npm start (y --data si usa otro directorio)`);
  let text: string;
  try {
    text = readFileSync(join(dataDir, SYSTEM_FILE), 'utf8');
  } catch {
    throw none(`falta ${SYSTEM_FILE}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw none(`${SYSTEM_FILE} ilegible (no es JSON)`);
  }
  const parsed = sistemaSchema.safeParse(json);
  if (!parsed.success) throw none(`${SYSTEM_FILE} ilegible`);
  // A launcher killed with SIGKILL leaves the file behind: its lock says whether it still runs.
  let owner;
  try {
    owner = parseOwner(readFileSync(join(dataDir, LOCK_FILE), 'utf8'));
  } catch {
    owner = undefined;
  }
  if (!owner || owner.pid !== parsed.data.pid || isStale(owner, procProbe)) throw none(`su lanzador, pid ${parsed.data.pid}, ya no está en marcha`);
  return parsed.data;
}
