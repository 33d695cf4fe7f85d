//! Ring positions: counters that only grow (wrapping at `usize::MAX`); a
//! position's slot is `pos & mask`.
//!
//! Two live positions of one ring are never more than a few capacities
//! apart, far less than `2^63`, so their wrapping difference read as an
//! `isize` orders them correctly across the wrap.

/// How far position `a` is ahead of position `b`: `a - b` as a signed
/// distance, negative when `a` is behind.
#[inline]
pub(crate) fn ahead(a: usize, b: usize) -> isize {
    a.wrapping_sub(b) as isize
}

/// The earlier of two positions.
#[inline]
pub(crate) fn earlier(a: usize, b: usize) -> usize {
    if ahead(b, a) < 0 {
        b
    } else {
        a
    }
}

/// The later of two positions.
#[inline]
pub(crate) fn later(a: usize, b: usize) -> usize {
    if ahead(b, a) > 0 {
        b
    } else {
        a
    }
}

#[cfg(test)]
mod tests {
    use super::{ahead, earlier, later};

    #[test]
    fn orders_positions_across_the_wrap() {
        assert_eq!(ahead(5, 3), 2);
        assert_eq!(ahead(3, 5), -2);
        assert_eq!(ahead(0, usize::MAX), 1);
        assert_eq!(ahead(usize::MAX, 1), -2);
        assert_eq!(earlier(usize::MAX, 1), usize::MAX);
        assert_eq!(later(usize::MAX, 1), 1);
    }
}
