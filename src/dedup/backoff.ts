/**
 * What a dedup thread does when it finds a seqlock word odd (a writer is in the
 * middle of its few stores): spin briefly, then sleep in short timed waits so a
 * descheduled writer gets the CPU back, and give up with a named error after
 * stallLimitMs. Timed waits mean writers never have to call Atomics.notify.
 */

import { DedupStalledError } from './errors.js';

/**
 * Busy-spins before sleeping: a writer holds its buckets for one scan and at
 * most 4 plain stores (layout.ts, "Per-bucket lock"), the watermark seqlock for
 * one store.
 */
const SPINS_BEFORE_SLEEP = 64;
const SLEEP_MS = 0.05;

export class Backoff {
  readonly #i32: Int32Array;
  readonly #stallLimitMs: number;
  #stallStart = 0;

  constructor(i32: Int32Array, stallLimitMs: number) {
    if (!(stallLimitMs > 0)) throw new RangeError(`stallLimitMs must be > 0, got ${stallLimitMs}`);
    this.#i32 = i32;
    this.#stallLimitMs = stallLimitMs;
  }

  /**
   * Call each time `i32[idx]` was read odd; pass the previous return value
   * (0 the first time) and retry after it returns.
   * @param bucket reported in the error; -1 for the watermark.
   */
  pause(idx: number, odd: number, spins: number, bucket: number): number {
    spins++;
    if (spins < SPINS_BEFORE_SLEEP) return spins;
    const now = performance.now();
    if (spins === SPINS_BEFORE_SLEEP) {
      this.#stallStart = now;
    } else if (now - this.#stallStart >= this.#stallLimitMs) {
      throw new DedupStalledError(bucket, now - this.#stallStart);
    }
    Atomics.wait(this.#i32, idx, odd, SLEEP_MS);
    return spins;
  }
}
