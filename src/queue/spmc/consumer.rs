//! The SPMC receiving end. The ground rules are in `stamped/mod.rs`; the
//! shared consumers' claims in `stamped/by_stamp.rs`.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::queue::stamped::{self, PopSide, Ring, SharedConsumer};
use crate::queue::wait::{self, WaitStrategy};
use crate::queue::{Disconnected, PopError, PopTimeoutError};
use crate::sync::Arc;

/// The receiving end of an SPMC ring; clone it for more consumers. Each
/// item goes to exactly one of them.
///
/// `Send` and `Sync` for `T: Send`: it moves items out, and from `&self` it
/// hands out only lengths and flags.
///
/// # Examples
///
/// ```
/// let (mut tx, mut rx) = corelane::queue::spmc::channel::<u32>(4);
/// let rx2 = rx.clone(); // one more consumer
/// tx.push(1).unwrap();
/// let t = std::thread::spawn(move || rx.pop_blocking(Default::default()));
/// assert_eq!(t.join().unwrap(), Ok(1));
/// ```
pub struct Consumer<T> {
    pub(super) ring: Arc<Ring<T>>,
    pub(super) side: SharedConsumer,
}

impl<T> Consumer<T> {
    /// Takes the oldest item no other consumer has taken. Never blocks.
    ///
    /// # Errors
    ///
    /// [`PopError::Empty`] if nothing is waiting;
    /// [`PopError::Disconnected`] if the ring is empty and the producer is
    /// gone. [`PopError::Busy`] only in a race: the next item was published
    /// (or taken by another consumer) while this call was looking; retrying
    /// is right. (The producer stamps a slot before it counts it, so a
    /// claimed but unwritten slot, what `Busy` means for MPMC, never shows
    /// here.)
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::PopError;
    ///
    /// let (mut tx, mut rx) = corelane::queue::spmc::channel::<u8>(2);
    /// assert_eq!(rx.pop(), Err(PopError::Empty));
    /// tx.push(1).unwrap();
    /// drop(tx);
    /// assert_eq!(rx.pop(), Ok(1));
    /// assert_eq!(rx.pop(), Err(PopError::Disconnected));
    /// ```
    #[inline]
    pub fn pop(&mut self) -> Result<T, PopError> {
        self.side.pop(&self.ring)
    }

    /// Takes the oldest item no other consumer has taken, waiting per
    /// `strategy` while none is ready.
    ///
    /// # Errors
    ///
    /// [`Disconnected`] once the ring is empty and the producer is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::wait::WaitStrategy;
    ///
    /// let (mut tx, mut rx) = corelane::queue::spmc::channel::<u8>(2);
    /// std::thread::spawn(move || tx.push(9).unwrap());
    /// assert_eq!(rx.pop_blocking(WaitStrategy::Park), Ok(9));
    /// ```
    pub fn pop_blocking(&mut self, strategy: WaitStrategy) -> Result<T, Disconnected> {
        stamped::pop_blocking(&self.ring, &mut self.side, strategy)
    }

    /// Takes the oldest item no other consumer has taken, waiting per
    /// `strategy` at most `timeout` while none is ready.
    ///
    /// # Errors
    ///
    /// [`PopTimeoutError::Timeout`] if nothing came in time (or other
    /// consumers took what came); [`PopTimeoutError::Disconnected`] once the
    /// ring is empty and the producer is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::{spmc, wait::WaitStrategy, PopTimeoutError};
    /// use std::time::Duration;
    ///
    /// let (mut tx, mut rx) = spmc::channel::<u8>(2);
    /// let wait = Duration::from_millis(1);
    /// assert_eq!(rx.pop_timeout(wait, WaitStrategy::Park), Err(PopTimeoutError::Timeout));
    /// tx.push(4).unwrap();
    /// assert_eq!(rx.pop_timeout(wait, WaitStrategy::Park), Ok(4));
    /// ```
    pub fn pop_timeout(
        &mut self,
        timeout: Duration,
        strategy: WaitStrategy,
    ) -> Result<T, PopTimeoutError> {
        let deadline = wait::deadline_after(timeout);
        stamped::pop_until(&self.ring, &mut self.side, deadline, strategy)
    }

    /// Takes the oldest item no other consumer has taken, waiting per
    /// `strategy` until `deadline` while none is ready (a deadline in the
    /// past still tries once).
    ///
    /// # Errors
    ///
    /// As [`pop_timeout`](Self::pop_timeout).
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::{spmc, wait::WaitStrategy, PopTimeoutError};
    /// use std::time::Instant;
    ///
    /// let (mut tx, mut rx) = spmc::channel::<u8>(2);
    /// let now = Instant::now();
    /// assert_eq!(rx.pop_until(now, WaitStrategy::Park), Err(PopTimeoutError::Timeout));
    /// tx.push(1).unwrap();
    /// assert_eq!(rx.pop_until(now, WaitStrategy::Park), Ok(1));
    /// ```
    pub fn pop_until(
        &mut self,
        deadline: Instant,
        strategy: WaitStrategy,
    ) -> Result<T, PopTimeoutError> {
        stamped::pop_until(&self.ring, &mut self.side, Some(deadline), strategy)
    }

    /// Takes the oldest item no other consumer has taken, waiting
    /// asynchronously while none is ready. Works under any executor (it
    /// registers the task's [`Waker`](std::task::Waker)).
    ///
    /// Cancel safe: a `recv` dropped before it completes has taken nothing.
    ///
    /// # Errors
    ///
    /// [`Disconnected`] once the ring is empty and the producer is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// # rt.block_on(async {
    /// let (mut tx, mut rx) = corelane::queue::spmc::channel::<u8>(2);
    /// tx.push(1).unwrap();
    /// assert_eq!(rx.recv().await, Ok(1));
    /// # });
    /// ```
    pub async fn recv(&mut self) -> Result<T, Disconnected> {
        std::future::poll_fn(|cx| self.poll_pop(cx)).await
    }

    /// The poll form of [`recv`](Self::recv), for hand-written futures:
    /// `Ready(Ok(item))`, `Ready(Err(Disconnected))` once the ring is
    /// drained and the producer is gone, or `Pending` with the task's waker
    /// registered to be woken by the next push.
    ///
    /// # Errors
    ///
    /// `Ready(Err(`[`Disconnected`]`))` once the ring is drained and
    /// the producer is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::task::{Context, Poll, Waker};
    ///
    /// let (mut tx, mut rx) = corelane::queue::spmc::channel::<u8>(2);
    /// let mut cx = Context::from_waker(Waker::noop());
    /// assert!(rx.poll_pop(&mut cx).is_pending());
    /// tx.push(2).unwrap();
    /// assert_eq!(rx.poll_pop(&mut cx), Poll::Ready(Ok(2)));
    /// ```
    pub fn poll_pop(&mut self, cx: &mut Context<'_>) -> Poll<Result<T, Disconnected>> {
        stamped::poll_pop(&self.ring, &mut self.side, cx)
    }

    /// Claims up to `max` ready items, oldest first, with one CAS, and moves
    /// them into `out` (with one [`Extend::extend`] call); returns how many
    /// (0 when none was ready). Each slot is freed for the producer as its
    /// item is moved out.
    ///
    /// The items are this consumer's once claimed: other consumers skip
    /// them. So if `out.extend` panics or stops before it has taken them
    /// all, the rest are dropped (they cannot go back into the ring).
    ///
    /// # Errors
    ///
    /// [`Disconnected`] if nothing was moved because the ring is empty and
    /// the producer is gone. (`max == 0` always returns `Ok(0)`.)
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::Disconnected;
    ///
    /// let (mut tx, mut rx) = corelane::queue::spmc::channel::<u8>(8);
    /// tx.push_slice(&[1, 2, 3]).unwrap();
    /// let mut got = Vec::new();
    /// assert_eq!(rx.pop_batch(&mut got, 2), Ok(2));
    /// assert_eq!(rx.pop_batch(&mut got, 10), Ok(1));
    /// assert_eq!(got, [1, 2, 3]);
    /// drop(tx);
    /// assert_eq!(rx.pop_batch(&mut got, 10), Err(Disconnected(())));
    /// ```
    pub fn pop_batch<E: Extend<T>>(
        &mut self,
        out: &mut E,
        max: usize,
    ) -> Result<usize, Disconnected> {
        self.side.pop_batch(&self.ring, out, max)
    }

    /// Items pushed and not yet claimed by a consumer (a snapshot: other
    /// threads may change it; see [`Producer::len`](super::Producer::len)).
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, rx) = corelane::queue::spmc::channel::<u8>(4);
    /// tx.push(1).unwrap();
    /// assert_eq!(rx.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.ring.len()
    }

    /// True if [`len`](Self::len) was 0 at the moment of the check.
    ///
    /// # Examples
    ///
    /// ```
    /// let (_tx, rx) = corelane::queue::spmc::channel::<u8>(4);
    /// assert!(rx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True if every slot held an unclaimed item at the moment of the check.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, rx) = corelane::queue::spmc::channel::<u8>(2);
    /// tx.push(1).unwrap();
    /// tx.push(2).unwrap();
    /// assert!(rx.is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        self.len() == self.capacity()
    }

    /// Slots not holding an unclaimed item: `capacity() - len()` (a
    /// snapshot: the producer fills slots and other consumers free them
    /// concurrently).
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, rx) = corelane::queue::spmc::channel::<u8>(4);
    /// tx.push(1).unwrap();
    /// assert_eq!(rx.free_len(), 3);
    /// ```
    pub fn free_len(&self) -> usize {
        self.ring.free_len()
    }

    /// Number of slots (a power of two, at least 2).
    ///
    /// # Examples
    ///
    /// ```
    /// let (_tx, rx) = corelane::queue::spmc::channel::<u8>(5);
    /// assert_eq!(rx.capacity(), 8);
    /// ```
    pub fn capacity(&self) -> usize {
        self.ring.capacity()
    }

    /// True once the producer is gone (items may still be waiting; `pop`
    /// returns them before it reports `Disconnected`).
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = corelane::queue::spmc::channel::<u8>(4);
    /// drop(tx);
    /// assert!(rx.is_disconnected());
    /// ```
    pub fn is_disconnected(&self) -> bool {
        self.ring.producers_gone()
    }
}

/// Yields the items this consumer takes until the ring is drained and the
/// producer is gone.
///
/// # Examples
///
/// ```
/// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// # rt.block_on(async {
/// use futures_util::StreamExt;
///
/// let (mut tx, rx) = corelane::queue::spmc::channel::<u8>(4);
/// tx.push(1).unwrap();
/// tx.push(2).unwrap();
/// drop(tx);
/// assert_eq!(rx.collect::<Vec<_>>().await, vec![1, 2]);
/// # });
/// ```
impl<T> futures_core::Stream for Consumer<T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.get_mut().poll_pop(cx).map(Result::ok)
    }
}

impl<T> Clone for Consumer<T> {
    fn clone(&self) -> Self {
        self.ring.add_consumer();
        Consumer {
            ring: self.ring.clone(),
            side: SharedConsumer,
        }
    }
}

impl<T> Drop for Consumer<T> {
    fn drop(&mut self) {
        self.ring.drop_consumer();
    }
}

impl<T> fmt::Debug for Consumer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("spmc::Consumer")
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .finish()
    }
}
