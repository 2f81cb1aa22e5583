/*
 * A record's mapped columns as COPY text, cut out of the record's bytes here
 * so that a batch can be copied straight into the table (batch-writer.ts).
 * Each value must be what the staging path's SQL gives for the same record,
 * `(record::jsonb ->> field)::type` (`-> field` for jsonb columns): the last
 * of duplicate keys, JSON string escapes undone, null as NULL. Where the
 * database's own conversion could differ from the record's text (a number
 * with an exponent or a negative zero, which jsonb rewrites; an object or
 * array into a non-jsonb column; an escaped key; \u0000 or a lone
 * surrogate, which jsonb refuses), the value is not guessed: the writer
 * reports it and the batch takes the staging path.
 *
 * native/src/pg_copy.rs writes the same bytes for the addon's encoder: a
 * change here is a change there (test/postgres-row-encoding.test.ts).
 */
import type { ColumnType, MappedColumn } from '../../config/postgres-columns.js';
import { copyEscaped, putCopyByte } from './copy-text.js';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const MINUS = 0x2d;
const NOT_DIRECT = -1;

const isSpace = (b: number): boolean => b === SPACE || b === TAB || b === LF || b === CR;

function skipSpace(src: Uint8Array, i: number, end: number): number {
  while (i < end && isSpace(src[i]!)) i++;
  return i;
}

/** End (exclusive) of the string starting at the quote at `i`, or -1. */
function stringEnd(src: Uint8Array, i: number, end: number): number {
  for (let j = i + 1; j < end; j++) {
    const b = src[j]!;
    if (b === BACKSLASH) j++;
    else if (b === QUOTE) return j + 1;
  }
  return NOT_DIRECT;
}

/** End (exclusive) of the JSON value starting at `i`, or -1 when it is cut short. */
function valueEnd(src: Uint8Array, i: number, end: number): number {
  const first = src[i]!;
  if (first === QUOTE) return stringEnd(src, i, end);
  if (first === OPEN_BRACE || first === OPEN_BRACKET) {
    let depth = 0;
    for (let j = i; j < end; j++) {
      const b = src[j]!;
      if (b === QUOTE) {
        j = stringEnd(src, j, end) - 1;
        if (j < 0) return NOT_DIRECT;
      } else if (b === OPEN_BRACE || b === OPEN_BRACKET) {
        depth++;
      } else if (b === CLOSE_BRACE || b === CLOSE_BRACKET) {
        if (--depth === 0) return j + 1;
      }
    }
    return NOT_DIRECT;
  }
  let j = i;
  while (j < end) {
    const b = src[j]!;
    if (b === COMMA || b === CLOSE_BRACE || b === CLOSE_BRACKET || isSpace(b)) break;
    j++;
  }
  return j > i ? j : NOT_DIRECT;
}

function hex4(src: Uint8Array, i: number, end: number): number {
  if (i + 4 > end) return NOT_DIRECT;
  let v = 0;
  for (let k = 0; k < 4; k++) {
    const b = src[i + k]!;
    const d = b >= 0x30 && b <= 0x39 ? b - 0x30 : b >= 0x61 && b <= 0x66 ? b - 0x57 : b >= 0x41 && b <= 0x46 ? b - 0x37 : -1;
    if (d < 0) return NOT_DIRECT;
    v = v * 16 + d;
  }
  return v;
}

function putCodePoint(buf: Uint8Array, p: number, cp: number): number {
  if (cp < 0x80) return putCopyByte(buf, p, cp);
  if (cp < 0x800) {
    buf[p++] = 0xc0 | (cp >> 6);
  } else if (cp < 0x10000) {
    buf[p++] = 0xe0 | (cp >> 12);
    buf[p++] = 0x80 | ((cp >> 6) & 0x3f);
  } else {
    buf[p++] = 0xf0 | (cp >> 18);
    buf[p++] = 0x80 | ((cp >> 12) & 0x3f);
    buf[p++] = 0x80 | ((cp >> 6) & 0x3f);
  }
  buf[p++] = 0x80 | (cp & 0x3f);
  return p;
}

/** The string [from, to) (quotes included) unescaped into COPY text, or -1. */
function putUnescaped(buf: Uint8Array, p: number, src: Uint8Array, from: number, to: number): number {
  const last = to - 1;
  for (let i = from + 1; i < last; i++) {
    const b = src[i]!;
    if (b !== BACKSLASH) {
      p = putCopyByte(buf, p, b);
      continue;
    }
    const e = src[++i]!;
    if (e === QUOTE || e === BACKSLASH || e === 0x2f) p = putCopyByte(buf, p, e);
    else if (e === 0x62) buf[p++] = 0x08;
    else if (e === 0x66) buf[p++] = 0x0c;
    else if (e === 0x6e) p = putCopyByte(buf, p, LF);
    else if (e === 0x72) p = putCopyByte(buf, p, CR);
    else if (e === 0x74) p = putCopyByte(buf, p, TAB);
    else if (e === 0x75) {
      let cp = hex4(src, i + 1, last);
      if (cp <= 0) return NOT_DIRECT;
      i += 4;
      if (cp >= 0xdc00 && cp <= 0xdfff) return NOT_DIRECT;
      if (cp >= 0xd800 && cp <= 0xdbff) {
        if (src[i + 1] !== BACKSLASH || src[i + 2] !== 0x75) return NOT_DIRECT;
        const low = hex4(src, i + 3, last);
        if (low < 0xdc00 || low > 0xdfff) return NOT_DIRECT;
        cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
        i += 6;
      }
      p = putCodePoint(buf, p, cp);
    } else {
      return NOT_DIRECT;
    }
  }
  return p;
}

/** A JSON number whose text PostgreSQL's numeric output would write back differently (1e2 → 100, -0 → 0). */
function rewrittenByJsonb(src: Uint8Array, from: number, to: number): boolean {
  let zero = true;
  for (let i = from; i < to; i++) {
    const b = src[i]!;
    if (b === 0x65 || b === 0x45) return true;
    if (b >= 0x31 && b <= 0x39) zero = false;
  }
  return zero && src[from] === MINUS;
}

function putValue(buf: Uint8Array, p: number, type: ColumnType, src: Uint8Array, from: number, to: number): number {
  // jsonb keeps the value as JSON, a JSON null included (`->`); the other types take `->>`'s text.
  if (type === 'jsonb') return copyEscaped(buf, p, src, from, to);
  const first = src[from]!;
  if (to - from === 4 && first === 0x6e) {
    buf[p++] = BACKSLASH;
    buf[p++] = 0x4e;
    return p;
  }
  if (first === QUOTE) return putUnescaped(buf, p, src, from, to);
  if (first === OPEN_BRACE || first === OPEN_BRACKET) return NOT_DIRECT;
  if ((first === MINUS || (first >= 0x30 && first <= 0x39)) && type !== 'numeric' && rewrittenByJsonb(src, from, to)) return NOT_DIRECT;
  return copyEscaped(buf, p, src, from, to);
}

export class MappedValueWriter {
  private readonly fields: Buffer[];
  private readonly types: ColumnType[];
  /** Per column, the span of its value in the record being written (-1: absent). */
  private readonly starts: Int32Array;
  private readonly ends: Int32Array;

  constructor(columns: readonly MappedColumn[]) {
    this.fields = columns.map((c) => Buffer.from(c.field, 'utf8'));
    this.types = columns.map((c) => c.type);
    this.starts = new Int32Array(columns.length);
    this.ends = new Int32Array(columns.length);
  }

  get count(): number {
    return this.types.length;
  }

  /**
   * `value\t` per mapped column for the record src[start, end), at buf[p];
   * returns the position after the last tab, or -1 when a value is left to
   * the database. Room needed: twice the record's length per column, plus 8.
   */
  write(buf: Uint8Array, p: number, src: Uint8Array, start: number, end: number): number {
    if (!this.find(src, start, end)) return NOT_DIRECT;
    for (let c = 0; c < this.types.length; c++) {
      const from = this.starts[c]!;
      if (from < 0) {
        // Absent: NULL for `->>` and for `->` alike.
        buf[p++] = BACKSLASH;
        buf[p++] = 0x4e;
      } else {
        p = putValue(buf, p, this.types[c]!, src, from, this.ends[c]!);
        if (p < 0) return NOT_DIRECT;
      }
      buf[p++] = TAB;
    }
    return p;
  }

  /** The spans of the mapped fields among the record's top-level members; false when it cannot be read here. */
  private find(src: Uint8Array, start: number, end: number): boolean {
    this.starts.fill(-1);
    let i = skipSpace(src, start, end);
    if (src[i] !== OPEN_BRACE) return false;
    i = skipSpace(src, i + 1, end);
    if (src[i] === CLOSE_BRACE) return true;
    for (;;) {
      if (i >= end || src[i] !== QUOTE) return false;
      const keyStart = i + 1;
      let keyEnd = keyStart;
      while (keyEnd < end && src[keyEnd] !== QUOTE) {
        if (src[keyEnd] === BACKSLASH) return false;
        keyEnd++;
      }
      if (keyEnd >= end) return false;
      i = skipSpace(src, keyEnd + 1, end);
      if (src[i] !== COLON) return false;
      i = skipSpace(src, i + 1, end);
      if (i >= end) return false;
      const valueStart = i;
      const valueStop = valueEnd(src, i, end);
      if (valueStop < 0) return false;
      this.match(src, keyStart, keyEnd, valueStart, valueStop);
      i = skipSpace(src, valueStop, end);
      if (src[i] === CLOSE_BRACE) return true;
      if (src[i] !== COMMA) return false;
      i = skipSpace(src, i + 1, end);
    }
  }

  /** Later duplicates overwrite earlier ones: jsonb keeps the last. */
  private match(src: Uint8Array, keyStart: number, keyEnd: number, valueStart: number, valueEnd: number): void {
    const length = keyEnd - keyStart;
    for (let c = 0; c < this.fields.length; c++) {
      const field = this.fields[c]!;
      if (field.length !== length) continue;
      let same = true;
      for (let k = 0; k < length; k++) {
        if (src[keyStart + k] !== field[k]) {
          same = false;
          break;
        }
      }
      if (same) {
        this.starts[c] = valueStart;
        this.ends[c] = valueEnd;
      }
    }
  }
}
