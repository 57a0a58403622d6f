/**
 * pc1↔pc2 link cut on real-network test hosts (see test/harness/netns-drill.ts):
 * `ip link set <pc1's link> down` isolates pc1 (PostgreSQL primary + GA
 * primary) from pc2 and pc3 under load; pc2's GA must take over by promoting
 * its standby (peer heartbeat lost + client requests); the link comes back and
 * pc1's GA must see the higher timeline and stay out of ACTIVE (FENCED, then
 * PASSIVE once its PostgreSQL rejoined as a standby): exactly one ACTIVE GA,
 * 0 acknowledged ops lost (sync replication), 0 double effects, invariant holds.
 * Not root: loopback fallback, the cut simulated by freezing pc1's storage side.
 *
 * This drill found a split brain: after the heal the peer heartbeat took seconds
 * to flow again (TCP retransmission backoff) while clients reconnected at once,
 * and pc1's GA, still ACTIVE, acknowledged ~130-200 writes on the stale timeline.
 * Fixed in role/controller.ts (verifyPeerNode) and role/machine.ts (no yielding
 * to a peer on an older timeline).
 */
import { describe, expect, it } from 'vitest';
import { drill, expectSound } from '../harness/drill.js';
import { netDrillSuite } from '../harness/netns-drill.js';

const suite = netDrillSuite();

describe('link cut on real-network test hosts, sync replication', () => {
  it('link cut: pc1 isolated then back; pc2 takes over, pc1 GA fenced/passive, exactly one ACTIVE GA', async () => {
    await suite.withSystem(async (sys) => {
      const d = await drill(sys, suite.linkCut(), 'sync', `nn-cut-${suite.mode()}`);
      const r = suite.linkReturn.value;
      process.stdout.write(
        `[${suite.mode()}] link cut: recovered in ${d.report.recuperacionMs} ms (takeover ${d.report.tomaDeControlMs} ms); after the return: two ACTIVE until +${r?.dobleActivoHastaMs ?? 0} ms, settled at +${r?.asentadoMs} ms, pc1 GA ${r?.estadoAlVolver} → ${r?.estadoFinal}, PostgreSQL ${r?.pgRejoin}, pc1 writes after the return ${r?.escriturasTrasVolver}; ACTIVE samples ${r?.activeSamples.join(' ')}\n`,
      );
      expect(d.report.replicacionInicio).toBe('sync');
      expectSound(d.report);
      expect(d.report.primarioFinal).toMatchObject({ host: 'pc2', timeline: 2 });
      expect(r).toBeDefined();
      expect(['FENCED', 'PASSIVE']).toContain(r!.estadoAlVolver);
      expect(r!.estadoFinal).toBe('PASSIVE');
      // The returning GA accepts nothing, and once the pair settled there is exactly one ACTIVE GA, pc2's.
      expect(r!.escriturasTrasVolver).toBe(0);
      expect(r!.dosActivosTrasAsentar).toBe(0);
      expect(r!.ultimaMuestra).toEqual({ pc1: 'PASSIVE', pc2: 'ACTIVE' });
    });
  }, 45_000);
});
