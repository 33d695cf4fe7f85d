//! The MPMC sending end. The ground rules are in `stamped/mod.rs`; the
//! claims in `stamped/by_stamp.rs`.

use std::fmt;
use std::iter::Peekable;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::queue::stamped::{self, PushSide, Ring, SharedProducer};
use crate::queue::wait::{self, SendFuture, WaitStrategy};
use crate::queue::{Disconnected, PushError, PushTimeoutError};
use crate::sync::Arc;

/// The sending end of an MPMC ring; clone it for more producers.
///
/// `Send` and `Sync` for `T: Send`: it moves items in, and from `&self` it
/// hands out only lengths and flags.
///
/// # Examples
///
/// ```
/// let (mut tx, mut rx) = corelane::queue::mpmc::channel::<u32>(4);
/// let tx2 = tx.clone(); // one more producer
/// std::thread::spawn(move || tx.push(1).unwrap()).join().unwrap();
/// assert_eq!(rx.pop(), Ok(1));
/// ```
pub struct Producer<T> {
    pub(super) ring: Arc<Ring<T>>,
    pub(super) side: SharedProducer,
}

impl<T> Producer<T> {
    /// Pushes `value`, or hands it back. Never blocks.
    ///
    /// # Errors
    ///
    /// [`PushError::Full`] if every slot holds an item no consumer has
    /// claimed; [`PushError::Busy`] if the ring has room but the next slot's
    /// previous item is still being read by the consumer that claimed it
    /// (retrying is right); [`PushError::Disconnected`] if every consumer is
    /// gone.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::PushError;
    ///
    /// let (mut tx, rx) = corelane::queue::mpmc::channel::<u8>(2);
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
    /// let (mut tx, mut rx) = corelane::queue::mpmc::channel::<u8>(2);
    /// tx.push_blocking(1, WaitStrategy::Park).unwrap();
    /// tx.push_blocking(2, WaitStrategy::Park).unwrap();
    /// let mut rx2 = rx.clone();
    /// let consumer = std::thread::spawn(move || rx2.pop_blocking(WaitStrategy::Park));
    /// tx.push_blocking(3, WaitStrategy::Park).unwrap(); // waits for that pop
    /// assert_eq!(consumer.join().unwrap(), Ok(1));
    /// assert_eq!(rx.pop(), Ok(2));
    /// assert_eq!(rx.pop(), Ok(3));
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
    /// use corelane::queue::{mpmc, wait::WaitStrategy, PushTimeoutError};
    /// use std::time::Duration;
    ///
    /// let (mut tx, _rx) = mpmc::channel::<u8>(2);
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
    /// use corelane::queue::{mpmc, wait::WaitStrategy};
    /// use std::time::Instant;
    ///
    /// let (mut tx, mut rx) = mpmc::channel::<u8>(2);
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
    /// let (mut tx, mut rx) = corelane::queue::mpmc::channel::<u8>(2);
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

    /// `Ready(Ok(()))` if the next slot was free when checked,
    /// `Ready(Err(_))` if every consumer is gone, else `Pending` with the
    /// task's waker registered to be woken by the next pop. The
    /// `Sink::poll_ready` half of a hand-written sink.
    ///
    /// Other producers may take the slot between this check and this
    /// handle's [`push`](Self::push): the push then returns
    /// [`PushError::Full`] or [`PushError::Busy`], and `poll_ready` waits
    /// again.
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
    /// let (mut tx, mut rx) = corelane::queue::mpmc::channel::<u8>(2);
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
    /// Up to 16 items at a time are cloned, *then* claimed with one CAS on
    /// the shared tail (after checking that every slot of the run is free),
    /// and published with one release fence: no clone runs while slots are
    /// claimed and unwritten. Items over 64 bytes go one at a time. If
    /// another producer takes slots between the look and the claim, or a
    /// consumer is still reading one of them, clones that found no slot are
    /// dropped; the originals are still yours (`items[n..]`).
    ///
    /// If a `clone` panics, the items pushed before it stay pushed.
    ///
    /// # Errors
    ///
    /// [`Disconnected`] if every consumer is gone (nothing is pushed).
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut rx) = corelane::queue::mpmc::channel::<u32>(4);
    /// let orders = [1, 2, 3, 4, 5, 6];
    /// let n = tx.push_slice(&orders).unwrap();
    /// assert_eq!(n, 4);
    /// assert_eq!(rx.pop(), Ok(1));
    /// assert_eq!(tx.push_slice(&orders[n..]), Ok(1));
    /// ```
    pub fn push_slice(&mut self, items: &[T]) -> Result<usize, Disconnected>
    where
        T: Clone,
    {
        self.side.push_slice(&self.ring, items)
    }

    /// Pushes items from `iter` while slots are free; returns how many (0
    /// when the ring is full or `iter` is empty). An item that cannot be
    /// placed is never taken out of `iter`: it stays there for the next
    /// call.
    ///
    /// That is why `iter` is [`Peekable`]: on a multi-producer ring another
    /// producer can take the last free slot between a look at the ring and
    /// a claim, so each item is looked at ([`peek`](Peekable::peek)), its
    /// slot claimed (one CAS), and only then taken (`next`, which hands the
    /// peeked item back without running any of `iter`'s code).
    ///
    /// If `iter` panics, the items pushed before it stay pushed.
    ///
    /// # Errors
    ///
    /// [`Disconnected`] if every consumer is gone (nothing is taken from
    /// `iter`).
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut rx) = corelane::queue::mpmc::channel::<u32>(2);
    /// let mut orders = (1..=3).peekable();
    /// assert_eq!(tx.push_iter(&mut orders), Ok(2));
    /// assert_eq!(orders.peek(), Some(&3), "the one that did not fit");
    /// assert_eq!(rx.pop(), Ok(1));
    /// assert_eq!(tx.push_iter(&mut orders), Ok(1));
    /// assert_eq!(orders.next(), None);
    /// ```
    pub fn push_iter<I: Iterator<Item = T>>(
        &mut self,
        iter: &mut Peekable<I>,
    ) -> Result<usize, Disconnected> {
        self.side.push_iter(&self.ring, iter)
    }

    /// Positions claimed by producers and not yet claimed by consumers (a
    /// snapshot: other threads may change it). It counts items still being
    /// written, and not items still being read.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, _rx) = corelane::queue::mpmc::channel::<u8>(4);
    /// tx.push(1).unwrap();
    /// assert_eq!(tx.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.ring.len()
    }

    /// True if [`len`](Self::len) was 0 at the moment of the check.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = corelane::queue::mpmc::channel::<u8>(4);
    /// assert!(tx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True if every slot was claimed by a producer and not yet by a
    /// consumer at the moment of the check. A snapshot either way: other
    /// producers fill slots and consumers free them concurrently.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, _rx) = corelane::queue::mpmc::channel::<u8>(2);
    /// tx.push(1).unwrap();
    /// tx.push(2).unwrap();
    /// assert!(tx.is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        self.len() == self.capacity()
    }

    /// Slots a push could claim now: `capacity() - len()`.
    ///
    /// A snapshot that guarantees nothing: consumers free slots and other
    /// producers take them concurrently, and a slot counted free can still
    /// be mid-way through a consumer's read ([`PushError::Busy`]). Use it to
    /// size a batch, not to promise one.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, _rx) = corelane::queue::mpmc::channel::<u8>(4);
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
    /// let (tx, _rx) = corelane::queue::mpmc::channel::<u8>(3);
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
    /// let (tx, rx) = corelane::queue::mpmc::channel::<u8>(4);
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

impl<T> Clone for Producer<T> {
    fn clone(&self) -> Self {
        self.ring.add_producer();
        Producer {
            ring: self.ring.clone(),
            side: self.side,
        }
    }
}

impl<T> Drop for Producer<T> {
    fn drop(&mut self) {
        self.ring.drop_producer();
    }
}

impl<T> fmt::Debug for Producer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("mpmc::Producer")
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .finish()
    }
}
