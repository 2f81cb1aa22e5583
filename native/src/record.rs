//! One record → one slot's values, in the contract's decision order.

use crate::contract::{NOT_OBJECT, TOO_LARGE};
use crate::fast::{Fast, FastPath};
use crate::fields::{Config, Picks};
use crate::hash::KeyHasher;
use crate::index::{has_avx2, line_index, quote_index, Line};
use crate::scan::{scan_record, scan_record_with, scan_value, Indexed, REDO};

/// Slot values of one record.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Outcome {
    pub status: i32,
    pub hash_lo: i32,
    pub hash_hi: i32,
    pub event_time: f64,
}

impl Outcome {
    #[inline]
    pub fn reject(status: i32) -> Self {
        Outcome {
            status,
            hash_lo: 0,
            hash_hi: 0,
            event_time: f64::NAN,
        }
    }
}

/// Which validator handles records first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The default: simd-json for the records it is measurably faster on
    /// (long, string-heavy ones, see `prefers_simd_json`), the scanner for
    /// the rest. native/README.md gives the reasons; the shapes bench
    /// (native/bench/benches/shapes.rs) checks the rule, figures in
    /// bench/RESULTS.md.
    Auto,
    /// simd-json first for every record (tests and benchmarks).
    Simd,
    /// The scanner only (reference for the differential tests).
    Scalar,
}

/// Records at least this long may go to simd-json.
const SIMD_JSON_MIN_BYTES: usize = 4096;
/// Colons counted in the first `SAMPLE` bytes approximate the number of
/// members there: fewer than `SPARSE_MEMBERS` means the record is mostly long
/// strings, where simd-json's 64-byte blocks (escapes and multi-byte
/// characters cost it nothing extra) beat the scanner; dense structure (many
/// short members, numbers) is where the scanner is clearly faster (shapes
/// bench; figures in bench/RESULTS.md).
const SAMPLE: usize = 4096;
const SPARSE_MEMBERS: usize = 16;

#[inline]
fn prefers_simd_json(rec: &[u8]) -> bool {
    rec.len() >= SIMD_JSON_MIN_BYTES
        && memchr::memchr_iter(b':', &rec[..SAMPLE]).take(SPARSE_MEMBERS).count() < SPARSE_MEMBERS
}

pub struct Classifier {
    pub max_record_bytes: usize,
    picks: Picks,
    fast: FastPath,
    mode: Mode,
    /// Quote bitmap scratch for `Indexed` scanning.
    quotes: Vec<u64>,
    /// `line_index` usable (AVX2, `Mode::Auto`).
    fused: bool,
}

impl Classifier {
    pub fn new(cfg: &Config, mode: Mode) -> Self {
        Classifier {
            max_record_bytes: cfg.max_record_bytes,
            picks: Picks::new(cfg),
            fast: FastPath::new(),
            mode,
            quotes: Vec::new(),
            fused: mode == Mode::Auto && has_avx2(),
        }
    }

    /// Decides one trimmed, non-empty record.
    #[inline]
    pub fn classify(&mut self, rec: &[u8]) -> Outcome {
        let (mut o, span) = self.classify_deferred(rec);
        if let Some((s, e)) = span {
            let mut h = KeyHasher::new();
            h.field(&rec[s..e]);
            (o.hash_lo, o.hash_hi) = h.finish();
        }
        o
    }

    /// `classify`, but with one key field the hash of a keyed record is
    /// deferred (see `Picks::finish_with`): returns the raw key's span
    /// relative to `rec`, and the outcome's hash words are 0 until the caller
    /// fills them.
    #[inline]
    pub fn classify_deferred(&mut self, rec: &[u8]) -> (Outcome, Option<(usize, usize)>) {
        self.classify_with(rec, false)
    }

    /// Lines framing's newline search fused with stage 1 (see
    /// `index::line_index`); `Err(from)`: search as before, from `from`.
    #[inline]
    pub fn find_line(&mut self, input: &[u8], pos: usize, end: usize) -> Result<Line, usize> {
        if !self.fused {
            return Err(pos);
        }
        line_index(input, pos, end, &mut self.quotes, true)
    }

    /// `classify_deferred` for a record whose quote bitmap is already in
    /// `self.quotes` (`find_line` and `Line::clean` said so).
    #[inline]
    pub fn classify_deferred_indexed(&mut self, rec: &[u8]) -> (Outcome, Option<(usize, usize)>) {
        self.classify_with(rec, true)
    }

    #[inline(always)]
    fn classify_with(&mut self, rec: &[u8], indexed: bool) -> (Outcome, Option<(usize, usize)>) {
        if rec.len() > self.max_record_bytes {
            return (Outcome::reject(TOO_LARGE), None);
        }
        self.picks.reset();
        let simd_first = match self.mode {
            Mode::Auto => prefers_simd_json(rec),
            Mode::Simd => true,
            Mode::Scalar => false,
        };
        if simd_first {
            match self.fast.check(rec, &mut self.picks) {
                Fast::Object => return self.accepted_deferred(rec),
                Fast::NotObject => return (Outcome::reject(NOT_OBJECT), None),
                Fast::Unsure => self.picks.reset(),
            }
        }
        let mut r = if self.mode == Mode::Auto && (indexed || quote_index(rec, &mut self.quotes)) {
            scan_record_with(
                rec,
                &mut self.picks,
                &mut Indexed::new(&self.quotes[..rec.len().div_ceil(64)]),
            )
        } else {
            scan_record(rec, &mut self.picks)
        };
        if r == Err(REDO) {
            // Cannot happen (see `scan::Indexed`); decided by the plain scanner.
            self.picks.reset();
            r = scan_record(rec, &mut self.picks);
        }
        match r {
            Ok(()) => self.accepted_deferred(rec),
            Err(code) => (Outcome::reject(code), None),
        }
    }

    #[inline]
    fn accepted_deferred(&self, rec: &[u8]) -> (Outcome, Option<(usize, usize)>) {
        let (status, hash_lo, hash_hi, event_time, span) = self.picks.finish_with(rec, true);
        (
            Outcome {
                status,
                hash_lo,
                hash_hi,
                event_time,
            },
            span,
        )
    }

    /// Validates the value starting at `buf[p]` (scalar scanner; positions are
    /// absolute in `buf`): its end, or the reject status.
    #[inline]
    pub fn scan_at(&mut self, buf: &[u8], p: usize) -> Result<usize, i32> {
        self.picks.reset();
        scan_value(buf, p, &mut self.picks)
    }

    /// Outcome of the value `scan_at(buf, p)` just accepted.
    #[inline]
    pub fn accept_value(&self, buf: &[u8], p: usize) -> Outcome {
        if buf[p] != b'{' {
            return Outcome::reject(NOT_OBJECT);
        }
        self.accepted(buf)
    }

    #[inline]
    fn accepted(&self, rec: &[u8]) -> Outcome {
        let (status, hash_lo, hash_hi, event_time) = self.picks.finish(rec);
        Outcome {
            status,
            hash_lo,
            hash_hi,
            event_time,
        }
    }
}
