import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { SLOT_WORDS, W_TAG } from '../parser/contract.js';
import { Doorbell } from '../ring/doorbell.js';
import { RingConsumer } from '../ring/consumer.js';
import { createRingBuffer } from '../ring/layout.js';
import type { ParseWorkerData, RangeOutcome, RangeTask } from './range-task.js';
import type { RangeResults } from './range-results.js';

/** Slots per ring: 16 Ki × 32 B = 512 KiB, a few parser batches of slack. */
const RING_SLOTS = 16 * 1024;

export interface ParsePoolOptions {
  workers: number;
  keyFields: readonly string[];
  eventTimeField: string;
  maxRecordBytes: number;
  parser: string;
  parserShadow: string | undefined;
  shadowSample: number;
  /** A worker died outside a task (e.g. its parser failed to load). */
  onWorkerError: (error: Error) => void;
}

/**
 * The Piscina worker pool plus one result ring per worker thread. Ranges go in
 * through Piscina (one message per range); result slots come back through the
 * rings, and `drain()` files each slot under its range by the tag word.
 */
export class ParsePool {
  private readonly piscina: Piscina;
  private readonly consumers: RingConsumer[];
  private readonly doorbell = Doorbell.create();
  /** Result stores of ranges in flight, by range id. */
  private readonly targets = new Map<number, RangeResults>();
  private waiting: Promise<unknown> | undefined;

  constructor(options: ParsePoolOptions) {
    // Spare rings: Piscina replaces a worker that died, and the newcomer claims a fresh ring.
    const ringBuffers = Array.from({ length: options.workers * 2 }, () => createRingBuffer(RING_SLOTS));
    this.consumers = ringBuffers.map((sab) => new RingConsumer(sab));
    const workerData: ParseWorkerData = {
      ringBuffers,
      claimBuffer: new SharedArrayBuffer(4),
      doorbellBuffer: this.doorbell.sharedBuffer,
      keyFields: options.keyFields,
      eventTimeField: options.eventTimeField,
      maxRecordBytes: options.maxRecordBytes,
      parser: options.parser,
      parserShadow: options.parserShadow,
      shadowSample: options.shadowSample,
      ringStallLimitMs: 60_000,
    };
    this.piscina = new Piscina({
      filename: fileURLToPath(new URL('../../workers/parse-worker.js', import.meta.url)),
      minThreads: options.workers,
      maxThreads: options.workers,
      idleTimeout: Number.POSITIVE_INFINITY,
      concurrentTasksPerWorker: 1,
      workerData,
    });
    // Without a listener Piscina rethrows a worker's start-up failure as an
    // uncaught exception; the engine reports it and stops instead.
    this.piscina.on('error', (err: unknown) => options.onWorkerError(err instanceof Error ? err : new Error(String(err))));
  }

  get queueSize(): number {
    return this.piscina.queueSize;
  }

  get threadCount(): number {
    return this.piscina.threads.length;
  }

  readonly ringCapacity = RING_SLOTS;

  /** Slots waiting in each ring right now. */
  ringOccupancy(): number[] {
    return this.consumers.map((c) => c.available());
  }

  /** Parse one range; its slots are delivered into `results` by drain(). */
  run(task: RangeTask, results: RangeResults): Promise<RangeOutcome> {
    this.targets.set(task.rangeId, results);
    return (this.piscina.run(task) as Promise<RangeOutcome>).finally(() => {
      // The worker published every slot before returning; collect the last ones.
      this.drain();
      this.targets.delete(task.rangeId);
    });
  }

  /** Move every readable slot of every ring into its range's store. */
  drain(): number {
    let moved = 0;
    for (const ring of this.consumers) {
      for (let n = ring.peek(); n > 0; n = ring.peek()) {
        const first = ring.headSlot;
        const words = ring.i32;
        // Runs of slots usually belong to one range: copy them in one set().
        let runStart = first;
        let runTag = words[first * SLOT_WORDS + W_TAG]!;
        for (let s = first + 1; s <= first + n; s++) {
          const tag = s < first + n ? words[s * SLOT_WORDS + W_TAG]! : Number.NaN;
          if (tag === runTag) continue;
          const target = this.targets.get(runTag);
          if (!target) throw new Error(`result slot for unknown range ${runTag}`);
          target.pushMany(words, runStart * SLOT_WORDS, s - runStart);
          runStart = s;
          runTag = tag;
        }
        ring.advance(n);
        moved += n;
      }
    }
    return moved;
  }

  /** Resolves when any ring may have new slots (or after timeoutMs). */
  waitForSlots(timeoutMs: number): Promise<unknown> {
    if (this.waiting) return this.waiting;
    // A pending Atomics.waitAsync does not keep Node's event loop alive; this
    // timer does (it never decides anything), so a running engine is never
    // mistaken for an idle process.
    const keepAlive = setTimeout(() => {}, timeoutMs + 1000);
    this.waiting = this.doorbell.wait(this.consumers, timeoutMs).finally(() => {
      clearTimeout(keepAlive);
      this.waiting = undefined;
    });
    return this.waiting;
  }

  async close(): Promise<void> {
    await this.piscina.destroy();
  }
}
