//! The precise scalar scanner: decides every record exactly as the contract
//! says (first bad byte names the reason) and reports the top-level members.
//!
//! It is the source of truth. The SIMD fast path (`fast.rs`) only ever
//! *accepts* what this scanner accepts; whatever the fast path rejects is
//! re-scanned here to classify the reject reason (or to accept inputs the
//! SIMD crate is stricter about, such as `\uD800` lone surrogate escapes).
//!
//! The scanner is iterative (explicit depth counter, no recursion), so a
//! hostile record nested a million levels deep cannot overflow the stack.

use crate::contract::{
    is_ws, CONTROL_CHAR, INVALID_JSON, INVALID_UTF8, MAX_DEPTH, NOT_OBJECT, TOO_DEEP,
    TRAILING_GARBAGE,
};
use crate::utf8::multibyte_len;

/// Receives every member of the top-level object, in document order.
pub trait Members {
    /// `key` is the raw byte range between the quotes; `val` the raw value range.
    fn member(&mut self, rec: &[u8], key: (usize, usize), val: (usize, usize));
}

/// Outcome of scanning one (already trimmed) record: `Ok(())` for a valid
/// top-level object, else the reject status code.
pub type ScanResult = Result<(), i32>;

#[inline(always)]
fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && is_ws(b[i]) {
        i += 1;
    }
    i
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// Bit 7 of byte k is set when byte k of `w` is `"`, `\`, < 0x20 or >= 0x80.
/// Only the lowest flagged byte is exact (borrows may flag later bytes), which
/// is all the caller uses.
#[inline(always)]
fn special_mask(w: u64) -> u64 {
    let q = w ^ (LO * b'"' as u64);
    let s = w ^ (LO * b'\\' as u64);
    let has_q = q.wrapping_sub(LO) & !q;
    let has_s = s.wrapping_sub(LO) & !s;
    let has_ctl = w.wrapping_sub(LO * 0x20) & !w;
    (has_q | has_s | has_ctl | w) & HI
}

/// Scans a string body starting just after its opening quote; returns the
/// index just past the closing quote.
#[inline]
pub fn scan_string(b: &[u8], mut i: usize) -> Result<usize, i32> {
    let n = b.len();
    loop {
        // Plain ASCII fast skip, 8 bytes at a time.
        while i + 8 <= n {
            let w = u64::from_le_bytes([
                b[i],
                b[i + 1],
                b[i + 2],
                b[i + 3],
                b[i + 4],
                b[i + 5],
                b[i + 6],
                b[i + 7],
            ]);
            let m = special_mask(w);
            if m == 0 {
                i += 8;
            } else {
                i += (m.trailing_zeros() / 8) as usize;
                break;
            }
        }
        if i >= n {
            return Err(INVALID_JSON);
        }
        let c = b[i];
        match c {
            b'"' => return Ok(i + 1),
            b'\\' => {
                let Some(&e) = b.get(i + 1) else {
                    return Err(INVALID_JSON);
                };
                match e {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => i += 2,
                    b'u' => {
                        if i + 6 > n || !b[i + 2..i + 6].iter().all(u8::is_ascii_hexdigit) {
                            return Err(INVALID_JSON);
                        }
                        i += 6;
                    }
                    _ => return Err(INVALID_JSON),
                }
            }
            0x00..=0x1F => return Err(CONTROL_CHAR),
            0x20..=0x7F => i += 1,
            _ => match multibyte_len(b, i) {
                Some(len) => i += len,
                None => return Err(INVALID_UTF8),
            },
        }
    }
}

/// Scans a number starting at `b[i]` (`-` or a digit); returns its end.
#[inline]
pub fn scan_number(b: &[u8], mut i: usize) -> Result<usize, i32> {
    let n = b.len();
    let digit = |i: usize| i < n && b[i].is_ascii_digit();
    if b[i] == b'-' {
        i += 1;
    }
    if i >= n {
        return Err(INVALID_JSON);
    }
    match b[i] {
        b'0' => i += 1,
        b'1'..=b'9' => {
            i += 1;
            while digit(i) {
                i += 1;
            }
        }
        _ => return Err(INVALID_JSON),
    }
    if i < n && b[i] == b'.' {
        i += 1;
        if !digit(i) {
            return Err(INVALID_JSON);
        }
        while digit(i) {
            i += 1;
        }
    }
    if i < n && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < n && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        if !digit(i) {
            return Err(INVALID_JSON);
        }
        while digit(i) {
            i += 1;
        }
    }
    Ok(i)
}

#[inline]
fn scan_literal(b: &[u8], i: usize, lit: &[u8]) -> Result<usize, i32> {
    if b.len() - i >= lit.len() && &b[i..i + lit.len()] == lit {
        Ok(i + lit.len())
    } else {
        Err(INVALID_JSON)
    }
}

/// One bit per nesting level: set = object, clear = array.
struct KindStack {
    bits: [u64; MAX_DEPTH / 64 + 1],
}

impl KindStack {
    #[inline(always)]
    fn set(&mut self, depth: usize, is_object: bool) {
        let (w, bit) = (depth / 64, 1u64 << (depth % 64));
        if is_object {
            self.bits[w] |= bit;
        } else {
            self.bits[w] &= !bit;
        }
    }
    #[inline(always)]
    fn is_object(&self, depth: usize) -> bool {
        self.bits[depth / 64] & (1u64 << (depth % 64)) != 0
    }
}

enum Next {
    Value,
    Key,
    AfterValue,
}

/// Scans one JSON value starting at `b[start]` (no leading whitespace allowed
/// to matter: it is skipped). Returns the index just past the value.
/// Members of a top-level object are reported to `members`.
pub fn scan_value<M: Members>(b: &[u8], start: usize, members: &mut M) -> Result<usize, i32> {
    let n = b.len();
    let mut kinds = KindStack {
        bits: [0; MAX_DEPTH / 64 + 1],
    };
    let mut depth = 0usize;
    let mut i = skip_ws(b, start);
    let top_is_object = i < n && b[i] == b'{';
    let mut key = (0usize, 0usize);
    let mut val_start = 0usize;
    let mut next = Next::Value;
    loop {
        match next {
            Next::Value => {
                if i >= n {
                    return Err(INVALID_JSON);
                }
                match b[i] {
                    c @ (b'{' | b'[') => {
                        depth += 1;
                        if depth > MAX_DEPTH {
                            return Err(TOO_DEEP);
                        }
                        let obj = c == b'{';
                        kinds.set(depth, obj);
                        i = skip_ws(b, i + 1);
                        let close = if obj { b'}' } else { b']' };
                        if i < n && b[i] == close {
                            i += 1;
                            depth -= 1;
                            next = Next::AfterValue;
                        } else if obj {
                            next = Next::Key;
                        }
                    }
                    b'"' => {
                        i = scan_string(b, i + 1)?;
                        next = Next::AfterValue;
                    }
                    b'-' | b'0'..=b'9' => {
                        i = scan_number(b, i)?;
                        next = Next::AfterValue;
                    }
                    b't' => {
                        i = scan_literal(b, i, b"true")?;
                        next = Next::AfterValue;
                    }
                    b'f' => {
                        i = scan_literal(b, i, b"false")?;
                        next = Next::AfterValue;
                    }
                    b'n' => {
                        i = scan_literal(b, i, b"null")?;
                        next = Next::AfterValue;
                    }
                    _ => return Err(INVALID_JSON),
                }
            }
            Next::Key => {
                if i >= n || b[i] != b'"' {
                    return Err(INVALID_JSON);
                }
                let ks = i + 1;
                i = scan_string(b, ks)?;
                if depth == 1 {
                    key = (ks, i - 1);
                }
                i = skip_ws(b, i);
                if i >= n || b[i] != b':' {
                    return Err(INVALID_JSON);
                }
                i = skip_ws(b, i + 1);
                if depth == 1 {
                    val_start = i;
                }
                next = Next::Value;
            }
            Next::AfterValue => {
                if depth == 0 {
                    return Ok(i);
                }
                if depth == 1 && top_is_object {
                    members.member(b, key, (val_start, i));
                }
                i = skip_ws(b, i);
                if i >= n {
                    return Err(INVALID_JSON);
                }
                let c = b[i];
                if kinds.is_object(depth) {
                    if c == b',' {
                        i = skip_ws(b, i + 1);
                        next = Next::Key;
                    } else if c == b'}' {
                        i += 1;
                        depth -= 1;
                    } else {
                        return Err(INVALID_JSON);
                    }
                } else if c == b',' {
                    i = skip_ws(b, i + 1);
                    next = Next::Value;
                } else if c == b']' {
                    i += 1;
                    depth -= 1;
                } else {
                    return Err(INVALID_JSON);
                }
            }
        }
    }
}

/// Full decision for one trimmed record (steps 2-4 of the contract):
/// the value, then trailing garbage, then the object check.
pub fn scan_record<M: Members>(rec: &[u8], members: &mut M) -> ScanResult {
    let end = scan_value(rec, 0, members)?;
    if skip_ws(rec, end) < rec.len() {
        return Err(TRAILING_GARBAGE);
    }
    if rec.first() != Some(&b'{') {
        return Err(NOT_OBJECT);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::*;

    struct Collect(Vec<(Vec<u8>, Vec<u8>)>);
    impl Members for Collect {
        fn member(&mut self, rec: &[u8], k: (usize, usize), v: (usize, usize)) {
            self.0.push((rec[k.0..k.1].to_vec(), rec[v.0..v.1].to_vec()));
        }
    }

    fn status(s: &[u8]) -> i32 {
        match scan_record(s, &mut Collect(Vec::new())) {
            Ok(()) => 0,
            Err(e) => e,
        }
    }

    #[test]
    fn decisions() {
        assert_eq!(status(br#"{"a":1}"#), 0);
        assert_eq!(status(br#"{"a":"\uD800"}"#), 0);
        assert_eq!(status(br#"{"a":"\uZZZZ"}"#), INVALID_JSON);
        assert_eq!(status(b"{\"a\":\"\x01\"}"), CONTROL_CHAR);
        assert_eq!(status(b"{\"a\":\"\xC3\x28\"}"), INVALID_UTF8);
        assert_eq!(status(b"{\"a\":\"\xED\xA0\x80\"}"), INVALID_UTF8);
        assert_eq!(status(b"\xEF\xBB\xBF{}"), INVALID_JSON);
        assert_eq!(status(b"{} x"), TRAILING_GARBAGE);
        assert_eq!(status(b"[1]"), NOT_OBJECT);
        assert_eq!(status(b"{\"a\":01}"), INVALID_JSON);
        assert_eq!(status(b"{\"a\":-}"), INVALID_JSON);
        assert_eq!(status(b"{\"a\":1.}"), INVALID_JSON);
        assert_eq!(status(b"{\"a\":1e}"), INVALID_JSON);
        assert_eq!(status(b"{\"a\":tru}"), INVALID_JSON);
        assert_eq!(status(b"{\"a\":[1,]}"), INVALID_JSON);
        assert_eq!(status(b"{\"a\":1,}"), INVALID_JSON);
        let deep_ok = [b"{\"a\":".to_vec(), vec![b'['; 1023], vec![b']'; 1023], b"}".to_vec()].concat();
        assert_eq!(status(&deep_ok), 0);
        let deep_bad = [b"{\"a\":".to_vec(), vec![b'['; 1024], vec![b']'; 1024], b"}".to_vec()].concat();
        assert_eq!(status(&deep_bad), TOO_DEEP);
        assert_eq!(status(&vec![b'['; 1_000_000]), TOO_DEEP);
    }

    #[test]
    fn members_are_raw() {
        let mut c = Collect(Vec::new());
        scan_record(br#"{ "id" : "x\"y" , "\u0069d":{ "n" : [1, 2] },"t":12.5e3 }"#, &mut c).unwrap();
        let got: Vec<(String, String)> = c
            .0
            .iter()
            .map(|(k, v)| (String::from_utf8_lossy(k).into(), String::from_utf8_lossy(v).into()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("id".into(), r#""x\"y""#.into()),
                (r"\u0069d".into(), r#"{ "n" : [1, 2] }"#.into()),
                ("t".into(), "12.5e3".into()),
            ]
        );
    }
}
