/**
 * What stops a storm of the abuse campaign early (scripts/abuso/storm.ts): an attacked
 * process that exits, the time limit, an interrupted campaign; the verdict then fails the
 * run and says why. And how the campaign reads from the kernel whether a server has read
 * what its sockets queued (scripts/abuso/tcp-queues.ts), on /proc/net/tcp text.
 */
import { describe, expect, it } from 'vitest';
import { StormGuard, abortable, describeStop, type Watched } from '../../scripts/abuso/storm.js';
import { verdict } from '../../scripts/abuso/checks.js';
import { parseProcNetTcp, queuesTowards } from '../../scripts/abuso/tcp-queues.js';
import { eventually } from '../harness/eventually.js';

const procs = (): Array<Watched & { up: boolean }> =>
  ['gc', 'ga', 'prestamo-1'].map((nombre, i) => {
    const p = { nombre, pid: 100 + i, up: true, running: () => p.up };
    return p;
  });

describe('abuse storm guard', () => {
  it('stops the storm as soon as a watched process exits, naming it, its pid, the round and when', async () => {
    const ps = procs();
    const g = new StormGuard({ procs: ps, rondas: 3, limiteMs: 60_000, everyMs: 10 }).start();
    try {
      g.round = 2;
      expect(g.signal.aborted).toBe(false);
      const t0 = Date.now();
      ps[0]!.up = false;
      await eventually('storm stopped', () => g.signal.aborted, 2000, { everyMs: 5 });
      expect(Date.now() - t0).toBeLessThan(1000);
      expect(g.stopped).toMatchObject({ motivo: 'caida', proceso: 'gc', pid: 100, ronda: 2, rondas: 3, limiteMs: 60_000 });
      // The first exit is the one reported.
      ps[1]!.up = false;
      g.look();
      expect(g.stopped?.proceso).toBe('gc');
    } finally {
      g.close();
    }
  });

  it('cuts the storm at its time limit and says so', async () => {
    const g = new StormGuard({ procs: procs(), rondas: 2, limiteMs: 200, everyMs: 10 }).start();
    try {
      await eventually('storm cut', () => g.signal.aborted, 3000, { everyMs: 5 });
      expect(g.stopped).toMatchObject({ motivo: 'limite', ronda: 1, rondas: 2, limiteMs: 200 });
      expect(g.stopped!.trasMs).toBeGreaterThanOrEqual(190);
      expect(describeStop(g.stopped!)).toMatch(/^storm cut short: not over after its limit of 0\.2 s, /);
    } finally {
      g.close();
    }
  });

  it('an interrupted campaign stops the storm without blaming it on the system', () => {
    const outer = new AbortController();
    const g = new StormGuard({ procs: procs(), rondas: 1, limiteMs: 60_000, outer: outer.signal }).start();
    try {
      outer.abort();
      expect(g.signal.aborted).toBe(true);
      expect(g.stopped).toBeUndefined();
    } finally {
      g.close();
    }
  });

  it('abortable: a send that never completes is left at once when the storm stops, its later failure ignored', async () => {
    const ac = new AbortController();
    let fail!: (e: Error) => void;
    const stuck = new Promise<string>((_, reject) => (fail = reject));
    const left = abortable(stuck, ac.signal);
    ac.abort();
    await expect(left).resolves.toBeUndefined();
    fail(new Error('socket closed')); // no unhandled rejection
    await expect(abortable(Promise.resolve('ok'), new AbortController().signal)).resolves.toBe('ok');
    await expect(abortable(Promise.reject(new Error('refused')), new AbortController().signal)).rejects.toThrow('refused');
  });

  it('the verdict fails a stopped storm first, with the crash it left', () => {
    const sums = { libros: 'a', prestamos: 'b', operaciones: 'c' };
    const gc = { nombre: 'gc', pid: 100, vivoAntes: true, vivoDespues: false, saludDespues: false, saludTrasMs: null, rssBaseMiB: 80, rssTrasRondasMiB: [], rssMaxMiB: 150, rssFinalMiB: null };
    expect(
      verdict({
        processes: [gc],
        ps: { esperadas: 10, respondidas: 10, sinCodigo: 0, ajenas: 0, internas: 0, crudas: { enviadas: 3, respondidas: 3 } },
        checksumBefore: sums,
        checksumAfter: sums,
        stillServes: false,
        stormStop: { motivo: 'caida', proceso: 'gc', pid: 100, trasMs: 3100, ronda: 1, rondas: 2, limiteMs: 1_120_000 },
      }),
    ).toEqual([
      'storm stopped: gc (pid 100) exited 3.1 s into the storm (round 1 of 2)',
      'gc: CRASHED (not running after the campaign)',
      'gc: /health did not answer 200 within a minute of the campaign',
      'the system no longer serves a real request after the campaign',
    ]);
  });
});

describe('abuse delivery check: kernel queues of our connections to a server', () => {
  // 127.0.0.1:40000 (ours, inode 11) → :5556 (the GC backend), and the GC's end of it; another
  // of ours to :5556 (inode 12) and its end; an actor's connection to :5556 (not ours); a
  // TIME_WAIT one of ours; one of ours to another port; an IPv4-mapped IPv6 server end.
  const header = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';
  const row = (sl: number, local: string, rem: string, st: string, tx: number, rx: number, inode: number) =>
    `  ${sl}: ${local} ${rem} ${st} ${tx.toString(16).toUpperCase().padStart(8, '0')}:${rx.toString(16).toUpperCase().padStart(8, '0')} 00:00000000 00000000     0        0 ${inode} 1 0000000000000000 20 4 30 10 -1\n`;
  const tcp = (ourTx: number, serverRx: number) =>
    header +
    row(0, '0100007F:9C40', '0100007F:15B4', '01', ourTx, 0, 11) +
    row(1, '0100007F:15B4', '0100007F:9C40', '01', 0, serverRx, 21) +
    row(2, '0100007F:9C41', '0100007F:15B4', '01', 0, 0, 12) +
    row(3, '0100007F:15B4', '0100007F:9C41', '01', 0, 0, 22) +
    row(4, '0100007F:9C42', '0100007F:15B4', '01', 5000, 0, 99) +
    row(5, '0100007F:9C43', '0100007F:15B4', '06', 0, 0, 0) +
    row(6, '0100007F:9C44', '0100007F:15B5', '01', 7000, 0, 13);
  const ours = new Set(['11', '12', '13']);

  it('parses addresses, states and both queues; with a port, only its rows', () => {
    const all = parseProcNetTcp(tcp(300, 200));
    expect(all).toHaveLength(7);
    expect(all[0]).toEqual({ local: '0100007F:9C40', remote: '0100007F:15B4', localPort: 40000, remotePort: 5556, state: '01', txQueue: 300, rxQueue: 0, inode: '11' });
    expect(all[1]!.rxQueue).toBe(200);
    expect(parseProcNetTcp(tcp(0, 0), 5557).map((e) => e.inode)).toEqual(['13']);
    const v6 = parseProcNetTcp(header + '   0: 0000000000000000FFFF00000100007F:15B4 0000000000000000FFFF00000100007F:9C40 01 00000000:00000010 00:00000000 00000000     0        0 31 1\n');
    expect(v6[0]).toMatchObject({ local: '0100007F:15B4', remote: '0100007F:9C40', rxQueue: 16 });
  });

  it('counts only our established connections to the port, and what they and their server ends still hold', () => {
    expect(queuesTowards(parseProcNetTcp(tcp(0, 0)), ours, 5556)).toEqual({ conexiones: 2, bytesSinLeer: 0 });
    expect(queuesTowards(parseProcNetTcp(tcp(300, 0)), ours, 5556)).toEqual({ conexiones: 2, bytesSinLeer: 300 });
    expect(queuesTowards(parseProcNetTcp(tcp(300, 200)), ours, 5556)).toEqual({ conexiones: 2, bytesSinLeer: 500 });
    expect(queuesTowards(parseProcNetTcp(tcp(0, 0)), ours, 5557)).toEqual({ conexiones: 1, bytesSinLeer: 7000 });
  });
});
