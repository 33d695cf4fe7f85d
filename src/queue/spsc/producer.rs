//! The producer end: `push`, the producer's cached view of the free slots,
//! and the pause it takes before looking again at a crowded ring. The
//! ground rules are in `mod.rs`.

use std::fmt;

use super::blocks::SlotAddr;
use super::shared::Shared;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::queue::wait::{self, SendFuture, WaitStrategy};
use crate::queue::{Disconnected, PushError, PushTimeoutError};
use crate::sync::{spin_hint, Arc, Ordering};

/// Spin hints the producer waits before re-reading the consumer's cursor
/// after a look that found the ring more than half full (only on that path;
/// see [`ProducerCursor::free_slots`]). Under loom each hint is a scheduling
/// point: one keeps the models small (the protocol does not depend on the
/// number).
#[cfg(not(corelane_loom))]
const CROWDED_PAUSE_HINTS: u32 = 16;
#[cfg(corelane_loom)]
const CROWDED_PAUSE_HINTS: u32 = 1;

/// The producer's private cursor state (only the producer touches it).
pub(super) struct ProducerCursor {
    /// The end of what the producer has published: positions below it are
    /// written, and stamped in the block where their publication started.
    pub(super) tail: usize,
    /// `head + capacity` for the last `head` the producer loaded: positions
    /// below it are free (`tail <= free_end <= tail + capacity`).
    pub(super) free_end: usize,
    /// Where `tail` is in the blocks.
    pub(super) tail_addr: SlotAddr,
    /// The last look at the consumer's `head` found the ring more than half
    /// full: pause before the next look.
    pub(super) pause_before_next_look: bool,
}

impl ProducerCursor {
    /// Free slots, refreshing the cached `head` only if the cache says
    /// fewer than `want`.
    #[inline]
    pub(super) fn free_slots<T>(&mut self, shared: &Shared<T>, want: usize) -> usize {
        let free = self.free_end.wrapping_sub(self.tail);
        if free >= want {
            return free;
        }
        if self.pause_before_next_look {
            // The last look found the ring (nearly) full: give the consumer
            // a moment before pulling its line again. A producer re-reading
            // `head` in a tight loop takes the line from the consumer on
            // every pop (which stores `head`), which slows the very consumer
            // it waits for.
            for _ in 0..CROWDED_PAUSE_HINTS {
                spin_hint();
            }
        }
        // Acquire: pairs with the consumer's Release store of `head`, so its
        // reads of the slots below `head` happened before we overwrite them.
        self.free_end = shared
            .consumer
            .head
            .load(Ordering::Acquire)
            .wrapping_add(shared.mask + 1);
        let free = self.free_end.wrapping_sub(self.tail);
        debug_assert!(
            free <= shared.mask + 1,
            "the consumer's head passed our tail"
        );
        // A ring more than half full means the consumer is the slow side:
        // look at its line again only after a pause, so the producer
        // refreshes at most once per pause plus a run of pushes. (Half, not a
        // quarter or three quarters: see the README's figures.)
        self.pause_before_next_look = free < want.saturating_add((shared.mask + 1) >> 1);
        free
    }

    /// Pushes `value`, waking a parked consumer if `NOTIFY`.
    ///
    /// Forced inline: this is the whole push, and it was tuned inlined into
    /// the caller's loop.
    #[inline(always)]
    pub(super) fn push<T, const NOTIFY: bool>(
        &mut self,
        shared: &Shared<T>,
        value: T,
    ) -> Result<(), PushError<T>> {
        // Relaxed: the flag only ever goes false -> true; a stale false lets
        // one more item into a ring nobody reads, which the final drop frees.
        if shared.producer.consumer_gone.load(Ordering::Relaxed) {
            return Err(PushError::Disconnected(value));
        }
        if self.free_slots(shared, 1) == 0 {
            return Err(PushError::Full(value));
        }
        let (block, offset) = (self.tail_addr.block, self.tail_addr.offset);
        // SAFETY: `tail < free_end`, so the consumer released this slot
        // (Acquire above) and will not read it before we store a stamp past
        // it.
        (shared.blocks.cell(block, offset)).with_mut(|v| unsafe { (*v).write(value) });
        self.tail = self.tail.wrapping_add(1);
        // Release: pairs with the consumer's Acquire stamp load in `pop` /
        // `read_chunk`; the publication starts in this block, so this is the
        // stamp a consumer at the old `tail` looks at.
        shared
            .blocks
            .stamp(block)
            .store(self.tail, Ordering::Release);
        self.tail_addr.advance(&shared.blocks);
        // Release: pairs with the Acquire loads in `len` and the final drop.
        shared.producer.tail.store(self.tail, Ordering::Release);
        if NOTIFY {
            shared.items.notify();
        }
        Ok(())
    }
}

/// The sending end of an SPSC ring. Not `Clone`.
///
/// `Send` and `Sync` for `T: Send`: it moves items in, and from `&self` it
/// hands out only lengths and flags, never `&T`.
///
/// # Examples
///
/// ```
/// let (mut tx, mut rx) = corelane::queue::spsc::channel::<u32>(4);
/// std::thread::spawn(move || tx.push(1).unwrap()).join().unwrap();
/// assert_eq!(rx.pop(), Ok(1));
/// ```
pub struct Producer<T> {
    pub(super) cursor: ProducerCursor,
    pub(super) shared: Arc<Shared<T>>,
}

impl<T> Producer<T> {
    /// The producer of the empty ring `shared`.
    pub(super) fn new(shared: Arc<Shared<T>>) -> Self {
        Producer {
            cursor: ProducerCursor {
                tail: 0,
                free_end: shared.mask + 1,
                tail_addr: shared.blocks.first_addr(),
                pause_before_next_look: false,
            },
            shared,
        }
    }

    /// Pushes `value`, or hands it back if the ring is full or the consumer
    /// is gone. Never blocks: when the producer last saw the ring more than
    /// half full and its cached view is used up, the push pauses for 16
    /// spin hints (x86's `pause`, whose length varies by CPU model) before
    /// re-reading the consumer's position, so that a producer outrunning its
    /// consumer does not slow it down by pulling its cache line on every
    /// attempt.
    ///
    /// # Errors
    ///
    /// [`PushError::Full`] when every slot is taken; [`PushError::Disconnected`]
    /// when the consumer has been dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::{spsc, PushError};
    ///
    /// let (mut tx, rx) = spsc::channel::<u8>(1);
    /// assert_eq!(tx.push(1), Ok(()));
    /// assert_eq!(tx.push(2), Err(PushError::Full(2)));
    /// drop(rx);
    /// assert_eq!(tx.push(3), Err(PushError::Disconnected(3)));
    /// ```
    #[inline]
    pub fn push(&mut self, value: T) -> Result<(), PushError<T>> {
        self.cursor.push::<T, true>(&self.shared, value)
    }

    /// `push` without the wake-up check, for measuring what the check costs.
    /// Items pushed this way do not wake a parked consumer.
    #[cfg(feature = "bench-internals")]
    #[doc(hidden)]
    #[inline]
    pub fn __push_without_notify(&mut self, value: T) -> Result<(), PushError<T>> {
        self.cursor.push::<T, false>(&self.shared, value)
    }

    /// Pushes `value`, waiting per `strategy` while the ring is full.
    ///
    /// # Errors
    ///
    /// [`Disconnected`] (with the value) if the consumer is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::{spsc, wait::WaitStrategy};
    ///
    /// let (mut tx, mut rx) = spsc::channel::<u8>(1);
    /// tx.push_blocking(1, WaitStrategy::Park).unwrap();
    /// assert_eq!(rx.pop(), Ok(1));
    /// ```
    pub fn push_blocking(
        &mut self,
        value: T,
        strategy: WaitStrategy,
    ) -> Result<(), Disconnected<T>> {
        let Producer { cursor, shared } = self;
        wait::push_blocking(strategy, &shared.space, value, |v| {
            cursor.push::<T, true>(shared, v)
        })
    }

    /// Pushes `value`, waiting per `strategy` at most `timeout` while the
    /// ring is full.
    ///
    /// # Errors
    ///
    /// [`PushTimeoutError::Timeout`] (with the value) if no slot freed in
    /// time; [`PushTimeoutError::Disconnected`] (with the value) if the
    /// consumer is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::{spsc, wait::WaitStrategy, PushTimeoutError};
    /// use std::time::Duration;
    ///
    /// let (mut tx, _rx) = spsc::channel::<u8>(1);
    /// let wait = Duration::from_millis(1);
    /// assert_eq!(tx.push_timeout(1, wait, WaitStrategy::Park), Ok(()));
    /// assert_eq!(tx.push_timeout(2, wait, WaitStrategy::Park), Err(PushTimeoutError::Timeout(2)));
    /// ```
    pub fn push_timeout(
        &mut self,
        value: T,
        timeout: Duration,
        strategy: WaitStrategy,
    ) -> Result<(), PushTimeoutError<T>> {
        let deadline = wait::deadline_after(timeout);
        let Producer { cursor, shared } = self;
        wait::push_until(strategy, &shared.space, deadline, value, |v| {
            cursor.push::<T, true>(shared, v)
        })
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
    /// use corelane::queue::{spsc, wait::WaitStrategy};
    /// use std::time::Instant;
    ///
    /// let (mut tx, mut rx) = spsc::channel::<u8>(1);
    /// assert_eq!(tx.push_until(1, Instant::now(), WaitStrategy::Yield), Ok(()));
    /// assert_eq!(rx.pop(), Ok(1));
    /// ```
    pub fn push_until(
        &mut self,
        value: T,
        deadline: Instant,
        strategy: WaitStrategy,
    ) -> Result<(), PushTimeoutError<T>> {
        let Producer { cursor, shared } = self;
        wait::push_until(strategy, &shared.space, Some(deadline), value, |v| {
            cursor.push::<T, true>(shared, v)
        })
    }

    /// Pushes `value`, waiting asynchronously while the ring is full. Works
    /// under any executor (it registers the task's [`Waker`](std::task::Waker)).
    ///
    /// The returned [`SendFuture`] owns `value` until it completes; see its
    /// docs for cancel safety (a pending send dropped in a `select!` drops
    /// the value unless you take it back with [`SendFuture::cancel`]).
    ///
    /// # Errors
    ///
    /// [`Disconnected`] (with the value) if the consumer is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// # rt.block_on(async {
    /// let (mut tx, mut rx) = corelane::queue::spsc::channel::<u8>(1);
    /// tx.send(5).await.unwrap();
    /// assert_eq!(rx.recv().await, Ok(5));
    /// # });
    /// ```
    pub fn send(
        &mut self,
        value: T,
    ) -> SendFuture<'_, T, impl FnMut(T) -> Result<(), PushError<T>> + Unpin + '_> {
        let Producer { cursor, shared } = self;
        let shared: &Shared<T> = shared;
        SendFuture::new(&shared.space, value, move |v| {
            cursor.push::<T, true>(shared, v)
        })
    }

    /// `Ready(Ok(()))` once a [`push`](Self::push) will find a free slot
    /// (only this producer fills slots, so it stays free until it pushes),
    /// `Ready(Err(Disconnected))` if the consumer is gone, else `Pending`
    /// with the task's waker registered to be woken by the next pop. The
    /// `Sink::poll_ready` half of a hand-written sink.
    ///
    /// # Errors
    ///
    /// `Ready(Err(`[`Disconnected`]`))` if the consumer is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::task::{Context, Poll, Waker};
    ///
    /// let (mut tx, mut rx) = corelane::queue::spsc::channel::<u8>(1);
    /// let mut cx = Context::from_waker(Waker::noop());
    /// assert_eq!(tx.poll_ready(&mut cx), Poll::Ready(Ok(())));
    /// tx.push(1).unwrap();
    /// assert!(tx.poll_ready(&mut cx).is_pending());
    /// rx.pop().unwrap();
    /// assert_eq!(tx.poll_ready(&mut cx), Poll::Ready(Ok(())));
    /// ```
    pub fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Disconnected>> {
        wait::poll_retry(&self.shared.space, cx, || {
            if self.is_disconnected() {
                Some(Err(Disconnected(())))
            } else if self.is_full() {
                None
            } else {
                Some(Ok(()))
            }
        })
    }

    /// Items in the ring (exact from this side's view: may only shrink
    /// concurrently, as the consumer pops).
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, _rx) = corelane::queue::spsc::channel::<u8>(4);
    /// tx.push(1).unwrap();
    /// assert_eq!(tx.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        // Acquire: pairs with the consumer's Release store of `head` (`pop`,
        // a read chunk's commit, its `Drop`). Only a count: pushes decide
        // room from their own Acquire load in `free_slots`.
        let head = self.shared.consumer.head.load(Ordering::Acquire);
        // `head` never passes our own tail.
        let len = self.cursor.tail.wrapping_sub(head);
        debug_assert!(
            len <= self.capacity(),
            "the consumer's head passed our tail"
        );
        len
    }

    /// True if no item is in the ring (may become false only by our pushes).
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = corelane::queue::spsc::channel::<u8>(4);
    /// assert!(tx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True if every slot is taken *now*; a `false` is a guarantee that the
    /// next `push` succeeds (only we fill slots), a `true` may be stale.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, _rx) = corelane::queue::spsc::channel::<u8>(1);
    /// tx.push(1).unwrap();
    /// assert!(tx.is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        self.len() == self.capacity()
    }

    /// Slots a push could fill now: `capacity() - len()`. Only this producer
    /// fills slots and the consumer only frees them, so it is a lower
    /// bound: that many pushes (or a chunk or batch of that many) will
    /// succeed.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, _rx) = corelane::queue::spsc::channel::<u8>(4);
    /// tx.push(1).unwrap();
    /// let free = tx.free_len();
    /// assert_eq!(free, 3);
    /// assert!(tx.write_chunk(free).is_ok());
    /// ```
    pub fn free_len(&self) -> usize {
        self.capacity() - self.len()
    }

    /// Number of slots (a power of two).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(corelane::queue::spsc::channel::<u8>(3).0.capacity(), 4);
    /// ```
    pub fn capacity(&self) -> usize {
        self.shared.mask + 1
    }

    /// True once the consumer has been dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = corelane::queue::spsc::channel::<u8>(4);
    /// drop(rx);
    /// assert!(tx.is_disconnected());
    /// ```
    pub fn is_disconnected(&self) -> bool {
        // Acquire: pairs with the Release store in the consumer's `Drop`
        // (after its last `head` store); nothing else is read on it.
        self.shared.producer.consumer_gone.load(Ordering::Acquire)
    }
}

impl<T> Drop for Producer<T> {
    fn drop(&mut self) {
        // Release: pairs with the consumer's Acquire load in `empty_reason`,
        // so every item we pushed is visible once it sees the flag.
        self.shared
            .consumer
            .producer_gone
            .store(true, Ordering::Release);
        self.shared.items.notify_slow();
    }
}

impl<T> fmt::Debug for Producer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("spsc::Producer")
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .finish()
    }
}
