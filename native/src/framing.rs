//! Framing: cutting a chunk into records and writing one slot per record.

use crate::contract::*;
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

/// Lines framing: LF-separated records.
pub fn lines(
    cls: &mut Classifier,
    input: &[u8],
    start: usize,
    end: usize,
    final_: bool,
    slots: &mut Slots,
) -> usize {
    let mut pos = start;
    while pos < end {
        let (line_end, next) = match memchr::memchr(b'\n', &input[pos..end]) {
            Some(k) => (pos + k, pos + k + 1),
            None if final_ => (end, end),
            None => break,
        };
        let (s, e) = trim(input, pos, line_end, is_line_ws);
        if s < e {
            if slots.full() {
                break;
            }
            let o = cls.classify(&input[s..e]);
            slots.push(s, e - s, o);
        }
        pos = next;
    }
    pos
}

/// Single framing: the whole range is one record.
pub fn single(cls: &mut Classifier, input: &[u8], start: usize, end: usize, slots: &mut Slots) -> usize {
    let (s, e) = trim(input, start, end, is_ws);
    if s == e {
        return end;
    }
    if slots.full() {
        return start;
    }
    let o = cls.classify(&input[s..e]);
    slots.push(s, e - s, o);
    end
}

/// Array framing (provisional until aligned with the JS reference).
pub fn array(
    _cls: &mut Classifier,
    _input: &[u8],
    start: usize,
    _end: usize,
    _final: bool,
    carry_phase: u32,
    _slots: &mut Slots,
) -> Summary {
    Summary {
        consumed_end: start,
        carry_phase,
    }
}
