//! The consumer end: `pop`, the length and disconnection checks. The ground
//! rules are in `mod.rs`; read chunks are in `read_chunk.rs`.

use std::fmt;

use super::blocks::SlotAddr;
use super::prefetch::TailSighting;
use super::shared::Shared;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::queue::wait::{self, WaitStrategy};
use crate::queue::{Disconnected, PopError, PopTimeoutError};
use crate::sync::{Arc, Ordering};

/// The receiving end of an SPSC ring. Not `Clone`.
///
/// `Send` and `Sync` for `T: Send`: it moves items out, and from `&self` it
/// hands out only lengths and flags, never `&T` (the [`ReadChunk`] that
/// does is `Sync` only for `T: Sync`).
///
/// # Examples
///
/// ```
/// let (mut tx, mut rx) = corelane::queue::spsc::channel::<u32>(4);
/// tx.push(1).unwrap();
/// let t = std::thread::spawn(move || rx.pop_blocking(Default::default()));
/// assert_eq!(t.join().unwrap(), Ok(1));
/// ```
///
/// [`ReadChunk`]: super::ReadChunk
pub struct Consumer<T> {
    /// The next position to take. Moves only forward, before the item at it
    /// is handed out; published (Release) after the item has been read.
    pub(super) head: usize,
    /// The end of the run known published (a publication boundary,
    /// `head <= ready_end <= tail`).
    pub(super) ready_end: usize,
    /// Where `head` is in the blocks.
    pub(super) head_addr: SlotAddr,
    /// How far ahead the producer was last seen, for prefetching.
    pub(super) tail_sighting: TailSighting,
    pub(super) shared: Arc<Shared<T>>,
}

/// The consumer's cursor state, borrowed apart from its `Arc` so the
/// blocking and async paths can use it in closures.
struct ConsumerCursor<'a> {
    head: &'a mut usize,
    ready_end: &'a mut usize,
    head_addr: &'a mut SlotAddr,
    tail_sighting: &'a mut TailSighting,
}

impl ConsumerCursor<'_> {
    /// Forced inline: this is the whole pop, and it was tuned inlined into
    /// the caller's loop.
    #[inline(always)]
    fn pop<T>(&mut self, shared: &Shared<T>) -> Result<T, PopError> {
        if *self.head == *self.ready_end {
            match shared.published_end(self.head_addr.block, *self.head) {
                Some(end) => {
                    *self.ready_end = end;
                    self.tail_sighting.prefetch_after_refresh(
                        shared,
                        *self.head,
                        self.head_addr.block,
                    );
                }
                None => return Err(self.empty_reason(shared)),
            }
        }
        let value = shared
            .blocks
            .cell(self.head_addr.block, self.head_addr.offset)
            // SAFETY: `head < ready_end`, a stamp the producer stored after
            // writing this position (Acquire above); it will not touch the
            // slot again until we publish a head past it.
            .with(|v| unsafe { (*v).assume_init_read() });
        *self.head = self.head.wrapping_add(1);
        self.head_addr.advance(&shared.blocks);
        // Release: pairs with the producer's Acquire head load, ordering our
        // read of the slot before its overwrite.
        shared.consumer.head.store(*self.head, Ordering::Release);
        shared.space.notify();
        Ok(value)
    }

    #[cold]
    fn empty_reason<T>(&mut self, shared: &Shared<T>) -> PopError {
        // Acquire: pairs with the producer's Release in its Drop; after it,
        // every item it pushed is visible, so re-checking the stamp is final.
        if !shared.consumer.producer_gone.load(Ordering::Acquire) {
            return PopError::Empty;
        }
        match shared.published_end(self.head_addr.block, *self.head) {
            // An item published just before the producer left: not empty
            // after all (the caller retries and takes it).
            Some(_) => PopError::Empty,
            None => PopError::Disconnected,
        }
    }
}

impl<T> Consumer<T> {
    /// The consumer of the empty ring `shared`.
    pub(super) fn new(shared: Arc<Shared<T>>) -> Self {
        Consumer {
            head: 0,
            ready_end: 0,
            head_addr: shared.blocks.first_addr(),
            tail_sighting: TailSighting::default(),
            shared,
        }
    }

    /// Takes the oldest item. Never blocks.
    ///
    /// # Errors
    ///
    /// [`PopError::Empty`] if no item is waiting; [`PopError::Disconnected`]
    /// if none is waiting and the producer is gone (items pushed before the
    /// producer was dropped are still returned first).
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::{spsc, PopError};
    ///
    /// let (mut tx, mut rx) = spsc::channel::<u8>(2);
    /// tx.push(1).unwrap();
    /// drop(tx);
    /// assert_eq!(rx.pop(), Ok(1));
    /// assert_eq!(rx.pop(), Err(PopError::Disconnected));
    /// ```
    #[inline]
    pub fn pop(&mut self) -> Result<T, PopError> {
        let (mut cursor, shared) = self.cursor_and_shared();
        cursor.pop(shared)
    }

    #[inline]
    fn cursor_and_shared(&mut self) -> (ConsumerCursor<'_>, &Shared<T>) {
        let Consumer {
            head,
            ready_end,
            head_addr,
            tail_sighting,
            shared,
        } = self;
        (
            ConsumerCursor {
                head,
                ready_end,
                head_addr,
                tail_sighting,
            },
            shared,
        )
    }

    /// Takes the oldest item, waiting per `strategy` while the ring is empty.
    ///
    /// # Errors
    ///
    /// [`Disconnected`] once the ring is empty and the producer is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::{spsc, wait::WaitStrategy};
    ///
    /// let (mut tx, mut rx) = spsc::channel::<u8>(2);
    /// std::thread::spawn(move || tx.push(3).unwrap());
    /// assert_eq!(rx.pop_blocking(WaitStrategy::Park), Ok(3));
    /// ```
    pub fn pop_blocking(&mut self, strategy: WaitStrategy) -> Result<T, Disconnected> {
        let (mut cursor, shared) = self.cursor_and_shared();
        wait::pop_blocking(strategy, &shared.items, || cursor.pop(shared))
    }

    /// Takes the oldest item, waiting per `strategy` at most `timeout` while
    /// the ring is empty.
    ///
    /// # Errors
    ///
    /// [`PopTimeoutError::Timeout`] if nothing came in time;
    /// [`PopTimeoutError::Disconnected`] once the ring is empty and the
    /// producer is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::{spsc, wait::WaitStrategy, PopTimeoutError};
    /// use std::time::Duration;
    ///
    /// let (mut tx, mut rx) = spsc::channel::<u8>(2);
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
        let (mut cursor, shared) = self.cursor_and_shared();
        wait::pop_until(strategy, &shared.items, deadline, || cursor.pop(shared))
    }

    /// Takes the oldest item, waiting per `strategy` until `deadline` while
    /// the ring is empty (a deadline in the past still tries once).
    ///
    /// # Errors
    ///
    /// As [`pop_timeout`](Self::pop_timeout).
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::{spsc, wait::WaitStrategy, PopTimeoutError};
    /// use std::time::{Duration, Instant};
    ///
    /// let (_tx, mut rx) = spsc::channel::<u8>(2);
    /// let deadline = Instant::now() + Duration::from_micros(200);
    /// assert_eq!(rx.pop_until(deadline, WaitStrategy::Backoff), Err(PopTimeoutError::Timeout));
    /// assert!(Instant::now() >= deadline);
    /// ```
    pub fn pop_until(
        &mut self,
        deadline: Instant,
        strategy: WaitStrategy,
    ) -> Result<T, PopTimeoutError> {
        let (mut cursor, shared) = self.cursor_and_shared();
        wait::pop_until(strategy, &shared.items, Some(deadline), || {
            cursor.pop(shared)
        })
    }

    /// Takes the oldest item, waiting asynchronously while the ring is empty.
    /// Works under any executor (it registers the task's
    /// [`Waker`](std::task::Waker)).
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
    /// let (mut tx, mut rx) = corelane::queue::spsc::channel::<u8>(2);
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
    /// let (mut tx, mut rx) = corelane::queue::spsc::channel::<u8>(2);
    /// let mut cx = Context::from_waker(Waker::noop());
    /// assert!(rx.poll_pop(&mut cx).is_pending());
    /// tx.push(2).unwrap();
    /// assert_eq!(rx.poll_pop(&mut cx), Poll::Ready(Ok(2)));
    /// ```
    pub fn poll_pop(&mut self, cx: &mut Context<'_>) -> Poll<Result<T, Disconnected>> {
        let (mut cursor, shared) = self.cursor_and_shared();
        wait::poll_pop(&shared.items, cx, || cursor.pop(shared))
    }

    /// Items waiting (may only grow concurrently, as the producer pushes).
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, rx) = corelane::queue::spsc::channel::<u8>(4);
    /// tx.push(1).unwrap();
    /// assert_eq!(rx.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        // Acquire: pairs with the producer's Release store of `tail` (after
        // its stamp, in `push` / a write chunk's commit). Only a count: no
        // slot is read on its strength (the stamps decide what `pop` reads).
        let tail = self.shared.producer.tail.load(Ordering::Acquire);
        // The producer stores `tail` after the stamp, so we may have popped
        // past the `tail` we see: clamp a negative gap to 0.
        (tail.wrapping_sub(self.head) as isize).max(0) as usize
    }

    /// True if no item is waiting *now* (a `false` guarantees the next `pop`
    /// succeeds, since only we take items).
    ///
    /// # Examples
    ///
    /// ```
    /// let (_tx, rx) = corelane::queue::spsc::channel::<u8>(4);
    /// assert!(rx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.head == self.ready_end
            && self
                .shared
                .published_end(self.head_addr.block, self.head)
                .is_none()
    }

    /// True if every slot holds an item.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, rx) = corelane::queue::spsc::channel::<u8>(1);
    /// tx.push(1).unwrap();
    /// assert!(rx.is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        self.len() == self.capacity()
    }

    /// Slots a push could fill now: `capacity() - len()`. From this side it
    /// is an upper bound: only the producer changes it concurrently, and
    /// only downwards.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, rx) = corelane::queue::spsc::channel::<u8>(4);
    /// tx.push(1).unwrap();
    /// assert_eq!(rx.free_len(), 3);
    /// ```
    pub fn free_len(&self) -> usize {
        self.capacity() - self.len()
    }

    /// Number of slots (a power of two).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(corelane::queue::spsc::channel::<u8>(5).1.capacity(), 8);
    /// ```
    pub fn capacity(&self) -> usize {
        self.shared.mask + 1
    }

    /// True once the producer has been dropped (items may still be waiting).
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = corelane::queue::spsc::channel::<u8>(4);
    /// drop(tx);
    /// assert!(rx.is_disconnected());
    /// ```
    pub fn is_disconnected(&self) -> bool {
        // Acquire: pairs with the Release store in the producer's `Drop`,
        // so every item it pushed is visible to the pops after a `true`.
        self.shared.consumer.producer_gone.load(Ordering::Acquire)
    }
}

/// Yields items until the ring is drained and the producer is gone.
///
/// # Examples
///
/// ```
/// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// # rt.block_on(async {
/// use futures_util::StreamExt;
///
/// let (mut tx, rx) = corelane::queue::spsc::channel::<u8>(4);
/// tx.push(1).unwrap();
/// tx.push(2).unwrap();
/// drop(tx);
/// assert_eq!(rx.collect::<Vec<_>>().await, vec![1, 2]);
/// # });
/// ```
impl<T> futures_core::Stream for Consumer<T> {
    type Item = T;

    fn poll_next(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.get_mut().poll_pop(cx).map(Result::ok)
    }
}

impl<T> Drop for Consumer<T> {
    fn drop(&mut self) {
        // Publish the private head first: a forgotten `ReadChunk` may have
        // moved items out past the published one, and whoever drops the
        // ring last drops exactly `[head, tail)` as published.
        // Relaxed: ordered before the Release store of `head` below, which
        // the final drop loads with Acquire.
        let slot = self.shared.blocks.slot_index(&self.head_addr);
        self.shared
            .consumer_slot_at_drop
            .store(slot, Ordering::Relaxed);
        // Release: pairs with the final drop's Acquire load (and the
        // producer's head loads).
        self.shared
            .consumer
            .head
            .store(self.head, Ordering::Release);
        // Release: pairs with the producer's loads of the flag.
        self.shared
            .producer
            .consumer_gone
            .store(true, Ordering::Release);
        self.shared.space.notify_slow();
    }
}

impl<T> fmt::Debug for Consumer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("spsc::Consumer")
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .finish()
    }
}
