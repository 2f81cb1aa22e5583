/**
 * The contract's two 32-bit hash lanes over the key bytes. Both lanes advance
 * in one pass; key bytes are hashed in place from the record (the value spans
 * followed by the 0xFF separator) so no key buffer is ever built.
 */
import type { FieldTable } from './fields.js';

const enum K {
  LO_SEED = 0x811c9dc5,
  LO_MUL = 0x01000193,
  HI_SEED = 0x9e3779b9,
  HI_MUL = 0x5bd1e995,
  FMIX_1 = 0x85ebca6b,
  FMIX_2 = 0xc2b2ae35,
  /** Ends every field's bytes; never occurs in valid UTF-8. */
  FIELD_END = 0xff,
}

// One byte of each lane; small enough that V8 inlines them into the loops.
function loStep(h: number, b: number): number {
  return Math.imul(h ^ b, K.LO_MUL);
}
function hiStep(h: number, b: number): number {
  h = Math.imul(h ^ b, K.HI_MUL);
  return h ^ (h >>> 15);
}

export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, K.FMIX_1);
  h ^= h >>> 13;
  h = Math.imul(h, K.FMIX_2);
  return (h ^ (h >>> 16)) | 0;
}

/** Hash lanes of the record's key (fields.allKeysPresent() must hold); written to out[0] (lo), out[1] (hi). */
export function hashRecordKey(buf: Uint8Array, fields: FieldTable, out: Int32Array): void {
  let lo: number = K.LO_SEED;
  let hi: number = K.HI_SEED;
  const starts = fields.valueStart;
  const ends = fields.valueEnd;
  for (let f = 0; f < fields.keyCount; f++) {
    const e = ends[f]!;
    for (let i = starts[f]!; i < e; i++) {
      const b = buf[i]!;
      lo = loStep(lo, b);
      hi = hiStep(hi, b);
    }
    lo = loStep(lo, K.FIELD_END);
    hi = hiStep(hi, K.FIELD_END);
  }
  out[0] = fmix32(lo);
  out[1] = fmix32(hi);
}

/**
 * Hash lanes of already-assembled key bytes (each field's value text followed
 * by 0xFF). For tests and other implementations' cross-checks; returns the
 * signed Int32 words as stored in a slot.
 */
export function hashKeyBytes(bytes: Uint8Array): [lo: number, hi: number] {
  let lo: number = K.LO_SEED;
  let hi: number = K.HI_SEED;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    lo = loStep(lo, b);
    hi = hiStep(hi, b);
  }
  return [fmix32(lo), fmix32(hi)];
}
