//! Batch insert into the shared dedup table (`src/dedup/layout.ts` owns the
//! layout and the locking argument; this is the same algorithm, one call per
//! range instead of one JS call per record).
//!
//! Why native at all: on the main thread an insert is one dependent DRAM round
//! trip plus a page walk, and JS can only overlap them by "touching" buckets
//! ahead with real loads. Here the buckets of the next `PREFETCH_AHEAD` keyed
//! slots are requested with prefetch instructions, which do not stall, so the
//! misses of a whole window are in flight at once.
//!
//! Compatibility with JS threads inserting into the same table at the same
//! time is kept exactly: every insert takes the version words of the buckets
//! of its probe sequence it scans with a compare-exchange (odd = held) and
//! releases them with SeqCst stores, and the watermark is published under the
//! same seqlock. Where JS would wait (a held bucket, a held watermark seqlock)
//! or throw (a non-finite time), this lets go of what it holds BEFORE changing
//! anything for that slot and returns its index; the caller's JS path handles
//! that slot and calls again for the rest.

use std::sync::atomic::{AtomicI32, Ordering};

use crate::contract::{SLOT_WORDS, W_HASH_HI, W_HASH_LO, W_STATUS};

/// Layout constants, mirrored from src/dedup/layout.ts (a vitest test compares
/// native and JS inserts byte for byte over the whole table).
const DEDUP_MAGIC: i32 = 0x4444_5539;
const H_MAGIC: usize = 0;
const H_BUCKETS: usize = 1;
const H_BUCKET_SLOTS: usize = 2;
const H_WINDOW_F64: usize = 2;
const H_FORGOTTEN_LO: usize = 18;
const H_FORGOTTEN_HI: usize = 19;
const H_FORGOTTEN_IN_WINDOW_LO: usize = 20;
const H_FORGOTTEN_IN_WINDOW_HI: usize = 21;
const H_FILLED: usize = 22;
const H_WM_SEQ: usize = 32;
const H_WATERMARK_F64: usize = 17;
const H_LOW_WATERMARK_F64: usize = 18;
/// Buckets in a key's probe sequence (layout.ts, "Where a key lives").
const PROBE_BUCKETS: usize = 8;
const BUCKETS_BYTE: usize = 256;
const BUCKET_BYTES: usize = 128;
const BUCKET_SLOTS: usize = 7;
/// Byte offsets inside a bucket: the version word, then 16-byte slots
/// (hashLo, hashHi, time f64) from byte 16.
const SLOT0_BYTE: usize = 16;
/// The home bucket's SPILL word (layout.ts H_SPILL): the header's second Int32.
const SPILL_BYTE: usize = 4;
const SLOT_BYTES: usize = 16;

/// Status code bits of a result slot (contract.ts STATUS_CODE_MASK) and KEYED.
const STATUS_CODE_MASK: i32 = 0xff;
const KEYED: i32 = 0;

pub const VERDICT_NEW: u8 = 0;
pub const VERDICT_DUPLICATE: u8 = 1;
/// Not a keyed slot: nothing inserted.
pub const VERDICT_NONE: u8 = 3;

/// Keyed slots whose buckets are requested before the current insert: enough
/// misses in flight at once; 16 is in the middle of a range that measured
/// alike, and fewer did worse (bench/dedup.ts, native batch insert; figures
/// in bench/RESULTS.md).
const PREFETCH_AHEAD: usize = 16;

/// `Number.MIN_VALUE`: how an event time of ±0 is stored (0.0 marks empty).
const STORED_ZERO_TIME: f64 = 5e-324;
const TO_UNIT: f64 = 1.0 / 4_294_967_296.0;

/// Index of `state` words (Float64): the inserting handle's WatermarkView.
pub const WM_VALUE: usize = 0;
pub const WM_PUBLISHED: usize = 1;
pub const WM_STEP: usize = 2;
pub const WM_STATE_WORDS: usize = 3;

#[derive(Debug, PartialEq, Eq)]
pub enum DedupError {
    NotATable,
    SlotsTooShort,
    VerdictsTooShort,
    StateTooShort,
}

impl std::fmt::Display for DedupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DedupError::NotATable => "table must be the Int32Array of a DedupTable's SharedArrayBuffer",
            DedupError::SlotsTooShort => "slots must hold `count` result slots",
            DedupError::VerdictsTooShort => "verdicts must have at least `count` bytes",
            DedupError::StateTooShort => "state must have 3 words (watermark value, published, step)",
        })
    }
}

/// The same bucket choice as layout.ts bucketIndex(), operation for operation
/// in f64 so every thread (JS or native) computes the same value.
#[inline(always)]
pub fn bucket_index(hash_lo: i32, hash_hi: i32, buckets: u32) -> usize {
    let hi = hash_hi as u32;
    let mix = (hash_lo as u32) ^ (hi ^ (hi >> 15)).wrapping_mul(0x2c1b_3c6d);
    ((mix as f64) * (buckets as f64) * TO_UNIT) as i32 as usize
}

/// A view of a table's memory. All access goes through raw pointers: other
/// threads may be inserting into the same memory.
pub struct Table {
    base: *mut u8,
    buckets: u32,
    /// Slots in all buckets, the tail included (FILLED reaching it: no empty slot left).
    slots: usize,
    window: f64,
}

impl Table {
    /// # Safety
    /// `base` must point to `len` bytes that stay valid for the Table's life.
    pub unsafe fn attach(base: *mut u8, len: usize) -> Result<Table, DedupError> {
        if len < BUCKETS_BYTE || (base as usize) % 8 != 0 {
            return Err(DedupError::NotATable);
        }
        let t = Table { base, buckets: 0, slots: 0, window: 0.0 };
        if t.atomic(H_MAGIC * 4).load(Ordering::SeqCst) != DEDUP_MAGIC {
            return Err(DedupError::NotATable);
        }
        let buckets = std::ptr::read(base.add(H_BUCKETS * 4) as *const i32);
        let slots = std::ptr::read(base.add(H_BUCKET_SLOTS * 4) as *const i32);
        if buckets <= 0 || slots != BUCKET_SLOTS as i32 || BUCKETS_BYTE + (buckets as usize + PROBE_BUCKETS - 1) * BUCKET_BYTES != len {
            return Err(DedupError::NotATable);
        }
        let window = std::ptr::read(base.add(H_WINDOW_F64 * 8) as *const f64);
        Ok(Table { base, buckets: buckets as u32, slots: (buckets as usize + PROBE_BUCKETS - 1) * BUCKET_SLOTS, window })
    }

    #[inline(always)]
    fn atomic(&self, byte: usize) -> &AtomicI32 {
        // SAFETY: in bounds (checked at attach), 4-aligned, shared memory that
        // other threads access only atomically at these words.
        unsafe { &*(self.base.add(byte) as *const AtomicI32) }
    }

    #[inline(always)]
    fn bucket_byte(&self, b: usize) -> usize {
        BUCKETS_BYTE + b * BUCKET_BYTES
    }

    #[inline(always)]
    fn prefetch(&self, b: usize) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: prefetch never faults; the address is inside the table.
        unsafe {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            // Both lines of the bucket: a full bucket's scan reads slots 3–6 too.
            let p = self.base.add(self.bucket_byte(b)) as *const i8;
            _mm_prefetch::<_MM_HINT_T0>(p);
            _mm_prefetch::<_MM_HINT_T0>(p.add(64));
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = b;
    }

    #[inline(always)]
    unsafe fn slot_hash(&self, bb: usize, j: usize) -> (i32, i32) {
        let p = self.base.add(bb + SLOT0_BYTE + j * SLOT_BYTES) as *const i32;
        (std::ptr::read(p), std::ptr::read(p.add(1)))
    }

    #[inline(always)]
    unsafe fn slot_time(&self, bb: usize, j: usize) -> f64 {
        std::ptr::read(self.base.add(bb + SLOT0_BYTE + j * SLOT_BYTES + 8) as *const f64)
    }

    #[inline(always)]
    unsafe fn set_slot_time(&self, bb: usize, j: usize, t: f64) {
        std::ptr::write(self.base.add(bb + SLOT0_BYTE + j * SLOT_BYTES + 8) as *mut f64, t);
    }

    #[inline(always)]
    unsafe fn set_slot_hash(&self, bb: usize, j: usize, lo: i32, hi: i32) {
        let p = self.base.add(bb + SLOT0_BYTE + j * SLOT_BYTES) as *mut i32;
        std::ptr::write(p, lo);
        std::ptr::write(p.add(1), hi);
    }

    fn low_watermark(&self) -> f64 {
        // SAFETY: header word, 8-aligned; written by the engine's thread between calls.
        unsafe { std::ptr::read_volatile(self.base.add(H_LOW_WATERMARK_F64 * 8) as *const f64) }
    }

    /// A 64-bit counter kept as two words, as the JS side increments it.
    fn count(&self, lo: usize, hi: usize) {
        if self.atomic(lo * 4).fetch_add(1, Ordering::SeqCst) == -1 {
            self.atomic(hi * 4).fetch_add(1, Ordering::SeqCst);
        }
    }

    fn shared_watermark(&self) -> f64 {
        // SAFETY: header word, 8-aligned; written only under the WM_SEQ seqlock.
        unsafe { std::ptr::read_volatile(self.base.add(H_WATERMARK_F64 * 8) as *const f64) }
    }
}

/// A slot view over the engine's result slots (8 Int32 words each).
struct Slots {
    words: *mut i32,
}

impl Slots {
    #[inline(always)]
    fn word(&self, s: usize, w: usize) -> i32 {
        // SAFETY: s < count, checked against the slice length by the caller.
        unsafe { *self.words.add(s * SLOT_WORDS + w) }
    }
    #[inline(always)]
    fn time(&self, s: usize) -> f64 {
        unsafe { std::ptr::read(self.words.add(s * SLOT_WORDS) as *const f64) }
    }
    #[inline(always)]
    fn set_time(&self, s: usize, t: f64) {
        unsafe { std::ptr::write(self.words.add(s * SLOT_WORDS) as *mut f64, t) }
    }
    #[inline(always)]
    fn keyed(&self, s: usize) -> bool {
        self.word(s, W_STATUS) & STATUS_CODE_MASK == KEYED
    }
}

/// What publishing or adopting the shared watermark did.
enum Seq {
    Done,
    /// The seqlock is held by another thread: let JS wait for it.
    Busy,
}

/// WatermarkView.publish(t): the shared copy becomes max(shared, t); a later
/// shared value is adopted into `value`.
fn publish(table: &Table, wm: &mut [f64], t: f64) -> Seq {
    let seq = table.atomic(H_WM_SEQ * 4);
    loop {
        let s = seq.load(Ordering::SeqCst);
        if s & 1 != 0 {
            return Seq::Busy;
        }
        let shared = table.shared_watermark();
        if shared >= t {
            if seq.compare_exchange(s, s, Ordering::SeqCst, Ordering::SeqCst).is_err() {
                continue;
            }
            wm[WM_VALUE] = t;
            wm[WM_PUBLISHED] = t;
            wm[WM_VALUE] = shared;
            return Seq::Done;
        }
        if seq.compare_exchange(s, s.wrapping_add(1), Ordering::SeqCst, Ordering::SeqCst).is_err() {
            continue;
        }
        // SAFETY: we hold the seqlock (odd) until the store below.
        unsafe { std::ptr::write_volatile(table.base.add(H_WATERMARK_F64 * 8) as *mut f64, t) };
        seq.store(s.wrapping_add(2), Ordering::SeqCst);
        wm[WM_VALUE] = t;
        wm[WM_PUBLISHED] = t;
        return Seq::Done;
    }
}

/// One key into its probe sequence (layout.ts: "Where a key lives",
/// "Forgetting", "Per-bucket lock"), or None, with nothing changed and nothing
/// held, when a bucket it needs is held by another thread.
#[inline(always)]
fn insert_one(table: &Table, home: usize, lo: i32, hi: i32, t: f64, window: f64, wm_value: f64) -> Option<u8> {
    let stored = if t == 0.0 { STORED_ZERO_TIME } else { t };
    let mut held = [0i32; PROBE_BUCKETS];
    let mut taken = 0usize;
    let mut victim_time = f64::INFINITY;
    let mut victim = (0usize, 0usize);
    let mut result: Option<u8> = None;
    // Keys homed here lie in home … home+spill; past it only an empty slot is looked for.
    let mut spill = PROBE_BUCKETS - 1;
    let release = |taken: usize, held: &[i32; PROBE_BUCKETS]| {
        for (p, v) in held.iter().enumerate().take(taken) {
            table.atomic(table.bucket_byte(home + p)).store(v.wrapping_add(2), Ordering::SeqCst);
        }
    };
    'probe: for p in 0..PROBE_BUCKETS {
        if p > spill && table.atomic(H_FILLED * 4).load(Ordering::SeqCst) as usize >= table.slots {
            break;
        }
        let bb = table.bucket_byte(home + p);
        let version = table.atomic(bb);
        // The first access to a bucket is a compare-exchange guessing a
        // never-used bucket (version 0), not a load: a write. On a page no one
        // touched yet, a load maps the shared zero page and the write after it
        // faults again (copy on write) and flushes the TLB of every core
        // running this process; a write faults once.
        let mut guess = 0;
        let v = loop {
            match version.compare_exchange(guess, guess.wrapping_add(1), Ordering::SeqCst, Ordering::SeqCst) {
                Ok(v) => break v,
                Err(seen) if seen & 1 != 0 => {
                    release(taken, &held);
                    return None;
                }
                Err(seen) => guess = seen,
            }
        };
        held[p] = v;
        taken = p + 1;
        if p == 0 {
            // SAFETY: the home bucket's header word, held by us.
            spill = unsafe { std::ptr::read(table.base.add(bb + SPILL_BYTE) as *const i32) } as usize;
        }
        for j in 0..BUCKET_SLOTS {
            // SAFETY: bucket home + p < buckets + PROBE_BUCKETS - 1 (the tail), held by us.
            let et = unsafe { table.slot_time(bb, j) };
            if et == 0.0 {
                unsafe {
                    table.set_slot_hash(bb, j, lo, hi);
                    table.set_slot_time(bb, j, stored);
                    if p > spill {
                        std::ptr::write(table.base.add(table.bucket_byte(home) + SPILL_BYTE) as *mut i32, p as i32);
                    }
                }
                table.atomic(H_FILLED * 4).fetch_add(1, Ordering::SeqCst);
                result = Some(VERDICT_NEW);
                break 'probe;
            }
            if p > spill {
                continue;
            }
            let (klo, khi) = unsafe { table.slot_hash(bb, j) };
            if klo == lo && khi == hi {
                let d = t - et;
                if d <= window && d >= -window {
                    result = Some(VERDICT_DUPLICATE);
                    break 'probe;
                }
                // Same key outside this entry's window: look on (layout.ts, "Slot states").
            }
            if et < victim_time {
                victim_time = et;
                victim = (bb, j);
            }
        }
    }
    let replacing = result.is_none();
    if replacing {
        // No room where the key may live: replace the oldest entry there.
        unsafe {
            table.set_slot_hash(victim.0, victim.1, lo, hi);
            table.set_slot_time(victim.0, victim.1, stored);
        }
    }
    release(taken, &held);
    if replacing {
        table.count(H_FORGOTTEN_LO, H_FORGOTTEN_HI);
        let low = table.low_watermark();
        let reference = if low.is_nan() { wm_value } else { low };
        if victim_time + window >= reference {
            table.count(H_FORGOTTEN_IN_WINDOW_LO, H_FORGOTTEN_IN_WINDOW_HI);
        }
    }
    Some(result.unwrap_or(VERDICT_NEW))
}

/// Inserts the keyed slots of `slots[first..count)` in order, as
/// DedupTable.insertAt would one by one, writing each slot's verdict to
/// `verdicts[s]` (VERDICT_NONE for slots that are not keyed). A keyed slot
/// whose time is NaN gets `arrival` first (written back into the slot, as the
/// JS emit stage does). Returns the index of the first slot NOT handled:
/// `count` when all were, otherwise a slot that JS must insert itself (its
/// bucket or the watermark seqlock is held by another thread, or its time is
/// not finite). Its bucket was not touched; its missing time may already be
/// filled in and the watermark raised, which insertAt then does again to the
/// same effect.
///
/// # Safety
/// `table` must come from `Table::attach` over live memory; `slot_words`
/// must hold `count * SLOT_WORDS` words and stay valid and unshared with
/// other writers for the call.
pub unsafe fn insert_slots(
    table: &Table,
    slot_words: *mut i32,
    first: usize,
    count: usize,
    arrival: f64,
    wm: &mut [f64],
    verdicts: &mut [u8],
) -> usize {
    let slots = Slots { words: slot_words };
    let buckets = table.buckets;
    let window = table.window;
    let step = wm[WM_STEP];
    // The prefetch cursor runs PREFETCH_AHEAD keyed slots ahead of `s`.
    let mut ahead = first;
    let mut ahead_keyed = 0usize;
    let mut s = first;
    while s < count {
        while ahead < count && ahead_keyed < PREFETCH_AHEAD {
            if slots.keyed(ahead) {
                table.prefetch(bucket_index(slots.word(ahead, W_HASH_LO), slots.word(ahead, W_HASH_HI), buckets));
                ahead_keyed += 1;
            }
            ahead += 1;
        }
        if !slots.keyed(s) {
            verdicts[s] = VERDICT_NONE;
            s += 1;
            continue;
        }
        ahead_keyed -= 1;
        let mut t = slots.time(s);
        if t.is_nan() {
            t = arrival;
        }
        if !t.is_finite() {
            return s;
        }
        // Watermark first, as insertAt does; publishing may need the seqlock.
        if t > wm[WM_VALUE] {
            if t - wm[WM_PUBLISHED] >= step {
                if let Seq::Busy = publish(table, wm, t) {
                    return s;
                }
            } else {
                wm[WM_VALUE] = t;
            }
        }
        let lo = slots.word(s, W_HASH_LO);
        let hi = slots.word(s, W_HASH_HI);
        let home = bucket_index(lo, hi, buckets);
        let verdict = match insert_one(table, home, lo, hi, t, window, wm[WM_VALUE]) {
            Some(v) => v,
            None => {
                // A bucket of the sequence is held by another thread: JS waits for it.
                slots.set_time(s, t);
                return s;
            }
        };
        slots.set_time(s, t);
        verdicts[s] = verdict;
        s += 1;
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    fn make_table(buckets: usize, window: f64) -> Vec<u64> {
        let len = BUCKETS_BYTE + (buckets + PROBE_BUCKETS - 1) * BUCKET_BYTES;
        let mut mem = vec![0u64; len / 8];
        let p = mem.as_mut_ptr() as *mut u8;
        unsafe {
            std::ptr::write(p.add(H_BUCKETS * 4) as *mut i32, buckets as i32);
            std::ptr::write(p.add(H_BUCKET_SLOTS * 4) as *mut i32, BUCKET_SLOTS as i32);
            std::ptr::write(p.add(H_WINDOW_F64 * 8) as *mut f64, window);
            std::ptr::write(p.add(H_WATERMARK_F64 * 8) as *mut f64, f64::NEG_INFINITY);
            std::ptr::write(p.add(H_LOW_WATERMARK_F64 * 8) as *mut f64, f64::NAN);
            std::ptr::write(p.add(H_MAGIC * 4) as *mut i32, DEDUP_MAGIC);
        }
        mem
    }

    fn slot(words: &mut Vec<i32>, lo: i32, hi: i32, t: f64, status: i32) {
        let mut w = [0i32; SLOT_WORDS];
        let tb = t.to_bits();
        w[0] = tb as u32 as i32;
        w[1] = (tb >> 32) as u32 as i32;
        w[W_HASH_LO] = lo;
        w[W_HASH_HI] = hi;
        w[W_STATUS] = status;
        words.extend_from_slice(&w);
    }

    #[test]
    fn new_duplicate_expiry_and_unkeyed() {
        let mut mem = make_table(64, 100.0);
        let table = unsafe { Table::attach(mem.as_mut_ptr() as *mut u8, mem.len() * 8) }.unwrap();
        let mut words = Vec::new();
        slot(&mut words, 1, 2, 1000.0, KEYED);
        slot(&mut words, 1, 2, 1050.0, KEYED); // duplicate within 100 ms
        slot(&mut words, 9, 9, f64::NAN, 1); // unkeyed
        slot(&mut words, 1, 2, 1200.0, KEYED); // outside the window: new again
        slot(&mut words, 3, 4, f64::NAN, KEYED); // gets the arrival time
        let mut wm = [f64::NEG_INFINITY, f64::NEG_INFINITY, 100.0 / 16.0];
        let mut verdicts = [9u8; 5];
        let done = unsafe { insert_slots(&table, words.as_mut_ptr(), 0, 5, 5000.0, &mut wm, &mut verdicts) };
        assert_eq!(done, 5);
        assert_eq!(verdicts, [VERDICT_NEW, VERDICT_DUPLICATE, VERDICT_NONE, VERDICT_NEW, VERDICT_NEW]);
        assert_eq!(f64::from_bits((words[4 * SLOT_WORDS] as u32 as u64) | ((words[4 * SLOT_WORDS + 1] as u32 as u64) << 32)), 5000.0);
        assert_eq!(wm[WM_VALUE], 5000.0);
    }

    #[test]
    fn stops_before_a_held_bucket_and_a_non_finite_time() {
        let mut mem = make_table(1, 100.0);
        let table = unsafe { Table::attach(mem.as_mut_ptr() as *mut u8, mem.len() * 8) }.unwrap();
        let mut words = Vec::new();
        slot(&mut words, 1, 0, 10.0, KEYED);
        slot(&mut words, 2, 0, f64::INFINITY, KEYED);
        let mut wm = [f64::NEG_INFINITY, f64::NEG_INFINITY, 100.0 / 16.0];
        let mut verdicts = [9u8; 2];
        assert_eq!(unsafe { insert_slots(&table, words.as_mut_ptr(), 0, 2, 0.0, &mut wm, &mut verdicts) }, 1);
        table.atomic(BUCKETS_BYTE).store(7, Ordering::SeqCst);
        let before = mem.clone();
        let table = unsafe { Table::attach(mem.as_mut_ptr() as *mut u8, mem.len() * 8) }.unwrap();
        let mut words = Vec::new();
        slot(&mut words, 5, 0, 10.0, KEYED);
        assert_eq!(unsafe { insert_slots(&table, words.as_mut_ptr(), 0, 1, 0.0, &mut wm, &mut verdicts) }, 0);
        assert_eq!(mem, before);
    }

    #[test]
    fn a_full_probe_sequence_replaces_its_oldest_entry_and_counts_it() {
        // One home bucket: its sequence is that bucket and the 7 tail buckets, 56 slots.
        let mut mem = make_table(1, 10.0);
        let table = unsafe { Table::attach(mem.as_mut_ptr() as *mut u8, mem.len() * 8) }.unwrap();
        let n = BUCKET_SLOTS * PROBE_BUCKETS;
        let mut words = Vec::new();
        for k in 0..n {
            slot(&mut words, k as i32 + 1, 0, 1000.0 + k as f64, KEYED);
        }
        slot(&mut words, 9999, 0, 5000.0, KEYED); // replaces key 1 (time 1000, the oldest)
        slot(&mut words, 1, 0, 1000.0, KEYED); // key 1 again: forgotten, so NEW (replaces key 2)
        slot(&mut words, 56, 0, 1055.0, KEYED); // still held: DUPLICATE
        let total = n + 3;
        let mut wm = [f64::NEG_INFINITY, f64::NEG_INFINITY, 10.0 / 16.0];
        let mut verdicts = vec![9u8; total];
        assert_eq!(unsafe { insert_slots(&table, words.as_mut_ptr(), 0, total, 0.0, &mut wm, &mut verdicts) }, total);
        assert!(verdicts[..n + 2].iter().all(|&v| v == VERDICT_NEW));
        assert_eq!(verdicts[n + 2], VERDICT_DUPLICATE);
        assert_eq!(table.atomic(H_FORGOTTEN_LO * 4).load(Ordering::SeqCst), 2);
        // Low watermark unset: judged against the largest time (5000); 1000 + 10 < 5000.
        assert_eq!(table.atomic(H_FORGOTTEN_IN_WINDOW_LO * 4).load(Ordering::SeqCst), 0);
    }

    #[test]
    fn forgetting_inside_the_window_of_the_low_watermark_is_counted_apart() {
        let mut mem = make_table(1, 10.0);
        let table = unsafe { Table::attach(mem.as_mut_ptr() as *mut u8, mem.len() * 8) }.unwrap();
        unsafe { std::ptr::write(mem.as_mut_ptr().add(H_LOW_WATERMARK_F64), 1005.0f64.to_bits()) };
        let n = BUCKET_SLOTS * PROBE_BUCKETS;
        let mut words = Vec::new();
        for k in 0..=n {
            slot(&mut words, k as i32 + 1, 0, 1000.0 + k as f64, KEYED);
        }
        let mut wm = [f64::NEG_INFINITY, f64::NEG_INFINITY, 10.0 / 16.0];
        let mut verdicts = vec![9u8; n + 1];
        assert_eq!(unsafe { insert_slots(&table, words.as_mut_ptr(), 0, n + 1, 0.0, &mut wm, &mut verdicts) }, n + 1);
        assert_eq!(table.atomic(H_FORGOTTEN_IN_WINDOW_LO * 4).load(Ordering::SeqCst), 1);
    }
}
