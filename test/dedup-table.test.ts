/**
 * The shared dedup table: single-thread window semantics (edges, occurrences
 * outside the window, probing, forgetting) and, with real worker threads inserting the same keys in
 * different orders, exactly one NEW per key per window across all threads.
 * Runs the compiled code in dist/ (build first).
 */
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { BUCKET_SLOTS, PROBE_BUCKETS, bucketIndex } from '../dist/src/dedup/layout.js';
import { DedupTable, InsertResult } from '../dist/src/dedup/table.js';

import { keyHi, keyLo } from './fixtures/dedup-keys.mjs';
import { loadNativeAddon } from '../dist/src/parser/native.js';

const { NEW, DUPLICATE } = InsertResult;
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
  it('rounds capacity up to a whole number of 7-slot buckets, plus the probing tail', () => {
    expect(BUCKET_SLOTS).toBe(7);
    expect(DedupTable.create({ capacity: 1, windowMs: 1 }).capacity).toBe(7);
    expect(DedupTable.create({ capacity: 7, windowMs: 1 }).capacity).toBe(7);
    expect(DedupTable.create({ capacity: 100, windowMs: 1 }).capacity).toBe(105);
    expect(DedupTable.create({ capacity: 1024, windowMs: 1 }).capacity).toBe(1029);
    expect(DedupTable.create({ capacity: 1 << 22, windowMs: 1 }).sharedBuffer.byteLength).toBe(256 + (599_187 + PROBE_BUCKETS - 1) * 128);
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

  it('an occurrence outside the window is NEW and keeps an entry of its own', () => {
    const t = DedupTable.create({ capacity: 1024, windowMs: 100 });
    expect(t.insert(7, 7, 1000)).toBe(NEW);
    expect(t.insert(7, 7, 1101)).toBe(NEW); // window + 1: outside
    expect(t.insert(7, 7, 1150)).toBe(DUPLICATE); // within 1101's window
    expect(t.insert(7, 7, 1201)).toBe(DUPLICATE); // 1201 − 1101 = 100: inside
    expect(t.insert(7, 7, 1202)).toBe(NEW);
    // Every occurrence's entry stays: copies of any of them are duplicates, in any order.
    expect(t.insert(7, 7, 1101)).toBe(DUPLICATE);
    expect(t.insert(7, 7, 1000)).toBe(DUPLICATE);
    expect(t.stats().entries).toBe(3);
  });

  it('the same occurrences give the same verdict counts in any order', () => {
    const times = [1000, 1000, 1400, 1400, 1800, 1000, 1400, 1800];
    const counts = new Set<string>();
    for (let rotate = 0; rotate < times.length; rotate++) {
      const t = DedupTable.create({ capacity: 64, windowMs: 100 });
      const order = [...times.slice(rotate), ...times.slice(0, rotate)].reverse();
      counts.add(order.map((ms) => t.insert(3, 3, ms)).filter((v) => v === NEW).length.toString());
    }
    expect([...counts]).toEqual(['3']);
  });

  it('a key repeating continuously is re-accepted once per window', () => {
    const t = DedupTable.create({ capacity: 64, windowMs: 10 });
    const accepted: number[] = [];
    for (let ms = 0; ms <= 50; ms++) if (t.insert(42, 0, ms) === NEW) accepted.push(ms);
    expect(accepted).toEqual([0, 11, 22, 33, 44]);
  });

  it('keeps a key however far newer data moves the watermark (no expiry by time)', () => {
    const t = DedupTable.create({ capacity: 1 << 14, windowMs: 60_000 });
    expect(t.insert(11, 11, 1_000)).toBe(NEW);
    for (let k = 0; k < 2000; k++) expect(t.insert(Math.imul(k + 100, 0x9e3779b1), 5, 1e12 + k)).toBe(NEW);
    // A copy of the first order, read last (another file, a re-send): still a duplicate.
    expect(t.insert(11, 11, 1_000)).toBe(DUPLICATE);
    expect(t.stats()).toMatchObject({ entries: 2001, forgotten: 0, forgottenInWindow: 0 });
  });

  it('keys colliding in one home bucket spill into the next buckets and are all found', () => {
    const t = DedupTable.create({ capacity: 70, windowMs: 100 }); // 10 home buckets
    expect(bucketsOf(t)).toBe(10);
    const keys = collidingKeys(3, 10, 5 * BUCKET_SLOTS);
    for (const k of keys) expect(t.insert(k, 0, 1000)).toBe(NEW);
    for (const k of keys) expect(t.insert(k, 0, 1050)).toBe(DUPLICATE);
    // A key at home in a bucket the spill filled probes past it too.
    const neighbour = collidingKeys(4, 10, 1)[0]!;
    expect(t.insert(neighbour, 0, 1000)).toBe(NEW);
    expect(t.insert(neighbour, 0, 1000)).toBe(DUPLICATE);
    expect(t.stats()).toMatchObject({ entries: 5 * BUCKET_SLOTS + 1, forgotten: 0 });
  });

  it('a full probe sequence replaces its oldest entry, and counts it', () => {
    const t = DedupTable.create({ capacity: BUCKET_SLOTS, windowMs: 10 }); // 1 home bucket: 8 buckets probed
    const n = BUCKET_SLOTS * PROBE_BUCKETS;
    for (let k = 0; k < n; k++) expect(t.insert(k, 0, 1000 + k)).toBe(NEW);
    expect(t.stats()).toMatchObject({ entries: n, forgotten: 0 });
    expect(t.insert(500, 0, 5000)).toBe(NEW); // replaces key 0 (time 1000)
    expect(t.insert(0, 0, 1000)).toBe(NEW); // key 0 was forgotten: NEW again (replaces key 1)
    expect(t.insert(n - 1, 0, 1000 + n - 1)).toBe(DUPLICATE);
    expect(t.insert(500, 0, 5000)).toBe(DUPLICATE);
    // No low watermark set: judged against the newest time (5000), far past their window.
    expect(t.stats()).toMatchObject({ entries: n, forgotten: 2, forgottenInWindow: 0 });
  });

  it('forgetting inside the window of the low watermark is counted apart', () => {
    const t = DedupTable.create({ capacity: BUCKET_SLOTS, windowMs: 10 });
    const n = BUCKET_SLOTS * PROBE_BUCKETS;
    for (let k = 0; k < n; k++) t.insert(k, 0, 1000 + k);
    // The slowest input is at 1005: an entry of time ≥ 995 could still get an in-order copy.
    t.setLowWatermark(1005);
    t.insert(900, 0, 1100); // replaces key 0 (1000): inside
    t.setLowWatermark(2000);
    t.insert(901, 0, 1100); // replaces key 1 (1001): outside
    expect(t.stats()).toMatchObject({ forgotten: 2, forgottenInWindow: 1 });
    expect(t.forgottenInWindow()).toBe(1);
  });

  it('reads a snapshot of the earlier DDU8 layout (no tail) by re-inserting its entries', () => {
    const buckets = 3;
    const sab = new SharedArrayBuffer(256 + buckets * 128);
    const i32 = new Int32Array(sab);
    const f64 = new Float64Array(sab);
    i32[1] = buckets;
    i32[2] = BUCKET_SLOTS;
    // Bucket 1, slots 0 and 1: two keys as a DDU8 table held them.
    i32[(256 + 128) / 4 + 4] = 77;
    i32[(256 + 128) / 4 + 5] = 78;
    f64[(256 + 128) / 8 + 3] = 5000;
    i32[(256 + 128) / 4 + 8] = 79;
    i32[(256 + 128) / 4 + 9] = 80;
    f64[(256 + 128) / 8 + 5] = 6000;
    Atomics.store(i32, 0, 0x44445538);
    const { table, rehashed } = DedupTable.restore(sab, { capacity: 1024, windowMs: 10 });
    expect(rehashed).toBe(true);
    expect(table.insert(77, 78, 5005)).toBe(DUPLICATE);
    expect(table.insert(79, 80, 6000)).toBe(DUPLICATE);
    expect(table.insert(81, 82, 6000)).toBe(NEW);
    expect(table.stats().entries).toBe(3);
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
  // 4 M slots for ≤ 200 k keys × 3 rounds (load ≤ 0.15): nothing is forgotten
  // inside the window, so every round each key must be NEW exactly once.
  const table = DedupTable.create({ capacity: 1 << 22, windowMs });
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
  expect(table.stats()).toMatchObject({ forgottenInWindow: 0 });
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
