/**
 * Every ACEPTADO op must complete, even if the GC that accepted it died for good.
 *
 * Each GC holds a lease on the async ops it records (`registrar`, owner + expiry in
 * the ledger, 006_arriendos.sql). Every third of the lease this module makes one
 * `reclamar` call, the GC's heartbeat to the ledger: it records the GC's own report
 * (sede, load), renews its leases, claims PENDIENTE rows whose lease ran out (their
 * GC is gone) and lists the rows the GC now holds; the GC publishes those it is not
 * tracking yet. Claims are row-locked in SQL, so two GCs never both take a row.
 *
 * The GC trusts its leases only as long as a renewal succeeded within one lease
 * (timed from when that call was SENT, so never longer than the ledger's own
 * expiry): past that another GC may hold them, so it forgets its async tasks and
 * takes up again, once the ledger answers, whatever is still its own.
 */
import { StorageUnavailableError } from '../common/errors.js';
import type { GestorVisto, InformeGc } from '../common/protocol/internal.js';
import type { Logger } from '../common/logger.js';
import type { StorageClient } from '../common/storage-client.js';
import type { Clock } from './actor-registry.js';
import type { TaskTracker } from './task-tracker.js';

export interface LedgerResumeOptions {
  storage: StorageClient;
  tracker: TaskTracker;
  clock: Clock;
  log: Logger;
  /** This GC's report, sent with every call (its `id` owns the leases). */
  informe(): InformeGc;
  leaseMs: number;
  /** Own rows younger than this during a re-scan are probably being handled right now. */
  minAgeMs: number;
  /** Default: a third of the lease. */
  scanEveryMs?: number;
  limit?: number;
}

export interface LedgerView {
  /** Every GC the ledger knows, as of the last successful call, `vistoHaceMs` counted to now; `vivo` = heard within one lease. */
  gestores: Array<GestorVisto & { vivo: boolean }>;
  /** How long ago that call answered (undefined: never yet). */
  haceMs?: number;
  /** This GC's leases are certainly still its own. */
  arriendoVigente: boolean;
}

export interface LedgerResume {
  /** True once the first call succeeded. */
  loaded(): boolean;
  /** One call now (tests, and the timer). Returns how many ops were taken up. */
  scanOnce(): Promise<number>;
  /** Until when this GC's leases certainly hold (last renewal sent + the lease); undefined: never renewed. */
  leaseUntil(): number | undefined;
  view(): LedgerView;
  stop(): void;
}

export function startLedgerResume(o: LedgerResumeOptions): LedgerResume {
  const scanEvery = o.scanEveryMs ?? Math.floor(o.leaseMs / 3);
  const limit = o.limit ?? 1000;
  let initialDone = false;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let failures = 0;
  /** When the last successful call was sent: the leases hold until at least this + leaseMs. */
  let renewedAt: number | undefined;
  let lapsed = false;
  let seen: { at: number; gestores: GestorVisto[] } | undefined;

  async function scanOnce(): Promise<number> {
    const sentAt = o.clock.now();
    const { pendientes, gestores } = await o.storage.reclamar(o.informe(), o.leaseMs, limit);
    const now = o.clock.now();
    seen = { at: now, gestores };
    // An answer slower than the lease proves nothing about now: the rows may have changed hands since.
    if (now - sentAt >= o.leaseMs) throw new StorageUnavailableError(`ledger answered after ${now - sentAt} ms, past the ${o.leaseMs} ms lease`);
    // The lease lapsed before this answer came (the periodic check had not run yet): another GC
    // may have claimed rows meanwhile, and this listing no longer names them. Forget first, then
    // take up what the listing still gives this GC.
    checkLease();
    renewedAt = Math.max(renewedAt ?? sentAt, sentAt);
    lapsed = false;
    let taken = 0;
    let claimed = 0;
    for (const p of pendientes) {
      if (o.tracker.has(p.op.id)) continue;
      // Its age by the database's clock (the hosts' clocks may differ); a GA of an older version sends only `registrada`.
      const age = p.edadMs ?? now - Date.parse(p.registrada);
      // On the first load every row is ours to resume; later only stale own rows and those just taken over.
      if (initialDone && !p.reclamada && Number.isFinite(age) && age < o.minAgeMs) continue;
      o.tracker.submit(p.op, 'async');
      taken++;
      if (p.reclamada) claimed++;
      o.log.debug({ opId: p.op.id, intentos: p.intentos, reclamada: p.reclamada ?? false }, 'pending op resumed from ledger');
    }
    if (claimed > 0) o.log.info({ claimed }, 'pending ops taken over from a GC whose lease ran out');
    return taken;
  }

  /**
   * Past the lease without a renewal: another GC may own our rows by now. Checked on every tick
   * while it lasts, not once: an async op recorded meanwhile (registrar may work while reclamar
   * does not) is held by its own row's lease for one lease, and dropped once that ends too,
   * rather than re-published under a lease nobody renewed (TaskTracker.dropAsync).
   */
  function checkLease(): void {
    // Never renewed yet (a GA that keeps failing reclamar from the start) counts as lapsed too:
    // async ops recorded meanwhile are held by their own rows' leases only.
    if (renewedAt !== undefined && o.clock.now() - renewedAt < o.leaseMs) return;
    const dropped = o.tracker.dropAsync();
    // Not at a start whose first call is still on its way: nothing was held yet.
    if ((!lapsed && renewedAt !== undefined) || dropped > 0) o.log.warn({ dropped, leaseMs: o.leaseMs }, 'ledger lease not renewed in time: async tasks dropped (another GC may resume them; ours are taken up again once the ledger answers)');
    lapsed = true;
  }
  const leaseTimer = setInterval(checkLease, Math.max(50, Math.min(1000, Math.floor(o.leaseMs / 6))));

  function schedule(ms: number): void {
    if (stopped) return;
    timer = setTimeout(run, ms);
  }

  function run(): void {
    scanOnce().then(
      (taken) => {
        if (!initialDone) o.log.info({ resumed: taken }, 'pending ops loaded from ledger');
        else if (taken > 0) o.log.info({ resumed: taken }, 'untracked pending ops taken up from ledger');
        initialDone = true;
        failures = 0;
        schedule(scanEvery);
      },
      (err: unknown) => {
        failures++;
        const level = err instanceof StorageUnavailableError ? 'warn' : 'error';
        // Only the first failures are worth a line each; the GA may be down for a while.
        if (failures <= 3 || failures % 20 === 0) o.log[level]({ err, failures }, 'could not reach the ledger to renew leases and claim pending ops; retrying');
        schedule(initialDone ? scanEvery : Math.min(scanEvery, 250 * 2 ** Math.min(failures, 5)));
      },
    );
  }

  schedule(0);
  return {
    loaded: () => initialDone,
    scanOnce,
    leaseUntil: () => (renewedAt === undefined ? undefined : renewedAt + o.leaseMs),
    view() {
      const now = o.clock.now();
      const age = seen ? now - seen.at : undefined;
      return {
        gestores: (seen?.gestores ?? []).map((g) => {
          const vistoHaceMs = g.vistoHaceMs + (age ?? 0);
          return { ...g, vistoHaceMs, vivo: vistoHaceMs < o.leaseMs };
        }),
        haceMs: age,
        arriendoVigente: renewedAt !== undefined && now - renewedAt < o.leaseMs,
      };
    },
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      clearInterval(leaseTimer);
    },
  };
}
