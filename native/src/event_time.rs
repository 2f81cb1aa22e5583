//! Event-time extraction (see contract.ts, "Event time").
//!
//! Input is the raw JSON text of an already validated value.

use std::cell::Cell;

/// Epoch milliseconds of a raw JSON value, or `None` when the value is not a
/// finite number nor an escape-free string in the accepted ISO-8601 subset.
pub fn parse_event_time(raw: &[u8]) -> Option<f64> {
    parse_event_time_with(raw, &Cell::new(DateCache::default()))
}

/// The day number of the last date `parse_iso_24` converted, keyed by the
/// date's text (`YYYY-MM-DD`): consecutive records of a stream mostly share
/// their date, and its checks and calendar arithmetic are then skipped.
#[derive(Clone, Copy, Default)]
pub struct DateCache {
    /// Bytes 0..8 of the date (never 0 once set: they hold a `-`).
    key0: u64,
    /// Bytes 8..10.
    key1: u16,
    days: i64,
}

/// `parse_event_time` with a date cache (same results).
#[inline]
pub fn parse_event_time_with(raw: &[u8], cache: &Cell<DateCache>) -> Option<f64> {
    match raw.first()? {
        b'-' | b'0'..=b'9' => {
            if let Some(v) = small_integer(raw) {
                return Some(v);
            }
            // Validated JSON number text is ASCII and a valid Rust float
            // literal; `parse` is correctly rounded.
            let s = std::str::from_utf8(raw).ok()?;
            let v: f64 = s.parse().ok()?;
            // `+ 0.0` folds -0 into +0 so every implementation stores the same bits.
            v.is_finite().then_some(v + 0.0)
        }
        b'"' => {
            let body = &raw[1..raw.len() - 1];
            if let Ok(s24) = <&[u8; 24]>::try_from(body) {
                if let Some(v) = parse_iso_24(s24, cache) {
                    return Some(v);
                }
            }
            parse_iso_general(body)
        }
        _ => None,
    }
}

/// A JSON integer of at most 15 digits, the shape of every epoch-ms
/// timestamp: below 2^53, so its f64 is exact and no float parsing is needed
/// (`str::from_utf8` + `f64::from_str` showed up in the profile of a `--once`
/// run; the gain was measured by hand on bench/data.ts's order data, whose
/// timestamps are integers: figures in bench/RESULTS.md). Anything else
/// (fraction, exponent, more digits): `None`.
#[inline]
fn small_integer(raw: &[u8]) -> Option<f64> {
    let (negative, body) = match raw {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, raw),
    };
    if body.is_empty() || body.len() > 15 {
        return None;
    }
    let mut v = 0u64;
    for &c in body {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (c - b'0') as u64;
    }
    let v = v as f64;
    // `+ 0.0`: -0 becomes +0, as in the float path.
    Some(if negative { -v + 0.0 } else { v })
}

#[inline]
fn digits(b: &[u8], at: usize, count: usize) -> Option<u32> {
    let s = b.get(at..at + count)?;
    let mut v = 0u32;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (c - b'0') as u32;
    }
    Some(v)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ => {
            if is_leap(y) {
                29
            } else {
                28
            }
        }
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
#[inline]
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The common `YYYY-MM-DDTHH:MM:SS.sssZ` (24 bytes, `Date#toISOString`)
/// checked and converted with a few word operations. `None` means "not this
/// exact form", and the caller falls back to the general parser (which then
/// decides, so a rejected date is rejected by the same code either way).
#[inline]
fn parse_iso_24(s: &[u8; 24], cache: &Cell<DateCache>) -> Option<f64> {
    let word = |k: usize| u64::from_le_bytes(s[k..k + 8].try_into().expect("8 bytes"));
    // Digit lanes (1) and separator lanes (0) of the three 8-byte words.
    const D0: u64 = 0x00FF_FF00_FFFF_FFFF; // YYYY-MM-
    const D1: u64 = 0xFFFF_00FF_FF00_FFFF; // DDTHH:MM
    const D2: u64 = 0x00FF_FFFF_00FF_FF00; // :SS.sssZ
    const SEP0: u64 = u64::from_le_bytes(*b"\0\0\0\0-\0\0-");
    const SEP1: u64 = u64::from_le_bytes(*b"\0\0T\0\0:\0\0");
    const SEP2: u64 = u64::from_le_bytes(*b":\0\0.\0\0\0Z");
    let (w0, w1, w2) = (word(0), word(8), word(16));
    // `T`/`t` and `Z`/`z` differ in bit 0x20 only: fold it away in those lanes.
    const CASE1: u64 = 0x20 << 16;
    const CASE2: u64 = 0x20 << 56;
    if w0 & !D0 != SEP0 || (w1 & !D1) & !CASE1 != SEP1 || (w2 & !D2) & !CASE2 != SEP2 {
        return None;
    }
    // XOR with '0' maps exactly the digits to 0..=9; a lane is a digit iff
    // neither its high nibble nor that of (lane + 6) is set (a lane >= 0xFA
    // that carries into its neighbour is flagged itself).
    let d = [
        (w0 ^ 0x3030_3030_3030_3030) & D0,
        (w1 ^ 0x3030_3030_3030_3030) & D1,
        (w2 ^ 0x3030_3030_3030_3030) & D2,
    ];
    let bad = |x: u64, m: u64| (x | x.wrapping_add(0x0606_0606_0606_0606 & m)) & 0xF0F0_F0F0_F0F0_F0F0 & m;
    if bad(d[0], D0) | bad(d[1], D1) | bad(d[2], D2) != 0 {
        return None;
    }
    let dg = |k: usize| (s[k] - b'0') as u32;
    let hour = dg(11) * 10 + dg(12);
    let minute = dg(14) * 10 + dg(15);
    let second = dg(17) * 10 + dg(18);
    let milli = dg(20) * 100 + dg(21) * 10 + dg(22);
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let c = cache.get();
    let days = if c.key0 == w0 && c.key1 == w1 as u16 {
        c.days
    } else {
        let year = dg(0) * 1000 + dg(1) * 100 + dg(2) * 10 + dg(3);
        let month = dg(5) * 10 + dg(6);
        let day = dg(8) * 10 + dg(9);
        if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year as i64, month) {
            return None;
        }
        let days = days_from_civil(year as i64, month, day);
        cache.set(DateCache {
            key0: w0,
            key1: w1 as u16,
            days,
        });
        days
    };
    let ms = days * 86_400_000 + ((hour * 60 + minute) * 60 + second) as i64 * 1000 + milli as i64;
    Some(ms as f64)
}

/// `YYYY-MM-DD` or `YYYY-MM-DD(T|t| )HH:MM[:SS[.fraction]][Z|z|±HH:MM|±HHMM|±HH]`.
pub fn parse_iso(s: &[u8]) -> Option<f64> {
    if let Ok(s24) = <&[u8; 24]>::try_from(s) {
        if let Some(v) = parse_iso_24(s24, &Cell::new(DateCache::default())) {
            return Some(v);
        }
    }
    parse_iso_general(s)
}

fn parse_iso_general(s: &[u8]) -> Option<f64> {
    let year = digits(s, 0, 4)? as i64;
    if s.get(4) != Some(&b'-') || s.get(7) != Some(&b'-') {
        return None;
    }
    let month = digits(s, 5, 2)?;
    let day = digits(s, 8, 2)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let mut ms = days_from_civil(year, month, day) * 86_400_000;
    if s.len() == 10 {
        return Some(ms as f64);
    }
    if !matches!(s[10], b'T' | b't' | b' ') {
        return None;
    }
    let hour = digits(s, 11, 2)?;
    if s.get(13) != Some(&b':') {
        return None;
    }
    let minute = digits(s, 14, 2)?;
    if hour > 23 || minute > 59 {
        return None;
    }
    ms += (hour as i64 * 60 + minute as i64) * 60_000;
    let mut i = 16;
    if s.get(i) == Some(&b':') {
        let second = digits(s, i + 1, 2)?;
        if second > 59 {
            return None;
        }
        ms += second as i64 * 1000;
        i += 3;
        if s.get(i) == Some(&b'.') {
            i += 1;
            let start = i;
            let mut frac = 0i64;
            while i < s.len() && s[i].is_ascii_digit() {
                if i - start < 3 {
                    frac = frac * 10 + (s[i] - b'0') as i64;
                }
                i += 1;
            }
            let n = i - start;
            if n == 0 {
                return None;
            }
            for _ in n..3 {
                frac *= 10;
            }
            ms += frac;
        }
    }
    if i == s.len() {
        return Some(ms as f64);
    }
    match s[i] {
        b'Z' | b'z' => (i + 1 == s.len()).then_some(ms as f64),
        sign @ (b'+' | b'-') => {
            let oh = digits(s, i + 1, 2)?;
            let rest = &s[i + 3..];
            let om = match rest.len() {
                0 => 0,
                2 => digits(rest, 0, 2)?,
                3 if rest[0] == b':' => digits(rest, 1, 2)?,
                _ => return None,
            };
            if oh > 23 || om > 59 {
                return None;
            }
            let off = (oh as i64 * 60 + om as i64) * 60_000;
            Some(if sign == b'+' { ms - off } else { ms + off } as f64)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(parse_event_time(b"1700000000000"), Some(1.7e12));
        assert_eq!(parse_event_time(b"-0").map(f64::to_bits), Some(0.0f64.to_bits()));
        assert_eq!(parse_event_time(b"-0.0e5").map(f64::to_bits), Some(0.0f64.to_bits()));
        assert_eq!(parse_event_time(b"1e400"), None);
        assert_eq!(parse_event_time(b"1e-400"), Some(0.0));
        assert_eq!(parse_event_time(b"null"), None);
        assert_eq!(parse_event_time(b"{}"), None);
    }

    /// The integer fast path gives the bits `f64::from_str` gives, for
    /// integers of every length up to and past its 15-digit limit.
    #[test]
    fn small_integers_agree_with_float_parsing() {
        let float = |s: &str| s.parse::<f64>().ok().map(|v| (v + 0.0).to_bits());
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        for len in 1..=18usize {
            for _ in 0..2_000 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let mut digits = format!("{seed}{seed}");
                digits.truncate(len);
                if len > 1 && digits.starts_with('0') {
                    digits.replace_range(..1, "1");
                }
                for text in [digits.clone(), format!("-{digits}")] {
                    let want = float(&text);
                    assert_eq!(parse_event_time(text.as_bytes()).map(f64::to_bits), want, "{text}");
                    if len <= 15 {
                        assert_eq!(small_integer(text.as_bytes()).map(f64::to_bits), want, "{text}");
                    } else {
                        assert_eq!(small_integer(text.as_bytes()), None, "{text}");
                    }
                }
            }
        }
        for edge in ["0", "-0", "999999999999999", "-999999999999999", "1000000000000000"] {
            assert_eq!(parse_event_time(edge.as_bytes()).map(f64::to_bits), float(edge), "{edge}");
        }
        assert_eq!(small_integer(b"-"), None);
        assert_eq!(small_integer(b"12.5"), None);
        assert_eq!(small_integer(b"1e3"), None);
    }

    #[test]
    fn iso() {
        let p = |s: &str| parse_event_time(format!("\"{s}\"").as_bytes());
        assert_eq!(p("1970-01-01"), Some(0.0));
        assert_eq!(p("2024-02-29"), Some(1_709_164_800_000.0));
        assert_eq!(p("2023-02-29"), None);
        assert_eq!(p("1900-02-29"), None);
        assert_eq!(p("2000-02-29"), Some(951_782_400_000.0));
        assert_eq!(p("2024-01-02T03:04"), Some(1_704_164_640_000.0));
        assert_eq!(p("2024-01-02t03:04:05.6789Z"), Some(1_704_164_645_678.0));
        assert_eq!(p("2024-01-02 03:04:05+01:00"), Some(1_704_164_645_000.0 - 3_600_000.0));
        assert_eq!(p("2024-01-02T03:04:05-0130"), Some(1_704_164_645_000.0 + 5_400_000.0));
        assert_eq!(p("2024-01-02T03:04:05+05"), Some(1_704_164_645_000.0 - 18_000_000.0));
        assert_eq!(p("2024-01-02T03:04:60Z"), None);
        assert_eq!(p("2024-01-02T24:00Z"), None);
        assert_eq!(p("2024-01-02T03:04.5Z"), None);
        assert_eq!(p("2024-01-02T03:04:05."), None);
        assert_eq!(p("2024-01-02Z"), None);
        assert_eq!(p("2024-1-02"), None);
        assert_eq!(p("0000-01-01"), Some(-62_167_219_200_000.0));
        assert_eq!(parse_event_time(br#""2024-01-02\u0054""#), None);
    }

    /// The 24-byte fast path agrees with the general parser on every single
    /// byte change of a few valid timestamps (and on the timestamps).
    #[test]
    fn iso_24_agrees_with_general() {
        // One cache for all cases: cached days must never leak into a different date.
        let cache = Cell::new(DateCache::default());
        let bases: [&[u8; 24]; 6] = [
            b"2024-11-25T00:00:00.000Z",
            b"2024-02-29t23:59:59.999z",
            b"1900-02-28T12:34:56.789Z",
            b"0000-01-01T00:00:00.000Z",
            b"9999-12-31T23:59:59.999Z",
            b"2023-02-29T00:00:00.000Z",
        ];
        let probes: Vec<u8> = (0u8..=255).collect();
        for base in bases {
            assert_eq!(
                parse_iso_24(base, &cache).map(f64::to_bits),
                parse_iso_general(base).map(f64::to_bits)
            );
            for k in 0..24 {
                for &c in &probes {
                    let mut s = *base;
                    s[k] = c;
                    let fast = parse_iso_24(&s, &cache);
                    if fast.is_some() {
                        assert_eq!(
                            fast.map(f64::to_bits),
                            parse_iso_general(&s).map(f64::to_bits),
                            "{}",
                            String::from_utf8_lossy(&s)
                        );
                    }
                    assert_eq!(parse_iso(&s).map(f64::to_bits), parse_iso_general(&s).map(f64::to_bits));
                }
            }
        }
        // Fields out of range in the digit lanes, two bytes at a time.
        for a in 0..100u32 {
            for k in [5usize, 8, 11, 14, 17] {
                let mut s = *b"2024-03-15T10:20:30.400Z";
                s[k] = b'0' + (a / 10) as u8;
                s[k + 1] = b'0' + (a % 10) as u8;
                assert_eq!(parse_iso(&s).map(f64::to_bits), parse_iso_general(&s).map(f64::to_bits));
            }
        }
    }
}
