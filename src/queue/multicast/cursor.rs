//! Broadcast cursors ([`Cursor`]): subscribers that see every item.

use std::fmt;

use super::batch::{Batch, Item, Release};
use super::graph::{NodeId, Upstream};
use super::reader::{batch_async, batch_blocking, Horizon, ReadSide, WakeCell};
use super::ring::{Ring, OPEN};
use super::sequence::Sequence;
use super::Joiner;
use crate::queue::position::ahead;
use crate::queue::wait::WaitStrategy;
use crate::queue::PopError;
use crate::sync::Arc;

/// A broadcast subscriber: sees every item published after it started, in
/// publication order, by reference into the ring (no copy).
///
/// A cursor holds back the producer until it releases what it read (it
/// *gates* the producer, directly or through the cursors that run after
/// it). Items are released when the [`Batch`] or [`Item`] they came in
/// drops. Dropping the cursor leaves the graph: it stops gating, and cursors
/// that ran after it now run after what it ran after.
///
/// # Examples
///
/// ```
/// use corelane::queue::{multicast, PopError};
///
/// let (mut tx, mut cursors) = multicast::broadcast(8, String::new, 2);
/// tx.try_publish_with(|s| s.push_str("hello")).unwrap();
/// for c in &mut cursors {
///     assert_eq!(&*c.try_next().unwrap(), "hello");
///     assert!(matches!(c.try_next(), Err(PopError::Empty)));
/// }
/// ```
pub struct Cursor<T> {
    ring: Arc<Ring<T>>,
    /// This cursor's released position, as the producer and the nodes after
    /// it read it.
    released: Arc<Sequence>,
    state: CursorState,
}

struct CursorState {
    /// Next position to read; everything below it is released.
    pos: usize,
    /// How far from `pos` this cursor may read.
    horizon: Horizon,
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
        released: Arc<Sequence>,
        id: NodeId,
        start: usize,
        upstream: Upstream,
        version: usize,
    ) -> Self {
        Cursor {
            ring,
            released,
            state: CursorState {
                pos: start,
                horizon: Horizon::new(id, start, upstream, version),
            },
        }
    }

    fn batch(&mut self, (start, len): (usize, usize)) -> Batch<'_, T> {
        let release = Release::Cursor {
            pos: &mut self.state.pos,
            seq: &self.released,
        };
        Batch::new(&self.ring, start, len, release)
    }

    /// The next item, by reference; it is released when the [`Item`] drops.
    /// Never blocks.
    ///
    /// # Errors
    ///
    /// [`PopError::Empty`] if nothing is readable yet; [`PopError::Busy`]
    /// (multi-producer rings) if the next position is claimed but not yet
    /// written; [`PopError::Disconnected`] once every publisher is gone and
    /// this cursor has read everything.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::{multicast, PopError};
    ///
    /// let (mut tx, mut cs) = multicast::broadcast(4, || 0u32, 1);
    /// tx.try_publish(1).unwrap();
    /// drop(tx);
    /// assert_eq!(*cs[0].try_next().unwrap(), 1);
    /// assert!(matches!(cs[0].try_next(), Err(PopError::Disconnected)));
    /// ```
    #[inline]
    pub fn try_next(&mut self) -> Result<Item<'_, T>, PopError> {
        let r = self.state.take(&self.ring, 1)?;
        Ok(Item(self.batch(r)))
    }

    /// The run of up to `max` readable items (at least one), by reference,
    /// released together (one store) when the [`Batch`] drops.
    ///
    /// # Errors
    ///
    /// As [`try_next`](Self::try_next).
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::multicast;
    ///
    /// let (mut tx, mut cs) = multicast::broadcast(8, || 0u32, 1);
    /// tx.try_publish_batch(5, |i, slot| *slot = i as u32 * 10).unwrap();
    /// let batch = cs[0].poll(3).unwrap();
    /// assert_eq!(batch.iter().copied().collect::<Vec<_>>(), [0, 10, 20]);
    /// assert_eq!(batch.sequence(), 0);
    /// ```
    #[inline]
    pub fn poll(&mut self, max: usize) -> Result<Batch<'_, T>, PopError> {
        let r = self.state.take(&self.ring, max)?;
        Ok(self.batch(r))
    }

    /// Hands up to `max` readable items to `handler` with their sequence
    /// numbers and an end-of-batch flag (true on the last item of the run,
    /// the moment to flush whatever the handler batches up), then releases
    /// them together. Returns how many were handled.
    ///
    /// If `handler` panics, the whole run is released.
    ///
    /// # Errors
    ///
    /// As [`try_next`](Self::try_next).
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::multicast;
    ///
    /// let (mut tx, mut cs) = multicast::broadcast(8, || 0u32, 1);
    /// for i in 0..3 {
    ///     tx.try_publish(i).unwrap();
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
    ) -> Result<usize, PopError> {
        Ok(self.poll(max)?.process(handler))
    }

    /// The next item, waiting per `strategy` while none is readable.
    ///
    /// # Errors
    ///
    /// [`PopError::Disconnected`] once every publisher is gone and this
    /// cursor has read everything.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::{multicast, wait::WaitStrategy};
    ///
    /// let (mut tx, mut cs) = multicast::broadcast(4, || 0u32, 1);
    /// std::thread::spawn(move || tx.try_publish(8).unwrap());
    /// assert_eq!(*cs[0].next_blocking(WaitStrategy::Park).unwrap(), 8);
    /// ```
    pub fn next_blocking(&mut self, strategy: WaitStrategy) -> Result<Item<'_, T>, PopError> {
        Ok(Item(self.poll_blocking(1, strategy)?))
    }

    /// Up to `max` items, waiting per `strategy` while none is readable.
    ///
    /// # Errors
    ///
    /// As [`next_blocking`](Self::next_blocking).
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::{multicast, wait::WaitStrategy, PopError};
    ///
    /// let (mut tx, mut cs) = multicast::broadcast(4, || 0u32, 1);
    /// tx.try_publish(1).unwrap();
    /// drop(tx);
    /// assert_eq!(cs[0].poll_blocking(4, WaitStrategy::Backoff).unwrap().len(), 1);
    /// assert!(matches!(
    ///     cs[0].poll_blocking(4, WaitStrategy::Park),
    ///     Err(PopError::Disconnected)
    /// ));
    /// ```
    pub fn poll_blocking(
        &mut self,
        max: usize,
        strategy: WaitStrategy,
    ) -> Result<Batch<'_, T>, PopError> {
        let r = batch_blocking(&mut self.state, &self.ring, max, strategy)?;
        Ok(self.batch(r))
    }

    /// The next item, waiting asynchronously (works under any executor: it
    /// registers the task's [`Waker`](std::task::Waker)).
    ///
    /// # Errors
    ///
    /// As [`next_blocking`](Self::next_blocking).
    ///
    /// # Examples
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// # rt.block_on(async {
    /// let (mut tx, mut cs) = corelane::queue::multicast::broadcast(4, || 0u32, 1);
    /// tx.try_publish(4).unwrap();
    /// assert_eq!(*cs[0].recv().await.unwrap(), 4);
    /// # });
    /// ```
    pub async fn recv(&mut self) -> Result<Item<'_, T>, PopError> {
        Ok(Item(self.recv_batch(1).await?))
    }

    /// Up to `max` items, waiting asynchronously while none is readable.
    ///
    /// # Errors
    ///
    /// As [`next_blocking`](Self::next_blocking).
    ///
    /// # Examples
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// # rt.block_on(async {
    /// let (mut tx, mut cs) = corelane::queue::multicast::broadcast(4, || 0u32, 1);
    /// tx.try_publish(4).unwrap();
    /// tx.try_publish(5).unwrap();
    /// assert_eq!(cs[0].recv_batch(8).await.unwrap().len(), 2);
    /// # });
    /// ```
    pub async fn recv_batch(&mut self, max: usize) -> Result<Batch<'_, T>, PopError> {
        let r = batch_async(&mut self.state, &self.ring, max).await?;
        Ok(self.batch(r))
    }

    /// This cursor's node id, to declare cursors that run after it with
    /// [`Joiner::subscribe_after`].
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, cs) = corelane::queue::multicast::broadcast(4, || 0u8, 1);
    /// let after = tx.joiner().subscribe_after(&[cs[0].id()]).unwrap();
    /// assert_ne!(after.id(), cs[0].id());
    /// ```
    pub fn id(&self) -> NodeId {
        self.state.horizon.id()
    }

    /// The sequence number of the next item this cursor will read.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut cs) = corelane::queue::multicast::broadcast(4, || 0u8, 1);
    /// tx.try_publish(1).unwrap();
    /// drop(cs[0].try_next().unwrap());
    /// assert_eq!(cs[0].sequence(), 1);
    /// ```
    pub fn sequence(&self) -> u64 {
        self.state.pos as u64
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
    /// assert!(cs[0].is_abandoned());
    /// ```
    pub fn is_abandoned(&self) -> bool {
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
    fn take<T>(&mut self, ring: &Ring<T>, max: usize) -> Result<(usize, usize), PopError> {
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
    /// the stream, or say why not.
    #[cold]
    fn nothing_ready<T>(&mut self, ring: &Ring<T>, max: usize) -> Result<usize, PopError> {
        if self.horizon.rewire(ring) {
            self.horizon.scan(ring, self.pos, max);
        }
        let closed = ring.closed_at();
        if closed == self.pos {
            return Err(PopError::Disconnected);
        }
        if closed != OPEN {
            // Every stamp is visible now (Acquire above): one more look.
            self.horizon.scan(ring, self.pos, max);
        }
        match self.horizon.ahead(self.pos) as usize {
            0 if ring.multi
                && self.horizon.is_root()
                && ahead(ring.producer.get_relaxed(), self.pos) > 0 =>
            {
                Err(PopError::Busy)
            }
            0 => Err(PopError::Empty),
            have => Ok(have),
        }
    }
}

impl<T> ReadSide<T> for CursorState {
    fn take(&mut self, ring: &Ring<T>, max: usize) -> Result<(usize, usize), PopError> {
        CursorState::take(self, ring, max)
    }

    fn wake_cell(&self) -> WakeCell {
        self.horizon.wake_cell()
    }
}
