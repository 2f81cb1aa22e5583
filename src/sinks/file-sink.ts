import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import type { Sink } from './sink.js';

/**
 * Appends to a local file with synchronous writes: a page-cache write of one
 * staging batch costs well under a millisecond, far less than a round trip
 * through the libuv thread pool would add to every batch's latency.
 */
export class FileSink implements Sink {
  readonly name: string;
  private readonly fd: number;
  private closed = false;

  constructor(readonly path: string) {
    this.name = `file:${path}`;
    this.fd = openSync(path, 'a');
  }

  write(chunk: Uint8Array): true {
    let done = 0;
    while (done < chunk.length) done += writeSync(this.fd, chunk, done, chunk.length - done);
    return true;
  }

  async flush(): Promise<void> {
    if (!this.closed) fsyncSync(this.fd);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    closeSync(this.fd);
  }
}
