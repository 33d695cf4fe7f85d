//! What a [`LossyCursor`](super::LossyCursor) read can report instead of an
//! item, one type per kind of call (as `PopError` / `Disconnected` /
//! `PopTimeoutError` are for the rings): every variant of each type can
//! happen to the call that returns it.

use std::fmt;

/// Why [`LossyCursor::pop`](super::LossyCursor::pop) returned no item.
///
/// # Examples
///
/// ```
/// use corelane::queue::multicast::LossyTryRecvError;
///
/// assert_eq!(LossyTryRecvError::Lagged(3).to_string(), "lagged behind the producer: 3 items missed");
/// assert!(LossyTryRecvError::Disconnected.is_disconnected());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LossyTryRecvError {
    /// The next item is not published yet.
    Empty,
    /// The producer overwrote items before this cursor read them; this many
    /// were skipped, and the next read continues after them.
    Lagged(u64),
    /// Every publisher is gone and everything was read.
    Disconnected,
}

/// Why a waiting read ([`pop_blocking`](super::LossyCursor::pop_blocking),
/// [`recv`](super::LossyCursor::recv),
/// [`poll_pop`](super::LossyCursor::poll_pop)) returned no item. Waiting
/// outlasts `Empty`, but a lag is reported at once, not waited out.
///
/// # Examples
///
/// ```
/// use corelane::queue::multicast::LossyRecvError;
///
/// assert_eq!(LossyRecvError::Lagged(2).lagged(), Some(2));
/// assert_eq!(LossyRecvError::Disconnected.to_string(), "every publisher is gone");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LossyRecvError {
    /// As [`LossyTryRecvError::Lagged`]: this many items were skipped.
    Lagged(u64),
    /// Every publisher is gone and everything was read.
    Disconnected,
}

/// Why a read with a deadline
/// ([`pop_timeout`](super::LossyCursor::pop_timeout),
/// [`pop_until`](super::LossyCursor::pop_until)) returned no item.
///
/// # Examples
///
/// ```
/// use corelane::queue::multicast::LossyRecvTimeoutError;
///
/// assert_eq!(LossyRecvTimeoutError::Timeout.to_string(), "no item published before the deadline");
/// assert!(!LossyRecvTimeoutError::Lagged(1).is_disconnected());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LossyRecvTimeoutError {
    /// The deadline passed before the next item was published.
    Timeout,
    /// As [`LossyTryRecvError::Lagged`]: this many items were skipped.
    Lagged(u64),
    /// Every publisher is gone and everything was read.
    Disconnected,
}

/// The error of a lossy cursor's [`Stream`](futures_core::Stream): this
/// many items were skipped before the next one. (The stream ends, rather
/// than failing, once every publisher is gone and everything was read.)
///
/// # Examples
///
/// ```
/// use corelane::queue::multicast::Lagged;
///
/// assert_eq!(Lagged(4).to_string(), "lagged behind the producer: 4 items missed");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Lagged(pub u64);

impl LossyTryRecvError {
    /// True for [`LossyTryRecvError::Disconnected`]: no later read can succeed.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::multicast::LossyTryRecvError;
    /// assert!(!LossyTryRecvError::Empty.is_disconnected());
    /// ```
    pub fn is_disconnected(&self) -> bool {
        matches!(self, LossyTryRecvError::Disconnected)
    }

    /// The number of items skipped, for [`LossyTryRecvError::Lagged`].
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::multicast::LossyTryRecvError;
    /// assert_eq!(LossyTryRecvError::Lagged(5).lagged(), Some(5));
    /// assert_eq!(LossyTryRecvError::Empty.lagged(), None);
    /// ```
    pub fn lagged(&self) -> Option<u64> {
        match self {
            LossyTryRecvError::Lagged(n) => Some(*n),
            _ => None,
        }
    }
}

impl LossyRecvError {
    /// True for [`LossyRecvError::Disconnected`]: no later read can succeed.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::multicast::LossyRecvError;
    /// assert!(LossyRecvError::Disconnected.is_disconnected());
    /// ```
    pub fn is_disconnected(&self) -> bool {
        matches!(self, LossyRecvError::Disconnected)
    }

    /// The number of items skipped, for [`LossyRecvError::Lagged`].
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::multicast::LossyRecvError;
    /// assert_eq!(LossyRecvError::Disconnected.lagged(), None);
    /// ```
    pub fn lagged(&self) -> Option<u64> {
        match self {
            LossyRecvError::Lagged(n) => Some(*n),
            LossyRecvError::Disconnected => None,
        }
    }
}

impl LossyRecvTimeoutError {
    /// True for [`LossyRecvTimeoutError::Disconnected`]: no later read can
    /// succeed.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::multicast::LossyRecvTimeoutError;
    /// assert!(LossyRecvTimeoutError::Disconnected.is_disconnected());
    /// ```
    pub fn is_disconnected(&self) -> bool {
        matches!(self, LossyRecvTimeoutError::Disconnected)
    }
}

impl LossyRecvError {
    /// A final [`LossyTryRecvError`] of a wait loop (`Empty` is waited out, never
    /// final).
    pub(super) fn from_final(e: LossyTryRecvError) -> Self {
        match e {
            LossyTryRecvError::Lagged(n) => LossyRecvError::Lagged(n),
            LossyTryRecvError::Disconnected => LossyRecvError::Disconnected,
            LossyTryRecvError::Empty => unreachable!("corelane: a lossy wait ended on Empty"),
        }
    }
}

impl From<LossyRecvError> for LossyTryRecvError {
    fn from(e: LossyRecvError) -> Self {
        match e {
            LossyRecvError::Lagged(n) => LossyTryRecvError::Lagged(n),
            LossyRecvError::Disconnected => LossyTryRecvError::Disconnected,
        }
    }
}

impl From<LossyRecvError> for LossyRecvTimeoutError {
    fn from(e: LossyRecvError) -> Self {
        match e {
            LossyRecvError::Lagged(n) => LossyRecvTimeoutError::Lagged(n),
            LossyRecvError::Disconnected => LossyRecvTimeoutError::Disconnected,
        }
    }
}

impl From<Lagged> for LossyRecvError {
    fn from(Lagged(n): Lagged) -> Self {
        LossyRecvError::Lagged(n)
    }
}

fn lagged(f: &mut fmt::Formatter<'_>, n: u64) -> fmt::Result {
    write!(f, "lagged behind the producer: {n} items missed")
}

const GONE: &str = "every publisher is gone";

impl fmt::Display for LossyTryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LossyTryRecvError::Empty => f.write_str("no item published yet"),
            LossyTryRecvError::Lagged(n) => lagged(f, *n),
            LossyTryRecvError::Disconnected => f.write_str(GONE),
        }
    }
}

impl fmt::Display for LossyRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LossyRecvError::Lagged(n) => lagged(f, *n),
            LossyRecvError::Disconnected => f.write_str(GONE),
        }
    }
}

impl fmt::Display for LossyRecvTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LossyRecvTimeoutError::Timeout => f.write_str("no item published before the deadline"),
            LossyRecvTimeoutError::Lagged(n) => lagged(f, *n),
            LossyRecvTimeoutError::Disconnected => f.write_str(GONE),
        }
    }
}

impl fmt::Display for Lagged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        lagged(f, self.0)
    }
}

impl std::error::Error for LossyTryRecvError {}
impl std::error::Error for LossyRecvError {}
impl std::error::Error for LossyRecvTimeoutError {}
impl std::error::Error for Lagged {}

/// A lossy read waits only while the next item is not published: a lag is
/// reported, not waited out.
impl crate::queue::wait::Retryable for LossyTryRecvError {
    type Input = ();

    #[inline]
    fn into_retry(self) -> Result<(), Self> {
        match self {
            LossyTryRecvError::Empty => Ok(()),
            other => Err(other),
        }
    }
}
