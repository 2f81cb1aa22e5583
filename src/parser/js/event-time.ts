/**
 * Event time from a member value's raw bytes: a JSON number (epoch ms) or an
 * ISO-8601 string in the contract's subset. Reads bytes directly; the only
 * allocation is the string handed to Number() for numbers that are not plain
 * integers of at most 15 digits (those are exact in float64 digit by digit).
 */
import { Ch, IS_DIGIT } from './byte-classes.js';

const MS_PER_DAY = 86_400_000;
const DAYS_IN_MONTH = new Uint8Array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]);

/**
 * Writes the epoch ms of the value in buf[start, end) to dst[0] and returns
 * true, or writes NaN and returns false when it is not a valid event time.
 * Results are finite and never -0 (-0 is folded into +0 so every
 * implementation stores the same bits). The result goes through a
 * Float64Array rather than a return value because a double returned from a
 * function that is not inlined is boxed: one heap allocation per record.
 */
export function parseEventTime(buf: Buffer, start: number, end: number, dst: Float64Array): boolean {
  const c = buf[start]!;
  let ok = false;
  if (c === Ch.QUOTE) ok = parseIsoTime(buf, start + 1, end - 1, dst);
  else if (c === Ch.MINUS || IS_DIGIT[c] === 1) ok = parseNumber(buf, start, end, dst);
  if (!ok) dst[0] = NaN;
  return ok;
}

/** `buf[start, end)` is a number already validated by the scanner. */
function parseNumber(buf: Buffer, start: number, end: number, dst: Float64Array): boolean {
  const neg = buf[start] === Ch.MINUS;
  let i = neg ? start + 1 : start;
  if (end - i <= 15) {
    let v = 0;
    while (i < end) {
      const d = buf[i]! - Ch.D0;
      if (d < 0 || d > 9) break;
      v = v * 10 + d;
      i++;
    }
    if (i === end) {
      dst[0] = (neg ? -v : v) + 0;
      return true;
    }
  }
  // JSON number syntax is a subset of Number()'s, and V8 rounds correctly.
  const v = Number(buf.toString('latin1', start, end));
  dst[0] = v + 0;
  return Number.isFinite(v);
}

/** Two ASCII digits at i, i+1 as a number, or -1. */
function d2(buf: Uint8Array, i: number): number {
  const a = buf[i]! - Ch.D0;
  const b = buf[i + 1]! - Ch.D0;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

function isLeap(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
export function daysFromCivil(y: number, m: number, d: number): number {
  if (m <= 2) y -= 1;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/**
 * String body buf[s, e) (quotes excluded) in the form
 * YYYY-MM-DD[(T|t| )HH:MM[:SS[.fraction]][Z|z|±HH:MM|±HHMM|±HH]].
 * A backslash anywhere fails the fixed layout, which rejects escaped strings.
 */
function parseIsoTime(buf: Uint8Array, s: number, e: number, dst: Float64Array): boolean {
  const n = e - s;
  if (n < 10) return false;
  const y1 = d2(buf, s);
  const y2 = d2(buf, s + 2);
  const y = y1 * 100 + y2;
  const mo = d2(buf, s + 5);
  const d = d2(buf, s + 8);
  if (y1 < 0 || y2 < 0 || buf[s + 4] !== Ch.MINUS || buf[s + 7] !== Ch.MINUS || mo < 1 || mo > 12 || d < 1) return false;
  if (d > (mo === 2 && isLeap(y) ? 29 : DAYS_IN_MONTH[mo]!)) return false;
  const days = daysFromCivil(y, mo, d);
  // Milliseconds since midnight minus the zone offset; small integers throughout.
  let ms = 0;
  if (n > 10) {
    const sep = buf[s + 10];
    if (n < 16 || (sep !== 0x54 && sep !== 0x74 && sep !== Ch.SPACE) || buf[s + 13] !== Ch.COLON) return false;
    const hh = d2(buf, s + 11);
    const mi = d2(buf, s + 14);
    if (hh < 0 || hh > 23 || mi < 0 || mi > 59) return false;
    ms = hh * 3_600_000 + mi * 60_000;
    let i = s + 16;
    if (i < e && buf[i] === Ch.COLON) {
      if (i + 3 > e) return false;
      const ss = d2(buf, i + 1);
      if (ss < 0 || ss > 59) return false;
      ms += ss * 1000;
      i += 3;
      if (i < e && buf[i] === Ch.DOT) {
        i++;
        // Whole milliseconds: the first three digits count, the rest are dropped.
        let frac = 0;
        let digits = 0;
        while (i < e && IS_DIGIT[buf[i]!] === 1) {
          if (digits < 3) frac = frac * 10 + (buf[i]! - Ch.D0);
          digits++;
          i++;
        }
        if (digits === 0) return false;
        ms += digits === 1 ? frac * 100 : digits === 2 ? frac * 10 : frac;
      }
    }
    const offsetMin = parseZone(buf, i, e);
    if (offsetMin === ZONE_INVALID) return false;
    ms -= offsetMin * 60_000;
  }
  dst[0] = days * MS_PER_DAY + ms + 0;
  return true;
}

const ZONE_INVALID = 1 << 30;

/** Zone designator filling buf[i, e) exactly: minutes east of UTC, or ZONE_INVALID. */
function parseZone(buf: Uint8Array, i: number, e: number): number {
  if (i === e) return 0;
  const c = buf[i];
  if (c === 0x5a || c === 0x7a) return i + 1 === e ? 0 : ZONE_INVALID;
  if (c !== Ch.PLUS && c !== Ch.MINUS) return ZONE_INVALID;
  const len = e - i - 1;
  if (len !== 2 && len !== 4 && len !== 5) return ZONE_INVALID;
  const oh = d2(buf, i + 1);
  let om = 0;
  if (len === 4) om = d2(buf, i + 3);
  else if (len === 5) om = buf[i + 3] === Ch.COLON ? d2(buf, i + 4) : -1;
  if (oh < 0 || oh > 23 || om < 0 || om > 59) return ZONE_INVALID;
  const m = oh * 60 + om;
  return c === Ch.MINUS ? -m : m;
}
