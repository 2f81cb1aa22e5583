/**
 * The result ring: wrap-around (including the uint32 index wrap), a full ring
 * that blocks a worker producer and resumes with nothing lost or reordered, the
 * named stall error, and the Doorbell waking an awaiting main thread.
 * Runs the compiled code in dist/ (build first) with real worker threads.
 */
import { Worker } from 'node:worker_threads';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { RingConsumer } from '../dist/src/ring/consumer.js';
import { Doorbell } from '../dist/src/ring/doorbell.js';
import { DoorbellBusyError } from '../dist/src/ring/errors.js';
import { RING_HEAD, RING_TAIL, createRingBuffer } from '../dist/src/ring/layout.js';
import { RingProducer } from '../dist/src/ring/producer.js';

const FIXTURE = new URL('./fixtures/ring-producer.mjs', import.meta.url);

interface ProducerReport {
  done: number;
  waits?: number;
  error?: { name: string; code: string; written: number; remaining: number; waitedMs: number };
}

function startProducer(opts: {
  ring: SharedArrayBuffer;
  doorbell: SharedArrayBuffer;
  total: number;
  batchMax: number;
  firstBatch?: number;
  rangeId: number;
  stallLimitMs?: number;
}): { gate: Int32Array; report: Promise<ProducerReport>; worker: Worker } {
  const control = new SharedArrayBuffer(4);
  const worker = new Worker(FIXTURE, { workerData: { ...opts, control, mode: 'sequence' } });
  const report = new Promise<ProducerReport>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`producer exited (${code}) before reporting`)));
  });
  return { gate: new Int32Array(control), report, worker };
}

function open(gate: Int32Array): void {
  Atomics.store(gate, 0, 1);
  Atomics.notify(gate, 0);
}

describe('ring wrap-around (same thread)', () => {
  for (const capacity of [16, 128]) {
    it(`keeps order over many wraps and across the 2^32 index wrap (capacity ${capacity})`, () => {
      const sab = createRingBuffer(capacity);
      // Start both indices just below 2^32 so they wrap early in the run.
      const header = new Int32Array(sab, 0, 80);
      header[RING_TAIL] = 0xffffff00 | 0;
      header[RING_HEAD] = 0xffffff00 | 0;
      const bell = Doorbell.create();
      const producer = new RingProducer(sab, bell);
      const consumer = new RingConsumer(sab);
      const batch = new Int32Array(capacity * 8);
      let written = 0;
      let read = 0;
      let bad = 0;
      let rng = 12345;
      const rand = (n: number): number => {
        rng = (Math.imul(rng, 1103515245) + 12345) | 0;
        return (rng >>> 8) % n;
      };
      for (let iter = 0; iter < 20_000; iter++) {
        const used = written - read;
        const n = rand(capacity - used + 1);
        for (let s = 0; s < n; s++) {
          batch[s * 8 + 2] = written + s;
          batch[s * 8 + 3] = iter & 0xffff; // the tag this slot must get
          batch[s * 8 + 7] = -1;
        }
        producer.write(batch, n, iter & 0xffff);
        if (n > 0 && batch[7] !== -1) bad++; // the source batch is not stamped
        for (let s = 0; s < n; s++) batch[s * 8 + 2] = -2;
        written += n;
        // Consume a random part, alternating the two reading styles.
        let want = rand(written - read + 1);
        if (iter % 2 === 0) {
          while (want > 0) {
            const run = consumer.peek();
            const k = Math.min(run, want);
            const first = consumer.headSlot;
            for (let s = first; s < first + k; s++) {
              const w = s * 8;
              if (consumer.i32[w + 2] !== read || consumer.i32[w + 7] !== consumer.i32[w + 3]) bad++;
              read++;
            }
            consumer.advance(k);
            want -= k;
          }
        } else {
          consumer.drain((i32, _f64, s) => {
            if (i32[s * 8 + 2] !== read || i32[s * 8 + 7] !== i32[s * 8 + 3]) bad++;
            read++;
          }, want);
        }
      }
      expect(bad).toBe(0);
      expect(written).toBeGreaterThan(capacity * 1000);
      expect(consumer.available()).toBe(written - read);
      expect((Atomics.load(header, RING_TAIL) >>> 0) < 0xffffff00).toBe(true); // did wrap
    });
  }

  it('stamps the tag word in the ring copy', () => {
    const sab = createRingBuffer(64);
    const producer = new RingProducer(sab, Doorbell.create());
    const consumer = new RingConsumer(sab);
    const batch = new Int32Array(40 * 8);
    producer.write(batch, 40, 77); // ≥ 32 slots: the bulk-copy path
    producer.write(batch, 3, 78, 5); // small path, from slot 5
    const tags: number[] = [];
    consumer.drain((i32, _f64, s) => tags.push(i32[s * 8 + 7]!));
    expect(tags).toEqual([...Array<number>(40).fill(77), 78, 78, 78]);
  });
});

describe('ring between a worker producer and a slow main-thread consumer', () => {
  it('blocks the producer when full, resumes, and delivers 1e6 slots in order', async () => {
    const total = 1_000_000;
    const ring = createRingBuffer(8);
    const bell = Doorbell.create();
    const consumer = new RingConsumer(ring);
    // Batches of 1..20 slots: many are larger than the whole ring.
    const { gate, report } = startProducer({
      ring,
      doorbell: bell.sharedBuffer,
      total,
      batchMax: 20,
      rangeId: 7,
      stallLimitMs: 20_000,
    });
    open(gate);
    const i32 = consumer.i32;
    const f64 = consumer.f64;
    let next = 0;
    let bad = 0;
    let turns = 0;
    while (next < total) {
      // Slow: at most 3 slots per turn, then give the event loop a turn.
      const run = Math.min(consumer.peek(), 3);
      if (run === 0) {
        const woke = await bell.wait([consumer], 10_000);
        if (woke === 'timed-out') throw new Error(`no data for 10 s at slot ${next}`);
        continue;
      }
      const first = consumer.headSlot;
      for (let s = first; s < first + run; s++) {
        const w = s * 8;
        if (i32[w + 2] !== next || i32[w + 3] !== (next ^ 0x5a5a) || i32[w + 7] !== 7 || f64[s * 4] !== next * 0.5) {
          bad++;
        }
        next++;
      }
      consumer.advance(run);
      if (++turns % 64 === 0) await nextTurn();
    }
    const r = await report;
    expect(bad).toBe(0);
    expect(r.error).toBeUndefined();
    expect(r.done).toBe(total);
    expect(r.waits).toBeGreaterThan(0); // the full ring did block the producer
    expect(consumer.available()).toBe(0);
  });
});

describe('ring stall', () => {
  it('throws RingStalledError after stallLimitMs, having published what fit', async () => {
    const ring = createRingBuffer(8);
    const bell = Doorbell.create();
    const consumer = new RingConsumer(ring);
    const { gate, report } = startProducer({
      ring,
      doorbell: bell.sharedBuffer,
      total: 12,
      batchMax: 12,
      firstBatch: 12, // one batch larger than the ring
      rangeId: 1,
      stallLimitMs: 150,
    });
    const started = performance.now();
    open(gate);
    const r = await report;
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
    expect(r.error).toMatchObject({ name: 'RingStalledError', code: 'ORDERTAIL_RING_STALLED', written: 8, remaining: 4 });
    expect(r.error!.waitedMs).toBeGreaterThanOrEqual(150);
    // Nothing dropped: the 8 slots that fit are readable, in order.
    const seen: number[] = [];
    consumer.drain((i32, _f64, s) => seen.push(i32[s * 8 + 2]!));
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });
});

describe('Doorbell', () => {
  it('wakes a consumer awaiting several rings when one producer publishes', async () => {
    const rings = [createRingBuffer(16), createRingBuffer(16), createRingBuffer(16)];
    const consumers = rings.map((r) => new RingConsumer(r));
    const bell = Doorbell.create();
    const { gate, report } = startProducer({
      ring: rings[2]!,
      doorbell: bell.sharedBuffer,
      total: 1,
      batchMax: 1,
      rangeId: 3,
    });
    const started = performance.now();
    const woke = bell.wait(consumers, 30_000); // pending: nothing readable yet
    expect(consumers.map((c) => c.available())).toEqual([0, 0, 0]);
    open(gate);
    expect(await woke).toBe('ready');
    expect(performance.now() - started).toBeLessThan(10_000);
    await report;
    expect(consumers.map((c) => c.available())).toEqual([0, 0, 1]);
  });

  it('resolves at once when data is already there, and times out when not', async () => {
    const sab = createRingBuffer(8);
    const consumer = new RingConsumer(sab);
    const bell = Doorbell.create();
    expect(await bell.wait([consumer], 20)).toBe('timed-out');
    new RingProducer(sab, bell).write(new Int32Array(8), 1, 0);
    expect(await bell.wait([consumer], 10_000)).toBe('ready');
  });

  it('rejects a second concurrent wait with DoorbellBusyError', async () => {
    const consumer = new RingConsumer(createRingBuffer(8));
    const bell = Doorbell.create();
    const first = bell.wait([consumer], 30);
    await expect(bell.wait([consumer], 30)).rejects.toBeInstanceOf(DoorbellBusyError);
    expect(await first).toBe('timed-out');
  });
});
