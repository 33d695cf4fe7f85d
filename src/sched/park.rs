//! The park step: what a core does when it has nothing to run.
//!
//! The loop announces itself on its doorbell, re-checks its inbox, and then
//! calls [`Park::park`] with the time until the next timer. Without `io`
//! the step is [`SignalPark`]: a `ppoll` on the doorbell's eventfd. The io
//! driver replaces it with one `io_uring_enter` (`submit_and_wait` with the
//! timer as timeout) and keeps a read on the same eventfd armed in its
//! ring, so a doorbell rung by another core completes that read and ends
//! the wait. [`Park::poll`] is the non-blocking half the loop calls on
//! every pass (the io driver reaps completions there).

use super::inbox::Doorbell;
use std::time::Duration;

/// One core's park step (lives on the core's thread).
pub(crate) trait Park {
    /// Waits until `doorbell` is rung or `timeout` passes (`None`: no
    /// timer pending). May return early; the caller re-checks everything.
    fn park(&mut self, doorbell: &Doorbell, timeout: Option<Duration>);

    /// Makes progress without blocking (reap completions). Returns whether
    /// anything happened. The default has nothing to do.
    fn poll(&mut self) -> bool {
        false
    }

    /// The io driver's counters, if this park step is one.
    fn io_stats(&self) -> Option<super::stats::IoStats> {
        None
    }
}

/// The park step without io: sleep on the doorbell's eventfd.
pub(crate) struct SignalPark;

impl Park for SignalPark {
    fn park(&mut self, doorbell: &Doorbell, timeout: Option<Duration>) {
        doorbell.signal().wait(timeout);
    }
}
