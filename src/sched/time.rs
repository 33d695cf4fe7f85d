//! Time inside the runtime: [`sleep`], [`sleep_until`], [`timeout`] and
//! [`interval`], all on the current core's timer wheel (no timer thread,
//! no lock).
//!
//! A [`Sleep`] registers its waker in the wheel of the core that polls it
//! and remembers the entry's key; dropping it on that core cancels the
//! entry in O(1). A sleep whose task moved to another core (a stolen task)
//! registers again where it runs now and has the old core cancel the old
//! entry through its inbox (keys carry a generation: a late cancel of a
//! fired entry touches nothing).
//!
//! **Never early**: a sleep is ready only when `Instant::now()` has reached
//! its deadline, checked on every poll. The wheel rounds deadlines up to
//! its tick; the loop fires due timers once per tick, so a sleep ends at
//! most one tick plus one loop pass late.

use super::inbox::Msg;
use super::worker::{with_current, Worker};
use super::{NoRuntime, NOT_IN_RUNTIME};
use crate::timer::TimerKey;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// A future that is ready once its deadline has passed; see [`sleep`].
///
/// # Examples
///
/// ```
/// use corelane::sched::{self, Runtime};
/// use std::time::{Duration, Instant};
///
/// let rt = Runtime::builder().cores([0]).pin(false).build()?;
/// rt.block_on(async {
///     let t0 = Instant::now();
///     sched::sleep(Duration::from_millis(2)).await;
///     assert!(t0.elapsed() >= Duration::from_millis(2));
/// });
/// # Ok::<(), corelane::sched::Error>(())
/// ```
#[must_use = "a Sleep does nothing unless awaited"]
pub struct Sleep {
    deadline: Instant,
    /// Our wheel entry.
    entry: Option<Entry>,
}

/// Where a `Sleep`'s wheel entry lives: a core of one runtime.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Entry {
    core: usize,
    key: TimerKey,
    /// The runtime (its shared half's address: identity only).
    rt: usize,
}

fn runtime_id(w: &Worker) -> usize {
    crate::sync::Arc::as_ptr(&w.shared) as usize
}

impl Entry {
    fn is_on(&self, w: &Worker) -> bool {
        self.core == w.index && self.rt == runtime_id(w)
    }
}

impl Sleep {
    fn new(deadline: Instant) -> Sleep {
        Sleep {
            deadline,
            entry: None,
        }
    }

    /// The deadline.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::sched::{self, Runtime};
    /// use std::time::{Duration, Instant};
    ///
    /// let rt = Runtime::builder().cores([0]).pin(false).build()?;
    /// rt.block_on(async {
    ///     let at = Instant::now() + Duration::from_millis(1);
    ///     assert_eq!(sched::sleep_until(at).deadline(), at);
    /// });
    /// # Ok::<(), corelane::sched::Error>(())
    /// ```
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Moves the deadline (the next poll re-registers).
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::sched::{self, Runtime};
    /// use std::time::{Duration, Instant};
    ///
    /// let rt = Runtime::builder().cores([0]).pin(false).build()?;
    /// rt.block_on(async {
    ///     let mut s = sched::sleep(Duration::from_secs(60));
    ///     s.reset(Instant::now() + Duration::from_millis(1));
    ///     s.await;
    /// });
    /// # Ok::<(), corelane::sched::Error>(())
    /// ```
    pub fn reset(&mut self, deadline: Instant) {
        self.deadline = deadline;
        if let Some(e) = self.entry {
            let moved = with_current(|w| e.is_on(w) && w.wheel.borrow_mut().reset(e.key, deadline));
            if moved != Some(true) {
                self.cancel();
            }
        }
    }

    /// Whether the deadline has passed.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::sched::{self, Runtime};
    /// use std::time::Duration;
    ///
    /// let rt = Runtime::builder().cores([0]).pin(false).build()?;
    /// rt.block_on(async {
    ///     assert!(sched::sleep(Duration::ZERO).is_elapsed());
    /// });
    /// # Ok::<(), corelane::sched::Error>(())
    /// ```
    pub fn is_elapsed(&self) -> bool {
        Instant::now() >= self.deadline
    }

    fn cancel(&mut self) {
        if let Some(e) = self.entry.take() {
            let waker = with_current(|w| cancel_entry(w, e)).flatten();
            drop(waker); // outside the wheel's borrow
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() >= self.deadline {
            self.cancel();
            return Poll::Ready(());
        }
        let deadline = self.deadline;
        let entry = self.entry;
        let registered = with_current(|w| {
            if let Some(e) = entry {
                if e.is_on(w) {
                    // No user code (a waker's clone or drop) under the
                    // wheel's borrow: it could reach this wheel.
                    let same = w.wheel.borrow().get(e.key).map(|s| s.will_wake(cx.waker()));
                    if let Some(same) = same {
                        if !same {
                            let new = cx.waker().clone();
                            let old = w
                                .wheel
                                .borrow_mut()
                                .get_mut(e.key)
                                .map(|s| std::mem::replace(s, new));
                            drop(old);
                        }
                        return e;
                    }
                    // Fired (a spurious poll before the deadline by the
                    // real clock): register again below.
                } else {
                    // The task moved (stolen): the old core cancels the
                    // old entry when its inbox gets to it.
                    drop(cancel_entry(w, e));
                }
            }
            let waker = cx.waker().clone();
            let key = w.wheel.borrow_mut().insert(deadline, waker);
            Entry {
                core: w.index,
                key,
                rt: runtime_id(w),
            }
        });
        match registered {
            Some(e) => {
                self.entry = Some(e);
                Poll::Pending
            }
            None => panic!("Sleep polled {NOT_IN_RUNTIME}"),
        }
    }
}

/// Cancels `e` from the worker `w`: in place if it is `w`'s, through the
/// owning core's inbox if another core of the same runtime holds it, not
/// at all if another runtime does (it fires harmlessly: a spurious wake).
fn cancel_entry(w: &Worker, e: Entry) -> Option<std::task::Waker> {
    if e.is_on(w) {
        w.wheel.borrow_mut().cancel(e.key)
    } else {
        if e.rt == runtime_id(w) {
            w.send(e.core, Msg::CancelTimer(e.key));
        }
        None
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.cancel();
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .finish()
    }
}

fn require_runtime(what: &str) {
    if with_current(|_| ()).is_none() {
        panic!("corelane::sched::{what} {NOT_IN_RUNTIME}");
    }
}

/// Waits for `duration` on this core's timer wheel.
///
/// # Panics
///
/// Outside a runtime task ([`try_sleep`] returns an error instead).
///
/// # Examples
///
/// See [`Sleep`].
pub fn sleep(duration: Duration) -> Sleep {
    require_runtime("sleep");
    Sleep::new(
        Instant::now()
            .checked_add(duration)
            .unwrap_or_else(far_future),
    )
}

/// Waits until `deadline` on this core's timer wheel.
///
/// # Panics
///
/// Outside a runtime task ([`try_sleep_until`] returns an error instead).
///
/// # Examples
///
/// See [`Sleep::deadline`].
pub fn sleep_until(deadline: Instant) -> Sleep {
    require_runtime("sleep_until");
    Sleep::new(deadline)
}

/// [`sleep`], or [`NoRuntime`] outside a runtime.
///
/// # Errors
///
/// [`NoRuntime`] when called outside a runtime task.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// assert!(corelane::sched::try_sleep(Duration::from_millis(1)).is_err());
/// ```
pub fn try_sleep(duration: Duration) -> Result<Sleep, NoRuntime> {
    with_current(|_| ()).ok_or(NoRuntime)?;
    Ok(Sleep::new(
        Instant::now()
            .checked_add(duration)
            .unwrap_or_else(far_future),
    ))
}

/// [`sleep_until`], or [`NoRuntime`] outside a runtime.
///
/// # Errors
///
/// [`NoRuntime`] when called outside a runtime task.
///
/// # Examples
///
/// ```
/// assert!(corelane::sched::try_sleep_until(std::time::Instant::now()).is_err());
/// ```
pub fn try_sleep_until(deadline: Instant) -> Result<Sleep, NoRuntime> {
    with_current(|_| ()).ok_or(NoRuntime)?;
    Ok(Sleep::new(deadline))
}

/// `at + d`, or [`far_future`] where that overflows.
fn later(at: Instant, d: Duration) -> Instant {
    at.checked_add(d).unwrap_or_else(far_future)
}

fn far_future() -> Instant {
    // About 30 years: far beyond any wheel horizon, which keeps it in its
    // overflow list.
    Instant::now() + Duration::from_secs(86_400 * 365 * 30)
}

/// The error of [`timeout`]: the deadline passed first.
///
/// # Examples
///
/// See [`timeout`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Elapsed(());

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl std::error::Error for Elapsed {}

/// Runs `fut` until `duration` passes: `Ok(output)` if it finished first,
/// `Err(Elapsed)` otherwise (the future is dropped with the `Timeout`).
///
/// # Panics
///
/// Outside a runtime task ([`try_timeout`] returns an error instead).
///
/// # Examples
///
/// ```
/// use corelane::sched::{self, Runtime};
/// use std::time::Duration;
///
/// let rt = Runtime::builder().cores([0]).pin(false).build()?;
/// rt.block_on(async {
///     let r = sched::timeout(Duration::from_millis(1), std::future::pending::<()>()).await;
///     assert!(r.is_err());
///     assert_eq!(sched::timeout(Duration::from_secs(1), async { 7 }).await, Ok(7));
/// });
/// # Ok::<(), corelane::sched::Error>(())
/// ```
pub fn timeout<F: Future>(duration: Duration, fut: F) -> Timeout<F> {
    Timeout {
        fut,
        sleep: sleep(duration),
    }
}

/// [`timeout`], or [`NoRuntime`] outside a runtime.
///
/// # Errors
///
/// [`NoRuntime`] when called outside a runtime task.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// assert!(corelane::sched::try_timeout(Duration::from_millis(1), async {}).is_err());
/// ```
pub fn try_timeout<F: Future>(duration: Duration, fut: F) -> Result<Timeout<F>, NoRuntime> {
    Ok(Timeout {
        fut,
        sleep: try_sleep(duration)?,
    })
}

/// The future of [`timeout`].
///
/// # Examples
///
/// See [`timeout`].
#[must_use = "a Timeout does nothing unless awaited"]
pub struct Timeout<F> {
    fut: F,
    sleep: Sleep,
}

impl<F: Future> Future for Timeout<F> {
    type Output = Result<F::Output, Elapsed>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: structural pinning: `fut` is never moved out of the
        // pinned `Timeout`; `sleep` is Unpin and not pinned structurally.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: see above (`fut` stays where it is until dropped).
        let fut = unsafe { Pin::new_unchecked(&mut this.fut) };
        if let Poll::Ready(v) = fut.poll(cx) {
            return Poll::Ready(Ok(v));
        }
        match Pin::new(&mut this.sleep).poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(Elapsed(()))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<F> fmt::Debug for Timeout<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeout")
            .field("deadline", &self.sleep.deadline)
            .finish()
    }
}

/// What an [`Interval`] does when ticks were missed (the task was busy or
/// the core overloaded).
///
/// # Examples
///
/// ```
/// use corelane::sched::{self, MissedTickBehavior, Runtime};
/// use std::time::Duration;
///
/// let rt = Runtime::builder().cores([0]).pin(false).build()?;
/// rt.block_on(async {
///     let mut iv = sched::interval(Duration::from_millis(1));
///     iv.set_missed_tick_behavior(MissedTickBehavior::Skip);
///     iv.tick().await;
///     iv.tick().await;
/// });
/// # Ok::<(), corelane::sched::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MissedTickBehavior {
    /// Fire the missed ticks at once, back to back, then keep the original
    /// schedule (the default, as in tokio).
    #[default]
    Burst,
    /// Fire once now and schedule the next tick one period from now.
    Delay,
    /// Fire once now and skip to the next multiple of the period on the
    /// original schedule.
    Skip,
}

/// Ticks every period; see [`interval`].
///
/// # Examples
///
/// See [`MissedTickBehavior`].
#[derive(Debug)]
pub struct Interval {
    next: Instant,
    period: Duration,
    behavior: MissedTickBehavior,
    sleep: Option<Sleep>,
}

impl Interval {
    /// Waits for the next tick and returns its scheduled instant.
    ///
    /// # Examples
    ///
    /// See [`MissedTickBehavior`].
    pub async fn tick(&mut self) -> Instant {
        std::future::poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// The poll form of [`tick`](Interval::tick).
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::sched::{self, Runtime};
    /// use std::time::Duration;
    ///
    /// let rt = Runtime::builder().cores([0]).pin(false).build()?;
    /// rt.block_on(async {
    ///     let mut iv = sched::interval(Duration::from_millis(1));
    ///     std::future::poll_fn(|cx| iv.poll_tick(cx)).await;
    /// });
    /// # Ok::<(), corelane::sched::Error>(())
    /// ```
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        let sleep = self.sleep.get_or_insert_with(|| Sleep::new(self.next));
        if Pin::new(&mut *sleep).poll(cx).is_pending() {
            return Poll::Pending;
        }
        let fired = self.next;
        let now = Instant::now();
        // Checked: a huge period (`Duration::MAX` as "never again") would
        // overflow `Instant + Duration`.
        let mut next = later(fired, self.period);
        if next <= now {
            next = match self.behavior {
                MissedTickBehavior::Burst => next,
                MissedTickBehavior::Delay => later(now, self.period),
                MissedTickBehavior::Skip => {
                    let behind = now.duration_since(fired).as_nanos();
                    let p = self.period.as_nanos().max(1);
                    let periods = behind / p + 1;
                    later(
                        fired,
                        Duration::from_nanos((p * periods).min(u64::MAX as u128) as u64),
                    )
                }
            };
        }
        self.next = next;
        sleep.reset(next);
        Poll::Ready(fired)
    }

    /// Sets what happens to missed ticks.
    ///
    /// # Examples
    ///
    /// See [`MissedTickBehavior`].
    pub fn set_missed_tick_behavior(&mut self, behavior: MissedTickBehavior) {
        self.behavior = behavior;
    }

    /// The period.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::sched::{self, Runtime};
    /// use std::time::Duration;
    ///
    /// let rt = Runtime::builder().cores([0]).pin(false).build()?;
    /// rt.block_on(async {
    ///     assert_eq!(sched::interval(Duration::from_millis(5)).period(), Duration::from_millis(5));
    /// });
    /// # Ok::<(), corelane::sched::Error>(())
    /// ```
    pub fn period(&self) -> Duration {
        self.period
    }
}

/// A ticker: the first tick is immediate, then one every `period`.
///
/// # Panics
///
/// Outside a runtime task ([`try_interval`] returns an error instead), or
/// if `period` is zero.
///
/// # Examples
///
/// See [`MissedTickBehavior`].
pub fn interval(period: Duration) -> Interval {
    require_runtime("interval");
    try_interval(period).expect("checked above")
}

/// [`interval`], or [`NoRuntime`] outside a runtime.
///
/// # Errors
///
/// [`NoRuntime`] when called outside a runtime task.
///
/// # Panics
///
/// If `period` is zero.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// assert!(corelane::sched::try_interval(Duration::from_millis(1)).is_err());
/// ```
pub fn try_interval(period: Duration) -> Result<Interval, NoRuntime> {
    assert!(
        !period.is_zero(),
        "corelane::sched::interval: the period must be non-zero"
    );
    with_current(|_| ()).ok_or(NoRuntime)?;
    Ok(Interval {
        next: Instant::now(),
        period,
        behavior: MissedTickBehavior::Burst,
        sleep: None,
    })
}
