//! Multi-producer single-consumer ring: the producer is `Clone` and claims
//! slots by CAS on the shared tail; the single consumer owns its cursor (no
//! CAS on the pop path). Producers can also push a batch with one claim.
//!
//! The ground rules are in `src/queue/stamped.rs`.
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

use super::stamped::{stamped_endpoints, Owned, ScProducerClaim};
use super::Disconnected;

stamped_endpoints!(
    module = "mpsc",
    producer = ScProducerClaim,
    consumer = Owned
);

impl<T> Clone for Producer<T> {
    fn clone(&self) -> Self {
        self.ring.add_sender();
        Producer {
            ring: self.ring.clone(),
            claim: self.claim,
        }
    }
}

impl<T> Producer<T> {
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
        self.ring.push_batch_sc(items)
    }
}
