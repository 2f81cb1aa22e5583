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
    is_ws, CONTROL_CHAR, INVALID_JSON, INVALID_UTF8, MAX_DEPTH, NOT_OBJECT, TOO_DEEP, TRAILING_GARBAGE,
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

/// For the 16 bytes from `i`: (bit k set when byte `i + k` is `"`, `\\`,
/// < 0x20 or >= 0x80; bit k set when it is `"`; bit k set when it is
/// >= 0x80). Bytes past `b.len()` read as 0x00: special, never a quote.
#[inline(always)]
fn special16(b: &[u8], i: usize) -> (u32, u32, u32) {
    if i + 16 <= b.len() {
        special16_full(&b[i..i + 16])
    } else {
        let mut tail = [0u8; 16];
        let rest = &b[i.min(b.len())..];
        tail[..rest.len()].copy_from_slice(rest);
        special16_full(&tail)
    }
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn special16_full(w: &[u8]) -> (u32, u32, u32) {
    use std::arch::x86_64::*;
    debug_assert!(w.len() >= 16);
    // SAFETY: `w` has at least 16 readable bytes (unaligned load is allowed);
    // SSE2 is part of the x86_64 baseline, so these intrinsics always exist.
    unsafe {
        let v = _mm_loadu_si128(w.as_ptr() as *const __m128i);
        let q = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
        let s = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
        // unsigned v <= 0x1F  <=>  max(v, 0x1F) == 0x1F
        let lim = _mm_set1_epi8(0x1F);
        let c = _mm_cmpeq_epi8(_mm_max_epu8(v, lim), lim);
        // `v` itself contributes its high bit: bytes >= 0x80.
        let special = _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(q, s), _mm_or_si128(c, v))) as u32;
        (special, _mm_movemask_epi8(q) as u32, _mm_movemask_epi8(v) as u32)
    }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn special16_full(w: &[u8]) -> (u32, u32, u32) {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let word = |k: usize| {
        let x = u64::from_le_bytes(w[k..k + 8].try_into().expect("8 bytes"));
        let q = x ^ (LO * b'"' as u64);
        let s = x ^ (LO * b'\\' as u64);
        let m = ((q.wrapping_sub(LO) & !q) | (s.wrapping_sub(LO) & !s) | (x.wrapping_sub(LO * 0x20) & !x) | x) & HI;
        // Only the lowest flagged byte is exact (borrows); keep just that one.
        if m == 0 {
            0u32
        } else {
            1u32 << (m.trailing_zeros() / 8)
        }
    };
    let lo = word(0);
    let m = if lo != 0 { lo } else { word(8) << 8 };
    // `m` has at most its lowest special byte set; tell whether it is a quote.
    let q = if m != 0 && w[m.trailing_zeros() as usize] == b'"' {
        m
    } else {
        0
    };
    let mut high = 0u32;
    for (k, &c) in w[..16].iter().enumerate() {
        high |= ((c >> 7) as u32) << k;
    }
    (m, q, high)
}

/// Whether the rest of the record is already known to be valid UTF-8.
///
/// Text-heavy records put a multi-byte character every few dozen bytes; rather
/// than stopping at each one, the first time a string meets a byte >= 0x80
/// the whole remainder of the record is validated at once (simdutf8, SIMD).
/// If it is valid, no UTF-8 error can occur later in this record, so strings
/// stop only at quotes, backslashes and control bytes from then on and every
/// decision is unchanged. If it is not, the precise per-character check goes
/// on (it must find which error comes first).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Utf8 {
    Unknown,
    ValidToEnd,
    CheckEach,
}

/// Remainders shorter than this are checked character by character.
const BULK_UTF8_MIN: usize = 64;

/// How the scanner gets past a string body: `Plain` reads and checks the
/// bytes; `Indexed` takes the closing quote from a precomputed quote bitmap
/// (only for records known to hold no backslash, no control byte and only
/// valid UTF-8, where the body needs no check at all).
pub trait Strings: Copy {
    /// `i` is just past an opening quote; returns the index just past the
    /// closing quote.
    fn string(&mut self, b: &[u8], i: usize) -> Result<usize, i32>;
}

/// Byte-by-byte (16 at a time) string scanning with full checks.
#[derive(Clone, Copy)]
pub struct Plain(pub Utf8);

impl Strings for Plain {
    #[inline(always)]
    fn string(&mut self, b: &[u8], i: usize) -> Result<usize, i32> {
        scan_string(b, i, &mut self.0)
    }
}

/// Returned (as an error) by `Indexed` scanning if the quote bitmap has no
/// bit left for an opening quote the scanner met (it cannot, see `Indexed`):
/// the caller then re-decides the record with `Plain` scanning. Never a
/// contract status.
pub const REDO: i32 = i32::MIN;

/// Strings of a *clean* record (see `crate::index`): every `"` in it is a
/// string delimiter, so the scanner, which meets the opening quotes in order,
/// pops two bits per string (opening and closing quote) instead of reading
/// the body. The position chain then runs through a bit-clear (1 cycle)
/// rather than a load + compare + bit scan per string.
///
/// Only `base` and `w` change while scanning, two registers in the hot loop
/// (the word slice is read-only; the remainder slice it replaces made four
/// words of mutable state, which the top-level loop kept on the stack).
#[derive(Clone, Copy)]
pub struct Indexed<'q> {
    /// The whole bitmap.
    words: &'q [u64],
    /// Record offset of the current word's bit 0.
    base: usize,
    /// Unconsumed quote bits of the current word.
    w: u64,
}

impl<'q> Indexed<'q> {
    /// `words`: bit k of `words[k / 64]` set iff byte k of the record is `"`,
    /// no bits at or past the record's end.
    #[inline(always)]
    pub fn new(words: &'q [u64]) -> Self {
        Indexed {
            words,
            base: 0,
            w: words.first().copied().unwrap_or(0),
        }
    }

    #[inline(always)]
    fn pop(&mut self) -> Option<usize> {
        while self.w == 0 {
            // Past the last word `base` keeps growing with every call, but
            // every call from then on returns `None` (the record ends).
            self.base += 64;
            self.w = *self.words.get(self.base / 64)?;
        }
        let t = self.w.trailing_zeros() as usize;
        self.w &= self.w - 1;
        Some(self.base + t)
    }
}

impl Strings for Indexed<'_> {
    #[inline(always)]
    fn string(&mut self, _b: &[u8], _i: usize) -> Result<usize, i32> {
        // The opening quote at `_i - 1` is the lowest unconsumed bit, so it
        // is dropped without comparing its position (that compare was a
        // branch on every string; without it small orders are faster: files
        // bench, figures in bench/RESULTS.md): outside strings
        // the scanner reads every byte, and none it accepts there (white
        // space, punctuation, number and literal bytes) is a `"`, so every
        // quote before `_i - 1` was consumed as some string's opening or
        // closing quote. (The Rust fuzz test and the JS differential test
        // compare these decisions with the plain scanner's.) Both quotes in
        // the current word, the common case: one branch.
        let rest = self.w & self.w.wrapping_sub(1);
        if rest != 0 {
            let close = self.base + rest.trailing_zeros() as usize;
            self.w = rest & (rest - 1);
            return Ok(close + 1);
        }
        self.string_across_words()
    }
}

impl Indexed<'_> {
    /// `string` when the opening or the closing quote is in a later word.
    /// (Inlined: a call would take the state's address and keep it in
    /// memory.)
    #[inline(always)]
    fn string_across_words(&mut self) -> Result<usize, i32> {
        if self.pop().is_none() {
            return Err(REDO);
        }
        // A clean record's body has no byte the contract could reject: the
        // string ends at the next quote, or (none left) runs off the
        // record, which `string_special` calls INVALID_JSON.
        match self.pop() {
            Some(close) => Ok(close + 1),
            None => Err(INVALID_JSON),
        }
    }
}

/// Scans a string body starting just after its opening quote; returns the
/// index just past the closing quote.
#[inline(always)]
pub fn scan_string(b: &[u8], mut i: usize, u: &mut Utf8) -> Result<usize, i32> {
    loop {
        let (mut m, q, high) = special16(b, i);
        if *u == Utf8::ValidToEnd {
            m &= !high;
        }
        if m == 0 {
            i += 16;
            continue;
        }
        let first = m & m.wrapping_neg();
        i += m.trailing_zeros() as usize;
        if q & first != 0 {
            return Ok(i + 1);
        }
        i = string_special(b, i, u)?;
    }
}

/// The byte at `i` is not plain ASCII (or `i` is the end): an escape, a
/// control byte, a multi-byte UTF-8 sequence, or a truncated string.
#[inline(never)]
fn string_special(b: &[u8], i: usize, u: &mut Utf8) -> Result<usize, i32> {
    let n = b.len();
    if i >= n {
        return Err(INVALID_JSON);
    }
    match b[i] {
        b'\\' => {
            let Some(&e) = b.get(i + 1) else {
                return Err(INVALID_JSON);
            };
            match e {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Ok(i + 2),
                b'u' => {
                    if i + 6 > n || !b[i + 2..i + 6].iter().all(u8::is_ascii_hexdigit) {
                        return Err(INVALID_JSON);
                    }
                    Ok(i + 6)
                }
                _ => Err(INVALID_JSON),
            }
        }
        0x00..=0x1F => Err(CONTROL_CHAR),
        _ => {
            if *u == Utf8::Unknown && b.len() - i >= BULK_UTF8_MIN {
                if simdutf8::basic::from_utf8(&b[i..]).is_ok() {
                    *u = Utf8::ValidToEnd;
                    // Still inside the string: the caller rescans from here
                    // with bytes >= 0x80 no longer special.
                    return Ok(i);
                }
                *u = Utf8::CheckEach;
            }
            match multibyte_len(b, i) {
                Some(len) => Ok(i + len),
                None => Err(INVALID_UTF8),
            }
        }
    }
}

/// Index of the first non-digit at or after `i` (or `b.len()`), 8 bytes at a time.
#[inline(always)]
fn skip_digits(b: &[u8], mut i: usize) -> usize {
    while i + 8 <= b.len() {
        let w = u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));
        // A byte is a digit iff (x - 0x30) < 10: no borrow out of 0x30 and
        // adding 0x46 (0x80 - 10) does not reach the high bit.
        let t = w.wrapping_sub(0x3030_3030_3030_3030);
        let non_digit = (w | t.wrapping_add(0x7676_7676_7676_7676) | t) & 0x8080_8080_8080_8080;
        if non_digit != 0 {
            return i + (non_digit.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    i
}

/// Scans a number starting at `b[i]` (`-` or a digit); returns its end.
#[inline(always)]
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
        b'1'..=b'9' => i = skip_digits(b, i + 1),
        _ => return Err(INVALID_JSON),
    }
    if i < n && b[i] == b'.' {
        i += 1;
        if !digit(i) {
            return Err(INVALID_JSON);
        }
        i = skip_digits(b, i + 1);
    }
    if i < n && (b[i] | 0x20) == b'e' {
        i += 1;
        if i < n && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        if !digit(i) {
            return Err(INVALID_JSON);
        }
        i = skip_digits(b, i + 1);
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

/// One bit per nesting level: set = object, clear = array. The first 64
/// levels live in a register; deeper ones (hostile input) in a vector that is
/// only allocated when reached.
struct KindStack {
    shallow: u64,
    deep: Vec<u64>,
}

impl KindStack {
    #[inline(always)]
    fn new() -> Self {
        KindStack {
            shallow: 0,
            deep: Vec::new(),
        }
    }
    #[inline(always)]
    fn set(&mut self, depth: usize, is_object: bool) {
        if depth < 64 {
            let bit = 1u64 << depth;
            self.shallow = if is_object {
                self.shallow | bit
            } else {
                self.shallow & !bit
            };
        } else {
            self.set_deep(depth, is_object);
        }
    }
    #[cold]
    fn set_deep(&mut self, depth: usize, is_object: bool) {
        let w = depth / 64 - 1;
        if self.deep.len() <= w {
            self.deep.resize(w + 1, 0);
        }
        let bit = 1u64 << (depth % 64);
        if is_object {
            self.deep[w] |= bit;
        } else {
            self.deep[w] &= !bit;
        }
    }
    #[inline(always)]
    fn is_object(&self, depth: usize) -> bool {
        if depth < 64 {
            self.shallow & (1u64 << depth) != 0
        } else {
            self.deep[depth / 64 - 1] & (1u64 << (depth % 64)) != 0
        }
    }
}

/// Scans one JSON value starting at `b[start]` (leading whitespace skipped).
/// Returns the index just past the value. Members of a top-level object are
/// reported to `members`.
#[inline]
pub fn scan_value<M: Members>(b: &[u8], start: usize, members: &mut M) -> Result<usize, i32> {
    scan_value_with(b, start, members, &mut Plain(Utf8::Unknown))
}

/// `scan_value` with the given string scanning.
#[inline]
pub fn scan_value_with<M: Members, S: Strings>(
    b: &[u8],
    start: usize,
    members: &mut M,
    u: &mut S,
) -> Result<usize, i32> {
    let i = skip_ws(b, start);
    if i < b.len() && b[i] == b'{' {
        scan_top_object(b, i, members, u)
    } else {
        scan_nested(b, i, 0, u)
    }
}

#[inline(always)]
fn skip_ws_fast(b: &[u8], i: usize) -> usize {
    // Compact JSON: the next byte is usually not whitespace.
    if i < b.len() && !is_ws(b[i]) {
        i
    } else {
        skip_ws(b, i)
    }
}

/// Index of `c` when it is the first non-whitespace byte at or after `i`,
/// else INVALID_JSON. Compact JSON has `c` right at `i`: one compare and a
/// branch not taken, where "skip whitespace, then compare" cost two branches
/// (one of them taken) per structural byte; whitespace goes out of line.
/// (With `after_value` and whitespace skipped inside the value dispatch,
/// small orders are faster: files bench, figures in bench/RESULTS.md.)
#[inline(always)]
fn expect(b: &[u8], i: usize, c: u8) -> Result<usize, i32> {
    if i < b.len() && b[i] == c {
        Ok(i)
    } else {
        expect_after_ws(b, i, c)
    }
}

#[cold]
#[inline(never)]
fn expect_after_ws(b: &[u8], i: usize, c: u8) -> Result<usize, i32> {
    let i = skip_ws(b, i);
    if i < b.len() && b[i] == c {
        Ok(i)
    } else {
        Err(INVALID_JSON)
    }
}

/// After a value inside a container closed by `close`: `Ok(Some(k))` when
/// the next non-whitespace byte is a `,` at `k`, `Ok(None)` with `*i` set
/// just past the closer, else INVALID_JSON. The compact case is one or two
/// compares; whitespace goes out of line.
#[inline(always)]
fn after_value(b: &[u8], i: &mut usize, close: u8) -> Result<Option<usize>, i32> {
    match b.get(*i) {
        Some(b',') => Ok(Some(*i)),
        Some(&c) if c == close => {
            *i += 1;
            Ok(None)
        }
        _ => after_value_ws(b, i, close),
    }
}

#[cold]
#[inline(never)]
fn after_value_ws(b: &[u8], i: &mut usize, close: u8) -> Result<Option<usize>, i32> {
    let k = skip_ws(b, *i);
    match b.get(k) {
        Some(b',') => Ok(Some(k)),
        Some(&c) if c == close => {
            *i = k + 1;
            Ok(None)
        }
        _ => Err(INVALID_JSON),
    }
}

/// The top-level object at `b[i] == '{'`: its members are scanned here (one
/// tight loop for the common flat record) and reported; nested containers go
/// to the general iterative scanner at depth 1.
#[inline(always)]
fn scan_top_object<M: Members, S: Strings>(b: &[u8], i: usize, members: &mut M, u: &mut S) -> Result<usize, i32> {
    // On a local copy: the caller's state is behind a pointer.
    let mut local = *u;
    let r = top_object_body(b, i, members, &mut local);
    *u = local;
    r
}

#[inline(always)]
fn top_object_body<M: Members, S: Strings>(b: &[u8], mut i: usize, members: &mut M, u: &mut S) -> Result<usize, i32> {
    let n = b.len();
    i = skip_ws_fast(b, i + 1);
    if i < n && b[i] == b'}' {
        return Ok(i + 1);
    }
    if i >= n || b[i] != b'"' {
        return Err(INVALID_JSON);
    }
    loop {
        // `b[i]` is the key's opening quote.
        let ks = i + 1;
        i = u.string(b, ks)?;
        let key = (ks, i - 1);
        let (vs, ve) = scan_member_value(b, expect(b, i, b':')? + 1, u)?;
        members.member(b, key, (vs, ve));
        i = ve;
        match after_value(b, &mut i, b'}')? {
            Some(comma) => i = expect(b, comma + 1, b'"')?,
            None => return Ok(i),
        }
    }
}

/// Calls an out-of-line scanner on a copy of the string state: only the
/// copy's address escapes into the call, so the inlined caller's own state
/// can stay in registers (passing `u` itself pinned the top-level loop's
/// state to the stack, a store-to-load round trip on every pop).
#[inline(always)]
fn out_of_line<S: Strings>(u: &mut S, f: impl FnOnce(&mut S) -> Result<usize, i32>) -> Result<usize, i32> {
    let mut t = *u;
    let r = f(&mut t);
    *u = t;
    r
}

/// A member value of the top-level object (depth 1) at the first
/// non-whitespace byte at or after `b[i]`: its (start, end).
#[inline(always)]
fn scan_member_value<S: Strings>(b: &[u8], i: usize, u: &mut S) -> Result<(usize, usize), i32> {
    // Strings first, before the match (whose compare tree put two
    // branches before them): most member values are strings (with the
    // same in `scan_inner_value`; faster on small orders: files bench,
    // figures in bench/RESULTS.md).
    if b.get(i) == Some(&b'"') {
        return Ok((i, u.string(b, i + 1)?));
    }
    let end = match b.get(i) {
        Some(b'-' | b'0'..=b'9') => scan_number(b, i),
        // Depth-1 containers inline (no call, the string state stays in
        // registers); deeper ones are calls.
        Some(b'{') => shallow_object_body::<true, S>(b, i, 1, u),
        Some(b'[') => shallow_array_body::<true, S>(b, i, 1, u),
        Some(&c) if is_ws(c) => {
            let j = skip_ws(b, i);
            return Ok((j, out_of_line(u, |t| value_after_ws(b, j, 1, t))?));
        }
        _ => out_of_line(u, |t| scan_nested(b, i, 1, t)),
    }?;
    Ok((i, end))
}

/// `scan_inner_value` for a value that follows whitespace (already
/// skipped), out of line: compact records never come here.
#[cold]
#[inline(never)]
fn value_after_ws<S: Strings>(b: &[u8], i: usize, d: usize, u: &mut S) -> Result<usize, i32> {
    let mut local = *u;
    let r = scan_inner_value::<false, S>(b, i, d, &mut local);
    *u = local;
    r
}

/// Containers nested up to this depth are scanned by the two recursive
/// functions below (tight loops like the top-level one); deeper values go
/// to the general iterative scanner.
const SHALLOW: usize = 8;

/// A value inside a container at depth `d` (`d < SHALLOW`), at the first
/// non-whitespace byte at or after `b[i]`.
/// `INL`: the containers' loops are inlined here (one level: used just below
/// the top-level object) instead of called.
#[inline(always)]
fn scan_inner_value<const INL: bool, S: Strings>(b: &[u8], i: usize, d: usize, u: &mut S) -> Result<usize, i32> {
    if b.get(i) == Some(&b'"') {
        return u.string(b, i + 1);
    }
    match b.get(i) {
        Some(b'-' | b'0'..=b'9') => scan_number(b, i),
        Some(b'{') if INL && d + 1 < SHALLOW => shallow_object_body::<false, S>(b, i, d, u),
        Some(b'[') if INL && d + 1 < SHALLOW => shallow_array_body::<false, S>(b, i, d, u),
        Some(b'{') if d + 1 < SHALLOW => out_of_line(u, |t| scan_shallow_object(b, i, d, t)),
        Some(b'[') if d + 1 < SHALLOW => out_of_line(u, |t| scan_shallow_array(b, i, d, t)),
        // (Whitespace is skipped here rather than before every value: one
        // branch fewer per value in compact records.)
        Some(&c) if is_ws(c) => out_of_line(u, |t| value_after_ws(b, skip_ws(b, i), d, t)),
        _ => out_of_line(u, |t| scan_nested(b, i, d, t)),
    }
}

/// The object at `b[i] == '{'`, a value inside a container at depth `d`
/// (so the object itself is at depth `d + 1`). Same checks, in the same
/// order, as `scan_nested`.
#[inline(never)]
fn scan_shallow_object<S: Strings>(b: &[u8], i: usize, d: usize, u: &mut S) -> Result<usize, i32> {
    let mut local = *u;
    let r = shallow_object_body::<false, S>(b, i, d, &mut local);
    *u = local;
    r
}

#[inline(always)]
fn shallow_object_body<const INL: bool, S: Strings>(b: &[u8], mut i: usize, d: usize, u: &mut S) -> Result<usize, i32> {
    let n = b.len();
    i = skip_ws_fast(b, i + 1);
    if i < n && b[i] == b'}' {
        return Ok(i + 1);
    }
    if i >= n || b[i] != b'"' {
        return Err(INVALID_JSON);
    }
    loop {
        i = u.string(b, i + 1)?;
        i = scan_inner_value::<INL, S>(b, expect(b, i, b':')? + 1, d + 1, u)?;
        match after_value(b, &mut i, b'}')? {
            Some(comma) => i = expect(b, comma + 1, b'"')?,
            None => return Ok(i),
        }
    }
}

/// The array at `b[i] == '['`, like `scan_shallow_object`.
#[inline(never)]
fn scan_shallow_array<S: Strings>(b: &[u8], i: usize, d: usize, u: &mut S) -> Result<usize, i32> {
    let mut local = *u;
    let r = shallow_array_body::<false, S>(b, i, d, &mut local);
    *u = local;
    r
}

#[inline(always)]
fn shallow_array_body<const INL: bool, S: Strings>(b: &[u8], mut i: usize, d: usize, u: &mut S) -> Result<usize, i32> {
    let n = b.len();
    i = skip_ws_fast(b, i + 1);
    if i < n && b[i] == b']' {
        return Ok(i + 1);
    }
    loop {
        i = scan_inner_value::<INL, S>(b, i, d + 1, u)?;
        match after_value(b, &mut i, b']')? {
            Some(comma) => i = comma + 1,
            None => return Ok(i),
        }
    }
}

enum Next {
    Value,
    Key,
    AfterValue,
}

/// General iterative scanner for a value at `b[i]` whose container sits at
/// depth `base` (0 for a top-level value). Reports nothing.
#[inline(never)]
fn scan_nested<S: Strings>(b: &[u8], i: usize, base: usize, u: &mut S) -> Result<usize, i32> {
    let mut local = *u;
    let r = scan_nested_body(b, i, base, &mut local);
    *u = local;
    r
}

#[inline(always)]
fn scan_nested_body<S: Strings>(b: &[u8], mut i: usize, base: usize, u: &mut S) -> Result<usize, i32> {
    let n = b.len();
    let mut kinds = KindStack::new();
    let mut depth = base;
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
                        i = u.string(b, i + 1)?;
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
                i = u.string(b, i + 1)?;
                i = skip_ws(b, i);
                if i >= n || b[i] != b':' {
                    return Err(INVALID_JSON);
                }
                i = skip_ws(b, i + 1);
                next = Next::Value;
            }
            Next::AfterValue => {
                if depth == base {
                    return Ok(i);
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
    scan_record_with(rec, members, &mut Plain(Utf8::Unknown))
}

/// `scan_record` with the given string scanning (same decisions).
#[inline]
pub fn scan_record_with<M: Members, S: Strings>(rec: &[u8], members: &mut M, u: &mut S) -> ScanResult {
    let end = scan_value_with(rec, 0, members, u)?;
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
        let got: Vec<(String, String)> =
            c.0.iter()
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
