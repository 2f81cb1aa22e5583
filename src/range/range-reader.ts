import { readSync } from 'node:fs';

/** Size of a reader's scratch buffer (newRangeReaderScratch). */
const SCAN_CHUNK = 64 * 1024;
const LF = 0x0a;

/** The file got shorter than the range planned (truncated or rewritten in place). */
export class FileShrankError extends Error {}

/**
 * Positional reads of one range into its shared buffer. `filled` bytes of the
 * buffer hold file bytes starting at `filePos`; reads never pass `hardEnd`.
 */
export class RangeReader {
  filled = 0;
  bytesRead = 0;

  /**
   * @param scratch where bytes that are looked at but not kept are read
   *   (newline searches, skipped records): one per parser, reused by every
   *   range, as the live lane makes a reader per append.
   */
  constructor(
    readonly fd: number,
    readonly buf: Uint8Array,
    public filePos: number,
    readonly hardEnd: number,
    private readonly scratch: Uint8Array,
  ) {}

  /** File position just past the buffered bytes. */
  get filledEnd(): number {
    return this.filePos + this.filled;
  }

  /** True when the buffer reaches hardEnd: there is nothing more to read. */
  get atHardEnd(): boolean {
    return this.filledEnd >= this.hardEnd;
  }

  get full(): boolean {
    return this.filled >= this.buf.length;
  }

  /** Read until the buffer covers file position `to` (bounded by capacity and hardEnd). */
  fillTo(to: number): void {
    const target = Math.min(to, this.hardEnd, this.filePos + this.buf.length);
    while (this.filledEnd < target) {
      const n = readSync(this.fd, this.buf, this.filled, target - this.filledEnd, this.filledEnd);
      if (n === 0) throw new FileShrankError(`file shrank while reading: expected bytes up to ${target}, got ${this.filledEnd}`);
      this.filled += n;
      this.bytesRead += n;
    }
  }

  /** The byte at a file position (one tiny read; used once per range at most). */
  byteAt(pos: number): number {
    const n = readSync(this.fd, this.scratch, 0, 1, pos);
    return n === 1 ? this.scratch[0]! : -1;
  }

  /**
   * File position just past the first LF at or after `pos`, reading through a
   * scratch buffer (the bytes are not needed), or -1 when hardEnd comes first.
   */
  skipPastNewline(pos: number): number {
    let at = pos;
    while (at < this.hardEnd) {
      const n = readSync(this.fd, this.scratch, 0, Math.min(SCAN_CHUNK, this.hardEnd - at), at);
      if (n === 0) return -1;
      this.bytesRead += n;
      const i = this.scratch.subarray(0, n).indexOf(LF);
      if (i >= 0) return at + i + 1;
      at += n;
    }
    return -1;
  }

  /**
   * Walk `step` over the file from `pos` in scratch-sized chunks (the bytes are
   * not kept): `step(chunk, n)` returns the index in the chunk where it stopped,
   * or -1 to continue. Returns the file position it stopped at, or -1 at hardEnd.
   */
  scanFrom(pos: number, step: (chunk: Uint8Array, n: number) => number): number {
    let at = pos;
    while (at < this.hardEnd) {
      const n = readSync(this.fd, this.scratch, 0, Math.min(SCAN_CHUNK, this.hardEnd - at), at);
      if (n === 0) return -1;
      this.bytesRead += n;
      const i = step(this.scratch, n);
      if (i >= 0) return at + i;
      at += n;
    }
    return -1;
  }

  /** Buffer index of the first LF at or after buffer index `from`, or -1. */
  newlineIndex(from: number): number {
    const i = this.buf.subarray(0, this.filled).indexOf(LF, Math.max(0, from));
    return i;
  }

  /** Buffer index of the last LF before buffer index `before`, or -1. */
  lastNewlineBefore(before: number): number {
    if (before <= 0) return -1;
    return this.buf.subarray(0, Math.min(before, this.filled)).lastIndexOf(LF);
  }
}

/** A scratch buffer for RangeReader. */
export function newRangeReaderScratch(): Uint8Array {
  return new Uint8Array(SCAN_CHUNK);
}
