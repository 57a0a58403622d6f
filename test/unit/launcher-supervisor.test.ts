/** npm start's supervisor (scripts/launcher/supervisor.ts) with fake processes and a fake clock. */
import { describe, expect, it } from 'vitest';
import { oneLine, Supervisor, type Supervised } from '../../scripts/launcher/supervisor.js';

class Fake implements Supervised {
  running = true;
  restarts = 0;
  /** The next restart fails (exits during start-up). */
  failNext = false;
  constructor(readonly spec: { name: string }) {}
  async restart(): Promise<void> {
    this.restarts++;
    if (this.failNext) {
      this.failNext = false;
      throw new Error('gc-pc1 exited during start-up (code 1); see x.log\nlast lines…');
    }
    this.running = true;
  }
}

const settle = () => new Promise((r) => setImmediate(r));

describe('npm start supervisor', () => {
  it('restarts an exited process after 1 s, doubling while it keeps dying young, and leaves running ones alone', async () => {
    let t = 0;
    const said: string[] = [];
    const gc = new Fake({ name: 'gc-pc1' });
    const actor = new Fake({ name: 'actor-1' });
    const s = new Supervisor([gc, actor], { say: (l) => said.push(l), now: () => t });
    gc.running = false;
    s.tick();
    expect(said).toEqual(['AVISO: gc-pc1 se reinicia en 1 s']);
    t = 999;
    s.tick();
    expect(gc.restarts).toBe(0);
    t = 1000;
    s.tick();
    await settle();
    expect(gc.restarts).toBe(1);
    expect(gc.running).toBe(true);
    // Dies again within 30 s of that start: 2 s this time; a failed start counts as dying too.
    t = 5000;
    gc.running = false;
    s.tick();
    expect(said.at(-1)).toBe('AVISO: gc-pc1 se reinicia en 2 s');
    gc.failNext = true;
    t = 7000;
    s.tick();
    await settle();
    expect(said.at(-1)).toBe('AVISO: gc-pc1 no arrancó: gc-pc1 exited during start-up (code 1); see x.log last lines…');
    s.tick();
    expect(said.at(-1)).toBe('AVISO: gc-pc1 se reinicia en 4 s');
    expect(actor.restarts).toBe(0);
  });

  it('a process up for 30 s starts over from 1 s when it next exits', async () => {
    let t = 0;
    const said: string[] = [];
    const ga = new Fake({ name: 'ga-pc1' });
    const s = new Supervisor([ga], { say: (l) => said.push(l), now: () => t });
    for (const at of [0, 1000]) {
      t = at;
      ga.running = at === 0 ? false : ga.running;
      s.tick();
      await settle();
    }
    expect(ga.restarts).toBe(1);
    t = 40_000;
    s.tick(); // seen up long enough
    ga.running = false;
    s.tick();
    expect(said.at(-1)).toBe('AVISO: ga-pc1 se reinicia en 1 s');
  });

  it('a failed start says the log\'s last line, where the cause is, not only "see the log"', () => {
    const err = 'gc-pc1 exited during start-up (code 1); see /x/gc-pc1.log; last lines:\n{"level":30,"msg":"GC starting"}\n{"level":60,"msg":"cannot bind","err":{"message":"Address already in use"}}\n';
    expect(oneLine(err)).toBe('gc-pc1 exited during start-up (code 1); see /x/gc-pc1.log; last lines: cannot bind: Address already in use');
    expect(oneLine('one line only')).toBe('one line only');
    expect(oneLine(`${'x'.repeat(300)}\nplain tail`)).toMatch(/^x{159}… plain tail$/);
  });
});
