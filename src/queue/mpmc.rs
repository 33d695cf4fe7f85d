//! Multi-producer multi-consumer ring: both ends are `Clone`; positions are
//! claimed by CAS on the shared cursors, readiness is each slot's own stamp
//! (Vyukov's bounded queue). A try that fails only because another thread is
//! mid-way through the next slot says so ([`PushError::Busy`],
//! [`PopError::Busy`]).
//!
//! The ground rules are in `src/queue/stamped.rs`.
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

use super::stamped::{stamped_endpoints, SharedClaim};

stamped_endpoints!(
    module = "mpmc",
    producer = SharedClaim,
    consumer = SharedClaim
);

impl<T> Clone for Producer<T> {
    fn clone(&self) -> Self {
        self.ring.add_sender();
        Producer {
            ring: self.ring.clone(),
            claim: SharedClaim,
        }
    }
}

impl<T> Clone for Consumer<T> {
    fn clone(&self) -> Self {
        self.ring.add_receiver();
        Consumer {
            ring: self.ring.clone(),
            claim: SharedClaim,
        }
    }
}
