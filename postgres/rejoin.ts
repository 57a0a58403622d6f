/**
 * The return of a node that was primary before a failover: always restarted in
 * standby mode following the new primary (never read-write on its old timeline),
 * reported 'streaming' or 'diverged'; a diverged one is wiped and re-cloned.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../common/logger.js';
import { compareLsn, createReplicationSlot, ensureReplicationRole, pgRole, standbyStatus, timelineHistory, withAdminClient, type PgConn } from './admin.js';
import { cloneIncomplete, cloneStandby, type CloneOptions, type CloneResult } from './clone.js';
import { isRunning, startNode, stopNode } from './lifecycle.js';
import { nodeConn, stripSyncStandbyNames, writeNodeConf, writeSignal, type PgNodeSpec } from './node-config.js';
import { chownTree, postgresIds } from './os-user.js';

export interface RejoinOptions extends PgNodeSpec {
  /** The current primary (the promoted former standby). */
  newPrimary: PgConn;
  slot: string;
  applicationName: string;
  /** How long to wait for streaming before declaring the node diverged; defaults to 5 s. */
  timeoutMs?: number;
  log?: Logger;
}

/**
 * The fence for a node that was primary before a failover. It is always
 * (re)started in standby mode following the new primary — so it can never
 * accept a write on its old timeline — and reports:
 * - 'streaming': its WAL was a prefix of the new primary's history; it now
 *   follows the new timeline as a standby;
 * - 'diverged': it wrote WAL past the fork point (or could not reach streaming
 *   within the bound). It stays up read-only (fenced) and must be re-cloned.
 */
/**
 * A standby whose walreceiver is down reports its timeline from pg_control, which
 * stays on the OLD timeline until its first restartpoint. A rejoined former primary
 * would then look "behind" as soon as its new primary died, its GA would fence it
 * and refuse to promote it: no failover back (found by the drills). A CHECKPOINT on
 * the standby (a restartpoint, possible once it replayed a checkpoint record of the
 * new timeline) moves pg_control forward; retried while it catches up, bounded.
 */
async function restartpointOnTimeline(spec: PgNodeSpec, timeline: number, log: Logger | undefined, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  try {
    await withAdminClient(nodeConn(spec), async (c) => {
      for (;;) {
        await c.query('CHECKPOINT');
        const r = await c.query<{ tli: number }>('SELECT (pg_control_checkpoint()).timeline_id AS tli');
        if ((r.rows[0]?.tli ?? 0) >= timeline) return;
        if (Date.now() > deadline) throw new Error(`pg_control still on timeline ${r.rows[0]?.tli} < ${timeline} after ${timeoutMs} ms`);
        await new Promise((res) => setTimeout(res, 200));
      }
    });
  } catch (err) {
    log?.warn({ host: spec.host, port: spec.port, err: (err as Error).message }, 'rejoined standby: restartpoint on the new timeline not reached; its GA may report an old timeline if the primary dies before the next one');
  }
}

export async function restartAsStandby(o: RejoinOptions): Promise<'streaming' | 'diverged'> {
  const spec: PgNodeSpec = { ...o, dataDir: path.resolve(o.dataDir) };
  const log = o.log;
  if (isRunning(spec.dataDir)) {
    // If it is up read-write it is already a split brain: stop accepting writes at once.
    await stopNode(spec.dataDir, { mode: 'fast', log });
  }
  await stripSyncStandbyNames(spec.dataDir);
  // Slots of its primary days would pin WAL on this standby forever.
  await fs.rm(path.join(spec.dataDir, 'pg_replslot'), { recursive: true, force: true });
  await fs.mkdir(path.join(spec.dataDir, 'pg_replslot'), { mode: 0o700 });
  await fs.rm(path.join(spec.dataDir, 'recovery.signal'), { force: true });
  await writeSignal(spec.dataDir, 'standby.signal');
  await writeNodeConf(spec, { primary: o.newPrimary, slot: o.slot, applicationName: o.applicationName });
  const ids = postgresIds();
  if (ids) await chownTree(spec.dataDir, ids);
  await ensureReplicationRole(o.newPrimary);
  await createReplicationSlot(o.newPrimary, o.slot);

  const timeoutMs = o.timeoutMs ?? 5000;
  const until = Date.now() + timeoutMs;
  const fenced = (reason: string): 'diverged' => {
    log?.error({ host: spec.host, port: spec.port, dataDir: spec.dataDir, reason }, 'former primary diverged from the new primary: kept read-only (fenced); re-clone it to rejoin');
    return 'diverged';
  };

  let started: 'ready' | 'not-ready';
  try {
    started = await startNode(spec, { timeoutMs, allowNotReady: true, log });
  } catch (err) {
    return fenced(`could not start in standby mode: ${(err as Error).message.split('\n')[0]}`);
  }
  if (started === 'not-ready') return fenced('no consistent state reached in standby mode');

  const newPrimaryRole = await pgRole(o.newPrimary).catch(() => undefined);
  while (Date.now() < until) {
    if (!isRunning(spec.dataDir)) return fenced('the server exited in standby mode');
    try {
      const s = await standbyStatus(nodeConn(spec), { connectTimeoutMs: 1000, queryTimeoutMs: 1000 });
      if (s.receiving && (!newPrimaryRole || s.timeline === newPrimaryRole.timeline)) {
        if (newPrimaryRole) await restartpointOnTimeline(spec, newPrimaryRole.timeline, log);
        log?.info({ host: spec.host, port: spec.port, timeline: s.timeline }, 'former primary rejoined as a streaming standby');
        return 'streaming';
      }
      // Fast verdict: its replayed WAL on an older timeline goes past where the new timeline forked off.
      if (newPrimaryRole && s.replayLsn) {
        const mine = await pgRole(nodeConn(spec), { connectTimeoutMs: 1000, queryTimeoutMs: 1000 });
        if (mine.timeline < newPrimaryRole.timeline) {
          const fork = (await timelineHistory(o.newPrimary, newPrimaryRole.timeline)).find((h) => h.timeline === mine.timeline);
          if (fork && compareLsn(s.replayLsn, fork.forkLsn) > 0) return fenced(`replayed ${s.replayLsn} on timeline ${mine.timeline}, past its fork point ${fork.forkLsn}`);
        }
      }
    } catch {
      /* not accepting connections yet */
    }
    await sleep(25);
  }
  return fenced(`not streaming from ${o.newPrimary.host}:${o.newPrimary.port} after ${timeoutMs} ms`);
}

export interface RecloneOptions extends CloneOptions {}

/** Where reclone keeps the data dir it replaces: beside it, one copy (the latest). */
export const divergedDirOf = (dataDir: string): string => `${path.resolve(dataDir)}.divergido`;

/**
 * Rejoin as the new standby: stop whatever runs on `dataDir`, move it aside and clone
 * the current primary afresh. The only way back for a diverged former primary, whose
 * WAL past the fork may hold commits nobody else has (acknowledged ones, in async
 * mode): they are kept in `<dataDir>.divergido` (a rename, no copy; an older one is
 * replaced), as the container entry script keeps them (docs/deploy.md).
 */
export async function reclone(o: RecloneOptions): Promise<CloneResult> {
  const dataDir = path.resolve(o.dataDir);
  await stopNode(dataDir, { mode: 'fast', log: o.log });
  const primary = `${o.primary.host}:${o.primary.port}`;
  const hasData = await fs.stat(path.join(dataDir, 'PG_VERSION')).then(
    () => true,
    () => false,
  );
  // A clone cut short holds nothing of value: never moved aside over an earlier diverged copy.
  if (hasData && !cloneIncomplete(dataDir)) {
    const aside = divergedDirOf(dataDir);
    await fs.rm(aside, { recursive: true, force: true });
    await fs.rename(dataDir, aside);
    await fs.rm(path.join(aside, 'standby.signal'), { force: true });
    await fs.writeFile(path.join(aside, 'DIVERGIDO.txt'), `${new Date().toISOString()}: replaced by a clone of ${primary}\n`);
    o.log?.warn({ dataDir, aside, primary }, 'data dir moved aside (what only it had stays there); re-cloning from the current primary');
  } else {
    await fs.rm(dataDir, { recursive: true, force: true });
    o.log?.warn({ dataDir, primary }, 're-cloning from the current primary');
  }
  return cloneStandby({ ...o, dataDir });
}
