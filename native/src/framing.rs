//! Framing: cutting a chunk into records and writing one slot per record.

use crate::contract::*;
use crate::hash::{hash_fields4, KeyHasher};
use crate::record::{Classifier, Outcome};

/// Writes slots into the caller's Int32 output memory.
pub struct Slots<'o> {
    out: &'o mut [i32],
    pub count: usize,
    cap: usize,
}

impl<'o> Slots<'o> {
    pub fn new(out: &'o mut [i32]) -> Self {
        let cap = out.len() / SLOT_WORDS;
        Slots { out, count: 0, cap }
    }

    #[inline(always)]
    pub fn full(&self) -> bool {
        self.count >= self.cap
    }

    /// Fills in the key hash of slot `k` (already pushed).
    #[inline(always)]
    pub fn set_hash(&mut self, k: usize, lo: i32, hi: i32) {
        let base = k * SLOT_WORDS;
        self.out[base + W_HASH_LO] = lo;
        self.out[base + W_HASH_HI] = hi;
    }

    /// FLAG_LF_FOLLOWS on the accepted slots from `from` on whose record is
    /// directly followed by an LF in `input` (the parse worker's JS pass,
    /// done here while the bytes are still in cache).
    pub fn mark_lf_follows(&mut self, from: usize, input: &[u8]) {
        for k in from..self.count {
            let w = &mut self.out[k * SLOT_WORDS..(k + 1) * SLOT_WORDS];
            if w[W_STATUS] & 0xff > UNKEYED {
                continue;
            }
            let end = w[W_OFFSET] as usize + w[W_LENGTH] as usize;
            if input.get(end) == Some(&b'\n') {
                w[W_STATUS] |= FLAG_LF_FOLLOWS;
            }
        }
    }

    #[inline(always)]
    pub fn push(&mut self, offset: usize, length: usize, o: Outcome) {
        let base = self.count * SLOT_WORDS;
        let w = &mut self.out[base..base + SLOT_WORDS];
        let bits = o.event_time.to_bits();
        w[0] = bits as u32 as i32;
        w[1] = (bits >> 32) as u32 as i32;
        w[W_OFFSET] = offset as i32;
        w[W_LENGTH] = length as i32;
        w[W_HASH_LO] = o.hash_lo;
        w[W_HASH_HI] = o.hash_hi;
        w[W_STATUS] = o.status;
        w[W_TAG] = 0;
        self.count += 1;
    }
}

/// What a chunk call reports in `state`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    pub consumed_end: usize,
    pub carry_phase: u32,
}

#[inline(always)]
fn is_line_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r')
}

/// Trims `[s, e)` with `ws`; returns the trimmed bounds.
#[inline(always)]
fn trim(input: &[u8], mut s: usize, mut e: usize, ws: fn(u8) -> bool) -> (usize, usize) {
    while s < e && ws(input[s]) {
        s += 1;
    }
    while e > s && ws(input[e - 1]) {
        e -= 1;
    }
    (s, e)
}

/// Lines framing: LF-separated records. Stops as soon as `out` is full
/// (checked before every line, empty or not), like the JS reference.
pub fn lines(cls: &mut Classifier, input: &[u8], start: usize, end: usize, final_: bool, slots: &mut Slots) -> Summary {
    // Keyed records whose hash is still to be written: (slot, key span in
    // `input`), hashed four at a time (see `hash_fields4`).
    let mut pending = [(0usize, 0usize, 0usize); 4];
    let mut n_pending = 0;
    let mut pos = start;
    while pos < end && !slots.full() {
        // The newline search and the record's stage 1 in one pass when it
        // can (AVX2, a newline in whole 64-byte blocks), else memchr.
        let line = cls.find_line(input, pos, end);
        let (line_end, next) = match &line {
            Ok(l) => (l.line_end, l.line_end + 1),
            &Err(from) => match memchr::memchr(b'\n', &input[from..end]) {
                Some(k) => (from + k, from + k + 1),
                None if final_ => (end, end),
                None => break,
            },
        };
        let (s, e) = trim(input, pos, line_end, is_line_ws);
        let indexed = s == pos && s < e && line.is_ok_and(|l| l.clean(input, pos, e));
        pos = next;
        if s < e {
            let (o, span) = if indexed {
                cls.classify_deferred_indexed(&input[s..e])
            } else {
                cls.classify_deferred(&input[s..e])
            };
            if let Some((ks, ke)) = span {
                pending[n_pending] = (slots.count, s + ks, s + ke);
                n_pending += 1;
            }
            slots.push(s, e - s, o);
            if n_pending == 4 {
                let h = hash_fields4(pending.map(|(_, a, b)| &input[a..b]));
                for (&(k, _, _), &(lo, hi)) in pending.iter().zip(&h) {
                    slots.set_hash(k, lo, hi);
                }
                n_pending = 0;
            }
        }
    }
    for &(k, a, b) in &pending[..n_pending] {
        let mut h = KeyHasher::new();
        h.field(&input[a..b]);
        let (lo, hi) = h.finish();
        slots.set_hash(k, lo, hi);
    }
    Summary {
        consumed_end: pos,
        carry_phase: PHASE_BEFORE_ARRAY,
    }
}

/// Single framing: all of the range is one record; without `final` (or
/// without room for a slot) nothing is consumed.
pub fn single(
    cls: &mut Classifier,
    input: &[u8],
    start: usize,
    end: usize,
    final_: bool,
    slots: &mut Slots,
) -> Summary {
    let mut consumed = start;
    if final_ && !slots.full() {
        let (s, e) = trim(input, start, end, is_ws);
        if s < e {
            let o = cls.classify(&input[s..e]);
            slots.push(s, e - s, o);
        }
        consumed = end;
    }
    Summary {
        consumed_end: consumed,
        carry_phase: PHASE_BEFORE_ARRAY,
    }
}

#[inline(always)]
fn skip_ws(b: &[u8], mut p: usize, end: usize) -> usize {
    while p < end && is_ws(b[p]) {
        p += 1;
    }
    p
}

#[inline(always)]
fn trim_end(b: &[u8], s: usize, mut e: usize) -> usize {
    while e > s && is_ws(b[e - 1]) {
        e -= 1;
    }
    e
}

/// Structural skip of one Array element from `pos` (see the JS reference's
/// array-skip.ts): tracks only strings, escapes and bracket depth, never
/// validates. Returns the index of the depth-0 `,` or `]` ending the element,
/// or `None` when the chunk runs out first. A `}` at depth 0 is ignored.
pub fn skip_array_element(b: &[u8], mut pos: usize, end: usize) -> Option<usize> {
    let mut in_string = false;
    let mut escaped = false;
    let mut depth = 0usize;
    while pos < end {
        let c = b[pos];
        if in_string {
            if escaped {
                escaped = false;
            } else if c == b'\\' {
                escaped = true;
            } else if c == b'"' {
                in_string = false;
            }
        } else {
            match c {
                b'"' => in_string = true,
                b'[' | b'{' => depth += 1,
                b']' | b'}' => {
                    if depth > 0 {
                        depth -= 1;
                    } else if c == b']' {
                        return Some(pos);
                    }
                }
                b',' if depth == 0 => return Some(pos),
                _ => {}
            }
        }
        pos += 1;
    }
    None
}

/// Array framing: the elements of one top-level JSON array, resumable at any
/// byte through `phase` (ArrayPhase). Mirrors the JS reference step by step.
#[allow(clippy::too_many_arguments)]
pub fn array(
    cls: &mut Classifier,
    input: &[u8],
    start: usize,
    end: usize,
    final_: bool,
    mut phase: u32,
    slots: &mut Slots,
) -> Summary {
    let max = cls.max_record_bytes;
    let mut pos = start;
    while !slots.full() {
        let p = skip_ws(input, pos, end);
        if p >= end {
            pos = end;
            break;
        }
        let c = input[p];
        if phase == PHASE_BEFORE_ARRAY || phase == PHASE_DONE {
            if phase == PHASE_BEFORE_ARRAY && c == b'[' {
                pos = p + 1;
                phase = PHASE_FIRST_ELEMENT;
                continue;
            }
            // Not an array, or bytes after its ']': the rest of the chunk is
            // one rejected slot, and from then on only whitespace is expected.
            let e = trim_end(input, p, end);
            let reason = if e - p > max {
                TOO_LARGE
            } else if phase == PHASE_DONE {
                TRAILING_GARBAGE
            } else {
                INVALID_JSON
            };
            slots.push(p, e - p, Outcome::reject(reason));
            pos = end;
            phase = PHASE_DONE;
            continue;
        }
        if c == b']' && phase != PHASE_NEXT_ELEMENT {
            pos = p + 1;
            phase = PHASE_DONE;
            continue;
        }
        if c == b',' && phase == PHASE_AFTER_ELEMENT {
            pos = p + 1;
            phase = PHASE_NEXT_ELEMENT;
            continue;
        }
        let mut reason = TRAILING_GARBAGE;
        if phase != PHASE_AFTER_ELEMENT {
            // Past max bytes the verdict is TOO_LARGE whatever follows.
            let limit = end.min(p.saturating_add(max).saturating_add(1));
            match cls.scan_at(&input[..limit], p) {
                Ok(r) => {
                    let q = skip_ws(input, r, end);
                    let d = input.get(q).copied().filter(|_| q < end);
                    if matches!(d, Some(b',' | b']')) || (q >= end && final_) {
                        let o = if r - p > max {
                            Outcome::reject(TOO_LARGE)
                        } else {
                            cls.accept_value(&input[..limit], p)
                        };
                        slots.push(p, r - p, o);
                        pos = if q >= end { end } else { q + 1 };
                        phase = match d {
                            Some(b',') => PHASE_NEXT_ELEMENT,
                            Some(b']') => PHASE_DONE,
                            _ => PHASE_AFTER_ELEMENT,
                        };
                        continue;
                    }
                    // Complete value but its delimiter is in a later chunk.
                    if q >= end {
                        pos = p;
                        break;
                    }
                }
                Err(code) => reason = code,
            }
        }
        // Bad element (or garbage after one): it runs to the next depth-0 ',' or ']'.
        let k = skip_array_element(input, p, end);
        if k.is_none() && !final_ {
            pos = p;
            break;
        }
        let e = trim_end(input, p, k.unwrap_or(end));
        slots.push(p, e - p, Outcome::reject(if e - p > max { TOO_LARGE } else { reason }));
        match k {
            None => {
                pos = end;
                phase = PHASE_AFTER_ELEMENT;
            }
            Some(k) => {
                pos = k + 1;
                phase = if input[k] == b',' {
                    PHASE_NEXT_ELEMENT
                } else {
                    PHASE_DONE
                };
            }
        }
    }
    Summary {
        consumed_end: pos,
        carry_phase: phase,
    }
}
