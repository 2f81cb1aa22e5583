import type { ChunkOrigins, Sink } from './sink.js';

const NEWLINE = 0x0a;
const LF = Buffer.from([NEWLINE]);

/**
 * Live records go ahead only while the sink holds less than this written
 * ahead: a reader that stops altogether must not make the engine queue
 * growth without bound; past it, live records wait as history does.
 */
const AHEAD_HELD_MAX = 1 << 20;

/** writev(2) takes at most IOV_MAX (1024 on Linux) buffers per call. */
const MAX_SEGMENTS = 1024;

/**
 * Collects accepted records (their original bytes plus "\n") and hands them to
 * the sink a batch at a time: one sink call per ~1 MiB, not per record, and no
 * allocation per record.
 *
 * Two ways to hold a batch:
 * - copy: everything is copied into one reusable buffer (sinks without writev);
 * - gather (the sink has writev): a run of records that already carries its
 *   "\n" separators is kept as a reference into the input buffer it came from
 *   and written from there; only records that need a "\n" added are copied.
 *   The input buffer must then stay untouched until the batch is written:
 *   its owner hands its release to releaseAfterFlush(). The sink may write a
 *   batch in the background while the next one is collected (one at a time);
 *   records that need a copy then alternate between two buffers.
 *
 * A sink that wants origins (sink.wantsOrigins) is always written copies, and
 * each write carries where its bytes were read (ChunkOrigins): the emit stage
 * says which file a range is from (beginRange), and each append notes the
 * batch position its bytes start at, merged with the previous note when the
 * bytes continue it (one note per run of records, not per record).
 *
 * Written ahead (copy mode, a sink with writeAhead, no origins): the records
 * of a live range go into a second, small batch that the sink queues in front
 * of the batches it holds, so a live record does not wait behind a
 * backfill's output. Each file's own order is kept: a file's records go
 * ahead only once everything it had in the ordinary batches has been handed
 * on by the sink (canWriteAhead).
 */
export class StagingBuffer {
  private buf: Buffer;
  /** Gather mode: the copy buffer of the batch being written, if any. */
  private spare: Buffer | undefined;
  /** With a sink that has writeRuns: the batch's runs (source index, start, end), reused batch after batch. */
  private runs: Uint32Array | undefined;
  /** The batch's input buffers, each once (writeRuns' sources). */
  private readonly distinctSources: Uint8Array[] = [];
  private length = 0;
  private readonly gather: boolean;
  /** Gather mode: the batch as segments [starts[i], ends[i]) of sources[i], in output order. */
  private readonly sources: Uint8Array[] = [];
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];
  private segmentBytes = 0;
  /** Releases of input buffers that segments of the batch still point into. */
  private afterFlush: (() => void)[] = [];
  /** Gather mode: the batch the sink is writing, and the releases waiting for it. */
  private writing: Promise<void> | undefined;
  private writingReleases: (() => void)[] = [];
  /** A write failed: every later call reports it. */
  private failure: Error | undefined;
  /** The sink wants origins: the batch's notes, and the file the next appends come from. */
  private readonly origins: MutableOrigins | undefined;
  private origin = '';
  private originBase = 0;
  /** Live records may go ahead of the batches the sink holds: it has writeAhead, copy mode, no origins (see the class comment). */
  readonly writesAhead: boolean;
  /** The current range's records go ahead. */
  private aheadNow = false;
  private aheadBuf: Buffer | undefined;
  private aheadLength = 0;
  /** Bytes taken into the ordinary batches so far, and handed to sink.write(). */
  private normalTaken = 0;
  private normalFlushed = 0;
  /** Per file (origin): normalTaken after its last bytes in the ordinary batches. */
  private readonly lastTaken = new Map<string, number>();
  /** normalTaken when the current range began (did it take any bytes?). */
  private takenAtBegin = 0;

  /** The sink's name, for messages. */
  get sinkName(): string {
    return this.sink.name;
  }

  /** Sink batches handed over, and how many of them failed. */
  flushes = 0;
  errors = 0;

  constructor(
    private readonly sink: Sink,
    capacity = 1 << 20,
    private readonly onWriteTime: (micros: number) => void = () => {},
  ) {
    this.buf = Buffer.allocUnsafe(capacity);
    this.origins = sink.wantsOrigins ? { count: 0, at: [], origin: [], filePos: [] } : undefined;
    this.gather = typeof sink.writev === 'function' && !this.origins;
    if (this.gather) this.spare = Buffer.allocUnsafe(capacity);
    if (this.gather && typeof sink.writeRuns === 'function') this.runs = new Uint32Array(3 * MAX_SEGMENTS);
    this.writesAhead = !this.gather && !this.origins && typeof sink.writeAhead === 'function';
  }

  /** The sink wants origins: the emit stage calls beginRange for each range. */
  get tracksOrigins(): boolean {
    return this.origins !== undefined;
  }

  /**
   * The next appends take bytes of the file `origin` (identity), whose byte 0
   * of the source buffer is at `base`; `live`: growth of a followed file,
   * written ahead when the sink and the file's order allow.
   */
  beginRange(origin: string, base: number, live: boolean): void {
    this.noteTaken();
    this.origin = origin;
    this.originBase = base;
    this.takenAtBegin = this.normalTaken;
    this.aheadNow = live && this.canWriteAhead(origin);
  }

  /** Remember where the current file's bytes in the ordinary batches end. */
  private noteTaken(): void {
    if (this.normalTaken === this.takenAtBegin) return;
    this.takenAtBegin = this.normalTaken;
    if (this.lastTaken.size >= 256) {
      const handed = this.normalHanded();
      for (const [origin, taken] of this.lastTaken) if (taken <= handed) this.lastTaken.delete(origin);
    }
    this.lastTaken.set(this.origin, this.normalTaken);
  }

  /** Bytes of the ordinary batches the sink has handed on (-1: it cannot say). */
  private normalHanded(): number {
    const held = this.sink.held;
    return held === undefined ? -1 : this.normalFlushed - held.written;
  }

  /** Records of `origin` may be written ahead now: none of its bytes wait in the ordinary batches. */
  canWriteAhead(origin: string): boolean {
    if (!this.writesAhead) return false;
    const held = this.sink.held;
    if (held === undefined || held.ahead + this.aheadLength >= AHEAD_HELD_MAX) return false;
    if (origin === this.origin) this.noteTaken();
    return (this.lastTaken.get(origin) ?? 0) <= this.normalHanded();
  }

  /**
   * Run `emit` (appends of another range) and then go on with the current
   * range as before: a live range emitted while this one waits for the sink.
   */
  aside<T>(emit: () => T): T {
    this.noteTaken();
    const origin = this.origin;
    const base = this.originBase;
    const ahead = this.aheadNow;
    try {
      return emit();
    } finally {
      this.noteTaken();
      this.origin = origin;
      this.originBase = base;
      this.aheadNow = ahead;
      this.takenAtBegin = this.normalTaken;
    }
  }

  /** Hand the records written ahead to the sink (it never waits for them). */
  flushAhead(): void {
    if (this.aheadLength === 0) return;
    const chunk = this.aheadBuf!.subarray(0, this.aheadLength);
    this.aheadLength = 0;
    this.timedWrite(chunk, undefined, true);
  }

  /** Copy `source[start, end)` (and a "\n" when `lf`) into the batch written ahead. */
  private appendAhead(source: Buffer, start: number, end: number, lf: boolean): true {
    const len = end - start + (lf ? 1 : 0);
    const capacity = this.buf.length;
    if (this.aheadLength + len > capacity) this.flushAhead();
    if (len > capacity) {
      // The sink copies what it is given into buffers of this size: a longer run
      // goes in pieces of whole records (as writeRun cuts them), a longer record
      // with its "\n" as one chunk.
      if (!lf) {
        for (const [from, to] of recordPieces(source, start, end, capacity)) this.timedWrite(source.subarray(from, to), undefined, true);
        return true;
      }
      const whole = Buffer.allocUnsafe(len);
      source.copy(whole, 0, start, end);
      whole[len - 1] = NEWLINE;
      this.timedWrite(whole, undefined, true);
      return true;
    }
    const into = (this.aheadBuf ??= Buffer.allocUnsafe(capacity));
    source.copy(into, this.aheadLength, start, end);
    this.aheadLength += len;
    if (lf) into[this.aheadLength - 1] = NEWLINE;
    return true;
  }

  /** Batch bytes from `at` on come from the current file at source offset `start`. */
  private note(marks: MutableOrigins, at: number, start: number): void {
    const filePos = this.originBase + start;
    const last = marks.count - 1;
    if (last >= 0 && marks.origin[last] === this.origin && marks.filePos[last]! + (at - marks.at[last]!) === filePos) return;
    marks.at[marks.count] = at;
    marks.origin[marks.count] = this.origin;
    marks.filePos[marks.count] = filePos;
    marks.count++;
  }

  /** Origins of a chunk written straight from a source at `start`. */
  private single(start: number): ChunkOrigins | undefined {
    if (!this.origins) return undefined;
    return { count: 1, at: [0], origin: [this.origin], filePos: [this.originBase + start] };
  }

  /**
   * Run `release` once neither the batch being collected nor the one being
   * written can point into the buffer it frees (the collected batch is always
   * written after the one under way).
   */
  releaseAfterFlush(release: () => void): void {
    if (this.sources.length > 0) this.afterFlush.push(release);
    else if (this.writing) this.writingReleases.push(release);
    else release();
  }

  /** True when no batch is being written; else a promise for that (rejected if a write failed). */
  drained(): true | Promise<void> {
    if (this.failure) throw this.failure;
    if (!this.writing) return true;
    return this.writing.then(() => {
      if (this.failure) throw this.failure;
    });
  }

  /** Gather mode: add a segment, merging it with the previous one when they touch. */
  private addSegment(source: Uint8Array, start: number, end: number): true | Promise<void> {
    this.pushSegment(source, start, end);
    if (this.segmentBytes >= this.buf.length || this.sources.length >= MAX_SEGMENTS) return this.flushSegments();
    return true;
  }

  private pushSegment(source: Uint8Array, start: number, end: number): void {
    const last = this.sources.length - 1;
    if (last >= 0 && this.sources[last] === source && this.ends[last] === start) {
      this.ends[last] = end;
    } else {
      this.sources.push(source);
      this.starts.push(start);
      this.ends.push(end);
    }
    this.segmentBytes += end - start;
  }

  /**
   * One sink call, timed and counted; a throwing sink is counted, then
   * rethrown. `ahead`: writeAhead (never waits), else write.
   */
  private timedWrite(chunk: Uint8Array, origins?: ChunkOrigins, ahead = false): true | Promise<void> {
    const t0 = performance.now();
    this.flushes++;
    if (!ahead) this.normalFlushed += chunk.length;
    let result: true | Promise<void>;
    try {
      result = ahead ? this.sink.writeAhead!(chunk) : origins ? this.sink.write(chunk, origins) : this.sink.write(chunk);
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
    if (this.aheadNow) return this.appendAhead(source, start, start + len, true);
    if (this.gather) return this.gatherAppend(source, start, len);
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
    this.normalTaken += len + 1;
    if (len + 1 > this.buf.length) {
      // A record larger than the staging buffer goes to the sink on its own.
      const whole = Buffer.allocUnsafe(len + 1);
      source.copy(whole, 0, start, start + len);
      whole[len] = NEWLINE;
      return this.timedWrite(whole, this.single(start));
    }
    if (this.origins) this.note(this.origins, this.length, start);
    source.copy(this.buf, this.length, start, start + len);
    this.buf[this.length + len] = NEWLINE;
    this.length += len + 1;
    return true;
  }

  private gatherAppend(source: Buffer, start: number, len: number): true | Promise<void> {
    if (len + 1 > this.buf.length) {
      // Larger than the copy buffer: reference it, and a "\n" after it.
      this.pushSegment(source, start, start + len);
      return this.addSegment(LF, 0, 1);
    }
    if (this.length + len + 1 > this.buf.length) {
      const flushed = this.flushSegments();
      if (flushed !== true) return flushed.then(() => settled(this.gatherAppend(source, start, len)));
    }
    source.copy(this.buf, this.length, start, start + len);
    this.buf[this.length + len] = NEWLINE;
    this.length += len + 1;
    return this.addSegment(this.buf, this.length - len - 1, this.length);
  }

  /**
   * Append `source[start, end)` verbatim: a run of consecutive records that
   * already carry their "\n" separators in the input (the common case: one
   * copy for a whole range instead of one per record).
   */
  appendRaw(source: Buffer, start: number, end: number): true | Promise<void> {
    if (this.aheadNow) return this.appendAhead(source, start, end, false);
    if (this.gather) return this.addSegment(source, start, end);
    return this.copyRaw(source, start, end);
  }

  /** appendRaw into the ordinary batch (copy mode). */
  private copyRaw(source: Buffer, start: number, end: number): true | Promise<void> {
    const len = end - start;
    if (this.length + len > this.buf.length) {
      const flushed = this.flushToSink();
      if (flushed !== true) {
        return flushed.then(async () => {
          await this.copyRaw(source, start, end);
        });
      }
      if (len > this.buf.length) {
        this.normalTaken += len;
        return this.writeRun(source, start, end);
      }
    }
    this.normalTaken += len;
    if (this.origins) this.note(this.origins, this.length, start);
    source.copy(this.buf, this.length, start, end);
    this.length += len;
    return true;
  }

  /**
   * A run longer than the buffer, written straight from `source` in pieces of
   * whole records of at most the buffer's size (a record larger than that goes
   * alone): a sink that bounds what it holds by batches (records()) would
   * otherwise be handed a whole range at once.
   */
  private async writeRun(source: Buffer, start: number, end: number): Promise<void> {
    for (const [from, to] of recordPieces(source, start, end, this.buf.length)) {
      const written = this.timedWrite(source.subarray(from, to), this.single(from));
      if (written !== true) await written;
    }
  }

  /** Hand the collected batches to the sink (what goes ahead first). */
  flushToSink(): true | Promise<void> {
    this.flushAhead();
    if (this.gather) return this.flushSegments();
    if (this.length === 0) return true;
    const chunk = this.buf.subarray(0, this.length);
    this.length = 0;
    const origins = this.origins;
    if (!origins) return this.timedWrite(chunk);
    // The sink reads the notes during write() only: they are cleared right after.
    try {
      return this.timedWrite(chunk, origins);
    } finally {
      origins.count = 0;
    }
  }

  /**
   * Gather mode: hand the batch to the sink's writev, which may write it in
   * the background; its input buffers are released when it is written. While
   * an earlier batch is still being written, returns a promise (backpressure)
   * and hands this one over once that one is done.
   */
  private flushSegments(): true | Promise<void> {
    if (this.failure) throw this.failure;
    const n = this.sources.length;
    if (n === 0) return true;
    if (this.writing) return this.writing.then(() => settled(this.flushSegments()));
    // A record larger than the copy buffer adds two segments at once: a batch may pass MAX_SEGMENTS by one.
    if (this.runs && this.runs.length < 3 * n) this.runs = new Uint32Array(6 * n);
    const runs = this.runs;
    let views: Uint8Array[] | undefined;
    const distinct = this.distinctSources;
    distinct.length = 0;
    if (runs) {
      // Runs of one batch come from a few input buffers: each is passed once.
      for (let i = 0; i < n; i++) {
        const source = this.sources[i]!;
        let index = distinct.length - 1;
        while (index >= 0 && distinct[index] !== source) index--;
        if (index < 0) index = distinct.push(source) - 1;
        runs[3 * i] = index;
        runs[3 * i + 1] = this.starts[i]!;
        runs[3 * i + 2] = this.ends[i]!;
      }
    } else {
      views = new Array<Uint8Array>(n);
      for (let i = 0; i < n; i++) views[i] = this.sources[i]!.subarray(this.starts[i], this.ends[i]);
    }
    this.sources.length = 0;
    this.starts.length = 0;
    this.ends.length = 0;
    this.segmentBytes = 0;
    // The batch may point into `buf`: collect the next one in the other buffer.
    const written = this.buf;
    this.buf = this.spare!;
    this.spare = written;
    this.length = 0;
    const releases = this.afterFlush;
    this.afterFlush = [];
    this.writingReleases = releases;
    this.flushes++;
    const t0 = performance.now();
    let done!: () => void;
    this.writing = new Promise<void>((resolve) => (done = resolve));
    const onWritten = (err?: Error): void => {
      this.writing = undefined;
      for (const release of releases) release();
      if (err) {
        this.errors++;
        this.failure ??= err;
      } else {
        this.onWriteTime(Math.round((performance.now() - t0) * 1000));
      }
      done();
    };
    let taken: true | Promise<void>;
    try {
      taken = views ? this.sink.writev!(views, onWritten) : this.sink.writeRuns!(distinct, runs!, n, onWritten);
    } catch (err) {
      onWritten(err as Error);
      throw err;
    }
    // Only this buffer writes to the sink, and never while its own write is under way.
    if (taken !== true) throw new Error(`${this.sink.name}: writev refused a batch while idle`);
    if (this.failure) throw this.failure;
    return true;
  }
}

/**
 * [from, to) pieces of the run source[start, end) of at most `size` bytes,
 * each ending at a newline; a record longer than `size` is a piece alone.
 */
function* recordPieces(source: Uint8Array, start: number, end: number, size: number): Generator<[number, number]> {
  while (start < end) {
    let cut = end;
    if (end - start > size) {
      const last = source.lastIndexOf(NEWLINE, start + size - 1);
      cut = last >= start ? last + 1 : Math.min(end, source.indexOf(NEWLINE, start + size) + 1 || end);
    }
    yield [start, cut];
    start = cut;
  }
}

/** A promise chain step: true (nothing to wait for) becomes undefined. */
function settled(r: true | Promise<void>): Promise<void> | undefined {
  return r === true ? undefined : r;
}

interface MutableOrigins extends ChunkOrigins {
  count: number;
  at: number[];
  origin: string[];
  filePos: number[];
}
