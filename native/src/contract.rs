//! Constants mirrored from `src/parser/contract.ts` (the spec).

pub const SLOT_WORDS: usize = 8;

pub const W_OFFSET: usize = 2;
pub const W_LENGTH: usize = 3;
pub const W_HASH_LO: usize = 4;
pub const W_HASH_HI: usize = 5;
pub const W_STATUS: usize = 6;
pub const W_TAG: usize = 7;

/// Deepest nesting accepted (the top-level object counts as depth 1).
pub const MAX_DEPTH: usize = 1024;

pub const KEYED: i32 = 0;
pub const UNKEYED: i32 = 1;
pub const INVALID_JSON: i32 = 10;
pub const INVALID_UTF8: i32 = 11;
pub const CONTROL_CHAR: i32 = 12;
pub const NOT_OBJECT: i32 = 13;
pub const TRAILING_GARBAGE: i32 = 14;
pub const TOO_LARGE: i32 = 15;
pub const TOO_DEEP: i32 = 16;

pub const FLAG_EVENT_TIME_INVALID: i32 = 0x100;
/// Set only on request (Parser::mark_lf_follows), see contract.ts StatusFlag.LF_FOLLOWS.
pub const FLAG_LF_FOLLOWS: i32 = 0x200;

pub const FRAMING_LINES: u32 = 0;
pub const FRAMING_SINGLE: u32 = 1;
pub const FRAMING_ARRAY: u32 = 2;

pub const PHASE_BEFORE_ARRAY: u32 = 0;
pub const PHASE_FIRST_ELEMENT: u32 = 1;
pub const PHASE_NEXT_ELEMENT: u32 = 2;
pub const PHASE_AFTER_ELEMENT: u32 = 3;
pub const PHASE_DONE: u32 = 4;

pub const STATE_CONSUMED_END: usize = 0;
pub const STATE_CARRY_PHASE: usize = 1;
pub const STATE_SLOTS: usize = 2;
pub const STATE_WORDS: usize = 4;

/// JSON whitespace: exactly space, tab, CR, LF.
#[inline(always)]
pub fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}
