/**
 * Iterative RFC 8259 validator for one JSON value. It never builds values:
 * it checks bytes, tracks nesting in a fixed typed-array stack (no recursion,
 * so hostile nesting cannot overflow the JS stack) and reports the spans of
 * the top-level object's members to a FieldTable.
 */
import { MAX_DEPTH, Status } from '../contract.js';
import { Ch, IS_DIGIT, IS_WS } from './byte-classes.js';
import type { FieldTable } from './fields.js';
import { scanString } from './string-scanner.js';

const enum Kind {
  OBJECT = 1,
  ARRAY = 2,
}

/** stack[d] = Kind of the container at depth d (1-based); shared, the scanner is not re-entrant. */
const stack = new Uint8Array(MAX_DEPTH + 1);

/**
 * Validates the value starting at `pos` (leading whitespace allowed) within
 * [pos, end); `dv` views the same bytes as `buf` (for word-wide string scans). Returns the index just past the value, or the negated Status
 * reason of the first bad byte. Whatever follows the value is the caller's
 * business (trailing garbage, array delimiters).
 *
 * A scalar ends at its grammatical end: number digits are consumed greedily
 * (`0` then `1` in "01" are two tokens), so "01" at the top level is the
 * value 0 followed by trailing garbage, while inside a container the stray
 * byte is INVALID_JSON.
 */
export function scanValue(buf: Uint8Array, dv: DataView, pos: number, end: number, fields: FieldTable): number {
  const lengthUsed = fields.lengthUsed;
  let depth = 0;
  let topIsObject = false;
  let expectKey = false;
  let nameStart = 0;
  let nameEnd = 0;
  let valueStart = 0;
  for (;;) {
    if (expectKey) {
      if (pos < end && buf[pos]! <= Ch.SPACE) pos = skipWs(buf, pos, end);
      if (pos >= end || buf[pos] !== Ch.QUOTE) return -Status.INVALID_JSON;
      const ns = pos + 1;
      pos = scanString(buf, dv, ns, end);
      if (pos < 0) return pos;
      if (depth === 1) {
        nameStart = ns;
        nameEnd = pos - 1;
      }
      if (pos < end && buf[pos]! <= Ch.SPACE) pos = skipWs(buf, pos, end);
      if (pos >= end || buf[pos] !== Ch.COLON) return -Status.INVALID_JSON;
      pos++;
      expectKey = false;
    }
    if (pos < end && buf[pos]! <= Ch.SPACE) pos = skipWs(buf, pos, end);
    if (pos >= end) return -Status.INVALID_JSON;
    if (depth === 1) valueStart = pos;
    const c = buf[pos]!;
    if (c === Ch.QUOTE) {
      pos = scanString(buf, dv, pos + 1, end);
      if (pos < 0) return pos;
    } else if (c === Ch.LBRACE || c === Ch.LBRACKET) {
      if (depth === MAX_DEPTH) return -Status.TOO_DEEP;
      depth++;
      const isObj = c === Ch.LBRACE;
      stack[depth] = isObj ? Kind.OBJECT : Kind.ARRAY;
      if (depth === 1) topIsObject = isObj;
      pos++;
      if (pos < end && buf[pos]! <= Ch.SPACE) pos = skipWs(buf, pos, end);
      if (pos >= end) return -Status.INVALID_JSON;
      if (buf[pos] !== (isObj ? Ch.RBRACE : Ch.RBRACKET)) {
        expectKey = isObj;
        continue;
      }
      pos++;
      depth--;
    } else if (c === Ch.MINUS || IS_DIGIT[c] === 1) {
      pos = scanNumber(buf, pos, end);
      if (pos < 0) return pos;
    } else {
      pos = scanLiteral(buf, pos, c, end);
      if (pos < 0) return pos;
    }
    // A value just ended at pos: close containers until one continues.
    for (;;) {
      if (depth === 0) return pos;
      if (depth === 1 && topIsObject && lengthUsed[Math.min(nameEnd - nameStart, 255)] === 1) {
        fields.member(buf, nameStart, nameEnd, valueStart, pos);
      }
      if (pos < end && buf[pos]! <= Ch.SPACE) pos = skipWs(buf, pos, end);
      if (pos >= end) return -Status.INVALID_JSON;
      const d = buf[pos]!;
      const kind = stack[depth]!;
      if (d === Ch.COMMA) {
        pos++;
        expectKey = kind === Kind.OBJECT;
        break;
      }
      if (d === (kind === Kind.OBJECT ? Ch.RBRACE : Ch.RBRACKET)) {
        pos++;
        depth--;
        continue;
      }
      return -Status.INVALID_JSON;
    }
  }
}

/** Compact JSON has no whitespace between tokens, so callers test `<= 0x20` before calling. */
function skipWs(buf: Uint8Array, pos: number, end: number): number {
  const ws = IS_WS;
  while (pos < end && ws[buf[pos]!] === 1) pos++;
  return pos;
}

/** -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? starting at `pos`. */
function scanNumber(buf: Uint8Array, pos: number, end: number): number {
  const digit = IS_DIGIT;
  if (buf[pos] === Ch.MINUS) {
    pos++;
    if (pos >= end) return -Status.INVALID_JSON;
  }
  const first = buf[pos]!;
  if (first === Ch.D0) pos++;
  else if (digit[first] === 1) {
    pos++;
    while (pos < end && digit[buf[pos]!] === 1) pos++;
  } else return -Status.INVALID_JSON;
  if (pos < end && buf[pos] === Ch.DOT) {
    pos++;
    if (pos >= end || digit[buf[pos]!] !== 1) return -Status.INVALID_JSON;
    pos++;
    while (pos < end && digit[buf[pos]!] === 1) pos++;
  }
  if (pos < end && (buf[pos] === Ch.LOWER_E || buf[pos] === Ch.UPPER_E)) {
    pos++;
    if (pos < end && (buf[pos] === Ch.PLUS || buf[pos] === Ch.MINUS)) pos++;
    if (pos >= end || digit[buf[pos]!] !== 1) return -Status.INVALID_JSON;
    pos++;
    while (pos < end && digit[buf[pos]!] === 1) pos++;
  }
  return pos;
}

/** true / false / null; anything else starting here is not JSON. */
function scanLiteral(buf: Uint8Array, pos: number, c: number, end: number): number {
  if (c === Ch.LOWER_T) {
    if (pos + 3 < end && buf[pos + 1] === 0x72 && buf[pos + 2] === 0x75 && buf[pos + 3] === 0x65) return pos + 4;
  } else if (c === Ch.LOWER_F) {
    if (pos + 4 < end && buf[pos + 1] === 0x61 && buf[pos + 2] === 0x6c && buf[pos + 3] === 0x73 && buf[pos + 4] === 0x65) {
      return pos + 5;
    }
  } else if (c === Ch.LOWER_N) {
    if (pos + 3 < end && buf[pos + 1] === 0x75 && buf[pos + 2] === 0x6c && buf[pos + 3] === 0x6c) return pos + 4;
  }
  return -Status.INVALID_JSON;
}
