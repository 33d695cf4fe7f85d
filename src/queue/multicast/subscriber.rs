//! Broadcast cursors ([`Cursor`]) and the in-place views they and workers
//! hand out ([`Batch`], [`Item`]).

use std::fmt;
use std::ops::Deref;

use super::cursor::{signed, Sequence};
use super::graph::{Barrier, NodeId};
use super::group::IDLE;
use super::ring::{Ring, OPEN};
use super::Joiner;
use crate::queue::wait::{block_on, Notify, Retry, WaitStrategy};
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
    seq: Arc<Sequence>,
    st: ReadState,
}

struct ReadState {
    id: NodeId,
    /// Next position to read; everything below it is released.
    pos: usize,
    /// Positions in `[pos, limit)` are known readable.
    limit: usize,
    barrier: Barrier,
    version: usize,
}

impl<T> fmt::Debug for Cursor<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("multicast::Cursor")
            .field("id", &self.st.id)
            .field("sequence", &self.st.pos)
            .finish()
    }
}

impl<T> Cursor<T> {
    pub(crate) fn new(
        ring: Arc<Ring<T>>,
        seq: Arc<Sequence>,
        id: NodeId,
        start: usize,
        barrier: Barrier,
        version: usize,
    ) -> Self {
        Cursor {
            ring,
            seq,
            st: ReadState {
                id,
                pos: start,
                limit: start,
                barrier,
                version,
            },
        }
    }

    fn batch(&mut self, (start, len): (usize, usize)) -> Batch<'_, T> {
        let release = Release::Cursor {
            pos: &mut self.st.pos,
            seq: &self.seq,
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
        let r = self.st.take(&self.ring, 1)?;
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
        let r = self.st.take(&self.ring, max)?;
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
        let r = batch_blocking(&mut self.st, &self.ring, max, strategy)?;
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
        let r = batch_async(&mut self.st, &self.ring, max).await?;
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
        self.st.id
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
        self.st.pos as u64
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
        super::builder::leave(&self.ring, self.st.id);
    }
}

impl ReadState {
    /// The readable run `[pos, pos + n)`, `n <= max` (`n >= 1` unless
    /// `max == 0`). Does not advance: the [`Batch`] does, when it drops.
    #[inline]
    fn take<T>(&mut self, ring: &Ring<T>, max: usize) -> Result<(usize, usize), PopError> {
        let mut have = self.limit.wrapping_sub(self.pos);
        if have < max {
            self.scan(ring, max);
            have = self.limit.wrapping_sub(self.pos);
            if have == 0 {
                have = self.nothing_ready(ring, max)?;
            }
        }
        Ok((self.pos, have.min(max)))
    }

    /// Extends `limit` from the barrier.
    #[inline]
    fn scan<T>(&mut self, ring: &Ring<T>, max: usize) {
        match &self.barrier {
            Barrier::Root => {
                let mut q = self.limit;
                if q.wrapping_sub(self.pos) < max && ring.slot(q).stamp.holds(q) {
                    q = q.wrapping_add(1);
                    q = extend_run(ring, q, self.pos, max);
                }
                self.limit = q;
            }
            Barrier::After(gates) => {
                let up = Barrier::upstream(gates);
                if signed(up, self.limit) > 0 {
                    self.limit = up;
                }
            }
        }
    }

    /// Nothing readable: rewire after a leave upstream, notice the end of
    /// the stream, or say why not.
    #[cold]
    fn nothing_ready<T>(&mut self, ring: &Ring<T>, max: usize) -> Result<usize, PopError> {
        if ring.version() != self.version {
            let reg = ring.registry.lock();
            self.version = ring.version();
            self.barrier = reg.barrier(self.id);
            drop(reg);
            self.scan(ring, max);
        }
        let closed = ring.closed_at();
        if closed == self.pos {
            return Err(PopError::Disconnected);
        }
        if closed != OPEN {
            // Every stamp is visible now (Acquire above): one more look.
            self.scan(ring, max);
        }
        match self.limit.wrapping_sub(self.pos) {
            0 if ring.multi
                && matches!(self.barrier, Barrier::Root)
                && signed(ring.cursor.get_relaxed(), self.pos) > 0 =>
            {
                Err(PopError::Busy)
            }
            0 => Err(PopError::Empty),
            have => Ok(have),
        }
    }
}

impl<T> ReadSide<T> for ReadState {
    fn take(&mut self, ring: &Ring<T>, max: usize) -> Result<(usize, usize), PopError> {
        ReadState::take(self, ring, max)
    }

    fn wake_cell(&self) -> WakeCell {
        match self.barrier {
            Barrier::Root => WakeCell::Items,
            Barrier::After(_) => WakeCell::Released,
        }
    }
}

/// A root reader found position `q - 1` published: how far does the run
/// go? With a single producer, first its cursor: it covers every stamp
/// stored before it (Release/Acquire), and it is stored once per batch and
/// at gating refreshes, not per item, so its line is read-mostly and one
/// load can extend the run over a whole batch without touching the slots
/// the producer is filling right now (a batch stores the cursor before its
/// first stamp, so a reader woken by that stamp finds the cursor past the
/// batch). Past the cursor (it lags single-item publishes), and with many
/// producers, whose claims are not publications: stamps one by one, up to
/// `max`; they sit in the lines about to be read anyway. So a run is never
/// cut short while published items are left within `max`.
#[inline]
pub(crate) fn extend_run<T>(ring: &Ring<T>, mut q: usize, from: usize, max: usize) -> usize {
    if !ring.multi {
        let published = ring.cursor.get();
        if signed(published, q) > 0 {
            q = published;
        }
    }
    while q.wrapping_sub(from) < max && ring.slot(q).stamp.holds(q) {
        q = q.wrapping_add(1);
    }
    q
}

/// The first position not yet published, from a position `start` known to
/// be at or behind it (less than a ring): the producer cursor of a single
/// producer may lag its single-item publishes, so walk the stamps. For
/// many producers the claim cursor is already at or past it.
pub(crate) fn frontier<T>(ring: &Ring<T>, start: usize) -> usize {
    let mut q = start;
    if !ring.multi {
        while q.wrapping_sub(start) < ring.capacity() && ring.slot(q).stamp.holds(q) {
            q = q.wrapping_add(1);
        }
    }
    q
}

/// Which [`Notify`] a reader sleeps on: root readers wait for the producer,
/// dependent readers for releases upstream.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum WakeCell {
    Items,
    Released,
}

impl WakeCell {
    fn of<T>(self, ring: &Ring<T>) -> &Notify {
        match self {
            WakeCell::Items => &ring.items,
            WakeCell::Released => &ring.released,
        }
    }
}

/// A cursor's or worker's way of taking a run, for the shared waiting code.
pub(crate) trait ReadSide<T> {
    fn take(&mut self, ring: &Ring<T>, max: usize) -> Result<(usize, usize), PopError>;
    fn wake_cell(&self) -> WakeCell;
}

/// One attempt for a waiting loop: `None` to keep waiting, `Some(None)` to
/// re-enter the loop on another wake-up cell (the reader was rewired).
fn attempt<T, S: ReadSide<T>>(
    side: &mut S,
    ring: &Ring<T>,
    max: usize,
    cell: WakeCell,
) -> Option<Option<Result<(usize, usize), PopError>>> {
    match side.take(ring, max.max(1)) {
        Err(PopError::Empty | PopError::Busy) => (side.wake_cell() != cell).then_some(None),
        r => Some(Some(r)),
    }
}

pub(crate) fn batch_blocking<T, S: ReadSide<T>>(
    side: &mut S,
    ring: &Ring<T>,
    max: usize,
    strategy: WaitStrategy,
) -> Result<(usize, usize), PopError> {
    loop {
        let cell = side.wake_cell();
        let r = block_on(strategy, cell.of(ring), || attempt(side, ring, max, cell));
        if let Some(r) = r {
            return r;
        }
    }
}

pub(crate) async fn batch_async<T, S: ReadSide<T>>(
    side: &mut S,
    ring: &Ring<T>,
    max: usize,
) -> Result<(usize, usize), PopError> {
    loop {
        let cell = side.wake_cell();
        let r = Retry {
            notify: cell.of(ring),
            op: || attempt(side, ring, max, cell),
        }
        .await;
        if let Some(r) = r {
            return r;
        }
    }
}

/// What a [`Batch`] releases when it drops.
pub(crate) enum Release<'a> {
    /// A cursor: move its position past the batch and publish it.
    Cursor {
        pos: &'a mut usize,
        seq: &'a Sequence,
    },
    /// A worker: it holds nothing any more.
    Worker(&'a Sequence),
}

/// A run of items read in place, from [`Cursor::poll`] or
/// [`Worker::poll`](super::Worker::poll). The run is released (the producer
/// may reuse its slots, cursors after this one may read it) when the batch
/// drops.
///
/// # Examples
///
/// ```
/// let (mut tx, mut cs) = corelane::queue::multicast::broadcast(8, || 0u64, 1);
/// tx.try_publish_batch(4, |i, v| *v = i as u64).unwrap();
/// let batch = cs[0].poll(usize::MAX).unwrap();
/// assert_eq!(batch.len(), 4);
/// assert_eq!(batch.get(3), Some(&3));
/// assert_eq!((&batch).into_iter().sum::<u64>(), 6);
/// ```
pub struct Batch<'a, T> {
    ring: &'a Ring<T>,
    start: usize,
    len: usize,
    release: Release<'a>,
}

impl<T> fmt::Debug for Batch<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("multicast::Batch")
            .field("sequence", &self.start)
            .field("len", &self.len)
            .finish()
    }
}

impl<'a, T> Batch<'a, T> {
    pub(crate) fn new(ring: &'a Ring<T>, start: usize, len: usize, release: Release<'a>) -> Self {
        Batch {
            ring,
            start,
            len,
            release,
        }
    }

    #[inline]
    fn at(&self, i: usize) -> &T {
        debug_assert!(i < self.len);
        let pos = self.start.wrapping_add(i);
        // Every position of the run was published to this reader (its stamp,
        // or an upstream position covering it, was loaded with Acquire), and
        // the producer cannot overwrite it before the release in `Drop`
        // (this reader gates it).
        // SAFETY: as just said; the reference borrows `self`, so it ends
        // before the release.
        self.ring.slot(pos).value.with(|v| unsafe { &*v })
    }

    /// Items in the batch.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut cs) = corelane::queue::multicast::broadcast(4, || 0u8, 1);
    /// tx.try_publish(1).unwrap();
    /// assert_eq!(cs[0].poll(4).unwrap().len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.len
    }

    /// True for the empty batch that `poll(0)` returns.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut cs) = corelane::queue::multicast::broadcast(4, || 0u8, 1);
    /// tx.try_publish(1).unwrap();
    /// assert!(cs[0].poll(0).unwrap().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The sequence number of the first item.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut cs) = corelane::queue::multicast::broadcast(4, || 0u8, 1);
    /// tx.try_publish(1).unwrap();
    /// tx.try_publish(2).unwrap();
    /// drop(cs[0].try_next());
    /// assert_eq!(cs[0].poll(4).unwrap().sequence(), 1);
    /// ```
    pub fn sequence(&self) -> u64 {
        self.start as u64
    }

    /// The `i`-th item of the batch, by reference.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut cs) = corelane::queue::multicast::broadcast(4, || 0u8, 1);
    /// tx.try_publish(9).unwrap();
    /// let b = cs[0].poll(4).unwrap();
    /// assert_eq!((b.get(0), b.get(1)), (Some(&9), None));
    /// ```
    pub fn get(&self, i: usize) -> Option<&T> {
        (i < self.len).then(|| self.at(i))
    }

    /// Iterates over the items by reference, in order. The last item is the
    /// end of the batch.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut cs) = corelane::queue::multicast::broadcast(4, || 0u8, 1);
    /// tx.try_publish_batch(3, |i, v| *v = i as u8).unwrap();
    /// let b = cs[0].poll(4).unwrap();
    /// assert_eq!(b.iter().len(), 3);
    /// assert_eq!(b.iter().max(), Some(&2));
    /// ```
    pub fn iter(&self) -> Iter<'_, T> {
        Iter {
            ring: self.ring,
            next: self.start,
            left: self.len,
        }
    }

    /// Runs `handler` on every item with its sequence and end-of-batch flag,
    /// inside the slot access (so loom models see the reads), then releases.
    pub(crate) fn process<F: FnMut(&T, u64, bool)>(self, mut handler: F) -> usize {
        for i in 0..self.len {
            let pos = self.start.wrapping_add(i);
            let last = i + 1 == self.len;
            self.ring
                .slot(pos)
                .value
                // SAFETY: as in `at`; the reference does not outlive the closure.
                .with(|v| handler(unsafe { &*v }, pos as u64, last));
        }
        self.len
    }
}

impl<T> Drop for Batch<'_, T> {
    #[inline]
    fn drop(&mut self) {
        if self.len == 0 {
            return;
        }
        match &mut self.release {
            Release::Cursor { pos, seq } => {
                let end = self.start.wrapping_add(self.len);
                **pos = end;
                seq.set(end);
            }
            Release::Worker(held) => held.set(IDLE),
        }
        self.ring.released.notify();
    }
}

impl<'b, T> IntoIterator for &'b Batch<'_, T> {
    type Item = &'b T;
    type IntoIter = Iter<'b, T>;

    fn into_iter(self) -> Iter<'b, T> {
        self.iter()
    }
}

/// Iterator over a [`Batch`]'s items, by reference.
///
/// # Examples
///
/// ```
/// let (mut tx, mut cs) = corelane::queue::multicast::broadcast(4, || 0u8, 1);
/// tx.try_publish(3).unwrap();
/// let b = cs[0].poll(4).unwrap();
/// let mut it = b.iter();
/// assert_eq!(it.next(), Some(&3));
/// assert_eq!(it.next(), None);
/// ```
pub struct Iter<'b, T> {
    ring: &'b Ring<T>,
    next: usize,
    left: usize,
}

impl<T> fmt::Debug for Iter<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("multicast::Iter")
            .field("left", &self.left)
            .finish()
    }
}

impl<'b, T> Iterator for Iter<'b, T> {
    type Item = &'b T;

    #[inline]
    fn next(&mut self) -> Option<&'b T> {
        if self.left == 0 {
            return None;
        }
        let pos = self.next;
        self.next = pos.wrapping_add(1);
        self.left -= 1;
        // SAFETY: as in `Batch::at`; the iterator borrows the batch for 'b,
        // and the batch releases only when it drops, after 'b.
        Some(self.ring.slot(pos).value.with(|v| unsafe { &*v }))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl<T> ExactSizeIterator for Iter<'_, T> {}

/// One item read in place (from `try_next` and friends); derefs to the item
/// and releases it when dropped.
///
/// # Examples
///
/// ```
/// let (mut tx, mut cs) = corelane::queue::multicast::broadcast(4, String::new, 1);
/// tx.try_publish("x".to_string()).unwrap();
/// let item = cs[0].try_next().unwrap();
/// assert_eq!((item.len(), item.sequence()), (1, 0));
/// ```
pub struct Item<'a, T>(pub(crate) Batch<'a, T>);

impl<T> Item<'_, T> {
    /// The item's sequence number.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut cs) = corelane::queue::multicast::broadcast(4, || 0u8, 1);
    /// tx.try_publish(1).unwrap();
    /// assert_eq!(cs[0].try_next().unwrap().sequence(), 0);
    /// ```
    pub fn sequence(&self) -> u64 {
        self.0.sequence()
    }
}

impl<T> Deref for Item<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        self.0.at(0)
    }
}

impl<T: fmt::Debug> fmt::Debug for Item<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("multicast::Item").field(&**self).finish()
    }
}
