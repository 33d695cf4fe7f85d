//! Multi-producer single-consumer ring: the producer is `Clone` and claims
//! slots by CAS on the shared tail (a plain store while only one producer
//! handle exists); the single consumer owns its cursor (no CAS on the pop
//! path). Producers can also push a batch with one claim.
//!
//! The ground rules are in `src/queue/stamped/mod.rs`; this ring's two
//! sides are in `src/queue/stamped/by_head.rs`.
//!
//! **Head-of-line semantics.** [`Consumer::pop`] returns
//! [`PopError::Empty`] (never `Busy`) when the
//! next slot has been claimed by a producer that has not finished writing it:
//! telling the two apart would cost the consumer a load of the producers'
//! contended cursor on every empty poll. Items claimed later may already be
//! written behind it (so `len()` can be > 0 while `pop` says `Empty`); FIFO
//! order means they wait for it. Retrying, or `pop_blocking`, is right.
//!
//! # Examples
//!
//! ```
//! use corelane::queue::mpsc;
//!
//! let (tx, mut rx) = mpsc::channel::<(usize, u32)>(64);
//! let handles: Vec<_> = (0..3)
//!     .map(|id| {
//!         let mut tx = tx.clone();
//!         std::thread::spawn(move || {
//!             for i in 0..100 {
//!                 tx.push_blocking((id, i), Default::default()).unwrap();
//!             }
//!         })
//!     })
//!     .collect();
//! drop(tx);
//! let mut last = [None; 3];
//! let mut n = 0;
//! while let Ok((id, i)) = rx.pop_blocking(Default::default()) {
//!     assert!(last[id].map_or(true, |l| l < i), "per-producer FIFO");
//!     last[id] = Some(i);
//!     n += 1;
//! }
//! assert_eq!(n, 300);
//! for h in handles {
//!     h.join().unwrap();
//! }
//! ```

use std::fmt;

use super::stamped::{self, HeadGatedProducer, PopSide, PushSide, Ring, SoleConsumer};
use super::wait::WaitStrategy;
use super::{Disconnected, PopError, PushError};
use crate::sync::Arc;

/// Creates a ring with room for `capacity` items (rounded up to a power of
/// two, and to at least 2) and returns its two ends.
///
/// # Panics
///
/// If `capacity` is 0 or the ring would not fit in memory.
///
/// # Examples
///
/// ```
/// let (mut tx, mut rx) = corelane::queue::mpsc::channel::<u32>(100);
/// assert_eq!(tx.capacity(), 128);
/// tx.push(1).unwrap();
/// assert_eq!(rx.pop(), Ok(1));
/// ```
pub fn channel<T>(capacity: usize) -> (Producer<T>, Consumer<T>) {
    let ring = Arc::new(Ring::new(capacity));
    let producer = Producer {
        ring: ring.clone(),
        side: HeadGatedProducer::default(),
    };
    let consumer = Consumer {
        ring,
        side: SoleConsumer::default(),
    };
    (producer, consumer)
}

/// The sending end; clone it for more producers.
pub struct Producer<T> {
    ring: Arc<Ring<T>>,
    side: HeadGatedProducer,
}

/// The receiving end (there is only one).
pub struct Consumer<T> {
    ring: Arc<Ring<T>>,
    side: SoleConsumer,
}

impl<T> Producer<T> {
    /// Pushes `value`, or hands it back. Never blocks.
    ///
    /// # Errors
    ///
    /// [`PushError::Full`] if every slot holds an item the consumer has not
    /// finished taking, [`PushError::Disconnected`] if the consumer is gone.
    /// Never [`PushError::Busy`]: producers decide that a slot is free from
    /// the consumer's published position, which only moves past a slot once
    /// its item has been read.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::PushError;
    ///
    /// let (mut tx, rx) = corelane::queue::mpsc::channel::<u8>(2);
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

    /// Pushes the longest prefix of `items` that fits, claiming all of it with
    /// one CAS and publishing it with one release fence; the pushed items are
    /// removed from the front of `items`, the rest stay. Returns how many
    /// were pushed (0 when the ring is full).
    ///
    /// # Errors
    ///
    /// [`Disconnected`] if the consumer is gone (nothing is taken from `items`).
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, mut rx) = corelane::queue::mpsc::channel::<u32>(4);
    /// let mut batch = vec![1, 2, 3, 4, 5, 6];
    /// assert_eq!(tx.push_batch(&mut batch), Ok(4));
    /// assert_eq!(batch, [5, 6]);
    /// assert_eq!(rx.pop(), Ok(1));
    /// ```
    pub fn push_batch(&self, items: &mut Vec<T>) -> Result<usize, Disconnected> {
        self.side.push_batch(&self.ring, items)
    }

    /// Pushes `value`, waiting per `strategy` while the ring is full.
    ///
    /// # Errors
    ///
    /// [`PushError::Disconnected`] (with the value) if the consumer is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::wait::WaitStrategy;
    ///
    /// let (mut tx, mut rx) = corelane::queue::mpsc::channel::<u8>(2);
    /// tx.push_blocking(1, WaitStrategy::Park).unwrap();
    /// tx.push_blocking(2, WaitStrategy::Park).unwrap();
    /// let consumer = std::thread::spawn(move || (rx.pop_blocking(WaitStrategy::Park), rx));
    /// tx.push_blocking(3, WaitStrategy::Park).unwrap(); // waits for that pop
    /// let (first, mut rx) = consumer.join().unwrap();
    /// assert_eq!(first, Ok(1));
    /// assert_eq!(rx.pop(), Ok(2));
    /// assert_eq!(rx.pop(), Ok(3));
    /// ```
    pub fn push_blocking(&mut self, value: T, strategy: WaitStrategy) -> Result<(), PushError<T>> {
        stamped::push_blocking(&self.ring, &mut self.side, value, strategy)
    }

    /// Pushes `value`, waiting asynchronously while the ring is full; works
    /// under any executor (it registers the task's waker).
    ///
    /// # Errors
    ///
    /// [`PushError::Disconnected`] (with the value) if the consumer is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// # rt.block_on(async {
    /// let (mut tx, mut rx) = corelane::queue::mpsc::channel::<u8>(2);
    /// tx.send(4).await.unwrap();
    /// assert_eq!(rx.recv().await, Ok(4));
    /// # });
    /// ```
    pub async fn send(&mut self, value: T) -> Result<(), PushError<T>> {
        stamped::send(&self.ring, &mut self.side, value).await
    }

    /// Positions claimed by producers and not yet taken by the consumer (a
    /// snapshot: other threads may change it). It counts items still being
    /// written, which the consumer cannot take yet (see the module docs).
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, _rx) = corelane::queue::mpsc::channel::<u8>(4);
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
    /// let (tx, _rx) = corelane::queue::mpsc::channel::<u8>(4);
    /// assert!(tx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True if every slot was claimed at the moment of the check: a `push`
    /// then fails with [`PushError::Full`] until the consumer takes one.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, _rx) = corelane::queue::mpsc::channel::<u8>(2);
    /// tx.push(1).unwrap();
    /// tx.push(2).unwrap();
    /// assert!(tx.is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        self.len() == self.capacity()
    }

    /// Number of slots (a power of two, at least 2).
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = corelane::queue::mpsc::channel::<u8>(3);
    /// assert_eq!(tx.capacity(), 4);
    /// ```
    pub fn capacity(&self) -> usize {
        self.ring.capacity()
    }

    /// True once the consumer is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = corelane::queue::mpsc::channel::<u8>(4);
    /// drop(rx);
    /// assert!(tx.is_abandoned());
    /// ```
    pub fn is_abandoned(&self) -> bool {
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
        f.debug_struct("mpsc::Producer")
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .finish()
    }
}

impl<T> Consumer<T> {
    /// Takes the oldest item. Never blocks.
    ///
    /// # Errors
    ///
    /// [`PopError::Empty`] if the next item is not ready: nothing was
    /// pushed, or the producer that claimed the next slot has not finished
    /// writing it (items claimed after it wait behind it; see the module
    /// docs). [`PopError::Disconnected`] if the ring is empty and every
    /// producer is gone. Never [`PopError::Busy`].
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::PopError;
    ///
    /// let (mut tx, mut rx) = corelane::queue::mpsc::channel::<u8>(2);
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

    /// Takes the oldest item, waiting per `strategy` while none is ready.
    ///
    /// # Errors
    ///
    /// [`PopError::Disconnected`] once the ring is empty and every producer is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::wait::WaitStrategy;
    ///
    /// let (mut tx, mut rx) = corelane::queue::mpsc::channel::<u8>(2);
    /// std::thread::spawn(move || tx.push(9).unwrap());
    /// assert_eq!(rx.pop_blocking(WaitStrategy::Park), Ok(9));
    /// ```
    pub fn pop_blocking(&mut self, strategy: WaitStrategy) -> Result<T, PopError> {
        stamped::pop_blocking(&self.ring, &mut self.side, strategy)
    }

    /// Takes the oldest item, waiting asynchronously while none is ready;
    /// works under any executor (it registers the task's waker).
    ///
    /// # Errors
    ///
    /// [`PopError::Disconnected`] once the ring is empty and every producer is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// # rt.block_on(async {
    /// let (mut tx, mut rx) = corelane::queue::mpsc::channel::<u8>(2);
    /// tx.push(1).unwrap();
    /// assert_eq!(rx.recv().await, Ok(1));
    /// # });
    /// ```
    pub async fn recv(&mut self) -> Result<T, PopError> {
        stamped::recv(&self.ring, &mut self.side).await
    }

    /// Positions claimed by producers and not yet taken (a snapshot: other
    /// threads may change it). It counts items still being written, so it
    /// can be > 0 while [`pop`](Self::pop) says `Empty`.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, rx) = corelane::queue::mpsc::channel::<u8>(4);
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
    /// let (_tx, rx) = corelane::queue::mpsc::channel::<u8>(4);
    /// assert!(rx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True if every slot was claimed at the moment of the check.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, rx) = corelane::queue::mpsc::channel::<u8>(2);
    /// tx.push(1).unwrap();
    /// tx.push(2).unwrap();
    /// assert!(rx.is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        self.len() == self.capacity()
    }

    /// Number of slots (a power of two, at least 2).
    ///
    /// # Examples
    ///
    /// ```
    /// let (_tx, rx) = corelane::queue::mpsc::channel::<u8>(5);
    /// assert_eq!(rx.capacity(), 8);
    /// ```
    pub fn capacity(&self) -> usize {
        self.ring.capacity()
    }

    /// True once every producer handle is gone (items may still be waiting).
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = corelane::queue::mpsc::channel::<u8>(4);
    /// let tx2 = tx.clone();
    /// drop(tx);
    /// assert!(!rx.is_abandoned());
    /// drop(tx2);
    /// assert!(rx.is_abandoned());
    /// ```
    pub fn is_abandoned(&self) -> bool {
        self.ring.producers_gone()
    }
}

impl<T> Drop for Consumer<T> {
    fn drop(&mut self) {
        self.ring.drop_consumer();
    }
}

impl<T> fmt::Debug for Consumer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("mpsc::Consumer")
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .finish()
    }
}
