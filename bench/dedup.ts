/**
 * Dedup throughput: DedupTable inserts/s in one thread and with 2 worker
 * threads sharing one table (aggregate), against Map<bigint, time> (same
 * window semantics, but unbounded and never expiring) and Set<string>
 * (membership only) over the same key stream, in the same run.
 * `node dist/bench/dedup.js`
 *
 * `node dist/bench/dedup.js --sweep [--baseline path/to/table.js]`: ns per
 * insert in one thread at several capacities (1 M, 4 M, 16 M slots), table
 * load L/C ≈ 0.1 (the sizing advice in layout.ts), after a warm-up of several
 * windows so buckets are in steady state. With --baseline (another build's
 * dist/src/dedup/table.js), both tables run in alternating rounds in this one
 * process and the per-round ratio new/baseline is reported: the machine's
 * noise hits both alike.
 */
import { parseArgs } from 'node:util';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { Bench } from 'tinybench';
import { DedupTable, INSERT_NEW, type NativeDedup } from '../src/dedup/table.js';
import { loadNativeAddon } from '../src/parser/native.js';
import { SLOT_WORDS, W_HASH_HI, W_HASH_LO } from '../src/parser/contract.js';
import { atomicsWaitAsync } from '../src/ring/wait.js';
import { BASE_TIME_MS, DUPLICATE_SHARE, makeDedupStream } from './dedup-stream.js';
import { CTL_DONE, CTL_GEN, CTL_STOP, CTL_WORDS } from './workers/dedup-inserter.js';

export interface DedupBenchRow {
  readonly task: string;
  readonly insertsPerSec: number;
  /** insertsPerSec / the Map<bigint> baseline. */
  readonly ratio: number;
}

export interface DedupBenchOptions {
  /** Distinct stream positions before the key stream repeats (power of two). */
  readonly streamLength?: number;
  /** Inserts per measured iteration (all threads together). */
  readonly perRound?: number;
  readonly windowMs?: number;
  readonly capacity?: number;
  readonly threads?: number;
  readonly timeMs?: number;
  readonly print?: boolean;
}

export async function run(options: DedupBenchOptions = {}): Promise<DedupBenchRow[]> {
  const streamLength = options.streamLength ?? 1 << 22;
  const perRound = options.perRound ?? 1 << 16;
  const windowMs = options.windowMs ?? 1_000_000; // one record per ms: ~1 M records live
  const capacity = options.capacity ?? 1 << 23; // ≈ 10× the live keys (layout.ts, "Sizing")
  const threads = options.threads ?? 2;
  const time = options.timeMs ?? 2000;
  const stream = makeDedupStream(streamLength);
  const { lo, hi } = stream;
  const mask = streamLength - 1;
  let fresh = 0;

  // One thread, one table.
  const single = DedupTable.create({ capacity, windowMs });
  let posSingle = 0;
  const tableSingle = (): void => {
    for (let g = posSingle, end = posSingle + perRound; g < end; g++) {
      const k = g & mask;
      if (single.insert(lo[k]!, hi[k]!, BASE_TIME_MS + g) === INSERT_NEW) fresh++;
    }
    posSingle += perRound;
  };

  // The same, through the addon's batch insert (what the engine's main thread
  // uses): a round's slots are filled first, as the ring delivers them; the
  // fill is part of the measured time.
  const loaded = loadNativeAddon();
  const native = 'error' in loaded ? undefined : (loaded.addon as unknown as NativeDedup);
  const batchTable = DedupTable.create({ capacity, windowMs });
  const slots = new Int32Array(perRound * SLOT_WORDS);
  const slotTimes = new Float64Array(slots.buffer);
  const verdicts = new Uint8Array(perRound);
  let posBatch = 0;
  const tableBatch = (): void => {
    for (let i = 0; i < perRound; i++) {
      const g = posBatch + i;
      const k = g & mask;
      slots[i * SLOT_WORDS + W_HASH_LO] = lo[k]!;
      slots[i * SLOT_WORDS + W_HASH_HI] = hi[k]!;
      slotTimes[i * (SLOT_WORDS >> 1)] = BASE_TIME_MS + g;
    }
    // One thread: nothing is ever handed back (no bucket is held by another).
    if (batchTable.insertSlots(native!, slots, 0, perRound, 0, verdicts) !== perRound) throw new Error('native batch insert stopped early');
    for (let i = 0; i < perRound; i++) if (verdicts[i] === INSERT_NEW) fresh++;
    posBatch += perRound;
  };

  // Baselines over the same stream.
  const map = new Map<bigint, number>();
  let posMap = 0;
  const mapBigint = (): void => {
    for (let g = posMap, end = posMap + perRound; g < end; g++) {
      const k = g & mask;
      const key = (BigInt(hi[k]!) << 32n) | BigInt(lo[k]! >>> 0);
      const t = BASE_TIME_MS + g;
      const seen = map.get(key);
      if (seen === undefined || Math.abs(t - seen) > windowMs) {
        map.set(key, t);
        fresh++;
      }
    }
    posMap += perRound;
  };
  const set = new Set<string>();
  let posSet = 0;
  const setString = (): void => {
    for (let g = posSet, end = posSet + perRound; g < end; g++) {
      const k = g & mask;
      const key = `${lo[k]!}:${hi[k]!}`;
      if (!set.has(key)) {
        set.add(key);
        fresh++;
      }
    }
    posSet += perRound;
  };

  // `threads` workers sharing another table; the main thread only starts and waits.
  const shared = DedupTable.create({ capacity, windowMs });
  const control = new SharedArrayBuffer((CTL_WORDS + threads) * 4);
  const ctl = new Int32Array(control);
  const workers = Array.from(
    { length: threads },
    (_, threadId) =>
      new Worker(new URL('./workers/dedup-inserter.js', import.meta.url), {
        workerData: {
          table: shared.sharedBuffer,
          lo: lo.buffer,
          hi: hi.buffer,
          control,
          threads,
          threadId,
          perRound,
          startAt: 0,
        },
      }),
  );
  const failed = Promise.race(workers.map((w) => new Promise<never>((_, reject) => w.once('error', reject))));
  const tableThreads = async (): Promise<void> => {
    const target = Atomics.load(ctl, CTL_DONE) + threads;
    Atomics.add(ctl, CTL_GEN, 1);
    Atomics.notify(ctl, CTL_GEN);
    for (let done = Atomics.load(ctl, CTL_DONE); done < target; done = Atomics.load(ctl, CTL_DONE)) {
      const w = atomicsWaitAsync(ctl, CTL_DONE, done, 10_000);
      if (w.async && (await Promise.race([w.value, failed])) === 'timed-out') {
        throw new Error('dedup bench: workers silent for 10 s');
      }
    }
  };

  const bench = new Bench({ time, warmupTime: 300, throws: true });
  bench
    .add('Map<bigint, time> (baseline)', mapBigint)
    .add('Set<string>', setString)
    .add('DedupTable, 1 thread', tableSingle);
  if (native) bench.add('DedupTable, 1 thread, native batch insert (insertSlots)', tableBatch);
  bench
    .add(`DedupTable, ${threads} threads (aggregate)`, tableThreads, { async: true });
  try {
    await bench.run();
  } finally {
    Atomics.store(ctl, CTL_STOP, 1);
    Atomics.notify(ctl, CTL_GEN);
    await Promise.all(workers.map((w) => w.terminate()));
  }

  const rates = bench.tasks.map((t) => {
    const r = t.result;
    if (r.state !== 'completed') throw new Error(`${t.name}: ${r.state}`);
    return perRound / (r.latency.mean / 1000);
  });
  const base = rates[0]!;
  const rows = bench.tasks.map((t, i) => ({ task: t.name, insertsPerSec: rates[i]!, ratio: rates[i]! / base }));
  if (options.print ?? true) {
    const s1 = single.stats();
    const s2 = shared.stats();
    console.log(
      `dedup: ${perRound} inserts/iteration, ${DUPLICATE_SHARE * 100}% near duplicates, ` +
        `window ${windowMs} records, table ${capacity} slots (live ≈ ${s1.live}/${s2.live}, ` +
        `forgotten ${s1.forgotten}/${s2.forgotten}), node ${process.version} (new ${fresh % 1000})`,
    );
    console.table(
      rows.map((r) => ({
        task: r.task,
        'M inserts/s': (r.insertsPerSec / 1e6).toFixed(2),
        'x Map<bigint>': r.ratio.toFixed(2),
      })),
    );
  }
  return rows;
}

/** What runSweep needs of a table module: this build's, or a baseline build's. */
interface SweepTable {
  readonly capacity: number;
  readonly sharedBuffer: SharedArrayBuffer;
  insertAt(hashLo: number, hashHi: number, times: Float64Array, timeIndex: number): number;
  /**
   * Keys a duplicate could get through for: this build's entries forgotten while
   * inside the window; a DDU8 build's overflows (records passed through unstored
   * because their bucket was full of live keys).
   */
  stats(): { overflows?: number; forgottenInWindow?: number };
  insertSlots?(native: NativeDedup, slots: Int32Array, first: number, count: number, arrival: number, verdicts: Uint8Array): number;
}
const lost = (t: SweepTable): number => {
  const s = t.stats();
  return s.forgottenInWindow ?? s.overflows ?? 0;
};
interface SweepTableClass {
  create(options: { capacity: number; windowMs: number }): SweepTable;
}

/** This build's table, after another build's (its dist/src/dedup/table.js) when given: compared in one run. */
async function tableImpls(baseline: string | undefined): Promise<{ name: string; cls: SweepTableClass }[]> {
  const impls: { name: string; cls: SweepTableClass }[] = [];
  if (baseline !== undefined) {
    const mod = (await import(pathToFileURL(baseline).href)) as { DedupTable: SweepTableClass };
    impls.push({ name: 'baseline', cls: mod.DedupTable });
  }
  impls.push({ name: 'this build', cls: DedupTable });
  return impls;
}

export interface DedupSweepOptions {
  readonly capacities?: readonly number[];
  /** windowMs = load × capacity, one record per ms. */
  readonly load?: number;
  /** Measured rounds per table per capacity. */
  readonly rounds?: number;
  /** Inserts per round. */
  readonly perRound?: number;
  /** dist/src/dedup/table.js of another build, compared round by round. */
  readonly baseline?: string;
  readonly print?: boolean;
}

export interface DedupSweepRow {
  readonly capacity: number;
  readonly table: string;
  readonly slots: number;
  readonly mib: number;
  /** ns per insert over the rounds: median, min, max. */
  readonly ns: readonly [number, number, number];
  /** Per-round ns / the baseline's ns in the same round: median, min, max (1 without a baseline). */
  readonly ratio: readonly [number, number, number];
  /** Keys lost per insert: forgotten (this build) or overflowed (a DDU8 baseline). */
  readonly lostPerInsert: number;
}

const spread = (xs: number[]): [number, number, number] => {
  const s = [...xs].sort((a, b) => a - b);
  return [s[s.length >> 1]!, s[0]!, s[s.length - 1]!];
};

/**
 * Engine-like single-thread inserts: random 64-bit hashes, epoch-ms times one
 * per record, 20 % near duplicates, through insertAt as the emit stage calls it.
 */
export async function runSweep(options: DedupSweepOptions = {}): Promise<DedupSweepRow[]> {
  const capacities = options.capacities ?? [1 << 20, 1 << 22, 1 << 24];
  const load = options.load ?? 0.1;
  const rounds = options.rounds ?? 15;
  const perRound = options.perRound ?? 1 << 18;
  const stream = makeDedupStream(1 << 22);
  const { lo, hi } = stream;
  const mask = stream.length - 1;
  const impls = await tableImpls(options.baseline);
  const times = new Float64Array(1);
  // One loop for every table: insertAt with the time in a Float64Array, as the
  // emit stage calls it (no boxing even when the call is not inlined).
  const drive = (table: SweepTable, from: number, n: number): void => {
    for (let g = from, end = from + n; g < end; g++) {
      const k = g & mask;
      times[0] = BASE_TIME_MS + g;
      table.insertAt(lo[k]!, hi[k]!, times, 0);
    }
  };
  const rows: DedupSweepRow[] = [];
  for (const capacity of capacities) {
    const windowMs = Math.round(capacity * load);
    const runs = impls.map(({ name, cls }) => ({ name, table: cls.create({ capacity, windowMs }), pos: 0, ns: [] as number[] }));
    const warm = Math.max(4 * windowMs, 1 << 21);
    for (const r of runs) {
      for (; r.pos < warm; r.pos += perRound) drive(r.table, r.pos, perRound);
    }
    const lostBefore = runs.map((r) => lost(r.table));
    for (let round = 0; round < rounds; round++) {
      for (const r of round & 1 ? [...runs].reverse() : runs) {
        const t0 = process.hrtime.bigint();
        drive(r.table, r.pos, perRound);
        r.ns.push(Number(process.hrtime.bigint() - t0) / perRound);
        r.pos += perRound;
      }
    }
    const base = runs[0]!.ns;
    runs.forEach((r, i) => {
      rows.push({
        capacity,
        table: r.name,
        slots: r.table.capacity,
        mib: r.table.sharedBuffer.byteLength / 2 ** 20,
        ns: spread(r.ns),
        ratio: spread(r.ns.map((x, j) => x / base[j]!)),
        lostPerInsert: (lost(r.table) - lostBefore[i]!) / (rounds * perRound),
      });
    });
  }
  if (options.print ?? true) {
    console.log(
      `dedup sweep: 1 thread, insertAt, ${DUPLICATE_SHARE * 100}% near duplicates, L/C ≈ ${load} ` +
        `(window = ${load} × capacity records), ${rounds} rounds × ${perRound} inserts, node ${process.version}`,
    );
    const f = (x: readonly [number, number, number], d: number): string =>
      `${x[0].toFixed(d)} [${x[1].toFixed(d)}–${x[2].toFixed(d)}]`;
    console.table(
      rows.map((r) => ({
        capacity: r.capacity,
        table: r.table,
        slots: r.slots,
        MiB: r.mib.toFixed(1),
        'ns/insert med [min–max]': f(r.ns, 0),
        'x baseline med [min–max]': f(r.ratio, 2),
        'lost/insert': r.lostPerInsert.toExponential(1),
      })),
    );
  }
  return rows;
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

export interface ForgettingRow {
  readonly table: string;
  readonly load: number;
  readonly keys: number;
  /** Distinct keys lost while filling the table to `load` (forgotten, or passed through unstored). */
  readonly lost: number;
  readonly lostPerKey: number;
  /** Table bytes per key held at this load. */
  readonly bytesPerKey: number;
}

/**
 * Distinct keys into an empty table up to a load (keys / capacity), nothing
 * expiring (a replay: every key must be kept): how many are lost on the way.
 * With --baseline, a DDU8 table (watermark expiry, no probing) in the same run.
 */
export async function runForgetting(options: { capacity?: number; loads?: readonly number[]; baseline?: string; print?: boolean } = {}): Promise<ForgettingRow[]> {
  const capacity = options.capacity ?? 1 << 22;
  const loads = options.loads ?? [0.1, 0.25, 0.5, 0.6, 0.7];
  const impls = await tableImpls(options.baseline);
  const times = new Float64Array(1);
  const rows: ForgettingRow[] = [];
  for (const { name, cls } of impls) {
    for (const load of loads) {
      const table = cls.create({ capacity, windowMs: 1e15 });
      const keys = Math.round(load * table.capacity);
      for (let k = 0; k < keys; k++) {
        times[0] = BASE_TIME_MS + k;
        // Distinct keys with well-mixed hashes (murmur3's finaliser of k), as the contract's lanes are.
        table.insertAt(fmix32(k), fmix32(k ^ 0x9e3779b9), times, 0);
      }
      const n = lost(table);
      rows.push({ table: name, load, keys, lost: n, lostPerKey: n / keys, bytesPerKey: table.sharedBuffer.byteLength / keys });
    }
  }
  if (options.print ?? true) {
    console.log(`dedup forgetting: distinct keys into an empty table of ${capacity} slots, nothing expiring, node ${process.version}`);
    console.table(rows.map((r) => ({ table: r.table, load: r.load, keys: r.keys, lost: r.lost, 'lost/key': r.lostPerKey.toExponential(1), 'B/key': r.bytesPerKey.toFixed(1) })));
  }
  return rows;
}

/**
 * The addon's batch insert (the engine's path) in the steady state of a long
 * follow run: the same key stream as --sweep (window = 0.1 × capacity records),
 * run for 4 capacities' worth of inserts first, so a table that keeps keys until
 * it is full IS full, then measured. With --baseline, that build's table and
 * addon (its dist/src/dedup/table.js; the addon from the same checkout).
 */
export async function runSteadyNative(options: { capacities?: readonly number[]; baseline?: string; rounds?: number } = {}): Promise<void> {
  const builds: { name: string; cls: SweepTableClass; native: NativeDedup }[] = [];
  const load = async (name: string, tableJs: string): Promise<void> => {
    const mod = (await import(pathToFileURL(tableJs).href)) as { DedupTable: SweepTableClass };
    const nativeMod = (await import(pathToFileURL(join(dirname(tableJs), '../parser/native.js')).href)) as { loadNativeAddon: typeof loadNativeAddon };
    const loaded = nativeMod.loadNativeAddon();
    if ('error' in loaded) throw loaded.error;
    builds.push({ name, cls: mod.DedupTable, native: loaded.addon as unknown as NativeDedup });
  };
  if (options.baseline !== undefined) await load('baseline', options.baseline);
  await load('this build', fileURLToPath(new URL('../src/dedup/table.js', import.meta.url)));
  const stream = makeDedupStream(1 << 22);
  const n = 4096;
  const rows: Record<string, string>[] = [];
  for (const capacity of options.capacities ?? [1 << 20, 1 << 22]) {
    const perBuild = builds.map((b) => {
      const table = b.cls.create({ capacity, windowMs: Math.round(capacity * 0.1) });
      const slots = new Int32Array(n * SLOT_WORDS);
      const times = new Float64Array(slots.buffer);
      const verdicts = new Uint8Array(n);
      let g = 0;
      const batch = (): void => {
        for (let s = 0; s < n; s++, g++) {
          const k = g & (stream.length - 1);
          times[s * 4] = BASE_TIME_MS + g;
          slots[s * SLOT_WORDS + W_HASH_LO] = stream.lo[k]!;
          slots[s * SLOT_WORDS + W_HASH_HI] = stream.hi[k]!;
          slots[s * SLOT_WORDS + 6] = 0; // KEYED
        }
        for (let s = 0; s < n; ) {
          const done = table.insertSlots!(b.native, slots, s, n, 0, verdicts);
          if (done === n) break;
          table.insertAt(slots[done * SLOT_WORDS + W_HASH_LO]!, slots[done * SLOT_WORDS + W_HASH_HI]!, times, done * 4);
          s = done + 1;
        }
      };
      for (let i = 0; i < Math.max(4 * capacity, 1 << 22) / n; i++) batch();
      return { b, table, batch, ns: [] as number[] };
    });
    for (let round = 0; round < (options.rounds ?? 9); round++) {
      for (const r of round & 1 ? [...perBuild].reverse() : perBuild) {
        const t0 = process.hrtime.bigint();
        for (let i = 0; i < 64; i++) r.batch();
        r.ns.push(Number(process.hrtime.bigint() - t0) / (64 * n));
      }
    }
    const base = perBuild[0]!.ns;
    for (const r of perBuild) {
      const ns = spread(r.ns);
      rows.push({ capacity: String(capacity), table: r.b.name, 'ns/insert med [min–max]': `${ns[0].toFixed(0)} [${ns[1].toFixed(0)}–${ns[2].toFixed(0)}]`, 'x first row (med)': spread(r.ns.map((x, j) => x / base[j]!))[0].toFixed(2) });
    }
  }
  console.log(`dedup steady state, addon batch insert (the engine's path), full table in a long follow run, node ${process.version}`);
  console.table(rows);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({
    options: { sweep: { type: 'boolean' }, forgetting: { type: 'boolean' }, steady: { type: 'boolean' }, baseline: { type: 'string' }, load: { type: 'string' }, rounds: { type: 'string' } },
  });
  if (values.steady) {
    await runSteadyNative({ ...(values.baseline !== undefined && { baseline: values.baseline }) });
  } else if (values.forgetting) {
    await runForgetting({ ...(values.baseline !== undefined && { baseline: values.baseline }) });
  } else if (values.sweep) {
    await runSweep({
      ...(values.baseline !== undefined && { baseline: values.baseline }),
      ...(values.load !== undefined && { load: Number(values.load) }),
      ...(values.rounds !== undefined && { rounds: Number(values.rounds) }),
    });
  } else {
    await run();
  }
}
