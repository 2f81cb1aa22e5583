import { SLOT_WORDS } from '../parser/contract.js';

const INITIAL_SLOTS = 1024;

/**
 * The result slots of one range, copied out of a ring as they arrive so rings
 * never wait for a range's turn to be emitted. Storage is recycled between
 * ranges (see ResultStorePool), so steady state allocates nothing.
 */
export class RangeResults {
  i32: Int32Array;
  f64: Float64Array;
  count = 0;

  constructor() {
    this.i32 = new Int32Array(INITIAL_SLOTS * SLOT_WORDS);
    this.f64 = new Float64Array(this.i32.buffer);
  }

  /** Append one slot from a ring's words (the ring's own Int32Array view). */
  push(ringWords: Int32Array, wordIndex: number): void {
    if ((this.count + 1) * SLOT_WORDS > this.i32.length) this.grow();
    this.i32.set(ringWords.subarray(wordIndex, wordIndex + SLOT_WORDS), this.count * SLOT_WORDS);
    this.count++;
  }

  /** Append `n` contiguous slots. */
  pushMany(ringWords: Int32Array, wordIndex: number, n: number): void {
    while ((this.count + n) * SLOT_WORDS > this.i32.length) this.grow();
    this.i32.set(ringWords.subarray(wordIndex, wordIndex + n * SLOT_WORDS), this.count * SLOT_WORDS);
    this.count += n;
  }

  private grow(): void {
    const next = new Int32Array(this.i32.length * 2);
    next.set(this.i32);
    this.i32 = next;
    this.f64 = new Float64Array(next.buffer);
  }

  reset(): void {
    this.count = 0;
  }
}

export class ResultStorePool {
  private readonly free: RangeResults[] = [];

  acquire(): RangeResults {
    return this.free.pop() ?? new RangeResults();
  }

  release(results: RangeResults): void {
    results.reset();
    // Warm stores for every range in flight (one per file appended to, in a directory of
    // thousands): small ones by the hundred, grown ones by the few; a very large one goes to the GC.
    const small = results.i32.length <= INITIAL_SLOTS * SLOT_WORDS;
    if (this.free.length < (small ? 256 : 16) && results.i32.length <= (1 << 20) * SLOT_WORDS) this.free.push(results);
  }
}
