import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { SLOT_WORDS, W_TAG } from '../parser/contract.js';
import { Doorbell } from '../ring/doorbell.js';
import { RingConsumer } from '../ring/consumer.js';
import { createRingBuffer } from '../ring/layout.js';
import type { ParseWorkerData, RangeOutcome, RangeTask } from './range-task.js';
import type { RangeResults } from './range-results.js';
import type { DedupCompactionResult, DedupCompactionTask } from '../checkpoint/dedup-compaction.js';
import type { ParsePoolConfig, ParsePoolOptions } from './pool-config.js';
import { IN_CLI_BUNDLE } from '../util/cli-bundle.js';

/**
 * The worker module: in the CLI bundle (dist/bundle/cli/) its bundled sibling,
 * otherwise the compiled one (dist/workers/), both relative to this code.
 */
const WORKER_FILE = IN_CLI_BUNDLE
  ? new URL('../workers/parse-worker.js', import.meta.url)
  : new URL('../../workers/parse-worker.js', import.meta.url);

/**
 * How much nicer than the process parse threads run in follow mode: history then gets the CPU
 * the live lane (main thread) leaves, instead of an equal share of it.
 */
const WORKER_NICE_WHEN_FOLLOWING = 10;

/** Slots per ring: 16 Ki × 32 B = 512 KiB, a few parser batches of slack. */
const RING_SLOTS = 16 * 1024;

/** The threads, their rings and the doorbell: what a ParsePool runs on. */
interface PoolCore {
  readonly key: string;
  readonly piscina: Piscina;
  readonly consumers: RingConsumer[];
  readonly doorbell: Doorbell;
  /** Resolves once every thread started with the pool has loaded the worker module (or is gone). */
  readonly loaded: Promise<void>;
  /** Route worker errors to `onError` from now on (and those seen before it, soon after). */
  attach(onError: (error: Error) => void): void;
}

function configKey(o: ParsePoolConfig): string {
  return JSON.stringify([o.workers, o.keyFields, o.eventTimeField, o.maxRecordBytes, o.parser, o.parserShadow ?? null, o.shadowSample, o.canaryParser ?? null, o.follow]);
}

/** `doorbell`: shared with the threads of an earlier core that still run ranges (ParsePool.resize). */
function createCore(options: ParsePoolConfig, doorbell = Doorbell.create()): PoolCore {
  // Spare rings: Piscina replaces a worker that died, and the newcomer claims a fresh ring.
  const ringBuffers = Array.from({ length: options.workers * 2 }, () => createRingBuffer(RING_SLOTS));
  const consumers = ringBuffers.map((sab) => new RingConsumer(sab));
  const workerData: ParseWorkerData = {
    ringBuffers,
    claimBuffer: new SharedArrayBuffer(4),
    doorbellBuffer: doorbell.sharedBuffer,
    keyFields: options.keyFields,
    eventTimeField: options.eventTimeField,
    maxRecordBytes: options.maxRecordBytes,
    parser: options.parser,
    parserShadow: options.parserShadow,
    shadowSample: options.shadowSample,
    canaryParser: options.canaryParser,
    ringStallLimitMs: 60_000,
    yieldToMainThread: options.follow ? WORKER_NICE_WHEN_FOLLOWING : 0,
  };
  const piscina = new Piscina({
    filename: fileURLToPath(WORKER_FILE),
    minThreads: options.workers,
    maxThreads: options.workers,
    idleTimeout: Number.POSITIVE_INFINITY,
    concurrentTasksPerWorker: 1,
    workerData,
  });
  // Piscina's first message from a thread says its module is loaded.
  const loaded = Promise.all(
    piscina.threads.map(
      (worker) =>
        new Promise<void>((resolve) => {
          const done = (): void => {
            worker.off('message', done).off('error', done).off('exit', done);
            resolve();
          };
          worker.on('message', done).on('error', done).on('exit', done);
        }),
    ),
  ).then(() => {});
  let onError: ((error: Error) => void) | undefined;
  const early: Error[] = [];
  // Without a listener Piscina rethrows a worker's start-up failure as an
  // uncaught exception; the engine reports it and stops instead.
  piscina.on('error', (err: unknown) => {
    const error = err instanceof Error ? err : new Error(String(err));
    if (onError) onError(error);
    else early.push(error);
  });
  return {
    key: configKey(options),
    piscina,
    consumers,
    doorbell,
    loaded,
    attach(callback) {
      onError = callback;
      // Errors of prewarmed threads that came before their pool: delivered as
      // they would have been, asynchronously after the pool was created.
      if (early.length > 0) setImmediate(() => early.splice(0).forEach((e) => callback(e)));
    },
  };
}

/** Threads a core was started with. */
function threadsOf(core: PoolCore): number {
  return core.piscina.options.maxThreads;
}

/** Longest destroy() waits for threads still loading their module. */
const LOAD_WAIT_MS = 5000;

/**
 * Stop the threads, but only once they have loaded the worker module:
 * terminating a thread while Node loads an ES module through require() (as
 * Piscina does, on Node >= 20.19) can abort the whole process (an assertion in
 * node::loader::ModuleWrap::CreateRequiredModuleFacade). A pool stopped right
 * after it was made (a start-up error after prewarmParsePool(), a --once run
 * with nothing to read) would otherwise risk that.
 */
async function destroy(core: PoolCore): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([core.loaded, new Promise<void>((resolve) => (timer = setTimeout(resolve, LOAD_WAIT_MS)))]);
  clearTimeout(timer);
  await core.piscina.destroy();
}

/** Threads started ahead of their ParsePool (see prewarmParsePool). */
let prewarmed: PoolCore | undefined;

/**
 * Start the worker threads of a ParsePool that is about to be created with
 * `config`, so that their start-up (a new V8 isolate, module loading, the
 * parser) overlaps whatever the caller still has to do first, such as loading
 * the rest of the engine. The next `new ParsePool` with the same config takes
 * them over; one with another config stops them and starts its own. Errors of
 * these threads are held until then. Call discardPrewarmedParsePool() when no
 * pool may come (start-up failed).
 */
export function prewarmParsePool(config: ParsePoolConfig): void {
  // No thread wanted: the main thread parses (threadsForWork).
  if (prewarmed || config.workers === 0) return;
  prewarmed = createCore(config);
}

/** Stop prewarmed threads that no ParsePool took over (a no-op otherwise). */
export async function discardPrewarmedParsePool(): Promise<void> {
  const core = prewarmed;
  prewarmed = undefined;
  if (core) await destroy(core);
}

/**
 * The Piscina worker pool plus one result ring per worker thread. Ranges go in
 * through Piscina (one message per range); result slots come back through the
 * rings, and `drain()` files each slot under its range by the tag word.
 */
export class ParsePool {
  /** The thread sets ranges go to (more than one after a resize up: each adds a set for the threads it adds). */
  private active: PoolCore[];
  /** The rings of the active threads and of those retiring (ringsNow). */
  private consumers: RingConsumer[];
  private readonly doorbell: Doorbell;
  private config: ParsePoolOptions;
  /** Tasks each core is running; a retiring core is stopped when its count reaches 0. */
  private readonly running = new Map<PoolCore, number>();
  private readonly retiring = new Set<PoolCore>();
  /**
   * Threads a resize started, taking over once they have loaded (until then
   * the active ones take every range), and the active core they replace.
   */
  private incoming: { core: PoolCore; replaces: PoolCore | undefined } | undefined;
  /** Result stores of ranges in flight, by range id. */
  private readonly targets = new Map<number, RangeResults>();
  private waiting: Promise<unknown> | undefined;

  constructor(options: ParsePoolOptions) {
    let core = prewarmed;
    prewarmed = undefined;
    if (core && core.key !== configKey(options)) {
      destroy(core).catch(() => {});
      core = undefined;
    }
    core ??= createCore(options);
    this.config = options;
    this.active = [core];
    this.consumers = core.consumers;
    this.doorbell = core.doorbell;
    core.attach(options.onWorkerError);
  }

  /** Resolves once every active thread has loaded the worker module (or is gone). */
  get threadsLoaded(): Promise<void> {
    return Promise.all(this.active.map((core) => core.loaded)).then(() => {});
  }

  get queueSize(): number {
    return this.active.reduce((n, core) => n + core.piscina.queueSize, 0);
  }

  get threadCount(): number {
    return this.active.reduce((n, core) => n + core.piscina.threads.length, 0);
  }

  /** Threads the pool runs on (fewer than --workers for a small --once run). */
  get threadsWanted(): number {
    return this.active.reduce((n, core) => n + threadsOf(core), 0);
  }

  readonly ringCapacity = RING_SLOTS;

  /** Slots waiting in each ring right now. */
  ringOccupancy(): number[] {
    return this.consumers.map((c) => c.available());
  }

  /** Parse one range; its slots are delivered into `results` by drain(). */
  run(task: RangeTask, results: RangeResults): Promise<RangeOutcome> {
    this.targets.set(task.rangeId, results);
    return this.onCore((piscina) => piscina.run(task) as Promise<RangeOutcome>, () => {
      // The worker published every slot before returning; collect the last ones.
      this.drain();
      this.targets.delete(task.rangeId);
    });
  }

  /** A task on the active core with the most room, counted so that a retired core stops after its last one. */
  private onCore<T>(start: (piscina: Piscina) => Promise<T>, done: () => void = () => {}): Promise<T> {
    const core = this.leastBusy();
    this.running.set(core, (this.running.get(core) ?? 0) + 1);
    return start(core.piscina).finally(() => {
      done();
      const left = this.running.get(core)! - 1;
      this.running.set(core, left);
      if (left === 0 && this.retiring.has(core)) this.retire(core);
    });
  }

  private leastBusy(): PoolCore {
    let best = this.active[0]!;
    if (this.active.length === 1) return best;
    let bestLoad = Number.POSITIVE_INFINITY;
    for (const core of this.active) {
      const load = (this.running.get(core) ?? 0) / threadsOf(core);
      if (load < bestLoad) {
        best = core;
        bestLoad = load;
      }
    }
    return best;
  }

  /**
   * Run on `workers` threads from now on (a config reload). Starting a thread
   * (an isolate, the worker module, the parser) costs the main thread about a
   * millisecond and then the cores its start-up, while the live lane runs:
   * only the difference is started. Growing adds a core with the threads
   * added; shrinking retires whole cores, newest first, and starts a smaller
   * replacement only for a core that must shrink. New threads take ranges
   * once loaded; retired ones finish the ranges they have (their rings are
   * drained as before) and are stopped after their last.
   */
  resize(workers: number): void {
    const want = Math.max(1, workers);
    if (want === this.config.workers) return;
    this.config = { ...this.config, workers: want };
    // A resize before the last one's threads loaded cancels it (they have run nothing).
    if (this.incoming) destroy(this.incoming.core).catch(() => {});
    this.incoming = undefined;
    let have = this.threadsWanted;
    if (want > have) {
      this.start(want - have, undefined);
      return;
    }
    while (want < have && this.active.length > 1 && have - threadsOf(this.active.at(-1)!) >= want) {
      const core = this.active.pop()!;
      have -= threadsOf(core);
      this.retireWhenIdle(core);
    }
    this.ringsNow();
    if (want < have) {
      const last = this.active.at(-1)!;
      this.start(want - (have - threadsOf(last)), last);
    }
  }

  /** `threads` more threads, taking ranges once loaded; `replaces` is retired then. */
  private start(threads: number, replaces: PoolCore | undefined): void {
    const next = createCore({ ...this.config, workers: threads }, this.doorbell);
    next.attach(this.config.onWorkerError);
    this.incoming = { core: next, replaces };
    void next.loaded.then(() => {
      if (this.incoming?.core !== next) return;
      this.incoming = undefined;
      this.active.push(next);
      if (replaces) {
        this.active.splice(this.active.indexOf(replaces), 1);
        this.retireWhenIdle(replaces);
      }
      this.ringsNow();
    });
  }

  private retireWhenIdle(core: PoolCore): void {
    this.retiring.add(core);
    if ((this.running.get(core) ?? 0) === 0) this.retire(core);
  }

  private retire(core: PoolCore): void {
    this.retiring.delete(core);
    this.running.delete(core);
    this.ringsNow();
    destroy(core).catch(() => {});
  }

  private ringsNow(): void {
    this.consumers = [...this.active, ...this.retiring].flatMap((c) => c.consumers);
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

  /** Fold a committed dedup journal into a snapshot on a worker (checkpoint/dedup-compaction.ts). */
  compactDedup(task: DedupCompactionTask): Promise<DedupCompactionResult> {
    return this.onCore((piscina) => piscina.run(task, { name: 'compactDedup' }) as Promise<DedupCompactionResult>);
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

  /** Resolve a pending waitForSlots() now (its caller has something else to do, such as stopping). */
  interruptWait(): void {
    if (this.waiting) this.doorbell.ring();
  }

  async close(): Promise<void> {
    const incoming = this.incoming;
    this.incoming = undefined;
    await Promise.all([...this.active, ...this.retiring, ...(incoming ? [incoming.core] : [])].map((core) => destroy(core)));
  }
}
