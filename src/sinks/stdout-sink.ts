import type { Writable } from 'node:stream';
import type { Sink } from './sink.js';

/**
 * Bytes handed to the stream per write, cut at a newline: the most that can
 * be half-written when the process has to go (see abandon()). A record longer
 * than this goes as one piece.
 */
const PIECE_BYTES = 64 * 1024;
/** Bytes queued here before write() asks the caller to wait (backpressure), by default. */
export const STREAM_QUEUE_BYTES = 1 << 20;
const LF = 0x0a;
/**
 * Copies of batches up to this size are made into reused buffers: a new
 * Buffer per batch is external memory V8 counts towards its next full GC, and
 * at a few hundred thousand records a second those pauses reached the live
 * records' latency.
 */
const POOLED_COPY_BYTES = 1 << 20;
const SPARE_COPIES = 8;

interface Queued {
  bytes: Buffer;
  /** The pooled buffer `bytes` is a view of, returned once its last byte is written. */
  readonly pooled: Buffer | undefined;
  /** Written ahead (writeAhead): such items are all at the queue's front. */
  readonly ahead: boolean;
}

/**
 * Standard output. At-least-once: what the kernel accepted cannot be taken back
 * after a crash, so a restart may repeat records (the file sink is exactly-once).
 *
 * One piece (whole records) is in the stream at a time; the rest waits here.
 * So when a shutdown deadline passes with a slow reader, abandon() drops what
 * was never handed over and lets the one piece finish: stdout ends on a record
 * boundary, not in half a record.
 *
 * writeAhead() puts a chunk in front of the queued write()s (after the piece
 * under way and earlier chunks written ahead): a live record then waits
 * behind at most one piece of a backfill's output, not behind its queue.
 */
export class StreamSink implements Sink {
  readonly name: string;
  private readonly queue: Queued[] = [];
  private readonly spare: Buffer[] = [];
  /** Items at the queue's front written ahead. */
  private aheadItems = 0;
  /** Bytes in the queue (not handed to the stream yet), of write() calls and written ahead. */
  readonly held = { written: 0, ahead: 0 };
  private writing = false;
  /** Resolves the callers waiting for room (backpressure) or for everything to be written (flush). */
  private readonly roomWaiters: (() => void)[] = [];
  private readonly idleWaiters: (() => void)[] = [];
  /** The stream failed. EPIPE (the reader left, as `| head` does) is not a failure of ours: writes are then discarded. */
  private broken: NodeJS.ErrnoException | undefined;
  private abandoned = false;

  /**
   * @param queueBytes what may wait here: everything queued is written
   *   before a record emitted later, so a follower keeps it small.
   */
  constructor(
    private readonly stream: Writable = process.stdout,
    name = 'stdout',
    private readonly queueBytes = STREAM_QUEUE_BYTES,
  ) {
    this.name = name;
    stream.on('error', this.onError);
  }

  private readonly onError = (err: NodeJS.ErrnoException): void => {
    this.broken ??= err;
    this.dropQueue();
    this.writing = false;
    this.wakeAll();
  };

  /** The reader closed its end. */
  get readerGone(): boolean {
    return this.broken?.code === 'EPIPE';
  }

  write(chunk: Uint8Array): true | Promise<void> {
    if (this.broken) {
      if (this.readerGone) return true;
      throw this.broken;
    }
    if (this.abandoned) return true;
    // Our caller reuses its buffer right away: keep a copy (one per batch, not per record).
    this.queue.push(this.copyOf(chunk, false));
    this.held.written += chunk.length;
    this.pump();
    if (this.queuedBytes() < this.queueBytes) return true;
    return new Promise((resolve) => this.roomWaiters.push(resolve));
  }

  /** Bytes in the queue, not handed to the stream yet. */
  private queuedBytes(): number {
    return this.held.written + this.held.ahead;
  }

  writeAhead(chunk: Uint8Array): true {
    if (this.broken && !this.readerGone) throw this.broken;
    if (this.broken || this.abandoned) return true;
    // Behind the piece under way (no longer queued) and earlier chunks written ahead; a
    // write() item cut short at the front has its rest start at a record boundary.
    this.queue.splice(this.aheadItems, 0, this.copyOf(chunk, true));
    this.aheadItems++;
    this.held.ahead += chunk.length;
    this.pump();
    return true;
  }

  private copyOf(chunk: Uint8Array, ahead: boolean): Queued {
    const size = Math.min(POOLED_COPY_BYTES, this.queueBytes);
    if (chunk.length > size) return { bytes: Buffer.from(chunk), pooled: undefined, ahead };
    const pooled = this.spare.pop() ?? Buffer.allocUnsafeSlow(size);
    pooled.set(chunk);
    return { bytes: pooled.subarray(0, chunk.length), pooled, ahead };
  }

  private pump(): void {
    if (this.writing || this.broken || this.queue.length === 0) return;
    const { piece, done } = this.takePiece();
    this.writing = true;
    this.stream.write(piece, (err) => {
      if (err) return; // the 'error' listener handles it
      if (done && this.spare.length < SPARE_COPIES) this.spare.push(done);
      this.writing = false;
      this.pump();
      if (this.queuedBytes() < this.queueBytes) for (const wake of this.roomWaiters.splice(0)) wake();
      if (!this.writing) for (const wake of this.idleWaiters.splice(0)) wake();
    });
  }

  /**
   * Up to PIECE_BYTES from the queue's head, ending at a newline; `done`: the
   * pooled buffer this piece finishes, free for reuse once it is written.
   */
  private takePiece(): { piece: Buffer; done: Buffer | undefined } {
    const item = this.queue[0]!;
    const head = item.bytes;
    let piece: Buffer;
    let finished = false;
    if (head.length <= PIECE_BYTES) {
      piece = head;
      finished = true;
    } else {
      const cut = head.lastIndexOf(LF, PIECE_BYTES - 1);
      const end = cut >= 0 ? cut + 1 : head.indexOf(LF, PIECE_BYTES) + 1 || head.length;
      piece = head.subarray(0, end);
      finished = end === head.length;
      if (!finished) item.bytes = head.subarray(end);
    }
    if (finished) this.queue.shift();
    if (finished && item.ahead) this.aheadItems--;
    if (item.ahead) this.held.ahead -= piece.length;
    else this.held.written -= piece.length;
    return { piece, done: finished ? item.pooled : undefined };
  }

  private dropQueue(): void {
    this.queue.length = 0;
    this.aheadItems = 0;
    this.held.written = 0;
    this.held.ahead = 0;
  }

  private wakeAll(): void {
    for (const wake of this.roomWaiters.splice(0)) wake();
    for (const wake of this.idleWaiters.splice(0)) wake();
  }

  /**
   * Out of time: drop what was not handed to the stream (never a byte of it
   * written) and resolve when the piece being written is out, whole.
   * Returns the bytes dropped.
   */
  abandon(): { dropped: number; written: Promise<void> } {
    const dropped = this.queuedBytes();
    this.abandoned = true;
    this.dropQueue();
    for (const wake of this.roomWaiters.splice(0)) wake();
    const written = this.writing ? new Promise<void>((resolve) => this.idleWaiters.push(resolve)) : Promise.resolve();
    return { dropped, written };
  }

  /** Everything handed over is written; rejects with the stream's error (ENOSPC, EIO…) when a write failed, EPIPE excepted. */
  async flush(): Promise<void> {
    if (this.writing || this.queue.length > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    // A failed last write reaches only the 'error' listener: with no write after it, this is where it is told.
    if (this.broken && !this.readerGone) throw this.broken;
  }

  async close(): Promise<void> {
    try {
      await this.flush();
    } finally {
      // process.stdout outlives the sink: engines made one after another must not pile up listeners on it.
      this.stream.removeListener('error', this.onError);
    }
  }
}
