//! The handle of a worker group's member ([`Worker`]). The group's claim
//! protocol and its ground rules are in `group.rs`.

use std::fmt;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::batch::{Batch, Item, Release};
use super::error::{RecvError, RecvTimeoutError, TryRecvError};
use super::graph::Upstream;
use super::group::{GroupShared, WorkSide, WorkerState, IDLE};
use super::id::{GroupId, NodeId};
use super::reader::{batch_async, batch_blocking, batch_until, poll_batch, Horizon, Run};
use super::ring::Ring;
use super::Joiner;
use crate::queue::wait::{self, WaitStrategy};
use crate::sync::Arc;

/// One member of a worker group: together the members see every item once,
/// each item going to exactly one member (in claim order, in runs of up to
/// the `max` a member asks for).
///
/// Made by [`Builder::group`](super::Builder::group) and taken with
/// [`Handles::workers`](super::Handles::workers), or by
/// [`Joiner::subscribe_group`]. Dropping a worker leaves the group; when
/// the last member leaves, the group leaves the graph. The reads follow
/// [`Cursor`](super::Cursor)'s (the same names, guards and errors), except
/// that they claim: an item one worker took is not offered to another.
///
/// A worker that drops a run unfinished (its thread panics in
/// [`process`](Self::process) or while holding the [`Batch`], or the batch
/// is leaked with `mem::forget`) loses the rest of the run for the whole
/// group: no other member sees those items, and the group counts as failed
/// at the first of them, so nodes that run after it with
/// [`OnFailure::Fail`](super::OnFailure) stop there.
///
/// # Errors
///
/// Every read fails with `Disconnected` once every publisher is gone and
/// the group has claimed everything, and with `UpstreamFailed` once a node
/// the group runs after with [`OnFailure::Fail`](super::OnFailure) failed
/// and the group reached that point.
///
/// # Examples
///
/// ```
/// use corelane::queue::multicast::Builder;
///
/// let mut b = Builder::new(16, || 0u64);
/// let g = b.group(2);
/// let (mut tx, mut handles) = b.build().unwrap();
/// let mut workers = handles.workers(g);
/// for i in 0..4 {
///     tx.push(i).unwrap();
/// }
/// let a = workers[0].pop_batch(3).unwrap().iter().copied().collect::<Vec<_>>();
/// let b = workers[1].pop_batch(3).unwrap().iter().copied().collect::<Vec<_>>();
/// assert_eq!((a, b), (vec![0, 1, 2], vec![3]));
/// ```
pub struct Worker<T> {
    ring: Arc<Ring<T>>,
    group: Arc<GroupShared>,
    state: WorkerState,
}

impl<T> fmt::Debug for Worker<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("multicast::Worker")
            .field("id", &self.state.horizon.id())
            .field("member", &self.state.member)
            .finish()
    }
}

impl<T> Worker<T> {
    pub(crate) fn new(
        ring: Arc<Ring<T>>,
        group: Arc<GroupShared>,
        id: NodeId,
        member: usize,
        upstream: Upstream,
        version: usize,
    ) -> Self {
        let start = group.claim.get();
        Worker {
            ring,
            group,
            state: WorkerState {
                member,
                horizon: Horizon::new(id, start, upstream, version),
            },
        }
    }

    fn batch(&mut self, (start, len): Run) -> Batch<'_, T> {
        let release = Release::Worker {
            held: &self.group.held[self.state.member],
            group_failed_at: &self.group.failed_at,
        };
        Batch::new(&self.ring, start, len, release)
    }

    /// The read side for the shared waiting helpers, and the ring.
    fn side(&mut self) -> (WorkSide<'_>, &Ring<T>) {
        let side = WorkSide {
            state: &mut self.state,
            group: &self.group,
        };
        (side, &self.ring)
    }

    /// Claims the next item, read in place; the worker is done with it when
    /// the [`Item`] drops. Never blocks.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] if nothing is left to claim now;
    /// [`TryRecvError::Disconnected`] once every publisher is gone and the
    /// group has claimed everything; [`TryRecvError::UpstreamFailed`] once
    /// the group reached the point where a node it runs after failed.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::multicast::{Builder, TryRecvError};
    ///
    /// let mut b = Builder::new(4, || 0u8);
    /// let g = b.group(1);
    /// let (mut tx, mut h) = b.build().unwrap();
    /// let mut w = h.workers(g).pop().unwrap();
    /// tx.push(5).unwrap();
    /// assert_eq!(*w.pop().unwrap(), 5);
    /// assert_eq!(w.pop().unwrap_err(), TryRecvError::Empty);
    /// ```
    #[inline]
    pub fn pop(&mut self) -> Result<Item<'_, T>, TryRecvError> {
        let r = self.state.take(&self.ring, &self.group, 1)?;
        Ok(Item(self.batch(r)))
    }

    /// Claims a run of up to `max` items (at least one), read in place.
    /// Never blocks.
    ///
    /// # Errors
    ///
    /// As [`pop`](Self::pop).
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::multicast::Builder;
    ///
    /// let mut b = Builder::new(8, || 0u8);
    /// let g = b.group(3);
    /// let (mut tx, mut h) = b.build().unwrap();
    /// let mut ws = h.workers(g);
    /// tx.push_batch(5, |i, slot| *slot = i as u8).unwrap();
    /// assert_eq!(ws[2].pop_batch(8).unwrap().len(), 5);
    /// assert!(ws[0].pop_batch(8).is_err());
    /// ```
    #[inline]
    pub fn pop_batch(&mut self, max: usize) -> Result<Batch<'_, T>, TryRecvError> {
        let r = self.state.take(&self.ring, &self.group, max)?;
        Ok(self.batch(r))
    }

    /// Claims up to `max` items and hands each to `handler` with its
    /// sequence number and an end-of-batch flag; returns how many. Never
    /// blocks.
    ///
    /// If `handler` panics, the items it finished are released and the rest
    /// of the run is lost to the group (see the type's docs).
    ///
    /// # Errors
    ///
    /// As [`pop`](Self::pop).
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::multicast::Builder;
    ///
    /// let mut b = Builder::new(8, || 0u32);
    /// let g = b.group(2);
    /// let (mut tx, mut h) = b.build().unwrap();
    /// let mut ws = h.workers(g);
    /// tx.push(7).unwrap();
    /// let mut seen = vec![];
    /// ws[0].process(16, |v, seq, last| seen.push((*v, seq, last))).unwrap();
    /// assert_eq!(seen, [(7, 0, true)]);
    /// ```
    pub fn process<F: FnMut(&T, u64, bool)>(
        &mut self,
        max: usize,
        handler: F,
    ) -> Result<usize, TryRecvError> {
        Ok(self.pop_batch(max)?.process(handler))
    }

    /// Claims the next item, waiting per `strategy` while none is left.
    ///
    /// # Errors
    ///
    /// [`RecvError::Disconnected`] once every publisher is gone and the
    /// group has claimed everything; [`RecvError::UpstreamFailed`] once the
    /// group reached the point where a node it runs after failed. Nothing
    /// else: both end the stream for this worker.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::{multicast::Builder, wait::WaitStrategy};
    ///
    /// let mut b = Builder::new(4, || 0u8);
    /// let g = b.group(1);
    /// let (mut tx, mut h) = b.build().unwrap();
    /// let mut w = h.workers(g).pop().unwrap();
    /// std::thread::spawn(move || tx.push(3).unwrap());
    /// assert_eq!(*w.pop_blocking(WaitStrategy::Park).unwrap(), 3);
    /// ```
    pub fn pop_blocking(&mut self, strategy: WaitStrategy) -> Result<Item<'_, T>, RecvError> {
        Ok(Item(self.pop_batch_blocking(1, strategy)?))
    }

    /// Claims up to `max` items (at least one), waiting per `strategy`
    /// while none is left.
    ///
    /// # Errors
    ///
    /// As [`pop_blocking`](Self::pop_blocking).
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::{multicast::Builder, wait::WaitStrategy};
    ///
    /// let mut b = Builder::new(4, || 0u8);
    /// let g = b.group(2);
    /// let (mut tx, mut h) = b.build().unwrap();
    /// let mut w = h.workers(g).pop().unwrap();
    /// tx.push(1).unwrap();
    /// assert_eq!(w.pop_batch_blocking(4, WaitStrategy::Yield).unwrap().len(), 1);
    /// ```
    pub fn pop_batch_blocking(
        &mut self,
        max: usize,
        strategy: WaitStrategy,
    ) -> Result<Batch<'_, T>, RecvError> {
        let (mut side, ring) = self.side();
        let r = batch_blocking(&mut side, ring, max, strategy)?;
        Ok(self.batch(r))
    }

    /// Claims the next item, waiting per `strategy` at most `timeout` while
    /// none is left.
    ///
    /// # Errors
    ///
    /// [`RecvTimeoutError::Timeout`] if nothing was left to claim in time;
    /// otherwise as [`pop_blocking`](Self::pop_blocking).
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::multicast::{Builder, RecvTimeoutError};
    /// use corelane::queue::wait::WaitStrategy;
    /// use std::time::Duration;
    ///
    /// let mut b = Builder::new(4, || 0u8);
    /// let g = b.group(1);
    /// let (_tx, mut h) = b.build().unwrap();
    /// let mut w = h.workers(g).pop().unwrap();
    /// let r = w.pop_timeout(Duration::from_millis(1), WaitStrategy::Park);
    /// assert_eq!(r.unwrap_err(), RecvTimeoutError::Timeout);
    /// ```
    pub fn pop_timeout(
        &mut self,
        timeout: Duration,
        strategy: WaitStrategy,
    ) -> Result<Item<'_, T>, RecvTimeoutError> {
        Ok(Item(self.pop_batch_timeout(1, timeout, strategy)?))
    }

    /// Claims the next item, waiting per `strategy` until `deadline` while
    /// none is left (a deadline in the past still tries once).
    ///
    /// # Errors
    ///
    /// As [`pop_timeout`](Self::pop_timeout).
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::{multicast::Builder, wait::WaitStrategy};
    /// use std::time::Instant;
    ///
    /// let mut b = Builder::new(4, || 0u8);
    /// let g = b.group(1);
    /// let (mut tx, mut h) = b.build().unwrap();
    /// let mut w = h.workers(g).pop().unwrap();
    /// tx.push(6).unwrap();
    /// assert_eq!(*w.pop_until(Instant::now(), WaitStrategy::Yield).unwrap(), 6);
    /// ```
    pub fn pop_until(
        &mut self,
        deadline: Instant,
        strategy: WaitStrategy,
    ) -> Result<Item<'_, T>, RecvTimeoutError> {
        Ok(Item(self.pop_batch_until(1, deadline, strategy)?))
    }

    /// Claims up to `max` items (at least one), waiting per `strategy` at
    /// most `timeout` while none is left.
    ///
    /// # Errors
    ///
    /// As [`pop_timeout`](Self::pop_timeout).
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::{multicast::Builder, wait::WaitStrategy};
    /// use std::time::Duration;
    ///
    /// let mut b = Builder::new(4, || 0u8);
    /// let g = b.group(1);
    /// let (mut tx, mut h) = b.build().unwrap();
    /// let mut w = h.workers(g).pop().unwrap();
    /// tx.push_batch(2, |i, v| *v = i as u8).unwrap();
    /// let batch = w.pop_batch_timeout(4, Duration::from_millis(1), WaitStrategy::Park).unwrap();
    /// assert_eq!(batch.len(), 2);
    /// ```
    pub fn pop_batch_timeout(
        &mut self,
        max: usize,
        timeout: Duration,
        strategy: WaitStrategy,
    ) -> Result<Batch<'_, T>, RecvTimeoutError> {
        let deadline = wait::deadline_after(timeout);
        let (mut side, ring) = self.side();
        let r = batch_until(&mut side, ring, max, strategy, deadline)?;
        Ok(self.batch(r))
    }

    /// Claims up to `max` items (at least one), waiting per `strategy`
    /// until `deadline` while none is left.
    ///
    /// # Errors
    ///
    /// As [`pop_timeout`](Self::pop_timeout).
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::multicast::{Builder, RecvTimeoutError};
    /// use corelane::queue::wait::WaitStrategy;
    /// use std::time::Instant;
    ///
    /// let mut b = Builder::new(4, || 0u8);
    /// let g = b.group(1);
    /// let (_tx, mut h) = b.build().unwrap();
    /// let mut w = h.workers(g).pop().unwrap();
    /// let r = w.pop_batch_until(4, Instant::now(), WaitStrategy::BusySpin);
    /// assert_eq!(r.unwrap_err(), RecvTimeoutError::Timeout);
    /// ```
    pub fn pop_batch_until(
        &mut self,
        max: usize,
        deadline: Instant,
        strategy: WaitStrategy,
    ) -> Result<Batch<'_, T>, RecvTimeoutError> {
        let (mut side, ring) = self.side();
        let r = batch_until(&mut side, ring, max, strategy, Some(deadline))?;
        Ok(self.batch(r))
    }

    /// Claims the next item, waiting asynchronously while none is left.
    /// Cancel safe: a `recv` dropped before it completes has claimed
    /// nothing.
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
    /// use corelane::queue::multicast::Builder;
    ///
    /// let mut b = Builder::new(4, || 0u8);
    /// let g = b.group(1);
    /// let (mut tx, mut h) = b.build().unwrap();
    /// let mut w = h.workers(g).pop().unwrap();
    /// tx.push(9).unwrap();
    /// assert_eq!(*w.recv().await.unwrap(), 9);
    /// # });
    /// ```
    pub async fn recv(&mut self) -> Result<Item<'_, T>, RecvError> {
        Ok(Item(self.recv_batch(1).await?))
    }

    /// Claims up to `max` items (at least one), waiting asynchronously
    /// while none is left. Cancel safe, as [`recv`](Self::recv).
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
    /// use corelane::queue::multicast::Builder;
    ///
    /// let mut b = Builder::new(4, || 0u8);
    /// let g = b.group(1);
    /// let (mut tx, mut h) = b.build().unwrap();
    /// let mut w = h.workers(g).pop().unwrap();
    /// tx.push(1).unwrap();
    /// tx.push(2).unwrap();
    /// assert_eq!(w.recv_batch(8).await.unwrap().len(), 2);
    /// # });
    /// ```
    pub async fn recv_batch(&mut self, max: usize) -> Result<Batch<'_, T>, RecvError> {
        let (mut side, ring) = self.side();
        let r = batch_async(&mut side, ring, max).await?;
        Ok(self.batch(r))
    }

    /// The poll form of [`recv`](Self::recv): `Ready(Ok(item))`,
    /// `Ready(Err(_))` once the stream ended for the group, or `Pending`
    /// with the task's waker registered. (No `Stream` impl: the item
    /// borrows the worker.)
    ///
    /// # Errors
    ///
    /// As [`pop_blocking`](Self::pop_blocking).
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::multicast::Builder;
    /// use std::task::{Context, Poll, Waker};
    ///
    /// let mut b = Builder::new(4, || 0u8);
    /// let g = b.group(1);
    /// let (mut tx, mut h) = b.build().unwrap();
    /// let mut w = h.workers(g).pop().unwrap();
    /// let mut cx = Context::from_waker(Waker::noop());
    /// assert!(w.poll_pop(&mut cx).is_pending());
    /// tx.push(4).unwrap();
    /// let Poll::Ready(Ok(item)) = w.poll_pop(&mut cx) else { panic!() };
    /// assert_eq!(*item, 4);
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
    /// use corelane::queue::multicast::Builder;
    /// use std::task::{Context, Poll, Waker};
    ///
    /// let mut b = Builder::new(4, || 0u8);
    /// let g = b.group(1);
    /// let (mut tx, mut h) = b.build().unwrap();
    /// let mut w = h.workers(g).pop().unwrap();
    /// tx.push_batch(3, |i, v| *v = i as u8).unwrap();
    /// let mut cx = Context::from_waker(Waker::noop());
    /// let Poll::Ready(Ok(batch)) = w.poll_pop_batch(8, &mut cx) else { panic!() };
    /// assert_eq!(batch.len(), 3);
    /// ```
    pub fn poll_pop_batch(
        &mut self,
        max: usize,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Batch<'_, T>, RecvError>> {
        let (mut side, ring) = self.side();
        match poll_batch(&mut side, ring, max, cx) {
            Poll::Ready(Ok(r)) => Poll::Ready(Ok(self.batch(r))),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }

    /// This group's id (shared by every member), for
    /// [`Joiner::subscribe_after`].
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::multicast::Builder;
    ///
    /// let mut b = Builder::new(4, || 0u8);
    /// let g = b.group(2);
    /// let (_tx, mut h) = b.build().unwrap();
    /// assert!(h.workers(g).iter().all(|w| w.id() == g));
    /// ```
    pub fn id(&self) -> GroupId {
        GroupId(self.state.horizon.id())
    }

    /// The sequence number of the next item the group will hand out (to
    /// whichever member claims first; a snapshot).
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::multicast::Builder;
    ///
    /// let mut b = Builder::new(4, || 0u8);
    /// let g = b.group(2);
    /// let (mut tx, mut h) = b.build().unwrap();
    /// let mut ws = h.workers(g);
    /// tx.push(1).unwrap();
    /// drop(ws[0].pop().unwrap());
    /// assert_eq!(ws[1].sequence(), 1);
    /// ```
    pub fn sequence(&self) -> u64 {
        self.group.claim.get() as u64
    }

    /// Items left for the group to claim now (published, or released by
    /// the nodes the group runs after); a snapshot, since other members
    /// claim concurrently.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::multicast::Builder;
    ///
    /// let mut b = Builder::new(4, || 0u8);
    /// let g = b.group(2);
    /// let (mut tx, mut h) = b.build().unwrap();
    /// let ws = h.workers(g);
    /// tx.push(1).unwrap();
    /// assert_eq!((ws[0].len(), ws[1].len()), (1, 1));
    /// ```
    pub fn len(&self) -> usize {
        self.state.horizon.peek(&self.ring, self.group.claim.get())
    }

    /// True if nothing is left for the group to claim now.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::multicast::Builder;
    ///
    /// let mut b = Builder::new(4, || 0u8);
    /// let g = b.group(1);
    /// let (_tx, mut h) = b.build().unwrap();
    /// assert!(h.workers(g)[0].is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of slots in the ring.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::multicast::Builder;
    ///
    /// let mut b = Builder::new(5, || 0u8);
    /// let g = b.group(1);
    /// let (_tx, mut h) = b.build().unwrap();
    /// assert_eq!(h.workers(g)[0].capacity(), 8);
    /// ```
    pub fn capacity(&self) -> usize {
        self.ring.capacity()
    }

    /// True once every publisher is gone (items may still be left).
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::multicast::Builder;
    ///
    /// let mut b = Builder::new(4, || 0u8);
    /// let g = b.group(1);
    /// let (tx, mut h) = b.build().unwrap();
    /// drop(tx);
    /// assert!(h.workers(g)[0].is_disconnected());
    /// ```
    pub fn is_disconnected(&self) -> bool {
        self.ring.is_closed()
    }

    /// A handle to subscribe more nodes to this ring at run time.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::multicast::Builder;
    ///
    /// let mut b = Builder::new(4, || 0u8);
    /// let g = b.group(1);
    /// let (_tx, mut h) = b.build().unwrap();
    /// let ws = h.workers(g);
    /// let after = ws[0].joiner().subscribe_after(&[g]).unwrap();
    /// assert_eq!(after.sequence(), 0);
    /// ```
    pub fn joiner(&self) -> Joiner<T> {
        Joiner::new(self.ring.clone())
    }
}

impl<T> Drop for Worker<T> {
    fn drop(&mut self) {
        let held = &self.group.held[self.state.member];
        {
            let mut reg = self.ring.registry.lock();
            let h = held.get();
            if h != IDLE {
                // A leaked batch: its items are lost to the group. The mark
                // goes out before `held` moves on (ground rules).
                reg.mark_failed(&self.group.failed_at, h);
            }
            held.set(IDLE);
        }
        super::joiner::leave(&self.ring, self.state.horizon.id());
    }
}
