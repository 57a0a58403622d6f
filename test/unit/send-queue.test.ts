/**
 * SendQueue as a pure unit: a fake sink stands in for the zeromq socket (whose send
 * can throw synchronously: EBADF on a closed socket, EBUSY). Real-socket behaviour
 * is covered by test/integration/send-queue-actor-outage.test.ts and the GC tests.
 */
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { SendQueue, type FrameSink } from '../../common/send-queue.js';
import { eventually } from '../harness/eventually.js';

const log = pino({ level: 'silent' });

/** Records what it was handed; `gate` holds every send until released. */
class FakeSink implements FrameSink {
  readonly sent: string[] = [];
  throwSyncOnce = false;
  private release: (() => void) | undefined;
  gated = false;

  send(frames: Array<Buffer | string>): Promise<void> {
    if (this.throwSyncOnce) {
      this.throwSyncOnce = false;
      throw Object.assign(new Error('Socket is closed'), { code: 'EBADF' });
    }
    const record = () => void this.sent.push(String(frames[0]));
    if (!this.gated) {
      record();
      return Promise.resolve();
    }
    return new Promise((r) => {
      this.release = () => {
        record();
        r();
      };
    });
  }

  open(): void {
    this.gated = false;
    this.release?.();
  }
}

describe('SendQueue', () => {
  it('keeps sending after a send that threw synchronously', async () => {
    const sink = new FakeSink();
    const q = new SendQueue(sink, log, 'test');
    sink.throwSyncOnce = true;
    q.send(['lost']);
    // Polled with timers, not drain(): with the old bug drain() spun on a settled promise forever.
    await eventually('the throwing send', () => !sink.throwSyncOnce, 1000);
    q.send(['a']);
    q.send(['b']);
    await eventually('later sends', () => sink.sent.length === 2, 1000);
    expect(sink.sent).toEqual(['a', 'b']);
    expect(q.depth).toBe(0);
    await q.drain();
  });

  it('sends in order, one at a time, and drain() waits for them', async () => {
    const sink = new FakeSink();
    sink.gated = true;
    const q = new SendQueue(sink, log, 'test');
    for (const m of ['1', '2', '3']) q.send([m]);
    const drained = q.drain();
    await new Promise((r) => setTimeout(r, 20));
    expect(sink.sent).toEqual([]);
    expect(q.depth).toBe(2); // one handed over (held by the sink), two waiting
    sink.open();
    await drained;
    expect(sink.sent).toEqual(['1', '2', '3']);
  });

  it('keeps one waiting message per `replaces` key, the newest, in the older one\'s place', async () => {
    const sink = new FakeSink();
    sink.gated = true;
    const q = new SendQueue(sink, log, 'test');
    q.send(['hb-0'], { replaces: 'latido' }); // handed over at once, held by the sink
    await new Promise((r) => setTimeout(r, 5));
    q.send(['hb-1'], { replaces: 'latido' });
    q.send(['result-1']);
    for (let i = 2; i <= 50; i++) q.send([`hb-${i}`], { replaces: 'latido' });
    q.send(['result-2']);
    expect(q.depth).toBe(3);
    sink.open();
    await q.drain();
    expect(sink.sent).toEqual(['hb-0', 'hb-50', 'result-1', 'result-2']);
    // Once handed over, a key may wait again.
    sink.gated = true;
    q.send(['hb-a'], { replaces: 'latido' });
    await new Promise((r) => setTimeout(r, 5));
    q.send(['hb-b'], { replaces: 'latido' });
    expect(q.depth).toBe(1);
    sink.open();
    await q.drain();
    expect(sink.sent.slice(-2)).toEqual(['hb-a', 'hb-b']);
  });

  it('bounds the queue with maxDepth, dropping the oldest and counting it', async () => {
    const sink = new FakeSink();
    sink.gated = true;
    const q = new SendQueue(sink, log, 'test', { maxDepth: 3 });
    q.send(['m0']);
    await new Promise((r) => setTimeout(r, 5)); // m0 handed over
    q.send(['hb'], { replaces: 'latido' });
    for (let i = 1; i <= 5; i++) q.send([`m${i}`]);
    expect(q.depth).toBe(3);
    expect(q.dropped).toBe(3);
    q.send(['hb2'], { replaces: 'latido' }); // the dropped heartbeat no longer holds its key
    expect(q.depth).toBe(3);
    sink.open();
    await q.drain();
    expect(sink.sent).toEqual(['m0', 'm4', 'm5', 'hb2']);
  });

  it('drain(timeout) gives up after the timeout, and leaves no timer behind when the queue drains first', async () => {
    const sink = new FakeSink();
    sink.gated = true;
    const q = new SendQueue(sink, log, 'test');
    q.send(['stuck']);
    await q.drain(30);
    expect(sink.sent).toEqual([]);
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    const drained = q.drain(60_000);
    expect(timers()).toBe(before + 1);
    sink.open();
    await drained;
    expect(sink.sent).toEqual(['stuck']);
    expect(timers()).toBe(before); // a close() must not keep the process alive for the timeout
  });
});
