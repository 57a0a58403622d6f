/**
 * Storage-host kill on real-network test hosts (see test/harness/netns-drill.ts):
 * as root, pc1/pc2/pc3 in network namespaces on a bridge with addresses from
 * 198.18.0.0/24 (pc1 = PostgreSQL primary + GA primary, pc2 = standby + GA
 * backup, pc3 = GC + actors; the PS load runs here, through the bridge);
 * otherwise the loopback two-hosts topology, said on stdout. Sync replication,
 * 5 PS of load: pc1's PostgreSQL primary and GA primary die together, pc2's GA
 * promotes its standby by itself; nothing acknowledged is lost, nothing is
 * applied twice, the stock invariant holds. The namespaces, veths and bridge
 * are deleted in afterAll and, failing that, when the process exits.
 */
import { describe, expect, it } from 'vitest';
import { drill, expectSound } from '../harness/drill.js';
import { netDrillSuite } from '../harness/netns-drill.js';

const suite = netDrillSuite();

describe('drills on real-network test hosts, sync replication', () => {
  it('storage-host kill: pc1 PostgreSQL primary + GA primary die together; pc2 promotes, nothing acknowledged lost', async () => {
    await suite.withSystem(async (sys) => {
      const net = suite.net();
      if (net) {
        expect(sys.gcEndpoint).toBe(`tcp://${net.hosts.pc3!.address}:5555`);
        expect(sys.pgNodes?.primary.info.host).toBe(net.hosts.pc1!.address);
      }
      const d = await drill(sys, 'almacenamiento-pc1', 'sync', `nn-alm-${suite.mode()}`);
      process.stdout.write(`[${suite.mode()}] storage-host kill: recovered in ${d.report.recuperacionMs} ms (takeover ${d.report.tomaDeControlMs} ms)\n`);
      expect(d.report.replicacionInicio).toBe('sync');
      expectSound(d.report);
      expect(d.report.primarioFinal).toMatchObject({ host: 'pc2', timeline: 2 });
    });
  }, 45_000);
});
