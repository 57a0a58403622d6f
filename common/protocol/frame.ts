/**
 * How a JSON message travels in one ZeroMQ frame, and the one reader of such
 * frames. Every codec of the system reads its frames here — PS requests
 * (ps-gc.ts), GA requests (ga-request.ts), GA replies, GC ⇄ actor messages and
 * peer heartbeats (internal.ts), GC replies read by a PS (reply.ts) — so the
 * four checks every frame passes are written once, in this order:
 *   1. size: present, not empty, not above the codec's bound;
 *   2. text and JSON: valid UTF-8 (a bad byte is refused, never turned into U+FFFD: a
 *      Latin-1 title would otherwise be looked up, or echoed, altered), then it parses;
 *   3. validate: each message against the codec's schema (a JSON array is a batch
 *      of messages when the codec allows batches, 1 to MAX_BATCH_ITEMS of them);
 *   4. salvage: a message that fails its schema still yields what identifies it
 *      (its `ref`, its `id`), so the refusal can name whom it concerns.
 * Each codec turns the outcome into its own reply (codes and Spanish messages of
 * its wire). Pure: no sockets, never throws.
 *
 * Batches: between the system's own processes a frame carries one message (a JSON
 * object) or a batch (a JSON array of them): what a sender had queued for the same
 * peer at once goes as one ZeroMQ message, so one wake of each side handles many
 * (the per-message cost is the wake, not the JSON). Order within a batch is the
 * send order. The PS⇄GC protocol is not batched: one request, one reply.
 */
import { isUtf8 } from 'node:buffer';
import { z } from './zod.js';

/** A message that is a JSON object (not an array, not a scalar): its fields are read by the codec. */
export const plainObject = z.custom<Record<string, unknown>>((o) => !!o && typeof o === 'object' && !Array.isArray(o));

export const MAX_BATCH_ITEMS = 64;
/** Largest batch frame a sender builds (receivers accept at least this much). */
export const MAX_BATCH_BYTES = 128 * 1024;

/** One message's body as it is, several as a JSON array (each body is already a JSON object). */
export function encodeBatch(bodies: readonly string[]): string {
  return bodies.length === 1 ? bodies[0]! : `[${bodies.join(',')}]`;
}

/** What is wrong with a frame as a whole (no message of it is read). */
export type FrameDefect =
  | { kind: 'missing' }
  | { kind: 'empty' }
  | { kind: 'too-big'; bytes: number }
  | { kind: 'not-utf8' }
  | { kind: 'not-json' }
  | { kind: 'batch-size'; items: number };


/** One message of a frame: valid, or refused with the schema's complaint and what could be salvaged. */
export type FrameItem<T, S> =
  | { ok: true; value: T }
  | { ok: false; defect: FrameDefect }
  | { ok: false; defect?: undefined; raw: unknown; error: z.ZodError; salvaged: S | undefined };

export interface FrameRules<T, S> {
  schema: z.ZodType<T>;
  /** Larger frames are refused unread. */
  maxBytes: number;
  /** A JSON array is a batch of messages (1 to MAX_BATCH_ITEMS), each checked alone. */
  batch?: boolean;
  /** What a refused message still tells (its correlation id), so its refusal can name it. */
  salvage?: (raw: unknown) => S | undefined;
  /** The size that was sent when `frame` is only its start (the HTTP gateway stops reading an oversized body). */
  bytes?: number;
}

/**
 * The messages of one frame, each valid or refused. A defect of the whole frame
 * (missing, empty, too big, not UTF-8, not JSON, a batch of 0 or more than MAX_BATCH_ITEMS)
 * is a single refused item.
 */
export function readFrame<T, S = never>(frame: Buffer | string | undefined, rules: FrameRules<T, S>): FrameItem<T, S>[] {
  const defect = (d: FrameDefect): FrameItem<T, S>[] => [{ ok: false, defect: d }];
  if (frame === undefined) return defect({ kind: 'missing' });
  const size = rules.bytes ?? (typeof frame === 'string' ? Buffer.byteLength(frame) : frame.length);
  if (size === 0) return defect({ kind: 'empty' });
  if (size > rules.maxBytes) return defect({ kind: 'too-big', bytes: size });
  // Checked before decoding: toString would turn a bad byte into U+FFFD (isUtf8 is simdutf's, cheap on the hot path).
  if (typeof frame !== 'string' && !isUtf8(frame)) return defect({ kind: 'not-utf8' });
  const text = typeof frame === 'string' ? frame : frame.toString('utf8');
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch {
    return defect({ kind: 'not-json' });
  }
  const list = rules.batch && Array.isArray(obj) ? obj : [obj];
  if (rules.batch && (list.length === 0 || list.length > MAX_BATCH_ITEMS)) return defect({ kind: 'batch-size', items: list.length });
  return list.map((raw): FrameItem<T, S> => {
    const r = rules.schema.safeParse(raw);
    return r.success ? { ok: true, value: r.data } : { ok: false, raw, error: r.error, salvaged: rules.salvage?.(raw) };
  });
}

/**
 * The messages of a frame (one, or a batch), each checked with `schema`: the valid
 * ones, and how many items were not. A frame defect yields none, counted as one
 * malformed item (undefined); an invalid item is returned as it came, so a caller
 * can still tell whom it concerned.
 */
export function parseBatch<T>(schema: z.ZodType<T>, frame: Buffer | undefined, maxBytes: number): { items: T[]; malformed: unknown[] } {
  const items: T[] = [];
  const malformed: unknown[] = [];
  for (const m of readFrame(frame, { schema, maxBytes, batch: true })) {
    if (m.ok) items.push(m.value);
    else malformed.push(m.defect ? undefined : m.raw);
  }
  return { items, malformed };
}

/** One JSON message checked with a schema; undefined (never throws) on any defect. */
export function parseFrame<T>(schema: z.ZodType<T>, frame: Buffer | undefined, maxBytes = 1024 * 1024): T | undefined {
  const [m] = readFrame(frame, { schema, maxBytes });
  return m?.ok ? m.value : undefined;
}
