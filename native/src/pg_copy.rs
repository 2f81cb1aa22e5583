//! The PostgreSQL sink's direct rows (COPY text in the table's own layout:
//! event_time, key_hash, the mapped columns, record) for a chunk's result
//! slots, in one call per chunk. The JS encoder (src/sinks/postgres/rows.ts,
//! mapped-values.ts, copy-text.ts) is the specification: every byte written
//! here is the byte it writes, and every value it leaves to the database
//! (the batch then takes the staging path) is left here too. The
//! differential test (test/postgres-row-encoding.test.ts) holds the two to it.
//!
//! Positions index the whole chunk, as the JS reads `src[i]` past a record's
//! end (its LF) where it tests a byte there: `at()` gives what such a read
//! sees, and nothing past the chunk is read.

use crate::contract::{KEYED, SLOT_WORDS, UNKEYED, W_HASH_HI, W_HASH_LO, W_LENGTH, W_OFFSET, W_STATUS};

/// A mapped column's type as far as writing it matters (mapped-values.ts putValue).
pub const COLUMN_OTHER: u8 = 0;
pub const COLUMN_NUMERIC: u8 = 1;
pub const COLUMN_JSONB: u8 = 2;

/// Float64 words per row written to `rows`: record start, row end, key hi (NaN: no key), key lo, event ms.
pub const ROW_WORDS: usize = 5;

const STATUS_CODE_MASK: i32 = 0xff;
const MAX_EXACT_US: f64 = 9_007_199_254_740_992.0;
const US_PER_SECOND: f64 = 1_000_000.0;

/// What one call did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Encoded {
    /// First slot not handled (`count` when all were; earlier when `out` had no room for the next row).
    pub next_slot: usize,
    /// End of what was written in `out`.
    pub end: usize,
    /// Rows written (ROW_WORDS each in `rows`).
    pub rows: usize,
    /// Every row so far has its columns (false: the batch takes the staging path; later rows hold only their record).
    pub complete: bool,
}

pub struct DirectRows {
    fields: Vec<Vec<u8>>,
    types: Vec<u8>,
    starts: Vec<isize>,
    ends: Vec<usize>,
    cached_second: f64,
    cached_text: [u8; 20],
}

#[inline(always)]
fn at(src: &[u8], i: usize) -> i32 {
    src.get(i).map_or(-1, |&b| b as i32)
}

#[inline(always)]
fn is_space(b: i32) -> bool {
    b == 0x20 || b == 0x09 || b == 0x0a || b == 0x0d
}

#[inline(always)]
fn skip_space(src: &[u8], mut i: usize, end: usize) -> usize {
    while i < end && is_space(src[i] as i32) {
        i += 1;
    }
    i
}

#[inline(always)]
fn put_copy_byte(buf: &mut [u8], p: usize, b: u8) -> usize {
    match b {
        b'\\' => {
            buf[p] = b'\\';
            buf[p + 1] = b'\\';
            p + 2
        }
        b'\t' | b'\n' | b'\r' => {
            buf[p] = b'\\';
            buf[p + 1] = match b {
                b'\t' => b't',
                b'\n' => b'n',
                _ => b'r',
            };
            p + 2
        }
        _ => {
            buf[p] = b;
            p + 1
        }
    }
}

fn copy_escaped(buf: &mut [u8], mut p: usize, src: &[u8]) -> usize {
    for &b in src {
        p = put_copy_byte(buf, p, b);
    }
    p
}

/// End (exclusive) of the string whose quote is at `i`, or None.
fn string_end(src: &[u8], i: usize, end: usize) -> Option<usize> {
    let mut j = i + 1;
    while j < end {
        let b = src[j];
        if b == b'\\' {
            j += 1;
        } else if b == b'"' {
            return Some(j + 1);
        }
        j += 1;
    }
    None
}

/// End (exclusive) of the JSON value starting at `i` (< end), or None when it is cut short.
fn value_end(src: &[u8], i: usize, end: usize) -> Option<usize> {
    let first = src[i];
    if first == b'"' {
        return string_end(src, i, end);
    }
    if first == b'{' || first == b'[' {
        let mut depth = 0i64;
        let mut j = i;
        while j < end {
            let b = src[j];
            if b == b'"' {
                j = string_end(src, j, end)? - 1;
            } else if b == b'{' || b == b'[' {
                depth += 1;
            } else if b == b'}' || b == b']' {
                depth -= 1;
                if depth == 0 {
                    return Some(j + 1);
                }
            }
            j += 1;
        }
        return None;
    }
    let mut j = i;
    while j < end {
        let b = src[j];
        if b == b',' || b == b'}' || b == b']' || is_space(b as i32) {
            break;
        }
        j += 1;
    }
    (j > i).then_some(j)
}

fn hex4(src: &[u8], i: usize, end: usize) -> i64 {
    if i + 4 > end {
        return -1;
    }
    let mut v = 0i64;
    for k in 0..4 {
        let b = src[i + k];
        let d = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - 0x57,
            b'A'..=b'F' => b - 0x37,
            _ => return -1,
        };
        v = v * 16 + d as i64;
    }
    v
}

fn put_code_point(buf: &mut [u8], mut p: usize, cp: u32) -> usize {
    if cp < 0x80 {
        return put_copy_byte(buf, p, cp as u8);
    }
    if cp < 0x800 {
        buf[p] = (0xc0 | (cp >> 6)) as u8;
        p += 1;
    } else if cp < 0x10000 {
        buf[p] = (0xe0 | (cp >> 12)) as u8;
        buf[p + 1] = (0x80 | ((cp >> 6) & 0x3f)) as u8;
        p += 2;
    } else {
        buf[p] = (0xf0 | (cp >> 18)) as u8;
        buf[p + 1] = (0x80 | ((cp >> 12) & 0x3f)) as u8;
        buf[p + 2] = (0x80 | ((cp >> 6) & 0x3f)) as u8;
        p += 3;
    }
    buf[p] = (0x80 | (cp & 0x3f)) as u8;
    p + 1
}

/// The string [from, to) (quotes included) unescaped into COPY text, or None.
fn put_unescaped(buf: &mut [u8], mut p: usize, src: &[u8], from: usize, to: usize) -> Option<usize> {
    let last = to - 1;
    let mut i = from + 1;
    while i < last {
        let b = src[i];
        if b != b'\\' {
            p = put_copy_byte(buf, p, b);
            i += 1;
            continue;
        }
        i += 1;
        let e = at(src, i);
        if e == b'"' as i32 || e == b'\\' as i32 || e == b'/' as i32 {
            p = put_copy_byte(buf, p, e as u8);
        } else if e == b'b' as i32 {
            buf[p] = 0x08;
            p += 1;
        } else if e == b'f' as i32 {
            buf[p] = 0x0c;
            p += 1;
        } else if e == b'n' as i32 {
            p = put_copy_byte(buf, p, b'\n');
        } else if e == b'r' as i32 {
            p = put_copy_byte(buf, p, b'\r');
        } else if e == b't' as i32 {
            p = put_copy_byte(buf, p, b'\t');
        } else if e == b'u' as i32 {
            let mut cp = hex4(src, i + 1, last);
            if cp <= 0 {
                return None;
            }
            i += 4;
            if (0xdc00..=0xdfff).contains(&cp) {
                return None;
            }
            if (0xd800..=0xdbff).contains(&cp) {
                if at(src, i + 1) != b'\\' as i32 || at(src, i + 2) != b'u' as i32 {
                    return None;
                }
                let low = hex4(src, i + 3, last);
                if !(0xdc00..=0xdfff).contains(&low) {
                    return None;
                }
                cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
                i += 6;
            }
            p = put_code_point(buf, p, cp as u32);
        } else {
            return None;
        }
        i += 1;
    }
    Some(p)
}

/// A JSON number whose text PostgreSQL's numeric output would write back differently (1e2 → 100, -0 → 0).
fn rewritten_by_jsonb(src: &[u8], from: usize, to: usize) -> bool {
    let mut zero = true;
    for &b in &src[from..to] {
        if b == b'e' || b == b'E' {
            return true;
        }
        if (b'1'..=b'9').contains(&b) {
            zero = false;
        }
    }
    zero && src[from] == b'-'
}

fn put_value(buf: &mut [u8], mut p: usize, kind: u8, src: &[u8], from: usize, to: usize) -> Option<usize> {
    if kind == COLUMN_JSONB {
        return Some(copy_escaped(buf, p, &src[from..to]));
    }
    let first = src[from];
    if to - from == 4 && first == b'n' {
        buf[p] = b'\\';
        buf[p + 1] = b'N';
        p += 2;
        return Some(p);
    }
    if first == b'"' {
        return put_unescaped(buf, p, src, from, to);
    }
    if first == b'{' || first == b'[' {
        return None;
    }
    if (first == b'-' || first.is_ascii_digit()) && kind != COLUMN_NUMERIC && rewritten_by_jsonb(src, from, to) {
        return None;
    }
    Some(copy_escaped(buf, p, &src[from..to]))
}

/// `value` (non-negative, below 10^width) in `width` digits, zero-padded.
#[inline(always)]
fn put_digits(buf: &mut [u8], p: usize, mut value: u64, width: usize) -> usize {
    for i in (0..width).rev() {
        buf[p + i] = b'0' + (value % 10) as u8;
        value /= 10;
    }
    p + width
}

/// The signed 64-bit `(hi << 32) | (lo as u32)` in decimal (copy-text.ts writeInt64).
fn put_int64(buf: &mut [u8], mut p: usize, hi: i32, lo: i32) -> usize {
    let v = ((hi as i64) << 32) | (lo as u32 as i64);
    if v < 0 {
        buf[p] = b'-';
        p += 1;
    }
    let m = v.unsigned_abs();
    let mut width = 1;
    let mut rest = m;
    while rest >= 10 {
        rest /= 10;
        width += 1;
    }
    put_digits(buf, p, m, width)
}

/// PostgreSQL's rint(): round half to even (copy-text.ts rint).
#[inline(always)]
fn rint(x: f64) -> f64 {
    x.round_ties_even()
}

impl DirectRows {
    /// `fields`: each mapped column's JSON field (UTF-8); `types`: COLUMN_* per column.
    pub fn new(fields: Vec<Vec<u8>>, types: Vec<u8>) -> Self {
        let n = fields.len();
        DirectRows { fields, types, starts: vec![-1; n], ends: vec![0; n], cached_second: f64::NAN, cached_text: [0; 20] }
    }

    /// Bytes a row of a record of `length` bytes may take at most (rows.ts directRow's reserve).
    pub fn room_for(&self, length: usize) -> usize {
        let count = self.fields.len();
        length * 2 * (count + 1) + 8 * count + 80
    }

    /// `second` (since 1970-01-01, an integer) as `YYYY-MM-DD HH:MM:SS.` (copy-text.ts cacheSecond).
    fn cache_second(&mut self, second: f64) {
        let s = second as i64;
        let days = s.div_euclid(86_400);
        let in_day = s - days * 86_400;
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + if month <= 2 { 1 } else { 0 };
        let t = &mut self.cached_text;
        let mut p = put_digits(t, 0, year as u64, 4);
        t[p] = b'-';
        p = put_digits(t, p + 1, month as u64, 2);
        t[p] = b'-';
        p = put_digits(t, p + 1, day as u64, 2);
        t[p] = b' ';
        p = put_digits(t, p + 1, (in_day / 3600) as u64, 2);
        t[p] = b':';
        p = put_digits(t, p + 1, ((in_day / 60) % 60) as u64, 2);
        t[p] = b':';
        p = put_digits(t, p + 1, (in_day % 60) as u64, 2);
        t[p] = b'.';
        self.cached_second = second;
    }

    /// `timestamptz 'epoch' + eventMs * interval '1 millisecond'` as COPY text, or None outside 1685–2255.
    fn put_timestamptz(&mut self, buf: &mut [u8], p: usize, event_ms: f64) -> Option<usize> {
        let us = rint(1000.0 * event_ms);
        // NaN and the infinities fail this too.
        if us.is_nan() || us.abs() >= MAX_EXACT_US {
            return None;
        }
        let mut second = (us / US_PER_SECOND).floor();
        let mut micros = us - second * US_PER_SECOND;
        let carry = if micros < 0.0 {
            -1.0
        } else if micros >= US_PER_SECOND {
            1.0
        } else {
            0.0
        };
        second += carry;
        micros -= carry * US_PER_SECOND;
        if second != self.cached_second {
            self.cache_second(second);
        }
        buf[p..p + 20].copy_from_slice(&self.cached_text);
        let mut q = put_digits(buf, p + 20, micros as u64, 6);
        buf[q] = b'+';
        buf[q + 1] = b'0';
        buf[q + 2] = b'0';
        q += 3;
        Some(q)
    }

    /// The spans of the mapped fields among the record's top-level members; false when it cannot be read here.
    fn find(&mut self, src: &[u8], start: usize, end: usize) -> bool {
        self.starts.fill(-1);
        let mut i = skip_space(src, start, end);
        if at(src, i) != b'{' as i32 {
            return false;
        }
        i = skip_space(src, i + 1, end);
        if at(src, i) == b'}' as i32 {
            return true;
        }
        loop {
            if i >= end || src[i] != b'"' {
                return false;
            }
            let key_start = i + 1;
            let mut key_end = key_start;
            while key_end < end && src[key_end] != b'"' {
                if src[key_end] == b'\\' {
                    return false;
                }
                key_end += 1;
            }
            if key_end >= end {
                return false;
            }
            i = skip_space(src, key_end + 1, end);
            if at(src, i) != b':' as i32 {
                return false;
            }
            i = skip_space(src, i + 1, end);
            if i >= end {
                return false;
            }
            let value_start = i;
            let Some(value_stop) = value_end(src, i, end) else {
                return false;
            };
            let key = &src[key_start..key_end];
            for c in 0..self.fields.len() {
                // Later duplicates overwrite earlier ones: jsonb keeps the last.
                if self.fields[c] == key {
                    self.starts[c] = value_start as isize;
                    self.ends[c] = value_stop;
                }
            }
            i = skip_space(src, value_stop, end);
            let b = at(src, i);
            if b == b'}' as i32 {
                return true;
            }
            if b != b',' as i32 {
                return false;
            }
            i = skip_space(src, i + 1, end);
        }
    }

    /// `value\t` per mapped column (mapped-values.ts write), or None when a value is left to the database.
    fn put_columns(&mut self, buf: &mut [u8], mut p: usize, src: &[u8], start: usize, end: usize) -> Option<usize> {
        if !self.find(src, start, end) {
            return None;
        }
        for c in 0..self.types.len() {
            let from = self.starts[c];
            if from < 0 {
                buf[p] = b'\\';
                buf[p + 1] = b'N';
                p += 2;
            } else {
                p = put_value(buf, p, self.types[c], src, from as usize, self.ends[c])?;
            }
            buf[p] = b'\t';
            p += 1;
        }
        Some(p)
    }

    /// Rows for the accepted slots of `slots[first, count)` (records of `src`) into `out` from `end`
    /// (rows.ts directRow, one per KEYED or UNKEYED slot); `plain`: no record of `src` holds a byte
    /// COPY escapes (backslash, tab, CR). Stops before a row `out` has no room for.
    #[allow(clippy::too_many_arguments)]
    pub fn encode(&mut self, src: &[u8], slots: &[i32], first: usize, count: usize, arrival_ms: f64, plain: bool, complete: bool, out: &mut [u8], end: usize, rows: &mut [f64]) -> Encoded {
        let mut q = end;
        let mut complete = complete;
        let mut written = 0;
        for s in first..count {
            let w = s * SLOT_WORDS;
            let code = slots[w + W_STATUS] & STATUS_CODE_MASK;
            if code != KEYED && code != UNKEYED {
                continue;
            }
            let offset = slots[w + W_OFFSET] as usize;
            let length = slots[w + W_LENGTH] as usize;
            if out.len() - q < self.room_for(length) || rows.len() < (written + 1) * ROW_WORDS {
                return Encoded { next_slot: s, end: q, rows: written, complete };
            }
            let bits = (slots[w] as u32 as u64) | ((slots[w + 1] as u32 as u64) << 32);
            let t = f64::from_bits(bits);
            let event_ms = if t.is_nan() { arrival_ms } else { t };
            let keyed = code == KEYED;
            let (hi, lo) = (slots[w + W_HASH_HI], slots[w + W_HASH_LO]);
            let row_start = q;
            if complete {
                let columns = self.put_timestamptz(out, q, event_ms).and_then(|mut p| {
                    out[p] = b'\t';
                    p += 1;
                    if keyed {
                        p = put_int64(out, p, hi, lo);
                    } else {
                        out[p] = b'\\';
                        out[p + 1] = b'N';
                        p += 2;
                    }
                    out[p] = b'\t';
                    p += 1;
                    self.put_columns(out, p, src, offset, offset + length)
                });
                match columns {
                    Some(p) => q = p,
                    None => {
                        // Left to the database: this batch takes the staging path, which needs only the record.
                        complete = false;
                        q = row_start;
                    }
                }
            }
            let record_start = q;
            let record = &src[offset..offset + length];
            if plain {
                out[q..q + length].copy_from_slice(record);
                q += length;
            } else {
                q = copy_escaped(out, q, record);
            }
            out[q] = b'\n';
            q += 1;
            let r = written * ROW_WORDS;
            rows[r] = record_start as f64;
            rows[r + 1] = q as f64;
            rows[r + 2] = if keyed { hi as f64 } else { f64::NAN };
            rows[r + 3] = lo as f64;
            rows[r + 4] = event_ms;
            written += 1;
        }
        Encoded { next_slot: count, end: q, rows: written, complete }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timestamptz(ms: f64) -> Option<String> {
        let mut d = DirectRows::new(vec![], vec![]);
        let mut buf = [0u8; 64];
        d.put_timestamptz(&mut buf, 0, ms).map(|n| String::from_utf8(buf[..n].to_vec()).unwrap())
    }

    #[test]
    fn timestamptz_text() {
        assert_eq!(timestamptz(0.0).unwrap(), "1970-01-01 00:00:00.000000+00");
        assert_eq!(timestamptz(1_764_806_400_123.0).unwrap(), "2025-12-04 00:00:00.123000+00");
        assert_eq!(timestamptz(-1.0).unwrap(), "1969-12-31 23:59:59.999000+00");
        // Half to even at the microsecond: 2.5 µs → 2.
        assert_eq!(timestamptz(0.0025).unwrap(), "1970-01-01 00:00:00.000002+00");
        assert!(timestamptz(f64::NAN).is_none());
        assert!(timestamptz(1e16).is_none());
    }

    #[test]
    fn int64_text() {
        let s = |hi, lo| {
            let mut buf = [0u8; 32];
            let n = put_int64(&mut buf, 0, hi, lo);
            String::from_utf8(buf[..n].to_vec()).unwrap()
        };
        assert_eq!(s(0, 0), "0");
        assert_eq!(s(-1, -1), "-1");
        assert_eq!(s(i32::MIN, 0), i64::MIN.to_string());
        assert_eq!(s(i32::MAX, -1), i64::MAX.to_string());
        assert_eq!(s(1, 5), (4_294_967_301i64).to_string());
    }
}
