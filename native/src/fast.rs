//! SIMD fast path: simd-json validates the record (stage 1: structural
//! indexing + UTF-8 + unescaped control characters with AVX2/SSE4.2 chosen at
//! run time; stage 2: grammar, escapes, numbers, depth <= 1024), then the
//! top-level members are located by walking simd-json's structural index
//! instead of re-reading the bytes.
//!
//! Everything simd-json accepts is also accepted by the contract (checked by
//! the differential tests in `tests.rs`); everything it rejects goes to the
//! precise scalar scanner, which names the reason, or accepts the few valid
//! inputs simd-json refuses (lone `\uD800` escapes, numbers out of range).

use simd_json::{Buffers, Tape, INPUT_PADDING};

use crate::contract::{is_ws, MAX_DEPTH};
use crate::scan::Members;

pub enum Fast {
    /// Valid JSON whose top-level value is an object; members were reported.
    Object,
    /// Valid JSON, not an object.
    NotObject,
    /// simd-json refused it: ask the scalar scanner.
    Unsure,
}

pub struct FastPath {
    scratch: Vec<u8>,
    buffers: Buffers,
    tape: Option<Tape<'static>>,
}

impl Default for FastPath {
    fn default() -> Self {
        Self::new()
    }
}

impl FastPath {
    pub fn new() -> Self {
        FastPath {
            scratch: Vec::with_capacity(4096),
            buffers: Buffers::with_max_depth(4096, MAX_DEPTH),
            tape: Some(Tape::null().reset()),
        }
    }

    /// Validates `rec` (trimmed, non-empty) and reports its top-level members.
    pub fn check<M: Members>(&mut self, rec: &[u8], members: &mut M) -> Fast {
        let len = rec.len();
        // simd-json unescapes strings in place and reads past the end with
        // SIMD loads: it gets a padded private copy, never the caller's memory.
        self.scratch.clear();
        self.scratch.reserve(len + INPUT_PADDING);
        self.scratch.extend_from_slice(rec);
        self.scratch.resize(len + INPUT_PADDING, b' ');
        let mut tape = self.tape.take().unwrap_or_else(|| Tape::null().reset());
        let ok = simd_json::fill_tape_padded(&mut self.scratch, len, &mut self.buffers, &mut tape).is_ok();
        self.tape = Some(tape.reset());
        if !ok {
            return Fast::Unsure;
        }
        if rec[0] != b'{' {
            return Fast::NotObject;
        }
        if walk_members(rec, self.buffers.structural_indexes(), members) {
            Fast::Object
        } else {
            Fast::Unsure
        }
    }
}

/// Reports the members of the validated top-level object `rec` using the
/// structural index (positions of `{}[]:,`, of opening quotes and of the first
/// byte of every number/literal). Returns false, before reporting anything,
/// if the index does not have the expected shape (never seen; the caller then
/// falls back to the scalar scanner).
fn walk_members<M: Members>(rec: &[u8], idx: &[u32], members: &mut M) -> bool {
    let at = |k: usize| -> Option<(usize, u8)> {
        let p = *idx.get(k)? as usize;
        rec.get(p).map(|&c| (p, c))
    };
    if idx.first() != Some(&0) || !structure_ok(rec, idx) {
        return false;
    }
    let mut k = 1;
    loop {
        let Some((p, c)) = at(k) else { return false };
        if c == b'}' {
            return true;
        }
        // Key: opening quote at p, ':' next; the closing quote is the last
        // non-whitespace byte before the colon.
        let (Some((colon, b':')), Some((vs, _))) = (at(k + 1), at(k + 2)) else {
            return false;
        };
        let mut ke = colon;
        while is_ws(rec[ke - 1]) {
            ke -= 1;
        }
        let key = (p + 1, ke - 1);
        // Value: from its first structural to the next ',' or '}' at this depth.
        let mut j = k + 2;
        let mut depth = 0usize;
        let (stop, sc) = loop {
            let Some((q, c)) = at(j) else { return false };
            match c {
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    if depth == 0 {
                        break (q, c);
                    }
                    depth -= 1;
                }
                b',' if depth == 0 => break (q, c),
                _ => {}
            }
            j += 1;
        };
        let mut ve = stop;
        while is_ws(rec[ve - 1]) {
            ve -= 1;
        }
        members.member(rec, key, (vs, ve));
        if sc == b'}' {
            return true;
        }
        k = j + 1;
    }
}

/// Cheap sanity check that the index covers the whole object: the last
/// structural of a validated object is its closing brace.
#[inline]
fn structure_ok(rec: &[u8], idx: &[u32]) -> bool {
    idx.iter()
        .rev()
        .find(|&&p| (p as usize) < rec.len())
        .is_some_and(|&p| rec[p as usize] == b'}')
}
