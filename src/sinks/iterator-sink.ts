import type { Sink } from './sink.js';

/**
 * Feeds `engine.records()`: splits batches into one Buffer per record (the only
 * place records become JS objects, and only when a caller asked for them).
 * At most `highWaterMark` records wait for the consumer; beyond that the engine
 * is paused through the returned promise.
 */
export class IteratorSink implements Sink, AsyncIterable<Buffer> {
  readonly name = 'iterator';
  private readonly queue: Buffer[] = [];
  private head = 0;
  private ended = false;
  private abandoned = false;
  private wakeConsumer: (() => void) | undefined;
  private wakeProducer: (() => void) | undefined;

  constructor(private readonly highWaterMark = 10_000) {}

  write(chunk: Uint8Array): true | Promise<void> {
    // The consumer left the loop: it asked for no more records.
    if (this.abandoned) return true;
    let start = 0;
    for (let i = 0; i < chunk.length; i++) {
      if (chunk[i] === 0x0a) {
        this.queue.push(Buffer.from(chunk.subarray(start, i)));
        start = i + 1;
      }
    }
    this.wakeConsumer?.();
    if (this.queue.length - this.head < this.highWaterMark) return true;
    return new Promise<void>((resolve) => {
      this.wakeProducer = resolve;
    });
  }

  async flush(): Promise<void> {}

  async close(): Promise<void> {
    this.ended = true;
    this.wakeConsumer?.();
    this.releaseProducer();
  }

  private releaseProducer(): void {
    const wake = this.wakeProducer;
    this.wakeProducer = undefined;
    wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Buffer> {
    try {
      yield* this.drainQueue();
    } finally {
      // break/return out of for-await: stop holding the engine back.
      this.abandoned = true;
      this.queue.length = 0;
      this.head = 0;
      this.releaseProducer();
    }
  }

  private async *drainQueue(): AsyncGenerator<Buffer> {
    for (;;) {
      if (this.head < this.queue.length) {
        const record = this.queue[this.head++]!;
        // Compact in batches: a per-item shift() would be O(n) each.
        if (this.head > 1024 && this.head * 2 > this.queue.length) {
          this.queue.splice(0, this.head);
          this.head = 0;
        }
        if (this.wakeProducer && this.queue.length - this.head < this.highWaterMark / 2) {
          const wake = this.wakeProducer;
          this.wakeProducer = undefined;
          wake();
        }
        yield record;
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((resolve) => {
        this.wakeConsumer = resolve;
      });
      this.wakeConsumer = undefined;
    }
  }
}
