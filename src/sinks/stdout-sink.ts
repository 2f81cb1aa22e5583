import type { Writable } from 'node:stream';
import type { Sink } from './sink.js';

/**
 * Standard output. At-least-once: what the kernel accepted cannot be taken back
 * after a crash, so a restart may repeat records (the file sink is exactly-once).
 */
export class StreamSink implements Sink {
  readonly name: string;
  private waiting: Promise<void> | undefined;

  constructor(
    private readonly stream: Writable = process.stdout,
    name = 'stdout',
  ) {
    this.name = name;
  }

  write(chunk: Uint8Array): true | Promise<void> {
    // The stream may keep a reference until it is flushed; our staging buffer
    // is reused right away, so hand over a copy (one per batch, not per record).
    const ok = this.stream.write(Buffer.from(chunk));
    if (ok) return true;
    this.waiting ??= new Promise<void>((resolve) =>
      this.stream.once('drain', () => {
        this.waiting = undefined;
        resolve();
      }),
    );
    return this.waiting;
  }

  async flush(): Promise<void> {
    if (this.waiting) await this.waiting;
  }

  async close(): Promise<void> {
    await this.flush();
  }
}
