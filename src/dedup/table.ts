/**
 * DedupTable: a fixed-size, shared-memory, time-windowed set of 64-bit key
 * hashes. Layout, the per-bucket lock that makes inserts safe across threads,
 * and its limits: layout.ts.
 *
 * insert() allocates nothing: numbers and typed-array reads only, no closures.
 */

import { Backoff } from './backoff.js';
import { WatermarkView } from './watermark.js';
import {
  BUCKETS_BYTE,
  BUCKET_F64,
  BUCKET_I32,
  BUCKET_SLOTS,
  DEDUP_MAGIC,
  H_BUCKETS,
  H_BUCKET_SLOTS,
  H_MAGIC,
  H_OVERFLOWS_HI,
  H_OVERFLOWS_LO,
  H_WINDOW_F64,
  HEADER_BYTES,
  SLOT0_I32,
  SLOT0_TIME_F64,
  SLOT_F64,
  SLOT_I32,
  bucketIndex,
  geometryFor,
  geometryOfBuckets,
} from './layout.js';

/** insert() outcomes; also exported as plain constants for hot loops. */
export const INSERT_NEW = 0;
export const INSERT_DUPLICATE = 1;
export const INSERT_OVERFLOW = 2;
export const InsertResult = {
  NEW: INSERT_NEW,
  DUPLICATE: INSERT_DUPLICATE,
  OVERFLOW: INSERT_OVERFLOW,
} as const;
export type InsertResultCode = (typeof InsertResult)[keyof typeof InsertResult];
/** insertSlots() verdict of a slot that is not keyed (nothing inserted). */
export const INSERT_NONE = 3;

/**
 * The addon's batch insert (native/src/dedup.rs): the same algorithm as
 * insertAt over a range of result slots, with the buckets of the next keys
 * prefetched. One call per range.
 */
export interface NativeDedup {
  dedupSlots(
    table: Int32Array,
    slots: Int32Array,
    first: number,
    count: number,
    arrivalEpochMs: number,
    watermark: Float64Array,
    verdicts: Uint8Array,
  ): number;
  /** Fault in the table's pages on a background thread (native/src/memory.rs); false if not started. */
  populateInBackground(table: Uint8Array): boolean;
}

export interface DedupTableOptions {
  /** Requested slots; rounded up to a whole number of 7-slot buckets (layout.ts). */
  readonly capacity: number;
  /** |t − t_entry| ≤ windowMs is a duplicate. */
  readonly windowMs: number;
  /** See DedupAttachOptions. */
  readonly stallLimitMs?: number;
}

export interface DedupAttachOptions {
  /** Longest wait for a write-locked bucket before DedupStalledError. Default 5000. */
  readonly stallLimitMs?: number;
}

export interface DedupStats {
  readonly capacity: number;
  /** Non-expired entries; sampled over ≤ 4096 buckets, exact below that. */
  readonly live: number;
  readonly overflows: number;
  /** Largest event time this handle knows of (−Infinity before any insert). */
  readonly watermark: number;
}

const STATS_SAMPLE_BUCKETS = 4096;
/**
 * 0.0 marks an empty slot, so an event time of exactly 0 (or −0) is stored as
 * the smallest positive double: no window comparison can tell them apart.
 */
const STORED_ZERO_TIME = Number.MIN_VALUE;

export class DedupTable {
  readonly capacity: number;
  readonly windowMs: number;
  readonly #sab: SharedArrayBuffer;
  readonly #i32: Int32Array;
  readonly #f64: Float64Array;
  readonly #buckets: number;
  readonly #backoff: Backoff;
  readonly #wm: WatermarkView;
  /** insert()'s time, handed to insertAt without boxing. */
  readonly #scratch = new Float64Array(1);
  /** This handle's watermark view, handed to and back from the addon. */
  readonly #wmState = new Float64Array(3);

  private constructor(sab: SharedArrayBuffer, stallLimitMs: number) {
    const head = new Int32Array(sab, 0, HEADER_BYTES >> 2);
    const buckets = head[H_BUCKETS]!;
    const geo = geometryOfBuckets(buckets);
    if (
      Atomics.load(head, H_MAGIC) !== DEDUP_MAGIC ||
      head[H_BUCKET_SLOTS] !== BUCKET_SLOTS ||
      geo.byteLength !== sab.byteLength
    ) {
      throw new TypeError('dedup buffer must be a SharedArrayBuffer made by DedupTable.create');
    }
    this.#sab = sab;
    this.#i32 = new Int32Array(sab);
    this.#f64 = new Float64Array(sab);
    this.capacity = geo.capacity;
    this.windowMs = this.#f64[H_WINDOW_F64]!;
    this.#buckets = buckets;
    this.#backoff = new Backoff(this.#i32, stallLimitMs);
    this.#wm = new WatermarkView(this.#i32, this.#f64, this.windowMs / 16, this.#backoff);
  }

  static create(options: DedupTableOptions): DedupTable {
    const { capacity, windowMs } = options;
    if (!(windowMs >= 0) || !Number.isFinite(windowMs)) {
      throw new RangeError(`windowMs must be a finite number >= 0, got ${windowMs}`);
    }
    const geo = geometryFor(capacity);
    const sab = new SharedArrayBuffer(geo.byteLength);
    const i32 = new Int32Array(sab);
    const f64 = new Float64Array(sab);
    i32[H_BUCKETS] = geo.buckets;
    i32[H_BUCKET_SLOTS] = BUCKET_SLOTS;
    f64[H_WINDOW_F64] = windowMs;
    WatermarkView.init(f64);
    // Every slot starts empty (time 0.0, see "Slot states" in layout.ts) and
    // every version word 0, as a new SharedArrayBuffer is: nothing to write, so
    // the table's pages are not touched (nor resident) until keys land in them.
    Atomics.store(i32, H_MAGIC, DEDUP_MAGIC);
    return new DedupTable(sab, options.stallLimitMs ?? 5000);
  }

  /** The same table in another thread (pass `sharedBuffer` via workerData/postMessage). */
  static attach(sab: SharedArrayBuffer, options: DedupAttachOptions = {}): DedupTable {
    if (!(sab instanceof SharedArrayBuffer) || sab.byteLength < BUCKETS_BYTE) {
      throw new TypeError('dedup buffer must be a SharedArrayBuffer made by DedupTable.create');
    }
    return new DedupTable(sab, options.stallLimitMs ?? 5000);
  }

  /**
   * A table from a snapshot's bytes (CheckpointStore.readDedup). The window is
   * the configured one; with a different capacity the live entries are
   * re-inserted into a new table (slower, one insert each).
   */
  static restore(sab: SharedArrayBuffer, options: DedupTableOptions): { table: DedupTable; rehashed: boolean } {
    const snapshot = DedupTable.attach(sab, options);
    snapshot.#f64[H_WINDOW_F64] = options.windowMs;
    const restored = DedupTable.attach(sab, options);
    restored.#wm.adoptShared();
    if (restored.capacity === geometryFor(options.capacity).capacity) return { table: restored, rehashed: false };
    const fresh = DedupTable.create(options);
    const f64 = restored.#f64;
    const i32 = restored.#i32;
    for (let b = 0; b < restored.#buckets; b++) {
      const timeBase = (BUCKETS_BYTE >> 3) + b * BUCKET_F64 + SLOT0_TIME_F64;
      const vIdx = (BUCKETS_BYTE >> 2) + b * BUCKET_I32;
      for (let j = 0; j < BUCKET_SLOTS; j++) {
        const t = f64[timeBase + j * SLOT_F64]!;
        if (t === 0) break;
        const k = vIdx + SLOT0_I32 + j * SLOT_I32;
        fresh.insert(i32[k]!, i32[k + 1]!, t);
      }
    }
    return { table: fresh, rehashed: true };
  }

  /**
   * The live (unexpired) entries, 16 bytes each — Int32 hashLo, Int32 hashHi,
   * Float64 time — written into `into` from the start. A far smaller snapshot
   * than the raw table while it is sparsely filled. Returns the number of
   * entries, or -1 as soon as there are more than `into` holds (then the raw
   * table is the better snapshot).
   */
  exportEntries(into: { i32: Int32Array; f64: Float64Array }): number {
    this.#wm.adoptShared();
    const cutoff = this.#wm.value - this.windowMs;
    const f64 = this.#f64;
    const i32 = this.#i32;
    const max = into.f64.length >> 1;
    let n = 0;
    for (let b = 0; b < this.#buckets; b++) {
      const timeBase = (BUCKETS_BYTE >> 3) + b * BUCKET_F64 + SLOT0_TIME_F64;
      const vIdx = (BUCKETS_BYTE >> 2) + b * BUCKET_I32;
      for (let j = 0; j < BUCKET_SLOTS; j++) {
        const t = f64[timeBase + j * SLOT_F64]!;
        if (t === 0) break;
        if (t < cutoff) continue;
        if (n === max) return -1;
        const k = vIdx + SLOT0_I32 + j * SLOT_I32;
        into.i32[n * 4] = i32[k]!;
        into.i32[n * 4 + 1] = i32[k + 1]!;
        into.f64[n * 2 + 1] = t;
        n++;
      }
    }
    return n;
  }

  /** A new table holding the entries of an exportEntries() snapshot. */
  static fromEntries(bytes: Uint8Array, options: DedupTableOptions): DedupTable {
    if (bytes.byteLength % 16 !== 0 || bytes.byteOffset % 8 !== 0) throw new RangeError('dedup entries must be 16-byte records on an 8-byte boundary');
    const table = DedupTable.create(options);
    const n = bytes.byteLength >> 4;
    const i32 = new Int32Array(bytes.buffer, bytes.byteOffset, n * 4);
    const f64 = new Float64Array(bytes.buffer, bytes.byteOffset, n * 2);
    for (let e = 0; e < n; e++) table.insertAt(i32[e * 4]!, i32[e * 4 + 1]!, f64, e * 2 + 1);
    return table;
  }

  /**
   * Make the shared memory a complete picture of this handle's state (its
   * watermark is otherwise published in steps) before it is copied to disk.
   */
  prepareSnapshot(): void {
    if (this.#wm.value > this.#wm.published) this.#wm.publish(this.#wm.value);
  }

  get sharedBuffer(): SharedArrayBuffer {
    return this.#sab;
  }

  /**
   * Load the key's bucket (its version word) ahead of its insert. An insert
   * costs one dependent DRAM round trip (layout.ts); touching the buckets of
   * the next few keys first puts those misses in flight together, so the
   * inserts then find their lines in cache. Returns the word: callers fold it
   * into a value they keep, so the load is not optimised away.
   */
  touch(hashLo: number, hashHi: number): number {
    return this.#i32[(BUCKETS_BYTE >> 2) + bucketIndex(hashLo | 0, hashHi | 0, this.#buckets) * BUCKET_I32]!;
  }

  /**
   * Insert the KEYED result slots [first, count) in slot order, as insertAt
   * would one by one (a NaN time becomes `arrivalEpochMs`, written back into
   * the slot), with `native`; verdicts[s] gets INSERT_NEW/DUPLICATE/OVERFLOW,
   * or INSERT_NONE for a slot that is not keyed. Returns the first slot not
   * handled: `count`, or a slot the caller must insertAt itself (its bucket is
   * held by another thread, or its time is not finite). Its bucket was not
   * touched; its missing time may be filled in and the watermark raised
   * already, which insertAt repeats to the same effect.
   */
  insertSlots(
    native: NativeDedup,
    slots: Int32Array,
    first: number,
    count: number,
    arrivalEpochMs: number,
    verdicts: Uint8Array,
  ): number {
    const wm = this.#wm;
    const state = this.#wmState;
    state[0] = wm.value;
    state[1] = wm.published;
    state[2] = wm.step;
    const done = native.dedupSlots(this.#i32, slots, first, count, arrivalEpochMs, state, verdicts);
    wm.value = state[0]!;
    wm.published = state[1]!;
    return done;
  }

  /**
   * NEW: first sight of the key, or its entry is outside the window (entry time
   * is then set to t). DUPLICATE: |t − entry time| ≤ windowMs. OVERFLOW: the
   * key's bucket is full of live entries; nothing stored, counter incremented.
   * @param t event time in ms; must be finite (RangeError otherwise).
   * @throws DedupStalledError if the bucket stays write-locked for stallLimitMs.
   */
  insert(hashLo: number, hashHi: number, t: number): InsertResultCode {
    // Kept tiny so V8 inlines it: the double then goes straight into #scratch
    // instead of being boxed for the call (see insertAt).
    this.#scratch[0] = t;
    return this.insertAt(hashLo, hashHi, this.#scratch, 0);
  }

  /**
   * insert() with the time read from `times[timeIndex]` — e.g. a ring slot's
   * eventTime, `insertAt(lo, hi, consumer.f64, slot * 4)`. This is the
   * allocation-free form: passing a non-Smi double (every epoch-ms time) to a
   * function V8 does not inline boxes it in a fresh HeapNumber, and this
   * function is too large to inline.
   */
  insertAt(hashLo: number, hashHi: number, times: Float64Array, timeIndex: number): InsertResultCode {
    const t = times[timeIndex]!;
    // NaN and ±Infinity. The message is built elsewhere: a `${t}` here makes
    // TurboFan box t on every call, not just when throwing (measured).
    if (t - t !== 0) throw invalidTime(times, timeIndex);
    const wmView = this.#wm;
    if (t > wmView.value) {
      // WatermarkView.raise, inlined by hand: see its comment.
      wmView.value = t;
      if (t - wmView.published >= wmView.step) wmView.publish(t);
    }
    // Stored words read back signed: accept uint32 hashes too.
    hashLo |= 0;
    hashHi |= 0;
    const i32 = this.#i32;
    const f64 = this.#f64;
    const window = this.windowMs;
    const b = bucketIndex(hashLo, hashHi, this.#buckets);
    // The bucket's version word, slot 0's hashLo is vIdx + SLOT0_I32 + j * SLOT_I32.
    const vIdx = (BUCKETS_BYTE >> 2) + b * BUCKET_I32;
    // Slot j's time is f64[timeBase + j * SLOT_F64].
    const timeBase = (BUCKETS_BYTE >> 3) + b * BUCKET_F64 + SLOT0_TIME_F64;
    // The CAS decides (layout.ts); its first guess is a never-used bucket
    // (version 0) rather than a read, so that the first access is a write: on a
    // page not touched yet, a read maps the shared zero page and the write
    // after it faults again (copy on write, flushing every core's TLB).
    let v = 0;
    let spins = 0;
    for (;;) {
      if ((v & 1) === 0) {
        const seen = Atomics.compareExchange(i32, vIdx, v, v + 1);
        if (seen !== v) {
          v = seen;
          continue;
        }
        // Bucket b is ours until the Atomics.store below: nothing in between throws.
        const wm = wmView.value;
        let claim = -1;
        let result: InsertResultCode = InsertResult.OVERFLOW;
        for (let j = 0; j < BUCKET_SLOTS; j++) {
          const ti = timeBase + j * SLOT_F64;
          const et = f64[ti]!;
          if (et === 0) {
            // Empty; all later slots are empty too.
            if (claim < 0) claim = j;
            break;
          }
          const k = vIdx + SLOT0_I32 + j * SLOT_I32;
          if (i32[k] === hashLo && i32[k + 1] === hashHi) {
            const d = t - et;
            if (d <= window && d >= -window) {
              result = InsertResult.DUPLICATE;
            } else {
              // Same key, outside the window: NEW again, refresh its time.
              f64[ti] = t === 0 ? STORED_ZERO_TIME : t;
              result = InsertResult.NEW;
            }
            claim = -2;
            break;
          }
          if (claim < 0 && et + window < wm) claim = j;
        }
        if (claim >= 0) {
          const k = vIdx + SLOT0_I32 + claim * SLOT_I32;
          i32[k] = hashLo;
          i32[k + 1] = hashHi;
          f64[timeBase + claim * SLOT_F64] = t === 0 ? STORED_ZERO_TIME : t;
          result = InsertResult.NEW;
        }
        Atomics.store(i32, vIdx, (v + 2) | 0);
        if (result !== InsertResult.OVERFLOW) return result;
        // Seven live entries by our view. Another thread may know a later
        // watermark that expires some of them: look (bucket released) before
        // giving up, and if it moved, take the bucket again and rescan.
        if (wmView.adoptShared()) {
          v = i32[vIdx]!;
          continue;
        }
        if (Atomics.add(i32, H_OVERFLOWS_LO, 1) === -1) Atomics.add(i32, H_OVERFLOWS_HI, 1);
        return InsertResult.OVERFLOW;
      }
      // Held by another thread (odd): wait, then look again.
      spins = this.#backoff.pause(vIdx, v, spins, b);
      v = Atomics.load(i32, vIdx);
    }
  }

  /** Read when asked (metrics collect), never pushed per insert. */
  stats(): DedupStats {
    this.#wm.adoptShared();
    const i32 = this.#i32;
    const f64 = this.#f64;
    const buckets = this.#buckets;
    const sampled = Math.min(buckets, STATS_SAMPLE_BUCKETS);
    const cutoff = this.#wm.value - this.windowMs;
    let live = 0;
    // Unlocked plain reads: an estimate (a slot being written may be miscounted).
    for (let s = 0; s < sampled; s++) {
      const b = sampled === buckets ? s : Math.floor((s * buckets) / sampled);
      const base = (BUCKETS_BYTE >> 3) + b * BUCKET_F64 + SLOT0_TIME_F64;
      for (let j = 0; j < BUCKET_SLOTS; j++) {
        const et = f64[base + j * SLOT_F64]!;
        if (et === 0) break;
        if (!(et < cutoff)) live++;
      }
    }
    let hi: number;
    let lo: number;
    do {
      hi = Atomics.load(i32, H_OVERFLOWS_HI);
      lo = Atomics.load(i32, H_OVERFLOWS_LO);
    } while (hi !== Atomics.load(i32, H_OVERFLOWS_HI));
    return {
      capacity: this.capacity,
      live: sampled === buckets ? live : Math.round((live * buckets) / sampled),
      overflows: (hi >>> 0) * 2 ** 32 + (lo >>> 0),
      watermark: this.#wm.value,
    };
  }
}

function invalidTime(times: Float64Array, i: number): RangeError {
  return new RangeError(`event time must be finite, got ${times[i]}`);
}
