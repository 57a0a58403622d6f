/**
 * Fencing token rules (common/protocol/fencing.ts): what a client keeps, what a GA refuses.
 */
import { describe, expect, it } from 'vitest';
import { isBehind, newerFencing } from '../../common/protocol/fencing.js';

const A = '7312345678901234567';
const B = '7399999999999999999';

describe('newerFencing', () => {
  it('keeps the highest timeline of one cluster', () => {
    expect(newerFencing(undefined, { sistema: A, timeline: 1 })).toEqual({ sistema: A, timeline: 1 });
    expect(newerFencing({ sistema: A, timeline: 1 }, { sistema: A, timeline: 2 })).toEqual({ sistema: A, timeline: 2 });
    // A stale GA's stamp never lowers it.
    const held = { sistema: A, timeline: 3 };
    expect(newerFencing(held, { sistema: A, timeline: 2 })).toBe(held);
    expect(newerFencing(held, undefined)).toBe(held);
  });

  it('a stamp from another cluster (re-initialised) replaces the token', () => {
    expect(newerFencing({ sistema: A, timeline: 4 }, { sistema: B, timeline: 1 })).toEqual({ sistema: B, timeline: 1 });
  });
});

describe('isBehind', () => {
  it('only a node of the same cluster on an older timeline is behind', () => {
    const token = { sistema: A, timeline: 2 };
    expect(isBehind({ sistema: A, timeline: 1 }, token)).toBe(true);
    expect(isBehind({ sistema: A, timeline: 2 }, token)).toBe(false);
    expect(isBehind({ sistema: A, timeline: 3 }, token)).toBe(false);
    expect(isBehind({ sistema: B, timeline: 1 }, token)).toBe(false);
    expect(isBehind({ timeline: 1 }, token)).toBe(false);
    expect(isBehind({ sistema: A }, token)).toBe(false);
  });
});
