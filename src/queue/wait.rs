//! Wait strategies for the blocking calls, and the wake-up handshake behind
//! them.
//!
//! # Ground rules (the eventcount)
//!
//! Every ring has two `Notify` cells: `items` (consumers wait here for
//! data) and `space` (producers wait here for room). A waiter never sleeps
//! unless it has *announced* itself and then *re-checked* the ring:
//!
//! ```text
//!   waiter                                  publisher (every push / pop)
//!   key = epoch.load()                      store slot / cursor   (Release)
//!   waiters += 1            (SeqCst RMW)    light_barrier()
//!   heavy_barrier()                         if waiters.load() != 0 {
//!   if ring op succeeds: waiters -= 1,          epoch += 1; futex_wake(epoch)
//!                        done                   wake registered wakers
//!   futex_wait(epoch, key); waiters -= 1     }
//! ```
//!
//! The two barriers form a StoreLoad pair (Dekker): either the publisher's
//! load sees `waiters != 0` and wakes, or the waiter's re-check sees the
//! publisher's store. `futex_wait` with the key taken *before* announcing
//! returns at once if a wake came in between, so no wake-up is lost (proved
//! by the loom models in `loom-tests/`).
//!
//! The publisher's half is the hot path: with nobody waiting it costs one
//! load of a read-mostly cache line and a *compiler* fence, because
//! the waiter's `heavy_barrier` uses `membarrier(2)` to run the full fence
//! on the publisher's CPU on the waiter's behalf (the technique of
//! liburcu and folly's `asymmetricLightBarrier`). Where membarrier is missing
//! both sides fall back to `fence(SeqCst)`.
//!
//! # Examples
//!
//! ```
//! use corelane::queue::{spsc, wait::WaitStrategy};
//!
//! let (mut tx, mut rx) = spsc::channel::<u32>(8);
//! let t = std::thread::spawn(move || rx.pop_blocking(WaitStrategy::Park));
//! tx.push_blocking(42, WaitStrategy::Backoff).unwrap();
//! assert_eq!(t.join().unwrap(), Ok(42));
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use super::{PopError, PushError};
use crate::sync::{
    heavy_barrier, light_barrier, spin_hint, yield_now, AtomicUsize, Futex, Mutex, Ordering,
};

/// How a blocking call waits for its ring.
///
/// | strategy | latency to wake | CPU while waiting |
/// |---|---|---|
/// | `BusySpin` | lowest (one cache miss) | a full core |
/// | `Yield` | low; gives the core to runnable threads | a full core when alone |
/// | `Backoff` | spins, then yields with growing pauses | less |
/// | `Park` | a futex wake-up (µs) after a short spin | none while asleep |
///
/// With `Park`, the publisher pays for the possibility of a sleeper only a
/// compiler fence and one load of a read-mostly line (see the module docs).
///
/// # Examples
///
/// ```
/// use corelane::queue::{mpsc, wait::WaitStrategy};
///
/// let (mut tx, mut rx) = mpsc::channel::<u8>(2);
/// tx.push_blocking(1, WaitStrategy::BusySpin).unwrap();
/// assert_eq!(rx.pop_blocking(WaitStrategy::Yield), Ok(1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WaitStrategy {
    /// Spin with the CPU's pause hint; never leaves the core.
    BusySpin,
    /// `sched_yield` between attempts.
    Yield,
    /// Exponential spin, then yield (crossbeam's `Backoff` shape).
    #[default]
    Backoff,
    /// Spin briefly, then sleep on a futex until the other side publishes.
    Park,
}

/// Exponential backoff: spins `2^step` pause hints up to a limit, then
/// yields to the scheduler.
#[derive(Debug, Default)]
pub(crate) struct Backoff {
    step: u32,
}

impl Backoff {
    // Under loom every spin is a scheduling point: shrink the ladder so the
    // models stay small (the protocol does not depend on these numbers).
    /// Steps that spin (`2^step` hints each) before steps start yielding.
    #[cfg(not(corelane_loom))]
    const SPIN_STEPS: u32 = 7;
    #[cfg(not(corelane_loom))]
    const YIELD_LIMIT: u32 = 10;
    #[cfg(corelane_loom)]
    const SPIN_STEPS: u32 = 1;
    #[cfg(corelane_loom)]
    const YIELD_LIMIT: u32 = 1;

    /// Waits a little longer than last time.
    #[inline]
    pub(crate) fn snooze(&mut self) {
        if self.step < Self::SPIN_STEPS {
            for _ in 0..1u32 << self.step {
                spin_hint();
            }
        } else {
            yield_now();
        }
        if self.step <= Self::YIELD_LIMIT {
            self.step += 1;
        }
    }

    /// True once spinning has stopped paying off.
    #[inline]
    pub(crate) fn is_completed(&self) -> bool {
        self.step > Self::YIELD_LIMIT
    }
}

/// One side's wake-up cell: a waiter count, a futex epoch and the wakers of
/// async waiters. See the module docs for the protocol.
pub(crate) struct Notify {
    /// Threads parked plus async wakers registered.
    waiters: AtomicUsize,
    epoch: Futex,
    wakers: Mutex<Vec<Waker>>,
}

impl Notify {
    pub(crate) fn new() -> Self {
        crate::sync::barrier_init();
        Notify {
            waiters: AtomicUsize::new(0),
            epoch: Futex::new(),
            wakers: Mutex::new(Vec::new()),
        }
    }

    /// The publisher's half: call after making progress visible.
    #[inline]
    pub(crate) fn notify(&self) {
        light_barrier();
        // Relaxed: ordered after our publication by the light barrier, which
        // pairs with the waiter's heavy barrier (module docs).
        if self.waiters.load(Ordering::Relaxed) != 0 {
            self.notify_slow();
        }
    }

    /// Wakes everyone unconditionally (disconnection, or a waiter seen).
    #[cold]
    pub(crate) fn notify_slow(&self) {
        self.epoch.bump_and_wake();
        let wakers = std::mem::take(&mut *self.wakers.lock());
        if !wakers.is_empty() {
            // The count of async registrations leaves with their wakers.
            self.waiters.fetch_sub(wakers.len(), Ordering::SeqCst);
        }
        for w in wakers {
            w.wake();
        }
    }

    /// Parks the calling thread until `op` returns `Some` (re-checked after
    /// announcing, so no wake-up is lost).
    #[cold]
    fn park_until<R>(&self, op: &mut impl FnMut() -> Option<R>) -> R {
        loop {
            let key = self.epoch.load();
            self.waiters.fetch_add(1, Ordering::SeqCst);
            let trusted = heavy_barrier();
            if let Some(r) = op() {
                self.waiters.fetch_sub(1, Ordering::SeqCst);
                return r;
            }
            self.sleep(key, trusted);
            self.waiters.fetch_sub(1, Ordering::SeqCst);
            if let Some(r) = op() {
                return r;
            }
        }
    }

    /// Sleeps until the epoch moves from `key`; only for a while if the
    /// barrier pair could not be trusted (`sync::heavy_barrier`), since the
    /// wake-up that the handshake promises may then be missed.
    #[cold]
    fn sleep(&self, key: u32, trusted: bool) {
        #[cfg(not(corelane_loom))]
        if !trusted {
            self.epoch.wait_timeout(key, DEGRADED_RECHECK);
            return;
        }
        let _ = trusted;
        self.epoch.wait(key);
    }

    /// Registers `waker` to be woken at the next notify, then re-checks.
    /// Returns false if the barrier pair could not be trusted: the caller
    /// must then arrange its own re-poll rather than rely on a notify.
    #[cold]
    fn register(&self, waker: &Waker) -> bool {
        let mut wakers = self.wakers.lock();
        if !wakers.iter().any(|w| w.will_wake(waker)) {
            wakers.push(waker.clone());
            self.waiters.fetch_add(1, Ordering::SeqCst);
        }
        drop(wakers);
        heavy_barrier()
    }
}

/// How often a sleeper re-checks on its own once the asymmetric barrier has
/// failed (a degraded mode that costs wake-ups, never correctness).
#[cfg(not(corelane_loom))]
const DEGRADED_RECHECK: std::time::Duration = std::time::Duration::from_millis(1);

/// Runs `op` until it returns `Some`, waiting per `strategy` in between.
#[inline]
pub(crate) fn block_on<R>(
    strategy: WaitStrategy,
    notify: &Notify,
    mut op: impl FnMut() -> Option<R>,
) -> R {
    if let Some(r) = op() {
        return r;
    }
    let mut backoff = Backoff::default();
    loop {
        match strategy {
            WaitStrategy::BusySpin => spin_hint(),
            WaitStrategy::Yield => yield_now(),
            WaitStrategy::Backoff => backoff.snooze(),
            WaitStrategy::Park if backoff.is_completed() => return notify.park_until(&mut op),
            WaitStrategy::Park => backoff.snooze(),
        }
        if let Some(r) = op() {
            return r;
        }
    }
}

/// A future that retries `op` whenever `notify` fires.
pub(crate) struct Retry<'a, F> {
    pub(crate) notify: &'a Notify,
    pub(crate) op: F,
}

impl<R, F: FnMut() -> Option<R> + Unpin> Future for Retry<'_, F> {
    type Output = R;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<R> {
        let this = self.get_mut();
        if let Some(r) = (this.op)() {
            return Poll::Ready(r);
        }
        let trusted = this.notify.register(cx.waker());
        match (this.op)() {
            Some(r) => Poll::Ready(r),
            None => {
                if !trusted {
                    // No notify is promised (degraded barrier): poll again.
                    // So after a failed membarrier a pending async wait
                    // re-polls without sleeping (it costs a core, never a
                    // lost wake-up); parked threads sleep 1 ms at a time.
                    cx.waker().wake_by_ref();
                }
                Poll::Pending
            }
        }
    }
}

/// What a wait loop ([`block_on`], [`Retry`]) needs from an operation's
/// error: whether a later attempt can succeed (the ring was full or empty,
/// or a slot was mid-way through another thread's claim) or the failure is
/// final (the other side is gone), and what the failed attempt hands back
/// to try again with.
///
/// The loops call an operation through [`attempt_with`] (it consumes an
/// input, like a push) or [`attempt`] (it takes nothing, like a pop).
pub(crate) trait Retryable: Sized {
    /// What a failed attempt hands back for the next one: the value a push
    /// could not place, or `()` for an operation that takes nothing.
    type Input;

    /// `Ok(input)` if a later attempt can succeed; `Err(self)` if the
    /// failure is final and ends the wait.
    fn into_retry(self) -> Result<Self::Input, Self>;
}

impl<T> Retryable for PushError<T> {
    type Input = T;

    #[inline]
    fn into_retry(self) -> Result<T, Self> {
        match self {
            PushError::Full(v) | PushError::Busy(v) => Ok(v),
            PushError::Disconnected(_) => Err(self),
        }
    }
}

impl Retryable for PopError {
    type Input = ();

    #[inline]
    fn into_retry(self) -> Result<(), Self> {
        match self {
            PopError::Empty | PopError::Busy => Ok(()),
            PopError::Disconnected => Err(self),
        }
    }
}

/// One attempt of a wait loop, for an operation that consumes its input
/// (a push): takes the input out of `input` and runs `op` on it. `Some` ends
/// the loop (success, or a final error); `None` asks for another attempt,
/// with the input the failure handed back put back into `input`.
///
/// # Panics
///
/// If `input` is empty: the loop ran again after an attempt had ended it.
#[inline]
pub(crate) fn attempt_with<I, T, E: Retryable<Input = I>>(
    input: &mut Option<I>,
    op: impl FnOnce(I) -> Result<T, E>,
) -> Option<Result<T, E>> {
    let taken = input
        .take()
        .expect("corelane: a wait loop ran again after it completed");
    match op(taken) {
        Ok(done) => Some(Ok(done)),
        Err(e) => match e.into_retry() {
            Ok(handed_back) => {
                *input = Some(handed_back);
                None
            }
            Err(e) => Some(Err(e)),
        },
    }
}

/// [`attempt_with`] for an operation that takes nothing (a pop, a read):
/// `None` (wait and try again) for a transient error, `Some` otherwise.
#[inline]
pub(crate) fn attempt<T, E: Retryable<Input = ()>>(outcome: Result<T, E>) -> Option<Result<T, E>> {
    match outcome {
        Ok(done) => Some(Ok(done)),
        Err(e) => match e.into_retry() {
            Ok(()) => None,
            Err(e) => Some(Err(e)),
        },
    }
}

#[cfg(all(test, not(corelane_loom)))]
mod tests {
    use super::*;

    #[test]
    fn attempts_keep_the_value_and_stop_on_final_errors() {
        let mut input = Some(7);
        let full = attempt_with(&mut input, |v| Err::<(), _>(PushError::Full(v)));
        assert!(full.is_none());
        assert_eq!(input, Some(7), "a transient failure hands the value back");
        let gone = attempt_with(&mut input, |v| Err::<(), _>(PushError::Disconnected(v)));
        assert_eq!(gone, Some(Err(PushError::Disconnected(7))));
        assert_eq!(input, None);
        assert_eq!(attempt::<u8, _>(Err(PopError::Busy)), None);
        assert_eq!(attempt::<u8, _>(Err(PopError::Empty)), None);
        assert_eq!(
            attempt::<u8, _>(Err(PopError::Disconnected)),
            Some(Err(PopError::Disconnected))
        );
        assert_eq!(attempt::<u8, PopError>(Ok(1)), Some(Ok(1)));
    }

    #[test]
    fn backoff_completes() {
        let mut b = Backoff::default();
        while !b.is_completed() {
            b.snooze();
        }
    }

    /// With the asymmetric barrier degraded (as after a failed membarrier),
    /// a parked thread still sees the data: by a notify or its own re-check.
    #[cfg(target_os = "linux")]
    #[test]
    fn park_survives_a_failed_barrier() {
        crate::sync::simulate_membarrier_failure();
        assert!(!heavy_barrier());
        let n = std::sync::Arc::new(Notify::new());
        let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (n2, f2) = (n.clone(), flag.clone());
        let t = std::thread::spawn(move || {
            block_on(WaitStrategy::Park, &n2, || {
                f2.load(std::sync::atomic::Ordering::Acquire).then_some(())
            })
        });
        std::thread::sleep(std::time::Duration::from_millis(20));
        // No notify at all: only the timed re-check can find the flag.
        flag.store(true, std::sync::atomic::Ordering::Release);
        t.join().unwrap();
    }

    #[test]
    fn park_wakes_on_notify() {
        let n = std::sync::Arc::new(Notify::new());
        let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (n2, f2) = (n.clone(), flag.clone());
        let t = std::thread::spawn(move || {
            block_on(WaitStrategy::Park, &n2, || {
                f2.load(std::sync::atomic::Ordering::Acquire).then_some(())
            })
        });
        std::thread::sleep(std::time::Duration::from_millis(20));
        flag.store(true, std::sync::atomic::Ordering::Release);
        n.notify();
        t.join().unwrap();
    }
}
