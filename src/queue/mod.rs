//! Bounded lock-free rings.
//!
//! | module | producers | consumers | claim | notes |
//! |---|---|---|---|---|
//! | [`spsc`] | 1 | 1 | none (owned cursors) | per-slot stamps; in-place chunk API |
//! | [`mpsc`] | many (`Clone`) | 1 | CAS on the tail | batch push |
//! | [`spmc`] | 1 | many (`Clone`) | CAS on the head | |
//! | [`mpmc`] | many | many | CAS on both | |
//! | [`multicast`] | 1, or many (`Clone`) | many cursors, each sees every item | CAS (many producers) | Disruptor-style consumer graph, worker groups, lossy cursors |
//!
//! All rings share one vocabulary: a power-of-two capacity (requests are
//! rounded up), non-blocking [`push`](spsc::Producer::push) returning
//! [`PushError`] (which hands the value back) and [`pop`](spsc::Consumer::pop)
//! returning [`PopError`], blocking `push_blocking` / `pop_blocking` driven by a
//! [`wait::WaitStrategy`], and `async` `send` / `recv` that register a
//! [`Waker`](std::task::Waker) and work under any executor.
//!
//! Dropping every handle of one side is observable by the other
//! (`Disconnected`), and items still in a ring are dropped exactly once when
//! the last handle goes.
//!
//! # Examples
//!
//! ```
//! use corelane::queue::{spsc, PopError};
//!
//! let (mut tx, mut rx) = spsc::channel::<u64>(4);
//! tx.push(7).unwrap();
//! assert_eq!(rx.pop(), Ok(7));
//! assert_eq!(rx.pop(), Err(PopError::Empty));
//! drop(tx);
//! assert_eq!(rx.pop(), Err(PopError::Disconnected));
//! ```

use std::fmt;

pub mod mpmc;
pub mod mpsc;
pub mod multicast;
mod position;
pub mod spmc;
pub mod spsc;
pub(crate) mod stamped;
pub mod wait;

/// Why a [`push`](spsc::Producer::push) failed; the value is handed back.
///
/// # Examples
///
/// ```
/// use corelane::queue::{spsc, PushError};
///
/// let (mut tx, _rx) = spsc::channel::<String>(1);
/// tx.push("a".to_string()).unwrap();
/// match tx.push("b".to_string()) {
///     Err(PushError::Full(v)) => assert_eq!(v, "b"),
///     other => panic!("{other:?}"),
/// }
/// ```
#[derive(PartialEq, Eq, Clone, Copy)]
pub enum PushError<T> {
    /// Every slot holds an unconsumed item.
    Full(T),
    /// The next slot is claimed by a consumer that has not finished reading
    /// it yet: the ring is not full, but this push cannot complete until
    /// that consumer moves on. Retrying is right. Only the rings whose
    /// consumers claim by CAS return it ([`spmc`], [`mpmc`]); [`spsc`],
    /// [`mpsc`] and [`multicast`] publishers never do.
    Busy(T),
    /// Every consumer is gone; the value can never be received.
    Disconnected(T),
}

impl<T> PushError<T> {
    /// Returns the value that could not be pushed.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::PushError;
    /// assert_eq!(PushError::Full(3).into_inner(), 3);
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            PushError::Full(v) | PushError::Busy(v) | PushError::Disconnected(v) => v,
        }
    }

    /// True for [`PushError::Disconnected`]: retrying can never succeed.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::PushError;
    /// assert!(PushError::Disconnected(1).is_disconnected());
    /// assert!(!PushError::Full(1).is_disconnected());
    /// ```
    pub fn is_disconnected(&self) -> bool {
        matches!(self, PushError::Disconnected(_))
    }
}

impl<T> fmt::Debug for PushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PushError::Full(_) => "Full(..)",
            PushError::Busy(_) => "Busy(..)",
            PushError::Disconnected(_) => "Disconnected(..)",
        })
    }
}

impl<T> fmt::Display for PushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PushError::Full(_) => "ring is full",
            PushError::Busy(_) => "next slot is still being read by a consumer",
            PushError::Disconnected(_) => "every consumer is gone",
        })
    }
}

impl<T> std::error::Error for PushError<T> {}

/// Why a [`pop`](spsc::Consumer::pop) returned nothing.
///
/// # Examples
///
/// ```
/// use corelane::queue::{mpmc, PopError};
///
/// let (_tx, mut rx) = mpmc::channel::<u8>(2);
/// assert_eq!(rx.pop(), Err(PopError::Empty));
/// ```
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum PopError {
    /// No item is ready to take (for [`mpsc`], that includes a next slot
    /// claimed by a producer that has not finished writing it).
    Empty,
    /// A producer has claimed the next slot but not finished writing it:
    /// items may be waiting behind it (`len() > 0`), but FIFO order means
    /// none can be taken until it completes. Retrying is right. Returned by
    /// [`mpmc`] and by [`multicast`] subscribers of a multi-producer ring;
    /// [`spmc`] returns it only when the next item was published during the
    /// call. [`spsc`] and [`mpsc`] never do ([`mpsc`] reports a claimed but
    /// unwritten next slot as [`Empty`](Self::Empty)).
    Busy,
    /// The ring is empty and every producer is gone.
    Disconnected,
}

impl fmt::Display for PopError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PopError::Empty => "ring is empty",
            PopError::Busy => "next slot is still being written by a producer",
            PopError::Disconnected => "ring is empty and every producer is gone",
        })
    }
}

impl std::error::Error for PopError {}

/// The other side of the ring is gone (returned by batch operations).
///
/// # Examples
///
/// ```
/// use corelane::queue::{mpsc, Disconnected};
///
/// let (tx, rx) = mpsc::channel::<u32>(4);
/// drop(rx);
/// assert_eq!(tx.push_batch(&mut vec![1, 2]), Err(Disconnected));
/// ```
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub struct Disconnected;

impl fmt::Display for Disconnected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the other side of the ring is gone")
    }
}

impl std::error::Error for Disconnected {}

/// Rounds a requested capacity up to a power of two.
///
/// # Panics
///
/// If `requested` is 0, or the rounded ring of `slot_size`-byte slots would
/// exceed `isize::MAX` bytes.
pub(crate) fn ring_capacity(requested: usize, slot_size: usize) -> usize {
    assert!(requested > 0, "corelane: ring capacity must be at least 1");
    let cap = requested
        .checked_next_power_of_two()
        .filter(|c| {
            c.checked_mul(slot_size.max(1))
                .is_some_and(|b| b <= isize::MAX as usize)
        })
        .unwrap_or_else(|| {
            panic!("corelane: ring capacity {requested} is too large for {slot_size}-byte slots")
        });
    cap
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacity_rounds_up() {
        assert_eq!(ring_capacity(1, 8), 1);
        assert_eq!(ring_capacity(3, 8), 4);
        assert_eq!(ring_capacity(1024, 8), 1024);
        assert_eq!(ring_capacity(1025, 8), 2048);
    }

    #[test]
    #[should_panic(expected = "at least 1")]
    fn zero_capacity_panics() {
        ring_capacity(0, 8);
    }

    #[test]
    #[should_panic(expected = "too large")]
    fn huge_capacity_panics() {
        ring_capacity(usize::MAX / 2 + 2, 8);
    }

    #[test]
    fn errors_give_values_back() {
        assert_eq!(PushError::Busy(5).into_inner(), 5);
        assert_eq!(format!("{:?}", PushError::Full(vec![1])), "Full(..)");
        assert_eq!(
            PopError::Busy.to_string(),
            "next slot is still being written by a producer"
        );
    }
}
