//! `sched` shutdown: `Runtime::shutdown(timeout)` and `Drop`.
//!
//! * With tasks pending on every core, at every class, in every state
//!   (awaiting `std::future::pending`, a channel that never fires, a sleep of
//!   an hour, another task's `JoinHandle`; spinning in a yield loop; spawned
//!   with `spawn_local` and with stealable `spawn`; detached; queued and not
//!   yet polled), `shutdown` returns `Ok` within its timeout and each future
//!   is dropped exactly once, on its own core; `Drop` does the same.
//! * After shutdown a held `JoinHandle` resolves to a cancellation (it does
//!   not hang or panic) and wakers held outside stay valid: waking, cloning
//!   and dropping them is harmless.
//! * A future that spawns from its own `Drop` during shutdown: every future
//!   created is still dropped exactly once, and shutdown returns.
//! * A core blocked by a task that never yields makes `shutdown` return an
//!   error once its timeout has passed, not hang.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc as std_mpsc, Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::thread::{self, ThreadId};
use std::time::{Duration, Instant};

use corelane::sched::{self, JoinHandle, Priority, Runtime};

#[path = "common/sched.rs"]
mod common;
use common::{bounded, two_cores, SHUTDOWN};

const CLASSES: [Priority; 3] = [Priority::High, Priority::Normal, Priority::Low];

/// What the test learns from the guards.
#[derive(Default)]
struct Counters {
    /// Guards created (one per future).
    created: AtomicUsize,
    /// Guards dropped.
    dropped: AtomicUsize,
    /// Futures that started running.
    started: AtomicUsize,
    /// Guards of pinned tasks dropped off their home core (or off any core).
    misplaced: AtomicUsize,
    /// Where the misplaced ones were dropped, for the failure message.
    misplaced_at: Mutex<Vec<String>>,
    /// Guards of pinned tasks dropped on their core's thread but with no
    /// runtime context there (`try_current_core` failing): reported only.
    no_context: AtomicUsize,
    /// The thread of each core, by core index.
    core_threads: Mutex<Vec<ThreadId>>,
}

impl Counters {
    /// Learns each core's thread.
    fn for_runtime(rt: &Runtime) -> Arc<Counters> {
        let counters = Arc::new(Counters::default());
        let threads = rt.block_on(async {
            let mut threads = Vec::new();
            for core in 0..2 {
                let h = sched::spawn_on(core, Priority::Normal, async { thread::current().id() });
                threads.push(h.await.expect("thread id"));
            }
            threads
        });
        assert_ne!(threads[0], threads[1], "one thread per core");
        *counters.core_threads.lock().unwrap() = threads;
        counters
    }
}

/// Lives inside one future: counts its drop, and checks where it happens.
struct Guard {
    counters: Arc<Counters>,
    /// The core the future must be dropped on (`None`: it may move).
    home: Option<usize>,
    what: &'static str,
}

impl Guard {
    fn new(counters: &Arc<Counters>, home: Option<usize>, what: &'static str) -> Guard {
        counters.created.fetch_add(1, SeqCst);
        Guard {
            counters: counters.clone(),
            home,
            what,
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.counters.dropped.fetch_add(1, SeqCst);
        let Some(home) = self.home else { return };
        let context = sched::try_current_core().ok();
        let thread = thread::current();
        let home_thread = self
            .counters
            .core_threads
            .lock()
            .unwrap()
            .get(home)
            .copied();
        if home_thread != Some(thread.id()) {
            self.counters.misplaced.fetch_add(1, SeqCst);
            let at = format!(
                "{} (home core {home}) dropped on thread {:?} ({:?}), current core {context:?}",
                self.what,
                thread.name(),
                thread.id()
            );
            self.counters.misplaced_at.lock().unwrap().push(at);
        } else if context != Some(home) {
            self.counters.no_context.fetch_add(1, SeqCst);
        }
    }
}

/// A future that hands its waker out and never completes.
struct LeakWaker(Arc<Mutex<Vec<Waker>>>);

impl Future for LeakWaker {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.0.lock().unwrap().push(cx.waker().clone());
        Poll::Pending
    }
}

/// Everything a populated runtime leaves to the test.
struct Pending {
    counters: Arc<Counters>,
    /// Handles kept (the rest were dropped: detached).
    handles: Vec<JoinHandle<()>>,
    /// Senders of channels that never fire; dropped only after shutdown.
    senders: Vec<tokio::sync::oneshot::Sender<()>>,
    /// Wakers of pending tasks, held outside the runtime.
    wakers: Arc<Mutex<Vec<Waker>>>,
    /// Tasks expected to have started before shutdown.
    to_start: usize,
}

/// Fills every core with pending tasks of every kind and class.
fn populate(rt: &Runtime) -> Pending {
    let counters = Counters::for_runtime(rt);
    let wakers = Arc::new(Mutex::new(Vec::new()));
    let mut handles = Vec::new();
    let mut senders = Vec::new();
    let mut to_start = 0;
    for core in 0..rt.cores() {
        for prio in CLASSES {
            // Awaiting `pending`, handle kept / dropped.
            for keep in [true, false] {
                let (g, c) = (
                    Guard::new(&counters, Some(core), "pending"),
                    counters.clone(),
                );
                let h = rt.spawn_on(core, prio, async move {
                    let _g = g;
                    c.started.fetch_add(1, SeqCst);
                    std::future::pending::<()>().await;
                });
                if keep {
                    handles.push(h);
                }
                to_start += 1;
            }
            // A channel that never fires.
            let (tx, rx) = tokio::sync::oneshot::channel::<()>();
            senders.push(tx);
            let (g, c) = (
                Guard::new(&counters, Some(core), "channel"),
                counters.clone(),
            );
            handles.push(rt.spawn_on(core, prio, async move {
                let _g = g;
                c.started.fetch_add(1, SeqCst);
                let _ = rx.await;
                unreachable!("the sender outlives the runtime");
            }));
            to_start += 1;
            // An hour's sleep.
            let (g, c) = (Guard::new(&counters, Some(core), "sleep"), counters.clone());
            handles.push(rt.spawn_on(core, prio, async move {
                let _g = g;
                c.started.fetch_add(1, SeqCst);
                sched::sleep(Duration::from_secs(3600)).await;
            }));
            to_start += 1;
            // A waker held outside.
            let (g, c, w) = (
                Guard::new(&counters, Some(core), "leaked waker"),
                counters.clone(),
                wakers.clone(),
            );
            drop(rt.spawn_on(core, prio, async move {
                let _g = g;
                c.started.fetch_add(1, SeqCst);
                LeakWaker(w).await;
            }));
            to_start += 1;
            // A parent awaiting a local child and a stealable child, both
            // pending forever.
            let (g, c, cs) = (
                Guard::new(&counters, Some(core), "parent"),
                counters.clone(),
                counters.clone(),
            );
            handles.push(rt.spawn_on(core, prio, async move {
                let _g = g;
                let local_guard = Guard::new(&cs, Some(core), "spawn_local child");
                let local = sched::spawn_local(prio_of(core), async move {
                    let _g = local_guard;
                    std::future::pending::<()>().await;
                });
                let stealable_guard = Guard::new(&cs, None, "spawn child");
                let stealable = sched::spawn(Priority::Low, async move {
                    let _g = stealable_guard;
                    std::future::pending::<()>().await;
                });
                c.started.fetch_add(1, SeqCst);
                let _ = local.await;
                let _ = stealable.await;
            }));
            to_start += 1;
        }
        // Busy: always ready, never done (Low, so the others get polled).
        let (g, c) = (
            Guard::new(&counters, Some(core), "yield loop"),
            counters.clone(),
        );
        handles.push(rt.spawn_on(core, Priority::Low, async move {
            let _g = g;
            c.started.fetch_add(1, SeqCst);
            loop {
                sched::yield_now().await;
            }
        }));
        to_start += 1;
    }
    Pending {
        counters,
        handles,
        senders,
        wakers,
        to_start,
    }
}

/// A class chosen by core, for the local children (any works).
fn prio_of(core: usize) -> Priority {
    if core == 0 {
        Priority::Normal
    } else {
        Priority::High
    }
}

/// Waits until every task meant to start has started, then queues a few
/// more that will likely never be polled before the shutdown.
fn settle(rt: &Runtime, p: &mut Pending) {
    let t = Instant::now();
    while p.counters.started.load(SeqCst) < p.to_start {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "tasks did not start: {} of {}",
            p.counters.started.load(SeqCst),
            p.to_start
        );
        thread::sleep(Duration::from_micros(200));
    }
    for core in 0..rt.cores() {
        for prio in CLASSES {
            let g = Guard::new(&p.counters, Some(core), "queued");
            p.handles.push(rt.spawn_on(core, prio, async move {
                let _g = g;
                std::future::pending::<()>().await;
            }));
        }
    }
}

fn check_after(p: Pending, how: &str) {
    let c = &p.counters;
    let created = c.created.load(SeqCst);
    assert!(created >= p.to_start, "{how}: the population was built");
    assert_eq!(
        c.dropped.load(SeqCst),
        created,
        "{how}: each of the {created} futures dropped exactly once"
    );
    assert_eq!(
        c.misplaced.load(SeqCst),
        0,
        "{how}: futures dropped off their own core's thread: {:?}",
        c.misplaced_at.lock().unwrap()
    );
    let no_context = c.no_context.load(SeqCst);
    if no_context > 0 {
        eprintln!("{how}: {no_context} futures dropped on their core's thread but outside its runtime context");
    }

    // A handle held across the shutdown resolves to a cancellation.
    let mut cx = Context::from_waker(Waker::noop());
    for (i, mut h) in p.handles.into_iter().enumerate() {
        match Pin::new(&mut h).poll(&mut cx) {
            Poll::Ready(Err(e)) => {
                assert!(e.is_cancelled(), "{how}: handle {i} after shutdown: {e}")
            }
            Poll::Ready(Ok(())) => panic!("{how}: handle {i}: a task that never completes gave Ok"),
            Poll::Pending => {
                panic!("{how}: handle {i} still pending after shutdown: it would hang its awaiter")
            }
        }
    }
    // Wakers held outside stay valid: wake by ref, clone, wake, drop, from
    // this thread and another.
    let wakers: Vec<Waker> = std::mem::take(&mut *p.wakers.lock().unwrap());
    assert!(
        !wakers.is_empty(),
        "{how}: the leaking tasks handed their wakers out"
    );
    let clones: Vec<Waker> = wakers.to_vec();
    for w in &wakers {
        w.wake_by_ref();
    }
    thread::spawn(move || clones.into_iter().for_each(Waker::wake))
        .join()
        .expect("waking from another thread");
    drop(wakers);
    assert_eq!(
        c.dropped.load(SeqCst),
        created,
        "{how}: waking after shutdown drops nothing twice"
    );
    // The channels' senders go last: their receivers went with the tasks.
    drop(p.senders);
}

#[test]
fn shutdown_drops_every_pending_future_once_on_its_core() {
    bounded(|| {
        let rt = two_cores();
        let mut p = populate(&rt);
        settle(&rt, &mut p);
        let t = Instant::now();
        let r = rt.shutdown(SHUTDOWN);
        let took = t.elapsed();
        assert!(
            r.is_ok(),
            "shutdown within {SHUTDOWN:?}: {:?}",
            r.err().map(|e| e.to_string())
        );
        assert!(
            took < SHUTDOWN,
            "shutdown returned Ok after {took:?}, past its timeout"
        );
        eprintln!(
            "shutdown with {} pending futures took {took:?}",
            p.counters.created.load(SeqCst)
        );
        check_after(p, "shutdown");
    });
}

#[test]
fn dropping_the_runtime_drops_every_pending_future_once_on_its_core() {
    bounded(|| {
        let rt = two_cores();
        let mut p = populate(&rt);
        settle(&rt, &mut p);
        drop(rt);
        check_after(p, "drop");
    });
}

#[test]
fn shutdown_of_a_runtime_that_never_ran_a_task() {
    bounded(|| {
        let rt = two_cores();
        let t = Instant::now();
        rt.shutdown(SHUTDOWN).expect("shutdown of an idle runtime");
        assert!(t.elapsed() < SHUTDOWN);
        drop(two_cores());
    });
}

/// Spawns a pending task from its `Drop`.
struct SpawnOnDrop {
    counters: Arc<Counters>,
    cross: bool,
}

impl Drop for SpawnOnDrop {
    fn drop(&mut self) {
        self.counters.dropped.fetch_add(1, SeqCst);
        let g = Guard::new(&self.counters, None, "spawned from a Drop");
        let fut = async move {
            let _g = g;
            std::future::pending::<()>().await;
        };
        // Whether it is accepted or refused, the future must be dropped
        // once: by the runtime, or right here with the error.
        if self.cross {
            let other = sched::try_current_core().map(|c| (c + 1) % 2).unwrap_or(0);
            drop(sched::try_spawn_on(other, Priority::High, fut));
        } else {
            drop(sched::try_spawn(Priority::Normal, fut));
        }
    }
}

#[test]
fn futures_spawning_from_their_drop_during_shutdown_are_dropped_once() {
    bounded(|| {
        let rt = two_cores();
        let counters = Counters::for_runtime(&rt);
        for core in 0..2 {
            for cross in [false, true] {
                counters.created.fetch_add(1, SeqCst);
                let s = SpawnOnDrop {
                    counters: counters.clone(),
                    cross,
                };
                let c = counters.clone();
                drop(rt.spawn_on(core, Priority::Normal, async move {
                    let _s = s;
                    c.started.fetch_add(1, SeqCst);
                    std::future::pending::<()>().await;
                }));
            }
        }
        let t = Instant::now();
        while counters.started.load(SeqCst) < 4 {
            assert!(t.elapsed() < Duration::from_secs(10), "tasks did not start");
            thread::sleep(Duration::from_micros(200));
        }
        let r = rt.shutdown(SHUTDOWN);
        assert!(r.is_ok(), "shutdown: {:?}", r.err().map(|e| e.to_string()));
        let created = counters.created.load(SeqCst);
        assert_eq!(created, 8, "4 futures, each spawning one from its Drop");
        assert_eq!(
            counters.dropped.load(SeqCst),
            created,
            "every future, late spawns included, dropped once"
        );
    });
}

#[test]
fn shutdown_times_out_on_a_core_that_never_yields() {
    bounded(|| {
        let rt = two_cores();
        let (tx, rx) = std_mpsc::channel();
        // Holds core 1 for 2 s without an await.
        drop(rt.spawn_on(1, Priority::Normal, async move {
            tx.send(()).unwrap();
            thread::sleep(Duration::from_secs(2));
        }));
        rx.recv_timeout(Duration::from_secs(10))
            .expect("the blocker started");
        let limit = Duration::from_millis(100);
        let t = Instant::now();
        let r = rt.shutdown(limit);
        let took = t.elapsed();
        let e = r.expect_err("a core blocked for 2 s cannot stop within 100 ms");
        assert!(!e.to_string().is_empty());
        assert!(took >= limit, "gave up after {took:?}, before its timeout");
        assert!(
            took < Duration::from_millis(1_500),
            "returned after {took:?}: it waited for the blocked core"
        );
        // Let the blocked core finish before the process moves on.
        thread::sleep(Duration::from_secs(2));
    });
}
