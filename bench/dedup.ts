/**
 * Dedup throughput: DedupTable inserts/s in one thread and with 2 worker
 * threads sharing one table (aggregate), against Map<bigint, time> (same
 * window semantics, but unbounded and never expiring) and Set<string>
 * (membership only) over the same key stream, in the same run.
 * `node dist/bench/dedup.js`
 */
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { Bench } from 'tinybench';
import { DedupTable, INSERT_NEW } from '../src/dedup/table.js';
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
    .add('DedupTable, 1 thread', tableSingle)
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
        `overflows ${s1.overflows}/${s2.overflows}), node ${process.version} (new ${fresh % 1000})`,
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

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await run();
}
