/**
 * What a node is and the files we write into its data dir: its spec (data dir,
 * address, port, credentials), the include file with our settings (and, for a
 * standby, where it streams from), pg_hba.conf, standby.signal, and the server
 * log's place. No processes are started here.
 */
import fs from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { PG_SETTINGS } from './settings.js';
import { REPLICATION_USER, replicationConn, type PgConn } from './admin.js';
import { chownToPostgres } from './os-user.js';

export interface PgNodeSpec {
  dataDir: string;
  /** The one address the server listens on (a simulated host, e.g. 127.0.1.1). */
  host: string;
  port: number;
  user?: string;
  password?: string;
  database?: string;
  /** Network namespace the server runs in (as root: pg_ctl start through nsenter); default: this process's own. */
  netns?: string;
}

export const DEFAULT_PASSWORD = 'postgres';
export const DEFAULT_DATABASE = 'biblioteca';

export function nodeConn(spec: PgNodeSpec, database = spec.database ?? DEFAULT_DATABASE): PgConn {
  return { host: spec.host, port: spec.port, user: spec.user ?? 'postgres', password: spec.password ?? DEFAULT_PASSWORD, database };
}

/** Our settings live in one include file we rewrite per node; postgresql.conf only includes it. */
export const NODE_CONF = 'biblioteca-node.conf';

/** recovery_target_timeline: a node restarted as a standby follows a promoted primary onto its timeline. */
const BASE_SETTINGS: Record<string, string | number> = { ...PG_SETTINGS, recovery_target_timeline: 'latest' };

/**
 * Client addresses allowed in: loopback hosts and the 198.18.0.0/24 namespaces used by
 * partition drills; SCRAM passwords only. Streaming replication only as the replication
 * role, which may log into no database (first match wins).
 */
export const PG_HBA = `# Written by biblioteca postgres/node-config.ts: SCRAM password auth; replication only as ${REPLICATION_USER}.
host all ${REPLICATION_USER} 127.0.0.0/8 reject
host all ${REPLICATION_USER} 198.18.0.0/24 reject
host all all 127.0.0.0/8 scram-sha-256
host all all 198.18.0.0/24 scram-sha-256
host replication ${REPLICATION_USER} 127.0.0.0/8 scram-sha-256
host replication ${REPLICATION_USER} 198.18.0.0/24 scram-sha-256
`;

/** Server log of a node: next to its data dir, so a re-clone (which wipes the dir) keeps the history. */
export function nodeLogFile(dataDir: string): string {
  return `${path.resolve(dataDir)}.log`;
}

function confValue(v: string | number): string {
  return typeof v === 'number' ? String(v) : `'${v.replaceAll("'", "''")}'`;
}

function conninfoValue(v: string | number): string {
  return `'${String(v).replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}

/**
 * primary_conninfo for a standby of `primary` (reached with superuser credentials): it
 * streams as the replication role; application_name is how the primary names it (sync standby, status).
 */
export function primaryConninfo(primary: PgConn, applicationName: string): string {
  const repl = replicationConn(primary);
  const parts: Record<string, string | number> = {
    host: repl.host,
    port: repl.port,
    user: repl.user,
    password: repl.password,
    application_name: applicationName,
    connect_timeout: 2,
  };
  return Object.entries(parts)
    .map(([k, v]) => `${k}=${conninfoValue(v)}`)
    .join(' ');
}

export interface StandbyOf {
  primary: PgConn;
  slot: string;
  applicationName: string;
}

/** (Re)writes the node's include file: address, port, base settings and, for a standby, where to stream from. */
export async function writeNodeConf(spec: PgNodeSpec, standby?: StandbyOf, extra: Record<string, string | number> = {}): Promise<void> {
  const settings: Record<string, string | number> = { ...BASE_SETTINGS, listen_addresses: spec.host, port: spec.port, ...extra };
  if (standby) {
    settings.primary_conninfo = primaryConninfo(standby.primary, standby.applicationName);
    settings.primary_slot_name = standby.slot;
  }
  const body = Object.entries(settings)
    .map(([k, v]) => `${k} = ${confValue(v)}`)
    .join('\n');
  const file = path.join(spec.dataDir, NODE_CONF);
  await fs.writeFile(file, `# Written by biblioteca postgres/node-config.ts (${standby ? `standby of ${standby.primary.host}:${standby.primary.port}` : 'primary'}).\n${body}\n`);
  await chownToPostgres(file);
}

/**
 * ALTER SYSTEM settings persist in postgresql.auto.conf and a clone copies that
 * file: a standby must never carry synchronous_standby_names into a promotion
 * (every commit would wait for a standby that does not exist).
 */
export async function stripSyncStandbyNames(dataDir: string): Promise<void> {
  const file = path.join(dataDir, 'postgresql.auto.conf');
  if (!existsSync(file)) return;
  const text = await fs.readFile(file, 'utf8');
  const kept = text.split('\n').filter((l) => !/^\s*synchronous_standby_names\s*=/.test(l));
  if (kept.length !== text.split('\n').length) await fs.writeFile(file, kept.join('\n'));
}

export async function writeSignal(dataDir: string, name: 'standby.signal'): Promise<void> {
  const file = path.join(dataDir, name);
  await fs.writeFile(file, '');
  await chownToPostgres(file);
}
