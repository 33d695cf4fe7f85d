//! The SPMC sending end. The ground rules are in `stamped/mod.rs`; the sole
//! producer's side in `stamped/by_stamp.rs`.

use std::fmt;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::queue::stamped::{self, PushSide, Ring, SoleProducer};
use crate::queue::wait::{self, SendFuture, WaitStrategy};
use crate::queue::{Disconnected, PushError, PushTimeoutError};
use crate::sync::Arc;

/// The sending end of an SPMC ring (there is only one: not `Clone`).
///
/// `Send` and `Sync` for `T: Send`: it moves items in, and from `&self` it
/// hands out only lengths and flags.
///
/// # Examples
///
/// ```
/// let (mut tx, mut rx) = corelane::queue::spmc::channel::<u32>(4);
/// std::thread::spawn(move || tx.push(1).unwrap()).join().unwrap();
/// assert_eq!(rx.pop(), Ok(1));
/// ```
pub struct Producer<T> {
    pub(super) ring: Arc<Ring<T>>,
    pub(super) side: SoleProducer,
}

impl<T> Producer<T> {
    /// Pushes `value`, or hands it back. Never blocks.
    ///
    /// # Errors
    ///
    /// [`PushError::Full`] if every slot holds an item no consumer has
    /// claimed yet; [`PushError::Busy`] if the ring has room but the next
    /// slot's previous item is still being read by the consumer that
    /// claimed it (retrying is right: the push can complete as soon as that
    /// read does); [`PushError::Disconnected`] if every consumer is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::PushError;
    ///
    /// let (mut tx, rx) = corelane::queue::spmc::channel::<u8>(2);
    /// tx.push(1).unwrap();
    /// tx.push(2).unwrap();
    /// assert_eq!(tx.push(3), Err(PushError::Full(3)));
    /// drop(rx);
    /// assert_eq!(tx.push(4), Err(PushError::Disconnected(4)));
    /// ```
    #[inline]
    pub fn push(&mut self, value: T) -> Result<(), PushError<T>> {
        self.side.push(&self.ring, value)
    }

    /// Pushes `value`, waiting per `strategy` while the ring is full (or its
    /// next slot is still being read).
    ///
    /// # Errors
    ///
    /// [`Disconnected`] (with the value) if every consumer is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::wait::WaitStrategy;
    ///
    /// let (mut tx, rx) = corelane::queue::spmc::channel::<u8>(2);
    /// tx.push_blocking(1, WaitStrategy::Park).unwrap();
    /// tx.push_blocking(2, WaitStrategy::Park).unwrap();
    /// let mut rx2 = rx.clone();
    /// let consumer = std::thread::spawn(move || rx2.pop_blocking(WaitStrategy::Park));
    /// tx.push_blocking(3, WaitStrategy::Park).unwrap(); // waits for that pop
    /// assert_eq!(consumer.join().unwrap(), Ok(1));
    /// assert_eq!(rx.len(), 2);
    /// ```
    pub fn push_blocking(
        &mut self,
        value: T,
        strategy: WaitStrategy,
    ) -> Result<(), Disconnected<T>> {
        stamped::push_blocking(&self.ring, &mut self.side, value, strategy)
    }

    /// Pushes `value`, waiting per `strategy` at most `timeout` while the
    /// ring is full (or its next slot is still being read).
    ///
    /// # Errors
    ///
    /// [`PushTimeoutError::Timeout`] (with the value) if no slot freed in
    /// time; [`PushTimeoutError::Disconnected`] (with the value) if every
    /// consumer is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::{spmc, wait::WaitStrategy, PushTimeoutError};
    /// use std::time::Duration;
    ///
    /// let (mut tx, _rx) = spmc::channel::<u8>(2);
    /// let wait = Duration::from_millis(1);
    /// tx.push_timeout(1, wait, WaitStrategy::Park).unwrap();
    /// tx.push_timeout(2, wait, WaitStrategy::Park).unwrap();
    /// assert_eq!(tx.push_timeout(3, wait, WaitStrategy::Park), Err(PushTimeoutError::Timeout(3)));
    /// ```
    pub fn push_timeout(
        &mut self,
        value: T,
        timeout: Duration,
        strategy: WaitStrategy,
    ) -> Result<(), PushTimeoutError<T>> {
        let deadline = wait::deadline_after(timeout);
        stamped::push_until(&self.ring, &mut self.side, value, deadline, strategy)
    }

    /// Pushes `value`, waiting per `strategy` until `deadline` while the ring
    /// is full (a deadline in the past still tries once).
    ///
    /// # Errors
    ///
    /// As [`push_timeout`](Self::push_timeout).
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::{spmc, wait::WaitStrategy};
    /// use std::time::Instant;
    ///
    /// let (mut tx, mut rx) = spmc::channel::<u8>(2);
    /// assert_eq!(tx.push_until(1, Instant::now(), WaitStrategy::Yield), Ok(()));
    /// assert_eq!(rx.pop(), Ok(1));
    /// ```
    pub fn push_until(
        &mut self,
        value: T,
        deadline: Instant,
        strategy: WaitStrategy,
    ) -> Result<(), PushTimeoutError<T>> {
        stamped::push_until(&self.ring, &mut self.side, value, Some(deadline), strategy)
    }

    /// Pushes `value`, waiting asynchronously while the ring is full (or its
    /// next slot is still being read). Works under any executor (it
    /// registers the task's [`Waker`](std::task::Waker)).
    ///
    /// The returned [`SendFuture`] owns `value` until it completes; see its
    /// docs for cancel safety (a pending send dropped in a `select!` drops
    /// the value unless you take it back with [`SendFuture::cancel`]).
    ///
    /// # Errors
    ///
    /// [`Disconnected`] (with the value) if every consumer is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// # rt.block_on(async {
    /// let (mut tx, mut rx) = corelane::queue::spmc::channel::<u8>(2);
    /// tx.send(4).await.unwrap();
    /// assert_eq!(rx.recv().await, Ok(4));
    /// # });
    /// ```
    pub fn send(
        &mut self,
        value: T,
    ) -> SendFuture<'_, T, impl FnMut(T) -> Result<(), PushError<T>> + Unpin + '_> {
        stamped::send(&self.ring, &mut self.side, value)
    }

    /// `Ready(Ok(()))` once the next slot is free, `Ready(Err(_))` if every
    /// consumer is gone, else `Pending` with the task's waker registered to
    /// be woken by the next pop. Only this producer fills slots, so after
    /// `Ready(Ok(()))` the next [`push`](Self::push) succeeds (unless the
    /// consumers leave meanwhile). The `Sink::poll_ready` half of a
    /// hand-written sink.
    ///
    /// # Errors
    ///
    /// `Ready(Err(`[`Disconnected`]`))` if every consumer is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::task::{Context, Poll, Waker};
    ///
    /// let (mut tx, mut rx) = corelane::queue::spmc::channel::<u8>(2);
    /// let mut cx = Context::from_waker(Waker::noop());
    /// tx.push(1).unwrap();
    /// assert_eq!(tx.poll_ready(&mut cx), Poll::Ready(Ok(())));
    /// tx.push(2).unwrap();
    /// assert!(tx.poll_ready(&mut cx).is_pending());
    /// rx.pop().unwrap();
    /// assert_eq!(tx.poll_ready(&mut cx), Poll::Ready(Ok(())));
    /// ```
    pub fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Disconnected>> {
        stamped::poll_ready(&self.ring, &self.side, cx)
    }

    /// Pushes clones of the longest prefix of `items` that fits now; returns
    /// how many (0 when the ring is full). `items[..n]` went in, in order;
    /// the rest did not.
    ///
    /// Each slot is checked free before its item is cloned; the run is
    /// published at the end with one release fence and one store of the
    /// tail. Stops at a slot whose previous item a consumer is still
    /// reading (what [`push`](Self::push) reports as `Busy`). If a `clone`
    /// panics, the items cloned before it are pushed.
    ///
    /// # Errors
    ///
    /// [`Disconnected`] if every consumer is gone (nothing is pushed).
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut rx) = corelane::queue::spmc::channel::<u32>(4);
    /// let jobs = [1, 2, 3, 4, 5, 6];
    /// let n = tx.push_slice(&jobs).unwrap();
    /// assert_eq!(n, 4);
    /// assert_eq!(rx.pop(), Ok(1));
    /// assert_eq!(tx.push_slice(&jobs[n..]), Ok(1));
    /// ```
    pub fn push_slice(&mut self, items: &[T]) -> Result<usize, Disconnected>
    where
        T: Clone,
    {
        self.side.push_run(&self.ring, items.iter().cloned())
    }

    /// Pushes items from `iter` while slots are free; returns how many (0
    /// when the ring is full or `iter` is empty). An item is taken out of
    /// `iter` only once its slot has been checked free, and only this
    /// producer fills slots, so every item taken is pushed: what does not
    /// fit stays in `iter`. Any iterator will do (a multi-producer ring's
    /// `push_iter` needs a [`Peekable`](std::iter::Peekable), which is an
    /// iterator too).
    ///
    /// The run is published at the end with one release fence and one store
    /// of the tail. If `iter` panics, the items taken before it are pushed.
    ///
    /// # Errors
    ///
    /// [`Disconnected`] if every consumer is gone (nothing is taken from
    /// `iter`).
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut rx) = corelane::queue::spmc::channel::<u32>(2);
    /// let mut jobs = 1..=3;
    /// assert_eq!(tx.push_iter(&mut jobs), Ok(2));
    /// assert_eq!(jobs.next(), Some(3), "the one that did not fit");
    /// assert_eq!(rx.pop(), Ok(1));
    /// ```
    pub fn push_iter<I: Iterator<Item = T>>(
        &mut self,
        iter: &mut I,
    ) -> Result<usize, Disconnected> {
        self.side.push_run(&self.ring, iter)
    }

    /// Items pushed and not yet claimed by a consumer (a snapshot: other
    /// threads may change it). The producer counts an item only after
    /// publishing it, so a consumer may take an item this does not count
    /// yet. It only shrinks concurrently (consumers take; only this producer
    /// pushes).
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, _rx) = corelane::queue::spmc::channel::<u8>(4);
    /// tx.push(1).unwrap();
    /// assert_eq!(tx.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.ring.len()
    }

    /// True if [`len`](Self::len) was 0 at the moment of the check (stays
    /// true until this producer pushes).
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = corelane::queue::spmc::channel::<u8>(4);
    /// assert!(tx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True if every slot held an unclaimed item at the moment of the check
    /// (consumers may take some at any time).
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, _rx) = corelane::queue::spmc::channel::<u8>(2);
    /// tx.push(1).unwrap();
    /// tx.push(2).unwrap();
    /// assert!(tx.is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        self.len() == self.capacity()
    }

    /// Slots not holding an unclaimed item: `capacity() - len()`. Only this
    /// producer fills slots, so it never shrinks until it pushes; but a push
    /// into one of them can still return [`PushError::Busy`] while a
    /// consumer finishes reading the slot's previous item. So it is the
    /// number of pushes that will succeed once the reads in flight are done.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, _rx) = corelane::queue::spmc::channel::<u8>(4);
    /// tx.push(1).unwrap();
    /// assert_eq!(tx.free_len(), 3);
    /// ```
    pub fn free_len(&self) -> usize {
        self.ring.free_len()
    }

    /// Number of slots (a power of two, at least 2).
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = corelane::queue::spmc::channel::<u8>(3);
    /// assert_eq!(tx.capacity(), 4);
    /// ```
    pub fn capacity(&self) -> usize {
        self.ring.capacity()
    }

    /// True once every consumer handle is gone: every push fails from then
    /// on.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = corelane::queue::spmc::channel::<u8>(4);
    /// let rx2 = rx.clone();
    /// drop(rx);
    /// assert!(!tx.is_disconnected());
    /// drop(rx2);
    /// assert!(tx.is_disconnected());
    /// ```
    pub fn is_disconnected(&self) -> bool {
        self.ring.consumers_gone()
    }
}

impl<T> Drop for Producer<T> {
    fn drop(&mut self) {
        self.ring.drop_producer();
    }
}

impl<T> fmt::Debug for Producer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("spmc::Producer")
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .finish()
    }
}
