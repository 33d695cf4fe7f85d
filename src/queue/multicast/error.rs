//! The errors of multicast readers ([`Cursor`](super::Cursor) and
//! [`Worker`](super::Worker)).
//!
//! A reader can fail in one way more than a ring's consumer: a node it runs
//! after may fail ([`UpstreamFailed`]). So readers have their own family of
//! errors, one per row of the vocabulary table in [`queue`](crate::queue),
//! named after crossbeam-channel's: [`TryRecvError`] for `pop` (the
//! multicast [`PopError`](crate::queue::PopError)), [`RecvError`] for the
//! calls that wait until they succeed (the multicast
//! [`Disconnected`](crate::queue::Disconnected)), [`RecvTimeoutError`] for
//! the calls with a deadline. Every variant of [`RecvError`] ends the
//! reader's stream, so a loop over a blocking call needs no
//! `unreachable!()` arm.

use std::fmt;

use super::id::NodeId;
use crate::queue::wait::Retryable;
use crate::queue::Disconnected;

/// A node this reader runs after with [`OnFailure::Fail`](super::OnFailure)
/// failed: it left the graph before the end of the stream (its thread
/// panicked, say), or stopped for good, at sequence `at`. Every item before
/// `at` was released by it (and read by this reader, from where it
/// started); the item at `at` was not, and the reader stops there: every
/// later read returns this error again. A reader that joined after the
/// failure may have started past `at` (a worker group's members run on
/// after one of them lost items); it fails on its first read.
///
/// # Examples
///
/// ```
/// use corelane::queue::multicast::{Builder, NodeId, RecvError, TryRecvError};
/// use corelane::queue::wait::WaitStrategy;
///
/// let mut b = Builder::new(8, || 0u32);
/// let (journal, logic) = (b.cursor(), b.cursor());
/// b.after(logic, &[journal]);
/// let (mut tx, mut h) = b.build().unwrap();
/// let (mut j, mut l) = (h.cursor(journal), h.cursor(logic));
/// tx.push(1).unwrap();
/// tx.push(2).unwrap();
/// drop(j.pop().unwrap()); // the journal processed item 0 ...
/// drop(j); // ... and died before item 1
/// assert_eq!(*l.pop().unwrap(), 1);
/// let Err(TryRecvError::UpstreamFailed(f)) = l.pop() else { panic!() };
/// assert_eq!((f.node, f.at), (NodeId::from(journal), 1));
/// assert_eq!(f.to_string(), "upstream cursor #0 failed before releasing item 1");
/// assert_eq!(l.pop_blocking(WaitStrategy::Park).unwrap_err(), RecvError::UpstreamFailed(f));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct UpstreamFailed {
    /// The node that failed (a cursor or a worker group this reader runs
    /// after directly; a failure further up reaches it as a failure of the
    /// node in between).
    pub node: NodeId,
    /// The sequence number of the first item the failed node did not
    /// release: this reader read everything before it and nothing from it.
    pub at: u64,
}

impl fmt::Display for UpstreamFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "upstream {} failed before releasing item {}",
            self.node, self.at
        )
    }
}

impl std::error::Error for UpstreamFailed {}

/// Why a reader's non-blocking call (`pop`, `pop_batch`, `process`)
/// returned no item.
///
/// # Examples
///
/// ```
/// use corelane::queue::multicast::{broadcast, TryRecvError};
///
/// let (tx, mut cs) = broadcast(4, || 0u8, 1);
/// assert_eq!(cs[0].pop().unwrap_err(), TryRecvError::Empty);
/// drop(tx);
/// assert!(cs[0].pop().unwrap_err().is_disconnected());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TryRecvError {
    /// Nothing is readable yet: not published, or not yet released by the
    /// nodes this reader runs after.
    Empty,
    /// A publisher of a multi-producer ring has claimed the next position
    /// but not finished writing it (only root readers of a
    /// [`MultiPublisher`](super::MultiPublisher) ring see it). Retrying is
    /// right.
    Busy,
    /// Every publisher is gone and this reader has read everything.
    Disconnected,
    /// A node this reader runs after failed; see [`UpstreamFailed`].
    UpstreamFailed(UpstreamFailed),
}

impl TryRecvError {
    /// True for [`TryRecvError::Disconnected`].
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::multicast::TryRecvError;
    /// assert!(TryRecvError::Disconnected.is_disconnected());
    /// assert!(!TryRecvError::Empty.is_disconnected());
    /// ```
    pub fn is_disconnected(&self) -> bool {
        matches!(self, TryRecvError::Disconnected)
    }

    /// True if retrying can never succeed: the stream ended for this
    /// reader ([`Disconnected`](Self::Disconnected) or
    /// [`UpstreamFailed`](Self::UpstreamFailed)).
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::multicast::TryRecvError;
    /// assert!(TryRecvError::Disconnected.is_final());
    /// assert!(!TryRecvError::Busy.is_final());
    /// ```
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            TryRecvError::Disconnected | TryRecvError::UpstreamFailed(_)
        )
    }
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("no item is readable yet"),
            TryRecvError::Busy => f.write_str("next slot is still being written by a publisher"),
            TryRecvError::Disconnected => f.write_str("every publisher is gone"),
            TryRecvError::UpstreamFailed(u) => u.fmt(f),
        }
    }
}

impl std::error::Error for TryRecvError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TryRecvError::UpstreamFailed(u) => Some(u),
            _ => None,
        }
    }
}

impl From<RecvError> for TryRecvError {
    fn from(e: RecvError) -> Self {
        match e {
            RecvError::Disconnected => TryRecvError::Disconnected,
            RecvError::UpstreamFailed(u) => TryRecvError::UpstreamFailed(u),
        }
    }
}

/// A reader's stream has ended: the one error of the calls that wait until
/// they succeed (`pop_blocking`, `pop_batch_blocking`, `recv`,
/// `recv_batch`, `poll_pop`). Both variants are final.
///
/// # Examples
///
/// ```
/// use corelane::queue::multicast::{broadcast, RecvError};
/// use corelane::queue::wait::WaitStrategy;
///
/// let (mut tx, mut cs) = broadcast(4, || 0u8, 1);
/// tx.push(1).unwrap();
/// drop(tx);
/// let mut sum = 0;
/// let ended = loop {
///     match cs[0].pop_blocking(WaitStrategy::Park) {
///         Ok(item) => sum += *item,
///         Err(RecvError::Disconnected) => break Ok(sum),
///         Err(RecvError::UpstreamFailed(f)) => break Err(f),
///     }
/// };
/// assert_eq!(ended, Ok(1));
/// ```
///
/// Deliberately exhaustive (unlike [`TryRecvError`]), as the rings'
/// deadline errors are: a wait ends in these two ways only, so a `match`
/// needs no wildcard arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecvError {
    /// Every publisher is gone and this reader has read everything.
    Disconnected,
    /// A node this reader runs after failed; see [`UpstreamFailed`].
    UpstreamFailed(UpstreamFailed),
}

impl RecvError {
    /// True for [`RecvError::Disconnected`] (the stream ended normally).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(corelane::queue::multicast::RecvError::Disconnected.is_disconnected());
    /// ```
    pub fn is_disconnected(&self) -> bool {
        matches!(self, RecvError::Disconnected)
    }

    /// The upstream failure, if that is why the stream ended.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(corelane::queue::multicast::RecvError::Disconnected.upstream_failed(), None);
    /// ```
    pub fn upstream_failed(&self) -> Option<UpstreamFailed> {
        match self {
            RecvError::UpstreamFailed(u) => Some(*u),
            RecvError::Disconnected => None,
        }
    }

    /// The final error a wait loop ended on (`Empty` and `Busy` only make
    /// it wait).
    pub(crate) fn from_final(e: TryRecvError) -> Self {
        match e {
            TryRecvError::UpstreamFailed(u) => RecvError::UpstreamFailed(u),
            TryRecvError::Disconnected | TryRecvError::Empty | TryRecvError::Busy => {
                debug_assert!(e.is_final(), "a wait loop ended on {e:?}");
                RecvError::Disconnected
            }
        }
    }
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvError::Disconnected => f.write_str("every publisher is gone"),
            RecvError::UpstreamFailed(u) => u.fmt(f),
        }
    }
}

impl std::error::Error for RecvError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RecvError::UpstreamFailed(u) => Some(u),
            RecvError::Disconnected => None,
        }
    }
}

impl From<Disconnected> for RecvError {
    fn from(_: Disconnected) -> Self {
        RecvError::Disconnected
    }
}

/// Why a reader's call with a deadline (`pop_timeout`, `pop_until`, and
/// the batch forms) returned no item.
///
/// # Examples
///
/// ```
/// use corelane::queue::multicast::{broadcast, RecvTimeoutError};
/// use corelane::queue::wait::WaitStrategy;
/// use std::time::Duration;
///
/// let (_tx, mut cs) = broadcast(4, || 0u8, 1);
/// let r = cs[0].pop_timeout(Duration::from_millis(1), WaitStrategy::Park);
/// assert_eq!(r.unwrap_err(), RecvTimeoutError::Timeout);
/// ```
///
/// Deliberately exhaustive, as [`RecvError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecvTimeoutError {
    /// The deadline passed with nothing readable.
    Timeout,
    /// Every publisher is gone and this reader has read everything.
    Disconnected,
    /// A node this reader runs after failed; see [`UpstreamFailed`].
    UpstreamFailed(UpstreamFailed),
}

impl RecvTimeoutError {
    /// True for [`RecvTimeoutError::Timeout`]: waiting again may succeed.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(corelane::queue::multicast::RecvTimeoutError::Timeout.is_timeout());
    /// ```
    pub fn is_timeout(&self) -> bool {
        matches!(self, RecvTimeoutError::Timeout)
    }
}

impl fmt::Display for RecvTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvTimeoutError::Timeout => f.write_str("timed out waiting for an item"),
            RecvTimeoutError::Disconnected => f.write_str("every publisher is gone"),
            RecvTimeoutError::UpstreamFailed(u) => u.fmt(f),
        }
    }
}

impl std::error::Error for RecvTimeoutError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RecvTimeoutError::UpstreamFailed(u) => Some(u),
            _ => None,
        }
    }
}

impl From<RecvError> for RecvTimeoutError {
    fn from(e: RecvError) -> Self {
        match e {
            RecvError::Disconnected => RecvTimeoutError::Disconnected,
            RecvError::UpstreamFailed(u) => RecvTimeoutError::UpstreamFailed(u),
        }
    }
}

/// A wait loop retries `Empty` and `Busy`, and ends on the rest.
impl Retryable for TryRecvError {
    type Input = ();

    #[inline]
    fn into_retry(self) -> Result<(), Self> {
        match self {
            TryRecvError::Empty | TryRecvError::Busy => Ok(()),
            other => Err(other),
        }
    }
}
