/**
 * A writer that dies mid-record and, restarted, appends right after the bytes
 * it left (no newline and no NULs between them: its data reached the disk as
 * far as its size did) glues its next record to half of the last one. The
 * line is rejected as a whole; the record at its end is whole, and is read on
 * its own: it starts at the first '{' after the line's start from which the
 * rest of the line is one valid record (a cut inside a multi-byte character
 * leaves the line invalid UTF-8 too), and not where a nested value starts.
 * Only rejected lines are looked at. Two records on one line (a writer that
 * left out a newline) come apart the same way.
 */
import { indexOfByte } from './byte-search.js';

const OPEN_BRACE = 0x7b;
/** Candidate starts tried per rejected line: a garbage line full of braces costs a bounded number of parses. */
export const MAX_GLUED_CANDIDATES = 16;

/** Buffer index where the record glued to the end of the rejected line [offset, end) starts, or -1. */
export function gluedRecordStart(buf: Uint8Array, offset: number, end: number, isRecord: (start: number) => boolean): number {
  let at = offset + 1;
  for (let tries = 0; tries < MAX_GLUED_CANDIDATES; tries++) {
    at = indexOfByte(buf, OPEN_BRACE, at, end);
    if (at < 0) return -1;
    if (!afterValueSeparator(buf, offset, at) && closesAtEnd(buf, at, end) && isRecord(at)) return at;
    at++;
  }
  return -1;
}

/**
 * Is the '{' at `at` where a JSON value goes (after ':', ',' or '[', spaces
 * aside)? Then it is an object nested in a cut record, not a record: a cut
 * record that ends with one (`{"id":1,"m":{"a":1}`) is not read as `{"a":1}`.
 * A record glued after a cut right there is not found either (rejected, as
 * before).
 */
function afterValueSeparator(buf: Uint8Array, lineStart: number, at: number): boolean {
  let i = at - 1;
  while (i > lineStart && (buf[i] === 0x20 || buf[i] === 0x09)) i--;
  const b = buf[i];
  return b === 0x3a || b === 0x2c || b === 0x5b;
}

/**
 * Does the object opening at `start` close at the line's last byte (bar
 * trailing spaces)? Braces and brackets counted outside strings: a cheap
 * look that turns away most candidates (a nested object closes early)
 * before a parse is spent on them.
 */
function closesAtEnd(buf: Uint8Array, start: number, end: number): boolean {
  let last = end;
  while (last > start && (buf[last - 1] === 0x20 || buf[last - 1] === 0x09 || buf[last - 1] === 0x0d)) last--;
  let depth = 0;
  let inString = false;
  for (let i = start; i < last; i++) {
    const b = buf[i]!;
    if (inString) {
      if (b === 0x5c) i++;
      else if (b === 0x22) inString = false;
    } else if (b === 0x22) inString = true;
    else if (b === 0x7b || b === 0x5b) depth++;
    else if (b === 0x7d || b === 0x5d) {
      depth--;
      if (depth === 0) return i === last - 1;
    }
  }
  return false;
}
