/**
 * Result-ring throughput: records/s from a worker-thread RingProducer to the
 * main-thread RingConsumer (batches of 1024 slots, the consumer reads one word
 * per slot and sleeps on the Doorbell when the ring is empty), against the same
 * producer/consumer pair in one thread and a plain Int32Array.set copy, in the
 * same run. `node dist/bench/ring.js`
 */
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { Bench } from 'tinybench';
import { SLOT_WORDS, W_OFFSET } from '../src/parser/contract.js';
import { RingConsumer } from '../src/ring/consumer.js';
import { Doorbell } from '../src/ring/doorbell.js';
import { createRingBuffer } from '../src/ring/layout.js';
import { RingProducer } from '../src/ring/producer.js';
import { CTL_GEN, CTL_STOP } from './workers/ring-producer.js';

export interface RingBenchRow {
  readonly task: string;
  readonly recordsPerSec: number;
  /** recordsPerSec / the Int32Array.set baseline. */
  readonly ratio: number;
}

export interface RingBenchOptions {
  readonly batchSlots?: number;
  readonly ringSlots?: number;
  /** Records moved per measured iteration. */
  readonly perRound?: number;
  readonly timeMs?: number;
  readonly print?: boolean;
}

/** Sums one word per slot so the reads cannot be skipped; returns the sum. */
function readRun(i32: Int32Array, first: number, n: number): number {
  let sum = 0;
  for (let s = first, end = first + n; s < end; s++) sum += i32[s * SLOT_WORDS + W_OFFSET]!;
  return sum;
}

export async function run(options: RingBenchOptions = {}): Promise<RingBenchRow[]> {
  const batchSlots = options.batchSlots ?? 1024;
  const ringSlots = options.ringSlots ?? 16_384;
  const perRound = options.perRound ?? 1 << 20;
  const time = options.timeMs ?? 2000;
  let sink = 0;

  // Cross-thread: worker producer → main consumer.
  const xRing = createRingBuffer(ringSlots);
  const bell = Doorbell.create();
  const xConsumer = new RingConsumer(xRing);
  const control = new SharedArrayBuffer(8);
  const ctl = new Int32Array(control);
  const worker = new Worker(new URL('./workers/ring-producer.js', import.meta.url), {
    workerData: { ring: xRing, doorbell: bell.sharedBuffer, control, batchSlots, perRound },
  });
  const workerFailed = new Promise<never>((_, reject) => worker.once('error', reject));
  let wakes = 0;
  const crossThread = async (): Promise<void> => {
    Atomics.add(ctl, CTL_GEN, 1);
    Atomics.notify(ctl, CTL_GEN);
    let got = 0;
    while (got < perRound) {
      const n = xConsumer.peek();
      if (n === 0) {
        wakes++;
        const r = await Promise.race([bell.wait([xConsumer], 10_000), workerFailed]);
        if (r === 'timed-out') throw new Error('ring bench: producer silent for 10 s');
        continue;
      }
      sink += readRun(xConsumer.i32, xConsumer.headSlot, n);
      xConsumer.advance(n);
      got += n;
    }
  };

  // Same thread: write a batch, read it back.
  const sRing = createRingBuffer(ringSlots);
  const sProducer = new RingProducer(sRing, Doorbell.create());
  const sConsumer = new RingConsumer(sRing);
  const batch = new Int32Array(batchSlots * SLOT_WORDS);
  for (let s = 0; s < batchSlots; s++) batch[s * SLOT_WORDS + W_OFFSET] = s;
  const sameThread = (): void => {
    for (let done = 0; done < perRound; done += batchSlots) {
      sProducer.write(batch, batchSlots, 1);
      for (let n = sConsumer.peek(); n > 0; n = sConsumer.peek()) {
        sink += readRun(sConsumer.i32, sConsumer.headSlot, n);
        sConsumer.advance(n);
      }
    }
  };

  // Baseline: copy the batch with Int32Array.set and read it back.
  const dst = new Int32Array(batchSlots * SLOT_WORDS);
  const plainCopy = (): void => {
    for (let done = 0; done < perRound; done += batchSlots) {
      dst.set(batch);
      sink += readRun(dst, 0, batchSlots);
    }
  };

  const bench = new Bench({ time, warmupTime: 300, throws: true });
  bench
    .add('Int32Array.set copy (baseline)', plainCopy)
    .add('ring, same thread', sameThread)
    .add('ring, worker -> main thread', crossThread, { async: true });
  try {
    await bench.run();
  } finally {
    Atomics.store(ctl, CTL_STOP, 1);
    Atomics.notify(ctl, CTL_GEN);
    await worker.terminate();
  }

  const rates = bench.tasks.map((t) => {
    const r = t.result;
    if (r.state !== 'completed') throw new Error(`${t.name}: ${r.state}`);
    return perRound / (r.latency.mean / 1000);
  });
  const base = rates[0]!;
  const rows = bench.tasks.map((t, i) => ({ task: t.name, recordsPerSec: rates[i]!, ratio: rates[i]! / base }));
  if (options.print ?? true) {
    console.log(
      `ring: ${perRound} records/iteration, batches of ${batchSlots}, ${ringSlots}-slot ring, ` +
        `node ${process.version} (checksum ${sink % 1000}, doorbell sleeps ${wakes})`,
    );
    console.table(
      rows.map((r) => ({
        task: r.task,
        'M records/s': (r.recordsPerSec / 1e6).toFixed(1),
        'x baseline': r.ratio.toFixed(2),
      })),
    );
  }
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await run();
}
