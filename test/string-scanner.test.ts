/**
 * The word-at-a-time string scan: its lowest flagged byte must always be the
 * first byte a string scan has to look at, or it would land on a plain byte.
 */
import { describe, expect, it } from 'vitest';
import { specialBytes } from '../dist/src/parser/js/string-scanner.js';

/** '"', '\\', < 0x20, >= 0x80: the bytes that end the plain-ASCII fast path. */
const isSpecial = (b: number) => b === 0x22 || b === 0x5c || b < 0x20 || b >= 0x80;

/** Index of the lowest flagged byte of specialBytes(word), or -1. */
function firstFlagged(bytes: number[]): number {
  const word = bytes[0]! | (bytes[1]! << 8) | (bytes[2]! << 16) | (bytes[3]! << 24);
  const t = specialBytes(word);
  return t === 0 ? -1 : (31 - Math.clz32(t ^ (t - 1))) >>> 3;
}

describe('specialBytes', () => {
  it('flags exactly the first special byte for every word over boundary bytes', () => {
    const edge = [0x00, 0x01, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x41, 0x5b, 0x5c, 0x5d, 0x7e, 0x7f, 0x80, 0xc3, 0xff];
    let checked = 0;
    for (const a of edge)
      for (const b of edge)
        for (const c of edge)
          for (const d of edge) {
            const bytes = [a, b, c, d];
            const expected = bytes.findIndex(isSpecial);
            if (firstFlagged(bytes) !== expected) throw new Error(`bytes ${bytes.map((x) => x.toString(16))}: flagged ${firstFlagged(bytes)}, expected ${expected}`);
            checked++;
          }
    expect(checked).toBe(edge.length ** 4);
  });

  it('agrees on random words', () => {
    let seed = 12345;
    const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 24;
    for (let i = 0; i < 200_000; i++) {
      const bytes = [next(), next(), next(), next()];
      expect(firstFlagged(bytes)).toBe(bytes.findIndex(isSpecial));
    }
  });
});
