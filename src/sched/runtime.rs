//! [`Runtime`]: the running cores, and what the outside world does with
//! them (block on a future, spawn onto a core, read statistics, shut down).

use super::builder::{spawn_threads, Builder, Error};
use super::inbox::Msg;
use super::remote::{self, Shared};
use super::stats::Stats;
use super::task::{self, JoinHandle, Kind, Meta};
use super::worker::{with_current, Parts};
use super::Priority;
use crate::sync::{Arc, Ordering};
use crate::topology::CpuId;
use std::fmt;
use std::future::Future;
use std::sync::{Condvar, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

/// A thread-per-core runtime: one pinned thread per core, each with its
/// own priority run queues, inbox ring, timer wheel and stealable queue.
///
/// # Examples
///
/// ```
/// use corelane::sched::{self, Priority, Runtime};
///
/// let rt = Runtime::builder().cores([0]).pin(false).build()?;
/// let sum = rt.block_on(async {
///     let a = sched::spawn(Priority::High, async { 1 });
///     let b = sched::spawn_local(Priority::Low, async { 2 });
///     a.await.unwrap() + b.await.unwrap()
/// });
/// assert_eq!(sum, 3);
/// rt.shutdown(std::time::Duration::from_secs(1)).unwrap();
/// # Ok::<(), corelane::sched::Error>(())
/// ```
pub struct Runtime {
    handle: Handle,
    threads: Vec<std::thread::JoinHandle<()>>,
    exit: std::sync::Arc<Exit>,
    cpus: Vec<CpuId>,
    pinned: bool,
}

/// Counts live core threads so `shutdown` can wait with a timeout.
pub(crate) struct Exit {
    alive: Mutex<usize>,
    cv: Condvar,
}

pub(crate) struct ExitGuard(std::sync::Arc<Exit>);

impl Exit {
    pub(crate) fn guard(self: &std::sync::Arc<Self>) -> ExitGuard {
        *self.alive.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        ExitGuard(self.clone())
    }
}

impl Drop for ExitGuard {
    fn drop(&mut self) {
        *self.0.alive.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
        self.0.cv.notify_all();
    }
}

impl Runtime {
    /// A [`Builder`] with the defaults.
    ///
    /// # Examples
    ///
    /// See [`Runtime`].
    pub fn builder() -> Builder {
        Builder::default()
    }

    pub(crate) fn start(
        shared: Arc<Shared>,
        parts: Vec<Parts>,
        cpus: Vec<CpuId>,
        pin: bool,
    ) -> Result<Runtime, Error> {
        let exit = std::sync::Arc::new(Exit {
            alive: Mutex::new(0),
            cv: Condvar::new(),
        });
        let threads = spawn_threads(&shared, parts, &cpus, pin, &exit)?;
        for (remote, cpu) in shared.cores.iter().zip(&cpus) {
            remote.published.lock().stats.cpu = pin.then_some(*cpu);
        }
        Ok(Runtime {
            handle: Handle { shared },
            threads,
            exit,
            cpus,
            pinned: pin,
        })
    }

    /// Number of cores.
    ///
    /// # Examples
    ///
    /// See [`Builder`].
    pub fn cores(&self) -> usize {
        self.cpus.len()
    }

    /// The CPU of each core, in core-index order (the thread is pinned to
    /// it unless the builder said `.pin(false)`).
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = corelane::sched::Runtime::builder().cores([0]).pin(false).build()?;
    /// assert_eq!(rt.cpus()[0].get(), 0);
    /// # Ok::<(), corelane::sched::Error>(())
    /// ```
    pub fn cpus(&self) -> &[CpuId] {
        &self.cpus
    }

    /// Whether core threads are pinned.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = corelane::sched::Runtime::builder().cores([0]).pin(false).build()?;
    /// assert!(!rt.is_pinned());
    /// # Ok::<(), corelane::sched::Error>(())
    /// ```
    pub fn is_pinned(&self) -> bool {
        self.pinned
    }

    /// A cloneable handle for spawning from other threads.
    ///
    /// # Examples
    ///
    /// See [`Handle`].
    pub fn handle(&self) -> Handle {
        self.handle.clone()
    }

    /// Runs `fut` as a `Normal` task on core 0 and blocks this thread until
    /// it finishes. A panic in the future is resumed here.
    ///
    /// # Panics
    ///
    /// When called from one of the runtime's own tasks (it would block the
    /// core it runs on), when the future panics (the panic is resumed), or
    /// when the runtime shuts down before the future finishes.
    ///
    /// # Examples
    ///
    /// See [`Runtime`].
    pub fn block_on<F>(&self, fut: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        if with_current(|_| ()).is_some() {
            panic!("Runtime::block_on called from a task on a corelane core: it would block that core; await the future instead");
        }
        let handle = self.spawn_on(0, Priority::Normal, fut);
        match wait(handle) {
            Ok(v) => v,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => panic!("the runtime shut down before the block_on future finished"),
        }
    }

    /// Spawns `fut` on core `core` with class `class`, from any thread.
    /// The task never moves to another core.
    ///
    /// # Panics
    ///
    /// If `core` is not a core index ([`try_spawn_on`](Runtime::try_spawn_on)
    /// returns an error instead).
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::sched::{Priority, Runtime};
    ///
    /// let rt = Runtime::builder().cores([0]).pin(false).build()?;
    /// let h = rt.spawn_on(0, Priority::High, async { corelane::sched::current_core() });
    /// assert_eq!(rt.block_on(h).unwrap(), 0);
    /// # Ok::<(), corelane::sched::Error>(())
    /// ```
    pub fn spawn_on<F>(&self, core: usize, class: Priority, fut: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn_on(core, class, fut)
    }

    /// [`spawn_on`](Runtime::spawn_on) with an error for a bad core index.
    ///
    /// # Errors
    ///
    /// [`SpawnError::NoSuchCore`].
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::sched::{Priority, Runtime, SpawnError};
    ///
    /// let rt = Runtime::builder().cores([0]).pin(false).build()?;
    /// assert!(matches!(rt.try_spawn_on(5, Priority::Low, async {}), Err(SpawnError::NoSuchCore { .. })));
    /// # Ok::<(), corelane::sched::Error>(())
    /// ```
    pub fn try_spawn_on<F>(
        &self,
        core: usize,
        class: Priority,
        fut: F,
    ) -> Result<JoinHandle<F::Output>, SpawnError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.try_spawn_on(core, class, fut)
    }

    /// Per-core counters and per-class queueing-delay histograms. Each core
    /// is asked for a fresh snapshot and given up to 10 ms to answer (a
    /// core stuck in one long poll answers with the snapshot it published
    /// last: at most a millisecond older than that poll's start).
    ///
    /// # Examples
    ///
    /// See [`Stats`].
    pub fn stats(&self) -> Stats {
        self.handle.stats()
    }

    /// Stops every core: pending tasks are dropped (each future once, on
    /// its own core), then the threads are joined. Wakers held elsewhere
    /// stay valid (waking them does nothing).
    ///
    /// One race is not covered: a task woken (or spawned) from a thread
    /// outside the runtime whose message reaches a core only after that
    /// core's last drain. A `Send` task is then dropped by the thread that
    /// woke it (not on its core); a `spawn_local` task is forgotten (never
    /// dropped off its thread), and its `JoinHandle` never resolves. A
    /// `Sleep` dropped outside the runtime likewise leaves its wheel entry
    /// (and the task's allocation) until the deadline or the shutdown.
    ///
    /// # Errors
    ///
    /// [`ShutdownTimeout`] if some core did not stop within `timeout` (a
    /// task blocking its thread): those threads are left running
    /// detached. Called from one of the runtime's own tasks (dropping the
    /// `Runtime` there included), it returns that error at once: the
    /// caller's core cannot stop before the calling task returns, so the
    /// cores are told to stop and finish detached.
    ///
    /// # Examples
    ///
    /// See [`Runtime`].
    pub fn shutdown(mut self, timeout: Duration) -> Result<(), ShutdownTimeout> {
        self.stop(timeout)
    }

    /// Whether the calling thread is one of this runtime's cores.
    #[cfg(all(feature = "io", target_os = "linux", not(corelane_loom)))]
    pub(crate) fn is_own_core(&self) -> bool {
        let shared = &self.handle.shared;
        with_current(|w| std::ptr::eq(Arc::as_ptr(&w.shared), Arc::as_ptr(shared))) == Some(true)
    }

    fn stop(&mut self, timeout: Duration) -> Result<(), ShutdownTimeout> {
        let shared = &self.handle.shared;
        shared.begin_shutdown();
        let on_own_core =
            with_current(|w| std::ptr::eq(Arc::as_ptr(&w.shared), Arc::as_ptr(shared)));
        if on_own_core == Some(true) {
            // Waiting would block this core until the timeout: no core
            // gets past the shutdown barrier without this one.
            let stuck = *self.exit.alive.lock().unwrap_or_else(|e| e.into_inner());
            self.threads.clear(); // detach
            return Err(ShutdownTimeout { stuck });
        }
        // `None`: a timeout past what an `Instant` holds, i.e. no deadline.
        let deadline = Instant::now().checked_add(timeout);
        let mut alive = self.exit.alive.lock().unwrap_or_else(|e| e.into_inner());
        while *alive > 0 {
            let left = deadline.map_or(Duration::MAX, |d| {
                d.saturating_duration_since(Instant::now())
            });
            if left.is_zero() {
                let stuck = *alive;
                drop(alive);
                self.threads.clear(); // detach
                return Err(ShutdownTimeout { stuck });
            }
            alive = self
                .exit
                .cv
                .wait_timeout(alive, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        drop(alive);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        Ok(())
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if !self.threads.is_empty() {
            let _ = self.stop(Duration::from_secs(10));
        }
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("cpus", &self.cpus)
            .field("pinned", &self.pinned)
            .finish()
    }
}

/// Blocks this thread until `fut` is ready.
fn wait<F: Future>(fut: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &std::sync::Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(std::sync::Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut fut = std::pin::pin!(fut);
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}

/// A cloneable, `Send + Sync` handle to a runtime's cores: spawn from any
/// thread. It does not keep the cores running; after shutdown its spawns
/// yield cancelled handles.
///
/// # Examples
///
/// ```
/// use corelane::sched::{Priority, Runtime};
///
/// let rt = Runtime::builder().cores([0]).pin(false).build()?;
/// let h = rt.handle();
/// let t = std::thread::spawn(move || h.spawn_on(0, Priority::Normal, async { 5 }));
/// let jh = t.join().unwrap();
/// assert_eq!(rt.block_on(jh).unwrap(), 5);
/// # Ok::<(), corelane::sched::Error>(())
/// ```
#[derive(Clone)]
pub struct Handle {
    shared: Arc<Shared>,
}

impl Handle {
    /// A handle on `shared` (the loom hooks build runtimes by hand).
    #[cfg(corelane_loom)]
    pub(crate) fn from_shared(shared: Arc<Shared>) -> Handle {
        Handle { shared }
    }

    /// See [`Runtime::spawn_on`].
    ///
    /// # Panics
    ///
    /// If `core` is not a core index.
    ///
    /// # Examples
    ///
    /// See [`Handle`].
    pub fn spawn_on<F>(&self, core: usize, class: Priority, fut: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match self.try_spawn_on(core, class, fut) {
            Ok(h) => h,
            Err(e) => panic!("corelane::sched::spawn_on: {e}"),
        }
    }

    /// See [`Runtime::try_spawn_on`].
    ///
    /// # Errors
    ///
    /// [`SpawnError::NoSuchCore`].
    ///
    /// # Examples
    ///
    /// See [`Runtime::try_spawn_on`].
    pub fn try_spawn_on<F>(
        &self,
        core: usize,
        class: Priority,
        fut: F,
    ) -> Result<JoinHandle<F::Output>, SpawnError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        spawn_remote(&self.shared, core, class, fut)
    }

    /// See [`Runtime::stats`].
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = corelane::sched::Runtime::builder().cores([0]).pin(false).build()?;
    /// assert_eq!(rt.handle().stats().cores.len(), 1);
    /// # Ok::<(), corelane::sched::Error>(())
    /// ```
    pub fn stats(&self) -> Stats {
        self.refresh_stats();
        Stats {
            cores: self
                .shared
                .cores
                .iter()
                .map(|r| {
                    let mut s = r.published.lock().stats.clone();
                    s.inbox_depth = r.foreign.lock().tx.len();
                    s
                })
                .collect(),
        }
    }

    /// Asks every core for a fresh snapshot and waits (at most 10 ms) for
    /// them: a core publishes at its next loop pass (a parked core is woken
    /// for it); a core busy in one long poll answers after it.
    fn refresh_stats(&self) {
        let shared = &self.shared;
        if shared.is_shutdown() {
            return;
        }
        // Relaxed: a request counter; the acks carry the ordering.
        let epoch = shared.stats_epoch.fetch_add(1, Ordering::Relaxed) + 1;
        // Our own core (if we are one) cannot answer while we run: publish.
        with_current(|w| {
            if std::ptr::eq(Arc::as_ptr(&w.shared), Arc::as_ptr(shared)) {
                w.publish_on_request();
            }
        });
        for remote in shared.cores.iter() {
            remote.doorbell.ring();
        }
        let deadline = Instant::now() + Duration::from_millis(10);
        // Acquire: pairs with the Release ack in `publish_on_request`.
        while shared
            .cores
            .iter()
            .any(|r| r.stats_ack.load(Ordering::Acquire) < epoch)
        {
            if Instant::now() >= deadline || shared.is_shutdown() {
                return;
            }
            std::thread::yield_now();
        }
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("cores", &self.shared.cores.len())
            .finish()
    }
}

/// Spawns a `Send` task homed on `core` (which never moves), from any
/// thread.
pub(crate) fn spawn_remote<F>(
    shared: &Arc<Shared>,
    core: usize,
    class: Priority,
    fut: F,
) -> Result<JoinHandle<F::Output>, SpawnError>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let cores = shared.cores.len();
    if core >= cores {
        return Err(SpawnError::NoSuchCore { index: core, cores });
    }
    let here = with_current(|w| {
        std::ptr::eq(Arc::as_ptr(&w.shared), Arc::as_ptr(shared)) && w.index == core
    });
    if here == Some(true) {
        return Ok(with_current(|w| w.spawn(class, Kind::Pinned, fut)).expect("checked"));
    }
    let meta = Meta::new(shared.clone(), core, class, Kind::Pinned);
    // SAFETY: `F: Send`, so task rule 3 does not restrict where it runs.
    let (runnable, handle) = unsafe { task::cell(fut, meta) };
    if shared.is_shutdown() {
        drop(runnable);
        return Ok(handle);
    }
    runnable.metadata().mark_ready(super::clock::now());
    remote::send(shared, core, Msg::Run(runnable));
    Ok(handle)
}

/// Why a spawn from outside the runtime failed.
///
/// # Examples
///
/// See [`Runtime::try_spawn_on`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SpawnError {
    /// The core index is out of range.
    NoSuchCore {
        /// The index asked for.
        index: usize,
        /// How many cores the runtime has.
        cores: usize,
    },
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpawnError::NoSuchCore { index, cores } => {
                let s = if *cores == 1 { "" } else { "s" };
                write!(f, "no core {index}: the runtime has {cores} core{s}")
            }
        }
    }
}

impl std::error::Error for SpawnError {}

/// [`Runtime::shutdown`] gave up waiting: some cores are still running a
/// task that blocks their thread.
///
/// # Examples
///
/// ```
/// let rt = corelane::sched::Runtime::builder().cores([0]).pin(false).build()?;
/// assert!(rt.shutdown(std::time::Duration::from_secs(1)).is_ok());
/// # Ok::<(), corelane::sched::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShutdownTimeout {
    /// How many core threads had not stopped.
    pub stuck: usize,
}

impl fmt::Display for ShutdownTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = if self.stuck == 1 { "" } else { "s" };
        write!(f, "{} core thread{s} did not stop in time (a task blocks its thread); left running detached", self.stuck)
    }
}

impl std::error::Error for ShutdownTimeout {}
