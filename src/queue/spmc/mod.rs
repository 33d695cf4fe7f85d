//! Single-producer multi-consumer ring: the consumer is `Clone` and claims
//! slots by CAS on the shared head; the single producer owns its cursor (no
//! CAS on the push path). Each item goes to exactly one consumer. A batch
//! pop claims a whole run of items with one CAS.
//!
//! The ground rules are in `src/queue/stamped/mod.rs` (and, for batches,
//! `stamped/batch.rs`); this ring's two sides are in
//! `src/queue/stamped/by_stamp.rs`.
//!
//! # What can fail, and how
//!
//! | call | can return |
//! |---|---|
//! | [`Producer::push`] | [`PushError::Full`], [`PushError::Busy`] (the next slot's previous item is still being read), [`PushError::Disconnected`] |
//! | [`Consumer::pop`] | [`PopError::Empty`], [`PopError::Disconnected`]; [`PopError::Busy`] only in a race (the next item was published during the call) |
//! | `push_blocking`, `send` / `pop_blocking`, `recv` | [`Disconnected`](crate::queue::Disconnected) only |
//! | `*_timeout`, `*_until` | [`PushTimeoutError`](crate::queue::PushTimeoutError) / [`PopTimeoutError`](crate::queue::PopTimeoutError) |
//! | `push_slice`, `push_iter`, `pop_batch` | a count, or [`Disconnected`](crate::queue::Disconnected) |
//!
//! # Examples
//!
//! ```
//! use corelane::queue::spmc;
//!
//! let (mut tx, rx) = spmc::channel::<u64>(64);
//! let workers: Vec<_> = (0..2)
//!     .map(|_| {
//!         let mut rx = rx.clone();
//!         std::thread::spawn(move || {
//!             let mut sum = 0;
//!             while let Ok(v) = rx.pop_blocking(Default::default()) {
//!                 sum += v;
//!             }
//!             sum
//!         })
//!     })
//!     .collect();
//! drop(rx);
//! for i in 1..=1000 {
//!     tx.push_blocking(i, Default::default()).unwrap();
//! }
//! drop(tx);
//! let total: u64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
//! assert_eq!(total, 500_500);
//! ```
//!
//! [`PushError::Full`]: crate::queue::PushError::Full
//! [`PushError::Busy`]: crate::queue::PushError::Busy
//! [`PushError::Disconnected`]: crate::queue::PushError::Disconnected
//! [`PopError::Empty`]: crate::queue::PopError::Empty
//! [`PopError::Busy`]: crate::queue::PopError::Busy
//! [`PopError::Disconnected`]: crate::queue::PopError::Disconnected

use super::stamped::{Ring, SharedConsumer, SoleProducer};
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
/// let (mut tx, mut rx) = corelane::queue::spmc::channel::<u32>(100);
/// assert_eq!(tx.capacity(), 128);
/// tx.push(1).unwrap();
/// assert_eq!(rx.pop(), Ok(1));
/// ```
pub fn channel<T>(capacity: usize) -> (Producer<T>, Consumer<T>) {
    let ring = Arc::new(Ring::new(capacity));
    let producer = Producer {
        ring: ring.clone(),
        side: SoleProducer::default(),
    };
    let consumer = Consumer {
        ring,
        side: SharedConsumer,
    };
    (producer, consumer)
}
