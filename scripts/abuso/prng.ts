/**
 * Seeded randomness for the abuse campaign (pure-rand's xoroshiro128+): every
 * hostile message is a pure function of (seed, target, index), so a run is
 * reproducible and any one message can be regenerated alone from the report.
 */
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';

/** A small view over one generator: the only randomness the generators see. */
export interface Rng {
  /** Integer in [lo, hi], both included. */
  int(lo: number, hi: number): number;
  /** True with probability p. */
  chance(p: number): boolean;
  pick<T>(xs: readonly T[]): T;
  /** Picks by weight: [[weight, value], …]. */
  weighted<T>(xs: ReadonlyArray<readonly [number, T]>): T;
  bytes(n: number): Buffer;
}

/** 32-bit mix of the three coordinates (murmur3's finaliser), so neighbouring indexes give unrelated streams. */
function mix(seed: number, stream: number, index: number): number {
  let h = (seed ^ Math.imul(stream + 1, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b)) | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 0;
}

export function rngFor(seed: number, stream: number, index: number): Rng {
  const g = xoroshiro128plus(mix(seed, stream, index));
  const int = (lo: number, hi: number) => uniformInt(g, lo, hi);
  return {
    int,
    chance: (p) => uniformInt(g, 0, 999_999) < p * 1_000_000,
    pick: (xs) => xs[int(0, xs.length - 1)]!,
    weighted: (xs) => {
      const total = xs.reduce((n, [w]) => n + w, 0);
      let r = uniformInt(g, 0, Math.max(0, Math.ceil(total * 1000) - 1)) / 1000;
      for (const [w, v] of xs) {
        if (r < w) return v;
        r -= w;
      }
      return xs[xs.length - 1]![1];
    },
    bytes: (n) => {
      const b = Buffer.allocUnsafe(n);
      for (let i = 0; i < n; i += 4) {
        const v = g.next();
        b[i] = v & 0xff;
        if (i + 1 < n) b[i + 1] = (v >>> 8) & 0xff;
        if (i + 2 < n) b[i + 2] = (v >>> 16) & 0xff;
        if (i + 3 < n) b[i + 3] = (v >>> 24) & 0xff;
      }
      return b;
    },
  };
}
