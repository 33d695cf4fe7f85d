//! Lossy cursors: subscribers that never hold the producer back, and learn
//! how many items they missed when it laps them.
//!
//! # Ground rules
//!
//! * A lossy cursor is in the registry (it counts as a live subscriber) but
//!   not in the gating set, so the producer may overwrite a slot under it.
//! * It reads with a seqlock: load the stamp (Acquire) and expect `pos + 1`;
//!   copy the value out; an Acquire fence; load the stamp again. A writer
//!   marks the slot [`WRITING`](super::sequence::Stamp::WRITING), issues a
//!   Release fence, and only then touches the value, so a copy that saw any
//!   of the new bytes sees a changed stamp on the second load and is thrown
//!   away. (Writers mark only while a lossy cursor is subscribed; see the
//!   ground rules of `publisher.rs` for why a join cannot race an unmarked
//!   overwrite.)
//! * The copy is of `T: Copy` bytes into a `MaybeUninit<T>`, assumed
//!   initialized only after the stamp validated it. The copy itself may race
//!   with the writer: this is the same concession every seqlock in Rust
//!   makes today (crossbeam's `AtomicCell`, the `seqlock` crate); a torn copy
//!   is never returned.
//! * Overrun: when the slot holds a later lap (or the producer cursor is more
//!   than a ring ahead), the cursor jumps to the oldest position that may
//!   still be intact and reports [`ReadError::Lagged`] with the number of
//!   items skipped.

use std::fmt;
use std::mem::MaybeUninit;

use super::id::{LossyId, NodeId};
use super::reader::frontier;
use super::ring::Ring;
use super::sequence::Stamp;
use super::ReadError;
use crate::queue::position::{ahead, later};
use crate::queue::wait::{attempt, block_on, Retry, WaitStrategy};
use crate::sync::Arc;

/// A subscriber that does not gate the producer: it reads copies of items
/// (`T: Copy`), and when the producer laps it, it skips ahead and reports
/// how many items it missed ([`ReadError::Lagged`]).
///
/// Made by [`Builder::lossy_cursor`](super::Builder::lossy_cursor) or
/// [`Joiner::subscribe_lossy`](super::Joiner::subscribe_lossy). A lossy
/// cursor cannot be run after, nor run after other nodes.
///
/// # Examples
///
/// ```
/// use corelane::queue::multicast::{Builder, ReadError};
///
/// let mut b = Builder::new(4, || 0u64);
/// let l = b.lossy_cursor();
/// let (mut tx, mut h) = b.build().unwrap();
/// let mut lossy = h.lossy(l);
/// for i in 0..10 {
///     tx.push(i).unwrap(); // never Full: nobody gates
/// }
/// assert_eq!(lossy.try_read(), Err(ReadError::Lagged(6)));
/// assert_eq!(lossy.try_read(), Ok(6));
/// ```
pub struct LossyCursor<T> {
    ring: Arc<Ring<T>>,
    id: NodeId,
    pos: usize,
}

impl<T> fmt::Debug for LossyCursor<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("multicast::LossyCursor")
            .field("id", &self.id)
            .field("sequence", &self.pos)
            .finish()
    }
}

impl<T> LossyCursor<T> {
    pub(crate) fn new(ring: Arc<Ring<T>>, id: NodeId, start: usize) -> Self {
        LossyCursor {
            ring,
            id,
            pos: start,
        }
    }

    /// The sequence number of the next item this cursor will try to read.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _cs) = corelane::queue::multicast::broadcast(4, || 0u8, 1);
    /// assert_eq!(tx.joiner().subscribe_lossy().sequence(), 0);
    /// ```
    pub fn sequence(&self) -> u64 {
        self.pos as u64
    }

    /// This cursor's node id.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _cs) = corelane::queue::multicast::broadcast(4, || 0u8, 1);
    /// let a = tx.joiner().subscribe_lossy();
    /// let b = tx.joiner().subscribe_lossy();
    /// assert_ne!(a.id(), b.id());
    /// ```
    pub fn id(&self) -> LossyId {
        LossyId(self.id)
    }
}

impl<T: Copy> LossyCursor<T> {
    /// Copies out the next item. Never blocks.
    ///
    /// # Errors
    ///
    /// [`ReadError::Empty`] if the next item is not published yet;
    /// [`ReadError::Lagged(n)`](ReadError::Lagged) if the producer overwrote
    /// it: `n` items were skipped and the next read starts at the oldest item
    /// that may still be there; [`ReadError::Disconnected`] once every
    /// publisher is gone and everything was read.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::multicast::ReadError;
    ///
    /// let (mut tx, _cs) = corelane::queue::multicast::broadcast(4, || 0u8, 1);
    /// let mut l = tx.joiner().subscribe_lossy();
    /// assert_eq!(l.try_read(), Err(ReadError::Empty));
    /// tx.push(3).unwrap();
    /// assert_eq!(l.try_read(), Ok(3));
    /// ```
    #[inline]
    pub fn try_read(&mut self) -> Result<T, ReadError> {
        read(&self.ring, &mut self.pos)
    }

    /// Copies out the next item, waiting per `strategy` while it is not
    /// published yet.
    ///
    /// # Errors
    ///
    /// [`ReadError::Lagged`] and [`ReadError::Disconnected`] as in
    /// [`try_read`](Self::try_read) (a lag is reported, not waited out).
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::wait::WaitStrategy;
    ///
    /// let (mut tx, _cs) = corelane::queue::multicast::broadcast(4, || 0u8, 1);
    /// let mut l = tx.joiner().subscribe_lossy();
    /// std::thread::spawn(move || tx.push(2).unwrap());
    /// assert_eq!(l.read_blocking(WaitStrategy::Park), Ok(2));
    /// ```
    pub fn read_blocking(&mut self, strategy: WaitStrategy) -> Result<T, ReadError> {
        let LossyCursor { ring, pos, .. } = self;
        block_on(strategy, &ring.items, || attempt(read(ring, pos)))
    }

    /// Copies out the next item, waiting asynchronously while it is not
    /// published yet.
    ///
    /// # Errors
    ///
    /// As [`read_blocking`](Self::read_blocking).
    ///
    /// # Examples
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// # rt.block_on(async {
    /// let (mut tx, _cs) = corelane::queue::multicast::broadcast(4, || 0u8, 1);
    /// let mut l = tx.joiner().subscribe_lossy();
    /// tx.push(6).unwrap();
    /// assert_eq!(l.recv().await, Ok(6));
    /// # });
    /// ```
    pub async fn recv(&mut self) -> Result<T, ReadError> {
        let LossyCursor { ring, pos, .. } = self;
        Retry {
            notify: &ring.items,
            op: || attempt(read(ring, pos)),
        }
        .await
    }
}

/// The seqlock read of the module docs.
#[inline]
fn read<T: Copy>(ring: &Ring<T>, pos: &mut usize) -> Result<T, ReadError> {
    let slot = ring.slot(*pos);
    let first = slot.stamp.load();
    if first != pos.wrapping_add(1) {
        return not_ready(ring, pos, first);
    }
    let copy = slot
        .value
        // SAFETY: a bytewise copy into `MaybeUninit`, which any bytes inhabit;
        // it may race with a writer (see the ground rules), in which case the
        // recheck below fails and the copy is discarded unread.
        .with_racy(|v| unsafe { std::ptr::read_volatile(v.cast::<MaybeUninit<T>>()) });
    #[cfg(corelane_loom)]
    let copied = slot.probe();
    let second = slot.stamp.recheck();
    if second != first {
        return not_ready(ring, pos, second);
    }
    #[cfg(corelane_loom)]
    assert_eq!(
        copied,
        pos.wrapping_add(1),
        "corelane (loom): a lossy read accepted a copy that overlapped an overwrite"
    );
    *pos = pos.wrapping_add(1);
    // SAFETY: the stamp did not change around the copy, so no writer touched
    // the value meanwhile: it is the published `T`.
    Ok(unsafe { copy.assume_init() })
}

/// The slot does not hold `pos` (its stamp is `stamp`): lapped, not yet
/// published, or the end of the stream.
#[cold]
fn not_ready<T>(ring: &Ring<T>, pos: &mut usize, stamp: usize) -> Result<T, ReadError> {
    let cap = ring.capacity();
    // The producer cursor (Acquire: it covers every stamp stored before it)
    // may lag single-item publishes by up to a ring.
    let cursor = ring.producer.get();
    let oldest = if stamp != Stamp::WRITING && ahead(stamp.wrapping_sub(1), *pos) > 0 {
        // The slot holds position `stamp - 1`, a later lap: positions up to
        // `stamp - 1 - cap` are gone. Lapped is the slow path: walk the
        // cursor forward to the frontier, to skip the whole lap at once
        // rather than one overwritten slot per read.
        later(
            frontier(ring, cursor).wrapping_sub(cap),
            stamp.wrapping_sub(cap),
        )
    } else {
        // Not published yet, or being written: the common empty poll of a
        // caught-up cursor. The cursor alone (no walk over a ring of stamp
        // lines); a lap it misses shows in the stamp on a later read.
        cursor.wrapping_sub(cap)
    };
    if ahead(oldest, *pos) > 0 {
        let missed = oldest.wrapping_sub(*pos);
        *pos = oldest;
        return Err(ReadError::Lagged(missed as u64));
    }
    if ring.closed_at() == *pos {
        return Err(ReadError::Disconnected);
    }
    Err(ReadError::Empty)
}

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

impl<T> Drop for LossyCursor<T> {
    fn drop(&mut self) {
        super::joiner::leave(&self.ring, self.id);
    }
}
