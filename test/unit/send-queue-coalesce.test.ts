/**
 * SendQueue's coalescing as a pure unit (a sink records what it is handed): what
 * one event-loop turn queued for the same address (the frames before the body)
 * goes as one batch message, bodies in order; other addresses get their own; the
 * batch bounds split big batches; a lone message is sent as it is.
 */
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { SendQueue, type FrameSink } from '../../common/send-queue.js';
import { MAX_BATCH_BYTES, MAX_BATCH_ITEMS, parseBatch } from '../../common/protocol/frame.js';
import { mensajeActorSchema } from '../../common/protocol/internal.js';

const log = pino({ level: 'silent' });

class Sink implements FrameSink {
  readonly sent: string[][] = [];
  async send(frames: Array<Buffer | string>): Promise<void> {
    this.sent.push(frames.map(String));
  }
}

const msg = (n: number) => JSON.stringify({ n });

describe('SendQueue coalescing', () => {
  it('packs the bodies one turn queued for the same address, in order; other addresses apart', async () => {
    const sink = new Sink();
    const q = new SendQueue(sink, log, 't', { coalesce: true });
    q.send(['a', msg(1)]);
    q.send(['b', msg(2)]);
    q.send(['a', msg(3)]);
    q.send(['a', msg(4)]);
    await q.drain();
    expect(sink.sent).toEqual([
      ['a', `[${msg(1)},${msg(3)},${msg(4)}]`],
      ['b', msg(2)],
    ]);
    expect(q.sent).toEqual({ mensajes: 4, envios: 2 });
  });

  it('routing ids are binary: equal bytes coalesce, different bytes do not', async () => {
    const sink = new Sink();
    const q = new SendQueue(sink, log, 't', { coalesce: true });
    q.send([Buffer.from([0, 1, 2]), msg(1)]);
    q.send([Buffer.from([0, 1, 3]), msg(2)]);
    q.send([Buffer.from([0, 1, 2]), msg(3)]);
    await q.drain();
    expect(sink.sent.map((f) => f[1])).toEqual([`[${msg(1)},${msg(3)}]`, msg(2)]);
  });

  it('a message alone is sent as it is, and messages of later turns go in later messages', async () => {
    const sink = new Sink();
    const q = new SendQueue(sink, log, 't', { coalesce: true });
    q.send([msg(1)]);
    await q.drain();
    q.send([msg(2)]);
    await q.drain();
    expect(sink.sent).toEqual([[msg(1)], [msg(2)]]);
  });

  it('splits at MAX_BATCH_ITEMS and MAX_BATCH_BYTES, and every batch parses back', async () => {
    const sink = new Sink();
    const q = new SendQueue(sink, log, 't', { coalesce: true });
    for (let i = 0; i < MAX_BATCH_ITEMS + 5; i++) q.send([JSON.stringify({ t: 'adios', actorId: `a${i}`, tipo: 'prestamo' })]);
    await q.drain();
    expect(sink.sent.map((f) => parseBatch(mensajeActorSchema, Buffer.from(f[0]!), MAX_BATCH_BYTES).items.length)).toEqual([MAX_BATCH_ITEMS, 5]);

    const big = new Sink();
    const qb = new SendQueue(big, log, 't', { coalesce: true });
    const body = JSON.stringify({ x: 'y'.repeat(MAX_BATCH_BYTES / 3) });
    for (let i = 0; i < 4; i++) qb.send([body]);
    await qb.drain();
    expect(big.sent.length).toBeGreaterThan(1);
    for (const [f] of big.sent) expect(f!.length).toBeLessThanOrEqual(MAX_BATCH_BYTES);
    expect(big.sent.flatMap(([f]) => (f!.startsWith('[') ? (JSON.parse(f!) as unknown[]) : [JSON.parse(f!)]))).toHaveLength(4);
  });

  it('counts the brackets and commas: a batch never exceeds MAX_BATCH_BYTES by a byte', async () => {
    const sink = new Sink();
    const q = new SendQueue(sink, log, 't', { coalesce: true });
    // Two bodies plus a comma fit exactly; with `[` and `]` the frame would be one byte over.
    const size = MAX_BATCH_BYTES / 2 - 1;
    const body = JSON.stringify({ x: 'y'.repeat(size - 8) });
    expect(body.length).toBe(size);
    q.send([body]);
    q.send([body]);
    await q.drain();
    expect(sink.sent.map(([f]) => Buffer.byteLength(f!))).toEqual([size, size]);
  });

  it('bounds a batch in bytes, not characters: multi-byte text never makes a frame the receiver refuses', async () => {
    const sink = new Sink();
    const q = new SendQueue(sink, log, 't', { coalesce: true });
    // 3 bytes per character: 64 of these are ~200 KB but only ~70 K characters.
    const body = JSON.stringify({ x: '漢'.repeat(1000) });
    for (let i = 0; i < MAX_BATCH_ITEMS; i++) q.send([body]);
    await q.drain();
    expect(sink.sent.length).toBeGreaterThan(1);
    for (const [f] of sink.sent) expect(Buffer.byteLength(f!)).toBeLessThanOrEqual(MAX_BATCH_BYTES);
    expect(sink.sent.flatMap(([f]) => JSON.parse(f!) as unknown[])).toHaveLength(MAX_BATCH_ITEMS);
  });

  it('a message that replaces a waiting one keeps working: only the latest heartbeat joins the batch', async () => {
    const sink = new Sink();
    const q = new SendQueue(sink, log, 't', { coalesce: true });
    q.send([msg(1)]);
    q.send([JSON.stringify({ hb: 1 })], { replaces: 'latido' });
    q.send([JSON.stringify({ hb: 2 })], { replaces: 'latido' });
    q.send([msg(3)]);
    await q.drain();
    expect(sink.sent).toEqual([[`[${msg(1)},{"hb":2},${msg(3)}]`]]);
  });

  it('without coalesce every message goes on its own', async () => {
    const sink = new Sink();
    const q = new SendQueue(sink, log, 't');
    q.send(['a', msg(1)]);
    q.send(['a', msg(2)]);
    await q.drain();
    expect(sink.sent).toEqual([['a', msg(1)], ['a', msg(2)]]);
  });
});

describe('parseBatch', () => {
  const schema = mensajeActorSchema;
  const ok = { t: 'adios', actorId: 'a1', tipo: 'prestamo' };
  it('one message, a batch, bad items apart, and frames that yield nothing', () => {
    expect(parseBatch(schema, Buffer.from(JSON.stringify(ok)), 1000)).toEqual({ items: [ok], malformed: [] });
    expect(parseBatch(schema, Buffer.from(JSON.stringify([ok, { t: 'x' }, ok])), 1000)).toEqual({ items: [ok, ok], malformed: [{ t: 'x' }] });
    for (const bad of ['', 'no json', '[]', JSON.stringify(Array(MAX_BATCH_ITEMS + 1).fill(ok))]) {
      expect(parseBatch(schema, Buffer.from(bad), 1_000_000)).toEqual({ items: [], malformed: [undefined] });
    }
    expect(parseBatch(schema, Buffer.from(JSON.stringify(ok)), 10)).toEqual({ items: [], malformed: [undefined] });
  });
});
