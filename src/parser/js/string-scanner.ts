/**
 * Validates the body of a JSON string (after its opening quote) including
 * escapes and UTF-8, without decoding anything.
 */
import { Status } from '../contract.js';
import { ESCAPE_CLASS, IS_HEX, STRING_CLASS, Str } from './byte-classes.js';

/**
 * Scans from `pos` (first byte after the opening quote) and returns the index
 * just past the closing quote, or the negated Status reason of the first bad
 * byte. Positions are never negative, so the sign alone tells the outcome.
 */
export function scanString(buf: Uint8Array, dv: DataView, pos: number, end: number): number {
  const cls = STRING_CLASS;
  for (;;) {
    // Most string bytes are plain ASCII: test four at a time (SWAR) and land
    // directly on the first byte that needs a look.
    let c: number;
    for (;;) {
      if (pos + 4 <= end) {
        const t = specialBytes(dv.getInt32(pos, true));
        if (t === 0) {
          pos += 4;
          continue;
        }
        pos += (31 - Math.clz32(t ^ (t - 1))) >>> 3;
        c = buf[pos]!;
        break;
      }
      if (pos >= end) return -Status.INVALID_JSON;
      c = buf[pos]!;
      if (cls[c] !== Str.PLAIN) break;
      pos++;
    }
    const k = cls[c]!;
    if (k === Str.QUOTE) return pos + 1;
    if (k === Str.BACKSLASH) {
      pos = scanEscape(buf, pos + 1, end);
      if (pos < 0) return pos;
    } else if (k === Str.CONTROL) {
      return -Status.CONTROL_CHAR;
    } else {
      pos = scanUtf8(buf, pos, c, end);
      if (pos < 0) return -Status.INVALID_UTF8;
    }
  }
}

/**
 * High bit set in each byte of the little-endian word `v` that is '"', '\\',
 * < 0x20 or >= 0x80. Borrows can also flag bytes above a flagged one, never
 * below it, so the lowest flag always marks the first special byte. The
 * subtractions wrap: `&` truncates them to 32 bits, as intended.
 */
export function specialBytes(v: number): number {
  const q = v ^ 0x22222222;
  const b = v ^ 0x5c5c5c5c;
  return (((q - 0x01010101) & ~q) | ((b - 0x01010101) & ~b) | (v - 0x20202020) | v) & 0x80808080;
}

/**
 * `pos` is just after the backslash. The byte after a backslash is judged as
 * an escape letter only, so a control byte or a byte >= 0x80 there is
 * INVALID_JSON, not CONTROL_CHAR / INVALID_UTF8.
 */
function scanEscape(buf: Uint8Array, pos: number, end: number): number {
  if (pos >= end) return -Status.INVALID_JSON;
  const e = ESCAPE_CLASS[buf[pos]!]!;
  if (e === 1) return pos + 1;
  if (e === 0) return -Status.INVALID_JSON;
  // \uXXXX: lone surrogates are accepted, as JSON.parse does.
  if (pos + 4 >= end) return -Status.INVALID_JSON;
  const hex = IS_HEX;
  if ((hex[buf[pos + 1]!]! & hex[buf[pos + 2]!]! & hex[buf[pos + 3]!]! & hex[buf[pos + 4]!]!) === 0) {
    return -Status.INVALID_JSON;
  }
  return pos + 5;
}

/**
 * Validates one multi-byte sequence whose lead byte `c` is at `pos`
 * (Unicode Table 3-7: no overlongs, no surrogates, nothing above U+10FFFF).
 * Returns the index after the sequence or -1. A sequence cut short by `end`
 * is malformed UTF-8, not a truncated JSON text.
 */
export function scanUtf8(buf: Uint8Array, pos: number, c: number, end: number): number {
  let lo = 0x80;
  let hi = 0xbf;
  let n: number;
  if (c < 0xc2) return -1;
  if (c < 0xe0) n = 1;
  else if (c < 0xf0) {
    n = 2;
    if (c === 0xe0) lo = 0xa0;
    else if (c === 0xed) hi = 0x9f;
  } else if (c < 0xf5) {
    n = 3;
    if (c === 0xf0) lo = 0x90;
    else if (c === 0xf4) hi = 0x8f;
  } else return -1;
  if (pos + n >= end) return -1;
  const b1 = buf[pos + 1]!;
  if (b1 < lo || b1 > hi) return -1;
  for (let i = 2; i <= n; i++) {
    const b = buf[pos + i]!;
    if (b < 0x80 || b > 0xbf) return -1;
  }
  return pos + n + 1;
}
