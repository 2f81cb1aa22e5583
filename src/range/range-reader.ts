import { readSync } from 'node:fs';
import { firstNotNul, MIN_PADDING_RUN, NUL } from './nul-padding.js';

/** Size of a reader's scratch buffer (newRangeReaderScratch). */
const SCAN_CHUNK = 64 * 1024;
const LF = 0x0a;

/** Told of each run of NUL bytes a skip walks over (file positions, `to` exclusive). */
export type PaddingSink = (from: number, to: number) => void;

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

  /**
   * File position of the first record start at or after `pos`, or -1 when
   * hardEnd (or `limit`: nothing past it matters to the caller) comes first.
   * `pos` is inside a record (or, with `inPadding`, inside a NUL run that is
   * padding whatever its length); records end at an LF or at a run of NUL
   * padding (nul-padding.ts), and start at the first byte after either that
   * is not padding. Each padding run walked over is told to `padding`.
   */
  skipToRecordStart(pos: number, inPadding: boolean, padding: PaddingSink, limit = Number.POSITIVE_INFINITY): number {
    const stop = Math.min(this.hardEnd, limit);
    let at = pos;
    let boundary = inPadding;
    let runStart = inPadding ? pos : -1;
    let runIsPadding = inPadding;
    while (at < stop) {
      const n = readSync(this.fd, this.scratch, 0, Math.min(SCAN_CHUNK, stop - at), at);
      if (n === 0) break;
      this.bytesRead += n;
      const chunk = this.scratch.subarray(0, n);
      let i = 0;
      while (i < n) {
        if (chunk[i] === NUL) {
          if (runStart < 0) runStart = at + i;
          i = firstNotNul(chunk, i, n);
          continue;
        }
        const p = at + i;
        if (runStart >= 0) {
          const run = runStart;
          runStart = -1;
          if (runIsPadding || p - run >= MIN_PADDING_RUN) {
            padding(run, p);
            boundary = true;
          } else if (boundary) {
            return run; // a record that starts with a few NULs (rejected when read)
          }
          runIsPadding = false;
        }
        if (boundary) return p;
        // Inside a record: on to its end, an LF or a NUL (padding or not, decided above).
        const lf = chunk.indexOf(LF, i);
        const nul = chunk.indexOf(NUL, i);
        if (lf < 0 && nul < 0) {
          i = n;
        } else if (nul < 0 || (lf >= 0 && lf < nul)) {
          boundary = true;
          i = lf + 1;
        } else {
          i = nul;
        }
      }
      at += n;
    }
    if (runStart >= 0 && (runIsPadding || at - runStart >= MIN_PADDING_RUN)) padding(runStart, at);
    return -1;
  }

  /** How many of the (up to MIN_PADDING_RUN) bytes just before `pos` are NUL, and whether the byte before `pos` is an LF. */
  lookBehind(pos: number): { nuls: number; afterNewline: boolean } {
    const from = Math.max(0, pos - MIN_PADDING_RUN);
    const n = readSync(this.fd, this.scratch, 0, pos - from, from);
    let nuls = 0;
    while (nuls < n && this.scratch[n - 1 - nuls] === NUL) nuls++;
    return { nuls, afterNewline: n > 0 && this.scratch[n - 1] === LF };
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
