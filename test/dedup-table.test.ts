/**
 * The shared dedup table: single-thread window semantics (edges, refresh, expiry
 * reuse, overflow) and, with real worker threads inserting the same keys in
 * different orders, exactly one NEW per key per window across all threads.
 * Runs the compiled code in dist/ (build first).
 */
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { BUCKET_SLOTS, bucketIndex } from '../dist/src/dedup/layout.js';
import { DedupTable, InsertResult } from '../dist/src/dedup/table.js';

// @ts-expect-error -- plain .mjs fixture without types
import { keyHi, keyLo } from './fixtures/dedup-keys.mjs';
import { loadNativeAddon } from '../dist/src/parser/native.js';

const { NEW, DUPLICATE, OVERFLOW } = InsertResult;
const FIXTURE = new URL('./fixtures/dedup-inserter.mjs', import.meta.url);
/** CI builds the addon and sets ORDERTAIL_REQUIRE_NATIVE=1: there a missing addon fails instead of skipping. */
const NATIVE = (() => {
  const r = loadNativeAddon();
  if ('error' in r && process.env.ORDERTAIL_REQUIRE_NATIVE === '1') throw r.error;
  return !('error' in r);
})();

/** Keys that all land in bucket `b` of a table with `buckets` buckets (hashHi = 0). */
function collidingKeys(b: number, buckets: number, n: number): number[] {
  // With hashHi = 0 the bucket is floor(hashLo × buckets / 2^32) (layout.ts).
  const first = Math.ceil((b * 2 ** 32) / buckets);
  const keys: number[] = [];
  for (let k = 0; k < n; k++) keys.push((first + k) | 0);
  for (const lo of keys) expect(bucketIndex(lo, 0, buckets)).toBe(b);
  return keys;
}

/** Buckets of a table made with `capacity`. */
const bucketsOf = (t: DedupTable): number => t.capacity / BUCKET_SLOTS;

describe('DedupTable, one thread', () => {
  it('rounds capacity up to a whole number of 7-slot buckets', () => {
    expect(BUCKET_SLOTS).toBe(7);
    expect(DedupTable.create({ capacity: 1, windowMs: 1 }).capacity).toBe(7);
    expect(DedupTable.create({ capacity: 7, windowMs: 1 }).capacity).toBe(7);
    expect(DedupTable.create({ capacity: 100, windowMs: 1 }).capacity).toBe(105);
    expect(DedupTable.create({ capacity: 1024, windowMs: 1 }).capacity).toBe(1029);
    expect(DedupTable.create({ capacity: 1 << 22, windowMs: 1 }).sharedBuffer.byteLength).toBe(256 + 599_187 * 128);
    expect(() => DedupTable.create({ capacity: 0, windowMs: 1 })).toThrow(RangeError);
    expect(() => DedupTable.create({ capacity: 8, windowMs: -1 })).toThrow(RangeError);
  });

  it('NEW then DUPLICATE within the window, both edges inclusive', () => {
    const t = DedupTable.create({ capacity: 1024, windowMs: 100 });
    expect(t.insert(1, 2, 1000)).toBe(NEW);
    expect(t.insert(1, 2, 1000)).toBe(DUPLICATE);
    expect(t.insert(1, 2, 1100)).toBe(DUPLICATE); // exactly window after
    expect(t.insert(1, 2, 900)).toBe(DUPLICATE); // exactly window before
    expect(t.insert(0xffffffff, 2, 1000)).toBe(NEW); // uint32 and int32 spellings
    expect(t.insert(-1, 2, 1000)).toBe(DUPLICATE); //   of one key are one key
    // Same hashLo, different hashHi: a different key.
    expect(t.insert(1, 3, 1000)).toBe(NEW);
    expect(t.insert(1, 3, 1050)).toBe(DUPLICATE);
  });

  it('window + 1 is NEW again and refreshes the entry time', () => {
    const t = DedupTable.create({ capacity: 1024, windowMs: 100 });
    expect(t.insert(7, 7, 1000)).toBe(NEW);
    expect(t.insert(7, 7, 1101)).toBe(NEW); // window + 1: outside
    expect(t.insert(7, 7, 1150)).toBe(DUPLICATE); // measured from 1101 now
    expect(t.insert(7, 7, 1201)).toBe(DUPLICATE); // 1201 − 1101 = 100: inside
    expect(t.insert(7, 7, 1202)).toBe(NEW);
    expect(t.insert(7, 7, 1101)).toBe(NEW); // 101 before the refreshed time
  });

  it('a key repeating continuously is re-accepted once per window', () => {
    const t = DedupTable.create({ capacity: 64, windowMs: 10 });
    const accepted: number[] = [];
    for (let ms = 0; ms <= 50; ms++) if (t.insert(42, 0, ms) === NEW) accepted.push(ms);
    expect(accepted).toEqual([0, 11, 22, 33, 44]);
  });

  it('overflows when a bucket is full of live entries, counts it, and reuses expired slots', () => {
    const t = DedupTable.create({ capacity: 64, windowMs: 100 }); // 10 buckets
    expect(bucketsOf(t)).toBe(10);
    const keys = collidingKeys(3, 10, BUCKET_SLOTS + 2);
    for (let k = 0; k < BUCKET_SLOTS; k++) expect(t.insert(keys[k]!, 0, 1000 + k)).toBe(NEW);
    const [extraA, extraB] = keys.slice(BUCKET_SLOTS) as [number, number];
    expect(t.insert(extraA, 0, 1010)).toBe(OVERFLOW);
    expect(t.insert(extraB, 0, 1010)).toBe(OVERFLOW);
    expect(t.stats().overflows).toBe(2);
    // The resident keys are still remembered.
    for (let k = 0; k < BUCKET_SLOTS; k++) expect(t.insert(keys[k]!, 0, 1050)).toBe(DUPLICATE);
    // Watermark 1101: only key 0 (t = 1000) has expired (1000 + 100 < 1101).
    expect(t.insert(extraA, 0, 1101)).toBe(NEW);
    expect(t.insert(extraB, 0, 1101)).toBe(OVERFLOW);
    expect(t.insert(extraA, 0, 1101)).toBe(DUPLICATE);
    // Key 0 lost its slot, so it is NEW (and overflows: its bucket is full again).
    expect(t.insert(keys[0]!, 0, 1101)).toBe(OVERFLOW);
    expect(t.stats().overflows).toBe(4);
    // Other buckets are unaffected.
    expect(t.insert(collidingKeys(4, 10, 1)[0]!, 0, 1101)).toBe(NEW);
  });

  it('expired entries are reused by other keys once the watermark passes them', () => {
    const t = DedupTable.create({ capacity: BUCKET_SLOTS, windowMs: 10 }); // 1 bucket
    expect(bucketsOf(t)).toBe(1);
    for (let k = 0; k < BUCKET_SLOTS; k++) expect(t.insert(k, 0, k)).toBe(NEW); // times 0..6
    expect(t.insert(100, 0, 10)).toBe(OVERFLOW); // watermark 10: nothing expired (0 + 10 ≥ 10)
    expect(t.insert(101, 0, 11)).toBe(NEW); // watermark 11: key 0 expired, slot reused
    expect(t.insert(102, 0, 12)).toBe(NEW); // key 1 expired
    expect(t.insert(103, 0, 12)).toBe(OVERFLOW);
    expect(t.insert(2, 0, 12)).toBe(DUPLICATE); // key 2 (t = 2) still live at 12
    expect(t.stats()).toMatchObject({ capacity: BUCKET_SLOTS, live: BUCKET_SLOTS, overflows: 2, watermark: 12 });
    // Far later: everything old is expired and replaceable.
    for (let k = 200; k < 200 + BUCKET_SLOTS; k++) expect(t.insert(k, 0, 1000)).toBe(NEW);
    expect(t.stats().live).toBe(BUCKET_SLOTS);
    expect(t.insert(300, 0, 1000)).toBe(OVERFLOW);
  });

  it('insertAt reads the time from a Float64Array, as from a ring slot', () => {
    const t = DedupTable.create({ capacity: 64, windowMs: 10 });
    const slotTimes = new Float64Array([Number.NaN, 1.7e12, Number.NaN, Number.NaN, 1.7e12 + 10]);
    expect(t.insertAt(9, 9, slotTimes, 1)).toBe(NEW);
    expect(t.insertAt(9, 9, slotTimes, 4)).toBe(DUPLICATE);
    expect(t.insert(9, 9, 1.7e12 + 11)).toBe(NEW);
    expect(() => t.insertAt(9, 9, slotTimes, 0)).toThrow(/finite, got NaN/);
  });

  it('rejects non-finite event times and foreign buffers', () => {
    const t = DedupTable.create({ capacity: 8, windowMs: 10 });
    expect(() => t.insert(1, 1, Number.NaN)).toThrow(RangeError);
    expect(() => t.insert(1, 1, Number.POSITIVE_INFINITY)).toThrow(RangeError);
    expect(() => DedupTable.attach(new SharedArrayBuffer(1024))).toThrow(TypeError);
    const again = DedupTable.attach(t.sharedBuffer);
    expect(t.insert(5, 5, 0)).toBe(NEW);
    expect(again.insert(5, 5, 3)).toBe(DUPLICATE);
  });
});

interface InserterReport {
  threadId: number;
  counts: { fresh: number; dup: number; overflow: number }[];
  /** Native inserter: slots the addon handed back because their bucket was held. */
  handedBack: number;
}

/** Run `threads` fixture workers on one table; check exactly one NEW per key per round. */
async function raceInserts(opts: { threads: number; keys: number; rounds: number; sameOrder: boolean; nativeThreads?: number[] }): Promise<InserterReport[]> {
  const { threads, keys, rounds, sameOrder } = opts;
  const windowMs = 1000;
  // 4 M slots for ≤ 200 k keys (mean ≤ 0.33 per 7-slot bucket). The keys are
  // fixed, so check up front that no bucket gets more than it holds: an
  // OVERFLOW below must then be a bug, not bad luck.
  const table = DedupTable.create({ capacity: 1 << 22, windowMs });
  const load = new Uint8Array(bucketsOf(table));
  for (let i = 0; i < keys; i++) load[bucketIndex(keyLo(i), keyHi(i), load.length)]!++;
  expect(load.reduce((m, n) => Math.max(m, n), 0)).toBeLessThanOrEqual(BUCKET_SLOTS);
  const winners = new SharedArrayBuffer(rounds * keys * 4);
  const control = new SharedArrayBuffer(8);
  const workers = Array.from({ length: threads }, (_, threadId) => {
    const w = new Worker(FIXTURE, {
      workerData: {
        table: table.sharedBuffer,
        winners,
        control,
        threads,
        threadId,
        keys,
        rounds,
        windowMs,
        baseTime: 1_700_000_000_000,
        sameOrder,
        native: opts.nativeThreads?.includes(threadId) ?? false,
      },
    });
    return new Promise<InserterReport>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
      w.once('exit', (code) => reject(new Error(`inserter exited (${code}) before reporting`)));
    });
  });
  const reports = await Promise.all(workers);
  for (let r = 0; r < rounds; r++) {
    const fresh = reports.reduce((sum, rep) => sum + rep.counts[r]!.fresh, 0);
    const overflow = reports.reduce((sum, rep) => sum + rep.counts[r]!.overflow, 0);
    const dup = reports.reduce((sum, rep) => sum + rep.counts[r]!.dup, 0);
    expect({ round: r, fresh, overflow, dup }).toEqual({ round: r, fresh: keys, overflow: 0, dup: keys * (threads - 1) });
  }
  const w = new Int32Array(winners);
  let notOne = 0;
  for (let i = 0; i < w.length; i++) if (w[i] !== 1) notOne++;
  expect(notOne).toBe(0);
  expect(table.stats()).toMatchObject({ overflows: 0 });
  return reports;
}

describe('DedupTable, concurrent threads', () => {
  it('gives every key exactly one NEW per window across 4 threads', async () => {
    const reports = await raceInserts({ threads: 4, keys: 200_000, rounds: 3, sameOrder: false });
    // More than one thread won some keys: the race really happened.
    expect(reports.filter((rep) => rep.counts[0]!.fresh > 0).length).toBeGreaterThan(1);
  });

  // Same 64 keys, same order in both threads, 4000 short rounds that the threads
  // leave together (spinning barrier): they keep arriving at one bucket at the
  // same moment, so a lock that is not mutually exclusive shows up as a key won
  // twice. With the CAS replaced by a plain read and write, this run measured
  // ~270–1400 keys won twice; the test above, which needs no such luck for the
  // lock to be absent altogether, rarely notices that fault.
  it('still one NEW per key when threads collide on every key', async () => {
    await raceInserts({ threads: 2, keys: 64, rounds: 4000, sameOrder: true });
  });

  // The addon's batch insert follows the same bucket protocol: mixed with JS
  // inserters on one table, still exactly one NEW per key and round.
  describe.skipIf(!NATIVE)('with the native batch insert', () => {
    it('native and JS threads together: one NEW per key per window', async () => {
      const reports = await raceInserts({ threads: 4, keys: 200_000, rounds: 3, sameOrder: false, nativeThreads: [0, 2] });
      expect(reports.filter((rep) => rep.counts[0]!.fresh > 0).length).toBeGreaterThan(1);
    });

    it('native and JS threads colliding on every key; held buckets are handed back to JS', async () => {
      const reports = await raceInserts({ threads: 2, keys: 64, rounds: 4000, sameOrder: true, nativeThreads: [0] });
      // The collisions really happened: the native thread met held buckets.
      expect(reports[0]!.handedBack).toBeGreaterThan(0);
    });
  });
});
