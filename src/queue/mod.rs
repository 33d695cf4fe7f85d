//! Bounded lock-free rings.
//!
//! | module | producers | consumers | claim | notes |
//! |---|---|---|---|---|
//! | [`spsc`] | 1 | 1 | none (owned cursors) | per-slot stamps; in-place chunks |
//! | [`mpsc`] | many (`Clone`) | 1 | CAS on the tail | batch push claims a run at once |
//! | [`spmc`] | 1 | many (`Clone`) | CAS on the head | |
//! | [`mpmc`] | many (`Clone`) | many (`Clone`) | CAS on both | |
//! | [`multicast`] | 1, or many (`Clone`) | many cursors, each sees every item | CAS (many producers) | Disruptor-style consumer graph, worker groups, lossy taps |
//!
//! # One vocabulary
//!
//! Every handle of every ring, multicast included, follows this table
//! (the verbs are rtrb's and crossbeam-channel's; `T` is the item type).
//!
//! | how | send side | receive side | fails with |
//! |---|---|---|---|
//! | now, or not at all | `push(v)` | `pop()` | [`PushError<T>`] (`Full`, `Busy`, `Disconnected`, value handed back) / [`PopError`] (`Empty`, `Busy`, `Disconnected`) |
//! | wait, per a [`WaitStrategy`](wait::WaitStrategy) | `push_blocking(v, s)` | `pop_blocking(s)` | [`Disconnected<T>`] / [`Disconnected`]: nothing else can happen |
//! | wait, with a deadline | `push_timeout(v, d, s)`, `push_until(v, t, s)` | `pop_timeout(d, s)`, `pop_until(t, s)` | [`PushTimeoutError<T>`] / [`PopTimeoutError`] (`Timeout`, `Disconnected`) |
//! | async (any executor) | `send(v).await`, `poll_ready(cx)` | `recv().await`, `poll_pop(cx)`, `Stream` | [`Disconnected<T>`] / [`Disconnected`] |
//! | many at once | `push_slice`, `push_iter` (and [`spsc`]'s `write_chunk`) | `pop_batch` (and [`spsc`]'s `read_chunk`) | the count moved, or [`Disconnected`] |
//!
//! A batch moves as many as fit now and returns the count: `push_slice(&[T])`
//! clones, `push_iter(&mut iter)` takes an item out of `iter` only once it
//! has a slot for it (on the multi-producer rings `iter` is a
//! [`Peekable`](std::iter::Peekable): the item is peeked, its slot claimed,
//! and only then taken, so an item another producer's race leaves without a
//! slot stays in `iter`), `pop_batch(&mut out, max)` extends `out`. A
//! [`spsc`] chunk is exactly `n` slots or items, in place, or an error that
//! says how many there are. A batch wakes the other side once, when it
//! ends (or unwinds): an iterator or `Extend` that itself waits for the
//! other side of the same ring would wait for a wake-up that comes only
//! after it returns, so do not block inside one.
//!
//! Inspectors are the same on every handle: `len`, `is_empty`, `is_full`,
//! `capacity`, `free_len` (what a push could place now), `is_disconnected`.
//! `Busy` is the one error only some rings return: where a consumer (or
//! producer) claims slots by CAS, the next slot can be mid-way through
//! another thread's claim; each ring's docs say whether it can happen.
//! [`multicast`] readers follow the same verbs but hand out guards that
//! read in place, and can fail in one way more (a node they run after
//! failed), so they have errors of their own: see
//! [its table](multicast#the-vocabulary).
//!
//! # Cancel safety
//!
//! `recv()` and `poll_pop` are cancel safe: a `recv` future dropped before
//! it completes has taken nothing. A `send(v)` future owns `v` until it
//! completes; dropped while pending it drops `v` with it, like tokio's
//! `Sender::send`. To keep the value, poll the future by reference (it is
//! `Unpin`) and take it back with [`SendFuture::cancel`]:
//!
//! ```
//! # let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
//! # rt.block_on(async {
//! use corelane::queue::spsc;
//! use std::time::Duration;
//!
//! let (mut tx, _rx) = spsc::channel::<String>(1);
//! tx.push("first".into()).unwrap(); // the ring is now full
//! let mut send = tx.send("second".into());
//! tokio::select! {
//!     _ = &mut send => panic!("nobody pops, so the send cannot complete"),
//!     _ = tokio::time::sleep(Duration::from_millis(1)) => {}
//! }
//! assert_eq!(send.cancel().as_deref(), Some("second"));
//! # });
//! ```
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
pub(crate) mod notify;
mod position;
pub mod spmc;
pub mod spsc;
pub(crate) mod stamped;
pub mod wait;

pub use wait::SendFuture;

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
#[non_exhaustive]
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
#[derive(Debug, PartialEq, Eq, Clone, Copy, Hash)]
#[non_exhaustive]
pub enum PopError {
    /// No item is ready to take (for [`mpsc`], that includes a next slot
    /// claimed by a producer that has not finished writing it).
    Empty,
    /// A producer has claimed the next slot but not finished writing it:
    /// items may be waiting behind it (`len() > 0`), but FIFO order means
    /// none can be taken until it completes. Retrying is right. Returned by
    /// [`mpmc`] (and by [`multicast`] readers of a multi-producer ring, as
    /// [`multicast::TryRecvError::Busy`]);
    /// [`spmc`] returns it only when the next item was published during the
    /// call. [`spsc`] and [`mpsc`] never do ([`mpsc`] reports a claimed but
    /// unwritten next slot as [`Empty`](Self::Empty)).
    Busy,
    /// The ring is empty and every producer is gone.
    Disconnected,
}

impl PopError {
    /// True for [`PopError::Disconnected`]: retrying can never succeed.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::PopError;
    /// assert!(PopError::Disconnected.is_disconnected());
    /// assert!(!PopError::Empty.is_disconnected());
    /// ```
    pub fn is_disconnected(&self) -> bool {
        matches!(self, PopError::Disconnected)
    }
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

/// The other side is gone: every consumer (for a send side) or every
/// producer, with the ring drained (for a receive side).
///
/// This is the one error of the calls that wait until they succeed
/// (`*_blocking`, `send`, `recv`) and of the batch calls: they can fail in
/// no other way. A send side hands its value back in `.0`
/// (`Disconnected<T>`); a receive side has nothing to hand back
/// (`Disconnected`, that is `Disconnected<()>`).
///
/// # Examples
///
/// ```
/// use corelane::queue::{spsc, wait::WaitStrategy, Disconnected};
///
/// let (mut tx, rx) = spsc::channel::<u32>(4);
/// drop(rx);
/// assert_eq!(tx.push_blocking(1, WaitStrategy::Park), Err(Disconnected(1)));
/// ```
#[derive(PartialEq, Eq, Clone, Copy, Default, Hash)]
pub struct Disconnected<T = ()>(pub T);

impl<T> Disconnected<T> {
    /// Returns the value that could not be sent.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(corelane::queue::Disconnected(5).into_inner(), 5);
    /// ```
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for Disconnected<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Disconnected(..)")
    }
}

impl<T> fmt::Display for Disconnected<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the other side of the ring is gone")
    }
}

impl<T> std::error::Error for Disconnected<T> {}

impl<T> From<Disconnected<T>> for PushError<T> {
    fn from(e: Disconnected<T>) -> Self {
        PushError::Disconnected(e.0)
    }
}

impl From<Disconnected> for PopError {
    fn from(_: Disconnected) -> Self {
        PopError::Disconnected
    }
}

/// Why a push with a deadline (`push_timeout`, `push_until`) failed; the
/// value is handed back.
///
/// # Examples
///
/// ```
/// use corelane::queue::{spsc, wait::WaitStrategy, PushTimeoutError};
/// use std::time::Duration;
///
/// let (mut tx, _rx) = spsc::channel::<u8>(1);
/// tx.push(1).unwrap();
/// let r = tx.push_timeout(2, Duration::from_millis(1), WaitStrategy::Park);
/// assert_eq!(r, Err(PushTimeoutError::Timeout(2)));
/// ```
///
/// Deliberately exhaustive (unlike [`PushError`]): a wait with a deadline
/// can end in these two ways only, so a `match` needs no wildcard arm.
#[derive(PartialEq, Eq, Clone, Copy)]
pub enum PushTimeoutError<T> {
    /// The deadline passed with the ring still full.
    Timeout(T),
    /// Every consumer is gone; the value can never be received.
    Disconnected(T),
}

impl<T> PushTimeoutError<T> {
    /// Returns the value that could not be pushed.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::PushTimeoutError;
    /// assert_eq!(PushTimeoutError::Timeout(3).into_inner(), 3);
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            PushTimeoutError::Timeout(v) | PushTimeoutError::Disconnected(v) => v,
        }
    }

    /// True for [`PushTimeoutError::Disconnected`]: retrying can never succeed.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::PushTimeoutError;
    /// assert!(!PushTimeoutError::Timeout(1).is_disconnected());
    /// ```
    pub fn is_disconnected(&self) -> bool {
        matches!(self, PushTimeoutError::Disconnected(_))
    }
}

impl<T> fmt::Debug for PushTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PushTimeoutError::Timeout(_) => "Timeout(..)",
            PushTimeoutError::Disconnected(_) => "Disconnected(..)",
        })
    }
}

impl<T> fmt::Display for PushTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PushTimeoutError::Timeout(_) => "timed out waiting for room in the ring",
            PushTimeoutError::Disconnected(_) => "every consumer is gone",
        })
    }
}

impl<T> std::error::Error for PushTimeoutError<T> {}

impl<T> From<Disconnected<T>> for PushTimeoutError<T> {
    fn from(e: Disconnected<T>) -> Self {
        PushTimeoutError::Disconnected(e.0)
    }
}

/// Why a pop with a deadline (`pop_timeout`, `pop_until`) returned nothing.
///
/// # Examples
///
/// ```
/// use corelane::queue::{spsc, wait::WaitStrategy, PopTimeoutError};
/// use std::time::Duration;
///
/// let (_tx, mut rx) = spsc::channel::<u8>(1);
/// let r = rx.pop_timeout(Duration::from_millis(1), WaitStrategy::Park);
/// assert_eq!(r, Err(PopTimeoutError::Timeout));
/// ```
///
/// Deliberately exhaustive (unlike [`PopError`]): a wait with a deadline can
/// end in these two ways only, so a `match` needs no wildcard arm.
#[derive(Debug, PartialEq, Eq, Clone, Copy, Hash)]
pub enum PopTimeoutError {
    /// The deadline passed with nothing to take.
    Timeout,
    /// The ring is empty and every producer is gone.
    Disconnected,
}

impl PopTimeoutError {
    /// True for [`PopTimeoutError::Disconnected`]: waiting again can never
    /// succeed.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::PopTimeoutError;
    /// assert!(PopTimeoutError::Disconnected.is_disconnected());
    /// ```
    pub fn is_disconnected(&self) -> bool {
        matches!(self, PopTimeoutError::Disconnected)
    }
}

impl fmt::Display for PopTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PopTimeoutError::Timeout => "timed out waiting for an item",
            PopTimeoutError::Disconnected => "ring is empty and every producer is gone",
        })
    }
}

impl std::error::Error for PopTimeoutError {}

impl From<Disconnected> for PopTimeoutError {
    fn from(_: Disconnected) -> Self {
        PopTimeoutError::Disconnected
    }
}

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
