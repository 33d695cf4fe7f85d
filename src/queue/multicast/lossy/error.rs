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
/// use corelane::queue::multicast::ReadError;
///
/// assert_eq!(ReadError::Lagged(3).to_string(), "lagged behind the producer: 3 items missed");
/// assert!(ReadError::Disconnected.is_disconnected());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ReadError {
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
/// use corelane::queue::multicast::RecvError;
///
/// assert_eq!(RecvError::Lagged(2).lagged(), Some(2));
/// assert_eq!(RecvError::Disconnected.to_string(), "every publisher is gone");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RecvError {
    /// As [`ReadError::Lagged`]: this many items were skipped.
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
/// use corelane::queue::multicast::ReadTimeoutError;
///
/// assert_eq!(ReadTimeoutError::Timeout.to_string(), "no item published before the deadline");
/// assert!(!ReadTimeoutError::Lagged(1).is_disconnected());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ReadTimeoutError {
    /// The deadline passed before the next item was published.
    Timeout,
    /// As [`ReadError::Lagged`]: this many items were skipped.
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

impl ReadError {
    /// True for [`ReadError::Disconnected`]: no later read can succeed.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::multicast::ReadError;
    /// assert!(!ReadError::Empty.is_disconnected());
    /// ```
    pub fn is_disconnected(&self) -> bool {
        matches!(self, ReadError::Disconnected)
    }

    /// The number of items skipped, for [`ReadError::Lagged`].
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::multicast::ReadError;
    /// assert_eq!(ReadError::Lagged(5).lagged(), Some(5));
    /// assert_eq!(ReadError::Empty.lagged(), None);
    /// ```
    pub fn lagged(&self) -> Option<u64> {
        match self {
            ReadError::Lagged(n) => Some(*n),
            _ => None,
        }
    }
}

impl RecvError {
    /// True for [`RecvError::Disconnected`]: no later read can succeed.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::multicast::RecvError;
    /// assert!(RecvError::Disconnected.is_disconnected());
    /// ```
    pub fn is_disconnected(&self) -> bool {
        matches!(self, RecvError::Disconnected)
    }

    /// The number of items skipped, for [`RecvError::Lagged`].
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::multicast::RecvError;
    /// assert_eq!(RecvError::Disconnected.lagged(), None);
    /// ```
    pub fn lagged(&self) -> Option<u64> {
        match self {
            RecvError::Lagged(n) => Some(*n),
            RecvError::Disconnected => None,
        }
    }
}

impl ReadTimeoutError {
    /// True for [`ReadTimeoutError::Disconnected`]: no later read can
    /// succeed.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::multicast::ReadTimeoutError;
    /// assert!(ReadTimeoutError::Disconnected.is_disconnected());
    /// ```
    pub fn is_disconnected(&self) -> bool {
        matches!(self, ReadTimeoutError::Disconnected)
    }
}

impl RecvError {
    /// A final [`ReadError`] of a wait loop (`Empty` is waited out, never
    /// final).
    pub(super) fn from_final(e: ReadError) -> Self {
        match e {
            ReadError::Lagged(n) => RecvError::Lagged(n),
            ReadError::Disconnected => RecvError::Disconnected,
            ReadError::Empty => unreachable!("corelane: a lossy wait ended on Empty"),
        }
    }
}

impl From<RecvError> for ReadError {
    fn from(e: RecvError) -> Self {
        match e {
            RecvError::Lagged(n) => ReadError::Lagged(n),
            RecvError::Disconnected => ReadError::Disconnected,
        }
    }
}

impl From<RecvError> for ReadTimeoutError {
    fn from(e: RecvError) -> Self {
        match e {
            RecvError::Lagged(n) => ReadTimeoutError::Lagged(n),
            RecvError::Disconnected => ReadTimeoutError::Disconnected,
        }
    }
}

impl From<Lagged> for RecvError {
    fn from(Lagged(n): Lagged) -> Self {
        RecvError::Lagged(n)
    }
}

fn lagged(f: &mut fmt::Formatter<'_>, n: u64) -> fmt::Result {
    write!(f, "lagged behind the producer: {n} items missed")
}

const GONE: &str = "every publisher is gone";

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Empty => f.write_str("no item published yet"),
            ReadError::Lagged(n) => lagged(f, *n),
            ReadError::Disconnected => f.write_str(GONE),
        }
    }
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvError::Lagged(n) => lagged(f, *n),
            RecvError::Disconnected => f.write_str(GONE),
        }
    }
}

impl fmt::Display for ReadTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadTimeoutError::Timeout => f.write_str("no item published before the deadline"),
            ReadTimeoutError::Lagged(n) => lagged(f, *n),
            ReadTimeoutError::Disconnected => f.write_str(GONE),
        }
    }
}

impl fmt::Display for Lagged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        lagged(f, self.0)
    }
}

impl std::error::Error for ReadError {}
impl std::error::Error for RecvError {}
impl std::error::Error for ReadTimeoutError {}
impl std::error::Error for Lagged {}

/// A lossy read waits only while the next item is not published: a lag is
/// reported, not waited out.
impl crate::queue::wait::Retryable for ReadError {
    type Input = ();

    #[inline]
    fn into_retry(self) -> Result<(), Self> {
        match self {
            ReadError::Empty => Ok(()),
            other => Err(other),
        }
    }
}
