//! Stage 1 for short and medium records: one SIMD pass that builds the quote
//! bitmap of a record and tells whether the record is *clean*: no backslash,
//! no byte < 0x20 (so no escapes, no control bytes, no tab/CR whitespace) and
//! valid UTF-8. In a clean record every `"` delimits a string and no string
//! body can be rejected, so the scanner (`scan::Indexed`) skips bodies by
//! popping quote bits; its decisions stay exactly those of the plain scanner.
//!
//! x86_64 uses AVX2 when the CPU has it (run-time detected; records of 64
//! bytes or more, 32 bytes per step) and SSE2 otherwise (baseline; 16 bytes
//! per step); other targets a SWAR version of the same pass.

/// Records longer than this are not indexed (the plain scanner or simd-json
/// handle them); it bounds the scratch bitmap.
pub const MAX_INDEXED: usize = 64 * 1024;

/// Builds the quote bitmap of `rec` into `words` (bit k of `words[k / 64]`
/// set iff `rec[k] == b'"'`, `ceil(len / 64)` words) and returns true when
/// the record is clean; its bitmap is then `words[..ceil(len / 64)]`.
#[inline]
pub fn quote_index(rec: &[u8], words: &mut Vec<u64>) -> bool {
    if rec.len() > MAX_INDEXED {
        return false;
    }
    let n_words = rec.len().div_ceil(64);
    if words.len() < n_words {
        words.resize(n_words, 0);
    }
    let words = &mut words[..n_words];
    match scan_blocks(rec, words) {
        Verdict::Dirty => false,
        Verdict::Ascii => true,
        Verdict::High => simdutf8::basic::from_utf8(rec).is_ok(),
    }
}

/// A line found by `line_index`: the newline search of Lines framing and
/// stage 1 of its record in one AVX2 pass.
pub struct Line {
    /// Index (in the input) of the line's `\n`.
    pub line_end: usize,
    /// Input offset of the 64-byte block holding the `\n`.
    last_off: usize,
    /// Some backslash or control byte in a block before the last one.
    bad_before: bool,
    /// Backslashes and control bytes of the last block, bit k = byte
    /// `last_off + k`, none past the `\n` (the `\n` itself included).
    bad_last: u64,
    /// Some byte >= 0x80 before the `\n`.
    high: bool,
}

impl Line {
    /// Whether the record `input[pos..e]` (the line from `line_index(input,
    /// pos, ..)` without trailing whitespace) is clean, i.e. whether
    /// `quote_index` on it would return true; the quote bitmap `line_index`
    /// left in `words` is then exactly the record's.
    #[inline]
    pub fn clean(&self, input: &[u8], pos: usize, e: usize) -> bool {
        if self.bad_before || e <= self.last_off {
            // (A record ending before the last block: trailing whitespace
            // over a block boundary; not worth a special case.)
            return false;
        }
        let keep = e - self.last_off; // 1..=64 bytes of the last block
        let mask = if keep >= 64 { !0 } else { (1u64 << keep) - 1 };
        self.bad_last & mask == 0 && (!self.high || simdutf8::basic::from_utf8(&input[pos..e]).is_ok())
    }
}

/// Lines longer than this are left to memchr + `quote_index`: long records
/// mostly go to simd-json (see `record::prefers_simd_json`, same 4 KiB), for
/// which a quote bitmap would be wasted work.
pub const FUSED_MAX: usize = 4096;

/// Finds the first `\n` in `input[pos..end]` 64 bytes at a time and builds
/// the quote bitmap of `input[pos..]` up to it into `words` (bit k of
/// `words[k / 64]` = byte `pos + k`; no bits at or past the `\n`). `None`
/// when there is no AVX2, when no `\n` is found in whole 64-byte blocks
/// before `end`, or the line is longer than `FUSED_MAX` bytes: `Err(from)`,
/// the caller then searches as before, from `from` (no `\n` before it).
#[inline]
pub fn line_index(input: &[u8], pos: usize, end: usize, words: &mut Vec<u64>, avx2: bool) -> Result<Line, usize> {
    #[cfg(target_arch = "x86_64")]
    if avx2 {
        if words.len() < FUSED_MAX / 64 + 1 {
            words.resize(FUSED_MAX / 64 + 1, 0);
        }
        // SAFETY: `avx2` is only true when the CPU has AVX2 (`has_avx2`).
        return unsafe { line_index_avx2(&input[..end], pos, words) };
    }
    let _ = (input, end, words, avx2);
    Err(pos)
}

/// Whether `line_index` can be used on this CPU.
pub fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn line_index_avx2(input: &[u8], pos: usize, words: &mut [u64]) -> Result<Line, usize> {
    use std::arch::x86_64::*;
    let n = input.len();
    let p = input.as_ptr();
    let quote = _mm256_set1_epi8(b'"' as i8);
    let bslash = _mm256_set1_epi8(b'\\' as i8);
    let lim = _mm256_set1_epi8(0x1F);
    let lf = _mm256_set1_epi8(b'\n' as i8);
    let mut bad_acc = _mm256_setzero_si256();
    let mut high_acc = _mm256_setzero_si256();
    let mut off = pos;
    let mut w = 0;
    while off + 64 <= n && w <= FUSED_MAX / 64 {
        // SAFETY: both loads are inside `input` (`off + 64 <= n`); `w` is at
        // most `FUSED_MAX / 64 < words.len()`.
        unsafe {
            let v0 = _mm256_loadu_si256(p.add(off) as *const __m256i);
            let v1 = _mm256_loadu_si256(p.add(off + 32) as *const __m256i);
            let q = _mm256_movemask_epi8(_mm256_cmpeq_epi8(v0, quote)) as u32 as u64
                | (_mm256_movemask_epi8(_mm256_cmpeq_epi8(v1, quote)) as u32 as u64) << 32;
            let nl = _mm256_movemask_epi8(_mm256_cmpeq_epi8(v0, lf)) as u32 as u64
                | (_mm256_movemask_epi8(_mm256_cmpeq_epi8(v1, lf)) as u32 as u64) << 32;
            let b0 = _mm256_or_si256(
                _mm256_cmpeq_epi8(v0, bslash),
                _mm256_cmpeq_epi8(_mm256_max_epu8(v0, lim), lim),
            );
            let b1 = _mm256_or_si256(
                _mm256_cmpeq_epi8(v1, bslash),
                _mm256_cmpeq_epi8(_mm256_max_epu8(v1, lim), lim),
            );
            if nl != 0 {
                let k = nl.trailing_zeros();
                // Bytes before the `\n` (bits 0..k).
                let before = (1u64 << k) - 1;
                *words.get_unchecked_mut(w) = q & before;
                let bad_last =
                    (_mm256_movemask_epi8(b0) as u32 as u64 | (_mm256_movemask_epi8(b1) as u32 as u64) << 32) & before;
                let high_last =
                    (_mm256_movemask_epi8(v0) as u32 as u64 | (_mm256_movemask_epi8(v1) as u32 as u64) << 32) & before;
                let line_end = off + k as usize;
                if line_end - pos > FUSED_MAX {
                    return Err(line_end);
                }
                return Ok(Line {
                    line_end,
                    last_off: off,
                    bad_before: _mm256_movemask_epi8(bad_acc) != 0,
                    bad_last,
                    high: high_last != 0 || _mm256_movemask_epi8(high_acc) != 0,
                });
            }
            *words.get_unchecked_mut(w) = q;
            bad_acc = _mm256_or_si256(bad_acc, _mm256_or_si256(b0, b1));
            high_acc = _mm256_or_si256(high_acc, _mm256_or_si256(v0, v1));
        }
        off += 64;
        w += 1;
    }
    // No `\n` in `input[pos..off]`.
    Err(off)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Verdict {
    /// A backslash or a control byte.
    Dirty,
    /// Neither, and all bytes < 0x80.
    Ascii,
    /// Neither, but some bytes >= 0x80 (UTF-8 still to check).
    High,
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn scan_blocks(rec: &[u8], words: &mut [u64]) -> Verdict {
    if rec.len() >= 64 && std::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 was just detected.
        unsafe { scan_blocks_avx2(rec, words) }
    } else {
        scan_blocks_sse2(rec, words)
    }
}

/// `scan_blocks_sse2` with AVX2, for records of 64 bytes or more: 64-byte
/// blocks, 32 bytes per step; the tail (1..=63 bytes) is the record's last
/// 64 bytes with the bits of the bytes already seen shifted out (no
/// per-16-byte loop, no padded copy).
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn scan_blocks_avx2(rec: &[u8], words: &mut [u64]) -> Verdict {
    use std::arch::x86_64::*;
    let n = rec.len();
    let p = rec.as_ptr();
    let quote = _mm256_set1_epi8(b'"' as i8);
    let bslash = _mm256_set1_epi8(b'\\' as i8);
    let lim = _mm256_set1_epi8(0x1F);
    // (quote word, bad mask, high mask) of the 64 bytes at `p + at`.
    // SAFETY (for the closure's callers): `at + 64 <= n`.
    let block = |at: usize| unsafe {
        let v0 = _mm256_loadu_si256(p.add(at) as *const __m256i);
        let v1 = _mm256_loadu_si256(p.add(at + 32) as *const __m256i);
        let q0 = _mm256_movemask_epi8(_mm256_cmpeq_epi8(v0, quote)) as u32 as u64;
        let q1 = _mm256_movemask_epi8(_mm256_cmpeq_epi8(v1, quote)) as u32 as u64;
        let b0 = _mm256_or_si256(
            _mm256_cmpeq_epi8(v0, bslash),
            _mm256_cmpeq_epi8(_mm256_max_epu8(v0, lim), lim),
        );
        let b1 = _mm256_or_si256(
            _mm256_cmpeq_epi8(v1, bslash),
            _mm256_cmpeq_epi8(_mm256_max_epu8(v1, lim), lim),
        );
        let bad = _mm256_movemask_epi8(b0) as u32 as u64 | (_mm256_movemask_epi8(b1) as u32 as u64) << 32;
        let high = _mm256_movemask_epi8(v0) as u32 as u64 | (_mm256_movemask_epi8(v1) as u32 as u64) << 32;
        (q0 | q1 << 32, bad, high)
    };
    let mut bad_acc = _mm256_setzero_si256();
    let mut high_vec = _mm256_setzero_si256();
    let mut off = 0;
    let mut w = 0;
    while off + 64 <= n {
        // SAFETY: both loads are inside `rec` (`off + 64 <= n`), and
        // `w < n / 64 <= words.len()`.
        unsafe {
            let v0 = _mm256_loadu_si256(p.add(off) as *const __m256i);
            let v1 = _mm256_loadu_si256(p.add(off + 32) as *const __m256i);
            let q0 = _mm256_movemask_epi8(_mm256_cmpeq_epi8(v0, quote)) as u32 as u64;
            let q1 = _mm256_movemask_epi8(_mm256_cmpeq_epi8(v1, quote)) as u32 as u64;
            let b0 = _mm256_or_si256(
                _mm256_cmpeq_epi8(v0, bslash),
                _mm256_cmpeq_epi8(_mm256_max_epu8(v0, lim), lim),
            );
            let b1 = _mm256_or_si256(
                _mm256_cmpeq_epi8(v1, bslash),
                _mm256_cmpeq_epi8(_mm256_max_epu8(v1, lim), lim),
            );
            bad_acc = _mm256_or_si256(bad_acc, _mm256_or_si256(b0, b1));
            high_vec = _mm256_or_si256(high_vec, _mm256_or_si256(v0, v1));
            *words.get_unchecked_mut(w) = q0 | q1 << 32;
        }
        if _mm256_movemask_epi8(bad_acc) != 0 {
            return Verdict::Dirty;
        }
        off += 64;
        w += 1;
    }
    let mut high_acc = _mm256_movemask_epi8(high_vec) as u32 as u64;
    if off < n {
        // The tail (1..=63 bytes): the last 64 bytes of the record (n >= 64),
        // shifted so that the tail's first byte is bit 0.
        let drop = 64 - (n - off);
        let (q, bad, high) = block(n - 64);
        words[w] = q >> drop;
        if bad >> drop != 0 {
            return Verdict::Dirty;
        }
        high_acc |= high >> drop;
    }
    if high_acc != 0 {
        Verdict::High
    } else {
        Verdict::Ascii
    }
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn scan_blocks_sse2(rec: &[u8], words: &mut [u64]) -> Verdict {
    use std::arch::x86_64::*;
    let n = rec.len();
    let p = rec.as_ptr();
    // SAFETY: SSE2 is part of the x86_64 baseline. Every load reads 16 bytes
    // inside `rec` (full chunks at `off + 16 <= n`; the tail re-reads the last
    // 16 bytes of the record, or a padded copy when the record is shorter).
    unsafe {
        let quote = _mm_set1_epi8(b'"' as i8);
        let bslash = _mm_set1_epi8(b'\\' as i8);
        let lim = _mm_set1_epi8(0x1F);
        // (quote mask, bad vector: backslash or control, the bytes)
        let chunk = |v: __m128i| -> (u64, __m128i) {
            let q = _mm_movemask_epi8(_mm_cmpeq_epi8(v, quote)) as u32 as u64;
            let bad = _mm_or_si128(_mm_cmpeq_epi8(v, bslash), _mm_cmpeq_epi8(_mm_max_epu8(v, lim), lim));
            (q, bad)
        };
        let mut bad_acc = _mm_setzero_si128();
        let mut high_acc = _mm_setzero_si128();
        let mut off = 0;
        let mut w = 0;
        while off + 64 <= n {
            let v0 = _mm_loadu_si128(p.add(off) as *const __m128i);
            let v1 = _mm_loadu_si128(p.add(off + 16) as *const __m128i);
            let v2 = _mm_loadu_si128(p.add(off + 32) as *const __m128i);
            let v3 = _mm_loadu_si128(p.add(off + 48) as *const __m128i);
            let (q0, b0) = chunk(v0);
            let (q1, b1) = chunk(v1);
            let (q2, b2) = chunk(v2);
            let (q3, b3) = chunk(v3);
            bad_acc = _mm_or_si128(bad_acc, _mm_or_si128(_mm_or_si128(b0, b1), _mm_or_si128(b2, b3)));
            high_acc = _mm_or_si128(high_acc, _mm_or_si128(_mm_or_si128(v0, v1), _mm_or_si128(v2, v3)));
            *words.get_unchecked_mut(w) = q0 | q1 << 16 | q2 << 32 | q3 << 48;
            if _mm_movemask_epi8(bad_acc) != 0 {
                return Verdict::Dirty;
            }
            off += 64;
            w += 1;
        }
        let mut bad = _mm_movemask_epi8(bad_acc) as u32;
        let mut high = _mm_movemask_epi8(high_acc) as u32;
        if off < n {
            // Tail of 1..=63 bytes, 16 at a time; the last step may overlap
            // bytes already seen (their bits are shifted out).
            let mut last = 0u64;
            let mut c = off;
            while c < n {
                let (v, drop) = if c + 16 <= n {
                    (_mm_loadu_si128(p.add(c) as *const __m128i), 0)
                } else if n >= 16 {
                    (_mm_loadu_si128(p.add(n - 16) as *const __m128i), c + 16 - n)
                } else {
                    // Whole record shorter than 16 bytes: pad with spaces
                    // (not a quote, not bad, not high).
                    let mut buf = [b' '; 16];
                    buf[..n].copy_from_slice(rec);
                    (_mm_loadu_si128(buf.as_ptr() as *const __m128i), 0)
                };
                let (q, b) = chunk(v);
                bad |= (_mm_movemask_epi8(b) as u32) >> drop;
                high |= (_mm_movemask_epi8(v) as u32 & 0xFFFF) >> drop;
                last |= (q >> drop) << (c - off);
                c += 16;
            }
            *words.get_unchecked_mut(w) = last;
        }
        if bad != 0 {
            Verdict::Dirty
        } else if high != 0 {
            Verdict::High
        } else {
            Verdict::Ascii
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn scan_blocks(rec: &[u8], words: &mut [u64]) -> Verdict {
    scan_blocks_swar(rec, words)
}

/// Portable version (8 bytes per step): the fallback on other targets, and
/// the reference the SSE2 version is tested against.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn scan_blocks_swar(rec: &[u8], words: &mut [u64]) -> Verdict {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    // High bit of each byte of `x` set iff that byte is zero (exact, no
    // borrow artefacts: works on 7-bit lanes).
    let zero_bytes = |x: u64| !((x & !HI).wrapping_add(!HI) | x | !HI);
    let mut bad = 0u64;
    let mut high = 0u64;
    for (w, block) in words.iter_mut().zip(rec.chunks(64)) {
        let mut q = 0u64;
        for (k, part) in block.chunks(8).enumerate() {
            let mut b = [b' '; 8];
            b[..part.len()].copy_from_slice(part);
            let x = u64::from_le_bytes(b);
            let qz = zero_bytes(x ^ (LO * b'"' as u64));
            let sz = zero_bytes(x ^ (LO * b'\\' as u64));
            // byte < 0x20 iff its top three bits are zero
            let ctrl = zero_bytes(x & (LO * 0xE0));
            bad |= sz | ctrl;
            high |= x & HI;
            // gather the high bits of `qz` into 8 bits
            let bits = ((qz >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56) & 0xFF;
            q |= bits << (8 * k);
        }
        *w = q;
    }
    if bad != 0 {
        Verdict::Dirty
    } else if high != 0 {
        Verdict::High
    } else {
        Verdict::Ascii
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(rec: &[u8]) -> (Vec<u64>, Verdict) {
        let mut words = vec![0u64; rec.len().div_ceil(64)];
        for (k, &c) in rec.iter().enumerate() {
            if c == b'"' {
                words[k / 64] |= 1 << (k % 64);
            }
        }
        let v = if rec.iter().any(|&c| c == b'\\' || c < 0x20) {
            Verdict::Dirty
        } else if rec.iter().any(|&c| c >= 0x80) {
            Verdict::High
        } else {
            Verdict::Ascii
        };
        (words, v)
    }

    #[test]
    fn matches_reference() {
        let mut seed = 0x1234_5678_9ABC_DEF1u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let alphabet = [
            b'"', b'a', b'{', b':', b' ', b'\\', 0x01, 0x1F, 0x20, 0x7F, 0x80, 0xC3, 0xA9, 0xFF, b'\t',
        ];
        for len in 0..300usize {
            for round in 0..40 {
                // Mostly clean records (so the whole bitmap is compared), a few dirty.
                let mut rec: Vec<u8> = (0..len).map(|_| alphabet[(next() % 5) as usize]).collect();
                if round % 4 == 1 && len > 0 {
                    let at = (next() as usize) % len;
                    rec[at] = alphabet[(next() % alphabet.len() as u64) as usize];
                }
                let (want_words, want) = reference(&rec);
                #[cfg(target_arch = "x86_64")]
                let fs = [
                    scan_blocks as fn(&[u8], &mut [u64]) -> Verdict,
                    scan_blocks_sse2,
                    scan_blocks_swar,
                ];
                #[cfg(not(target_arch = "x86_64"))]
                let fs = [scan_blocks as fn(&[u8], &mut [u64]) -> Verdict, scan_blocks_swar];
                for f in fs {
                    let mut words = vec![0u64; len.div_ceil(64)];
                    let got = f(&rec, &mut words);
                    assert_eq!(got, want, "{rec:?}");
                    if want != Verdict::Dirty {
                        assert_eq!(words, want_words, "{rec:?}");
                    }
                }
            }
        }
    }
}
