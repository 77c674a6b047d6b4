//! TCP sequence numbers compare modulo 2^32 (RFC 9293 3.4): `a < b` means `b` is ahead of `a` by
//! less than 2^31. Raw `u32` comparisons are wrong across the wrap, so every comparison goes
//! through this type.

use std::cmp::Ordering;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Seq(pub u32);

impl Seq {
    /// `self + n`, wrapping.
    #[must_use]
    pub fn plus(self, n: u32) -> Self {
        Self(self.0.wrapping_add(n))
    }

    /// Signed distance from `other` to `self`.
    pub fn diff(self, other: Self) -> i64 {
        // Reinterpreting the wrapped difference as i32 is the modular comparison itself.
        i64::from(i32::from_ne_bytes(
            self.0.wrapping_sub(other.0).to_ne_bytes(),
        ))
    }

    /// True when `self` lies in `[start, start + len)`, modulo 2^32.
    pub fn in_range(self, start: Self, len: u32) -> bool {
        self.0.wrapping_sub(start.0) < len
    }
}

impl PartialOrd for Seq {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.diff(*other).cmp(&0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparison_survives_the_wrap() {
        let before = Seq(0xFFFF_FFF0);
        let after = before.plus(0x20);
        assert_eq!(after, Seq(0x10));
        assert!(before < after, "0x10 is 32 ahead of 0xfffffff0");
        assert_eq!(after.diff(before), 32);
        assert_eq!(before.diff(after), -32);
    }

    #[test]
    fn in_range_is_half_open_and_wraps() {
        let start = Seq(0xFFFF_FFFE);
        assert!(start.in_range(start, 1));
        assert!(Seq(1).in_range(start, 4));
        assert!(!Seq(2).in_range(start, 4));
        assert!(!Seq(0xFFFF_FFFD).in_range(start, 4));
    }
}
