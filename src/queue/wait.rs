//! Wait strategies for the blocking calls, and the wake-up handshake behind
//! them.
//!
//! # Ground rules (the eventcount)
//!
//! Every ring has two `Notify` cells: `items` (consumers wait here for
//! data) and `space` (producers wait here for room). A waiter never sleeps
//! unless it has *announced* itself and then *re-checked* the ring; a
//! publisher checks for announced waiters after every push or pop. The
//! barrier pair between the two is asymmetric while waits are rare (the
//! publisher's half a compiler fence, the waiter's `membarrier(2)`: the
//! technique of liburcu and folly's `asymmetricLightBarrier`) and switches
//! to a symmetric pair of fences once waits are frequent. The protocol, the
//! switch and why no wake-up is lost are the ground rules of `notify.rs`,
//! each proved by a loom model in `loom-tests/`.
//!
//! The publisher's half is the hot path: with nobody waiting (and no switch)
//! it costs one load of a read-mostly cache line and a compiler fence.
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
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

pub(crate) use super::notify::Notify;
use super::{Disconnected, PopError, PopTimeoutError, PushError, PushTimeoutError};
use crate::sync::{spin_hint, yield_now};

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
/// compiler fence and one load of a read-mostly line while waits are rare;
/// once they are frequent (a stream that fills and drains), a full fence
/// per publish instead of a `membarrier(2)` per wait (see the module docs).
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
#[derive(Debug)]
pub(crate) struct Backoff {
    step: u32,
    /// Steps that spin; [`Backoff::SPIN_STEPS`] unless a cell's history
    /// says spinning does not pay there ([`Backoff::spinning`]).
    spin_steps: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::spinning(Self::SPIN_STEPS)
    }
}

impl Backoff {
    // Under loom every spin is a scheduling point: shrink the ladder so the
    // models stay small (the protocol does not depend on these numbers).
    /// Steps that spin (`2^step` hints each) before steps start yielding.
    #[cfg(not(corelane_loom))]
    pub(crate) const SPIN_STEPS: u32 = 7;
    #[cfg(not(corelane_loom))]
    const YIELD_LIMIT: u32 = 10;
    #[cfg(corelane_loom)]
    pub(crate) const SPIN_STEPS: u32 = 1;
    #[cfg(corelane_loom)]
    const YIELD_LIMIT: u32 = 1;

    /// A backoff whose first `spin_steps` steps spin (at most
    /// [`Backoff::SPIN_STEPS`]), the rest up to the limit yield.
    #[inline]
    pub(crate) fn spinning(spin_steps: u32) -> Self {
        Backoff {
            step: 0,
            spin_steps: spin_steps.min(Self::SPIN_STEPS),
        }
    }

    /// Waits a little longer than last time.
    #[inline]
    pub(crate) fn snooze(&mut self) {
        if self.step < self.spin_steps {
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

    /// True while every snooze so far has spun (none has yielded).
    #[inline]
    pub(crate) fn only_spun(&self) -> bool {
        self.step <= self.spin_steps
    }
}

/// Which try of a wait loop an operation is making: one that more
/// spinning may follow ([`Phase::Spinning`]), or the re-check after the
/// waiter announced itself to the cell ([`Phase::Announced`]): if that one
/// fails, the wait sleeps (or the task stays pending) until a notify.
///
/// The rings ignore it (their publishers always run the cell's notify
/// half). An operation whose publisher notifies only the waiters it can
/// see, by a flag in the word it changes anyway (the session line's
/// `WAIT` bits), raises that flag on an `Announced` try only, and
/// re-checks what the raising RMW returned: so a wait that spins never
/// costs the publisher a look at the cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// More tries may follow without an announcement.
    Spinning,
    /// The try after announcing: if it fails, the wait sleeps.
    Announced,
}

/// Runs `op` until it returns `Some`, waiting per `strategy` in between.
#[inline]
pub(crate) fn block_on<R>(
    strategy: WaitStrategy,
    notify: &Notify,
    mut op: impl FnMut() -> Option<R>,
) -> R {
    block_on_phased(strategy, notify, |_| op())
}

/// [`block_on`] telling `op` which [`Phase`] each try is in.
#[inline]
pub(crate) fn block_on_phased<R>(
    strategy: WaitStrategy,
    notify: &Notify,
    mut op: impl FnMut(Phase) -> Option<R>,
) -> R {
    if let Some(r) = op(Phase::Spinning) {
        return r;
    }
    if strategy == WaitStrategy::Park {
        return match spin_before_parking(notify, &mut || op(Phase::Spinning), || false) {
            Some(r) => r,
            None => notify.park_until(&mut || op(Phase::Announced)),
        };
    }
    let mut backoff = Backoff::default();
    loop {
        match strategy {
            WaitStrategy::BusySpin => spin_hint(),
            WaitStrategy::Yield => yield_now(),
            WaitStrategy::Backoff | WaitStrategy::Park => backoff.snooze(),
        }
        if let Some(r) = op(Phase::Spinning) {
            return r;
        }
    }
}

/// `Park`'s first phase: spins (as long as spinning has lately paid off on
/// this cell: [`Notify::park_spin_steps`]), then yields, retrying `op`
/// after each pause, until `op` returns `Some` (then `Some`), the backoff
/// completes, or `give_up` says so (then `None`: park, or time out).
///
/// A spin on a CPU shared with the thread it waits for only delays that
/// thread (three busy threads on two CPUs, say): a wait that ends only once
/// it yields suggests so, and the cell's next waits spin less (down to one
/// step); one that ends while spinning makes them spin more again. A wait
/// that has to park says neither (the other side was asleep, or slow).
#[inline]
fn spin_before_parking<R>(
    notify: &Notify,
    op: &mut impl FnMut() -> Option<R>,
    mut give_up: impl FnMut() -> bool,
) -> Option<R> {
    let mut backoff = Backoff::spinning(notify.park_spin_steps());
    while !backoff.is_completed() && !give_up() {
        backoff.snooze();
        if let Some(r) = op() {
            notify.park_spin_paid(backoff.only_spun());
            return Some(r);
        }
    }
    None
}

/// [`block_on`] that gives up once `deadline` has passed (`None`). `op` is
/// tried at least once, even with a deadline already in the past.
pub(crate) fn block_until<R>(
    strategy: WaitStrategy,
    notify: &Notify,
    deadline: Instant,
    mut op: impl FnMut() -> Option<R>,
) -> Option<R> {
    block_until_phased(strategy, notify, deadline, |_| op())
}

/// [`block_until`] telling `op` which [`Phase`] each try is in.
pub(crate) fn block_until_phased<R>(
    strategy: WaitStrategy,
    notify: &Notify,
    deadline: Instant,
    mut op: impl FnMut(Phase) -> Option<R>,
) -> Option<R> {
    if let Some(r) = op(Phase::Spinning) {
        return Some(r);
    }
    if strategy == WaitStrategy::Park {
        let timed_out = || Instant::now() >= deadline;
        return match spin_before_parking(notify, &mut || op(Phase::Spinning), timed_out) {
            Some(r) => Some(r),
            None if timed_out() => None,
            None => notify.park_until_deadline(&mut || op(Phase::Announced), deadline),
        };
    }
    let mut backoff = Backoff::default();
    loop {
        if Instant::now() >= deadline {
            return None;
        }
        match strategy {
            WaitStrategy::BusySpin => spin_hint(),
            WaitStrategy::Yield => yield_now(),
            WaitStrategy::Backoff | WaitStrategy::Park => backoff.snooze(),
        }
        if let Some(r) = op(Phase::Spinning) {
            return Some(r);
        }
    }
}

/// `now + timeout`, or `None` when that is too far to represent (the caller
/// then waits without a deadline).
pub(crate) fn deadline_after(timeout: Duration) -> Option<Instant> {
    Instant::now().checked_add(timeout)
}

/// The blocking push every ring offers: retries `push` per `strategy`
/// until it succeeds or the other side is gone.
#[inline]
pub(crate) fn push_blocking<T>(
    strategy: WaitStrategy,
    notify: &Notify,
    value: T,
    mut push: impl FnMut(T) -> Result<(), PushError<T>>,
) -> Result<(), Disconnected<T>> {
    let mut value = Some(value);
    block_on(strategy, notify, || attempt_with(&mut value, &mut push))
        .map_err(|e| Disconnected(e.into_inner()))
}

/// The blocking pop every ring offers.
#[inline]
pub(crate) fn pop_blocking<T>(
    strategy: WaitStrategy,
    notify: &Notify,
    mut pop: impl FnMut() -> Result<T, PopError>,
) -> Result<T, Disconnected> {
    block_on(strategy, notify, || attempt(pop())).map_err(|_| Disconnected(()))
}

/// [`push_blocking`] with a deadline (`None`: no deadline).
pub(crate) fn push_until<T>(
    strategy: WaitStrategy,
    notify: &Notify,
    deadline: Option<Instant>,
    value: T,
    mut push: impl FnMut(T) -> Result<(), PushError<T>>,
) -> Result<(), PushTimeoutError<T>> {
    let Some(deadline) = deadline else {
        return push_blocking(strategy, notify, value, push).map_err(Into::into);
    };
    let mut value = Some(value);
    match block_until(strategy, notify, deadline, || {
        attempt_with(&mut value, &mut push)
    }) {
        Some(Ok(())) => Ok(()),
        Some(Err(e)) => Err(PushTimeoutError::Disconnected(e.into_inner())),
        None => Err(PushTimeoutError::Timeout(
            value
                .take()
                .expect("corelane: a timed-out push keeps its value"),
        )),
    }
}

/// [`pop_blocking`] with a deadline (`None`: no deadline).
pub(crate) fn pop_until<T>(
    strategy: WaitStrategy,
    notify: &Notify,
    deadline: Option<Instant>,
    mut pop: impl FnMut() -> Result<T, PopError>,
) -> Result<T, PopTimeoutError> {
    let Some(deadline) = deadline else {
        return pop_blocking(strategy, notify, pop).map_err(Into::into);
    };
    match block_until(strategy, notify, deadline, || attempt(pop())) {
        Some(Ok(v)) => Ok(v),
        Some(Err(_)) => Err(PopTimeoutError::Disconnected),
        None => Err(PopTimeoutError::Timeout),
    }
}

/// One poll of an async wait: tries `op`, and if it must wait registers the
/// task's waker with `notify` and tries once more (so no wake-up is lost).
#[inline]
pub(crate) fn poll_retry<R>(
    notify: &Notify,
    cx: &mut Context<'_>,
    mut op: impl FnMut() -> Option<R>,
) -> Poll<R> {
    poll_retry_phased(notify, cx, |_| op())
}

/// [`poll_retry`] telling `op` which [`Phase`] each try is in.
#[inline]
pub(crate) fn poll_retry_phased<R>(
    notify: &Notify,
    cx: &mut Context<'_>,
    mut op: impl FnMut(Phase) -> Option<R>,
) -> Poll<R> {
    if let Some(r) = op(Phase::Spinning) {
        notify.async_progress();
        return Poll::Ready(r);
    }
    if notify.async_spin() {
        // The other side is likely about to move (a wait just ended here
        // a moment ago): re-poll at the back of the executor's queue
        // instead of announcing (a barrier) and sleeping.
        cx.waker().wake_by_ref();
        return Poll::Pending;
    }
    let trusted = notify.register(cx.waker());
    match op(Phase::Announced) {
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

/// The `poll_pop` every ring offers: `Ready(Ok)` with an item, `Ready(Err)`
/// once the ring is drained and every producer is gone, else `Pending`
/// with the task's waker registered.
#[inline]
pub(crate) fn poll_pop<T>(
    notify: &Notify,
    cx: &mut Context<'_>,
    mut pop: impl FnMut() -> Result<T, PopError>,
) -> Poll<Result<T, Disconnected>> {
    poll_retry(notify, cx, || attempt(pop())).map(|r| r.map_err(|_| Disconnected(())))
}

/// The future `send(value)` returns on every ring: it owns `value` until the
/// push completes.
///
/// Cancel safety: dropping a pending `SendFuture` drops the value with it.
/// It is [`Unpin`], so it can be polled by reference (`&mut fut` in
/// `select!`) and the value taken back with [`cancel`](Self::cancel) if
/// another branch won.
///
/// # Examples
///
/// ```
/// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// # rt.block_on(async {
/// use corelane::queue::spsc;
///
/// let (mut tx, mut rx) = spsc::channel::<u32>(1);
/// tx.push(1).unwrap();
/// let mut send = tx.send(2);
/// // Not completed (the ring is full): take the value back.
/// let poll = futures_util::poll!(&mut send);
/// assert!(poll.is_pending());
/// assert_eq!(send.cancel(), Some(2));
/// # drop(send);
/// assert_eq!(rx.recv().await, Ok(1));
/// # });
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct SendFuture<'a, T, F> {
    notify: &'a Notify,
    value: Option<T>,
    push: F,
}

impl<'a, T, F> SendFuture<'a, T, F>
where
    F: FnMut(T) -> Result<(), PushError<T>>,
{
    pub(crate) fn new(notify: &'a Notify, value: T, push: F) -> Self {
        SendFuture {
            notify,
            value: Some(value),
            push,
        }
    }

    /// Takes the value back if it has not been pushed: `Some(value)` while
    /// the future is pending (it will then never push), `None` once it has
    /// completed (the value is in the ring, or was handed back in
    /// [`Disconnected`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, _rx) = corelane::queue::spsc::channel::<u8>(1);
    /// tx.push(0).unwrap();
    /// let mut send = tx.send(9);
    /// assert_eq!(send.cancel(), Some(9));
    /// ```
    pub fn cancel(&mut self) -> Option<T> {
        self.value.take()
    }
}

// Never pinned through: the value is moved in and out by `&mut`.
impl<T, F: Unpin> Unpin for SendFuture<'_, T, F> {}

impl<T, F> std::fmt::Debug for SendFuture<'_, T, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SendFuture")
            .field("pending", &self.value.is_some())
            .finish()
    }
}

impl<T, F> Future for SendFuture<'_, T, F>
where
    F: FnMut(T) -> Result<(), PushError<T>> + Unpin,
{
    type Output = Result<(), Disconnected<T>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        assert!(
            this.value.is_some(),
            "corelane: SendFuture polled after it completed or was cancelled"
        );
        let (value, push) = (&mut this.value, &mut this.push);
        poll_retry(this.notify, cx, || attempt_with(value, &mut *push))
            .map(|r| r.map_err(|e| Disconnected(e.into_inner())))
    }
}

/// What a wait loop ([`block_on`], [`poll_retry`]) needs from an operation's
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
        assert!(!crate::sync::heavy_barrier());
        let n = std::sync::Arc::new(Notify::new());
        let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (n2, f2) = (n.clone(), flag.clone());
        let t = std::thread::spawn(move || {
            block_on(WaitStrategy::Park, &n2, || {
                // Acquire: pairs with the Release store of the flag, as a
                // ring's consumer pairs with its producer's publication.
                f2.load(std::sync::atomic::Ordering::Acquire).then_some(())
            })
        });
        std::thread::sleep(std::time::Duration::from_millis(20));
        // No notify at all: only the timed re-check can find the flag.
        // Release: pairs with the waiter's Acquire load.
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
                // Acquire: pairs with the Release store below; the StoreLoad
                // handshake itself is the cell's (its barriers), not this.
                f2.load(std::sync::atomic::Ordering::Acquire).then_some(())
            })
        });
        std::thread::sleep(std::time::Duration::from_millis(20));
        // Release: pairs with the waiter's Acquire load; then `notify`, as
        // a producer publishes before it notifies.
        flag.store(true, std::sync::atomic::Ordering::Release);
        n.notify();
        t.join().unwrap();
    }
}
