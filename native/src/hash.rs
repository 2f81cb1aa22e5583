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

/// Hash of complete key bytes (separators already included).
pub fn hash_key_bytes(key: &[u8]) -> (i32, i32) {
    let mut h = KeyHasher::new();
    h.bytes(key);
    h.finish()
}
