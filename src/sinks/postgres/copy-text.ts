/*
 * COPY's text format: bytes escaped as it needs them (backslash, tab, line
 * feed, carriage return), and values written straight into it: the key hash
 * as a bigint and the event time as a timestamptz, each exactly what the staging path's
 * SQL computes from the same numbers (batch-writer.ts), so a row written
 * either way has the same unique key and a copy is always caught.
 * native/src/pg_copy.rs mirrors these for the addon's encoder.
 */

const US_PER_SECOND = 1_000_000;
const SECONDS_PER_DAY = 86_400;
/** Microsecond counts a double holds exactly: event times from 1685 to 2255. */
const MAX_EXACT_US = 2 ** 53;
const DIGIT_0 = 0x30;
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const BACKSLASH = 0x5c;

/** One byte into COPY text at buf[p], escaped where COPY needs it; returns the end. */
export function putCopyByte(buf: Uint8Array, p: number, b: number): number {
  if (b === BACKSLASH) {
    buf[p++] = BACKSLASH;
    buf[p++] = BACKSLASH;
  } else if (b === TAB || b === LF || b === CR) {
    buf[p++] = BACKSLASH;
    buf[p++] = b === TAB ? 0x74 : b === LF ? 0x6e : 0x72;
  } else {
    buf[p++] = b;
  }
  return p;
}

/** src[from, to) into COPY text at buf[p]; returns the end. */
export function copyEscaped(buf: Uint8Array, p: number, src: Uint8Array, from: number, to: number): number {
  for (let i = from; i < to; i++) p = putCopyByte(buf, p, src[i]!);
  return p;
}

/**
 * The last second written, as `YYYY-MM-DD HH:MM:SS.`: consecutive records
 * mostly fall in the same second, and then only the microseconds are new.
 */
let cachedSecond = Number.NaN;
const cachedText = new Uint8Array(20);

/**
 * −1, 0 or 1: where a remainder computed exactly against a quotient estimated
 * in doubles (off by at most one) lies outside [0, base); the quotient moves
 * by it, the remainder by it times base.
 */
function carryOf(remainder: number, base: number): number {
  return remainder < 0 ? -1 : remainder >= base ? 1 : 0;
}

/** PostgreSQL's rint(): round half to even. */
function rint(x: number): number {
  const floor = Math.floor(x);
  const fraction = x - floor;
  if (fraction < 0.5) return floor;
  if (fraction > 0.5) return floor + 1;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** `second` (since 1970-01-01) into cachedText; the date by H. Hinnant's civil-from-days (proleptic Gregorian). */
function cacheSecond(second: number): void {
  const days = Math.floor(second / SECONDS_PER_DAY);
  const inDay = second - days * SECONDS_PER_DAY;
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  const t = cachedText;
  let p = writeInt32Digits(t, 0, year, 4);
  t[p++] = 0x2d;
  p = writeInt32Digits(t, p, month, 2);
  t[p++] = 0x2d;
  p = writeInt32Digits(t, p, day, 2);
  t[p++] = 0x20;
  p = writeInt32Digits(t, p, Math.floor(inDay / 3600), 2);
  t[p++] = 0x3a;
  p = writeInt32Digits(t, p, Math.floor(inDay / 60) % 60, 2);
  t[p++] = 0x3a;
  p = writeInt32Digits(t, p, inDay % 60, 2);
  t[p] = 0x2e;
  cachedSecond = second;
}

/**
 * `timestamptz 'epoch' + eventMs * interval '1 millisecond'` as COPY text
 * (`YYYY-MM-DD HH:MM:SS.ffffff+00`): PostgreSQL multiplies the interval's
 * 1000 µs by the double and rounds half to even, and so does this. Returns
 * the position after it, or -1 when the time is outside the range a double
 * counts microseconds in exactly (the staging path takes such a batch).
 */
export function writeTimestamptz(buf: Uint8Array, p: number, eventMs: number): number {
  const us = rint(1000 * eventMs);
  if (!(Math.abs(us) < MAX_EXACT_US)) return -1;
  let second = Math.floor(us / US_PER_SECOND);
  let micros = us - second * US_PER_SECOND;
  // The division is rounded; the remainder, computed exactly, says if it went over.
  const carry = carryOf(micros, US_PER_SECOND);
  second += carry;
  micros -= carry * US_PER_SECOND;
  if (second !== cachedSecond) cacheSecond(second);
  buf.set(cachedText, p);
  p = writeInt32Digits(buf, p + cachedText.length, micros, 6);
  buf[p++] = 0x2b;
  buf[p++] = DIGIT_0;
  buf[p++] = DIGIT_0;
  return p;
}

const BILLION = 1_000_000_000;
const TWO_TO_32 = 2 ** 32;

/**
 * The signed 64-bit `(hi << 32) | (lo & 0xffffffff)` in decimal, as the
 * staging SQL builds key_hash from key_hi and key_lo, without allocating:
 * the magnitude m = H·2³² + L is split as q·10⁹ + r, q from m rounded to a
 * double (off by at most one) and r from the exact low 32 bits of m − q·10⁹
 * (|r| < 2³¹ before the correction, so its low 32 bits are all of it).
 */
export function writeInt64(buf: Uint8Array, p: number, hi: number, lo: number): number {
  let high = hi >>> 0;
  let low = lo >>> 0;
  if (hi < 0) {
    buf[p++] = 0x2d;
    low = -low >>> 0;
    high = (~hi + (low === 0 ? 1 : 0)) >>> 0;
  }
  let q = Math.floor((high * TWO_TO_32 + low) / BILLION);
  let r = (low - Math.imul(q >>> 0, BILLION)) | 0;
  const carry = carryOf(r, BILLION);
  q += carry;
  r -= carry * BILLION;
  return writeBillions(buf, p, q, r);
}

/**
 * A double in decimal text that parses back to the same double: an integer
 * below 2⁵³ (event times in ms, the key's int32 halves) in digits without
 * allocating, anything else through JavaScript's own shortest form.
 */
export function writeDouble(buf: Buffer, p: number, value: number): number {
  if (!Number.isSafeInteger(value)) return p + buf.write(String(value), p, 'latin1');
  if (value < 0) {
    buf[p++] = 0x2d;
    value = -value;
  }
  const high = Math.floor(value / BILLION);
  return writeBillions(buf, p, high, value - high * BILLION);
}

/** `q`·10⁹ + `r` in decimal without leading zeros (q < 10¹⁰, r < 10⁹): int32 groups of up to 1, 9 and 9 digits. */
function writeBillions(buf: Uint8Array, p: number, q: number, r: number): number {
  if (q === 0) return writeInt32Digits(buf, p, r, decimalWidth(r));
  const top = Math.floor(q / BILLION);
  const middle = q - top * BILLION;
  if (top > 0) {
    buf[p++] = DIGIT_0 + top;
    p = writeInt32Digits(buf, p, middle, 9);
  } else {
    p = writeInt32Digits(buf, p, middle, decimalWidth(middle));
  }
  return writeInt32Digits(buf, p, r, 9);
}

/** Digits of a non-negative int32, no leading zeros. */
function decimalWidth(value: number): number {
  let width = 1;
  for (let v = value; v >= 10; v = (v / 10) | 0) width++;
  return width;
}

/** `value` (a non-negative int32) in `width` digits, zero-padded, in integer arithmetic (every number COPY text is made of here). */
function writeInt32Digits(buf: Uint8Array, p: number, value: number, width: number): number {
  for (let i = width - 1; i >= 0; i--) {
    const tenth = (value / 10) | 0;
    buf[p + i] = DIGIT_0 + value - tenth * 10;
    value = tenth;
  }
  return p + width;
}
