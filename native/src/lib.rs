//! ordertail's native parser: the contract of `src/parser/contract.ts`
//! implemented in Rust and exposed to Node through napi-rs.
#![deny(clippy::all)]

pub mod contract;
pub mod direct_write;
pub mod dedup;
pub mod event_time;
pub mod fast;
pub mod fields;
pub mod framing;
pub mod hash;
pub mod index;
pub mod memory;
pub mod pg_copy;
pub mod record;
pub mod scan;
pub mod utf8;
pub mod writeback;

// napi-derive registers exports only outside `cfg(test)`.
#[cfg(feature = "node")]
#[cfg_attr(test, allow(dead_code))]
mod glue;

#[cfg(test)]
mod tests;

use contract::*;
use fields::Config;
use framing::{Slots, Summary};

use record::{Classifier, Mode};

/// Why a chunk request was refused before any record was looked at.
#[derive(Debug, PartialEq, Eq)]
pub enum RequestError {
    Range,
    Framing,
    Phase,
    StateTooShort,
}

impl std::fmt::Display for RequestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RequestError::Range => "start/end out of range of input",
            RequestError::Framing => "unknown framing",
            RequestError::Phase => "unknown carryPhase",
            RequestError::StateTooShort => "state must have at least STATE_WORDS elements",
        })
    }
}

/// A parser bound to one configuration; owns its scratch memory.
pub struct Parser {
    cls: Classifier,
    /// Lines framing: set FLAG_LF_FOLLOWS on accepted slots whose record is
    /// directly followed by its LF (the engine's parse worker asks for it; the
    /// contract's parsers leave it unset).
    pub mark_lf_follows: bool,
}

impl Parser {
    pub fn new(cfg: &Config) -> Self {
        Self::with_mode(cfg, Mode::Auto)
    }

    pub fn with_mode(cfg: &Config, mode: Mode) -> Self {
        Parser {
            cls: Classifier::new(cfg, mode),
            mark_lf_follows: false,
        }
    }

    /// Parses `input[start..end)` into `out` (8 Int32 words per slot) and
    /// returns the summary the caller writes into `state`.
    #[allow(clippy::too_many_arguments)]
    pub fn parse_chunk(
        &mut self,
        input: &[u8],
        start: usize,
        end: usize,
        framing: u32,
        final_: bool,
        carry_phase: u32,
        out: &mut [i32],
    ) -> Result<(Summary, usize), RequestError> {
        if start > end || end > input.len() {
            return Err(RequestError::Range);
        }
        if carry_phase > PHASE_DONE {
            return Err(RequestError::Phase);
        }
        let mut slots = Slots::new(out);
        let summary = match framing {
            FRAMING_LINES => {
                let summary = framing::lines(&mut self.cls, input, start, end, final_, &mut slots);
                // A separate pass: folded into lines() it slowed Lines framing even
                // when off (files bench; figures in bench/RESULTS.md).
                if self.mark_lf_follows {
                    slots.mark_lf_follows(0, input);
                }
                summary
            }
            FRAMING_SINGLE => framing::single(&mut self.cls, input, start, end, final_, &mut slots),
            FRAMING_ARRAY => framing::array(&mut self.cls, input, start, end, final_, carry_phase, &mut slots),
            _ => return Err(RequestError::Framing),
        };
        Ok((summary, slots.count))
    }

    /// `parse_chunk` plus writing the summary into a contract `state` array.
    #[allow(clippy::too_many_arguments)]
    pub fn parse_chunk_into(
        &mut self,
        input: &[u8],
        start: usize,
        end: usize,
        framing: u32,
        final_: bool,
        carry_phase: u32,
        out: &mut [i32],
        state: &mut [f64],
    ) -> Result<(), RequestError> {
        if state.len() < STATE_WORDS {
            return Err(RequestError::StateTooShort);
        }
        let (s, n) = self.parse_chunk(input, start, end, framing, final_, carry_phase, out)?;
        state[STATE_CONSUMED_END] = s.consumed_end as f64;
        state[STATE_CARRY_PHASE] = s.carry_phase as f64;
        state[STATE_SLOTS] = n as f64;
        Ok(())
    }
}
