//! The contract's two-lane key hash (see contract.ts, "Key").

const LO_SEED: u32 = 0x811C_9DC5;
const LO_MUL: u32 = 0x0100_0193;
const HI_SEED: u32 = 0x9E37_79B9;
const HI_MUL: u32 = 0x5BD1_E995;

/// Separator appended after every key field's raw value.
pub const FIELD_END: u8 = 0xFF;

#[inline(always)]
pub fn fmix32(mut h: u32) -> u32 {
    h ^= h >> 16;
    h = h.wrapping_mul(0x85EB_CA6B);
    h ^= h >> 13;
    h = h.wrapping_mul(0xC2B2_AE35);
    h ^= h >> 16;
    h
}

/// Streaming state of both lanes.
#[derive(Clone, Copy, Debug)]
pub struct KeyHasher {
    lo: u32,
    hi: u32,
}

impl Default for KeyHasher {
    fn default() -> Self {
        Self::new()
    }
}

impl KeyHasher {
    #[inline(always)]
    pub fn new() -> Self {
        KeyHasher {
            lo: LO_SEED,
            hi: HI_SEED,
        }
    }

    #[inline(always)]
    pub fn byte(&mut self, b: u8) {
        self.lo = (self.lo ^ b as u32).wrapping_mul(LO_MUL);
        let h = (self.hi ^ b as u32).wrapping_mul(HI_MUL);
        self.hi = h ^ (h >> 15);
    }

    #[inline]
    pub fn bytes(&mut self, data: &[u8]) {
        let (mut lo, mut hi) = (self.lo, self.hi);
        for &b in data {
            lo = (lo ^ b as u32).wrapping_mul(LO_MUL);
            let h = (hi ^ b as u32).wrapping_mul(HI_MUL);
            hi = h ^ (h >> 15);
        }
        self.lo = lo;
        self.hi = hi;
    }

    /// Feeds one key field: its raw value text followed by the 0xFF separator.
    #[inline]
    pub fn field(&mut self, raw: &[u8]) {
        self.bytes(raw);
        self.byte(FIELD_END);
    }

    /// `(hashLo, hashHi)` as the signed Int32 words stored in a slot.
    #[inline(always)]
    pub fn finish(self) -> (i32, i32) {
        (fmix32(self.lo) as i32, fmix32(self.hi) as i32)
    }
}

/// Key hashes of four single-field keys (each raw value followed by the
/// separator), computed in lockstep: the per-byte multiply chains of the four
/// keys are independent, so the CPU overlaps them (one key alone is
/// latency-bound: each byte waits for the previous byte's multiply; profile
/// figures in bench/RESULTS.md).
#[inline]
pub fn hash_fields4(keys: [&[u8]; 4]) -> [(i32, i32); 4] {
    let common = keys.iter().map(|k| k.len()).min().unwrap_or(0);
    let (mut l0, mut l1, mut l2, mut l3) = (LO_SEED, LO_SEED, LO_SEED, LO_SEED);
    let (mut h0, mut h1, mut h2, mut h3) = (HI_SEED, HI_SEED, HI_SEED, HI_SEED);
    #[inline(always)]
    fn step(lo: &mut u32, hi: &mut u32, b: u8) {
        *lo = (*lo ^ b as u32).wrapping_mul(LO_MUL);
        let h = (*hi ^ b as u32).wrapping_mul(HI_MUL);
        *hi = h ^ (h >> 15);
    }
    let (k0, k1, k2, k3) = (&keys[0][..common], &keys[1][..common], &keys[2][..common], &keys[3][..common]);
    for j in 0..common {
        step(&mut l0, &mut h0, k0[j]);
        step(&mut l1, &mut h1, k1[j]);
        step(&mut l2, &mut h2, k2[j]);
        step(&mut l3, &mut h3, k3[j]);
    }
    let mut out = [(0, 0); 4];
    for (lane, (lo, hi)) in [(l0, h0), (l1, h1), (l2, h2), (l3, h3)].into_iter().enumerate() {
        let mut h = KeyHasher { lo, hi };
        h.field(&keys[lane][common..]);
        out[lane] = h.finish();
    }
    out
}

/// Hash of complete key bytes (separators already included).
pub fn hash_key_bytes(key: &[u8]) -> (i32, i32) {
    let mut h = KeyHasher::new();
    h.bytes(key);
    h.finish()
}
