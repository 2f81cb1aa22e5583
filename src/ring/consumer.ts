/**
 * Consumer end of a result ring; runs on the main thread and never blocks.
 * Layout and the sleeping protocol are documented in layout.ts and doorbell.ts.
 *
 * ─── Reading: peek / headSlot / advance ─────────────────────────────────────
 * The lowest-overhead shape is a contiguous run the caller loops over inline,
 * with no callback and no masking per slot:
 *
 *     for (let n = c.peek(); n > 0; n = c.peek()) {
 *       const first = c.headSlot;
 *       for (let s = first; s < first + n; s++) {
 *         const status = c.i32[s * SLOT_WORDS + W_STATUS]!;
 *         const time = c.f64[s * SLOT_F64_WORDS]!;
 *         ...
 *       }
 *       c.advance(n);            // hands the slots back to the producer
 *     }
 *
 * peek() returns at most the slots up to the end of the buffer, so a wrapped
 * backlog takes two runs. Slots stay valid until advance() passes them; read
 * what you need before advancing. `drain(visit)` wraps the same loop around a
 * callback for callers that prefer it (one call per slot on top).
 */

import { SLOT_F64_WORDS, SLOT_WORDS } from '../parser/contract.js';
import type { DoorbellRing } from './doorbell.js';
import {
  RING_CONSUMER_WAITING,
  RING_HEAD,
  RING_HEADER_BYTES,
  RING_PRODUCER_WAITING,
  RING_TAIL,
  readRingCapacity,
} from './layout.js';

export { Doorbell } from './doorbell.js';
export type { DoorbellRing, DoorbellWaitResult } from './doorbell.js';

/** Visitor for drain(): slot words are i32[slotIndex*8 + w], time is f64[slotIndex*4]. */
export type SlotVisitor = (i32: Int32Array, f64: Float64Array, slotIndex: number) => void;

export class RingConsumer implements DoorbellRing {
  readonly capacity: number;
  /** Slot words: slot s occupies i32[s*8 .. s*8+8). Read-only for callers. */
  readonly i32: Int32Array;
  /** The same slots as Float64: eventTime of slot s is f64[s*4]. */
  readonly f64: Float64Array;
  readonly #sab: SharedArrayBuffer;
  readonly #mask: number;
  readonly #header: Int32Array;
  /** Our own HEAD (we are its only writer), as uint32. */
  #head: number;
  /** Last TAIL we loaded, as uint32. */
  #tail: number;

  constructor(ring: SharedArrayBuffer) {
    this.capacity = readRingCapacity(ring);
    this.#sab = ring;
    this.#mask = this.capacity - 1;
    this.#header = new Int32Array(ring, 0, RING_HEADER_BYTES >> 2);
    this.i32 = new Int32Array(ring, RING_HEADER_BYTES, this.capacity * SLOT_WORDS);
    this.f64 = new Float64Array(ring, RING_HEADER_BYTES, this.capacity * SLOT_F64_WORDS);
    this.#head = Atomics.load(this.#header, RING_HEAD) >>> 0;
    this.#tail = Atomics.load(this.#header, RING_TAIL) >>> 0;
  }

  get sharedBuffer(): SharedArrayBuffer {
    return this.#sab;
  }

  /** Slot index (into i32/f64 by ×8/×4) of the oldest unread slot. */
  get headSlot(): number {
    return this.#head & this.#mask;
  }

  /** All readable slots right now, wrapped or not. One Atomics.load of TAIL. */
  available(): number {
    // Acquire: slot words written before the producer's store of this TAIL are visible.
    this.#tail = Atomics.load(this.#header, RING_TAIL) >>> 0;
    return (this.#tail - this.#head) >>> 0;
  }

  /** Readable slots contiguous from headSlot (stops at the end of the buffer). */
  peek(): number {
    const used = this.available();
    const toEnd = this.capacity - (this.#head & this.#mask);
    return used < toEnd ? used : toEnd;
  }

  /**
   * Hand the oldest `n` readable slots back to the producer, waking it if it is
   * waiting for room. `n` must not exceed what the last peek()/available() saw.
   */
  advance(n: number): void {
    if (n <= 0) return;
    if (n > ((this.#tail - this.#head) >>> 0)) {
      throw new RangeError(`advance(${n}) passes the last observed tail`);
    }
    this.#head = (this.#head + n) >>> 0;
    // Store HEAD, then load PRODUCER_WAITING: the mirror of the producer's order.
    Atomics.store(this.#header, RING_HEAD, this.#head | 0);
    if (Atomics.load(this.#header, RING_PRODUCER_WAITING) !== 0) {
      Atomics.notify(this.#header, RING_HEAD, 1);
    }
  }

  /**
   * Visit up to `max` slots, oldest first, and advance past them; returns how many.
   * Only slots already readable on entry are visited, so a fast producer cannot
   * keep the main thread here. If `visit` throws, the slots of the current run
   * are not advanced and will be visited again.
   */
  drain(visit: SlotVisitor, max = Number.POSITIVE_INFINITY): number {
    const avail = this.available();
    const limit = avail < max ? avail : max;
    const i32 = this.i32;
    const f64 = this.f64;
    let total = 0;
    while (total < limit) {
      const first = this.#head & this.#mask;
      const toEnd = this.capacity - first;
      const left = limit - total;
      const n = left < toEnd ? left : toEnd;
      for (let s = first, end = first + n; s < end; s++) visit(i32, f64, s);
      this.advance(n);
      total += n;
    }
    return total;
  }

  /** Doorbell use: store this ring's CONSUMER_WAITING flag. */
  setWaiting(on: boolean): void {
    Atomics.store(this.#header, RING_CONSUMER_WAITING, on ? 1 : 0);
  }
}
