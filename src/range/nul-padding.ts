/**
 * NUL padding between records. NUL is never part of JSON text, and a run of it
 * in a log is what a writer that does not open its file with O_APPEND leaves
 * after logrotate's copytruncate (its next write lands at its old offset,
 * after a hole reading as NULs), or what a crash leaves where a file's size
 * reached the disk before its data. Such a run separates records like a line
 * end does, so the record written after it is read instead of being rejected
 * together with the run.
 *
 * Only runs of at least MIN_PADDING_RUN bytes count: UTF-16 and UTF-32 text
 * (a file exported without a byte-order mark) has runs of one to three NULs
 * between its characters, and splitting it there would turn one rejected line
 * into one rejected "record" per character. Shorter runs stay part of the
 * record they are in, which is rejected as before.
 */
import { indexOfByte } from './byte-search.js';

export const MIN_PADDING_RUN = 4;
export const NUL = 0x00;

/** Index of the first NUL run of at least MIN_PADDING_RUN bytes within [from, end), or -1. */
export function nextPaddingRun(buf: Uint8Array, from: number, end: number): number {
  let i = from;
  while (i < end) {
    i = indexOfNul(buf, i, end);
    if (i < 0) return -1;
    const runEnd = firstNotNul(buf, i, end);
    if (runEnd - i >= MIN_PADDING_RUN) return i;
    i = runEnd;
  }
  return -1;
}

/** Index of the first NUL byte within [from, end), or -1. */
export function indexOfNul(buf: Uint8Array, from: number, end: number): number {
  return indexOfByte(buf, NUL, from, end);
}

/** Runs at least this long are walked four bytes at a time (a copytruncate hole is as long as the log was). */
const WORDWISE_FROM = 256;

/** Runs this long are compared against zeros a block at a time (native memcmp): preallocated space is tens of MiB. */
const ZERO_BLOCK = new Uint8Array(64 * 1024);

/** Index of the first byte at or after `from` that is not NUL, or `end`. */
export function firstNotNul(buf: Uint8Array, from: number, end: number): number {
  let i = from;
  while (end - i >= ZERO_BLOCK.length && buf[i] === NUL && Buffer.compare(buf.subarray(i, i + ZERO_BLOCK.length), ZERO_BLOCK) === 0) i += ZERO_BLOCK.length;
  while (i < end && buf[i] === NUL && ((buf.byteOffset + i) & 3) !== 0) i++;
  if (end - i >= WORDWISE_FROM && buf[i] === NUL) {
    const words = new Uint32Array(buf.buffer, buf.byteOffset + i, (end - i) >>> 2);
    let w = 0;
    while (w < words.length && words[w] === 0) w++;
    i += w << 2;
  }
  while (i < end && buf[i] === NUL) i++;
  return i;
}

/** Index just past the last byte before `end` (and at or after `from`) that is not NUL, or `from`. */
export function lastNotNulEnd(buf: Uint8Array, from: number, end: number): number {
  let i = end;
  while (i - from >= ZERO_BLOCK.length && buf[i - 1] === NUL && Buffer.compare(buf.subarray(i - ZERO_BLOCK.length, i), ZERO_BLOCK) === 0) i -= ZERO_BLOCK.length;
  while (i > from && buf[i - 1] === NUL && ((buf.byteOffset + i) & 3) !== 0) i--;
  if (i - from >= WORDWISE_FROM && buf[i - 1] === NUL) {
    const lowest = Math.ceil((buf.byteOffset + from) / 4);
    const top = (buf.byteOffset + i) >>> 2;
    const words = new Uint32Array(buf.buffer, lowest * 4, top - lowest);
    let w = words.length;
    while (w > 0 && words[w - 1] === 0) w--;
    i = (lowest + w) * 4 - buf.byteOffset;
  }
  while (i > from && buf[i - 1] === NUL) i--;
  return i;
}
