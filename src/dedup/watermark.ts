/**
 * One handle's view of the table watermark (the largest event time inserted),
 * and the shared copy in the header, published under its own seqlock (WM_SEQ).
 * Why lazy publishing: layout.ts, "Watermark". Why a lagging view is safe: the
 * watermark decides no insert (nothing expires by time: layout.ts,
 * "Forgetting"). It feeds stats() and, when no LOW_WATERMARK is set, is the
 * reference for counting a replaced entry as forgotten inside the window; a
 * view below the true maximum counts more entries there, never fewer.
 */

import type { Backoff } from './backoff.js';
import { H_WATERMARK_F64, H_WM_SEQ } from './layout.js';

export class WatermarkView {
  /** This handle's view: never above the true maximum. −Infinity before any insert. */
  value = Number.NEGATIVE_INFINITY;
  /** The value last published to (or adopted from) the shared copy. */
  published = Number.NEGATIVE_INFINITY;
  /** Publish once `value` has grown this much since `published`. */
  readonly step: number;
  readonly #i32: Int32Array;
  readonly #f64: Float64Array;
  readonly #backoff: Backoff;

  /** @param step publish once the view has grown this much since the last publish */
  constructor(i32: Int32Array, f64: Float64Array, step: number, backoff: Backoff) {
    this.#i32 = i32;
    this.#f64 = f64;
    this.step = step;
    this.#backoff = backoff;
  }

  /** Seed the shared copy of a freshly created table. */
  static init(f64: Float64Array): void {
    f64[H_WATERMARK_F64] = Number.NEGATIVE_INFINITY;
  }

  /**
   * `t` exceeds `value`: keep it, and publish it if it has moved enough.
   * DedupTable.insert inlines the cheap part (the two field updates) and calls
   * publish() directly: a call taking a non-Smi double boxes it, and epoch
   * milliseconds are never Smis, so a per-insert call would allocate.
   */
  raise(t: number): void {
    this.value = t;
    if (t - this.published >= this.step) this.publish(t);
  }

  /** Write `t` to the shared copy unless a later value is already there. */
  publish(t: number): void {
    this.published = t;
    const i32 = this.#i32;
    let spins = 0;
    for (;;) {
      const s = Atomics.load(i32, H_WM_SEQ);
      if ((s & 1) !== 0) {
        spins = this.#backoff.pause(H_WM_SEQ, s, spins, -1);
        continue;
      }
      const shared = this.#f64[H_WATERMARK_F64]!;
      if (shared >= t) {
        // Someone published a later one; adopt it if the read was consistent.
        if (Atomics.compareExchange(i32, H_WM_SEQ, s, s) !== s) continue;
        this.value = shared;
        return;
      }
      if (Atomics.compareExchange(i32, H_WM_SEQ, s, s + 1) !== s) continue;
      this.#f64[H_WATERMARK_F64] = t;
      Atomics.store(i32, H_WM_SEQ, (s + 2) | 0);
      return;
    }
  }

  /** Pull the shared copy into this view; true if that raised it. */
  adoptShared(): boolean {
    const i32 = this.#i32;
    let spins = 0;
    for (;;) {
      const s = Atomics.load(i32, H_WM_SEQ);
      if ((s & 1) !== 0) {
        spins = this.#backoff.pause(H_WM_SEQ, s, spins, -1);
        continue;
      }
      const shared = this.#f64[H_WATERMARK_F64]!;
      // Read-don't-modify-write validation: the CAS of s to s fails if a
      // writer took the seqlock since the load above. (Buckets no longer work
      // this way: an insert holds them, layout.ts "Per-bucket lock".)
      if (Atomics.compareExchange(i32, H_WM_SEQ, s, s) !== s) continue;
      if (shared > this.value) {
        this.value = shared;
        return true;
      }
      return false;
    }
  }
}
