//! Single-producer multi-consumer ring: the consumer is `Clone` and claims
//! slots by CAS on the shared head; the single producer owns its cursor (no
//! CAS on the push path). Each item goes to exactly one consumer.
//!
//! The ground rules are in `src/queue/stamped.rs`.
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

use super::stamped::{stamped_endpoints, Owned, SharedClaim};

stamped_endpoints!(module = "spmc", producer = Owned, consumer = SharedClaim);

impl<T> Clone for Consumer<T> {
    fn clone(&self) -> Self {
        self.ring.add_receiver();
        Consumer {
            ring: self.ring.clone(),
            claim: SharedClaim,
        }
    }
}
