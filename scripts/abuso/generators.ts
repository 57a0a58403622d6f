/**
 * The abuse campaign's hostile messages, as pure functions of (seed, target,
 * index, context): no sockets, no clock. Each target gets the families the
 * issue asks for, in proportions that keep every family well represented:
 * random bytes, truncated and oversized frames, wrong frame counts, valid JSON
 * with wrong types, huge numbers, deep nesting, unicode edge cases, replayed and
 * forged internal messages, and raw bytes on a fresh TCP connection (before or
 * instead of the ZMTP handshake).
 *
 * What none of them is, in the open phase (CURVE off): a NEW valid write. Over
 * plain ZeroMQ anyone who reaches a GA may write (that is what CURVE is for), and
 * over the PS port a valid request is a real user's; the database check would then
 * measure nothing. New forged writes are thrown at the internal sockets in the
 * secure phase, where they must be refused at the handshake (see campaign.ts).
 */
import { rngFor, type Rng } from './prng.js';
import { topicFor } from '../../common/protocol/internal.js';

export const TARGETS = ['ps', 'backend', 'pub', 'ga', 'http'] as const;
export type Target = (typeof TARGETS)[number];

export interface Hostile {
  target: Target;
  kind: string;
  /** ZeroMQ frames of one message (ps, backend, pub, ga; pub frames are subscription messages). */
  frames?: Buffer[];
  /** Bytes written on a fresh TCP connection, then closed (ZMTP garbage; raw HTTP). */
  raw?: Buffer;
  /** A structured HTTP request on a kept-alive connection. */
  http?: { port: HttpPort; method: string; path: string; headers: Record<string, string>; body?: Buffer };
  /**
   * Sent on a connection of its own: the server drops a connection whose message is
   * over its size limit (libzmq maxMessageSize), with everything queued on it.
   */
  throwaway?: boolean;
}

export type HttpPort = 'gc' | 'ga' | 'actor';

/** What the generators know about the system under attack. */
export interface Context {
  isbns: readonly string[];
  /** Real actors (tipo, actorId): forged messages in their name. */
  actors: ReadonlyArray<{ tipo: string; actorId: string }>;
  /** PS requests the setup really made (JSON text, with their clave): replays. */
  psReplays: readonly string[];
  /** The ops of those requests as the GC hands them to the GA (operacion, isbn, usuario, id = clave). */
  opReplays: ReadonlyArray<{ operacion: string; isbn: string; usuario: string; id: string }>;
  /** Include NEW forged writes (secure phase only: the handshake must stop them). */
  forgedWrites: boolean;
  limits: { psRequestBytes: number; psTransportBytes: number; actorFrameBytes: number; gaTransportBytes: number; subscriptionBytes: number };
}

const TARGET_STREAM: Record<Target, number> = { ps: 1, backend: 2, pub: 3, ga: 4, http: 5 };

export function generate(target: Target, seed: number, index: number, ctx: Context): Hostile {
  const rng = rngFor(seed, TARGET_STREAM[target], index);
  switch (target) {
    case 'ps':
      return psMessage(rng, ctx);
    case 'backend':
      return backendMessage(rng, ctx);
    case 'pub':
      return pubMessage(rng, ctx);
    case 'ga':
      return gaMessage(rng, ctx);
    case 'http':
      return httpMessage(rng, ctx);
  }
}

// ---------------------------------------------------------------- building blocks

const b = (s: string | Buffer) => (Buffer.isBuffer(s) ? s : Buffer.from(s, 'utf8'));
const json = (v: unknown) => b(JSON.stringify(v));

/** Strings that break naive code: control characters, lone surrogates, RTL overrides, BOMs, normalisation traps, long and empty. */
function nastyString(rng: Rng): string {
  return rng.pick<() => string>([
    () => '',
    () => '\u0000',
    () => 'a\u0000b',
    () => '\ud800',
    () => '\udfff\ud800',
    () => '\u202e' + 'gnirts',
    () => '\ufeff978-1',
    () => 'e\u0301'.repeat(rng.int(1, 50)),
    () => '\u{1F4DA}'.repeat(rng.int(1, 200)),
    () => '\u200b\u200c\u200d\u2060',
    () => 'Ω≈ç√∫˜µ≤≥÷',
    () => '\uffff\ufffe',
    () => '\r\n\t\v\f',
    () => "'; DROP TABLE libros;--",
    () => '{"$ne":1}',
    () => '../../etc/passwd',
    () => '%00%ff%c0%af',
    () => 'x'.repeat(rng.int(33, 5000)),
    () => String.fromCharCode(...Array.from({ length: rng.int(1, 64) }, () => rng.int(0, 0xffff))),
  ])();
}

/** Numbers JSON allows and code trips on. */
function hugeNumberText(rng: Rng): string {
  return rng.pick(['1e400', '-1e400', '9007199254740993', '-9223372036854775809', '18446744073709551616', '1e-400', '-0', '0.000000000000000000000000001', '123456789'.repeat(rng.int(2, 200)), '1E+308', '4.9e-324']);
}

/** A JSON text nested `depth` levels deep (arrays or objects). */
function deepJson(depth: number, object: boolean): string {
  return object ? '{"a":'.repeat(depth) + '1' + '}'.repeat(depth) : '['.repeat(depth) + ']'.repeat(depth);
}

/**
 * A value of a wrong type for a string field: never a string, never null (null means
 * "absent", and a string may happen to be valid: either could turn a hostile message
 * into a real request).
 */
function wrongValue(rng: Rng): unknown {
  return rng.pick<() => unknown>([
    () => true,
    () => 0,
    () => -1,
    () => 1.5,
    () => [],
    () => ['978-1'],
    () => ({}),
    () => ({ $gt: '' }),
    () => [nastyString(rng)],
    () => Number.MAX_SAFE_INTEGER,
  ])();
}

/** Random bytes, sometimes a valid UTF-8 prefix or an invalid sequence. */
function randomBytes(rng: Rng, max: number): Buffer {
  return rng.pick<() => Buffer>([
    () => rng.bytes(rng.int(1, max)),
    () => Buffer.from([0xff, 0xfe, 0xfd]),
    () => Buffer.from([0xc0, 0xaf]), // overlong '/'
    () => Buffer.from([0xed, 0xa0, 0x80]), // encoded surrogate
    () => Buffer.concat([b('{"operacion":"'), rng.bytes(rng.int(1, 64)), b('"}')]),
  ])();
}

function truncated(text: string, rng: Rng): Buffer {
  const bytes = b(text);
  return bytes.subarray(0, rng.int(0, Math.max(0, bytes.length - 1)));
}

/** Raw bytes on a fresh TCP connection to a ZeroMQ port: no handshake, a broken greeting, a frame declaring exabytes. */
function zmtpGarbage(rng: Rng): Buffer {
  const greeting = Buffer.alloc(64);
  greeting[0] = 0xff;
  greeting[9] = 0x7f;
  greeting[10] = 3;
  greeting[11] = 0;
  return rng.pick<() => Buffer>([
    () => rng.bytes(rng.int(1, 512)),
    () => greeting.subarray(0, rng.int(1, 63)),
    () => Buffer.concat([greeting.subarray(0, 12), b('CURVE'.padEnd(20, '\0')), Buffer.alloc(32)]),
    () => Buffer.concat([greeting.subarray(0, 12), b('NOPE'.padEnd(20, '\0')), Buffer.alloc(32)]),
    // A NULL greeting, then a long frame whose declared size is 2^62 bytes.
    () => Buffer.concat([greeting.subarray(0, 12), b('NULL'.padEnd(20, '\0')), Buffer.alloc(32), Buffer.from([0x02, 0x40, 0, 0, 0, 0, 0, 0, 0])]),
    () => Buffer.concat([greeting.subarray(0, 12), b('NULL'.padEnd(20, '\0')), Buffer.alloc(32), Buffer.from([0x04, 0x29]), b('\x05READY'), rng.bytes(rng.int(0, 64))]),
  ])();
}

// ---------------------------------------------------------------- PS port (GC frontend)

const WRITES = ['prestamo', 'devolucion', 'renovacion'];
/** Read-only or unknown operations: whatever a mutation makes of such a request, it writes nothing. */
const HARMLESS = ['consulta', 'estado', 'reservar', 'Consulta', 'ESTADO', 'consúlta'];

function psMessage(rng: Rng, ctx: Context): Hostile {
  const isbn = () => (rng.chance(0.5) ? rng.pick(ctx.isbns) : `978-${rng.int(0, 99999)}`);
  // Field-level fuzzing rides on harmless operations; writes are fuzzed by 'write-invalid', invalid by construction.
  const base = () => ({ operacion: rng.pick(HARMLESS), isbn: isbn(), usuario: `u${rng.int(0, 1e6)}` });
  const kind = rng.weighted<string>([
    [12, 'random-bytes'],
    [8, 'truncated'],
    [5, 'oversized'],
    [0.05, 'over-transport-limit'],
    [8, 'wrong-frame-count'],
    [2, 'empty'],
    [14, 'wrong-types'],
    [6, 'huge-numbers'],
    [5, 'deep-nesting'],
    [12, 'unicode'],
    [8, 'unknown-fields'],
    [10, 'write-invalid'],
    [10, 'read-only'],
    [6, 'replay'],
    [4, 'replay-altered'],
  ]);
  const m = (frames: Buffer[], extra: Partial<Hostile> = {}): Hostile => ({ target: 'ps', kind, frames, ...extra });
  switch (kind) {
    case 'random-bytes':
      return m([randomBytes(rng, 2048)]);
    case 'truncated':
      return m([truncated(JSON.stringify({ ...base(), clave: `abuso-${rng.int(0, 1e9)}` }), rng)]);
    case 'oversized': {
      const pad = 'x'.repeat(rng.int(ctx.limits.psRequestBytes, 8 * ctx.limits.psRequestBytes));
      return m([json({ ...base(), titulo: pad })]);
    }
    case 'over-transport-limit':
      return m([Buffer.alloc(ctx.limits.psTransportBytes + rng.int(1, 4096), 0x7b)], { throwaway: true });
    case 'wrong-frame-count': {
      const n = rng.int(2, 6);
      return m(Array.from({ length: n }, (_, i) => (i === n - 1 || rng.chance(0.5) ? json(base()) : rng.chance(0.5) ? Buffer.alloc(0) : randomBytes(rng, 64))));
    }
    case 'empty':
      return m([Buffer.alloc(0)]);
    case 'wrong-types': {
      const o: Record<string, unknown> = base();
      const field = rng.pick(['operacion', 'isbn', 'usuario', 'id', 'clave', 'sede', 'titulo']);
      o[field] = wrongValue(rng);
      return m([rng.chance(0.1) ? json(rng.pick([[o], 'prestamo', 42, null, true])) : json(o)]);
    }
    case 'huge-numbers': {
      const field = rng.pick(['isbn', 'usuario', 'id', 'clave', 'operacion']);
      return m([b(`{"operacion":"consulta","isbn":"978-1","${field}":${hugeNumberText(rng)}}`)]);
    }
    case 'deep-nesting': {
      const depth = rng.pick([64, 1000, 10_000, 100_000]);
      const deep = deepJson(depth, rng.chance(0.5));
      return m([rng.chance(0.5) ? b(deep) : b(`{"operacion":"consulta","isbn":${deep}}`)]);
    }
    case 'unicode': {
      const o: Record<string, unknown> = { ...base() };
      o[rng.pick(['operacion', 'isbn', 'usuario', 'id', 'clave', 'sede', 'titulo'])] = nastyString(rng);
      return m([json(o)]);
    }
    case 'unknown-fields': {
      // Own "__proto__" and "constructor" keys (JSON text: an object literal would set the prototype instead).
      const known = JSON.stringify(base()).slice(0, -1);
      return m([b(`${known},${rng.pick(['"__proto__":{"admin":true}', '"constructor":{"prototype":{"x":1}}', '"disponibles":999', `${JSON.stringify(nastyString(rng) || 'k')}:1`])}}`)]);
    }
    case 'write-invalid': {
      // A préstamo/devolución/renovación of a real book with one defect no reading can repair.
      const o: Record<string, unknown> = { operacion: rng.pick(WRITES), isbn: rng.pick(ctx.isbns), usuario: `u${rng.int(0, 1e6)}`, clave: `abuso-${rng.int(0, 1e9)}` };
      rng.pick<() => void>([
        () => (o[rng.pick(['isbn', 'usuario', 'clave', 'operacion'])] = wrongValue(rng)),
        () => (o.isbn = `${o.isbn as string}${'9'.repeat(33)}`),
        () => (o.usuario = 'u'.repeat(65)),
        () => (o.clave = `c${'x'.repeat(80)}`),
        () => (o.usuario = `u${nastyString(rng)}\u0000`),
        () => (o.extra = true),
      ])();
      return m([json(o)]);
    }
    case 'read-only':
      return m([
        json(
          rng.chance(0.5)
            ? { operacion: 'consulta', isbn: isbn(), id: `abuso-${rng.int(0, 1e9)}` }
            : { operacion: 'estado', id: rng.chance(0.5) && ctx.opReplays.length ? rng.pick(ctx.opReplays).id : `abuso-${rng.int(0, 1e9)}` },
        ),
      ]);
    case 'replay':
      return m([b(rng.pick(ctx.psReplays))]);
    case 'replay-altered': {
      // Same clave, another book or user: refused ID_REUTILIZADO, nothing applied.
      const o = JSON.parse(rng.pick(ctx.psReplays)) as Record<string, unknown>;
      if (rng.chance(0.5)) o.isbn = ctx.isbns.find((x) => x !== o.isbn) ?? `978-${rng.int(0, 99)}`;
      else o.usuario = `otro${rng.int(0, 1e6)}`;
      return m([json(o)]);
    }
  }
  throw new Error(`unknown kind ${kind}`);
}

// ---------------------------------------------------------------- GC backend (actor messages)

function backendMessage(rng: Rng, ctx: Context): Hostile {
  const tipo = () => rng.pick(['prestamo', 'devolucion', 'renovacion']);
  const who = () => (rng.chance(0.3) && ctx.actors.length ? rng.pick(ctx.actors) : { tipo: tipo(), actorId: `falso-${rng.int(0, 1e7)}` });
  const resultado = (id: string) => ({ id, operacion: 'prestamo', estado: 'COMPLETADA', exito: true, codigo: 'APROBADO', mensaje: 'falso', datos: { isbn: rng.pick(ctx.isbns) }, fechaOperacion: new Date(0).toISOString() });
  const kind = rng.weighted<string>([
    [12, 'random-bytes'],
    [6, 'truncated'],
    [3, 'oversized'],
    [0.05, 'over-size-limit'],
    [8, 'wrong-frame-count'],
    [14, 'wrong-types'],
    [5, 'huge-numbers'],
    [5, 'deep-nesting'],
    [8, 'unicode'],
    [14, 'forged-hola-latido'],
    [10, 'forged-resultado'],
    [4, 'forged-adios'],
    [1, 'zmtp-garbage'],
  ]);
  const m = (frames: Buffer[], extra: Partial<Hostile> = {}): Hostile => ({ target: 'backend', kind, frames, ...extra });
  switch (kind) {
    case 'random-bytes':
      return m([randomBytes(rng, 4096)]);
    case 'truncated': {
      const w = who();
      return m([truncated(JSON.stringify({ t: 'latido', ...w, enCurso: 0 }), rng)]);
    }
    case 'oversized': {
      const w = who();
      return m([json({ t: 'hola', ...w, pid: 1, relleno: 'x'.repeat(rng.int(1024, ctx.limits.actorFrameBytes - 1024)) })]);
    }
    case 'over-size-limit':
      return m([Buffer.alloc(ctx.limits.actorFrameBytes + rng.int(1, 4096), 0x20)], { throwaway: true });
    case 'wrong-frame-count':
      return m(Array.from({ length: rng.int(2, 8) }, () => (rng.chance(0.5) ? json({ t: 'latido', ...who(), enCurso: 0 }) : randomBytes(rng, 32))));
    case 'wrong-types': {
      const o: Record<string, unknown> = { t: rng.pick(['hola', 'latido', 'resultado', 'adios', 'otro']), ...who(), pid: 1, enCurso: 0 };
      o[rng.pick(['t', 'actorId', 'tipo', 'pid', 'enCurso', 'resultado'])] = wrongValue(rng);
      return m([json(o)]);
    }
    case 'huge-numbers':
      return m([b(`{"t":"latido","actorId":"${who().actorId}","tipo":"${tipo()}","enCurso":${hugeNumberText(rng)}}`)]);
    case 'deep-nesting':
      // Arrays up to 100,000 deep; objects (5 bytes a level) to 40,000: under the backend's frame limit.
      return m([b(`{"t":"resultado","actorId":"x","tipo":"prestamo","resultado":${rng.chance(0.5) ? deepJson(rng.pick([100, 10_000, 100_000]), false) : deepJson(rng.pick([100, 10_000, 40_000]), true)}}`)]);
    case 'unicode':
      return m([json({ t: rng.pick(['hola', 'latido']), actorId: nastyString(rng), tipo: rng.chance(0.5) ? tipo() : nastyString(rng), pid: 1, enCurso: 0 })]);
    case 'forged-hola-latido': {
      const w = who();
      return m([json(rng.chance(0.5) ? { t: 'hola', ...w, pid: rng.int(1, 1e6) } : { t: 'latido', ...w, enCurso: rng.int(0, 1e6) })]);
    }
    case 'forged-resultado': {
      const id = rng.chance(0.5) && ctx.opReplays.length ? rng.pick(ctx.opReplays).id : `abuso-${rng.int(0, 1e9)}`;
      return m([json({ t: 'resultado', ...who(), resultado: resultado(id) })]);
    }
    case 'forged-adios':
      return m([json({ t: 'adios', ...who() })]);
    case 'zmtp-garbage':
      return { target: 'backend', kind, raw: zmtpGarbage(rng) };
  }
  throw new Error(`unknown kind ${kind}`);
}

// ---------------------------------------------------------------- GC XPUB (subscription messages)

function pubMessage(rng: Rng, ctx: Context): Hostile {
  const kind = rng.weighted<string>([
    [15, 'random-bytes'],
    [15, 'subscribe-random'],
    [12, 'subscribe-actor-shaped'],
    [6, 'subscribe-real-topic'],
    [10, 'unsubscribe'],
    [8, 'bad-first-byte'],
    [4, 'empty'],
    [3, 'huge-topic'],
    [0.05, 'over-size-limit'],
    [8, 'unicode-topic'],
    [6, 'wrong-frame-count'],
    [1, 'zmtp-garbage'],
  ]);
  const sub = (on: boolean, topic: Buffer | string) => Buffer.concat([Buffer.from([on ? 1 : 0]), b(topic)]);
  const real = () => (ctx.actors.length ? rng.pick(ctx.actors) : { tipo: 'prestamo', actorId: 'nadie' });
  const m = (frames: Buffer[]): Hostile => ({ target: 'pub', kind, frames });
  // Subscriptions up to the XPUB's size limit: over it the GC drops the connection, and an XSUB
  // replays every subscription it made on reconnect. Those go on connections of their own ('over-size-limit').
  const fit = (frame: Buffer) => frame.subarray(0, ctx.limits.subscriptionBytes);
  switch (kind) {
    case 'random-bytes':
      return m([randomBytes(rng, 512)]);
    case 'subscribe-random':
      return m([sub(true, rng.bytes(rng.int(0, 64)))]);
    case 'subscribe-actor-shaped':
      return m([sub(true, topicFor(rng.pick(['prestamo', 'devolucion', 'renovacion']), `falso-${rng.int(0, 1e7)}`))]);
    case 'subscribe-real-topic': {
      const a = real();
      return m([sub(true, topicFor(a.tipo, a.actorId))]);
    }
    case 'unsubscribe': {
      const a = real();
      return m([sub(false, rng.chance(0.5) ? topicFor(a.tipo, a.actorId) : topicFor('prestamo', `falso-${rng.int(0, 1e7)}`))]);
    }
    case 'bad-first-byte':
      return m([Buffer.concat([Buffer.from([rng.int(2, 255)]), b(topicFor('prestamo', real().actorId))])]);
    case 'empty':
      return m([Buffer.alloc(0)]);
    case 'huge-topic':
      return m([fit(sub(rng.chance(0.7), topicFor('prestamo', 'x'.repeat(rng.int(1000, 64 * 1024)))))]);
    case 'over-size-limit':
      return { ...m([sub(true, 'prestamo.' + 'x'.repeat(ctx.limits.subscriptionBytes + rng.int(0, 60 * 1024)))]), throwaway: true };
    case 'unicode-topic':
      return m([fit(sub(rng.chance(0.8), topicFor('prestamo', nastyString(rng))))]);
    case 'wrong-frame-count':
      return m(Array.from({ length: rng.int(2, 5) }, () => sub(true, `renovacion.falso-${rng.int(0, 1e6)}`)));
    case 'zmtp-garbage':
      return { target: 'pub', kind, raw: zmtpGarbage(rng) };
  }
  throw new Error(`unknown kind ${kind}`);
}

// ---------------------------------------------------------------- GA socket

function gaMessage(rng: Rng, ctx: Context): Hostile {
  const ref = () => `abuso-${rng.int(0, 1e9)}`;
  const kinds: Array<readonly [number, string]> = [
    [10, 'random-bytes'],
    [6, 'truncated'],
    [3, 'oversized'],
    [0.02, 'over-transport-limit'],
    [6, 'wrong-frame-count'],
    [14, 'wrong-types'],
    [6, 'huge-numbers'],
    [5, 'deep-nesting'],
    [8, 'unicode'],
    [12, 'forged-read'],
    [8, 'replay'],
    [6, 'replay-altered'],
    [1, 'zmtp-garbage'],
  ];
  if (ctx.forgedWrites) kinds.push([10, 'forged-write']);
  const kind = rng.weighted(kinds);
  const m = (frames: Buffer[], extra: Partial<Hostile> = {}): Hostile => ({ target: 'ga', kind, frames, ...extra });
  const replayOp = () => (ctx.opReplays.length ? { ...rng.pick(ctx.opReplays) } : { operacion: 'prestamo', isbn: rng.pick(ctx.isbns), usuario: 'nadie', id: ref() });
  const fencing = () => (rng.chance(0.3) ? { fencing: { sistema: String(rng.int(1, 1e9)), timeline: rng.int(1, 1e6) } } : {});
  switch (kind) {
    case 'random-bytes':
      return m([randomBytes(rng, 4096)]);
    case 'truncated':
      return m([truncated(JSON.stringify({ ref: ref(), orden: 'aplicar', op: replayOp() }), rng)]);
    case 'oversized':
      return m([json({ ref: ref(), orden: 'consultar_titulo', titulo: 'x'.repeat(rng.int(1000, 512 * 1024)) })]);
    case 'over-transport-limit':
      return m([Buffer.alloc(ctx.limits.gaTransportBytes + rng.int(1, 4096), 0x5b)], { throwaway: true });
    case 'wrong-frame-count':
      return m(Array.from({ length: rng.int(2, 6) }, () => (rng.chance(0.5) ? json({ ref: ref(), orden: 'ping' }) : rng.chance(0.5) ? Buffer.alloc(0) : randomBytes(rng, 64))));
    case 'wrong-types': {
      // Types only (wrongValue is never a string or null): a mutated write never becomes a valid new one.
      const o: Record<string, unknown> = rng.pick<() => Record<string, unknown>>([
        () => ({ ref: ref(), orden: 'aplicar', op: replayOp() }),
        () => ({ ref: ref(), orden: 'pendientes', limite: 10 }),
        () => ({ ref: ref(), orden: 'estado', id: 'x' }),
        () => ({ ref: ref(), orden: 'reclamar', gestor: { id: 'gc-falso', atendidas: 0, porSegundo: 0, tareas: 0, iniciado: 'x' }, arriendoMs: 1000, limite: 1 }),
      ])();
      const k = rng.pick(Object.keys(o));
      o[k] = wrongValue(rng);
      if (rng.chance(0.3) && o.op && typeof o.op === 'object') (o.op as Record<string, unknown>)[rng.pick(['operacion', 'isbn', 'usuario', 'id'])] = wrongValue(rng);
      return m([json(o)]);
    }
    case 'huge-numbers':
      return m([b(`{"ref":"${ref()}","orden":"${rng.pick(['pendientes', 'reclamar'])}","limite":${hugeNumberText(rng)},"arriendoMs":${hugeNumberText(rng)}}`)]);
    case 'deep-nesting':
      return m([b(`{"ref":"x","orden":"aplicar","op":${deepJson(rng.pick([100, 10_000, 100_000]), rng.chance(0.5))}}`)]);
    case 'unicode':
      return m([json(rng.chance(0.5) ? { ref: nastyString(rng), orden: 'consultar', isbn: nastyString(rng) } : { ref: ref(), orden: 'consultar_titulo', titulo: nastyString(rng) })]);
    case 'forged-read':
      return m([
        json(
          rng.pick<() => unknown>([
            () => ({ ref: ref(), orden: 'ping' }),
            () => ({ ref: ref(), orden: 'consultar', isbn: rng.pick(ctx.isbns) }),
            () => ({ ref: ref(), orden: 'consultar_titulo', titulo: `Libro ${rng.int(0, 10)}` }),
            () => ({ ref: ref(), orden: 'estado', id: rng.chance(0.5) ? replayOp().id : ref() }),
            () => ({ ref: ref(), orden: 'pendientes', limite: rng.int(1, 100) }),
          ])(),
        ),
      ]);
    case 'replay':
      // The same op again (same clave): the GA returns the recorded outcome; a forged fencing token rides along sometimes.
      return m([json({ ref: ref(), orden: rng.pick(['aplicar', 'registrar']), op: replayOp(), ...fencing() })]);
    case 'replay-altered': {
      const op = replayOp();
      if (rng.chance(0.5)) op.isbn = ctx.isbns.find((x) => x !== op.isbn) ?? op.isbn;
      else op.usuario = `otro${rng.int(0, 1e6)}`;
      return m([json({ ref: ref(), orden: rng.pick(['aplicar', 'registrar']), op })]);
    }
    case 'forged-write':
      // A new op under a new clave: applied if it ever reached a GA. Secure phase only.
      return m([json({ ref: ref(), orden: rng.pick(['aplicar', 'registrar']), op: { operacion: rng.pick(['prestamo', 'devolucion', 'renovacion']), isbn: rng.pick(ctx.isbns), usuario: `intruso${rng.int(0, 1e6)}`, id: ref() } })]);
    case 'zmtp-garbage':
      return { target: 'ga', kind, raw: zmtpGarbage(rng) };
  }
  throw new Error(`unknown kind ${kind}`);
}

// ---------------------------------------------------------------- HTTP ports (GC, GA, actors)

const PATHS = ['/health', '/metrics', '/status', '/errors/stats', '/', '/nope', '/status/../../etc/passwd', '/%00', '/health?x=1'];

function httpMessage(rng: Rng, _ctx: Context): Hostile {
  const port = rng.weighted<HttpPort>([
    [4, 'gc'],
    [3, 'ga'],
    [3, 'actor'],
  ]);
  const kind = rng.weighted<string>([
    [30, 'known-route'],
    [15, 'odd-method'],
    [12, 'odd-path'],
    [8, 'huge-header'],
    [6, 'huge-url'],
    [8, 'body'],
    [10, 'raw-garbage'],
    [6, 'raw-truncated'],
    [3, 'raw-smuggling'],
  ]);
  const m = (method: string, path: string, headers: Record<string, string> = {}, body?: Buffer): Hostile => ({ target: 'http', kind, http: { port, method, path, headers, ...(body ? { body } : {}) } });
  const raw = (bytes: Buffer): Hostile => ({ target: 'http', kind, raw: bytes, http: { port, method: 'RAW', path: '', headers: {} } });
  switch (kind) {
    case 'known-route':
      return m('GET', rng.pick(PATHS));
    case 'odd-method':
      return m(rng.pick(['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'HEAD', 'PROPFIND']), rng.pick(PATHS));
    case 'odd-path':
      // Percent-encoded bytes (lone surrogates included, as their UTF-8 replacement): encodeURIComponent throws on them.
      return m('GET', `/${[...b(nastyString(rng))].slice(0, 600).map((x) => `%${x.toString(16).padStart(2, '0')}`).join('')}?${'a=1&'.repeat(rng.int(1, 200))}`);
    case 'huge-header':
      return m('GET', '/status', { 'x-relleno': 'y'.repeat(rng.int(4 * 1024, 64 * 1024)) });
    case 'huge-url':
      return m('GET', `/${'z'.repeat(rng.int(8 * 1024, 64 * 1024))}`);
    case 'body':
      return m('POST', rng.pick(PATHS), { 'content-type': rng.pick(['application/json', 'text/plain', 'multipart/form-data; boundary=x']) }, rng.chance(0.5) ? rng.bytes(rng.int(1, 256 * 1024)) : b(deepJson(10_000, true)));
    case 'raw-garbage':
      return raw(rng.bytes(rng.int(1, 4096)));
    case 'raw-truncated':
      return raw(truncated(`GET /status HTTP/1.1\r\nHost: x\r\nContent-Length: ${rng.int(1, 1e6)}\r\n\r\nabc`, rng));
    case 'raw-smuggling':
      return raw(b(`POST /status HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /metrics HTTP/1.1\r\nHost: x\r\n\r\n`));
  }
  throw new Error(`unknown kind ${kind}`);
}
