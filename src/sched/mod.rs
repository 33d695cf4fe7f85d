//! A thread-per-core async runtime with strict priority classes.
//!
//! One pinned thread per core (one per physical core of the process mask
//! by default, through [`topology`](crate::topology)). Each core has, per
//! [`Priority`] class, a local run queue (no atomics) and a stealable
//! queue (a corelane `spmc` ring: the core pushes with a plain store, it
//! and idle cores pop by CAS; a thief takes half, nearest cache first);
//! one inbox (a corelane `mpsc` ring) for spawns and wakes from
//! other threads, with an eventfd doorbell rung only when the core sleeps;
//! and a [`timer::Wheel`](crate::timer::Wheel) the loop drives (no timer
//! thread). Tasks are `async-task` cells: one allocation per spawn, none
//! per wake.
//!
//! **Strict priority.** Each pass of a core's loop drains its inbox (a
//! remote `High` wake lands in the `High` queue, not behind local work),
//! fires due timers, then polls one task of the highest non-empty class. A
//! ready task of a lower class waits at most the
//! [starvation bound](Builder::starvation_bound) (default 1 ms) before it
//! gets one poll. Scheduling is cooperative: a long computation calls
//! [`yield_if_needed`], which yields only when a higher class is ready or
//! the task has run past its [quantum](Builder::quantum) (default 50 µs).
//!
//! | call | where the task runs |
//! |---|---|
//! | [`spawn`] | this core; an idle core may steal it (`Send` futures) |
//! | [`spawn_local`] | this core, always (`!Send` futures allowed) |
//! | [`spawn_on`], [`Runtime::spawn_on`] | the given core, always |
//!
//! Inside a task: [`sleep`], [`sleep_until`], [`timeout`], [`interval`],
//! [`yield_now`], [`yield_if_needed`], [`current_core`]. Called outside a
//! runtime they panic with a message saying so; the `try_` forms return
//! [`NoRuntime`].
//!
//! # Examples
//!
//! ```
//! use corelane::sched::{self, Priority, Runtime};
//! use std::time::Duration;
//!
//! let rt = Runtime::builder().cores([0]).pin(false).build()?;
//! let out = rt.block_on(async {
//!     let md = sched::spawn(Priority::High, async { "tick" });
//!     let log = sched::spawn(Priority::Low, async {
//!         sched::sleep(Duration::from_millis(1)).await;
//!         "flushed"
//!     });
//!     (md.await.unwrap(), log.await.unwrap())
//! });
//! assert_eq!(out, ("tick", "flushed"));
//! # Ok::<(), corelane::sched::Error>(())
//! ```

mod builder;
mod clock;
pub(crate) mod inbox;
/// The scheduler's protocols for the loom models (loom builds only).
#[cfg(corelane_loom)]
#[doc(hidden)]
pub mod loom_hooks;
pub(crate) mod park;
mod registry;
mod remote;
mod runtime;
pub(crate) mod stats;
mod task;
mod time;
mod worker;

#[cfg(test)]
mod tests;

pub use builder::{Builder, Error, Idle};
pub use runtime::{Handle, Runtime, ShutdownTimeout, SpawnError};
pub use stats::{ClassStats, CoreStats, IoStats, RingSetup, Stats};
pub use task::{JoinError, JoinHandle};
pub use time::{
    interval, sleep, sleep_until, timeout, try_interval, try_sleep, try_sleep_until, try_timeout,
    Elapsed, Interval, MissedTickBehavior, Sleep, Timeout,
};

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use task::Kind;
use worker::with_current;

/// Number of priority classes.
pub const CLASSES: usize = 3;

pub(crate) const NOT_IN_RUNTIME: &str =
    "called outside a corelane::sched runtime (this thread is not one of its cores)";

/// A task's class. Classes are strict: a core polls a `Normal` task only
/// when no `High` task is ready, and a `Low` one only when neither is
/// (up to the starvation bound).
///
/// # Examples
///
/// ```
/// use corelane::sched::Priority;
///
/// assert!(Priority::High < Priority::Normal && Priority::Normal < Priority::Low);
/// assert_eq!(Priority::Low.index(), 2);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    /// Latency first: market data, order entry.
    High = 0,
    /// The default class of [`Runtime::block_on`].
    Normal = 1,
    /// Background: journaling, statistics, housekeeping.
    Low = 2,
}

impl Priority {
    /// Every class, highest first.
    pub const ALL: [Priority; CLASSES] = [Priority::High, Priority::Normal, Priority::Low];

    /// The class's index (0 = highest), as used in [`CoreStats::classes`].
    ///
    /// # Examples
    ///
    /// See [`Priority`].
    pub const fn index(self) -> usize {
        self as usize
    }

    pub(crate) fn from_index(i: usize) -> Priority {
        Priority::ALL[i]
    }
}

/// The error of the `try_` functions: not on a runtime core.
///
/// # Examples
///
/// ```
/// use corelane::sched::{self, NoRuntime, Priority};
///
/// assert_eq!(sched::try_current_core(), Err(NoRuntime));
/// assert!(sched::try_spawn(Priority::Low, async {}).is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoRuntime;

impl fmt::Display for NoRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(NOT_IN_RUNTIME)
    }
}

impl std::error::Error for NoRuntime {}

fn outside(what: &str) -> ! {
    panic!("corelane::sched::{what} {NOT_IN_RUNTIME}")
}

/// Spawns a `Send` task on this core. An idle core may steal it (unless
/// the runtime was built with `.stealing(false)`).
///
/// # Panics
///
/// Outside a runtime task ([`try_spawn`] returns an error instead).
///
/// # Examples
///
/// See the [module](self) docs.
pub fn spawn<F>(class: Priority, fut: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    try_spawn(class, fut).unwrap_or_else(|_| outside("spawn"))
}

/// [`spawn`], or [`NoRuntime`] outside a runtime.
///
/// # Errors
///
/// [`NoRuntime`] when called outside a runtime task.
///
/// # Examples
///
/// See [`NoRuntime`].
pub fn try_spawn<F>(class: Priority, fut: F) -> Result<JoinHandle<F::Output>, NoRuntime>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    with_current(|w| w.spawn(class, Kind::Stealable, fut)).ok_or(NoRuntime)
}

/// Spawns a task on this core that never moves: its future need not be
/// `Send`.
///
/// # Panics
///
/// Outside a runtime task ([`try_spawn_local`] returns an error instead).
///
/// # Examples
///
/// ```
/// use corelane::sched::{self, Priority, Runtime};
/// use std::rc::Rc;
///
/// let rt = Runtime::builder().cores([0]).pin(false).build()?;
/// let n = rt.block_on(async {
///     let shared = Rc::new(5); // !Send
///     let h = sched::spawn_local(Priority::Normal, async move { *shared + 1 });
///     h.await.unwrap()
/// });
/// assert_eq!(n, 6);
/// # Ok::<(), corelane::sched::Error>(())
/// ```
pub fn spawn_local<F>(class: Priority, fut: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    try_spawn_local(class, fut).unwrap_or_else(|_| outside("spawn_local"))
}

/// [`spawn_local`], or [`NoRuntime`] outside a runtime.
///
/// # Errors
///
/// [`NoRuntime`] when called outside a runtime task.
///
/// # Examples
///
/// ```
/// assert!(corelane::sched::try_spawn_local(corelane::sched::Priority::Low, async {}).is_err());
/// ```
pub fn try_spawn_local<F>(class: Priority, fut: F) -> Result<JoinHandle<F::Output>, NoRuntime>
where
    F: Future + 'static,
    F::Output: 'static,
{
    with_current(|w| w.spawn(class, Kind::Local, fut)).ok_or(NoRuntime)
}

/// Spawns a `Send` task on core `core` of this runtime; it never moves.
///
/// # Panics
///
/// Outside a runtime task ([`try_spawn_on`] returns an error instead), or
/// if `core` is not a core index.
///
/// # Examples
///
/// ```
/// use corelane::sched::{self, Priority, Runtime};
///
/// let rt = Runtime::builder().cores([0]).pin(false).build()?;
/// let core = rt.block_on(async {
///     sched::spawn_on(0, Priority::High, async { sched::current_core() }).await.unwrap()
/// });
/// assert_eq!(core, 0);
/// # Ok::<(), corelane::sched::Error>(())
/// ```
pub fn spawn_on<F>(core: usize, class: Priority, fut: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    match try_spawn_on(core, class, fut) {
        Ok(h) => h,
        Err(_) => outside("spawn_on"),
    }
}

/// [`spawn_on`], or [`NoRuntime`] outside a runtime.
///
/// # Errors
///
/// [`NoRuntime`] when called outside a runtime task.
///
/// # Panics
///
/// If `core` is not a core index.
///
/// # Examples
///
/// ```
/// assert!(corelane::sched::try_spawn_on(0, corelane::sched::Priority::Low, async {}).is_err());
/// ```
pub fn try_spawn_on<F>(
    core: usize,
    class: Priority,
    fut: F,
) -> Result<JoinHandle<F::Output>, NoRuntime>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let shared = with_current(|w| w.shared.clone()).ok_or(NoRuntime)?;
    match runtime::spawn_remote(&shared, core, class, fut) {
        Ok(h) => Ok(h),
        Err(e) => panic!("corelane::sched::spawn_on: {e}"),
    }
}

/// The index of the core this task runs on.
///
/// # Panics
///
/// Outside a runtime task ([`try_current_core`] returns an error instead).
///
/// # Examples
///
/// See [`spawn_on`].
pub fn current_core() -> usize {
    try_current_core().unwrap_or_else(|_| outside("current_core"))
}

/// [`current_core`], or [`NoRuntime`] outside a runtime.
///
/// # Errors
///
/// [`NoRuntime`] when called outside a runtime task.
///
/// # Examples
///
/// See [`NoRuntime`].
pub fn try_current_core() -> Result<usize, NoRuntime> {
    with_current(|w| w.index).ok_or(NoRuntime)
}

/// Yields once: the task goes to the back of its class's queue.
///
/// Works under any executor (it wakes itself and returns `Pending` once).
///
/// # Examples
///
/// See [`JoinHandle::is_finished`].
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// The future of [`yield_now`].
///
/// # Examples
///
/// See [`JoinHandle::is_finished`].
#[derive(Debug)]
#[must_use = "a YieldNow does nothing unless awaited"]
pub struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Yields only when it should: a higher class has a ready task on this
/// core (remote wakes included), or this task has run past its quantum.
/// Otherwise it returns at once (a clock read and a few loads). Call it
/// in long computations so `High` work never waits behind them.
///
/// # Examples
///
/// ```
/// use corelane::sched::{self, Priority, Runtime};
///
/// let rt = Runtime::builder().cores([0]).pin(false).build()?;
/// let total = rt.block_on(async {
///     let mut total = 0u64;
///     for i in 0..100_000u64 {
///         total = total.wrapping_add(i * i);
///         if i % 1024 == 0 {
///             sched::yield_if_needed().await;
///         }
///     }
///     total
/// });
/// assert!(total > 0);
/// # Ok::<(), corelane::sched::Error>(())
/// ```
pub fn yield_if_needed() -> YieldIfNeeded {
    YieldIfNeeded { yielded: false }
}

/// The future of [`yield_if_needed`].
///
/// # Examples
///
/// See [`yield_if_needed`].
#[derive(Debug)]
#[must_use = "a YieldIfNeeded does nothing unless awaited"]
pub struct YieldIfNeeded {
    yielded: bool,
}

impl Future for YieldIfNeeded {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded || with_current(|w| w.should_yield()) != Some(true) {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
