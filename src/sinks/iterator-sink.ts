import type { Sink } from './sink.js';
import { EngineError } from '../config/errors.js';

/** Bounds of what waits for a `records()` consumer (see README, Library). */
export interface RecordQueueBounds {
  /** Records waiting before reading pauses. */
  maxRecords: number;
  /** Bytes of records (each with its newline) waiting before reading pauses. */
  maxBytes: number;
}

export const DEFAULT_QUEUE_BOUNDS: Readonly<RecordQueueBounds> = { maxRecords: 10_000, maxBytes: 8 * 1024 * 1024 };

/**
 * Batches handed to this sink are at most this large (the engine's staging
 * buffer for it): a batch that crosses a bound is taken whole, so this is how
 * far past the bounds the queue can go.
 */
export const ITERATOR_BATCH_BYTES = 16 * 1024;

/** Why the queue stopped before its consumer took everything written. */
type Ending = { kind: 'stopped' } | { kind: 'failed'; error: Error };

/**
 * The queue between the engine and a `records()` loop, with the bookkeeping
 * at-least-once delivery needs: a record counts as *taken* once the consumer
 * asks for the next one (its loop body ran to the end), and a checkpoint may
 * cover only taken records (whenTaken). Leaving the loop early (break, throw,
 * abort), stop() and a failure end the queue: whatever was not taken is
 * dropped, and a checkpoint waiting for it is refused, so a restart delivers
 * it again.
 *
 * Records are kept as the batches they arrive in (one copy per batch) and cut
 * into one Buffer per record only when taken, so what waits costs its bytes,
 * not a JS object per record.
 */
export class IteratorSink implements Sink {
  readonly name = 'iterator';
  /** Batches as written; taken ones are cleared (undefined) until the array is compacted. */
  private readonly chunks: (Buffer | undefined)[] = [];
  private chunkHead = 0;
  /** Read position in chunks[chunkHead]. */
  private pos = 0;
  private queuedRecords = 0;
  private queuedBytes = 0;
  /** Records ever written, taken (confirmed by the consumer), and dropped unseen. */
  written = 0;
  taken = 0;
  dropped = 0;
  /** The input ended (once): the consumer takes the rest, then the loop ends. */
  private inputEnded = false;
  private ending: Ending | undefined;
  /** A record was handed out and is not confirmed yet. */
  private handedOut = false;
  private consumerDone = false;
  private iterating = false;
  private wakeConsumer: (() => void) | undefined;
  private wakeProducer: (() => void) | undefined;
  private takenWaiters: { mark: number; resolve: () => void; reject: (err: Error) => void }[] = [];
  get waitingRecords(): number {
    return this.queuedRecords;
  }

  get waitingBytes(): number {
    return this.queuedBytes;
  }

  /** Peak of what waited, for tests and stats. */
  peakRecords = 0;
  peakBytes = 0;

  constructor(
    private readonly bounds: RecordQueueBounds = DEFAULT_QUEUE_BOUNDS,
    /** Called once when the consumer's loop is over, however it ended. */
    private readonly onConsumerDone: () => void = () => {},
  ) {}

  write(chunk: Uint8Array): true | Promise<void> {
    const records = countNewlines(chunk);
    if (this.ending || this.consumerDone) {
      this.dropped += records;
      return true;
    }
    this.chunks.push(Buffer.from(chunk));
    this.queuedRecords += records;
    this.queuedBytes += chunk.length;
    this.written += records;
    if (this.queuedRecords > this.peakRecords) this.peakRecords = this.queuedRecords;
    if (this.queuedBytes > this.peakBytes) this.peakBytes = this.queuedBytes;
    this.wake();
    if (!this.full()) return true;
    return new Promise<void>((resolve) => {
      this.wakeProducer = resolve;
    });
  }

  async flush(): Promise<void> {}

  /** The engine has emitted everything (or stops after a clean end): the loop ends after the rest. */
  async close(): Promise<void> {
    this.endInput();
  }

  endInput(): void {
    this.inputEnded = true;
    this.wake();
  }

  /** stop(): the loop ends at its next step; what it did not take is dropped. */
  stop(): void {
    this.end({ kind: 'stopped' });
  }

  /** The engine failed or was aborted: the loop throws `error` at its next step. */
  fail(error: Error): void {
    this.end({ kind: 'failed', error });
  }

  /**
   * Resolves once the consumer has taken the first `mark` records written;
   * rejects when the queue ends before that (those records were dropped).
   */
  whenTaken(mark: number): Promise<void> {
    if (this.taken >= mark) return Promise.resolve();
    if (this.ending || this.consumerDone) return Promise.reject(notTaken(this.taken, mark));
    return new Promise<void>((resolve, reject) => this.takenWaiters.push({ mark, resolve, reject }));
  }

  /** The consumer's side: one iterator, for one loop. */
  iterator(signal?: AbortSignal): AsyncIterableIterator<Buffer> {
    const onAbort = (): void => this.fail(abortError(signal!));
    const iterator: AsyncIterableIterator<Buffer> = {
      next: async () => {
        const result = await this.next();
        if (result.done) detach();
        return result;
      },
      return: async () => {
        detach();
        this.leave();
        return { done: true, value: undefined };
      },
      [Symbol.asyncIterator]: () => {
        if (this.iterating) {
          throw new EngineError('ORDERTAIL_RECORDS_REUSED', 'records(): this iterator is already being (or was) iterated; it serves one loop');
        }
        this.iterating = true;
        return iterator;
      },
    };
    const detach = (): void => signal?.removeEventListener('abort', onAbort);
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    return iterator;
  }

  /** Whether the loop is waiting for a record. */
  get waiting(): boolean {
    return this.wakeConsumer !== undefined;
  }

  private async next(): Promise<IteratorResult<Buffer, undefined>> {
    if (this.handedOut) {
      this.handedOut = false;
      this.taken++;
      this.settleWaiters();
    }
    for (;;) {
      if (this.consumerDone) return { done: true, value: undefined };
      if (this.ending) {
        this.leave();
        if (this.ending.kind === 'failed') throw this.ending.error;
        return { done: true, value: undefined };
      }
      const record = this.take();
      if (record) {
        this.handedOut = true;
        return { done: false, value: record };
      }
      if (this.inputEnded) {
        this.leave();
        return { done: true, value: undefined };
      }
      await new Promise<void>((resolve) => {
        this.wakeConsumer = resolve;
      });
      this.wakeConsumer = undefined;
    }
  }

  private take(): Buffer | undefined {
    const chunk = this.chunks[this.chunkHead];
    if (!chunk) return undefined;
    const end = chunk.indexOf(0x0a, this.pos);
    // A copy: a record the consumer keeps must not pin the whole batch.
    const record = Buffer.from(chunk.subarray(this.pos, end));
    this.queuedRecords--;
    this.queuedBytes -= end + 1 - this.pos;
    this.pos = end + 1;
    if (this.pos >= chunk.length) {
      this.chunks[this.chunkHead++] = undefined;
      this.pos = 0;
      // Compact now and then: shift() per batch would be O(n) each.
      if (this.chunkHead > 64 && this.chunkHead * 2 > this.chunks.length) {
        this.chunks.splice(0, this.chunkHead);
        this.chunkHead = 0;
      }
    }
    if (this.wakeProducer && !this.full()) {
      const wake = this.wakeProducer;
      this.wakeProducer = undefined;
      wake();
    }
    return record;
  }

  private full(): boolean {
    return this.queuedRecords >= this.bounds.maxRecords || this.queuedBytes >= this.bounds.maxBytes;
  }

  private end(ending: Ending): void {
    if (this.ending || this.consumerDone) return;
    this.ending = ending;
    this.discard();
    this.wake();
  }

  /** The consumer's loop is over: nothing more is taken. */
  private leave(): void {
    if (this.consumerDone) return;
    this.consumerDone = true;
    this.discard();
    this.onConsumerDone();
  }

  private discard(): void {
    this.dropped += this.queuedRecords;
    this.chunks.length = 0;
    this.chunkHead = 0;
    this.pos = 0;
    this.queuedRecords = 0;
    this.queuedBytes = 0;
    const wake = this.wakeProducer;
    this.wakeProducer = undefined;
    wake?.();
    this.settleWaiters();
  }

  private settleWaiters(): void {
    const finalTaken = this.ending !== undefined || this.consumerDone;
    this.takenWaiters = this.takenWaiters.filter((w) => {
      if (this.taken >= w.mark) w.resolve();
      else if (finalTaken) w.reject(notTaken(this.taken, w.mark));
      else return true;
      return false;
    });
  }

  private wake(): void {
    const wake = this.wakeConsumer;
    this.wakeConsumer = undefined;
    wake?.();
  }
}

function countNewlines(chunk: Uint8Array): number {
  let n = 0;
  const b = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  for (let i = b.indexOf(0x0a); i !== -1; i = b.indexOf(0x0a, i + 1)) n++;
  return n;
}

/** A checkpoint that would cover records the consumer never took (refused, by design). */
export class RecordsNotTakenError extends EngineError {
  constructor(taken: number, mark: number) {
    super('ORDERTAIL_RECORDS_NOT_TAKEN', `records(): the loop ended after taking ${taken} of the ${mark} records this checkpoint covers`);
  }
}

function notTaken(taken: number, mark: number): RecordsNotTakenError {
  return new RecordsNotTakenError(taken, mark);
}

/** What Node's own iterators throw on abort (events.on, streams): name AbortError, code ABORT_ERR. */
export function abortError(signal: AbortSignal): Error {
  const err = new Error('The operation was aborted', { cause: signal.reason });
  err.name = 'AbortError';
  (err as Error & { code: string }).code = 'ABORT_ERR';
  return err;
}
