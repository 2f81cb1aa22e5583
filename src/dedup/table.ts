/**
 * DedupTable: a fixed-size, shared-memory, time-windowed set of 64-bit key
 * hashes. Layout, the lock-free insert protocol and its limits: layout.ts.
 *
 * insert() allocates nothing: numbers and typed-array reads only, no closures.
 */

import { DedupStalledError } from './errors.js';
import {
  BUCKET_SLOTS,
  DEDUP_MAGIC,
  H_BUCKETS,
  H_BUCKET_SLOTS,
  H_MAGIC,
  H_OVERFLOWS_HI,
  H_OVERFLOWS_LO,
  H_WATERMARK_F64,
  H_WINDOW_F64,
  H_WM_SEQ,
  SLOT_F64,
  SLOT_I32,
  VERSIONS_BYTE,
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

export interface DedupTableOptions {
  /** Requested slots; rounded up to a power-of-two number of 8-slot buckets. */
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

/** Busy-spins before sleeping: a writer holds a bucket for ~3 stores. */
const SPINS_BEFORE_SLEEP = 64;
const SLEEP_MS = 0.05;
const STATS_SAMPLE_BUCKETS = 4096;

export class DedupTable {
  readonly capacity: number;
  readonly windowMs: number;
  readonly #sab: SharedArrayBuffer;
  readonly #i32: Int32Array;
  readonly #f64: Float64Array;
  readonly #mask: number;
  /** Int32 index of bucket 0's slot 0, and Float64 index of its time. */
  readonly #keyBase: number;
  readonly #timeBase: number;
  readonly #stallLimitMs: number;
  readonly #publishStep: number;
  /** This handle's watermark view (≤ the true maximum) and what it last published. */
  #wm = Number.NEGATIVE_INFINITY;
  #published = Number.NEGATIVE_INFINITY;
  #stallStart = 0;

  private constructor(sab: SharedArrayBuffer, stallLimitMs: number) {
    const head = new Int32Array(sab, 0, VERSIONS_BYTE >> 2);
    const buckets = head[H_BUCKETS]!;
    const geo = geometryOfBuckets(buckets);
    if (
      Atomics.load(head, H_MAGIC) !== DEDUP_MAGIC ||
      head[H_BUCKET_SLOTS] !== BUCKET_SLOTS ||
      geo.byteLength !== sab.byteLength
    ) {
      throw new TypeError('dedup buffer must be a SharedArrayBuffer made by DedupTable.create');
    }
    if (!(stallLimitMs > 0)) throw new RangeError(`stallLimitMs must be > 0, got ${stallLimitMs}`);
    this.#sab = sab;
    this.#i32 = new Int32Array(sab);
    this.#f64 = new Float64Array(sab);
    this.capacity = geo.capacity;
    this.windowMs = this.#f64[H_WINDOW_F64]!;
    this.#mask = buckets - 1;
    this.#keyBase = geo.slotsByte >> 2;
    this.#timeBase = (geo.slotsByte >> 3) + 1;
    this.#stallLimitMs = stallLimitMs;
    this.#publishStep = this.windowMs / 16;
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
    f64[H_WATERMARK_F64] = Number.NEGATIVE_INFINITY;
    // Every slot starts empty: time = NaN (see "Slot states" in layout.ts).
    f64.fill(Number.NaN, geo.slotsByte >> 3);
    Atomics.store(i32, H_MAGIC, DEDUP_MAGIC);
    return new DedupTable(sab, options.stallLimitMs ?? 5000);
  }

  /** The same table in another thread (pass `sharedBuffer` via workerData/postMessage). */
  static attach(sab: SharedArrayBuffer, options: DedupAttachOptions = {}): DedupTable {
    if (!(sab instanceof SharedArrayBuffer) || sab.byteLength < VERSIONS_BYTE) {
      throw new TypeError('dedup buffer must be a SharedArrayBuffer made by DedupTable.create');
    }
    return new DedupTable(sab, options.stallLimitMs ?? 5000);
  }

  get sharedBuffer(): SharedArrayBuffer {
    return this.#sab;
  }

  /**
   * NEW: first sight of the key, or its entry is outside the window (entry time
   * is then set to t). DUPLICATE: |t − entry time| ≤ windowMs. OVERFLOW: the
   * key's bucket is full of live entries; nothing stored, counter incremented.
   * @param t event time in ms; must be finite (RangeError otherwise).
   * @throws DedupStalledError if the bucket stays write-locked for stallLimitMs.
   */
  insert(hashLo: number, hashHi: number, t: number): InsertResultCode {
    if (t - t !== 0) throw new RangeError(`event time must be finite, got ${t}`);
    if (t > this.#wm) this.#raiseWatermark(t);
    const i32 = this.#i32;
    const f64 = this.#f64;
    const window = this.windowMs;
    const b = bucketIndex(hashLo, hashHi, this.#mask);
    const vIdx = (VERSIONS_BYTE >> 2) + b;
    const keyBase = this.#keyBase + b * (BUCKET_SLOTS * SLOT_I32);
    const timeBase = this.#timeBase + b * (BUCKET_SLOTS * SLOT_F64);
    let spins = 0;
    for (;;) {
      const v = Atomics.load(i32, vIdx);
      if ((v & 1) !== 0) {
        spins = this.#backoff(vIdx, v, spins, b);
        continue;
      }
      const wm = this.#wm;
      let match = -1;
      let claim = -1;
      let matchTime = 0;
      for (let j = 0; j < BUCKET_SLOTS; j++) {
        const et = f64[timeBase + j * SLOT_F64]!;
        if (et !== et) {
          // Empty; all later slots are empty too.
          if (claim < 0) claim = j;
          break;
        }
        const k = keyBase + j * SLOT_I32;
        if (i32[k] === hashLo && i32[k + 1] === hashHi) {
          match = j;
          matchTime = et;
          break;
        }
        if (claim < 0 && et + window < wm) claim = j;
      }

      if (match >= 0) {
        const d = t - matchTime;
        if (d <= window && d >= -window) {
          if (Atomics.compareExchange(i32, vIdx, v, v) === v) return InsertResult.DUPLICATE;
          continue;
        }
        // Same key, outside the window: NEW again, refresh its time.
        if (Atomics.compareExchange(i32, vIdx, v, v + 1) !== v) continue;
        f64[timeBase + match * SLOT_F64] = t;
        Atomics.store(i32, vIdx, (v + 2) | 0);
        return InsertResult.NEW;
      }
      if (claim >= 0) {
        if (Atomics.compareExchange(i32, vIdx, v, v + 1) !== v) continue;
        const k = keyBase + claim * SLOT_I32;
        i32[k] = hashLo;
        i32[k + 1] = hashHi;
        f64[timeBase + claim * SLOT_F64] = t;
        Atomics.store(i32, vIdx, (v + 2) | 0);
        return InsertResult.NEW;
      }
      // Eight live entries by our view. Another thread may know a later
      // watermark that expires some of them: look before giving up.
      if (this.#adoptSharedWatermark()) continue;
      if (Atomics.compareExchange(i32, vIdx, v, v) !== v) continue;
      if (Atomics.add(i32, H_OVERFLOWS_LO, 1) === -1) Atomics.add(i32, H_OVERFLOWS_HI, 1);
      return InsertResult.OVERFLOW;
    }
  }

  /** Read when asked (metrics collect), never pushed per insert. */
  stats(): DedupStats {
    this.#adoptSharedWatermark();
    const i32 = this.#i32;
    const f64 = this.#f64;
    const buckets = this.#mask + 1;
    const step = buckets > STATS_SAMPLE_BUCKETS ? buckets / STATS_SAMPLE_BUCKETS : 1;
    const cutoff = this.#wm - this.windowMs;
    let live = 0;
    for (let b = 0; b < buckets; b += step) {
      const base = this.#timeBase + b * (BUCKET_SLOTS * SLOT_F64);
      for (let j = 0; j < BUCKET_SLOTS; j++) {
        const et = f64[base + j * SLOT_F64]!;
        if (et !== et) break;
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
      live: live * step,
      overflows: (hi >>> 0) * 2 ** 32 + (lo >>> 0),
      watermark: this.#wm,
    };
  }

  /** A new maximum: keep it locally, publish it when it has moved enough. */
  #raiseWatermark(t: number): void {
    this.#wm = t;
    if (t - this.#published < this.#publishStep) return;
    this.#published = t;
    const i32 = this.#i32;
    const f64 = this.#f64;
    let spins = 0;
    for (;;) {
      const s = Atomics.load(i32, H_WM_SEQ);
      if ((s & 1) !== 0) {
        spins = this.#backoff(H_WM_SEQ, s, spins, -1);
        continue;
      }
      const shared = f64[H_WATERMARK_F64]!;
      if (shared >= t) {
        // Someone published a later one; adopt it if the read was consistent.
        if (Atomics.compareExchange(i32, H_WM_SEQ, s, s) !== s) continue;
        this.#wm = shared;
        return;
      }
      if (Atomics.compareExchange(i32, H_WM_SEQ, s, s + 1) !== s) continue;
      f64[H_WATERMARK_F64] = t;
      Atomics.store(i32, H_WM_SEQ, (s + 2) | 0);
      return;
    }
  }

  /** Pull the shared watermark into this handle; true if it raised our view. */
  #adoptSharedWatermark(): boolean {
    const i32 = this.#i32;
    let spins = 0;
    for (;;) {
      const s = Atomics.load(i32, H_WM_SEQ);
      if ((s & 1) !== 0) {
        spins = this.#backoff(H_WM_SEQ, s, spins, -1);
        continue;
      }
      const shared = this.#f64[H_WATERMARK_F64]!;
      if (Atomics.compareExchange(i32, H_WM_SEQ, s, s) !== s) continue;
      if (shared > this.#wm) {
        this.#wm = shared;
        return true;
      }
      return false;
    }
  }

  /**
   * The word at `idx` is odd: its writer is mid-write. Spin briefly (the common
   * case is a few stores), then sleep in short timed waits so a descheduled
   * writer gets our CPU. Timed, so no notify is needed on the write path.
   */
  #backoff(idx: number, odd: number, spins: number, bucket: number): number {
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
