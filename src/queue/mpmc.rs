//! Multi-producer multi-consumer ring: both ends are `Clone`; positions are
//! claimed by CAS on the shared cursors, readiness is each slot's own stamp
//! (Vyukov's bounded queue). A try that fails only because another thread is
//! mid-way through the next slot says so ([`PushError::Busy`],
//! [`PopError::Busy`]).
//!
//! The ground rules are in `src/queue/stamped/mod.rs`; this ring's two
//! sides are in `src/queue/stamped/by_stamp.rs`.
//!
//! # Examples
//!
//! ```
//! use corelane::queue::mpmc;
//!
//! let (tx, rx) = mpmc::channel::<u32>(16);
//! let (mut tx2, mut rx2) = (tx.clone(), rx.clone());
//! tx2.push(1).unwrap();
//! assert_eq!(rx2.pop(), Ok(1));
//! ```

use std::fmt;

use super::stamped::{self, PopSide, PushSide, Ring, SharedConsumer, SharedProducer};
use super::wait::WaitStrategy;
use super::{PopError, PushError};
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
/// let (mut tx, mut rx) = corelane::queue::mpmc::channel::<u32>(100);
/// assert_eq!(tx.capacity(), 128);
/// tx.push(1).unwrap();
/// assert_eq!(rx.pop(), Ok(1));
/// ```
pub fn channel<T>(capacity: usize) -> (Producer<T>, Consumer<T>) {
    let ring = Arc::new(Ring::new(capacity));
    let producer = Producer {
        ring: ring.clone(),
        side: SharedProducer,
    };
    let consumer = Consumer {
        ring,
        side: SharedConsumer,
    };
    (producer, consumer)
}

/// The sending end; clone it for more producers.
pub struct Producer<T> {
    ring: Arc<Ring<T>>,
    side: SharedProducer,
}

/// The receiving end; clone it for more consumers.
pub struct Consumer<T> {
    ring: Arc<Ring<T>>,
    side: SharedConsumer,
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
    /// [`PushError::Disconnected`] (with the value) if every consumer is gone.
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
    pub fn push_blocking(&mut self, value: T, strategy: WaitStrategy) -> Result<(), PushError<T>> {
        stamped::push_blocking(&self.ring, &mut self.side, value, strategy)
    }

    /// Pushes `value`, waiting asynchronously while the ring is full (or its
    /// next slot is still being read); works under any executor (it
    /// registers the task's waker).
    ///
    /// # Errors
    ///
    /// [`PushError::Disconnected`] (with the value) if every consumer is gone.
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
    pub async fn send(&mut self, value: T) -> Result<(), PushError<T>> {
        stamped::send(&self.ring, &mut self.side, value).await
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
    /// consumer at the moment of the check.
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

    /// True once every consumer handle is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = corelane::queue::mpmc::channel::<u8>(4);
    /// let rx2 = rx.clone();
    /// drop(rx);
    /// assert!(!tx.is_abandoned());
    /// drop(rx2);
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
            side: SharedProducer,
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

impl<T> Consumer<T> {
    /// Takes the oldest item no other consumer has taken. Never blocks.
    ///
    /// # Errors
    ///
    /// [`PopError::Empty`] if nothing is waiting; [`PopError::Busy`] if a
    /// producer claimed the next slot but has not finished writing it
    /// (items claimed later may wait behind it; retrying is right);
    /// [`PopError::Disconnected`] if the ring is empty and every producer
    /// is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::PopError;
    ///
    /// let (mut tx, mut rx) = corelane::queue::mpmc::channel::<u8>(2);
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
    /// [`PopError::Disconnected`] once the ring is empty and every producer is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::wait::WaitStrategy;
    ///
    /// let (mut tx, mut rx) = corelane::queue::mpmc::channel::<u8>(2);
    /// std::thread::spawn(move || tx.push(9).unwrap());
    /// assert_eq!(rx.pop_blocking(WaitStrategy::Park), Ok(9));
    /// ```
    pub fn pop_blocking(&mut self, strategy: WaitStrategy) -> Result<T, PopError> {
        stamped::pop_blocking(&self.ring, &mut self.side, strategy)
    }

    /// Takes the oldest item no other consumer has taken, waiting
    /// asynchronously while none is ready; works under any executor (it
    /// registers the task's waker).
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
    /// let (mut tx, mut rx) = corelane::queue::mpmc::channel::<u8>(2);
    /// tx.push(1).unwrap();
    /// assert_eq!(rx.recv().await, Ok(1));
    /// # });
    /// ```
    pub async fn recv(&mut self) -> Result<T, PopError> {
        stamped::recv(&self.ring, &mut self.side).await
    }

    /// Positions claimed by producers and not yet claimed by consumers (a
    /// snapshot; see [`Producer::len`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, rx) = corelane::queue::mpmc::channel::<u8>(4);
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
    /// let (_tx, rx) = corelane::queue::mpmc::channel::<u8>(4);
    /// assert!(rx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True if every slot was claimed by a producer and not yet by a
    /// consumer at the moment of the check.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, rx) = corelane::queue::mpmc::channel::<u8>(2);
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
    /// let (_tx, rx) = corelane::queue::mpmc::channel::<u8>(5);
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
    /// let (tx, rx) = corelane::queue::mpmc::channel::<u8>(4);
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
        f.debug_struct("mpmc::Consumer")
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .finish()
    }
}
