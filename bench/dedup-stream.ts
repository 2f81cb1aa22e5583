/**
 * The dedup bench's input: a cyclic stream of 64-bit key hashes with ~20%
 * near duplicates (a repeat of one of the previous 1000 records), shared with
 * worker threads through SharedArrayBuffers. Record at global position g uses
 * key index g & (length − 1) and event time BASE_TIME_MS + g (epoch ms, so the
 * times are doubles as in production, not small integers).
 */

export const BASE_TIME_MS = 1_700_000_000_000;

export interface DedupStream {
  readonly length: number;
  readonly lo: Int32Array;
  readonly hi: Int32Array;
}

export const DUPLICATE_SHARE = 0.2;

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) | 0;
}

/** `length` must be a power of two. */
export function makeDedupStream(length: number): DedupStream {
  const lo = new Int32Array(new SharedArrayBuffer(length * 4));
  const hi = new Int32Array(new SharedArrayBuffer(length * 4));
  let rng = 0x12345678;
  for (let k = 0; k < length; k++) {
    rng ^= rng << 13;
    rng ^= rng >>> 17;
    rng ^= rng << 5;
    const r = (rng >>> 0) / 2 ** 32;
    if (k > 1000 && r < DUPLICATE_SHARE) {
      const back = k - 1 - Math.floor((r / DUPLICATE_SHARE) * 1000);
      lo[k] = lo[back]!;
      hi[k] = hi[back]!;
    } else {
      lo[k] = fmix32(k + 1);
      hi[k] = fmix32((k + 1) ^ 0x9e3779b9);
    }
  }
  return { length, lo, hi };
}

export function attachDedupStream(lo: SharedArrayBuffer, hi: SharedArrayBuffer): DedupStream {
  return { length: lo.byteLength / 4, lo: new Int32Array(lo), hi: new Int32Array(hi) };
}
