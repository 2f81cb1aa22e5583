/**
 * The result ring: one SharedArrayBuffer carrying parser result slots from ONE
 * producer (a worker thread) to ONE consumer (the main thread). This file is the
 * only place that knows where things live in that buffer.
 *
 * ─── Picture ────────────────────────────────────────────────────────────────
 *
 *   byte 0    ┌──────────────────────────────────────────────────────────┐
 *             │ line 0  [0]  TAIL              producer writes           │
 *   byte 64   ├──────────────────────────────────────────────────────────┤
 *             │ line 1  [16] HEAD              consumer writes           │
 *   byte 128  ├──────────────────────────────────────────────────────────┤
 *             │ line 2  [32] CONSUMER_WAITING  consumer writes 0/1       │
 *   byte 192  ├──────────────────────────────────────────────────────────┤
 *             │ line 3  [48] PRODUCER_WAITING  producer writes 0/1       │
 *   byte 256  ├──────────────────────────────────────────────────────────┤
 *             │ line 4  [64] MAGIC  [65] CAPACITY   written at creation  │
 *   byte 320  ├──────────────────────────────────────────────────────────┤  = RING_HEADER_BYTES
 *             │ slot 0     32 bytes = 8 Int32 words (parser/contract.ts)  │
 *             │ slot 1                                                   │
 *             │ ...                                                      │
 *             │ slot CAPACITY-1                                          │
 *             └──────────────────────────────────────────────────────────┘
 *
 *   [n] = index in the Int32Array over the whole buffer.
 *
 * Every word has exactly one writer, and each written word sits on its own 64-byte
 * line, so one side's write never invalidates a line the other side reads for a
 * different purpose (false sharing). The producer stores TAIL once per batch and
 * reads HEAD only when its cached copy says the batch does not fit. It loads
 * CONSUMER_WAITING once per batch, and that line changes only when the consumer
 * goes to sleep or wakes, so the load normally hits the cache. The consumer, for
 * its part, loads PRODUCER_WAITING once per advance().
 *
 * ─── Invariants ─────────────────────────────────────────────────────────────
 *   - TAIL and HEAD are monotonically increasing uint32 counts of slots, stored in
 *     Int32 words and read with `>>> 0`; they wrap at 2^32, which is harmless
 *     because CAPACITY (a power of two ≤ 2^30) divides 2^32.
 *   - used = (TAIL - HEAD) >>> 0;  empty ⇔ used === 0;  full ⇔ used === CAPACITY.
 *   - slot of index i = i & (CAPACITY - 1).
 *   - Slots [HEAD, TAIL) belong to the consumer, [TAIL, HEAD + CAPACITY) to the
 *     producer. Slot bytes are plain (non-atomic) memory: the producer writes them
 *     before its `Atomics.store(TAIL)`, the consumer reads them after its
 *     `Atomics.load(TAIL)`; Atomics are sequentially consistent, so that store/load
 *     pair orders the plain accesses (and likewise HEAD orders slot reuse).
 *
 * ─── Sleeping ───────────────────────────────────────────────────────────────
 *   Consumer (main thread, never blocks): sets CONSUMER_WAITING = 1 on every ring,
 *   re-checks every ring, then `Atomics.waitAsync` on the shared Doorbell word (see
 *   doorbell.ts for the lost-wakeup argument). The producer, after publishing TAIL,
 *   rings the Doorbell only if this ring's CONSUMER_WAITING is 1 — a busy consumer
 *   costs the producer one load of a line that is not changing.
 *
 *   Producer (worker, may block): when full, sets PRODUCER_WAITING = 1, re-reads
 *   HEAD, and `Atomics.wait`s on HEAD with a timeout. The consumer, after storing
 *   HEAD, notifies HEAD only if PRODUCER_WAITING is 1. Both sides follow
 *   "store my word, then load the other's": under sequential consistency at least
 *   one of them sees the other's store, so a wakeup is never lost.
 *
 * ─── Doorbell (its own 64-byte SharedArrayBuffer, shared by all rings) ──────
 *
 *   byte 0  ┌─────────────────────────────────────────────────────┐
 *           │ [0] SEQ    bumped (Atomics.add) by any producer     │
 *           │ [1] MAGIC  written at creation                      │
 *   byte 64 └─────────────────────────────────────────────────────┘
 *
 *   SEQ is a wrapping counter whose value means nothing; only its change does.
 *   It is written only while the consumer sleeps, so it is not a hot line.
 */

import { SLOT_BYTES, SLOT_WORDS } from '../parser/contract.js';

/** Int32 index of each header word. Each written word owns a 64-byte line. */
export const RING_TAIL = 0;
export const RING_HEAD = 16;
export const RING_CONSUMER_WAITING = 32;
export const RING_PRODUCER_WAITING = 48;
export const RING_MAGIC = 64;
export const RING_CAPACITY = 65;

/** Bytes before slot 0: five 64-byte lines. A multiple of 8 so Float64 views fit. */
export const RING_HEADER_BYTES = 320;

/** "RING" — lets attach() reject a buffer that is not a ring. */
export const RING_MAGIC_VALUE = 0x52494e47;

/** Largest capacity: keeps `used` unambiguous in a uint32 and the buffer < 32 GiB. */
export const RING_MAX_CAPACITY = 1 << 30;

/** Doorbell buffer: Int32 index of its words and its size. */
export const DOORBELL_SEQ = 0;
export const DOORBELL_MAGIC = 1;
export const DOORBELL_BYTES = 64;
/** "BELL" */
export const DOORBELL_MAGIC_VALUE = 0x42454c4c;

export { SLOT_BYTES as RING_SLOT_BYTES, SLOT_WORDS as RING_SLOT_WORDS };

/** Total buffer size for a ring of `capacity` slots. */
export function ringByteLength(capacity: number): number {
  return RING_HEADER_BYTES + capacity * SLOT_BYTES;
}

/** Create and initialise a ring buffer; pass it to one producer and one consumer. */
export function createRingBuffer(capacity: number): SharedArrayBuffer {
  if (
    !Number.isInteger(capacity) ||
    capacity < 1 ||
    capacity > RING_MAX_CAPACITY ||
    (capacity & (capacity - 1)) !== 0
  ) {
    throw new RangeError(
      `ring capacity must be a power of two in [1, ${RING_MAX_CAPACITY}], got ${capacity}`,
    );
  }
  const sab = new SharedArrayBuffer(ringByteLength(capacity));
  const i32 = new Int32Array(sab, 0, RING_HEADER_BYTES >> 2);
  i32[RING_CAPACITY] = capacity;
  // Published last: a view that sees the magic sees the capacity (postMessage of
  // the buffer happens after this anyway; the store is for same-thread attaches).
  Atomics.store(i32, RING_MAGIC, RING_MAGIC_VALUE);
  return sab;
}

/** Validate a ring buffer and return its capacity. */
export function readRingCapacity(sab: SharedArrayBuffer): number {
  if (!(sab instanceof SharedArrayBuffer) || sab.byteLength < RING_HEADER_BYTES) {
    throw new TypeError('ring buffer must be a SharedArrayBuffer made by createRingBuffer');
  }
  const i32 = new Int32Array(sab, 0, RING_HEADER_BYTES >> 2);
  const capacity = i32[RING_CAPACITY]!;
  if (
    Atomics.load(i32, RING_MAGIC) !== RING_MAGIC_VALUE ||
    capacity < 1 ||
    (capacity & (capacity - 1)) !== 0 ||
    sab.byteLength !== ringByteLength(capacity)
  ) {
    throw new TypeError('ring buffer must be a SharedArrayBuffer made by createRingBuffer');
  }
  return capacity;
}
