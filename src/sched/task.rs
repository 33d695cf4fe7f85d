//! Task cells (the `async-task` crate), their metadata, the wrapper future
//! that turns panics and aborts into a [`JoinError`], and [`JoinHandle`].
//!
//! # Ground rules
//!
//! 1. **One allocation per spawn**: `async-task` puts the header, the
//!    metadata ([`Meta`]), the schedule function (a plain `fn`, zero-sized)
//!    and the future in one block. Wakers are that block's refcount.
//! 2. **Where a task runs**: `Meta::home` names the core whose queues hold
//!    the task's `Runnable` when it is woken. It changes only when a thief
//!    takes a *scheduled* `Runnable` (the owner cannot be polling it then);
//!    the thief stores its index before it runs the task, and the next wake
//!    happens after that run (async-task's state word orders the two), so a
//!    Relaxed store and load suffice.
//! 3. **`!Send` futures** (`spawn_local`) use `spawn_unchecked`: their
//!    `Runnable` is only ever run or dropped on the home core. Wakes from
//!    other threads carry it home through the inbox; if the home core is
//!    gone the `Runnable` is leaked, never dropped on the wrong thread.
//!    Local tasks are never stolen.
//! 4. **Registry**: the first poll that returns `Pending` registers the
//!    task's waker in the polling core's registry and publishes the slot
//!    in `Meta::reg` (a task that finishes in its first poll never does);
//!    dropping the wrapper (completion, abort, shutdown) deregisters it. At
//!    shutdown each core wakes what its registry holds, so every pending
//!    future is dropped exactly once, on its core.
//! 5. **Abort** is a flag plus a wake. Every poll starts by reading the
//!    flag. The first poll that returns `Pending` publishes `reg` and then
//!    reads the flag again ([`Meta::publish_registration`],
//!    [`Meta::aborted`]); `abort` sets the flag and then reads `reg`
//!    ([`Meta::request_abort`]), each side with a SeqCst fence between its
//!    store and its load: a Dekker pair, as the doorbell's. Either the
//!    wrapper sees the flag right after registering, or `abort` sees the
//!    slot and wakes the task through the registry's core, which leads to
//!    a later poll (whose first load of the flag the inbox hand-over
//!    orders after the flag's store). A task not yet registered is queued
//!    or in its first poll, so a read of the flag is still to come. Fences,
//!    not SeqCst accesses: the guarantee is the same, and loom can check
//!    only the fence form (it treats SeqCst loads and stores as Acquire and
//!    Release). loom models: `loom-tests/tests/sched.rs`, which fail
//!    without either fence (the `PollSkipsFence` and `AbortSkipsFence`
//!    mutants).

use super::inbox::Msg;
use super::remote::{self, Shared};
use super::worker;
use super::Priority;
use crate::sync::{fence, loom_mutant, Arc, AtomicU32, AtomicU64, AtomicU8, Mutex, Ordering};
use std::any::Any;
use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll, Wake, Waker};

/// How a task may move between cores.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    /// `spawn` with stealing on: an idle core may take it.
    Stealable,
    /// `spawn_on`, or `spawn` with stealing off: `Send`, never moves.
    Pinned,
    /// `spawn_local`: `!Send` allowed, never moves, never leaves its thread.
    Local,
}

const ABORT: u8 = 1;
/// `Meta::reg` before the first poll.
const UNREGISTERED: u64 = u64::MAX;

/// What rides in every task's allocation.
pub(crate) struct Meta {
    /// Keeps the runtime's shared half alive while any waker exists (a
    /// late wake must still find the inboxes it pushes into).
    pub(crate) shared: Arc<Shared>,
    /// The core whose queues take this task when it is woken (rule 2).
    home: AtomicU32,
    pub(crate) class: Priority,
    pub(crate) kind: Kind,
    flags: AtomicU8,
    /// `core << 32 | slot` of the registry entry, or `UNREGISTERED`.
    reg: AtomicU64,
    /// When the task last became ready (the scheduler's clock): the start
    /// of its queueing delay.
    ready_at: AtomicU64,
}

impl Meta {
    pub(crate) fn new(shared: Arc<Shared>, home: usize, class: Priority, kind: Kind) -> Meta {
        Meta {
            shared,
            home: AtomicU32::new(home as u32),
            class,
            kind,
            flags: AtomicU8::new(0),
            reg: AtomicU64::new(UNREGISTERED),
            ready_at: AtomicU64::new(0),
        }
    }

    /// Relaxed: rule 2 (the home moves only while the task is scheduled and
    /// not running; async-task's state word orders the store before the
    /// next wake's load).
    #[inline]
    pub(crate) fn home(&self) -> usize {
        self.home.load(Ordering::Relaxed) as usize
    }

    /// See [`Meta::home`].
    #[inline]
    pub(crate) fn set_home(&self, core: usize) {
        self.home.store(core as u32, Ordering::Relaxed);
    }

    /// Relaxed: a statistic (the queueing delay); the Runnable's hand-over
    /// (a queue push/pop, or async-task's state word) orders it anyway.
    #[inline]
    pub(crate) fn mark_ready(&self, now: u64) {
        self.ready_at.store(now, Ordering::Relaxed);
    }

    /// See [`Meta::mark_ready`].
    #[inline]
    pub(crate) fn ready_at(&self) -> u64 {
        self.ready_at.load(Ordering::Relaxed)
    }

    /// Rule 5, the wrapper's first half (its first poll): publish the
    /// registry entry, then fence; [`Meta::aborted`] follows.
    #[inline]
    pub(crate) fn publish_registration(&self, core: u32, slot: u32) {
        // Relaxed: the fence orders it before the flag's load.
        self.reg
            .store((core as u64) << 32 | slot as u64, Ordering::Relaxed);
        // SeqCst fence: the wrapper's half of the Dekker pair with the one
        // in `request_abort`. (`PollSkipsFence`: the loom mutant without it.)
        if !loom_mutant("PollSkipsFence") {
            fence(Ordering::SeqCst);
        }
    }

    /// Whether the task was aborted: rule 5's read of the flag.
    #[inline]
    pub(crate) fn aborted(&self) -> bool {
        // Relaxed: at the first poll the fence in `publish_registration`
        // orders it; at a later one, the hand-over of the wake that
        // `request_abort`'s caller sent orders the flag's store before it.
        self.flags.load(Ordering::Relaxed) & ABORT != 0
    }

    /// Rule 5, `abort`'s half: set the flag, fence, then read the
    /// registration. Returns the `(core, slot)` to wake through, or
    /// `None` if the task was not polled yet (its first poll reads the
    /// flag).
    #[inline]
    pub(crate) fn request_abort(&self) -> Option<(usize, u32)> {
        // Relaxed: the fence orders it before the load of `reg`.
        self.flags.fetch_or(ABORT, Ordering::Relaxed);
        // SeqCst fence: pairs with the one in `publish_registration`.
        // (`AbortSkipsFence`: the loom mutant without it.)
        if !loom_mutant("AbortSkipsFence") {
            fence(Ordering::SeqCst);
        }
        let reg = self.reg.load(Ordering::Relaxed);
        (reg != UNREGISTERED).then_some(((reg >> 32) as usize, reg as u32))
    }
}

pub(crate) type Runnable = async_task::Runnable<Meta>;

/// The future async-task runs: the user's future, with panics caught,
/// the abort flag checked, and the registry entry kept.
pub(crate) struct TaskCell<F: Future> {
    fut: Option<F>,
    /// The metadata of the task this future lives in.
    meta: NonNull<Meta>,
    /// `(core, slot)` of our registry entry.
    reg: Option<(u32, u32)>,
}

impl<F: Future> TaskCell<F> {
    pub(crate) fn new(fut: F, meta: &Meta) -> Self {
        TaskCell {
            fut: Some(fut),
            meta: NonNull::from(meta),
            reg: None,
        }
    }

    fn meta(&self) -> &Meta {
        // async-task drops the future (completion, cancellation) before it
        // frees the allocation that holds the metadata.
        // SAFETY: the metadata shares this future's allocation and outlives it.
        unsafe { self.meta.as_ref() }
    }

    /// Drops the user's future, swallowing a panic from its destructor
    /// (there is nowhere to report it; the task's outcome is already set).
    fn drop_inner(self: Pin<&mut Self>) {
        // SAFETY: we never move the future; `drop_quietly` drops it in
        // place, which pinning allows.
        drop_quietly(unsafe { &mut self.get_unchecked_mut().fut });
    }
}

/// Drops `*slot` in place (`None` afterwards). A panic from the destructor
/// is swallowed and its payload leaked (its own destructor could panic
/// too): async-task drops task futures and outputs under `abort_on_panic`,
/// so a panic escaping there would abort the process.
pub(crate) fn drop_quietly<T>(slot: &mut Option<T>) {
    if slot.is_some() {
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| *slot = None)) {
            std::mem::forget(payload);
        }
    }
}

impl<F: Future> Future for TaskCell<F> {
    type Output = Outcome<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // Aborted before this poll (rule 5).
        if self.meta().aborted() {
            self.as_mut().drop_inner();
            return Poll::Ready(Outcome::cancelled());
        }
        // SAFETY: structural pinning of `fut`: it is never moved out, only
        // dropped in place (`drop_inner`).
        let slot = unsafe { &mut self.as_mut().get_unchecked_mut().fut };
        let fut = match slot {
            // SAFETY: as above; the future stays where it is until dropped.
            Some(f) => unsafe { Pin::new_unchecked(f) },
            // async-task never polls a completed future; be defensive.
            None => return Poll::Pending,
        };
        // A JoinHandle awaited with exactly this waker needs no relay.
        let outer = POLLING.replace(cx.waker().data());
        let polled = catch_unwind(AssertUnwindSafe(|| fut.poll(cx)));
        POLLING.set(outer);
        match polled {
            Ok(Poll::Pending) => {}
            Ok(Poll::Ready(v)) => {
                self.as_mut().drop_inner();
                return Poll::Ready(Outcome(Some(Ok(v))));
            }
            Err(payload) => {
                self.as_mut().drop_inner();
                return Poll::Ready(Outcome(Some(Err(JoinError {
                    repr: Repr::Panic(payload),
                }))));
            }
        }
        // Pending: the task now waits for something, so it must be
        // findable at shutdown and by `abort`. Registered on its first
        // `Pending` only: a task that finishes in its first poll (the
        // common short task) never touches the registry.
        if self.reg.is_none() {
            if let Some((core, slot)) = worker::register(cx.waker()) {
                // SAFETY: `reg` is not structurally pinned (plain data).
                unsafe { self.as_mut().get_unchecked_mut() }.reg = Some((core, slot));
                // Rule 5: publish the entry, then read the flag.
                self.meta().publish_registration(core, slot);
                if self.meta().aborted() {
                    // `abort` may have read `reg` before our store: it
                    // sent no wake-up, so act on the flag now.
                    self.as_mut().drop_inner();
                    return Poll::Ready(Outcome::cancelled());
                }
            }
        }
        Poll::Pending
    }
}

impl<F: Future> Drop for TaskCell<F> {
    fn drop(&mut self) {
        if let Some((core, slot)) = self.reg {
            let shared = &self.meta().shared;
            worker::deregister(shared, core as usize, slot);
        }
        // The user's future, if still there (shutdown, a closed task): in
        // place, and not through the drop glue, whose panic would escape
        // into async-task's `abort_on_panic` (see `drop_quietly`).
        drop_quietly(&mut self.fut);
    }
}

/// A task's result as async-task stores it. async-task drops the result of
/// a detached task inside `Runnable::run`, under `abort_on_panic`; dropping
/// an `Outcome` swallows a panic from the destructor of the value (or of a
/// panic payload), so such a task cannot abort the process.
pub(crate) struct Outcome<T>(Option<Result<T, JoinError>>);

impl<T> Outcome<T> {
    fn cancelled() -> Self {
        Outcome(Some(Err(JoinError {
            repr: Repr::Cancelled,
        })))
    }

    fn into_inner(mut self) -> Result<T, JoinError> {
        self.0.take().expect("an outcome is taken once")
    }
}

impl<T> Drop for Outcome<T> {
    fn drop(&mut self) {
        drop_quietly(&mut self.0);
    }
}

/// The schedule function of every task: a wake lands here, on whatever
/// thread woke the task.
pub(crate) fn schedule(runnable: Runnable, info: async_task::ScheduleInfo) {
    let _ = info.woken_while_running; // a self-wake goes to the back of its queue like any other
    worker::route(runnable);
}

/// Spawns a task cell. `Send`-ness of `F` is the caller's business (see
/// rule 3).
///
/// # Safety
///
/// If `F` is not `Send`, `meta.kind` must be `Kind::Local` and the caller
/// must be on the worker thread of `home`.
pub(crate) unsafe fn cell<F>(fut: F, meta: Meta) -> (Runnable, JoinHandle<F::Output>)
where
    F: Future + 'static,
    F::Output: 'static,
{
    let builder = async_task::Builder::new().metadata(meta);
    // The future borrows the metadata only through a raw pointer that lives
    // as long as the allocation; the schedule function is a plain `fn`.
    // SAFETY: F is 'static; a `!Send` F stays on its thread (rule 3, the
    // caller's contract); the schedule fn is Send + Sync + 'static.
    let (runnable, task) = unsafe {
        builder.spawn_unchecked(
            |m: &Meta| TaskCell::new(fut, m),
            async_task::WithInfo(schedule),
        )
    };
    let meta = NonNull::from(task.metadata());
    (
        runnable,
        JoinHandle {
            task: Some(task.fallible()),
            meta,
            relay: None,
        },
    )
}

/// A handle to a spawned task: await it for the task's output.
///
/// `JoinHandle<T>` is a future of `Result<T, JoinError>`. Dropping it
/// detaches the task (it keeps running; its output is dropped).
/// [`abort`](JoinHandle::abort) cancels the task: its future is dropped on
/// its own core at its next turn, and the handle then yields
/// [`JoinError::is_cancelled`].
///
/// # Examples
///
/// ```
/// use corelane::sched::{self, Priority, Runtime};
///
/// let rt = Runtime::builder().cores([0]).pin(false).build()?;
/// let answer = rt.block_on(async {
///     let h = sched::spawn(Priority::Normal, async { 6 * 7 });
///     h.await.unwrap()
/// });
/// assert_eq!(answer, 42);
/// # Ok::<(), corelane::sched::Error>(())
/// ```
pub struct JoinHandle<T> {
    task: Option<async_task::FallibleTask<Outcome<T>, Meta>>,
    /// The task's metadata (async-task's fallible handle does not lend it).
    meta: NonNull<Meta>,
    /// The awaiter relay, made the first time the handle is polled with a
    /// waker that is not its polling task's own.
    relay: Option<std::sync::Arc<Relay>>,
}

// SAFETY: a `JoinHandle<T>` is async-task's `FallibleTask<Outcome<T>, Meta>`
// (Send when `T: Send`, an `Outcome<T>` being an optional
// `Result<T, JoinError>`; Sync always, because `Meta: Send + Sync`) plus a pointer
// to that task's `Meta`, through which it only makes shared references
// (`Meta` is `Sync`: atomics and immutable fields), and an optional `Arc`
// of a `Relay` (a mutex of a `Waker`: Send and Sync). The pointer stays valid
// while the handle holds its reference on the task (see `JoinHandle::meta`).
// SAFETY: as just argued: Send exactly when async-task's handle is.
unsafe impl<T: Send> Send for JoinHandle<T> {}
// SAFETY: as above: `&JoinHandle` only reaches `is_finished` (async-task's
// `Task` is Sync for every `T`) and `&Meta` (never the relay).
unsafe impl<T> Sync for JoinHandle<T> {}

impl<T> JoinHandle<T> {
    /// Cancels the task. A no-op if it already finished. Its future is
    /// dropped on its core the next time that core gets to it (at once if
    /// the task is idle; after the current poll if it is running); a
    /// task that is aborted before it finishes yields
    /// [`JoinError::is_cancelled`].
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::sched::{self, Priority, Runtime};
    ///
    /// let rt = Runtime::builder().cores([0]).pin(false).build()?;
    /// rt.block_on(async {
    ///     let h = sched::spawn(Priority::Low, std::future::pending::<()>());
    ///     sched::yield_now().await;
    ///     h.abort();
    ///     assert!(h.await.unwrap_err().is_cancelled());
    /// });
    /// # Ok::<(), corelane::sched::Error>(())
    /// ```
    pub fn abort(&self) {
        let Some(task) = &self.task else { return };
        if task.is_finished() {
            return;
        }
        // SAFETY: `self.task` is `Some`: the handle still holds its
        // reference on the task, so the allocation holding `Meta` is alive.
        let meta = unsafe { self.meta.as_ref() };
        // Rule 5: set the flag, then read the registration. Not polled
        // yet: the flag is enough (the first poll reads it).
        if let Some((core, slot)) = meta.request_abort() {
            remote::send(&meta.shared, core, Msg::Abort(slot));
        }
    }

    /// Whether the task has finished (completed, panicked or been
    /// cancelled).
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::sched::{self, Priority, Runtime};
    ///
    /// let rt = Runtime::builder().cores([0]).pin(false).build()?;
    /// rt.block_on(async {
    ///     let h = sched::spawn(Priority::Normal, async {});
    ///     while !h.is_finished() {
    ///         sched::yield_now().await;
    ///     }
    ///     assert!(h.await.is_ok());
    /// });
    /// # Ok::<(), corelane::sched::Error>(())
    /// ```
    pub fn is_finished(&self) -> bool {
        self.task.as_ref().is_none_or(|t| t.is_finished())
    }
}

thread_local! {
    /// The data pointer of the waker of the task this thread is polling
    /// (null when none).
    static POLLING: Cell<*const ()> = const { Cell::new(std::ptr::null()) };
}

/// What a [`JoinHandle`] polled with any other waker than its polling
/// task's own gives async-task as the awaiter. async-task wakes the awaiter
/// inside `Runnable::run` (or the drop of a `Runnable`) on a core, under
/// `abort_on_panic`: a caller's waker whose `wake` (or drop) panics would
/// abort the process there. The relay forwards the wake with the panic
/// swallowed. A task awaiting a handle directly (or through `join!` and the
/// like, which pass its waker on) needs none and pays one thread-local read.
struct Relay(Mutex<Option<Waker>>);

impl Relay {
    fn new() -> Relay {
        Relay(Mutex::new(None))
    }

    /// The waker to forward to (the caller's: its clone and drop run here,
    /// in the caller's context, outside the lock).
    fn set(&self, waker: &Waker) {
        if self.0.lock().as_ref().is_some_and(|w| w.will_wake(waker)) {
            return;
        }
        let new = waker.clone();
        let old = self.0.lock().replace(new);
        drop(old);
    }
}

impl Wake for Relay {
    fn wake(self: std::sync::Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        let w = self.0.lock().take();
        if let Some(w) = w {
            if let Err(payload) = catch_unwind(AssertUnwindSafe(|| w.wake())) {
                std::mem::forget(payload);
            }
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        // The last reference may be async-task's (inside `abort_on_panic`).
        let mut w = self.0.lock().take();
        drop_quietly(&mut w);
    }
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let Some(task) = this.task.as_mut() else {
            panic!("JoinHandle polled after it returned its output");
        };
        let data = cx.waker().data();
        let own = !data.is_null() && POLLING.get() == data;
        let polled = if own {
            Pin::new(task).poll(cx)
        } else {
            let relay = this
                .relay
                .get_or_insert_with(|| std::sync::Arc::new(Relay::new()));
            relay.set(cx.waker());
            let waker = Waker::from(relay.clone());
            Pin::new(task).poll(&mut Context::from_waker(&waker))
        };
        match polled {
            Poll::Pending => Poll::Pending,
            Poll::Ready(out) => {
                self.task = None;
                // `None`: the task's runnable was dropped before it finished
                // (the runtime shut down).
                Poll::Ready(out.map_or_else(
                    || {
                        Err(JoinError {
                            repr: Repr::Cancelled,
                        })
                    },
                    Outcome::into_inner,
                ))
            }
        }
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.detach();
        }
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}

/// Why a task produced no output: it panicked, or it was cancelled
/// ([`JoinHandle::abort`], or the runtime shut down first).
///
/// # Examples
///
/// ```
/// use corelane::sched::{self, Priority, Runtime};
///
/// let rt = Runtime::builder().cores([0]).pin(false).build()?;
/// let err = rt.block_on(async {
///     sched::spawn(Priority::Normal, async { panic!("boom") }).await.unwrap_err()
/// });
/// assert!(err.is_panic());
/// assert_eq!(*err.into_panic().downcast::<&str>().unwrap(), "boom");
/// # Ok::<(), corelane::sched::Error>(())
/// ```
pub struct JoinError {
    repr: Repr,
}

enum Repr {
    Cancelled,
    Panic(Box<dyn Any + Send + 'static>),
}

impl JoinError {
    /// The task was cancelled (aborted, or the runtime shut down).
    ///
    /// # Examples
    ///
    /// See [`JoinHandle::abort`].
    pub fn is_cancelled(&self) -> bool {
        matches!(self.repr, Repr::Cancelled)
    }

    /// The task panicked.
    ///
    /// # Examples
    ///
    /// See [`JoinError`].
    pub fn is_panic(&self) -> bool {
        matches!(self.repr, Repr::Panic(_))
    }

    /// The panic payload (for `std::panic::resume_unwind`).
    ///
    /// # Panics
    ///
    /// If the task was cancelled, not panicked (check
    /// [`is_panic`](JoinError::is_panic) first, or use
    /// [`try_into_panic`](JoinError::try_into_panic)).
    ///
    /// # Examples
    ///
    /// See [`JoinError`].
    pub fn into_panic(self) -> Box<dyn Any + Send + 'static> {
        self.try_into_panic()
            .unwrap_or_else(|_| panic!("JoinError::into_panic on a cancelled task"))
    }

    /// The panic payload, or the error back if the task was cancelled.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::sched::{self, Priority, Runtime};
    ///
    /// let rt = Runtime::builder().cores([0]).pin(false).build()?;
    /// let err = rt.block_on(async {
    ///     sched::spawn(Priority::Normal, async { panic!("boom") }).await.unwrap_err()
    /// });
    /// assert!(err.try_into_panic().is_ok());
    /// # Ok::<(), corelane::sched::Error>(())
    /// ```
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send + 'static>, JoinError> {
        match self.repr {
            Repr::Panic(p) => Ok(p),
            Repr::Cancelled => Err(JoinError {
                repr: Repr::Cancelled,
            }),
        }
    }
}

fn panic_message(p: &(dyn Any + Send)) -> &str {
    if let Some(s) = p.downcast_ref::<&str>() {
        s
    } else if let Some(s) = p.downcast_ref::<String>() {
        s
    } else {
        "a non-string payload"
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Cancelled => f.write_str("task was cancelled"),
            Repr::Panic(p) => write!(f, "task panicked: {}", panic_message(p.as_ref())),
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Cancelled => f.write_str("JoinError::Cancelled"),
            Repr::Panic(p) => write!(f, "JoinError::Panic({:?})", panic_message(p.as_ref())),
        }
    }
}

impl std::error::Error for JoinError {}
