//! Strict UTF-8 checking of the bytes inside JSON strings (RFC 3629):
//! overlong forms, surrogate code points U+D800..DFFF, code points above
//! U+10FFFF, truncated sequences and stray continuation bytes are all errors.

#[inline(always)]
fn is_cont(b: u8) -> bool {
    (b & 0xC0) == 0x80
}

/// Length of the well-formed multi-byte sequence starting at `b[i]`
/// (`b[i] >= 0x80`), or `None` when it is malformed. A sequence cut short by
/// the end of `b` or by a byte that is not a valid continuation is malformed.
#[inline]
pub fn multibyte_len(b: &[u8], i: usize) -> Option<usize> {
    let lead = b[i];
    let get = |k: usize| b.get(i + k).copied();
    match lead {
        0xC2..=0xDF => match get(1) {
            Some(c1) if is_cont(c1) => Some(2),
            _ => None,
        },
        0xE0..=0xEF => {
            let c1 = get(1)?;
            let ok1 = match lead {
                0xE0 => (0xA0..=0xBF).contains(&c1),
                0xED => (0x80..=0x9F).contains(&c1),
                _ => is_cont(c1),
            };
            if !ok1 {
                return None;
            }
            match get(2) {
                Some(c2) if is_cont(c2) => Some(3),
                _ => None,
            }
        }
        0xF0..=0xF4 => {
            let c1 = get(1)?;
            let ok1 = match lead {
                0xF0 => (0x90..=0xBF).contains(&c1),
                0xF4 => (0x80..=0x8F).contains(&c1),
                _ => is_cont(c1),
            };
            if !ok1 {
                return None;
            }
            match (get(2), get(3)) {
                (Some(c2), Some(c3)) if is_cont(c2) && is_cont(c3) => Some(4),
                _ => None,
            }
        }
        // 0x80..=0xBF: stray continuation; 0xC0/0xC1: overlong; 0xF5..: > U+10FFFF
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::multibyte_len;

    /// Every byte sequence of length 1..=4 starting with a byte >= 0x80 agrees
    /// with the standard library's validator about the first character.
    #[test]
    fn agrees_with_std_on_exhaustive_prefixes() {
        let conts = [0x00u8, 0x22, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xFF];
        for lead in 0x80u8..=0xFF {
            for &c1 in &conts {
                for &c2 in &conts {
                    for &c3 in &conts {
                        let seq = [lead, c1, c2, c3];
                        let n = char_len(lead);
                        let want = std::str::from_utf8(&seq[..n]).ok().map(|_| n);
                        assert_eq!(multibyte_len(&seq, 0), want, "{seq:02x?}");
                    }
                }
            }
        }
    }

    fn char_len(lead: u8) -> usize {
        match lead {
            0xC0..=0xDF => 2,
            0xE0..=0xEF => 3,
            _ => 4,
        }
    }

    #[test]
    fn truncated_at_end() {
        assert_eq!(multibyte_len(&[0xC3], 0), None);
        assert_eq!(multibyte_len(&[0xE2, 0x82], 0), None);
        assert_eq!(multibyte_len(&[0xF0, 0x9F, 0x98], 0), None);
        assert_eq!(multibyte_len(&[0xE2, 0x82, 0xAC], 0), Some(3));
    }
}
