/**
 * DedupTable: a fixed-size, shared-memory, time-windowed set of 64-bit key
 * hashes. Layout, the per-bucket lock that makes inserts safe across threads,
 * and its limits: layout.ts.
 *
 * insert() allocates nothing: numbers and typed-array reads only, no closures.
 * Over 400 lines because insertAt stays one function on purpose (the hot path:
 * no call per probed bucket) and the snapshot readers and writers sit beside
 * the layout walk they share.
 */

import { Backoff } from './backoff.js';
import { DedupEntries } from './entries.js';
import { WatermarkView } from './watermark.js';
import {
  BUCKETS_BYTE,
  BUCKET_BYTES,
  BUCKET_F64,
  BUCKET_I32,
  BUCKET_SLOTS,
  DEDUP_MAGIC,
  H_BUCKETS,
  H_BUCKET_SLOTS,
  DEDUP_MAGIC_DDU8,
  H_FORGOTTEN_HI,
  H_FORGOTTEN_IN_WINDOW_HI,
  H_FORGOTTEN_IN_WINDOW_LO,
  H_FILLED,
  H_FORGOTTEN_LO,
  H_LOW_WATERMARK_F64,
  H_SPILL,
  H_MAGIC,
  H_WINDOW_F64,
  HEADER_BYTES,
  SLOT0_I32,
  SLOT0_TIME_F64,
  SLOT_F64,
  SLOT_I32,
  PROBE_BUCKETS,
  bucketIndex,
  geometryFor,
  geometryOfBuckets,
} from './layout.js';

/**
 * insert() outcomes; also exported as plain constants for hot loops. A NEW key
 * that had to replace the oldest entry of a full probe sequence is still NEW
 * (it is stored); the replacement is counted in stats().forgotten.
 */
export const INSERT_NEW = 0;
export const INSERT_DUPLICATE = 1;
export const InsertResult = {
  NEW: INSERT_NEW,
  DUPLICATE: INSERT_DUPLICATE,
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
  /** Keys held (occupied slots); sampled over ≤ 4096 buckets, exact below that. */
  readonly entries: number;
  /** Keys held whose time is within the window of the watermark; sampled like `entries`. */
  readonly live: number;
  /** Entries replaced because a new key found its probe sequence full (layout.ts, "Forgetting"). */
  readonly forgotten: number;
  /** Of those, entries still inside the window of the low watermark: duplicates of them could pass. */
  readonly forgottenInWindow: number;
  /** Largest event time this handle knows of (−Infinity before any insert). */
  readonly watermark: number;
  /** Table memory in bytes (virtual; resident as keys land). */
  readonly bytes: number;
}

const STATS_SAMPLE_BUCKETS = 4096;
/**
 * Entries restored into a table of `capacity` must go in oldest first (a sort
 * of every entry: seconds for millions) once they may not all fit. A snapshot
 * holding that many is better written as the raw table, which restores with
 * one copy; below it, the entries are the smaller file.
 */
export function entriesNeedOrdering(entries: number, capacity: number): boolean {
  return entries > capacity / 2;
}

/**
 * 0.0 marks an empty slot, so an event time of exactly 0 (or −0) is stored as
 * the smallest positive double: no window comparison can tell them apart.
 */
const STORED_ZERO_TIME = Number.MIN_VALUE;
const BUCKETS_I32 = BUCKETS_BYTE >> 2;
const BUCKETS_F64 = BUCKETS_BYTE >> 3;

export class DedupTable {
  readonly capacity: number;
  readonly #sab: SharedArrayBuffer;
  readonly #i32: Int32Array;
  readonly #f64: Float64Array;
  readonly #buckets: number;
  /** Home buckets plus the probing tail: every bucket that can hold a slot. */
  readonly #allBuckets: number;
  /** Slots in all of them: once H_FILLED reaches it, no empty slot is looked for. */
  readonly #slots: number;
  readonly #backoff: Backoff;
  readonly #wm: WatermarkView;
  /** insert()'s time, handed to insertAt without boxing. */
  readonly #scratch = new Float64Array(1);
  /** This handle's watermark view, handed to and back from the addon. */
  readonly #wmState = new Float64Array(3);
  /** Version words of the buckets insertAt holds (allocation-free bookkeeping). */
  readonly #held = new Int32Array(PROBE_BUCKETS);

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
    this.#buckets = buckets;
    this.#allBuckets = buckets + PROBE_BUCKETS - 1;
    this.#slots = this.#allBuckets * BUCKET_SLOTS;
    this.#backoff = new Backoff(this.#i32, stallLimitMs);
    this.#wm = new WatermarkView(this.#i32, this.#f64, this.windowMs / 16, this.#backoff);
  }

  /**
   * |t − t_entry| ≤ windowMs is a duplicate. Read from the shared header (as
   * the addon's batch insert does), so every handle sees a window changed by
   * setWindow() from its next insert on.
   */
  get windowMs(): number {
    return this.#f64[H_WINDOW_F64]!;
  }

  /**
   * A new duplicate window (a config reload), for every insert from now on.
   * Nothing expires by time (layout.ts, "Forgetting"): entries already held
   * keep their event time, so a wider window makes a later copy of a key still
   * held a duplicate, and a narrower one lets through copies older than it.
   */
  setWindow(windowMs: number): void {
    if (!(windowMs >= 0) || !Number.isFinite(windowMs)) throw new RangeError(`windowMs must be a finite number >= 0, got ${windowMs}`);
    this.#f64[H_WINDOW_F64] = windowMs;
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
    f64[H_LOW_WATERMARK_F64] = Number.NaN;
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
   * A table from a raw snapshot's bytes (CheckpointStore.readDedup). The window
   * is the configured one. With a different capacity, or a snapshot of the
   * earlier DDU8 layout, every entry is re-inserted into a new table (slower,
   * one insert each, oldest first so that forgetting, if the new table is
   * smaller, keeps the newest).
   */
  static restore(sab: SharedArrayBuffer, options: DedupTableOptions): { table: DedupTable; rehashed: boolean } {
    const head = new Int32Array(sab, 0, Math.min(sab.byteLength, HEADER_BYTES) >> 2);
    if (head.length > H_BUCKET_SLOTS && Atomics.load(head, H_MAGIC) === DEDUP_MAGIC_DDU8) {
      const buckets = head[H_BUCKETS]!;
      if (head[H_BUCKET_SLOTS] !== BUCKET_SLOTS || BUCKETS_BYTE + buckets * BUCKET_BYTES !== sab.byteLength) {
        throw new TypeError('dedup snapshot (DDU8) has an inconsistent size');
      }
      return { table: DedupTable.fromSlots(new Int32Array(sab), new Float64Array(sab), buckets, options), rehashed: true };
    }
    const snapshot = DedupTable.attach(sab, options);
    snapshot.#f64[H_WINDOW_F64] = options.windowMs;
    const restored = DedupTable.attach(sab, options);
    restored.#wm.adoptShared();
    if (restored.capacity === geometryFor(options.capacity).capacity) return { table: restored, rehashed: false };
    return { table: DedupTable.fromSlots(restored.#i32, restored.#f64, restored.#allBuckets, options), rehashed: true };
  }

  /** A new table holding every occupied slot of `buckets` buckets laid out as layout.ts says. */
  private static fromSlots(i32: Int32Array, f64: Float64Array, buckets: number, options: DedupTableOptions): DedupTable {
    const entries = DedupEntries.allocate(countOccupied(f64, buckets));
    copyOccupied(i32, f64, buckets, entries);
    return DedupTable.fromEntries(entries.bytes, options);
  }

  /**
   * Every held entry (layout.ts, ENTRY_BYTES), written into `into` from the
   * start. A far smaller snapshot than the raw table while it is sparsely filled. Returns the number of entries, or
   * -1 as soon as there are more than `into` holds (then the raw table is the
   * better snapshot). Every entry counts, however old: a copy with the same
   * event time can arrive at any later point (layout.ts, "Forgetting").
   */
  exportEntries(into: DedupEntries): number {
    return copyOccupied(this.#i32, this.#f64, this.#allBuckets, into);
  }

  /**
   * A new table holding the entries of an exportEntries() snapshot, inserted
   * oldest first (if they do not all fit, the newest are kept).
   */
  static fromEntries(bytes: Uint8Array, options: DedupTableOptions): DedupTable {
    const entries = new DedupEntries(bytes);
    const table = DedupTable.create(options);
    const n = entries.capacity;
    const order = Array.from({ length: n }, (_, e) => e);
    // A table that fits them all gives the same decisions in any order.
    if (entriesNeedOrdering(n, table.capacity)) order.sort((a, b) => entries.f64[entries.timeIndex(a)]! - entries.f64[entries.timeIndex(b)]!);
    for (const e of order) table.insertAt(entries.hashLo(e), entries.hashHi(e), entries.f64, entries.timeIndex(e));
    return table;
  }

  /** Insert entries in their order, as they were inserted when recorded (a checkpoint journal's replay). */
  insertEntries(entries: DedupEntries): void {
    for (let e = 0; e < entries.capacity; e++) this.insertAt(entries.hashLo(e), entries.hashHi(e), entries.f64, entries.timeIndex(e));
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
   * The slowest active input stream's progress in event time (layout.ts,
   * "Forgetting"): replaced entries within the window of it are counted as
   * forgotten in the window. NaN: use the largest time inserted.
   */
  setLowWatermark(t: number): void {
    this.#f64[H_LOW_WATERMARK_F64] = t;
  }

  /** Entries forgotten inside the window so far (one shared read: cheap enough to poll per range). */
  forgottenInWindow(): number {
    return readCounter(this.#i32, H_FORGOTTEN_IN_WINDOW_LO, H_FORGOTTEN_IN_WINDOW_HI);
  }

  /**
   * Load the key's home bucket (its version word) ahead of its insert. An
   * insert costs one dependent DRAM round trip (layout.ts); touching the
   * buckets of the next few keys first puts those misses in flight together,
   * so the inserts then find their lines in cache. Returns the word: callers
   * fold it into a value they keep, so the load is not optimised away.
   */
  touch(hashLo: number, hashHi: number): number {
    return this.#i32[BUCKETS_I32 + bucketIndex(hashLo | 0, hashHi | 0, this.#buckets) * BUCKET_I32]!;
  }

  /**
   * Insert the KEYED result slots [first, count) in slot order, as insertAt
   * would one by one (a NaN time becomes `arrivalEpochMs`, written back into
   * the slot), with `native`; verdicts[s] gets INSERT_NEW/DUPLICATE, or
   * INSERT_NONE for a slot that is not keyed. Returns the first slot not
   * handled: `count`, or a slot the caller must insertAt itself (a bucket of
   * its probe sequence is held by another thread, or its time is not finite).
   * No bucket was changed for it; its missing time may be filled in and the
   * watermark raised already, which insertAt repeats to the same effect.
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
   * DUPLICATE: an entry of the key has |t − entry time| ≤ windowMs. NEW
   * otherwise: first sight of the key, or every entry of it is outside the
   * window; an entry (key, t) is then added. A NEW key that finds no empty slot
   * in its probe sequence replaces the entry with the oldest time among the
   * buckets its home's keys occupy (counted: stats().forgotten).
   * @param t event time in ms; must be finite (RangeError otherwise).
   * @throws DedupStalledError if a bucket stays write-locked for stallLimitMs.
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
    const held = this.#held;
    const window = this.windowMs;
    const stored = t === 0 ? STORED_ZERO_TIME : t;
    const home = bucketIndex(hashLo, hashHi, this.#buckets);
    let spins = 0;
    for (;;) {
      // Take buckets home, home+1, … as the scan reaches them (layout.ts, "Per-bucket lock").
      let taken = 0;
      let busyIdx = -1;
      let busyVersion = 0;
      let victimTime = Number.POSITIVE_INFINITY;
      let victimBucket = -1;
      let victimSlot = -1;
      let result = -1;
      // Keys homed here lie in home … home+spill; past it only an empty slot is looked for.
      let spill = PROBE_BUCKETS - 1;
      for (let p = 0; p < PROBE_BUCKETS && result < 0; p++) {
        if (p > spill && Atomics.load(i32, H_FILLED) >= this.#slots) break;
        const b = home + p;
        const vIdx = BUCKETS_I32 + b * BUCKET_I32;
        // First guess: a never-used bucket, so the first access is a write (layout.ts).
        let v = 0;
        for (;;) {
          const seen = Atomics.compareExchange(i32, vIdx, v, v + 1);
          if (seen === v) break;
          if ((seen & 1) !== 0) {
            busyIdx = vIdx;
            busyVersion = seen;
            break;
          }
          v = seen;
        }
        if (busyIdx >= 0) break;
        held[p] = v;
        taken = p + 1;
        if (p === 0) spill = i32[vIdx + H_SPILL]!;
        const timeBase = BUCKETS_F64 + b * BUCKET_F64 + SLOT0_TIME_F64;
        for (let j = 0; j < BUCKET_SLOTS; j++) {
          const ti = timeBase + j * SLOT_F64;
          const et = f64[ti]!;
          const k = vIdx + SLOT0_I32 + j * SLOT_I32;
          if (et === 0) {
            // Empty, and so is every later slot of the sequence: no entry of the key is within the window.
            i32[k] = hashLo;
            i32[k + 1] = hashHi;
            f64[ti] = stored;
            if (p > spill) i32[BUCKETS_I32 + home * BUCKET_I32 + H_SPILL] = p;
            Atomics.add(i32, H_FILLED, 1);
            result = InsertResult.NEW;
            break;
          }
          if (p > spill) continue;
          if (i32[k] === hashLo && i32[k + 1] === hashHi) {
            const d = t - et;
            if (d <= window && d >= -window) {
              result = InsertResult.DUPLICATE;
              break;
            }
            // The same key at a time outside this entry's window: another entry of it may be
            // within it, or this is a new occurrence that gets an entry of its own (layout.ts).
          }
          if (et < victimTime) {
            victimTime = et;
            victimBucket = b;
            victimSlot = j;
          }
        }
      }
      if (busyIdx < 0) {
        const replacing = result < 0;
        if (replacing) {
          // No room where the key may live: replace the oldest entry there.
          const k = BUCKETS_I32 + victimBucket * BUCKET_I32 + SLOT0_I32 + victimSlot * SLOT_I32;
          i32[k] = hashLo;
          i32[k + 1] = hashHi;
          f64[BUCKETS_F64 + victimBucket * BUCKET_F64 + SLOT0_TIME_F64 + victimSlot * SLOT_F64] = stored;
          result = InsertResult.NEW;
        }
        for (let p = 0; p < taken; p++) Atomics.store(i32, BUCKETS_I32 + (home + p) * BUCKET_I32, (held[p]! + 2) | 0);
        if (replacing) this.#countReplaced(victimTime);
        return result as InsertResultCode;
      }
      // A bucket of the sequence is held by another thread: let go of ours, wait, start over.
      for (let p = 0; p < taken; p++) Atomics.store(i32, BUCKETS_I32 + (home + p) * BUCKET_I32, (held[p]! + 2) | 0);
      spins = this.#backoff.pause(busyIdx, busyVersion, spins, (busyIdx - BUCKETS_I32) / BUCKET_I32);
    }
  }

  /** Count a replaced entry (after the buckets are released). */
  #countReplaced(victimTime: number): void {
    const i32 = this.#i32;
    if (Atomics.add(i32, H_FORGOTTEN_LO, 1) === -1) Atomics.add(i32, H_FORGOTTEN_HI, 1);
    const low = this.#f64[H_LOW_WATERMARK_F64]!;
    const reference = low === low ? low : this.#wm.value;
    if (victimTime + this.windowMs >= reference) {
      if (Atomics.add(i32, H_FORGOTTEN_IN_WINDOW_LO, 1) === -1) Atomics.add(i32, H_FORGOTTEN_IN_WINDOW_HI, 1);
    }
  }

  /** Read when asked (metrics collect), never pushed per insert. */
  stats(): DedupStats {
    this.#wm.adoptShared();
    const f64 = this.#f64;
    const buckets = this.#allBuckets;
    const sampled = Math.min(buckets, STATS_SAMPLE_BUCKETS);
    const cutoff = this.#wm.value - this.windowMs;
    let live = 0;
    let entries = 0;
    // Unlocked plain reads: an estimate (a slot being written may be miscounted).
    for (let s = 0; s < sampled; s++) {
      const b = sampled === buckets ? s : Math.floor((s * buckets) / sampled);
      const base = BUCKETS_F64 + b * BUCKET_F64 + SLOT0_TIME_F64;
      for (let j = 0; j < BUCKET_SLOTS; j++) {
        const et = f64[base + j * SLOT_F64]!;
        if (et === 0) break;
        entries++;
        if (!(et < cutoff)) live++;
      }
    }
    const scale = (n: number): number => (sampled === buckets ? n : Math.round((n * buckets) / sampled));
    return {
      capacity: this.capacity,
      entries: scale(entries),
      live: scale(live),
      forgotten: readCounter(this.#i32, H_FORGOTTEN_LO, H_FORGOTTEN_HI),
      forgottenInWindow: this.forgottenInWindow(),
      watermark: this.#wm.value,
      bytes: this.#sab.byteLength,
    };
  }
}

/** A 64-bit counter kept as two Int32 words (low word carried into the high one by its incrementer). */
function readCounter(i32: Int32Array, loIdx: number, hiIdx: number): number {
  let hi: number;
  let lo: number;
  do {
    hi = Atomics.load(i32, hiIdx);
    lo = Atomics.load(i32, loIdx);
  } while (hi !== Atomics.load(i32, hiIdx));
  return (hi >>> 0) * 2 ** 32 + (lo >>> 0);
}

function countOccupied(f64: Float64Array, buckets: number): number {
  let n = 0;
  for (let b = 0; b < buckets; b++) {
    const timeBase = BUCKETS_F64 + b * BUCKET_F64 + SLOT0_TIME_F64;
    for (let j = 0; j < BUCKET_SLOTS && f64[timeBase + j * SLOT_F64] !== 0; j++) n++;
  }
  return n;
}

/** Occupied slots of `buckets` buckets as entries; -1 when `into` is too small. */
function copyOccupied(i32: Int32Array, f64: Float64Array, buckets: number, into: DedupEntries): number {
  const max = into.capacity;
  let n = 0;
  for (let b = 0; b < buckets; b++) {
    const timeBase = BUCKETS_F64 + b * BUCKET_F64 + SLOT0_TIME_F64;
    const vIdx = BUCKETS_I32 + b * BUCKET_I32;
    for (let j = 0; j < BUCKET_SLOTS; j++) {
      const t = f64[timeBase + j * SLOT_F64]!;
      if (t === 0) break;
      if (n === max) return -1;
      const k = vIdx + SLOT0_I32 + j * SLOT_I32;
      into.set(n, i32[k]!, i32[k + 1]!, f64, timeBase + j * SLOT_F64);
      n++;
    }
  }
  return n;
}

function invalidTime(times: Float64Array, i: number): RangeError {
  return new RangeError(`event time must be finite, got ${times[i]}`);
}
