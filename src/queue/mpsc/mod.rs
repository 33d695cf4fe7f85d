//! Multi-producer single-consumer ring: the producer is `Clone` and claims
//! slots by CAS on the shared tail (a plain store while only one producer
//! handle exists); the single consumer owns its cursor (no CAS on the pop
//! path). A batch push claims a whole run of slots with one CAS.
//!
//! The ground rules are in `src/queue/stamped/mod.rs` (and, for batches,
//! `stamped/batch.rs`); this ring's two sides are in
//! `src/queue/stamped/by_head.rs`.
//!
//! # What can fail, and how
//!
//! | call | can return |
//! |---|---|
//! | [`Producer::push`] | [`PushError::Full`], [`PushError::Disconnected`]; never `Busy` |
//! | [`Consumer::pop`] | [`PopError::Empty`], [`PopError::Disconnected`]; never `Busy` |
//! | `push_blocking`, `send` / `pop_blocking`, `recv` | [`Disconnected`](crate::queue::Disconnected) only |
//! | `*_timeout`, `*_until` | [`PushTimeoutError`](crate::queue::PushTimeoutError) / [`PopTimeoutError`](crate::queue::PopTimeoutError) |
//! | `push_slice`, `push_iter`, `pop_batch` | a count, or [`Disconnected`](crate::queue::Disconnected) |
//!
//! Producers never see `Busy`: they decide that a slot is free from the
//! consumer's published position, which only moves past a slot once its
//! item has been read.
//!
//! **Head-of-line semantics.** [`Consumer::pop`] returns
//! [`PopError::Empty`] (never `Busy`) when the next slot has been claimed
//! by a producer that has not finished writing it: telling the two apart
//! would cost the consumer a load of the producers' contended cursor on
//! every empty poll. Items claimed later may already be written behind it
//! (so `len()` can be > 0 while `pop` says `Empty`); FIFO order means they
//! wait for it. Retrying, or `pop_blocking`, is right.
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
//!
//! [`PushError::Full`]: crate::queue::PushError::Full
//! [`PushError::Disconnected`]: crate::queue::PushError::Disconnected
//! [`PopError::Empty`]: crate::queue::PopError::Empty
//! [`PopError::Disconnected`]: crate::queue::PopError::Disconnected

use super::stamped::{HeadGatedProducer, Ring, SoleConsumer};
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
