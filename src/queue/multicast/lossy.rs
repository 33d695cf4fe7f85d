//! Lossy cursors: subscribers that never hold the producer back beyond the
//! instant of one read, and learn how many items they missed when it laps
//! them.
//!
//! # Ground rules
//!
//! * A lossy cursor is in the registry (it counts as a live subscriber) but
//!   not in the gating set, so a publisher may overwrite a slot under it.
//!   While any lossy cursor is subscribed, a publisher *marks* a slot
//!   [`WRITING`](super::sequence::Stamp::WRITING) (Relaxed) before it
//!   overwrites the value, and publishes the new stamp after. The join
//!   handshake in `claim.rs` makes "while subscribed" exact: every
//!   overwrite of a position at or past a joiner's start is marked.
//! * A cursor reads in one of two [`ReadMode`]s. [`Cloned`] (the default,
//!   any `T: Clone`, e.g. `bytes::Bytes`) clones the value in place under
//!   an *announcement*; [`Copied`] (`T: Copy`, opted into with
//!   [`LossyCursor::copied`]) copies bytes under a seqlock. A seqlock
//!   cannot serve `Clone`: a clone of a `Bytes` that the publisher
//!   overwrites meanwhile would bump the count of a buffer the overwrite
//!   frees, and a validated copy does not help, as the publisher may drop
//!   the original right after the validation.
//! * **Announcement** ([`Cloned`]). Each slot has a count of clones in
//!   progress (`Ring::clones`, an array beside the slots). The reader at
//!   `p`: load the stamp (Acquire) and expect `p + 1`, else report as
//!   below; add 1 to the slot's count (Relaxed); `fence(SeqCst)`; load the
//!   stamp again; if it still reads `p + 1`, clone the value in place,
//!   subtract 1 (Release) and move on; otherwise subtract 1 and report what
//!   the second load saw. The publisher, before overwriting the slot:
//!   store `WRITING` (Relaxed); `fence(SeqCst)`; wait while the count is
//!   non-zero (Acquire); write; publish.
//! * Why it holds: the two fences are a Dekker pair on (stamp, count). In
//!   the single order of SeqCst fences one comes first: if the reader's,
//!   the publisher's load sees its increment (or a later change: all are
//!   RMWs, and the count cannot reach zero before the reader's decrement)
//!   and waits, and the Release decrement that it finally reads zero from
//!   heads, or continues, a release sequence with the reader's, so the clone
//!   happens-before the overwrite; if the publisher's, the reader's second
//!   load sees `WRITING` or a later stamp and never touches the value.
//!   (Fences rather than SeqCst accesses: loom models SeqCst fences, but
//!   treats SeqCst loads and stores as Acquire/Release.)
//! * The publisher waits only for that slot, and at most for one clone
//!   per lossy cursor: a reader announces only after seeing the slot hold
//!   the position it wants, holds one announcement at a time, and once the
//!   publisher's mark is visible no reader announces on that slot again.
//!   A reader that announced on another lap of the slot fails its re-check
//!   and withdraws at once. The wait spins, then yields (never parks); a
//!   `clone()` that blocks holds back the publisher's overwrite of that one
//!   slot, and nothing else. A `clone()` that waits for a publisher of the
//!   same ring (publishes into it, or takes a lock a publisher holds while
//!   pushing) deadlocks once that publisher comes round to its slot:
//!   documented on [`LossyCursor`], not detected.
//! * The announcement is withdrawn by a guard, so a `clone()` that panics
//!   leaves the count as it found it; the cursor stays at `p`.
//! * Positions never repeat in a stamp (64-bit, see the multicast ground
//!   rules), so "the stamp still reads `p + 1`" means the slot still holds
//!   `p`. Many publishers change nothing: each claimer marks and waits on
//!   its own slots (`lap_free` keeps two claimers out of one slot).
//! * The publisher pays for announcements only while a cloning tap is
//!   subscribed: its cached `cloning` (lossy cursors minus [`Copied`] ones,
//!   re-read under the registry lock at every registry change) is set on a
//!   join by the same handshake as `mark`. Without one, a marked overwrite
//!   costs a Relaxed store and a Release fence (free on x86); with one, a
//!   SeqCst fence per publish (per batch) and one load per slot.
//! * **Seqlock** ([`Copied`]): load the stamp (Acquire) and expect
//!   `pos + 1`; copy the value out; an Acquire fence; load the stamp again.
//!   The writer's mark, then its Release (or SeqCst) fence, come before it
//!   touches the value, so a copy that saw any of the new bytes sees a
//!   changed stamp on the second load and is thrown away. The copy is of
//!   `T: Copy` bytes into a `MaybeUninit<T>`, assumed initialized only
//!   after the stamp validated it. The copy itself may race with the
//!   writer: the same concession every seqlock in Rust makes today
//!   (crossbeam's `AtomicCell`, the `seqlock` crate); a torn copy is never
//!   returned.
//! * Overrun (both modes): when the slot holds a later lap (or the producer
//!   cursor is more than a ring ahead), the cursor jumps to the oldest
//!   position that may still be intact and reports
//!   [`LossyTryRecvError::Lagged`] with the number of items skipped.

use std::fmt;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::id::{LossyId, NodeId};
use super::reader::frontier;
use super::ring::Ring;
use crate::queue::wait::{self, attempt, block_on, block_until, WaitStrategy};
use crate::sync::Arc;

mod error;
mod read;
#[cfg(all(test, not(corelane_loom)))]
mod tests;

pub use error::{Lagged, LossyRecvError, LossyRecvTimeoutError, LossyTryRecvError};
pub(crate) use read::begin_overwrite;
use read::Tap;

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::Cloned {}
    impl Sealed for super::Copied {}
}

/// How a [`LossyCursor`] takes an item out of its slot: [`Cloned`] (the
/// default; `T: Clone`) or [`Copied`] (`T: Copy`, a seqlock copy that never
/// writes to shared memory and costs the publisher less).
///
/// # Examples
///
/// ```
/// use corelane::queue::multicast::{Cloned, Copied, LossyCursor};
///
/// let (tx, _cs) = corelane::queue::multicast::broadcast(4, || 0u64, 1);
/// let a: LossyCursor<u64, Cloned> = tx.joiner().subscribe_lossy();
/// let b: LossyCursor<u64, Copied> = tx.joiner().subscribe_lossy().copied();
/// # drop((a, b));
/// ```
pub trait ReadMode<T>: sealed::Sealed + 'static {
    #[doc(hidden)]
    const NAME: &'static str;

    #[doc(hidden)]
    fn read(tap: Tap<'_, T>) -> Result<T, LossyTryRecvError>;
}

/// Read by cloning the value in place, announced so that a publisher about
/// to overwrite the slot waits for that one clone (see [`LossyCursor`]).
/// The default mode, for any `T: Clone`.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use corelane::queue::multicast::{broadcast, Cloned, LossyCursor};
///
/// let (mut tx, _cs) = broadcast(4, Bytes::new, 1);
/// let mut tap: LossyCursor<Bytes, Cloned> = tx.joiner().subscribe_lossy();
/// tx.push(Bytes::from_static(b"tick")).unwrap();
/// assert_eq!(tap.pop().unwrap(), "tick");
/// ```
#[derive(Debug)]
pub enum Cloned {}

/// Read by copying the value's bytes under a seqlock, for `T: Copy`: the
/// reader writes nothing shared, and publishers skip the clone
/// announcements (see [`LossyCursor::copied`]).
///
/// # Examples
///
/// ```
/// use corelane::queue::multicast::{broadcast, Copied, LossyCursor};
///
/// let (mut tx, _cs) = broadcast(4, || 0u64, 1);
/// let mut tap: LossyCursor<u64, Copied> = tx.joiner().subscribe_lossy().copied();
/// tx.push(9).unwrap();
/// assert_eq!(tap.pop(), Ok(9));
/// ```
#[derive(Debug)]
pub enum Copied {}

impl<T: Clone> ReadMode<T> for Cloned {
    const NAME: &'static str = "Cloned";

    #[inline]
    fn read(tap: Tap<'_, T>) -> Result<T, LossyTryRecvError> {
        read::clone_out(tap)
    }
}

impl<T: Copy> ReadMode<T> for Copied {
    const NAME: &'static str = "Copied";

    #[inline]
    fn read(tap: Tap<'_, T>) -> Result<T, LossyTryRecvError> {
        read::copy_out(tap)
    }
}

/// A subscriber that does not gate the producer: it reads its own copy of
/// each item (a clone, or a bytewise copy in the [`Copied`] mode), and when
/// the producer laps it, it skips ahead and reports how many items it
/// missed ([`LossyTryRecvError::Lagged`]).
///
/// It never holds the producer back beyond the instant of one read: while
/// it clones an item, a publisher that comes round to overwrite that very
/// slot waits for the clone to finish (and for nothing else; it can still
/// publish into every other slot meanwhile). A `clone()` that blocks
/// therefore blocks that overwrite. The [`Copied`] mode never makes the
/// publisher wait.
///
/// So a `clone()` must never wait for a publisher of the same ring: it
/// must not publish into that ring itself (a `Clone` impl that pushes
/// through a publisher in a thread-local, say), nor take a lock that a
/// publishing thread holds while it pushes. The publish that comes round
/// to the slot being cloned waits for the clone, which waits for the
/// publish: a deadlock, with the publisher spinning and yielding for ever.
/// Nothing detects it.
///
/// Made by [`Builder::lossy_cursor`](super::Builder::lossy_cursor) or
/// [`Joiner::subscribe_lossy`](super::Joiner::subscribe_lossy). A lossy
/// cursor cannot be run after, nor run after other nodes.
///
/// # Examples
///
/// A tap on a `Bytes` fan-out that fell behind:
///
/// ```
/// use bytes::Bytes;
/// use corelane::queue::multicast::{Builder, LossyTryRecvError};
///
/// let mut b = Builder::new(4, Bytes::new);
/// let tap = b.lossy_cursor();
/// let (mut tx, mut h) = b.build().unwrap();
/// let mut tap = h.lossy(tap);
/// for i in 0..10u8 {
///     tx.push(Bytes::from(vec![i; 3])).unwrap(); // never Full: nobody gates
/// }
/// assert_eq!(tap.pop(), Err(LossyTryRecvError::Lagged(6)));
/// assert_eq!(tap.pop().unwrap(), &[6, 6, 6][..]);
/// ```
pub struct LossyCursor<T, R = Cloned> {
    sub: Subscription<T>,
    pos: usize,
    _mode: PhantomData<fn() -> R>,
}

/// A lossy cursor's place in the registry: leaves it when dropped.
struct Subscription<T> {
    ring: Arc<Ring<T>>,
    id: NodeId,
    /// Counted in the ring's `copied_taps`.
    copied: bool,
}

impl<T> Drop for Subscription<T> {
    fn drop(&mut self) {
        if self.copied {
            let _reg = self.ring.registry.lock();
            // Before the leave's version bump: until then a publisher that
            // re-reads the registry counts this node as cloning (harmless).
            self.ring.count_copied_tap(false);
        }
        super::joiner::leave(&self.ring, self.id);
    }
}

impl<T, R: ReadMode<T>> fmt::Debug for LossyCursor<T, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("multicast::LossyCursor")
            .field("id", &self.sub.id)
            .field("mode", &R::NAME)
            .field("sequence", &self.pos)
            .finish()
    }
}

impl<T> LossyCursor<T> {
    pub(crate) fn new(ring: Arc<Ring<T>>, id: NodeId, start: usize) -> Self {
        LossyCursor {
            sub: Subscription {
                ring,
                id,
                copied: false,
            },
            pos: start,
            _mode: PhantomData,
        }
    }
}

impl<T: Copy> LossyCursor<T, Cloned> {
    /// Switches this cursor to the [`Copied`] mode: it reads by seqlock
    /// copy, and once every lossy cursor of the ring has switched,
    /// publishers stop checking for clones in progress (a SeqCst fence per
    /// publish saved). Takes the registry lock.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::multicast::Builder;
    ///
    /// let mut b = Builder::new(4, || 0u32);
    /// let l = b.lossy_cursor();
    /// let (mut tx, mut h) = b.build().unwrap();
    /// let mut l = h.lossy(l).copied();
    /// tx.push(5).unwrap();
    /// assert_eq!(l.pop(), Ok(5));
    /// ```
    pub fn copied(self) -> LossyCursor<T, Copied> {
        let LossyCursor { mut sub, pos, .. } = self;
        let reg = sub.ring.registry.lock();
        sub.ring.count_copied_tap(true);
        // Publishers re-read the registry (and may stop announcing checks).
        sub.ring.bump_version();
        drop(reg);
        sub.copied = true;
        LossyCursor {
            sub,
            pos,
            _mode: PhantomData,
        }
    }
}

impl<T, R: ReadMode<T>> LossyCursor<T, R> {
    /// The ring and the position, borrowed apart for a read.
    #[inline]
    fn parts(&mut self) -> (&Ring<T>, &mut usize) {
        (&self.sub.ring, &mut self.pos)
    }

    /// Takes out (clones or copies) the next item. Never blocks.
    ///
    /// # Errors
    ///
    /// [`LossyTryRecvError::Empty`] if the next item is not published yet;
    /// [`LossyTryRecvError::Lagged(n)`](LossyTryRecvError::Lagged) if the producer overwrote
    /// it: `n` items were skipped and the next read starts at the oldest item
    /// that may still be there; [`LossyTryRecvError::Disconnected`] once every
    /// publisher is gone and everything was read.
    ///
    /// # Panics
    ///
    /// If `T::clone` panics (the cursor stays where it was).
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::multicast::LossyTryRecvError;
    ///
    /// let (mut tx, _cs) = corelane::queue::multicast::broadcast(4, String::new, 1);
    /// let mut l = tx.joiner().subscribe_lossy();
    /// assert_eq!(l.pop(), Err(LossyTryRecvError::Empty));
    /// tx.push("3".to_string()).unwrap();
    /// assert_eq!(l.pop().as_deref(), Ok("3"));
    /// ```
    #[inline]
    pub fn pop(&mut self) -> Result<T, LossyTryRecvError> {
        let (ring, pos) = self.parts();
        R::read(Tap { ring, pos })
    }

    /// Takes out the next item, waiting per `strategy` while it is not
    /// published yet.
    ///
    /// # Errors
    ///
    /// [`LossyRecvError::Lagged`] (reported, not waited out) and
    /// [`LossyRecvError::Disconnected`], as in [`pop`](Self::pop).
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::wait::WaitStrategy;
    ///
    /// let (mut tx, _cs) = corelane::queue::multicast::broadcast(4, || 0u8, 1);
    /// let mut l = tx.joiner().subscribe_lossy();
    /// std::thread::spawn(move || tx.push(2).unwrap());
    /// assert_eq!(l.pop_blocking(WaitStrategy::Park), Ok(2));
    /// ```
    pub fn pop_blocking(&mut self, strategy: WaitStrategy) -> Result<T, LossyRecvError> {
        loop {
            let (ring, pos) = self.parts();
            block_on(strategy, &ring.items, || attempt(read::ready(ring, pos)))
                .map_err(LossyRecvError::from_final)?;
            if let Some(r) = self.take_ready() {
                return r.map_err(LossyRecvError::from_final);
            }
        }
    }

    /// The read after a wait saw the next item published: `None` if it was
    /// overwritten meanwhile and the slot is still being written (wait
    /// again: the publish that ends the write wakes us, and the next read
    /// reports the lag). The waits look at the stamp only ([`read::ready`])
    /// and take the item here, outside them, so a `clone()` that panics
    /// never unwinds through the wait machinery.
    #[inline]
    fn take_ready(&mut self) -> Option<Result<T, LossyTryRecvError>> {
        match self.pop() {
            Err(LossyTryRecvError::Empty) => None,
            r => Some(r),
        }
    }

    /// Takes out the next item, waiting per `strategy` at most `timeout`
    /// while it is not published yet.
    ///
    /// # Errors
    ///
    /// [`LossyRecvTimeoutError::Timeout`] if nothing was published in time;
    /// [`LossyRecvTimeoutError::Lagged`] and [`LossyRecvTimeoutError::Disconnected`]
    /// as in [`pop`](Self::pop).
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::{multicast::LossyRecvTimeoutError, wait::WaitStrategy};
    /// use std::time::Duration;
    ///
    /// let (mut tx, _cs) = corelane::queue::multicast::broadcast(4, || 0u8, 1);
    /// let mut l = tx.joiner().subscribe_lossy();
    /// let wait = Duration::from_millis(1);
    /// assert_eq!(l.pop_timeout(wait, WaitStrategy::Park), Err(LossyRecvTimeoutError::Timeout));
    /// tx.push(4).unwrap();
    /// assert_eq!(l.pop_timeout(wait, WaitStrategy::Park), Ok(4));
    /// ```
    pub fn pop_timeout(
        &mut self,
        timeout: Duration,
        strategy: WaitStrategy,
    ) -> Result<T, LossyRecvTimeoutError> {
        self.pop_by(wait::deadline_after(timeout), strategy)
    }

    /// Takes out the next item, waiting per `strategy` until `deadline`
    /// while it is not published yet (a deadline in the past still tries
    /// once).
    ///
    /// # Errors
    ///
    /// As [`pop_timeout`](Self::pop_timeout).
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::{multicast::LossyRecvTimeoutError, wait::WaitStrategy};
    /// use std::time::{Duration, Instant};
    ///
    /// let (mut tx, _cs) = corelane::queue::multicast::broadcast(4, || 0u8, 1);
    /// let mut l = tx.joiner().subscribe_lossy();
    /// let deadline = Instant::now() + Duration::from_micros(200);
    /// assert_eq!(l.pop_until(deadline, WaitStrategy::Backoff), Err(LossyRecvTimeoutError::Timeout));
    /// tx.push(1).unwrap();
    /// assert_eq!(l.pop_until(deadline, WaitStrategy::Backoff), Ok(1)); // tried once
    /// ```
    pub fn pop_until(
        &mut self,
        deadline: Instant,
        strategy: WaitStrategy,
    ) -> Result<T, LossyRecvTimeoutError> {
        self.pop_by(Some(deadline), strategy)
    }

    /// The timed wait (`None`: a deadline too far to represent, so none).
    fn pop_by(
        &mut self,
        deadline: Option<Instant>,
        strategy: WaitStrategy,
    ) -> Result<T, LossyRecvTimeoutError> {
        loop {
            let (ring, pos) = self.parts();
            let op = || attempt(read::ready(ring, pos));
            let waited = match deadline {
                Some(deadline) => block_until(strategy, &ring.items, deadline, op),
                None => Some(block_on(strategy, &ring.items, op)),
            };
            match waited {
                None => return Err(LossyRecvTimeoutError::Timeout),
                Some(Err(e)) => return Err(LossyRecvError::from_final(e).into()),
                Some(Ok(())) => {}
            }
            if let Some(r) = self.take_ready() {
                return r.map_err(|e| LossyRecvError::from_final(e).into());
            }
        }
    }

    /// Takes out the next item, waiting asynchronously while it is not
    /// published yet. Works under any executor.
    ///
    /// Cancel safe: a `recv` dropped before it completes has taken nothing
    /// (a lag it saw is reported again by the next read).
    ///
    /// # Errors
    ///
    /// As [`pop_blocking`](Self::pop_blocking).
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
    pub async fn recv(&mut self) -> Result<T, LossyRecvError> {
        std::future::poll_fn(|cx| self.poll_pop(cx)).await
    }

    /// The poll form of [`recv`](Self::recv): `Ready(Ok(item))`,
    /// `Ready(Err(_))` for a lag or the end, or `Pending` with the task's
    /// waker registered to be woken by the next publish.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::multicast::LossyRecvError;
    /// use std::task::{Context, Poll, Waker};
    ///
    /// let (mut tx, _cs) = corelane::queue::multicast::broadcast(2, || 0u8, 0);
    /// let mut l = tx.joiner().subscribe_lossy();
    /// let mut cx = Context::from_waker(Waker::noop());
    /// assert!(l.poll_pop(&mut cx).is_pending());
    /// for i in 0..3 {
    ///     tx.push(i).unwrap();
    /// }
    /// assert_eq!(l.poll_pop(&mut cx), Poll::Ready(Err(LossyRecvError::Lagged(1))));
    /// assert_eq!(l.poll_pop(&mut cx), Poll::Ready(Ok(1)));
    /// ```
    pub fn poll_pop(&mut self, cx: &mut Context<'_>) -> Poll<Result<T, LossyRecvError>> {
        loop {
            let (ring, pos) = self.parts();
            match wait::poll_retry(&ring.items, cx, || attempt(read::ready(ring, pos))) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(LossyRecvError::from_final(e))),
                Poll::Ready(Ok(())) => {}
            }
            if let Some(r) = self.take_ready() {
                return Poll::Ready(r.map_err(LossyRecvError::from_final));
            }
        }
    }
}

impl<T, R> LossyCursor<T, R> {
    /// Items published past this cursor's position: a snapshot. More than
    /// [`capacity`](Self::capacity) means the cursor has been lapped (its
    /// next read reports [`LossyTryRecvError::Lagged`]). With many publishers it
    /// counts claimed slots still being written. Reads up to a ring of
    /// stamps (a single publisher stores its position only now and then).
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, _cs) = corelane::queue::multicast::broadcast(2, || 0u8, 0);
    /// let l = tx.joiner().subscribe_lossy();
    /// for i in 0..3 {
    ///     tx.push(i).unwrap();
    /// }
    /// assert_eq!(l.len(), 3);
    /// ```
    pub fn len(&self) -> usize {
        let ring = &self.sub.ring;
        let published = frontier(ring, ring.producer.get());
        crate::queue::position::ahead(published, self.pos).max(0) as usize
    }

    /// True if nothing is published past this cursor's position now.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, _cs) = corelane::queue::multicast::broadcast(2, || 0u8, 0);
    /// let l = tx.joiner().subscribe_lossy();
    /// assert!(l.is_empty());
    /// tx.push(1).unwrap();
    /// assert!(!l.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of slots in the ring.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _cs) = corelane::queue::multicast::broadcast(3, || 0u8, 1);
    /// assert_eq!(tx.joiner().subscribe_lossy().capacity(), 4);
    /// ```
    pub fn capacity(&self) -> usize {
        self.sub.ring.capacity()
    }

    /// True once every publisher is gone (items may still be readable).
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _cs) = corelane::queue::multicast::broadcast(4, || 0u8, 1);
    /// let l = tx.joiner().subscribe_lossy();
    /// drop(tx);
    /// assert!(l.is_disconnected());
    /// ```
    pub fn is_disconnected(&self) -> bool {
        self.sub.ring.is_closed()
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
        LossyId(self.sub.id)
    }
}

/// Yields every item the cursor is not lapped on, an `Err(Lagged(n))` in
/// place of each run of `n` items it missed, and ends once every publisher
/// is gone and everything was read. The gaps are items, not an end, so
/// that a consumer can tell a lossy stream from a complete one (tokio's
/// `BroadcastStream` does the same).
///
/// # Examples
///
/// ```
/// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// # rt.block_on(async {
/// use corelane::queue::multicast::Lagged;
/// use futures_util::StreamExt;
///
/// let (mut tx, _cs) = corelane::queue::multicast::broadcast(2, || 0u8, 0);
/// let l = tx.joiner().subscribe_lossy();
/// for i in 0..3 {
///     tx.push(i).unwrap();
/// }
/// drop(tx);
/// assert_eq!(l.collect::<Vec<_>>().await, [Err(Lagged(1)), Ok(1), Ok(2)]);
/// # });
/// ```
impl<T, R: ReadMode<T>> futures_core::Stream for LossyCursor<T, R> {
    type Item = Result<T, Lagged>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_pop(cx).map(|r| match r {
            Ok(v) => Some(Ok(v)),
            Err(LossyRecvError::Lagged(n)) => Some(Err(Lagged(n))),
            Err(LossyRecvError::Disconnected) => None,
        })
    }
}
