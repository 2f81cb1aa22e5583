import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';

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
 */
export class DeadLetterFile {
  private readonly fd: number;

  constructor(readonly path: string) {
    this.fd = openSync(path, 'a');
  }

  static sampleOf(bytes: Uint8Array, offset: number, length: number): string {
    return decoder.decode(bytes.subarray(offset, offset + Math.min(length, SAMPLE_BYTES)));
  }

  write(entry: DeadLetter): void {
    const line = Buffer.from(`${JSON.stringify(entry)}\n`);
    let done = 0;
    while (done < line.length) done += writeSync(this.fd, line, done, line.length - done);
  }

  flush(): void {
    fsyncSync(this.fd);
  }

  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}
