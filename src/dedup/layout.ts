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
 *              │ line 1  [18] FORGOTTEN_LO [19] _HI  [20] FORGOTTEN_IN_    │
 *              │         WINDOW_LO [21] _HI  [22] FILLED  Atomics.add      │
 *   byte 128   ├──────────────────────────────────────────────────────────┤
 *              │ line 2  [32] WM_SEQ   f64[17] WATERMARK   own seqlock     │
 *              │         f64[18] LOW_WATERMARK  (engine-set, NaN = unset)  │
 *   byte 192   ├──────────────────────────────────────────────────────────┤
 *              │ line 3  unused: keeps bucket 0 off the header lines       │
 *   byte 256   ╞══════════════════════════════════════════════════════════╡ BUCKETS_BYTE
 *              │ bucket 0, 128 bytes = 2 cache lines, 128-byte aligned:    │
 *              │  +0   ┌────────┬────────┬────────┬────────┐               │
 *              │       │version │ spill  │reserved│reserved│ header, 16 B  │
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
 *              │ bucket BUCKETS-1 (last home bucket)                       │
 *              │ PROBE_BUCKETS-1 tail buckets (probed into, never home)    │
 *              └──────────────────────────────────────────────────────────┘
 *
 *   [n] = Int32 index, f64[n] = Float64 index, both over the whole buffer.
 *   capacity = BUCKETS × 7 = requested capacity rounded up to a multiple of 7
 *   (BUCKETS need not be a power of two; the tail adds 49 slots). A key's bucket is
 *   bucketIndex(hashLo, hashHi, BUCKETS): the high bits of a 32-bit mix of the
 *   key, scaled to [0, BUCKETS) by one multiply ("fastrange").
 *
 *   Why this shape: one insert touches ONE 128-byte block in ONE 4 KiB page —
 *   version word, keys and times of a bucket together, the version's line also
 *   holding slots 0–2. What an insert costs is one dependent DRAM round trip
 *   plus a page walk, which cannot overlap the next insert's in one-key-at-a-
 *   time calls; DedupTable.touch() (JS path) and the addon's batch insert
 *   (native/src/dedup.rs, prefetching the next 16 keyed slots' home buckets)
 *   put several misses in flight at once. A fresh table's pages are faulted in
 *   on a background thread at the first key (native/src/memory.rs).
 *   8 slots + a version do not fit 128 bytes. bench/dedup.ts checks these
 *   choices; its figures live in bench/RESULTS.md.
 *
 * ─── Slot states ────────────────────────────────────────────────────────────
 *   empty:    time is 0.0, as a new SharedArrayBuffer is zero-filled: creating
 *             a table writes nothing, and its pages become resident only as
 *             keys land in them. 0.0 is never stored later (insert() stores a
 *             time of ±0 as Number.MIN_VALUE, indistinguishable in any window
 *             comparison, and rejects non-finite times).
 *   occupied: a key (both hash words) and the event time of the occurrence
 *             that created it. A key that comes back outside the window of
 *             every entry it has gets one more entry (key, time): occurrences
 *             an hour apart each keep their own, so a copy of either is a
 *             duplicate whichever of them was read first. Refreshing one entry
 *             instead would make the answer depend on read order.
 *   Slots are never emptied again, and a key takes the FIRST empty slot of its
 *   probe sequence, so empty slots form a suffix of every bucket and a bucket
 *   that is full stays full: a scan stops at the first empty slot.
 *
 * ─── Where a key lives: bucket-granular linear probing ─────────────────────
 *   A key's home bucket is h = bucketIndex(key); its probe sequence is buckets
 *   h, h+1, … h+PROBE_BUCKETS−1 (no wrap: the table has PROBE_BUCKETS−1 tail
 *   buckets past the last home bucket). A key is placed in h+i only when
 *   h … h+i−1 are full, and full buckets stay full, so a lookup that meets an
 *   empty slot knows the key is nowhere further. Each home bucket's SPILL word
 *   says how far any key homed there was placed, so a lookup scans h … h+SPILL
 *   only; past it, a new key looks only for an empty slot, and not at all once
 *   FILLED says every slot is taken. 7-slot buckets probed this way hold a
 *   table at load 0.5 (36.6 B per key) with no key pushed past its 8 buckets in
 *   practice, almost all lookups end in the home bucket, and a full table
 *   (long-running follow mode) scans ~2.7 buckets per new key instead of 8
 *   (bench/dedup.ts --forgetting and --sweep; figures in bench/RESULTS.md).
 *
 * ─── Forgetting: only under space pressure, oldest event time first ─────────
 *   The rule the engine promises: a key seen again within the window, measured
 *   on event time, is a duplicate — whatever order files and ranges are read
 *   in, on any worker count or range size, across restarts. So nothing is
 *   forgotten because time has passed: an entry is replaced only when a NEW
 *   key finds no empty slot in its sequence; the victim is the entry with the
 *   OLDEST event time in the buckets h … h+SPILL that its home's keys occupy
 *   (7 to 56 slots: oldest first locally, not across the whole table).
 *
 *   Why not expire by a watermark: a single "largest time seen" is driven to
 *   the newest data by whichever file is read first, and after it every history
 *   key looks expired the moment it is stored. A low watermark per stream
 *   (the slowest active file) is right for ordered streams, but a copy of an
 *   order written an hour later into the live file (a batch job's re-send, same
 *   event time) is exactly the case the engine exists for, and no watermark
 *   can tell it from a late event. So watermarks only ACCOUNT for forgetting:
 *     LOW_WATERMARK (header, set by the engine; NaN = use this handle's
 *     largest time) is the slowest active input stream's progress. A victim
 *     whose time + WINDOW_MS ≥ LOW_WATERMARK could still have had an in-order
 *     duplicate coming: it is counted in FORGOTTEN_IN_WINDOW, and the engine
 *     warns. Others count only in FORGOTTEN.
 *   Cases this does not cover (duplicates may then pass; a unique record is
 *   never dropped): more distinct keys than the table holds (capacity is the
 *   bound, stated at start-up and sized from the inputs); a copy whose original
 *   was evicted as oldest; hash-flooded probe sequences (keys crafted to share
 *   8 buckets).
 *
 * ─── Per-bucket lock: the version word ─────────────────────────────────────
 *   Every insert, whatever its outcome, runs in its HOME bucket's critical
 *   section, and also holds every further bucket of its sequence it reads:
 *     for each bucket b = h, h+1, … as far as the scan goes:
 *       Atomics.compareExchange(version[b], v, v + 1) === v   → we hold b
 *       (held by another thread, odd: release everything held, back off, and
 *        start over from h — a thread never waits while holding a bucket)
 *     scan, write at most one slot (plain reads and writes)
 *     Atomics.store(version[b], v + 2) for every bucket held  → release
 *   Why exactly one NEW per key: all inserts of a key hold its home bucket for
 *   their whole scan-decide-write, so inserts of one key are totally ordered;
 *   only the first (or the first after its entry left the window) finds it
 *   absent. A bucket's slots are only read or written by a thread holding that
 *   bucket, whichever home it probes from. Only 32-bit CAS is needed.
 *   Memory ordering: the successful CAS reads the value written by the previous
 *   holder's Atomics.store; both are SeqCst, so that store synchronizes-with the
 *   CAS and the previous holder's plain slot writes happen-before our plain slot
 *   reads (ECMAScript memory model, "happens-before"; ordinary mutex reasoning,
 *   valid on weakly ordered CPUs such as ARM64 too). Nobody reads slots outside
 *   the lock except stats() and snapshots, which only run when no insert does.
 *   The first CAS on a bucket guesses version 0 rather than reading: the first
 *   access to a never-touched page is then a write (one fault, not zero page
 *   then copy-on-write).
 *   FILLED is read without a lock: it only grows, and reaches the slot count
 *   only when no slot is empty, so a stale read only costs a longer scan.
 *   Honest limits: a thread holds its buckets for one scan (≤ PROBE_BUCKETS ×
 *   7 slots, sequential lines) and ≤ 4 plain stores; if it is descheduled right
 *   then, other threads inserting into THOSE buckets spin, then sleep in 50 µs
 *   steps, and fail with DedupStalledError after stallLimitMs. The version
 *   wraps (as an Int32) after 2^31 acquisitions of one bucket; harmless, only
 *   odd/even and equality with the value just read count.
 *
 * ─── Watermark ──────────────────────────────────────────────────────────────
 *   The largest event time inserted so far (stats, and the classification
 *   above when no LOW_WATERMARK is set). Each handle keeps its own maximum and
 *   publishes it to WATERMARK (under the WM_SEQ seqlock) only when it has grown
 *   by windowMs/16 since the last publish, so monotonically increasing inserts
 *   do not all write one shared line.
 *
 * ─── Failure directions ─────────────────────────────────────────────────────
 *   - Forgetting (above): duplicates may pass, counted; uniques never dropped.
 *   - False DUPLICATE (a unique record dropped) needs a full 64-bit hash match
 *     with an entry of its probe sequence. For uniform hashes, P(match with one
 *     given key) = 2^-64; a record is compared with ≤ 56 entries, but those
 *     mostly share the bucket-index bits, so per new record
 *         P(false duplicate) ≈ L / 2^64      (L = keys held in the whole table)
 *     E.g. L = 16 M (2^24): 2^-40 ≈ 9.1e-13 per record. This assumes the two
 *     contract hash lanes behave like independent uniform 32-bit values; it is
 *     no defence against keys crafted to collide.
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
/**
 * Int32 offset, from a bucket's version word, of its SPILL word: how far past
 * this home bucket any key homed here was placed (0–7). Written under the home
 * bucket's lock.
 */
export const H_SPILL = 1;
/** Int32 offset of slot 0's hashLo from the bucket's version word (the header is 16 bytes). */
export const SLOT0_I32 = 4;
/** Float64 offset of slot 0's time from the bucket's first Float64 word. */
export const SLOT0_TIME_F64 = 3;

export const H_MAGIC = 0;
export const H_BUCKETS = 1;
export const H_BUCKET_SLOTS = 2;
export const H_WINDOW_F64 = 2; // Float64 index: bytes 16..23
export const H_FORGOTTEN_LO = 18;
export const H_FORGOTTEN_HI = 19;
export const H_FORGOTTEN_IN_WINDOW_LO = 20;
export const H_FORGOTTEN_IN_WINDOW_HI = 21;
/** Slots ever filled (never decreases: slots are not emptied). */
export const H_FILLED = 22;
export const H_WM_SEQ = 32;
export const H_WATERMARK_F64 = 17; // Float64 index: bytes 136..143
export const H_LOW_WATERMARK_F64 = 18; // Float64 index: bytes 144..151
export const HEADER_BYTES = 256;
/** Byte offset of bucket 0 (a multiple of 128). */
export const BUCKETS_BYTE = HEADER_BYTES;

/** "DDU9": probing tables with a tail (DDU8 tables had no tail and expired entries by watermark). */
export const DEDUP_MAGIC = 0x44445539;
/** "DDU8": the same buckets without a tail; a snapshot of one is read by re-inserting its entries. */
export const DEDUP_MAGIC_DDU8 = 0x44445538;

/**
 * A dedup entry outside the table — in a snapshot of held keys, a checkpoint's
 * journal of new keys — is 16 bytes: Int32 hashLo, Int32 hashHi, Float64 time
 * (a slot's layout without the bucket). src/dedup/entries.ts reads and writes it.
 */
export const ENTRY_BYTES = 16;
/** Int32 / Float64 words per entry, and where its fields are. */
export const ENTRY_I32 = 4;
export const ENTRY_F64 = 2;
export const ENTRY_HASH_LO_I32 = 0;
export const ENTRY_HASH_HI_I32 = 1;
export const ENTRY_TIME_F64 = 1;

/** Buckets in a key's probe sequence: its home bucket and the next 7 (see "Where a key lives"). */
export const PROBE_BUCKETS = 8;

/**
 * Largest bucket count: the table stays below 2 GiB, so a raw snapshot is one
 * positional write and every view over it a valid typed array length; also
 * keeps bucketIndex's multiply exact enough to stay below BUCKETS.
 */
export const MAX_BUCKETS = (1 << 24) - 16;
/** Largest capacity a table can have (slots). */
export const MAX_CAPACITY = MAX_BUCKETS * BUCKET_SLOTS;

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

/** `buckets` home buckets, plus the tail that the last ones probe into. */
export function geometryOfBuckets(buckets: number): DedupGeometry {
  return {
    buckets,
    capacity: buckets * BUCKET_SLOTS,
    byteLength: BUCKETS_BYTE + (buckets + PROBE_BUCKETS - 1) * BUCKET_BYTES,
  };
}

/** Table bytes for a requested capacity, without creating it (start-up sizing). */
export function tableBytes(capacity: number): number {
  return geometryFor(capacity).byteLength;
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
