/*
 * Values written straight into COPY's text format, digit by digit into the
 * row buffer (no string per value): the key hash as a bigint and the event
 * time as a timestamptz, each exactly what the staging path's SQL computes
 * from the same numbers (batch-writer.ts), so a row written either way has
 * the same unique key and a copy is always caught.
 */

const US_PER_DAY = 86_400_000_000;
/** Microsecond counts a double holds exactly: event times from 1684 to 2255. */
const MAX_EXACT_US = 2 ** 53;
const DIGIT_0 = 0x30;

/** The last date written (`YYYY-MM-DD `): consecutive records mostly fall on the same day. */
let cachedDays = Number.NaN;
const cachedDate = new Uint8Array(11);

/** Scratch for the 16-bit limbs of a 64-bit magnitude (module-level: no allocation per value). */
const limbs = new Uint16Array(4);
const groups = new Uint16Array(5);

/** PostgreSQL's rint(): round half to even. */
function rint(x: number): number {
  const floor = Math.floor(x);
  const fraction = x - floor;
  if (fraction < 0.5) return floor;
  if (fraction > 0.5) return floor + 1;
  return floor % 2 === 0 ? floor : floor + 1;
}

function writeDigits(buf: Uint8Array, p: number, value: number, width: number): number {
  for (let i = width - 1; i >= 0; i--) {
    buf[p + i] = DIGIT_0 + (value % 10);
    value = Math.floor(value / 10);
  }
  return p + width;
}

/** The date of `days` since 1970-01-01 into cachedDate (H. Hinnant's civil-from-days, proleptic Gregorian). */
function cacheDate(days: number): void {
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  let p = writeDigits(cachedDate, 0, year, 4);
  cachedDate[p++] = 0x2d;
  p = writeDigits(cachedDate, p, month, 2);
  cachedDate[p++] = 0x2d;
  p = writeDigits(cachedDate, p, day, 2);
  cachedDate[p] = 0x20;
  cachedDays = days;
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
  let days = Math.floor(us / US_PER_DAY);
  let inDay = us - days * US_PER_DAY;
  // The division is rounded; the remainder, computed exactly, says if it went over.
  if (inDay < 0) {
    days--;
    inDay += US_PER_DAY;
  } else if (inDay >= US_PER_DAY) {
    days++;
    inDay -= US_PER_DAY;
  }
  if (days !== cachedDays) cacheDate(days);
  buf.set(cachedDate, p);
  p += cachedDate.length;
  const ms = Math.floor(inDay / 1000);
  p = writeDigits(buf, p, Math.floor(ms / 3_600_000), 2);
  buf[p++] = 0x3a;
  p = writeDigits(buf, p, Math.floor(ms / 60_000) % 60, 2);
  buf[p++] = 0x3a;
  p = writeDigits(buf, p, Math.floor(ms / 1000) % 60, 2);
  buf[p++] = 0x2e;
  p = writeDigits(buf, p, inDay % 1_000_000, 6);
  buf[p++] = 0x2b;
  buf[p++] = DIGIT_0;
  buf[p++] = DIGIT_0;
  return p;
}

/**
 * The signed 64-bit `(hi << 32) | (lo & 0xffffffff)` in decimal, as the
 * staging SQL builds key_hash from key_hi and key_lo.
 */
export function writeInt64(buf: Uint8Array, p: number, hi: number, lo: number): number {
  let h = hi >>> 0;
  let l = lo >>> 0;
  if (hi < 0) {
    // Two's complement: the magnitude is ~x + 1.
    buf[p++] = 0x2d;
    h = ~h >>> 0;
    l = ~l >>> 0;
    l = (l + 1) >>> 0;
    if (l === 0) h = (h + 1) >>> 0;
  }
  limbs[0] = h >>> 16;
  limbs[1] = h & 0xffff;
  limbs[2] = l >>> 16;
  limbs[3] = l & 0xffff;
  // Long division by 10,000, a group of four digits at a time, lowest first.
  let count = 0;
  do {
    let rem = 0;
    for (let i = 0; i < 4; i++) {
      const cur = rem * 65_536 + limbs[i]!;
      limbs[i] = Math.floor(cur / 10_000);
      rem = cur % 10_000;
    }
    groups[count++] = rem;
  } while (limbs[0]! | limbs[1]! | limbs[2]! | limbs[3]!);
  const top = groups[count - 1]!;
  const width = top >= 1000 ? 4 : top >= 100 ? 3 : top >= 10 ? 2 : 1;
  p = writeDigits(buf, p, top, width);
  for (let g = count - 2; g >= 0; g--) p = writeDigits(buf, p, groups[g]!, 4);
  return p;
}
