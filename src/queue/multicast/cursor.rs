//! Broadcast cursors ([`Cursor`]): subscribers that see every item.

use std::fmt;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::batch::{Batch, Item, Release};
use super::error::{RecvError, RecvTimeoutError, TryRecvError};
use super::graph::{Upstream, NOT_FAILED};
use super::id::{CursorId, NodeId};
use super::reader::{
    batch_async, batch_blocking, batch_until, poll_batch, Horizon, ReadSide, Run, WakeCell,
};
use super::ring::{Ring, OPEN};
use super::sequence::Sequence;
use super::Joiner;
use crate::queue::position::ahead;
use crate::queue::wait::{self, WaitStrategy};
use crate::sync::Arc;

/// What the producer and the nodes after a cursor read of it.
pub(crate) struct CursorShared {
    /// Every position below it is released.
    pub(crate) released: Sequence,
    /// Where the cursor failed, or [`NOT_FAILED`] (see
    /// [`OnFailure`](super::OnFailure)); written under the registry lock.
    pub(crate) failed_at: Sequence,
}

impl CursorShared {
    pub(crate) fn new(pos: usize) -> Self {
        CursorShared {
            released: Sequence::new(pos),
            failed_at: Sequence::new(NOT_FAILED),
        }
    }
}

/// A broadcast subscriber: sees every item published after it started, in
/// publication order, by reference into the ring (no copy).
///
/// A cursor holds back the producer until it releases what it read (it
/// *gates* the producer, directly or through the cursors that run after
/// it). Items are released when the [`Batch`] or [`Item`] they came in
/// drops (not when a panic cuts it short: see [`process`](Self::process)
/// and [`Batch`]). Dropping the cursor leaves the graph: it
/// stops gating, and the nodes that ran after it stop there or are
/// rewired, per their [`OnFailure`](super::OnFailure), unless it had read
/// the stream to its end.
///
/// The reads follow the [vocabulary](crate::queue#one-vocabulary) of every
/// ring, with the [`Item`] / [`Batch`] guards in place of values and the
/// multicast readers' errors: [`TryRecvError`] for `pop`, [`RecvError`] for
/// the waiting calls, [`RecvTimeoutError`] for the calls with a deadline. There is no `Stream` impl: an item borrows the cursor
/// (it is read in place), which a `Stream` cannot express;
/// [`poll_pop`](Self::poll_pop) is the poll form.
///
/// # Errors
///
/// Every read fails with `Disconnected` once every publisher is gone and
/// the cursor has read everything, and with `UpstreamFailed` once a node
/// it runs after with [`OnFailure::Fail`](super::OnFailure) failed and the
/// cursor reached that point.
///
/// # Examples
///
/// ```
/// use corelane::queue::multicast::{self, TryRecvError};
///
/// let (mut tx, mut cursors) = multicast::broadcast(8, String::new, 2);
/// tx.push_with(|s| s.push_str("hello")).unwrap();
/// for c in &mut cursors {
///     assert_eq!(&*c.pop().unwrap(), "hello");
///     assert_eq!(c.pop().unwrap_err(), TryRecvError::Empty);
/// }
/// ```
pub struct Cursor<T> {
    ring: Arc<Ring<T>>,
    state: CursorState,
}

struct CursorState {
    /// Next position to read; everything below it is released.
    pos: usize,
    /// How far from `pos` this cursor may read.
    horizon: Horizon,
    /// This cursor's released position and failure mark, as the producer
    /// and the nodes after it read them.
    shared: Arc<CursorShared>,
}

impl<T> fmt::Debug for Cursor<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("multicast::Cursor")
            .field("id", &self.state.horizon.id())
            .field("sequence", &self.state.pos)
            .finish()
    }
}

impl<T> Cursor<T> {
    pub(crate) fn new(
        ring: Arc<Ring<T>>,
        shared: Arc<CursorShared>,
        id: NodeId,
        start: usize,
        upstream: Upstream,
        version: usize,
    ) -> Self {
        Cursor {
            ring,
            state: CursorState {
                pos: start,
                horizon: Horizon::new(id, start, upstream, version),
                shared,
            },
        }
    }

    fn batch(&mut self, (start, len): Run) -> Batch<'_, T> {
        let release = Release::Cursor {
            pos: &mut self.state.pos,
            seq: &self.state.shared.released,
        };
        Batch::new(&self.ring, start, len, release)
    }

    /// The next item, by reference; it is released when the [`Item`] drops.
    /// Never blocks.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] if nothing is readable yet;
    /// [`TryRecvError::Busy`] (root cursors of multi-producer rings) if the
    /// next position is claimed but not yet written;
    /// [`TryRecvError::Disconnected`] once every publisher is gone and this
    /// cursor has read everything; [`TryRecvError::UpstreamFailed`] once it
    /// reached the point where a node it runs after failed.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::multicast::{self, TryRecvError};
    ///
    /// let (mut tx, mut cs) = multicast::broadcast(4, || 0u32, 1);
    /// tx.push(1).unwrap();
    /// drop(tx);
    /// assert_eq!(*cs[0].pop().unwrap(), 1);
    /// assert_eq!(cs[0].pop().unwrap_err(), TryRecvError::Disconnected);
    /// ```
    #[inline]
    pub fn pop(&mut self) -> Result<Item<'_, T>, TryRecvError> {
        let r = self.state.take(&self.ring, 1)?;
        Ok(Item(self.batch(r)))
    }

    /// The run of up to `max` readable items (at least one, unless `max` is
    /// 0), by reference, released together (one store) when the [`Batch`]
    /// drops. Never blocks.
    ///
    /// # Errors
    ///
    /// As [`pop`](Self::pop).
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::multicast;
    ///
    /// let (mut tx, mut cs) = multicast::broadcast(8, || 0u32, 1);
    /// tx.push_batch(5, |i, slot| *slot = i as u32 * 10).unwrap();
    /// let batch = cs[0].pop_batch(3).unwrap();
    /// assert_eq!(batch.iter().copied().collect::<Vec<_>>(), [0, 10, 20]);
    /// assert_eq!(batch.sequence(), 0);
    /// ```
    #[inline]
    pub fn pop_batch(&mut self, max: usize) -> Result<Batch<'_, T>, TryRecvError> {
        let r = self.state.take(&self.ring, max)?;
        Ok(self.batch(r))
    }

    /// Hands up to `max` readable items to `handler` with their sequence
    /// numbers and an end-of-batch flag (true on the last item of the run,
    /// the moment to flush whatever the handler batches up), then releases
    /// them together. Returns how many were handled. Never blocks.
    ///
    /// If `handler` panics, the items it finished are released and the one
    /// it panicked on is not: a cursor kept after a caught panic reads that
    /// item again; a cursor dropped by the unwinding (its thread died)
    /// fails there, so the nodes that run after it with
    /// [`OnFailure::Fail`](super::OnFailure) never see it.
    ///
    /// # Errors
    ///
    /// As [`pop`](Self::pop).
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::multicast;
    ///
    /// let (mut tx, mut cs) = multicast::broadcast(8, || 0u32, 1);
    /// for i in 0..3 {
    ///     tx.push(i).unwrap();
    /// }
    /// let mut flushed = vec![];
    /// let n = cs[0]
    ///     .process(usize::MAX, |v, _seq, end_of_batch| {
    ///         if end_of_batch {
    ///             flushed.push(*v);
    ///         }
    ///     })
    ///     .unwrap();
    /// assert_eq!((n, flushed), (3, vec![2]));
    /// ```
    pub fn process<F: FnMut(&T, u64, bool)>(
        &mut self,
        max: usize,
        handler: F,
    ) -> Result<usize, TryRecvError> {
        Ok(self.pop_batch(max)?.process(handler))
    }

    /// The next item, waiting per `strategy` while none is readable.
    ///
    /// # Errors
    ///
    /// [`RecvError::Disconnected`] once every publisher is gone and this
    /// cursor has read everything; [`RecvError::UpstreamFailed`] once it
    /// reached the point where a node it runs after failed. Nothing else:
    /// both end the stream for this cursor.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::{multicast, wait::WaitStrategy};
    ///
    /// let (mut tx, mut cs) = multicast::broadcast(4, || 0u32, 1);
    /// std::thread::spawn(move || tx.push(8).unwrap());
    /// assert_eq!(*cs[0].pop_blocking(WaitStrategy::Park).unwrap(), 8);
    /// ```
    pub fn pop_blocking(&mut self, strategy: WaitStrategy) -> Result<Item<'_, T>, RecvError> {
        Ok(Item(self.pop_batch_blocking(1, strategy)?))
    }

    /// Up to `max` items (at least one), waiting per `strategy` while none
    /// is readable.
    ///
    /// # Errors
    ///
    /// As [`pop_blocking`](Self::pop_blocking).
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::{multicast, wait::WaitStrategy};
    ///
    /// let (mut tx, mut cs) = multicast::broadcast(4, || 0u32, 1);
    /// tx.push(1).unwrap();
    /// drop(tx);
    /// let mut n = 0;
    /// while let Ok(batch) = cs[0].pop_batch_blocking(4, WaitStrategy::Park) {
    ///     n += batch.len();
    /// }
    /// assert_eq!(n, 1);
    /// ```
    pub fn pop_batch_blocking(
        &mut self,
        max: usize,
        strategy: WaitStrategy,
    ) -> Result<Batch<'_, T>, RecvError> {
        let r = batch_blocking(&mut self.state, &self.ring, max, strategy)?;
        Ok(self.batch(r))
    }

    /// The next item, waiting per `strategy` at most `timeout` while none
    /// is readable.
    ///
    /// # Errors
    ///
    /// [`RecvTimeoutError::Timeout`] if nothing became readable in time;
    /// otherwise as [`pop_blocking`](Self::pop_blocking).
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::{multicast::{self, RecvTimeoutError}, wait::WaitStrategy};
    /// use std::time::Duration;
    ///
    /// let (mut tx, mut cs) = multicast::broadcast(4, || 0u32, 1);
    /// let wait = Duration::from_millis(1);
    /// assert_eq!(cs[0].pop_timeout(wait, WaitStrategy::Park).unwrap_err(), RecvTimeoutError::Timeout);
    /// tx.push(3).unwrap();
    /// assert_eq!(*cs[0].pop_timeout(wait, WaitStrategy::Park).unwrap(), 3);
    /// ```
    pub fn pop_timeout(
        &mut self,
        timeout: Duration,
        strategy: WaitStrategy,
    ) -> Result<Item<'_, T>, RecvTimeoutError> {
        Ok(Item(self.pop_batch_timeout(1, timeout, strategy)?))
    }

    /// The next item, waiting per `strategy` until `deadline` while none is
    /// readable (a deadline in the past still tries once).
    ///
    /// # Errors
    ///
    /// As [`pop_timeout`](Self::pop_timeout).
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::{multicast, wait::WaitStrategy};
    /// use std::time::Instant;
    ///
    /// let (mut tx, mut cs) = multicast::broadcast(4, || 0u32, 1);
    /// tx.push(5).unwrap();
    /// assert_eq!(*cs[0].pop_until(Instant::now(), WaitStrategy::Yield).unwrap(), 5);
    /// ```
    pub fn pop_until(
        &mut self,
        deadline: Instant,
        strategy: WaitStrategy,
    ) -> Result<Item<'_, T>, RecvTimeoutError> {
        Ok(Item(self.pop_batch_until(1, deadline, strategy)?))
    }

    /// Up to `max` items (at least one), waiting per `strategy` at most
    /// `timeout` while none is readable.
    ///
    /// # Errors
    ///
    /// As [`pop_timeout`](Self::pop_timeout).
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::{multicast, wait::WaitStrategy};
    /// use std::time::Duration;
    ///
    /// let (mut tx, mut cs) = multicast::broadcast(4, || 0u32, 1);
    /// tx.push_batch(3, |i, v| *v = i as u32).unwrap();
    /// let b = cs[0].pop_batch_timeout(8, Duration::from_millis(1), WaitStrategy::Park).unwrap();
    /// assert_eq!(b.len(), 3);
    /// ```
    pub fn pop_batch_timeout(
        &mut self,
        max: usize,
        timeout: Duration,
        strategy: WaitStrategy,
    ) -> Result<Batch<'_, T>, RecvTimeoutError> {
        let deadline = wait::deadline_after(timeout);
        let r = batch_until(&mut self.state, &self.ring, max, strategy, deadline)?;
        Ok(self.batch(r))
    }

    /// Up to `max` items (at least one), waiting per `strategy` until
    /// `deadline` while none is readable.
    ///
    /// # Errors
    ///
    /// As [`pop_timeout`](Self::pop_timeout).
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::{multicast::{self, RecvTimeoutError}, wait::WaitStrategy};
    /// use std::time::{Duration, Instant};
    ///
    /// let (_tx, mut cs) = multicast::broadcast(4, || 0u32, 1);
    /// let deadline = Instant::now() + Duration::from_micros(200);
    /// let r = cs[0].pop_batch_until(8, deadline, WaitStrategy::Backoff);
    /// assert_eq!(r.unwrap_err(), RecvTimeoutError::Timeout);
    /// assert!(Instant::now() >= deadline);
    /// ```
    pub fn pop_batch_until(
        &mut self,
        max: usize,
        deadline: Instant,
        strategy: WaitStrategy,
    ) -> Result<Batch<'_, T>, RecvTimeoutError> {
        let r = batch_until(&mut self.state, &self.ring, max, strategy, Some(deadline))?;
        Ok(self.batch(r))
    }

    /// The next item, waiting asynchronously (works under any executor: it
    /// registers the task's [`Waker`](std::task::Waker)).
    ///
    /// Cancel safe: a `recv` dropped before it completes has taken nothing.
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
    /// let (mut tx, mut cs) = corelane::queue::multicast::broadcast(4, || 0u32, 1);
    /// tx.push(4).unwrap();
    /// assert_eq!(*cs[0].recv().await.unwrap(), 4);
    /// # });
    /// ```
    pub async fn recv(&mut self) -> Result<Item<'_, T>, RecvError> {
        Ok(Item(self.recv_batch(1).await?))
    }

    /// Up to `max` items (at least one), waiting asynchronously while none
    /// is readable. Cancel safe, as [`recv`](Self::recv).
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
    /// let (mut tx, mut cs) = corelane::queue::multicast::broadcast(4, || 0u32, 1);
    /// tx.push(4).unwrap();
    /// tx.push(5).unwrap();
    /// assert_eq!(cs[0].recv_batch(8).await.unwrap().len(), 2);
    /// # });
    /// ```
    pub async fn recv_batch(&mut self, max: usize) -> Result<Batch<'_, T>, RecvError> {
        let r = batch_async(&mut self.state, &self.ring, max).await?;
        Ok(self.batch(r))
    }

    /// The poll form of [`recv`](Self::recv), for hand-written futures:
    /// `Ready(Ok(item))`, `Ready(Err(_))` once the stream ended for this
    /// cursor, or `Pending` with the task's waker registered to be woken by
    /// the next publish (or release upstream).
    ///
    /// # Errors
    ///
    /// As [`pop_blocking`](Self::pop_blocking).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::task::{Context, Poll, Waker};
    ///
    /// let (mut tx, mut cs) = corelane::queue::multicast::broadcast(4, || 0u32, 1);
    /// let mut cx = Context::from_waker(Waker::noop());
    /// assert!(cs[0].poll_pop(&mut cx).is_pending());
    /// tx.push(2).unwrap();
    /// let Poll::Ready(Ok(item)) = cs[0].poll_pop(&mut cx) else { panic!() };
    /// assert_eq!(*item, 2);
    /// ```
    pub fn poll_pop(&mut self, cx: &mut Context<'_>) -> Poll<Result<Item<'_, T>, RecvError>> {
        self.poll_pop_batch(1, cx).map_ok(Item)
    }

    /// The poll form of [`recv_batch`](Self::recv_batch).
    ///
    /// # Errors
    ///
    /// As [`pop_blocking`](Self::pop_blocking).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::task::{Context, Poll, Waker};
    ///
    /// let (mut tx, mut cs) = corelane::queue::multicast::broadcast(4, || 0u32, 1);
    /// let mut cx = Context::from_waker(Waker::noop());
    /// tx.push_batch(2, |i, v| *v = i as u32).unwrap();
    /// let Poll::Ready(Ok(batch)) = cs[0].poll_pop_batch(8, &mut cx) else { panic!() };
    /// assert_eq!(batch.len(), 2);
    /// ```
    pub fn poll_pop_batch(
        &mut self,
        max: usize,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Batch<'_, T>, RecvError>> {
        match poll_batch(&mut self.state, &self.ring, max, cx) {
            Poll::Ready(Ok(r)) => Poll::Ready(Ok(self.batch(r))),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }

    /// This cursor's id, to declare nodes that run after it with
    /// [`Joiner::subscribe_after`].
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, cs) = corelane::queue::multicast::broadcast(4, || 0u8, 1);
    /// let after = tx.joiner().subscribe_after(&[cs[0].id()]).unwrap();
    /// assert_ne!(after.id(), cs[0].id());
    /// ```
    pub fn id(&self) -> CursorId {
        CursorId(self.state.horizon.id())
    }

    /// The sequence number of the next item this cursor will read.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut cs) = corelane::queue::multicast::broadcast(4, || 0u8, 1);
    /// tx.push(1).unwrap();
    /// drop(cs[0].pop().unwrap());
    /// assert_eq!(cs[0].sequence(), 1);
    /// ```
    pub fn sequence(&self) -> u64 {
        self.state.pos as u64
    }

    /// Items this cursor could read now: published (a root cursor) or
    /// released by the nodes it runs after (a dependent one), and not yet
    /// read. May only grow concurrently, until this cursor reads. For a
    /// root cursor of a multi-producer ring, stops at the first position
    /// claimed but not yet written.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, cs) = corelane::queue::multicast::broadcast(4, || 0u8, 1);
    /// tx.push(1).unwrap();
    /// tx.push(2).unwrap();
    /// assert_eq!(cs[0].len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.state.horizon.peek(&self.ring, self.state.pos)
    }

    /// True if nothing is readable now (a `false` guarantees the next
    /// [`pop`](Self::pop) returns an item, since only this cursor moves its
    /// position).
    ///
    /// # Examples
    ///
    /// ```
    /// let (_tx, cs) = corelane::queue::multicast::broadcast(4, || 0u8, 1);
    /// assert!(cs[0].is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of slots in the ring.
    ///
    /// # Examples
    ///
    /// ```
    /// let (_tx, cs) = corelane::queue::multicast::broadcast(3, || 0u8, 1);
    /// assert_eq!(cs[0].capacity(), 4);
    /// ```
    pub fn capacity(&self) -> usize {
        self.ring.capacity()
    }

    /// True once every publisher is gone (items may still be readable).
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, cs) = corelane::queue::multicast::broadcast(4, || 0u8, 1);
    /// drop(tx);
    /// assert!(cs[0].is_disconnected());
    /// ```
    pub fn is_disconnected(&self) -> bool {
        self.ring.is_closed()
    }

    /// A handle to subscribe more cursors to this ring at run time.
    ///
    /// # Examples
    ///
    /// ```
    /// let (_tx, cs) = corelane::queue::multicast::broadcast(4, || 0u8, 1);
    /// let more = cs[0].joiner().subscribe();
    /// assert_eq!(more.sequence(), 0);
    /// ```
    pub fn joiner(&self) -> Joiner<T> {
        Joiner::new(self.ring.clone())
    }
}

impl<T> Drop for Cursor<T> {
    fn drop(&mut self) {
        super::joiner::leave(&self.ring, self.state.horizon.id());
    }
}

impl CursorState {
    /// The readable run `[pos, pos + n)`, `n <= max` (`n >= 1` unless
    /// `max == 0`). Does not advance: the [`Batch`] does, when it drops.
    #[inline]
    fn take<T>(&mut self, ring: &Ring<T>, max: usize) -> Result<Run, TryRecvError> {
        let mut have = self.horizon.ahead(self.pos) as usize;
        if have < max {
            self.horizon.scan(ring, self.pos, max);
            have = self.horizon.ahead(self.pos) as usize;
            if have == 0 {
                have = self.nothing_ready(ring, max)?;
            }
        }
        // Not for workers: their view of the group's claim may be stale.
        debug_assert!(
            have <= ring.capacity(),
            "a cursor's limit runs more than a ring ahead"
        );
        Ok((self.pos, have.min(max)))
    }

    /// Nothing readable: rewire after a leave upstream, notice the end of
    /// the stream or a failed upstream, or say why not.
    #[cold]
    fn nothing_ready<T>(&mut self, ring: &Ring<T>, max: usize) -> Result<usize, TryRecvError> {
        if self.horizon.rewire(ring) {
            self.horizon.scan(ring, self.pos, max);
        }
        let closed = ring.closed_at();
        if closed == self.pos {
            // The end of the stream, even if an upstream left right there:
            // nothing it failed to release is left to read.
            return Err(TryRecvError::Disconnected);
        }
        if closed != OPEN {
            // Every stamp is visible now (Acquire above): one more look.
            self.horizon.scan(ring, self.pos, max);
        }
        match self.horizon.ahead(self.pos) as usize {
            0 => Err(self.why_empty(ring)),
            have => Ok(have),
        }
    }

    #[cold]
    fn why_empty<T>(&mut self, ring: &Ring<T>) -> TryRecvError {
        if let Some(failed) = self.horizon.failure(self.pos) {
            // Stopped for good here: so are the nodes after this one.
            if self.shared.failed_at.get() != self.pos {
                let mark = &self.shared.failed_at;
                ring.registry.lock().mark_failed(mark, self.pos);
                ring.released.notify();
            }
            return TryRecvError::UpstreamFailed(failed);
        }
        if ring.multi && self.horizon.is_root() && ahead(ring.producer.get_relaxed(), self.pos) > 0
        {
            TryRecvError::Busy
        } else {
            TryRecvError::Empty
        }
    }
}

impl<T> ReadSide<T> for CursorState {
    fn take(&mut self, ring: &Ring<T>, max: usize) -> Result<Run, TryRecvError> {
        CursorState::take(self, ring, max)
    }

    fn wake_cell(&self) -> WakeCell {
        self.horizon.wake_cell()
    }
}
