//! Compiled configuration and the per-record table of where the configured
//! top-level fields were found; turns a validated record into its slot
//! values (status, key hash, event time).

use crate::contract::{FLAG_EVENT_TIME_INVALID, KEYED, UNKEYED};
use std::cell::Cell;

use crate::event_time::{parse_event_time_with, DateCache};
use crate::hash::KeyHasher;
use crate::scan::Members;

/// The parser configuration (`ParseConfig` in contract.ts).
#[derive(Clone, Debug)]
pub struct Config {
    pub key_fields: Vec<Vec<u8>>,
    pub event_time_field: Vec<u8>,
    pub max_record_bytes: usize,
}

const ABSENT: u32 = u32::MAX;

/// Value span per field for the current record: key fields in configured
/// order, then the event-time field.
pub struct Picks {
    names: Vec<Vec<u8>>,
    /// Bit L set when some configured name is L bytes long (L < 64); longer
    /// names set bit 63. Most member names match no field and are turned away
    /// by one bit test.
    len_mask: u64,
    key_count: usize,
    start: Vec<u32>,
    end: Vec<u32>,
    /// Last converted ISO date (see `DateCache`).
    date: Cell<DateCache>,
}

impl Picks {
    pub fn new(cfg: &Config) -> Self {
        let mut names = cfg.key_fields.clone();
        names.push(cfg.event_time_field.clone());
        let n = names.len();
        let len_mask = names.iter().fold(0u64, |m, name| m | 1u64 << name.len().min(63));
        Picks {
            names,
            len_mask,
            key_count: cfg.key_fields.len(),
            start: vec![ABSENT; n],
            end: vec![0; n],
            date: Cell::new(DateCache::default()),
        }
    }

    #[inline]
    pub fn reset(&mut self) {
        self.start.fill(ABSENT);
    }

    /// The record's outcome once it is known to be a valid object:
    /// `(status, hashLo, hashHi, eventTime)`.
    pub fn finish(&self, rec: &[u8]) -> (i32, i32, i32, f64) {
        let (status, lo, hi, et, _) = self.finish_with(rec, false);
        (status, lo, hi, et)
    }

    /// `finish`, except that with `defer` and exactly one key field the key
    /// hash of a keyed record is left to the caller: the raw value's span
    /// (relative to `rec`) is returned instead, and the hash words are 0.
    /// (Hashing is a serial chain of multiplies per byte; the caller hashes
    /// several records' keys interleaved.)
    #[inline]
    pub fn finish_with(&self, rec: &[u8], defer: bool) -> (i32, i32, i32, f64, Option<(usize, usize)>) {
        let k = self.key_count;
        let keyed = k > 0 && self.start[..k].iter().all(|&s| s != ABSENT);
        let mut span = None;
        let (mut status, lo, hi) = if keyed {
            if defer && k == 1 {
                span = Some((self.start[0] as usize, self.end[0] as usize));
                (KEYED, 0, 0)
            } else {
                let mut h = KeyHasher::new();
                for f in 0..k {
                    h.field(&rec[self.start[f] as usize..self.end[f] as usize]);
                }
                let (lo, hi) = h.finish();
                (KEYED, lo, hi)
            }
        } else {
            (UNKEYED, 0, 0)
        };
        let et = match self.start[k] {
            ABSENT => f64::NAN,
            s => match parse_event_time_with(&rec[s as usize..self.end[k] as usize], &self.date) {
                Some(v) => v,
                None => {
                    status |= FLAG_EVENT_TIME_INVALID;
                    f64::NAN
                }
            },
        };
        (status, lo, hi, et, span)
    }
}

impl Members for Picks {
    /// Every matching field takes the span, so a later duplicate member
    /// overwrites an earlier one (last occurrence wins) and a name configured
    /// both as a key and as the event-time field feeds both.
    #[inline]
    fn member(&mut self, rec: &[u8], key: (usize, usize), val: (usize, usize)) {
        let name = &rec[key.0..key.1];
        if self.len_mask & (1u64 << name.len().min(63)) == 0 {
            return;
        }
        for (f, want) in self.names.iter().enumerate() {
            if want.len() == name.len() && want.iter().zip(name).all(|(a, b)| a == b) {
                self.start[f] = val.0 as u32;
                self.end[f] = val.1 as u32;
            }
        }
    }
}
