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

/// `Picks::by_len` entry: no configured name has this length.
const NO_NAME: u8 = u8::MAX;
/// `Picks::by_len` entry: several names, or a name longer than 16 bytes
/// (compared byte by byte out of line).
const SLOW_NAME: u8 = u8::MAX - 1;

/// A configured name of at most 16 bytes as two zero-padded little-endian
/// words and the masks of its bytes: compared with the 16 bytes at a member
/// name's start in a few word operations, no loop.
#[derive(Clone, Copy)]
struct Short {
    words: [u64; 2],
    masks: [u64; 2],
}

impl Short {
    fn new(name: &[u8]) -> Self {
        let len = name.len().min(16);
        let mut padded = [0u8; 16];
        padded[..len].copy_from_slice(&name[..len]);
        let mut mask = [0u8; 16];
        mask[..len].fill(0xFF);
        let word = |b: &[u8; 16], k: usize| u64::from_le_bytes(b[8 * k..8 * k + 8].try_into().expect("8 bytes"));
        Short {
            words: [word(&padded, 0), word(&padded, 1)],
            masks: [word(&mask, 0), word(&mask, 1)],
        }
    }

    /// Whether the 16 bytes at `at` (a member name of this name's length,
    /// then whatever follows it) start with this name.
    #[inline(always)]
    fn matches(&self, at: &[u8; 16]) -> bool {
        let lo = u64::from_le_bytes(at[..8].try_into().expect("8 bytes"));
        let hi = u64::from_le_bytes(at[8..].try_into().expect("8 bytes"));
        (lo & self.masks[0] == self.words[0]) & (hi & self.masks[1] == self.words[1])
    }
}

/// Value span per field for the current record: key fields in configured
/// order, then the event-time field.
pub struct Picks {
    names: Vec<Vec<u8>>,
    /// Per member-name length (lengths >= 63 share entry 63): the one
    /// configured name of that length (index into `names`), `NO_NAME` or
    /// `SLOW_NAME`. Most member names are turned away by this one load and
    /// compare; a name of the right length is then one `Short` compare,
    /// inline. The byte loop over all names it replaces was a call per
    /// candidate with a mispredicted loop exit, a large share of the
    /// small-orders profile (`id` and `timestamp` are candidates in every
    /// record); the table is faster (files bench; figures in
    /// bench/RESULTS.md). (The same loop with `Short` compares, still a
    /// call: no faster.)
    by_len: [u8; 64],
    /// `names` as word patterns (exact for names of at most 16 bytes, the
    /// ones `by_len` points to directly).
    short: Vec<Short>,
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
        let mut by_len = [NO_NAME; 64];
        for (f, name) in names.iter().enumerate() {
            let slot = &mut by_len[name.len().min(63)];
            *slot = if *slot == NO_NAME && name.len() <= 16 && f < SLOW_NAME as usize {
                f as u8
            } else {
                SLOW_NAME
            };
        }
        Picks {
            short: names.iter().map(|name| Short::new(name)).collect(),
            names,
            by_len,
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
    /// (`always`: with plain `#[inline]` it became a call per member once
    /// the scanner's loop changed shape, and small orders got clearly slower:
    /// files bench, figures in bench/RESULTS.md.)
    #[inline(always)]
    fn member(&mut self, rec: &[u8], key: (usize, usize), val: (usize, usize)) {
        let f = self.by_len[(key.1 - key.0).min(63)];
        if f == NO_NAME {
            return;
        }
        let f = f as usize;
        // A member name is followed by at least `":` and a value, so the 16
        // bytes are almost always there.
        match rec.get(key.0..key.0 + 16) {
            Some(at) if f < self.short.len() => {
                if self.short[f].matches(at.try_into().expect("16 bytes")) {
                    self.start[f] = val.0 as u32;
                    self.end[f] = val.1 as u32;
                }
            }
            _ => self.member_named(&rec[key.0..key.1], val),
        }
    }
}

impl Picks {
    /// `member` by byte comparison with every name (`SLOW_NAME` lengths,
    /// names near the record's end).
    #[inline(never)]
    fn member_named(&mut self, name: &[u8], val: (usize, usize)) {
        for (f, want) in self.names.iter().enumerate() {
            if want.len() == name.len() && want.iter().zip(name).all(|(a, b)| a == b) {
                self.start[f] = val.0 as u32;
                self.end[f] = val.1 as u32;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Picks`' table lookup and word compare pick the same spans as a plain
    /// comparison of every member name with every configured name: names of
    /// shared lengths, longer than 16 bytes, prefixes of each other, empty,
    /// and members too close to the record's end for a 16-byte load.
    #[test]
    fn matching_agrees_with_byte_comparison() {
        let long17 = b"abcdefghijklmnopq".to_vec();
        let long70 = vec![b'n'; 70];
        let pool: Vec<Vec<u8>> = vec![
            b"id".to_vec(),
            b"ts".to_vec(),
            b"i".to_vec(),
            b"timestamp".to_vec(),
            b"timestamq".to_vec(),
            b"abcdefghijklmnop".to_vec(),
            b"abcdefghijklmnoq".to_vec(),
            long17.clone(),
            b"abcdefghijklmnopr".to_vec(),
            long70.clone(),
            vec![b'n'; 63],
            vec![b'n'; 64],
            Vec::new(),
            br"\u0069d".to_vec(),
        ];
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        for _ in 0..20_000 {
            let keys: Vec<Vec<u8>> = (0..next(3)).map(|_| pool[next(pool.len())].clone()).collect();
            let cfg = Config {
                key_fields: keys,
                event_time_field: pool[next(pool.len())].clone(),
                max_record_bytes: 1 << 20,
            };
            let mut rec = b"{".to_vec();
            for m in 0..next(6) {
                if m > 0 {
                    rec.push(b',');
                }
                rec.push(b'"');
                rec.extend_from_slice(&pool[next(pool.len())]);
                rec.extend_from_slice(b"\":");
                rec.extend_from_slice(&[b'1'; 3][..1 + next(3)]);
            }
            rec.push(b'}');
            let mut picks = Picks::new(&cfg);
            picks.reset();
            crate::scan::scan_record(&rec, &mut picks).expect("valid record");
            // Reference: every member against every name, last occurrence wins.
            let mut want = vec![ABSENT; picks.names.len()];
            let mut want_end = vec![0u32; picks.names.len()];
            struct All(Vec<((usize, usize), (usize, usize))>);
            impl Members for All {
                fn member(&mut self, _: &[u8], key: (usize, usize), val: (usize, usize)) {
                    self.0.push((key, val));
                }
            }
            let mut all = All(Vec::new());
            crate::scan::scan_record(&rec, &mut all).expect("valid record");
            for (key, val) in all.0 {
                for (f, name) in picks.names.iter().enumerate() {
                    if name[..] == rec[key.0..key.1] {
                        want[f] = val.0 as u32;
                        want_end[f] = val.1 as u32;
                    }
                }
            }
            let rec_s = String::from_utf8_lossy(&rec);
            assert_eq!(picks.start, want, "{rec_s} {:?}", picks.names);
            for f in 0..want.len() {
                if want[f] != ABSENT {
                    assert_eq!(picks.end[f], want_end[f], "{rec_s}");
                }
            }
        }
    }
}
