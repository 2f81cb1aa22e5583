import { FileSink } from './file-sink.js';

const SAMPLE_BYTES = 256;
const decoder = new TextDecoder('utf-8', { fatal: false });

export interface DeadLetter {
  file: string;
  offset: number;
  reason: string;
  sample: string;
}

/**
 * Rejected input, one JSON line each: {"file","offset","reason","sample"}.
 * The sample is the first ≤ 256 bytes as text (invalid UTF-8 becomes U+FFFD),
 * enough to find and fix the record without copying megabytes of garbage.
 * Checkpointed like the file sink (a restart cuts it back to the committed length).
 */
export class DeadLetterFile {
  private file: FileSink;

  constructor(readonly path: string, committedBytes?: number) {
    // Small, and read by people: left to the kernel's cache.
    this.file = new FileSink(path, { committedBytes, pageCache: 'keep' });
  }

  static sampleOf(bytes: Uint8Array, offset: number, length: number): string {
    return decoder.decode(bytes.subarray(offset, offset + Math.min(length, SAMPLE_BYTES)));
  }

  get bytesWritten(): number {
    return this.file.bytesWritten;
  }

  /** The file's `dev:ino` (FileSink.identity). */
  get identity(): string {
    return this.file.identity;
  }

  /** FileSink.regularFile. */
  get regularFile(): boolean {
    return this.file.regularFile;
  }

  /**
   * The file moved or cut short outside ordertail (log rotation), for the
   * log: a file moved away or deleted is let go and a new one opened at the
   * path, for the records rejected from now on (`closing`: the old one's
   * flush and close); one truncated in place is written on from its new
   * length. A new file that cannot be opened throws, the old one kept.
   */
  followRotation(): { message: string; closing?: Promise<void> } | undefined {
    const change = this.file.outsideChange();
    if (!change) return undefined;
    if (change.kind === 'truncated') return { message: `dead-letter file ${this.path} was truncated outside ordertail from ${change.from} to ${change.to} bytes; written on from there` };
    const old = this.file;
    this.file = new FileSink(this.path, { pageCache: 'keep' });
    return { message: `dead-letter file ${this.path} was ${change.to === undefined ? 'deleted' : `moved to ${change.to}`} (rotated): rejected records go to a new ${this.path}`, closing: old.close() };
  }

  write(entry: DeadLetter): void {
    this.file.write(Buffer.from(`${JSON.stringify(entry)}\n`));
  }

  flush(): Promise<void> {
    return this.file.flush();
  }

  close(): Promise<void> {
    return this.file.close();
  }
}
