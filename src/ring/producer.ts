/**
 * Producer end of a result ring; runs in a worker thread (it may block).
 * Layout and the sleeping protocol are documented in layout.ts.
 *
 * Cost per batch when the ring has room: one bulk copy (or a short word loop for
 * small batches), one tag-stamping loop, one `Atomics.store(TAIL)` and one
 * `Atomics.load(CONSUMER_WAITING)` of a line that only changes when the consumer
 * sleeps. HEAD is read only when the cached copy says the batch does not fit.
 */

import { SLOT_WORDS, W_TAG } from '../parser/contract.js';
import { Doorbell } from './doorbell.js';
import { RingStalledError } from './errors.js';
import {
  RING_CONSUMER_WAITING,
  RING_HEAD,
  RING_HEADER_BYTES,
  RING_PRODUCER_WAITING,
  RING_TAIL,
  readRingCapacity,
} from './layout.js';

export interface RingProducerOptions {
  /**
   * Longest time the producer waits on a full ring while the consumer frees no
   * slot at all, before write() throws RingStalledError. A slow consumer that
   * keeps freeing slots never trips it. Default 30 000 ms.
   */
  readonly stallLimitMs?: number;
}

/**
 * Below this many slots a plain word loop beats `subarray()+set()`: it avoids
 * allocating a view and the call into the copy builtin. From here on the two
 * are even and above it the bulk copy wins, by more the longer the segment
 * (measured by hand on Node 20; figures in bench/RESULTS.md; bench/ring.ts
 * measures the ring as a whole), and one small view per segment of ≥ 8 slots
 * is noise next to the copy.
 */
const BULK_COPY_MIN_SLOTS = 8;

export class RingProducer {
  readonly capacity: number;
  readonly #mask: number;
  readonly #header: Int32Array;
  /** Slot words only: slot s occupies [s*8, s*8+8). */
  readonly #slots: Int32Array;
  readonly #doorbell: Doorbell;
  readonly #stallLimitMs: number;
  /** Our own TAIL (we are its only writer), as uint32. */
  #tail: number;
  /** Last HEAD we loaded, as uint32; never ahead of the real HEAD. */
  #cachedHead: number;
  /** Times write() had to wait for space, and the total time waited. */
  waits = 0;
  waitedMs = 0;

  /**
   * @param ring a buffer from createRingBuffer (this thread must be its only producer)
   * @param doorbell the consumer's Doorbell, or its sharedBuffer (attached here)
   */
  constructor(
    ring: SharedArrayBuffer,
    doorbell: Doorbell | SharedArrayBuffer,
    options: RingProducerOptions = {},
  ) {
    const stall = options.stallLimitMs ?? 30_000;
    if (!(stall > 0)) throw new RangeError(`stallLimitMs must be > 0, got ${stall}`);
    this.capacity = readRingCapacity(ring);
    this.#mask = this.capacity - 1;
    this.#header = new Int32Array(ring, 0, RING_HEADER_BYTES >> 2);
    this.#slots = new Int32Array(ring, RING_HEADER_BYTES, this.capacity * SLOT_WORDS);
    this.#doorbell = doorbell instanceof Doorbell ? doorbell : Doorbell.attach(doorbell);
    this.#stallLimitMs = stall;
    this.#tail = Atomics.load(this.#header, RING_TAIL) >>> 0;
    this.#cachedHead = Atomics.load(this.#header, RING_HEAD) >>> 0;
  }

  /**
   * Copy slots [firstSlot, firstSlot + count) of `batch` (a parser's output,
   * 8 Int32 words per slot) into the ring, stamping word 7 (tag) of each copy with
   * `rangeId`; `batch` itself is not modified. Publishes once when the whole batch
   * fits; otherwise publishes what fits, waits for room, and continues. Returns
   * when every slot is published — nothing is ever dropped.
   * @throws RingStalledError when the consumer frees nothing for stallLimitMs;
   *   its `written` slots are published, the rest are still the caller's.
   */
  write(batch: Int32Array, count: number, rangeId: number, firstSlot = 0): void {
    if (count <= 0) return;
    if ((firstSlot + count) * SLOT_WORDS > batch.length || firstSlot < 0) {
      throw new RangeError(
        `slots [${firstSlot}, ${firstSlot + count}) exceed a batch of ${batch.length / SLOT_WORDS}`,
      );
    }
    const cap = this.capacity;
    let tail = this.#tail;
    let done = 0;
    while (done < count) {
      const want = count - done;
      let free = cap - ((tail - this.#cachedHead) >>> 0);
      if (free < want) {
        this.#cachedHead = Atomics.load(this.#header, RING_HEAD) >>> 0;
        free = cap - ((tail - this.#cachedHead) >>> 0);
        if (free === 0) {
          // Let the consumer see what we have so far, then sleep until it frees room.
          this.#publish(tail);
          this.#waitForRoom(tail, done, count);
          continue;
        }
      }
      const n = free < want ? free : want;
      this.#copy(batch, firstSlot + done, tail & this.#mask, n, rangeId);
      tail = (tail + n) >>> 0;
      done += n;
    }
    this.#publish(tail);
  }

  #copy(batch: Int32Array, srcSlot: number, dstSlot: number, n: number, rangeId: number): void {
    const first = this.capacity - dstSlot;
    if (n <= first) {
      this.#copySegment(batch, srcSlot, dstSlot, n, rangeId);
    } else {
      // Wrap-around: the tail end of the buffer, then its start.
      this.#copySegment(batch, srcSlot, dstSlot, first, rangeId);
      this.#copySegment(batch, srcSlot + first, 0, n - first, rangeId);
    }
  }

  #copySegment(batch: Int32Array, srcSlot: number, dstSlot: number, n: number, tag: number): void {
    const slots = this.#slots;
    const src = srcSlot * SLOT_WORDS;
    const dst = dstSlot * SLOT_WORDS;
    const words = n * SLOT_WORDS;
    if (n >= BULK_COPY_MIN_SLOTS) {
      slots.set(batch.subarray(src, src + words), dst);
    } else {
      for (let w = 0; w < words; w++) slots[dst + w] = batch[src + w]!;
    }
    for (let i = dst + W_TAG, end = dst + words; i < end; i += SLOT_WORDS) slots[i] = tag;
  }

  #publish(tail: number): void {
    if (tail === this.#tail) return;
    this.#tail = tail;
    // Release: every slot word written above is visible to whoever loads this TAIL.
    Atomics.store(this.#header, RING_TAIL, tail | 0);
    if (Atomics.load(this.#header, RING_CONSUMER_WAITING) !== 0) this.#doorbell.ring();
  }

  /**
   * Block until at least one slot is free. Why Atomics.wait and not a spin: a
   * full ring means the consumer is behind by a whole ring, so a futex sleep costs
   * nothing measurable, and a spinning worker would steal the CPU the consumer
   * needs to catch up. Ordering: we store PRODUCER_WAITING before re-loading HEAD;
   * the consumer stores HEAD before loading PRODUCER_WAITING (see layout.ts), and
   * Atomics.wait re-checks HEAD atomically, so a notify is never missed.
   */
  #waitForRoom(tail: number, done: number, count: number): void {
    const header = this.#header;
    const started = performance.now();
    this.waits++;
    Atomics.store(header, RING_PRODUCER_WAITING, 1);
    try {
      for (;;) {
        const head = Atomics.load(header, RING_HEAD);
        if ((tail - (head >>> 0)) >>> 0 < this.capacity) {
          this.#cachedHead = head >>> 0;
          return;
        }
        const waited = performance.now() - started;
        if (waited >= this.#stallLimitMs) {
          throw new RingStalledError({ written: done, remaining: count - done, waitedMs: waited });
        }
        Atomics.wait(header, RING_HEAD, head, this.#stallLimitMs - waited);
      }
    } finally {
      Atomics.store(header, RING_PRODUCER_WAITING, 0);
      this.waitedMs += performance.now() - started;
    }
  }
}
