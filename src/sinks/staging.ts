import type { Sink } from './sink.js';

const NEWLINE = 0x0a;

/**
 * Collects accepted records (their original bytes plus "\n") into one reusable
 * buffer and hands it to the sink a batch at a time: one sink call per ~1 MiB,
 * not per record, and no allocation per record.
 */
export class StagingBuffer {
  private readonly buf: Buffer;
  private length = 0;

  /** Sink batches handed over, and how many of them failed. */
  flushes = 0;
  errors = 0;

  constructor(
    private readonly sink: Sink,
    capacity = 1 << 20,
    private readonly onWriteTime: (micros: number) => void = () => {},
  ) {
    this.buf = Buffer.allocUnsafe(capacity);
  }

  /** One sink call, timed and counted; a throwing sink is counted, then rethrown. */
  private timedWrite(chunk: Uint8Array): true | Promise<void> {
    const t0 = performance.now();
    this.flushes++;
    let result: true | Promise<void>;
    try {
      result = this.sink.write(chunk);
    } catch (err) {
      this.errors++;
      throw err;
    }
    if (result === true) {
      this.onWriteTime(Math.round((performance.now() - t0) * 1000));
      return true;
    }
    return result.then(
      () => this.onWriteTime(Math.round((performance.now() - t0) * 1000)),
      (err: unknown) => {
        this.errors++;
        throw err;
      },
    );
  }

  /**
   * Append `source[start, start+len)` and a newline. Returns true, or a promise
   * when the sink asked to wait (the caller awaits it before appending more).
   */
  append(source: Buffer, start: number, len: number): true | Promise<void> {
    if (this.length + len + 1 > this.buf.length) {
      const flushed = this.flushToSink();
      if (flushed !== true) {
        return flushed.then(async () => {
          await this.appendAfterFlush(source, start, len);
        });
      }
    }
    return this.appendAfterFlush(source, start, len);
  }

  private appendAfterFlush(source: Buffer, start: number, len: number): true | Promise<void> {
    if (len + 1 > this.buf.length) {
      // A record larger than the staging buffer goes to the sink on its own.
      const whole = Buffer.allocUnsafe(len + 1);
      source.copy(whole, 0, start, start + len);
      whole[len] = NEWLINE;
      return this.timedWrite(whole);
    }
    source.copy(this.buf, this.length, start, start + len);
    this.buf[this.length + len] = NEWLINE;
    this.length += len + 1;
    return true;
  }

  /**
   * Append `source[start, end)` verbatim: a run of consecutive records that
   * already carry their "\n" separators in the input (the common case: one
   * copy for a whole range instead of one per record).
   */
  appendRaw(source: Buffer, start: number, end: number): true | Promise<void> {
    const len = end - start;
    if (this.length + len > this.buf.length) {
      const flushed = this.flushToSink();
      if (flushed !== true) {
        return flushed.then(async () => {
          await this.appendRaw(source, start, end);
        });
      }
      if (len > this.buf.length) return this.timedWrite(source.subarray(start, end));
    }
    source.copy(this.buf, this.length, start, end);
    this.length += len;
    return true;
  }


  /** Hand the collected batch to the sink. */
  flushToSink(): true | Promise<void> {
    if (this.length === 0) return true;
    const chunk = this.buf.subarray(0, this.length);
    this.length = 0;
    return this.timedWrite(chunk);
  }
}
