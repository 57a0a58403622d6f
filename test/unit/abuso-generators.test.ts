/**
 * The abuse campaign's pure parts: generators are reproducible from (seed, target,
 * index), cover every family, and in the open phase never produce a NEW valid write
 * (the database check would then measure nothing); the verdict names each failure.
 */
import { describe, expect, it } from 'vitest';
import { gaRequestSchema } from '../../common/protocol/internal.js';
import { parseSolicitud } from '../../common/protocol/ps-gc.js';
import { TARGETS, generate, type Context } from '../../scripts/abuso/generators.js';
import { verdict, type ProcessFigures } from '../../scripts/abuso/checks.js';

const replays = [
  { operacion: 'prestamo', isbn: '978-9-77-000001-0', usuario: 'abuso-a', clave: 'abuso-setup-1' },
  { operacion: 'devolucion', isbn: '978-9-77-000002-0', usuario: 'abuso-b', clave: 'abuso-setup-2' },
];
const ctx = (forgedWrites: boolean): Context => ({
  isbns: ['978-9-77-000001-0', '978-9-77-000002-0', '978-9-77-000003-0'],
  actors: [{ tipo: 'prestamo', actorId: 'prestamo-1' }],
  psReplays: replays.map((r) => JSON.stringify(r)),
  opReplays: replays.map((r) => ({ operacion: r.operacion, isbn: r.isbn, usuario: r.usuario, id: r.clave })),
  forgedWrites,
  limits: { psRequestBytes: 16 * 1024, psTransportBytes: 4 * 1024 * 1024, actorFrameBytes: 256 * 1024, gaTransportBytes: 4 * 1024 * 1024, subscriptionBytes: 4096 },
});
const bytesOf = (h: ReturnType<typeof generate>) => Buffer.concat([...(h.frames ?? []), h.raw ?? Buffer.alloc(0), Buffer.from(JSON.stringify(h.http ?? null))]);
const N = 3000;

describe('abuse generators', () => {
  it('are pure: the same (seed, target, index) gives the same message; another seed or index, another', () => {
    for (const t of TARGETS) {
      for (const i of [0, 1, 977]) {
        expect(bytesOf(generate(t, 42, i, ctx(false))).equals(bytesOf(generate(t, 42, i, ctx(false))))).toBe(true);
      }
      const a = Array.from({ length: 50 }, (_, i) => bytesOf(generate(t, 42, i, ctx(false))).toString('base64'));
      const b = Array.from({ length: 50 }, (_, i) => bytesOf(generate(t, 43, i, ctx(false))).toString('base64'));
      expect(new Set(a).size).toBeGreaterThan(40);
      expect(a).not.toEqual(b);
    }
  });

  it('cover every family the issue names on every ZeroMQ socket', () => {
    const kinds = (t: (typeof TARGETS)[number], forged = false) => new Set(Array.from({ length: N }, (_, i) => generate(t, 7, i, ctx(forged)).kind));
    expect([...kinds('ps')]).toEqual(expect.arrayContaining(['random-bytes', 'truncated', 'oversized', 'wrong-frame-count', 'wrong-types', 'huge-numbers', 'deep-nesting', 'unicode', 'replay', 'write-invalid']));
    expect([...kinds('backend')]).toEqual(expect.arrayContaining(['random-bytes', 'truncated', 'oversized', 'wrong-frame-count', 'wrong-types', 'huge-numbers', 'deep-nesting', 'unicode', 'forged-hola-latido', 'forged-resultado', 'forged-adios', 'zmtp-garbage']));
    expect([...kinds('pub')]).toEqual(expect.arrayContaining(['random-bytes', 'subscribe-real-topic', 'unsubscribe', 'bad-first-byte', 'huge-topic', 'unicode-topic', 'wrong-frame-count', 'zmtp-garbage']));
    // Only the over-limit family goes on connections of its own (each one a new pipe for the XPUB).
    for (let i = 0; i < N; i++) {
      const h = generate('pub', 7, i, ctx(false));
      expect(h.throwaway === true, h.kind).toBe(h.kind === 'over-size-limit');
      if (!h.throwaway && h.frames) for (const f of h.frames) expect(f.length).toBeLessThanOrEqual(4096);
    }
    expect([...kinds('ga')]).toEqual(expect.arrayContaining(['random-bytes', 'truncated', 'oversized', 'wrong-frame-count', 'wrong-types', 'huge-numbers', 'deep-nesting', 'unicode', 'forged-read', 'replay', 'replay-altered', 'zmtp-garbage']));
    expect(kinds('ga').has('forged-write')).toBe(false);
    expect(kinds('ga', true).has('forged-write')).toBe(true);
    expect([...kinds('http')]).toEqual(expect.arrayContaining(['known-route', 'odd-method', 'huge-header', 'huge-url', 'raw-garbage', 'raw-truncated', 'raw-smuggling']));
  });

  it('open phase: a PS message that passes validation is read-only or a replay of a clave the setup used', () => {
    const claves = new Set(replays.map((r) => r.clave));
    let valid = 0;
    for (let i = 0; i < N; i++) {
      const h = generate('ps', 11, i, ctx(false));
      if (h.frames!.length !== 1) continue; // refused whole (wrong frame count)
      const p = parseSolicitud(h.frames![0]!, () => 'clave-nueva');
      if (!p.ok) continue;
      valid++;
      const s = p.solicitud;
      if (s.operacion !== 'consulta' && s.operacion !== 'estado') expect(claves.has(s.clave), `${h.kind}: ${h.frames![0]!.toString().slice(0, 200)}`).toBe(true);
    }
    expect(valid).toBeGreaterThan(N / 10);
  });

  it('open phase: a GA message that passes validation writes only under a clave the setup used', () => {
    const claves = new Set(replays.map((r) => r.clave));
    let writes = 0;
    for (let i = 0; i < N; i++) {
      const h = generate('ga', 11, i, ctx(false));
      if (!h.frames || h.frames.length !== 1) continue;
      let obj: unknown;
      try {
        obj = JSON.parse(h.frames[0]!.toString('utf8'));
      } catch {
        continue;
      }
      const r = gaRequestSchema.safeParse(obj);
      if (!r.success || (r.data.orden !== 'aplicar' && r.data.orden !== 'registrar')) continue;
      writes++;
      expect(claves.has(r.data.op.id), h.kind).toBe(true);
    }
    expect(writes).toBeGreaterThan(0);
  });
});

describe('abuse verdict', () => {
  const proc = (over: Partial<ProcessFigures> = {}): ProcessFigures => ({ nombre: 'gc', pid: 1, vivoAntes: true, vivoDespues: true, saludDespues: true, saludTrasMs: 0, rssBaseMiB: 80, rssTrasRondasMiB: [100, 104], rssMaxMiB: 120, rssFinalMiB: 100, ...over });
  const sums = { libros: 'a', prestamos: 'b', operaciones: 'c' };
  const ok = { processes: [proc()], ps: { esperadas: 10, respondidas: 10, sinCodigo: 0, ajenas: 0, internas: 0, crudas: { enviadas: 3, respondidas: 3 } }, checksumBefore: sums, checksumAfter: sums, stillServes: true };

  it('passes a clean phase', () => {
    expect(verdict(ok)).toEqual([]);
  });

  it('names a crash, an unhealthy process, memory past the bound, unanswered or code-less replies, a changed table, a system that stopped serving, uncounted refusals', () => {
    expect(
      verdict({
        processes: [proc({ vivoDespues: false, saludDespues: false }), proc({ nombre: 'ga', rssMaxMiB: 700 }), proc({ nombre: 'actor', rssTrasRondasMiB: [100, 140, 180], rssMaxMiB: 250 }), proc({ nombre: 'actor-2', rssTrasRondasMiB: [300, 360], rssMaxMiB: 400 }), proc({ nombre: 'actor-3', rssTrasRondasMiB: [120], rssMaxMiB: 200 })],
        ps: { esperadas: 10, respondidas: 8, sinCodigo: 1, ajenas: 0, internas: 0, crudas: { enviadas: 3, respondidas: 3 } },
        checksumBefore: sums,
        checksumAfter: { ...sums, prestamos: 'x' },
        stillServes: false,
        refusals: { ga: { counted: 2, atLeast: 5 } },
      }),
    ).toEqual([
      'gc: CRASHED (not running after the campaign)',
      'gc: /health did not answer 200 within a minute of the campaign',
      'ga: RSS grew from 80 to 700 MiB (limit +512 MiB)',
      'actor: RSS still growing from round to round (after each: 100 → 140 → 180 MiB; limit +64 MiB)',
      'PS port: 2 of 10 messages got no reply',
      'PS port: 1 replies carried no known code',
      'database: prestamos changed (b → x)',
      'the system no longer serves a real request after the campaign',
      'ga: 2 refused CURVE handshakes counted, fewer than the 5 connections with unknown keys',
    ]);
  });

  it('names a reply that answered no waiting message, an ERROR_INTERNO, a table changed after the end, rows left PENDIENTE, and a socket that delivered nothing or not everything', () => {
    expect(
      verdict({
        ...ok,
        ps: { esperadas: 10, respondidas: 10, sinCodigo: 0, ajenas: 2, internas: 3, crudas: { enviadas: 3, respondidas: 2 } },
        checksumLater: { ...sums, operaciones: 'y' },
        pendingAfterRounds: 4,
        delivery: [
          { socket: 'ga', figures: { enviados: 10, respuestas: 7, esperadas: 12, codigos: {}, noEntregados: 0, leidoPorElServidor: null } },
          { socket: 'pub', figures: { enviados: 0, respuestas: 0, codigos: {}, noEntregados: 0, leidoPorElServidor: false } },
          { socket: 'http', figures: { enviados: 10, respuestas: 10, codigos: { '400': 8, '500': 1, '503': 1 }, noEntregados: 0, leidoPorElServidor: null } },
        ],
      }),
    ).toEqual([
      'PS port: 2 replies to 3 messages with the wrong number of frames',
      'PS port: 2 replies answered no waiting message (a second reply to one, or a wrong envelope)',
      'PS port: 3 replies were ERROR_INTERNO (hostile input must be refused, not break something inside)',
      'database: operaciones changed after the campaign ended (a write still on its way)',
      'ledger: 4 rows still PENDIENTE 30 s after a round',
      'ga: 7 replies to 12 requests',
      'pub: nothing was sent',
      'pub: the server had not read everything queued when the sockets closed',
      'http: 1 responses were 500',
    ]);
  });
});
