//! Multi-producer multi-consumer ring: both ends are `Clone`; positions are
//! claimed by CAS on the shared cursors, readiness is each slot's own stamp
//! (Vyukov's bounded queue). A try that fails only because another thread is
//! mid-way through the next slot says so ([`PushError::Busy`],
//! [`PopError::Busy`]). Batches claim a whole run of slots with one CAS, on
//! either side.
//!
//! The ground rules are in `src/queue/stamped/mod.rs` (and, for batches,
//! `stamped/batch.rs`); this ring's two sides are in
//! `src/queue/stamped/by_stamp.rs`.
//!
//! # What can fail, and how
//!
//! | call | can return |
//! |---|---|
//! | [`Producer::push`] | [`PushError::Full`], [`PushError::Busy`] (a consumer is still reading the next slot's previous item), [`PushError::Disconnected`] |
//! | [`Consumer::pop`] | [`PopError::Empty`], [`PopError::Busy`] (a producer claimed the next slot and is still writing it), [`PopError::Disconnected`] |
//! | `push_blocking`, `send` / `pop_blocking`, `recv` | [`Disconnected`](crate::queue::Disconnected) only |
//! | `*_timeout`, `*_until` | [`PushTimeoutError`](crate::queue::PushTimeoutError) / [`PopTimeoutError`](crate::queue::PopTimeoutError) |
//! | `push_slice`, `push_iter`, `pop_batch` | a count, or [`Disconnected`](crate::queue::Disconnected) |
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
//!
//! [`PushError::Full`]: crate::queue::PushError::Full
//! [`PushError::Busy`]: crate::queue::PushError::Busy
//! [`PushError::Disconnected`]: crate::queue::PushError::Disconnected
//! [`PopError::Empty`]: crate::queue::PopError::Empty
//! [`PopError::Busy`]: crate::queue::PopError::Busy
//! [`PopError::Disconnected`]: crate::queue::PopError::Disconnected

use super::stamped::{Ring, SharedConsumer, SharedProducer};
use crate::sync::Arc;

mod consumer;
mod producer;

pub use consumer::Consumer;
pub use producer::Producer;

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
