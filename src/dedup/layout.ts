/**
 * The dedup table: one SharedArrayBuffer that any number of threads attach to
 * and insert into concurrently. This file is the only place that knows where
 * things live in it, and why inserts are correct.
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
 *              │ line 3  unused: keeps bucket 0 off the header lines       │
 *   byte 256   ╞══════════════════════════════════════════════════════════╡ BUCKETS_BYTE
 *              │ bucket 0, 128 bytes = 2 cache lines, 128-byte aligned:    │
 *              │  +0   ┌────────┬────────┬────────┬────────┐               │
 *              │       │version │reserved│reserved│reserved│ header, 16 B  │
 *              │  +16  ├────────┴────────┼────────┴────────┤               │
 *              │       │ slot 0: hashLo hashHi │ time f64  │ ┐ line 0      │
 *              │  +32  │ slot 1                            │ │             │
 *              │  +48  │ slot 2                            │ ┘             │
 *              │  +64  │ slot 3                            │ ┐ line 1      │
 *              │  +80  │ slot 4                            │ │             │
 *              │  +96  │ slot 5                            │ │             │
 *              │  +112 │ slot 6                            │ ┘             │
 *              │  +128 └───────────────────────────────────┘               │
 *   byte 384   ├──────────────────────────────────────────────────────────┤
 *              │ bucket 1 ...                                              │
 *              │ bucket BUCKETS-1                                          │
 *              └──────────────────────────────────────────────────────────┘
 *
 *   [n] = Int32 index, f64[n] = Float64 index, both over the whole buffer.
 *   capacity = BUCKETS × 7 = requested capacity rounded up to a multiple of 7
 *   (BUCKETS need not be a power of two). A key's bucket is
 *   bucketIndex(hashLo, hashHi, BUCKETS): the high bits of a 32-bit mix of the
 *   key, scaled to [0, BUCKETS) by one multiply ("fastrange").
 *
 *   Why this shape: one insert touches ONE 128-byte block in ONE 4 KiB page —
 *   version word, keys and times of a bucket together, the version's line also
 *   holding slots 0–2 — where the earlier layout (an array of version words,
 *   then 8 slots per 128 bytes) touched two pages and two or three lines.
 *   Measured gain, same process, alternating rounds (bench/dedup.ts --sweep,
 *   L/C ≈ 0.1, 2-core VM shared with other work): median per-round time
 *   new/old 0.90–1.03 at 1 M slots, 0.84–1.00 at 4 M, 0.84–0.92 at 16 M; ~250–
 *   400 ns per insert either way. It is small because those misses already
 *   overlapped: what an insert costs is ONE dependent DRAM round trip plus a
 *   page walk (no huge pages for a SharedArrayBuffer) that cannot overlap the
 *   next insert's, since each insert has a locked instruction and branches on
 *   the loaded data. A bare dependent random read over the same memory
 *   measures ~0.6 of an insert; that is the floor for one-key-at-a-time calls.
 *   Going below it needs several keys' buckets requested before the first
 *   insert's CAS: DedupTable.touch(), which the emit stage calls for the next
 *   16 keyed slots (×0.71 per insert measured in one same-run microbench) on
 *   the JS path. With the addon, DedupTable.insertSlots() runs this same
 *   algorithm in native/src/dedup.rs, one call per range, with prefetches
 *   for the next 16 keyed slots (bench/dedup.ts: 15.0 M inserts/s against
 *   4.0 M/s for insertAt, same run). A fresh table's pages are faulted in on
 *   a background thread at the first key (native/src/memory.rs).
 *   8 slots + a version do not fit 128 bytes. 15 slots per 256 bytes overflow
 *   far less (L/C 0.1 → 8e-11) but scan up to 4 lines and measured slower at
 *   L/C ≥ 0.2.
 *
 * ─── Slot states ────────────────────────────────────────────────────────────
 *   empty:   time is 0.0, as a new SharedArrayBuffer is zero-filled: creating
 *            a table writes nothing, and its pages become resident only as keys
 *            land in them. 0.0 is never stored later (insert() stores a time
 *            of ±0 as Number.MIN_VALUE, indistinguishable in any window
 *            comparison, and rejects non-finite times). Slots are
 *            never emptied again, and a key takes the FIRST empty or expired
 *            slot, so empty slots always form a suffix of the bucket: a scan
 *            stops at the first one.
 *   live:    time + WINDOW_MS ≥ watermark.
 *   expired: time + WINDOW_MS < watermark; any key may overwrite it.
 *   A key is identified by BOTH hash words; a bucket never holds a key twice.
 *
 * ─── Per-bucket lock: the version word ─────────────────────────────────────
 *   Every insert, whatever its outcome, runs in its bucket's critical section:
 *     v = plain read of version[b] (only a guess for the CAS: any value is safe)
 *     if v is odd: held by another thread, back off, re-read, retry
 *     Atomics.compareExchange(version[b], v, v + 1) === v   → we hold b; else retry
 *     scan the 7 slots, write at most one slot (plain reads and writes)
 *     Atomics.store(version[b], v + 2)                      → release
 *   Why exactly one NEW per key: all inserts of a key go to the same bucket, and
 *   the scan-decide-write of each runs while holding that bucket, so inserts of
 *   one key are totally ordered; only the first (or the first after the entry
 *   expired) finds it absent. Only 32-bit CAS is needed, although keys are 64
 *   bits and times are f64.
 *   Memory ordering: the successful CAS reads the value written by the previous
 *   holder's Atomics.store; both are SeqCst, so that store synchronizes-with the
 *   CAS and the previous holder's plain slot writes happen-before our plain slot
 *   reads (ECMAScript memory model, "happens-before"; ordinary mutex reasoning,
 *   valid on weakly ordered CPUs such as ARM64 too). Nobody reads slots outside
 *   the lock except stats(), which only estimates.
 *   Atomics calls per insert: 2 for every outcome (CAS + store), +1 Atomics.add
 *   on OVERFLOW. The previous optimistic seqlock (Atomics.load, plain scan,
 *   then CAS(v, v) to validate a read-only outcome, or CAS(v, v + 1) + store to
 *   write) needed 3 for NEW, the common outcome, and its read side rested on
 *   the subtler "validate with a read-modify-write" argument (Boehm, 2012).
 *   Each Atomics call is a builtin call in Node 20's optimizing compiler (~10–
 *   15 ns each in isolation); end to end the difference was within noise. A
 *   DUPLICATE now writes the version line; so did the old CAS(v, v) on x86.
 *   Honest limits: a thread holds its bucket for one scan (≤ 7 slots, at most
 *   one more cache miss for the second line) and ≤ 3 plain stores; if it is
 *   descheduled right then, other threads inserting into THAT bucket spin, then
 *   sleep in 50 µs steps, and fail with DedupStalledError after stallLimitMs.
 *   Other buckets are unaffected. Nothing that can throw runs while a bucket is
 *   held. The version wraps (as an Int32) after 2^31 acquisitions of one
 *   bucket; harmless, only odd/even and equality with the value just read count.
 *
 * ─── Watermark ──────────────────────────────────────────────────────────────
 *   The largest event time inserted so far. Each handle keeps its own maximum
 *   and publishes it to WATERMARK (under the WM_SEQ seqlock) only when it has
 *   grown by windowMs/16 since the last publish, so monotonically increasing
 *   inserts do not all write one shared line. A handle reads WATERMARK when a
 *   bucket looks full before answering OVERFLOW (after releasing the bucket).
 *   Net effect: a thread's view of the watermark is never above the true
 *   maximum and lags other threads by ≤ windowMs/16; entries expire a little
 *   late (conservative), never early. In one thread it is exact.
 *
 * ─── Sizing ─────────────────────────────────────────────────────────────────
 *   There is no probing into neighbour buckets, so a new key overflows when its
 *   bucket already holds 7 live keys. With L live keys spread uniformly over
 *   capacity C, the other live keys in a bucket are ≈ Poisson(7·L/C):
 *       P(OVERFLOW per new key) ≈ P(Poisson(7·L/C) ≥ 7)
 *       L/C = 0.05 → 9.4e-8    0.10 → 8.9e-6    0.125 → 3.6e-5
 *             0.20 → 6.2e-4    0.25 → 2.2e-3    0.50  → 6.5e-2
 *   (8-slot buckets, before: 1.1e-8, 2.1e-6, 1.0e-5, 2.6e-4, 1.1e-3, 5.1e-2.)
 *   bench/dedup.ts --sweep --load 0.2 (distinct live keys L/C ≈ 0.16, where the
 *   formula gives 1.7e-4; 8 slots: 5.8e-5) measures 0.9–1.5e-4 (8 slots, same
 *   run: 3.4–5.0e-5). Size capacity ≥ 10× the keys live in one window; each
 *   slot costs 128/7 ≈ 18.3 bytes (8 slots: 16.5). At L/C = 0.1, after many
 *   windows, 66 % of buckets have ≤ 2 slots in use (live or not yet reused),
 *   so a scan that ends at the first empty slot stays in line 0; 93 % ≤ 3.
 *
 * ─── Failure directions ─────────────────────────────────────────────────────
 *   - OVERFLOW: the key's bucket holds 7 live entries. The engine passes the
 *     record through and counts it; a unique record is never dropped.
 *   - Late events (older than watermark − window) whose entry was reclaimed come
 *     back NEW: duplicates may pass, uniques are never dropped. A bogus future
 *     time advances the watermark and makes the table forget, same direction.
 *   - False DUPLICATE (a unique record dropped) needs a full 64-bit hash match
 *     with a live entry. For uniform hashes, P(match with one given key) = 2^-64;
 *     a record is compared only with the ≤ 7 live entries of its bucket, but
 *     those already share the bucket-index bits, so per new record
 *         P(false duplicate) ≈ L / 2^64      (L = live keys in the whole table)
 *     independent of the slot count. E.g. L = 16 M (2^24): 2^-40 ≈ 9.1e-13 per
 *     record, i.e. about one false duplicate per 1.1e12 new records (≈ 0.08 per
 *     day at 1 M new records/s); L = 1 M: ≈ 5.4e-14 per record. This assumes
 *     the two contract hash lanes behave like independent uniform 32-bit
 *     values; it is no defence against keys crafted to collide.
 */

/** Slots per bucket: a 16-byte header + 7 × 16-byte slots = 128 bytes, two cache lines. */
export const BUCKET_SLOTS = 7;
export const BUCKET_BYTES = 128;
/** Int32 / Float64 words per bucket. */
export const BUCKET_I32 = BUCKET_BYTES >> 2;
export const BUCKET_F64 = BUCKET_BYTES >> 3;
export const SLOT_BYTES = 16;
/** Int32 words per slot: hashLo, hashHi, then the Float64 time (2 words). */
export const SLOT_I32 = 4;
/** Float64 words per slot; the time is the second one. */
export const SLOT_F64 = 2;
/** Int32 offset of slot 0's hashLo from the bucket's version word (the header is 16 bytes). */
export const SLOT0_I32 = 4;
/** Float64 offset of slot 0's time from the bucket's first Float64 word. */
export const SLOT0_TIME_F64 = 3;

export const H_MAGIC = 0;
export const H_BUCKETS = 1;
export const H_BUCKET_SLOTS = 2;
export const H_WINDOW_F64 = 2; // Float64 index: bytes 16..23
export const H_OVERFLOWS_LO = 16;
export const H_OVERFLOWS_HI = 17;
export const H_WM_SEQ = 32;
export const H_WATERMARK_F64 = 17; // Float64 index: bytes 136..143
export const HEADER_BYTES = 256;
/** Byte offset of bucket 0 (a multiple of 128). */
export const BUCKETS_BYTE = HEADER_BYTES;

/** "DDU8": 0.0 marks an empty slot (DDU7 tables used NaN, and the 8-slot layout before them). */
export const DEDUP_MAGIC = 0x44445538;

/**
 * Largest bucket count: 2^26 buckets = 8 GiB, beyond any SAB we would want;
 * also keeps bucketIndex's multiply exact enough to stay below BUCKETS.
 */
export const MAX_BUCKETS = 1 << 26;

export interface DedupGeometry {
  readonly buckets: number;
  readonly capacity: number;
  readonly byteLength: number;
}

/** Round `capacity` up to a whole number of 7-slot buckets and size the buffer. */
export function geometryFor(capacity: number): DedupGeometry {
  if (!Number.isInteger(capacity) || capacity < 1) {
    throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
  }
  const buckets = Math.ceil(capacity / BUCKET_SLOTS);
  if (buckets > MAX_BUCKETS) {
    throw new RangeError(`capacity ${capacity} exceeds ${MAX_BUCKETS * BUCKET_SLOTS} slots`);
  }
  return geometryOfBuckets(buckets);
}

export function geometryOfBuckets(buckets: number): DedupGeometry {
  return {
    buckets,
    capacity: buckets * BUCKET_SLOTS,
    byteLength: BUCKETS_BYTE + buckets * BUCKET_BYTES,
  };
}

/** 2^-32. */
const TO_UNIT = 2.3283064365386963e-10;

/**
 * Bucket of a key, in [0, buckets). The contract's hash lanes are already
 * fmix32-finalised; hashHi is folded in (high half onto low, then an odd
 * multiply) so keys that differ only in hashHi still spread. The 32-bit mix is
 * then scaled by `buckets` (floor(mix × buckets / 2^32), "fastrange"), so any
 * bucket count works and the HIGH bits pick the bucket. The product is a double
 * below 2^58; its rounding error (≤ 16) is far less than `buckets` whenever it
 * is inexact (buckets > 2^21), so the result never reaches `buckets`, and every
 * thread computes the same value.
 * With hashHi = 0 the bucket is floor((hashLo >>> 0) × buckets / 2^32) — tests
 * use that to build collisions.
 */
export function bucketIndex(hashLo: number, hashHi: number, buckets: number): number {
  const mix = hashLo ^ Math.imul(hashHi ^ (hashHi >>> 15), 0x2c1b3c6d);
  return ((mix >>> 0) * buckets * TO_UNIT) | 0;
}
