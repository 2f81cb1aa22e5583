import { closeSync, fsync, openSync, statSync, truncateSync, writeSync, writevSync } from 'node:fs';
import { promisify } from 'node:util';
import { CheckpointError } from '../checkpoint/errors.js';
import type { Sink } from './sink.js';

const fsyncAsync = promisify(fsync);

/**
 * Appends to a local file with synchronous writes: a page-cache write of one
 * staging batch costs well under a millisecond, far less than a round trip
 * through the libuv thread pool would add to every batch's latency.
 *
 * Exactly-once across crashes: `bytesWritten` is what a checkpoint commits
 * (after flush()), and a restart opens the file with `committedBytes`,
 * cutting off whatever was written after the last checkpoint; those records
 * are read and written again from the checkpointed offsets.
 */
export class FileSink implements Sink {
  readonly name: string;
  private readonly fd: number;
  private closed = false;
  private written: number;

  constructor(
    readonly path: string,
    committedBytes?: number,
  ) {
    this.name = `file:${path}`;
    if (committedBytes !== undefined) rollBack(path, committedBytes);
    this.fd = openSync(path, 'a');
    this.written = statSync(path).size;
  }

  /** Length of the file including everything written through this sink. */
  get bytesWritten(): number {
    return this.written;
  }

  write(chunk: Uint8Array): true {
    let done = 0;
    while (done < chunk.length) done += writeSync(this.fd, chunk, done, chunk.length - done);
    this.written += chunk.length;
    return true;
  }

  /** One writev(2) per call; after a short write, the rest goes chunk by chunk. */
  writev(chunks: readonly Uint8Array[]): true {
    let skip = writevSync(this.fd, chunks as Uint8Array[]);
    this.written += skip;
    for (const c of chunks) {
      if (skip >= c.length) {
        skip -= c.length;
        continue;
      }
      this.write(c.subarray(skip));
      skip = 0;
    }
    return true;
  }

  /** fsync on the libuv pool: the main thread goes on emitting meanwhile. */
  async flush(): Promise<void> {
    if (!this.closed) await fsyncAsync(this.fd);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    closeSync(this.fd);
  }
}

/** Truncate `path` to the length a checkpoint committed; shorter means it lost committed records. */
function rollBack(path: string, committedBytes: number): void {
  let size: number;
  try {
    size = statSync(path).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || committedBytes > 0) {
      throw new CheckpointError(path, `is missing, but the checkpoint says ${committedBytes} bytes of records were committed to it`, { cause: err, subject: 'output file' });
    }
    return;
  }
  if (size < committedBytes) {
    throw new CheckpointError(path, `has ${size} bytes, fewer than the ${committedBytes} the checkpoint committed: it was truncated or replaced outside ordertail`, { subject: 'output file' });
  }
  if (size > committedBytes) truncateSync(path, committedBytes);
}
