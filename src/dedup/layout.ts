/**
 * The dedup table: one SharedArrayBuffer that any number of threads attach to
 * and insert into concurrently. This file is the only place that knows where
 * things live in it, and why inserts are correct without a lock.
 *
 * ─── Picture ────────────────────────────────────────────────────────────────
 *
 *   byte 0     ┌──────────────────────────────────────────────────────────┐
 *              │ line 0  [0] MAGIC  [1] BUCKETS  [2] BUCKET_SLOTS          │
 *              │         f64[2] WINDOW_MS            written at creation   │
 *   byte 64    ├──────────────────────────────────────────────────────────┤
 *              │ line 1  [16] OVERFLOWS_LO  [17] OVERFLOWS_HI  Atomics.add │
 *   byte 128   ├──────────────────────────────────────────────────────────┤
 *              │ line 2  [32] WM_SEQ   f64[17] WATERMARK   own seqlock     │
 *   byte 192   ├──────────────────────────────────────────────────────────┤
 *              │ line 3  unused: keeps the versions off the header lines   │
 *   byte 256   ├──────────────────────────────────────────────────────────┤ VERSIONS_BYTE
 *              │ version[b]: Int32 per bucket (16 per line), the seqlock   │
 *              │ padded to a multiple of 64 bytes                          │
 *   SLOTS_BYTE ├──────────────────────────────────────────────────────────┤
 *              │ bucket 0: 8 slots × 16 bytes = 128 bytes = 2 cache lines  │
 *              │   slot: [hashLo Int32][hashHi Int32][time Float64]        │
 *              │ bucket 1 ...                                              │
 *              │ bucket BUCKETS-1                                          │
 *              └──────────────────────────────────────────────────────────┘
 *
 *   [n] = Int32 index, f64[n] = Float64 index, both over the whole buffer.
 *   capacity = BUCKETS × 8; BUCKETS is a power of two (requested capacity is
 *   rounded up). A key's bucket is bucketIndex(hashLo, hashHi) & (BUCKETS - 1).
 *
 * ─── Slot states ────────────────────────────────────────────────────────────
 *   empty:   time is NaN (the whole slot region is NaN-filled at creation; NaN
 *            is never stored later because insert() rejects non-finite times).
 *            Slots are never emptied again, and a key takes the FIRST empty or
 *            expired slot, so empty slots always form a suffix of the bucket:
 *            a scan stops at the first one.
 *   live:    time + WINDOW_MS ≥ watermark.
 *   expired: time + WINDOW_MS < watermark; any key may overwrite it.
 *   A key is identified by BOTH hash words; a bucket never holds a key twice.
 *
 * ─── Per-bucket optimistic seqlock ─────────────────────────────────────────
 *   reader/writer:  v = Atomics.load(version[b]); if v is odd, back off, retry.
 *                   Scan the 8 slots with plain reads.
 *   DUPLICATE or OVERFLOW (read-only outcome): validate with
 *                   Atomics.compareExchange(version[b], v, v) === v, else retry.
 *   NEW (claim an empty/expired slot, or refresh the key's own expired time):
 *                   Atomics.compareExchange(version[b], v, v + 1) === v, else
 *                   rescan; write the slot; Atomics.store(version[b], v + 2).
 *   Why exactly one NEW per key: all inserts of a key go to the same bucket, and
 *   a writer only succeeds if the version is still the even value it scanned
 *   under, i.e. nobody changed the bucket since it concluded "key absent" (or
 *   "key expired"). Two racing inserts of one key cannot both pass that CAS from
 *   the same v; the loser rescans and finds the winner's entry → DUPLICATE.
 *   Only 32-bit CAS is needed, although keys are 64 bits and times are f64.
 *   Why the read-only outcomes validate with a CAS instead of a second load: a
 *   plain Atomics.load after the slot reads does not stop a weakly ordered CPU
 *   (ARM64) from performing those plain reads after it; a read-modify-write
 *   does (Boehm, "Can seqlocks get along with programming language memory
 *   models?", 2012). On x86 it costs one locked instruction per insert.
 *   Honest limits: a writer holds its bucket for three plain stores; if its
 *   thread is descheduled right then, other threads inserting into THAT bucket
 *   spin, then sleep in 50 µs steps, and fail with DedupStalledError after
 *   stallLimitMs. Other buckets are unaffected. A reader stalled across exactly
 *   2^31 writes to its bucket would be fooled by the wrapped version (ABA); that
 *   is not a practical concern.
 *
 * ─── Watermark ──────────────────────────────────────────────────────────────
 *   The largest event time inserted so far. Each handle keeps its own maximum
 *   and publishes it to WATERMARK (under the WM_SEQ seqlock, same protocol as a
 *   bucket) only when it has grown by windowMs/16 since the last publish, so
 *   monotonically increasing inserts do not all write one shared line. A handle
 *   reads WATERMARK when a bucket looks full before answering OVERFLOW. Net
 *   effect: a thread's view of the watermark is never above the true maximum
 *   and lags other threads by ≤ windowMs/16; entries expire a little late
 *   (conservative), never early. In one thread it is exact.
 *
 * ─── Sizing ─────────────────────────────────────────────────────────────────
 *   There is no probing into neighbour buckets, so a new key overflows when its
 *   bucket already holds 8 live keys. With L live keys spread uniformly over
 *   capacity C, the other live keys in a bucket are ≈ Poisson(8·L/C):
 *       P(OVERFLOW per new key) ≈ P(Poisson(8·L/C) ≥ 8)
 *       L/C = 0.05 → 1.1e-8    0.10 → 2.1e-6    0.125 → 1.0e-5
 *             0.20 → 2.6e-4    0.25 → 1.1e-3    0.50  → 5.1e-2
 *   (bench/dedup.ts at L/C ≈ 0.19 measures ≈ 1.4e-4.) Size capacity ≥ 10× the
 *   keys live in one window; each slot costs 16 bytes + 0.5 byte of version.
 *
 * ─── Failure directions ─────────────────────────────────────────────────────
 *   - OVERFLOW: the key's bucket holds 8 live entries. The engine passes the
 *     record through and counts it; a unique record is never dropped.
 *   - Late events (older than watermark − window) whose entry was reclaimed come
 *     back NEW: duplicates may pass, uniques are never dropped. A bogus future
 *     time advances the watermark and makes the table forget, same direction.
 *   - False DUPLICATE (a unique record dropped) needs a full 64-bit hash match
 *     with a live entry. For uniform hashes, P(match with one given key) = 2^-64;
 *     a record is compared only with the ≤ 8 live entries of its bucket, but
 *     those already share the bucket-index bits, so per new record
 *         P(false duplicate) ≈ L / 2^64      (L = live keys in the whole table)
 *     e.g. L = 16 M (2^24): 2^-40 ≈ 9.1e-13 per record, i.e. about one false
 *     duplicate per 1.1e12 new records (≈ 0.08 per day at 1 M new records/s);
 *     L = 1 M: ≈ 5.4e-14 per record. This assumes the two contract hash lanes
 *     behave like independent uniform 32-bit values; it is no defence against
 *     keys crafted to collide.
 */

/** Slots per bucket: 8 × 16 bytes = 128 bytes, two cache lines. */
export const BUCKET_SLOTS = 8;
/** Int32 words per slot: hashLo, hashHi, then the Float64 time (2 words). */
export const SLOT_I32 = 4;
/** Float64 words per slot; the time is the second one. */
export const SLOT_F64 = 2;
export const SLOT_BYTES = 16;
export const BUCKET_BYTES = BUCKET_SLOTS * SLOT_BYTES;

export const H_MAGIC = 0;
export const H_BUCKETS = 1;
export const H_BUCKET_SLOTS = 2;
export const H_WINDOW_F64 = 2; // Float64 index: bytes 16..23
export const H_OVERFLOWS_LO = 16;
export const H_OVERFLOWS_HI = 17;
export const H_WM_SEQ = 32;
export const H_WATERMARK_F64 = 17; // Float64 index: bytes 136..143
export const HEADER_BYTES = 256;
export const VERSIONS_BYTE = HEADER_BYTES;

/** "DDUP" */
export const DEDUP_MAGIC = 0x44445550;

/** Largest bucket count: 2^26 buckets = 512 M slots (8 GiB), beyond any SAB we would want. */
export const MAX_BUCKETS = 1 << 26;

export interface DedupGeometry {
  readonly buckets: number;
  readonly capacity: number;
  /** Byte offset of bucket 0's slot 0. */
  readonly slotsByte: number;
  readonly byteLength: number;
}

/** Round `capacity` up to a power-of-two number of buckets and size the buffer. */
export function geometryFor(capacity: number): DedupGeometry {
  if (!Number.isInteger(capacity) || capacity < 1) {
    throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
  }
  let buckets = 1;
  while (buckets * BUCKET_SLOTS < capacity) buckets *= 2;
  if (buckets > MAX_BUCKETS) {
    throw new RangeError(`capacity ${capacity} exceeds ${MAX_BUCKETS * BUCKET_SLOTS} slots`);
  }
  return geometryOfBuckets(buckets);
}

export function geometryOfBuckets(buckets: number): DedupGeometry {
  const versionBytes = Math.ceil((buckets * 4) / 64) * 64;
  const slotsByte = VERSIONS_BYTE + versionBytes;
  return {
    buckets,
    capacity: buckets * BUCKET_SLOTS,
    slotsByte,
    byteLength: slotsByte + buckets * BUCKET_BYTES,
  };
}

/**
 * Bucket of a key. The contract's hash lanes are already fmix32-finalised, so
 * hashLo's low bits are usable as is; hashHi is folded in (high half onto low,
 * then an odd multiply) so keys that differ only in hashHi still spread.
 * With hashHi = 0 the bucket is hashLo & mask — tests use that to build collisions.
 */
export function bucketIndex(hashLo: number, hashHi: number, mask: number): number {
  return (hashLo ^ Math.imul(hashHi ^ (hashHi >>> 15), 0x2c1b3c6d)) & mask;
}
