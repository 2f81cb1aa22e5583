/**
 * The addon's batch insert (DedupTable.insertSlots → native/src/dedup.rs)
 * against DedupTable.insertAt, the JS reference: same verdicts, same slot
 * times written back, and the same table, byte for byte, over workloads built
 * to hit every branch (collisions, probing, forgetting, time 0 and -0,
 * missing times, unkeyed and rejected slots between keyed ones). Then the
 * engine end to end with --dedup-impl js and native over the same file.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Engine } from '../dist/src/index.js';
import { ConfigError } from '../dist/src/config/errors.js';
import { DedupTable, INSERT_NONE, type NativeDedup } from '../dist/src/dedup/table.js';
import { SLOT_WORDS, Status, W_HASH_HI, W_HASH_LO, W_STATUS } from '../dist/src/parser/contract.js';
import { loadNativeAddon } from '../dist/src/parser/native.js';
import { prng as mulberry32 } from '../dist/src/util/prng.js';
import { workdir } from './helpers/workdir.js';

const loaded = loadNativeAddon();
if ('error' in loaded && process.env.ORDERTAIL_REQUIRE_NATIVE === '1') throw loaded.error;
const native = 'error' in loaded ? undefined : (loaded.addon as unknown as NativeDedup);

interface Workload {
  slots: Int32Array;
  times: Float64Array;
  count: number;
}

/** `count` slots over few buckets: keys repeat, collide, spill and are forgotten. */
function workload(seed: number, count: number, keys: number, timeSpan: number): Workload {
  const rnd = mulberry32(seed);
  const slots = new Int32Array(count * SLOT_WORDS);
  const times = new Float64Array(slots.buffer);
  let clock = 1_700_000_000_000;
  for (let s = 0; s < count; s++) {
    const w = s * SLOT_WORDS;
    const k = Math.floor(rnd() * keys);
    // hashHi 0 for a third of the keys: bucket = f(hashLo) only, easy collisions.
    slots[w + W_HASH_LO] = Math.imul(k + 1, 0x9e3779b1);
    slots[w + W_HASH_HI] = k % 3 === 0 ? 0 : Math.imul(k + 7, 0x85ebca6b);
    const r = rnd();
    slots[w + W_STATUS] = r < 0.08 ? Status.UNKEYED : r < 0.12 ? Status.INVALID_JSON : Status.KEYED;
    const u = rnd();
    // Mostly advancing, sometimes late, sometimes a jump, some special values.
    if (u < 0.55) clock += Math.floor(rnd() * timeSpan);
    else if (u < 0.6) clock += timeSpan * 40;
    times[s * 4] = u < 0.05 ? Number.NaN : u < 0.07 ? 0 : u < 0.08 ? -0 : u < 0.75 ? clock : clock - Math.floor(rnd() * timeSpan * 3);
  }
  return { slots, times, count };
}

/** The emit stage's JS path: a missing time becomes the arrival time, then insertAt. */
function insertAllJs(table: DedupTable, w: Workload, arrival: number): number[] {
  const verdicts: number[] = [];
  for (let s = 0; s < w.count; s++) {
    if ((w.slots[s * SLOT_WORDS + W_STATUS]! & 0xff) !== Status.KEYED) {
      verdicts.push(INSERT_NONE);
      continue;
    }
    if (Number.isNaN(w.times[s * 4])) w.times[s * 4] = arrival;
    verdicts.push(table.insertAt(w.slots[s * SLOT_WORDS + W_HASH_LO]!, w.slots[s * SLOT_WORDS + W_HASH_HI]!, w.times, s * 4));
  }
  return verdicts;
}

/** insertSlots over ranges of random length, as ranges arrive. */
function insertAllNative(table: DedupTable, w: Workload, arrival: number, seed: number): number[] {
  const rnd = mulberry32(seed);
  const verdicts = new Uint8Array(w.count);
  for (let first = 0; first < w.count; ) {
    const end = Math.min(w.count, first + 1 + Math.floor(rnd() * 300));
    const range = w.slots.subarray(first * SLOT_WORDS, end * SLOT_WORDS);
    const out = new Uint8Array(end - first);
    expect(table.insertSlots(native!, range, 0, end - first, arrival, out)).toBe(end - first);
    verdicts.set(out, first);
    first = end;
  }
  return [...verdicts];
}

function cloneWorkload(w: Workload): Workload {
  const slots = w.slots.slice();
  return { slots, times: new Float64Array(slots.buffer), count: w.count };
}

describe.skipIf(!native)('native batch dedup inserts', () => {
  const cases = [
    { name: 'crowded table, short window (probing, forgetting, keys outside the window)', seed: 1, count: 20_000, keys: 400, capacity: 70, windowMs: 50, span: 20, forgets: true },
    { name: 'many keys, long window (mostly NEW, some duplicates)', seed: 2, count: 30_000, keys: 20_000, capacity: 70_000, windowMs: 60_000, span: 5, forgets: false },
    { name: 'one bucket, window 0 (exact-time duplicates only)', seed: 3, count: 5_000, keys: 12, capacity: 7, windowMs: 0, span: 2, forgets: true },
    { name: 'huge window (forgetting dominates)', seed: 4, count: 8_000, keys: 3_000, capacity: 700, windowMs: 1e12, span: 1000, forgets: true },
  ];
  for (const c of cases) {
    it(`same verdicts, slot times and table bytes as insertAt: ${c.name}`, () => {
      const base = workload(c.seed, c.count, c.keys, c.span);
      const jsW = cloneWorkload(base);
      const nativeW = cloneWorkload(base);
      const jsTable = DedupTable.create({ capacity: c.capacity, windowMs: c.windowMs });
      const nativeTable = DedupTable.create({ capacity: c.capacity, windowMs: c.windowMs });
      const arrival = 1_700_000_500_000;
      const jsVerdicts = insertAllJs(jsTable, jsW, arrival);
      const nativeVerdicts = insertAllNative(nativeTable, nativeW, arrival, c.seed + 100);
      expect(nativeVerdicts).toEqual(jsVerdicts);
      // Every outcome really occurred in the cases meant to produce it.
      const seen = new Set(jsVerdicts);
      expect(seen.has(0)).toBe(true);
      if (c.keys < c.count / 2) expect(seen.has(1)).toBe(true);
      expect(Buffer.compare(Buffer.from(nativeW.slots.buffer), Buffer.from(jsW.slots.buffer))).toBe(0);
      expect(Buffer.compare(Buffer.from(nativeTable.sharedBuffer), Buffer.from(jsTable.sharedBuffer))).toBe(0);
      expect(nativeTable.stats()).toEqual(jsTable.stats());
      if (c.forgets) expect(jsTable.stats().forgotten).toBeGreaterThan(0);
    });
  }

  it('a JS handle and a native call share one watermark view: interleaved inserts match insertAt', () => {
    const base = workload(9, 6_000, 500, 30);
    const jsW = cloneWorkload(base);
    const mixW = cloneWorkload(base);
    const jsTable = DedupTable.create({ capacity: 350, windowMs: 100 });
    const mixTable = DedupTable.create({ capacity: 350, windowMs: 100 });
    const jsVerdicts = insertAllJs(jsTable, jsW, 0);
    const mixVerdicts: number[] = [];
    const out = new Uint8Array(mixW.count);
    for (let s = 0; s < mixW.count; s++) {
      const keyed = (mixW.slots[s * SLOT_WORDS + W_STATUS]! & 0xff) === Status.KEYED;
      if (s % 7 < 3 || !keyed) {
        expect(mixTable.insertSlots(native!, mixW.slots, s, s + 1, 0, out)).toBe(s + 1);
        mixVerdicts.push(out[s]!);
      } else {
        if (Number.isNaN(mixW.times[s * 4])) mixW.times[s * 4] = 0;
        mixVerdicts.push(mixTable.insertAt(mixW.slots[s * SLOT_WORDS + W_HASH_LO]!, mixW.slots[s * SLOT_WORDS + W_HASH_HI]!, mixW.times, s * 4));
      }
    }
    expect(mixVerdicts).toEqual(jsVerdicts);
    expect(Buffer.compare(Buffer.from(mixTable.sharedBuffer), Buffer.from(jsTable.sharedBuffer))).toBe(0);
  });

  it('hands back a slot whose bucket another thread holds (bucket untouched), and one with a non-finite time', () => {
    const table = DedupTable.create({ capacity: 7, windowMs: 1000 });
    const w = workload(5, 3, 1, 1);
    for (let s = 0; s < 3; s++) {
      w.slots[s * SLOT_WORDS + W_STATUS] = Status.KEYED;
      w.times[s * 4] = 1000 + s;
    }
    // Hold bucket 0 (the only one) as another thread would: odd version word.
    const words = new Int32Array(table.sharedBuffer);
    const versionIdx = 256 / 4;
    Atomics.store(words, versionIdx, 41);
    const before = Buffer.from(table.sharedBuffer.slice(0));
    const out = new Uint8Array(3);
    expect(table.insertSlots(native!, w.slots, 0, 3, 0, out)).toBe(0);
    // The watermark view may move (JS insertAt raises it first too); the bucket may not.
    expect(Buffer.from(table.sharedBuffer).subarray(256).equals(before.subarray(256))).toBe(true);
    Atomics.store(words, versionIdx, 42);
    w.times[4] = Number.POSITIVE_INFINITY;
    expect(table.insertSlots(native!, w.slots, 0, 3, 0, out)).toBe(1);
    expect(() => table.insertAt(w.slots[SLOT_WORDS + W_HASH_LO]!, w.slots[SLOT_WORDS + W_HASH_HI]!, w.times, 4)).toThrow(RangeError);
  });

  it('refuses buffers that are not a table, short slot arrays and short verdict arrays', () => {
    const table = DedupTable.create({ capacity: 70, windowMs: 10 });
    const slots = new Int32Array(4 * SLOT_WORDS);
    const add = native!.dedupSlots.bind(native);
    const wm = new Float64Array(3);
    expect(() => add(new Int32Array(1024), slots, 0, 4, 0, wm, new Uint8Array(4))).toThrow(/DedupTable/);
    expect(() => add(new Int32Array(table.sharedBuffer), slots, 0, 5, 0, wm, new Uint8Array(5))).toThrow(/slots/);
    expect(() => add(new Int32Array(table.sharedBuffer), slots, 0, 4, 0, wm, new Uint8Array(3))).toThrow(/verdicts/);
  });
});

describe.skipIf(!native)('engine with --dedup-impl js and native', () => {
  function logWithDuplicates(dir: string): string {
    const rnd = mulberry32(77);
    const lines: string[] = [];
    for (let i = 0; i < 60_000; i++) {
      const id = Math.floor(rnd() * 25_000);
      const t = 1_700_000_000_000 + i * 3;
      lines.push(rnd() < 0.01 ? `{"id":${id},"timestamp":` : rnd() < 0.05 ? `{"id":${id}}` : `{"id":${id},"timestamp":${t},"px":${i}}`);
    }
    const path = join(dir, 'orders.ndjson');
    writeFileSync(path, lines.join('\n') + '\n');
    return path;
  }

  it('writes the same records and counts either way, and says which it used', async () => {
    const dir = workdir();
    const input = logWithDuplicates(dir);
    const runs: { bytes: Buffer; stats: ReturnType<Engine['stats']> }[] = [];
    for (const impl of ['js', 'native'] as const) {
      const out = join(dir, `out-${impl}.ndjson`);
      const engine = new Engine({ input, once: true, workers: 2, rangeBytes: 64 * 1024, dedupWindow: '20s', dedupImpl: impl, sink: `file:${out}` });
      await engine.start();
      await engine.finished();
      const stats = engine.stats();
      await engine.stop();
      expect(stats.dedup.impl).toBe(impl);
      runs.push({ bytes: readFileSync(out), stats });
    }
    const [js, nat] = runs as [(typeof runs)[0], (typeof runs)[0]];
    expect(js.stats.duplicates).toBeGreaterThan(10_000);
    expect(nat.bytes.equals(js.bytes)).toBe(true);
    for (const k of ['recordsRead', 'recordsEmitted', 'duplicates', 'rejected', 'withoutKey', 'dedupForgotten', 'dedupForgottenInWindow'] as const) {
      expect(nat.stats[k]).toBe(js.stats[k]);
    }
  });

  it('dedupImpl native without the addon is a ConfigError naming dedupImpl', async () => {
    const saved = process.env.ORDERTAIL_NATIVE;
    process.env.ORDERTAIL_NATIVE = '0';
    try {
      const input = join(workdir(), 'orders.ndjson');
      writeFileSync(input, '{"id":1}\n');
      const engine = new Engine({ input, once: true, parser: 'js', dedupImpl: 'native' });
      await expect(engine.start()).rejects.toThrow(ConfigError);
      await expect(new Engine({ input, once: true, parser: 'js', dedupImpl: 'native' }).start()).rejects.toThrow(/dedup-impl native/);
      await engine.stop();
    } finally {
      if (saved === undefined) delete process.env.ORDERTAIL_NATIVE;
      else process.env.ORDERTAIL_NATIVE = saved;
    }
  });
});
