//! `sched`: spawning, joining, detaching, aborting and panicking tasks.
//!
//! * 100k tasks spawned across the cores (`spawn`, `spawn_on` to each core,
//!   and `Runtime::spawn_on` / `Handle::spawn_on` from plain threads), all
//!   joined, the sum of their outputs checked; `spawn_on` tasks ran on the
//!   core they were sent to.
//! * Tree spawning: a binary tree of depth 14 (32 767 tasks), each node
//!   spawning its two children and adding up their counts; once with
//!   stealable `spawn`, once with every right child sent to the other core.
//! * A panicking task gives a `JoinError` that `is_panic` with its payload;
//!   its core keeps running (more work on the same core afterwards).
//! * `abort` drops the future exactly once (before its first poll, while it
//!   waits on another core, while it spins in a yield loop, racing its
//!   polls); the handle reports `is_cancelled`; `abort` after completion is
//!   a no-op and the output is still delivered; `is_finished`.
//! * A dropped `JoinHandle` detaches: the task still runs to completion.
//! * `spawn_local` takes a `!Send` future and never moves it; `spawn_on`
//!   tasks never move either, with an idle core free to steal.
//! * Outside a runtime `spawn`, `spawn_local`, `spawn_on` and
//!   `current_core` panic with a message saying so; the `try_` forms give
//!   `NoRuntime`.
//! * The builder refuses a CPU that does not exist, and one outside the
//!   process mask, with an `Err`, not a panic; `Runtime::try_spawn_on` an
//!   out-of-range core is `NoSuchCore` (`spawn_on` panics, as documented).
//!
//! Every test body runs under a watchdog: a hang (a lost wake-up, a join
//! that never resolves, a shutdown that never returns) fails the test
//! instead of stalling the run. Runtimes here are unpinned and park when
//! idle, because the tests of this file run in parallel on two vCPUs.

use std::any::Any;
use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc as std_mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use corelane::sched::{self, Idle, JoinHandle, NoRuntime, Priority, Runtime};
use corelane::topology::{self, CpuId};

#[path = "common/sched.rs"]
mod common;
use common::{bounded, ms, two_core_builder, two_cores, two_cpus, DropCount, SHUTDOWN};

fn counter() -> Arc<AtomicUsize> {
    Arc::new(AtomicUsize::new(0))
}

/// Awaits `cond` by sleeping in 100 µs steps, failing after `limit`.
async fn wait_until(what: &str, limit: Duration, cond: impl Fn() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        sched::sleep(Duration::from_micros(100)).await;
    }
}

/// Blocks a plain thread until `cond`, failing after `limit`.
fn spin_until(what: &str, limit: Duration, cond: impl Fn() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        thread::sleep(Duration::from_micros(100));
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<not a string>".to_owned()
    }
}

// ---------------------------------------------------------------------------
// Many tasks
// ---------------------------------------------------------------------------

/// A task's handle, with the core it was sent to (`None`: any).
type Placed = (Option<usize>, JoinHandle<(u64, usize)>);

#[test]
fn hundred_thousand_tasks_across_cores_are_all_joined() {
    const N: u64 = 100_000;
    bounded(|| {
        let rt = two_cores();
        let cores = rt.cores();
        assert_eq!(cores, 2);
        let (sum, misplaced, per_core) = rt.block_on(async move {
            // Each task reports its index and the core it ran on. Index % 3:
            // 0 → `spawn` (this core, stealable), 1 → `spawn_on(0)`,
            // 2 → `spawn_on(1)`.
            let mut handles: Vec<Placed> = Vec::with_capacity(N as usize);
            for i in 0..N {
                let body = async move { (i, sched::current_core()) };
                handles.push(match i % 3 {
                    0 => (None, sched::spawn(Priority::Normal, body)),
                    k => {
                        let core = k as usize - 1;
                        (Some(core), sched::spawn_on(core, Priority::Normal, body))
                    }
                });
            }
            let mut sum = 0u64;
            let mut misplaced = 0usize;
            let mut per_core = vec![0usize; cores];
            for (want, h) in handles {
                let (i, core) = h.await.expect("a task that returns a value cannot fail");
                sum += i;
                per_core[core] += 1;
                if want.is_some_and(|w| w != core) {
                    misplaced += 1;
                }
            }
            (sum, misplaced, per_core)
        });
        assert_eq!(
            sum,
            N * (N - 1) / 2,
            "every task ran once and was joined once"
        );
        assert_eq!(
            misplaced, 0,
            "spawn_on tasks run on the core they were sent to"
        );
        assert_eq!(per_core.iter().sum::<usize>(), N as usize);
        assert!(
            per_core[1] >= (N / 3) as usize,
            "core 1 ran its spawn_on tasks: {per_core:?}"
        );
        rt.shutdown(SHUTDOWN).expect("shutdown of an idle runtime");
    });
}

#[test]
fn tasks_spawned_from_plain_threads_are_all_joined() {
    const PER_THREAD: u64 = 10_000;
    bounded(|| {
        let rt = two_cores();
        // One thread through the runtime, one through a cloned `Handle`,
        // each alternating the target core.
        let handle = rt.handle();
        let from_handle = thread::spawn(move || {
            (0..PER_THREAD)
                .map(|i| {
                    let core = (i % 2) as usize;
                    handle.spawn_on(core, Priority::Low, async move {
                        assert_eq!(sched::current_core(), core);
                        i
                    })
                })
                .collect::<Vec<_>>()
        });
        let mut handles: Vec<JoinHandle<u64>> = (0..PER_THREAD)
            .map(|i| {
                let core = (i % 2) as usize;
                rt.spawn_on(core, Priority::High, async move {
                    assert_eq!(sched::current_core(), core);
                    PER_THREAD + i
                })
            })
            .collect();
        handles.extend(from_handle.join().expect("spawning thread"));
        let sum = rt.block_on(async move {
            let mut sum = 0;
            for h in handles {
                sum += h.await.expect("task ran on the core it was sent to");
            }
            sum
        });
        let n = 2 * PER_THREAD;
        assert_eq!(sum, n * (n - 1) / 2);
        rt.shutdown(SHUTDOWN).expect("shutdown of an idle runtime");
    });
}

/// A node of a binary tree of tasks: counts the nodes below it (itself
/// included). With `cross`, the right child goes to the other core.
fn tree(
    depth: u32,
    cross: bool,
    visits: Arc<AtomicUsize>,
) -> Pin<Box<dyn Future<Output = u64> + Send>> {
    Box::pin(async move {
        visits.fetch_add(1, SeqCst);
        if depth == 0 {
            return 1;
        }
        let left = sched::spawn(Priority::Normal, tree(depth - 1, cross, visits.clone()));
        let right = if cross {
            let other = (sched::current_core() + 1) % 2;
            sched::spawn_on(other, Priority::Normal, tree(depth - 1, cross, visits))
        } else {
            sched::spawn(Priority::Normal, tree(depth - 1, cross, visits))
        };
        1 + left.await.expect("left subtree") + right.await.expect("right subtree")
    })
}

fn tree_test(cross: bool) {
    const DEPTH: u32 = 14;
    const NODES: u64 = (1 << (DEPTH + 1)) - 1;
    bounded(move || {
        let rt = two_cores();
        let visits = counter();
        let v = visits.clone();
        let counted = rt.block_on(async move { tree(DEPTH, cross, v).await });
        assert_eq!(
            counted, NODES,
            "the joined counts add up to the tree's size"
        );
        assert_eq!(
            visits.load(SeqCst),
            NODES as usize,
            "each node ran exactly once"
        );
        rt.shutdown(SHUTDOWN).expect("shutdown of an idle runtime");
    });
}

#[test]
fn tree_spawning_with_stealable_tasks() {
    tree_test(false);
}

#[test]
fn tree_spawning_across_cores() {
    tree_test(true);
}

// ---------------------------------------------------------------------------
// Panics
// ---------------------------------------------------------------------------

#[derive(Debug, PartialEq)]
struct Payload(usize);

#[test]
fn a_panicking_task_gives_join_error_with_payload_and_its_core_keeps_running() {
    bounded(|| {
        let rt = two_cores();
        let drops = counter();
        let d = drops.clone();
        rt.block_on(async move {
            for core in 0..2 {
                let guard = DropCount(d.clone());
                let h = sched::spawn_on(core, Priority::High, async move {
                    let _guard = guard;
                    sched::yield_now().await;
                    if sched::current_core() == core {
                        std::panic::panic_any(Payload(core));
                    }
                    0u8
                });
                let err = h.await.expect_err("a panicking task gives a JoinError");
                assert!(err.is_panic(), "core {core}: is_panic");
                assert!(
                    !err.is_cancelled(),
                    "core {core}: a panic is no cancellation"
                );
                assert!(!err.to_string().is_empty());
                let _: &dyn std::error::Error = &err;
                let payload = err.into_panic();
                assert_eq!(
                    payload.downcast_ref::<Payload>(),
                    Some(&Payload(core)),
                    "the payload itself"
                );

                // The same core keeps running: tasks at every class, with
                // yields and a timer.
                for prio in [Priority::High, Priority::Normal, Priority::Low] {
                    let again = sched::spawn_on(core, prio, async move {
                        sched::yield_now().await;
                        sched::sleep(ms(1)).await;
                        sched::current_core()
                    });
                    assert_eq!(again.await.expect("a task after the panic"), core);
                }
            }
            assert_eq!(d.load(SeqCst), 2, "each panicked future was dropped once");

            // Message payloads through `spawn` and `spawn_local`.
            let h = sched::spawn(Priority::Normal, async {
                if std::hint::black_box(true) {
                    panic!("boom {}", 7);
                }
                0u8
            });
            let payload = h.await.expect_err("spawn: panic").into_panic();
            assert_eq!(panic_message(&*payload), "boom 7");
            let h = sched::spawn_local(Priority::Low, async {
                if std::hint::black_box(true) {
                    panic!("static boom");
                }
                0u8
            });
            let payload = h.await.expect_err("spawn_local: panic").into_panic();
            assert_eq!(panic_message(&*payload), "static boom");
        });
        assert_eq!(drops.load(SeqCst), 2);

        // Through the runtime from this thread, then core 1 is still alive.
        let h = rt.spawn_on(1, Priority::Normal, async {
            if std::hint::black_box(true) {
                panic!("from outside");
            }
            0u8
        });
        let err = rt.block_on(h).expect_err("Runtime::spawn_on: panic");
        assert!(err.is_panic());
        assert_eq!(panic_message(&*err.into_panic()), "from outside");
        let alive: Vec<_> = (0..100)
            .map(|i| {
                rt.spawn_on(
                    1,
                    Priority::Normal,
                    async move { (i, sched::current_core()) },
                )
            })
            .collect();
        let got = rt.block_on(async move {
            let mut got = Vec::new();
            for h in alive {
                got.push(h.await.expect("core 1 after two panics"));
            }
            got
        });
        assert_eq!(got, (0..100).map(|i| (i, 1)).collect::<Vec<_>>());
        rt.shutdown(SHUTDOWN).expect("shutdown after panics");
    });
}

// ---------------------------------------------------------------------------
// Abort
// ---------------------------------------------------------------------------

#[test]
fn abort_before_the_first_poll_drops_the_future_once_without_polling_it() {
    bounded(|| {
        let rt = two_cores();
        let drops = counter();
        let polled = Arc::new(AtomicBool::new(false));
        let (d, p) = (drops.clone(), polled.clone());
        rt.block_on(async move {
            // Spawned on this core, aborted before this task yields: the
            // task never got a chance to run.
            let guard = DropCount(d.clone());
            let h = sched::spawn_local(Priority::High, async move {
                let _guard = guard;
                p.store(true, SeqCst);
                std::future::pending::<()>().await;
            });
            assert!(!h.is_finished());
            h.abort();
            let err = h.await.expect_err("an aborted task gives a JoinError");
            assert!(err.is_cancelled(), "is_cancelled");
            assert!(!err.is_panic(), "a cancellation is no panic");
            assert!(!err.to_string().is_empty());
            assert_eq!(
                d.load(SeqCst),
                1,
                "the future is dropped by the time the handle resolves"
            );
        });
        assert!(
            !polled.load(SeqCst),
            "a task aborted before its first poll is never polled"
        );
        rt.shutdown(SHUTDOWN).expect("shutdown");
        assert_eq!(
            drops.load(SeqCst),
            1,
            "dropped exactly once, shutdown included"
        );
    });
}

#[test]
fn abort_of_a_waiting_task_on_another_core_drops_it_once() {
    bounded(|| {
        let rt = two_cores();
        let drops = counter();
        let started = Arc::new(AtomicBool::new(false));
        let (d, s) = (drops.clone(), started.clone());
        rt.block_on(async move {
            let guard = DropCount(d.clone());
            let s2 = s.clone();
            let h = sched::spawn_on(1, Priority::Normal, async move {
                let _guard = guard;
                s2.store(true, SeqCst);
                std::future::pending::<()>().await;
            });
            wait_until("task started on core 1", ms(5_000), || s.load(SeqCst)).await;
            assert!(!h.is_finished(), "a pending task is not finished");
            h.abort();
            h.abort(); // twice: still one drop
            let err = h.await.expect_err("aborted");
            assert!(err.is_cancelled());
            assert_eq!(
                d.load(SeqCst),
                1,
                "dropped once, by the time the handle resolves"
            );
        });
        rt.shutdown(SHUTDOWN).expect("shutdown");
        assert_eq!(
            drops.load(SeqCst),
            1,
            "dropped exactly once, shutdown included"
        );
    });
}

#[test]
fn abort_from_a_plain_thread_stops_a_yield_loop() {
    bounded(|| {
        let rt = two_cores();
        let drops = counter();
        let spins = counter();
        let guard = DropCount(drops.clone());
        let sp = spins.clone();
        let h = rt.spawn_on(1, Priority::Low, async move {
            let _guard = guard;
            loop {
                sp.fetch_add(1, SeqCst);
                sched::yield_now().await;
            }
        });
        spin_until("yield loop running", ms(5_000), || spins.load(SeqCst) > 100);
        assert!(!h.is_finished());
        h.abort();
        spin_until("is_finished after abort", ms(5_000), || h.is_finished());
        let err = rt.block_on(h).expect_err("aborted");
        assert!(err.is_cancelled());
        assert_eq!(drops.load(SeqCst), 1);
        let after = spins.load(SeqCst);
        thread::sleep(ms(20));
        assert_eq!(
            spins.load(SeqCst),
            after,
            "an aborted task is never polled again"
        );
        rt.shutdown(SHUTDOWN).expect("shutdown");
        assert_eq!(
            drops.load(SeqCst),
            1,
            "dropped exactly once, shutdown included"
        );
    });
}

#[test]
fn abort_after_completion_is_a_no_op() {
    bounded(|| {
        let rt = two_cores();
        let drops = counter();
        let d = drops.clone();
        rt.block_on(async move {
            let guard = DropCount(d.clone());
            let h = sched::spawn_on(1, Priority::Normal, async move {
                let _guard = guard;
                sched::sleep(ms(1)).await;
                42u32
            });
            wait_until("is_finished", ms(5_000), || h.is_finished()).await;
            assert_eq!(d.load(SeqCst), 1, "a completed future has been dropped");
            h.abort();
            h.abort();
            assert!(h.is_finished());
            assert_eq!(h.await.expect("abort after completion changes nothing"), 42);
            assert_eq!(d.load(SeqCst), 1);
        });
        rt.shutdown(SHUTDOWN).expect("shutdown");
        assert_eq!(drops.load(SeqCst), 1);
    });
}

#[test]
fn abort_racing_polls_on_another_core_drops_each_future_once() {
    let rounds: usize = if cfg!(debug_assertions) {
        2_000
    } else {
        20_000
    };
    bounded(move || {
        let rt = two_cores();
        let drops = counter();
        let d = drops.clone();
        let (cancelled, finished) = rt.block_on(async move {
            let (mut cancelled, mut finished) = (0usize, 0usize);
            for i in 0..rounds {
                let guard = DropCount(d.clone());
                // Short-lived, so some aborts come after completion; the
                // rest hit the task queued, being polled, or waiting.
                let h = sched::spawn_on(1, Priority::Normal, async move {
                    let _guard = guard;
                    for _ in 0..(i % 4) {
                        sched::yield_now().await;
                    }
                    i
                });
                for _ in 0..(i % 3) {
                    sched::yield_now().await;
                }
                h.abort();
                match h.await {
                    Ok(v) => {
                        assert_eq!(v, i);
                        finished += 1;
                    }
                    Err(e) => {
                        assert!(e.is_cancelled(), "round {i}: only a cancellation, got {e}");
                        cancelled += 1;
                    }
                }
                assert_eq!(
                    d.load(SeqCst),
                    i + 1,
                    "round {i}: the future was dropped once when its handle resolved"
                );
            }
            (cancelled, finished)
        });
        assert_eq!(cancelled + finished, rounds);
        rt.shutdown(SHUTDOWN).expect("shutdown");
        assert_eq!(
            drops.load(SeqCst),
            rounds,
            "each future dropped exactly once"
        );
    });
}

// ---------------------------------------------------------------------------
// Detach
// ---------------------------------------------------------------------------

#[test]
fn a_dropped_join_handle_detaches_the_task() {
    bounded(|| {
        let rt = two_cores();
        let (tx, rx) = std_mpsc::channel::<(&'static str, usize)>();
        // Each task is surely pending (asleep) when its handle goes.
        let t = tx.clone();
        drop(rt.spawn_on(1, Priority::Normal, async move {
            sched::sleep(ms(5)).await;
            t.send(("Runtime::spawn_on", sched::current_core()))
                .unwrap();
        }));
        rt.block_on(async move {
            let t = tx.clone();
            drop(sched::spawn(Priority::Low, async move {
                sched::sleep(ms(3)).await;
                t.send(("spawn", usize::MAX)).unwrap();
            }));
            let t = tx.clone();
            drop(sched::spawn_local(Priority::Normal, async move {
                sched::sleep(ms(3)).await;
                t.send(("spawn_local", sched::current_core())).unwrap();
            }));
            let t = tx.clone();
            drop(sched::spawn_on(1, Priority::High, async move {
                sched::yield_now().await;
                sched::sleep(ms(3)).await;
                t.send(("spawn_on", sched::current_core())).unwrap();
            }));
        });
        let mut got: Vec<_> = (0..4)
            .map(|_| {
                rx.recv_timeout(ms(5_000))
                    .expect("a detached task did not run to completion")
            })
            .collect();
        got.sort();
        assert_eq!(
            got,
            vec![
                ("Runtime::spawn_on", 1),
                ("spawn", usize::MAX),
                ("spawn_local", 0),
                ("spawn_on", 1)
            ]
        );
        rt.shutdown(SHUTDOWN).expect("shutdown");
    });
}

// ---------------------------------------------------------------------------
// Where tasks run
// ---------------------------------------------------------------------------

#[test]
fn spawn_local_takes_a_non_send_future_and_never_moves_it() {
    const TASKS: usize = 200;
    bounded(|| {
        let rt = two_core_builder(Idle::Park)
            .stealing(true)
            .build()
            .expect("runtime");
        // The spawner runs on core 1; core 0 sits idle, free to steal.
        let moved = rt.block_on(async {
            sched::spawn_on(1, Priority::Normal, async {
                let home = sched::current_core();
                assert_eq!(home, 1);
                let handles: Vec<_> = (0..TASKS)
                    .map(|i| {
                        sched::spawn_local(Priority::Normal, async move {
                            let rc = Rc::new(Cell::new(0usize)); // !Send, held across awaits
                            let mut moved = 0;
                            for round in 0..5 {
                                if sched::current_core() != home {
                                    moved += 1;
                                }
                                sched::yield_now().await;
                                if (i + round) % 4 == 0 {
                                    sched::sleep(Duration::from_micros(200)).await;
                                }
                                rc.set(rc.get() + 1);
                            }
                            if sched::current_core() != home {
                                moved += 1;
                            }
                            (rc.get(), moved)
                        })
                    })
                    .collect();
                let mut moved = 0;
                for h in handles {
                    let (rounds, m) = h.await.expect("spawn_local task");
                    assert_eq!(rounds, 5);
                    moved += m;
                }
                moved
            })
            .await
            .expect("spawner")
        });
        assert_eq!(moved, 0, "spawn_local tasks never leave their core");
        rt.shutdown(SHUTDOWN).expect("shutdown");
    });
}

#[test]
fn spawn_on_tasks_never_move() {
    const TASKS: usize = 500;
    bounded(|| {
        let rt = two_cores();
        // All on core 1, which is busy; core 0 is idle and may steal.
        let handles: Vec<_> = (0..TASKS)
            .map(|i| {
                rt.spawn_on(1, Priority::Normal, async move {
                    let mut seen = Vec::with_capacity(4);
                    for _ in 0..3 {
                        seen.push(sched::current_core());
                        // Busy a little, so core 1 has a backlog.
                        let t = Instant::now();
                        while t.elapsed() < Duration::from_micros(20) {}
                        sched::yield_now().await;
                    }
                    seen.push(sched::current_core());
                    (i, seen)
                })
            })
            .collect();
        let all = rt.block_on(async move {
            let mut all = Vec::new();
            for h in handles {
                all.push(h.await.expect("spawn_on task"));
            }
            all
        });
        for (i, seen) in all {
            assert_eq!(seen, vec![1; 4], "task {i} moved");
        }
        rt.shutdown(SHUTDOWN).expect("shutdown");
    });
}

// ---------------------------------------------------------------------------
// Outside a runtime
// ---------------------------------------------------------------------------

fn assert_panics_outside(what: &str, f: impl FnOnce() + std::panic::UnwindSafe) {
    let payload =
        std::panic::catch_unwind(f).expect_err(&format!("{what} outside a runtime must panic"));
    let msg = panic_message(&*payload);
    assert!(
        msg.contains("outside a corelane::sched runtime"),
        "{what}: the panic message says why; got {msg:?}"
    );
}

fn assert_no_runtime<T>(what: &str, r: Result<T, NoRuntime>) {
    match r {
        Ok(_) => panic!("{what}: Ok outside a runtime"),
        Err(e) => {
            let e: NoRuntime = e;
            assert!(!e.to_string().is_empty(), "{what}: NoRuntime displays");
            let _: &dyn std::error::Error = &e;
        }
    }
}

fn check_outside(where_: &str) {
    assert_panics_outside(&format!("{where_}: sched::spawn"), || {
        drop(sched::spawn(Priority::Normal, async {}));
    });
    assert_panics_outside(&format!("{where_}: sched::spawn_local"), || {
        drop(sched::spawn_local(Priority::Normal, async {}));
    });
    assert_panics_outside(&format!("{where_}: sched::spawn_on"), || {
        drop(sched::spawn_on(0, Priority::Normal, async {}));
    });
    assert_panics_outside(&format!("{where_}: sched::current_core"), || {
        let _ = sched::current_core();
    });
    assert_no_runtime("try_spawn", sched::try_spawn(Priority::Normal, async {}));
    assert_no_runtime(
        "try_spawn_local",
        sched::try_spawn_local(Priority::Normal, async {}),
    );
    assert_no_runtime(
        "try_spawn_on",
        sched::try_spawn_on(0, Priority::Normal, async {}),
    );
    assert_no_runtime("try_current_core", sched::try_current_core());
    assert_no_runtime("try_sleep", sched::try_sleep(ms(1)));
    assert_no_runtime("try_sleep_until", sched::try_sleep_until(Instant::now()));
    assert_no_runtime("try_timeout", sched::try_timeout(ms(1), async {}));
    assert_no_runtime("try_interval", sched::try_interval(ms(1)));
}

#[test]
fn outside_a_runtime_spawn_panics_and_try_spawn_gives_no_runtime() {
    bounded(|| {
        // No runtime anywhere yet (in this thread's view).
        check_outside("plain thread");
        // A runtime exists, but this thread is not one of its cores.
        let rt = two_cores();
        check_outside("beside a live runtime");
        // Inside a tokio runtime: still not ours.
        let tokio_rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("tokio");
        tokio_rt.block_on(async { check_outside("inside tokio") });
        // Inside: the try_ forms succeed, block_on runs on core 0.
        let inside = rt.block_on(async {
            let core = sched::try_current_core().expect("inside a task");
            let h = sched::try_spawn(Priority::Normal, async { 1 }).expect("try_spawn inside");
            let hl = sched::try_spawn_local(Priority::Normal, async { 2 })
                .expect("try_spawn_local inside");
            let ho = sched::try_spawn_on(1, Priority::Normal, async { sched::current_core() })
                .expect("try_spawn_on inside");
            sched::try_sleep(ms(1)).expect("try_sleep inside").await;
            let t = sched::try_timeout(ms(100), async { 3 })
                .expect("try_timeout inside")
                .await;
            (
                core,
                h.await.unwrap(),
                hl.await.unwrap(),
                ho.await.unwrap(),
                t.expect("ready before its deadline"),
            )
        });
        assert_eq!(
            inside,
            (0, 1, 2, 1, 3),
            "block_on runs on core 0; the try_ forms work inside"
        );
        rt.shutdown(SHUTDOWN).expect("shutdown");
        check_outside("after shutdown");
    });
}

#[test]
fn runtime_spawn_on_a_core_out_of_range() {
    bounded(|| {
        let rt = two_cores();
        let drops = counter();
        let guard = DropCount(drops.clone());
        match rt.try_spawn_on(2, Priority::Normal, async move { drop(guard) }) {
            Ok(_) => panic!("try_spawn_on(2) on a two-core runtime gave a handle"),
            Err(e) => {
                assert!(
                    matches!(e, sched::SpawnError::NoSuchCore { index: 2, cores: 2 }),
                    "NoSuchCore {{ index: 2, cores: 2 }}, got {e:?}"
                );
                assert!(!e.to_string().is_empty());
            }
        }
        assert_eq!(
            drops.load(SeqCst),
            1,
            "the refused future was dropped, once"
        );
        let payload = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            drop(rt.spawn_on(7, Priority::Normal, async {}));
        }))
        .expect_err("Runtime::spawn_on(7) on a two-core runtime panics");
        let h = rt.handle();
        let also = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            drop(h.spawn_on(7, Priority::Normal, async {}));
        }));
        assert!(also.is_err(), "Handle::spawn_on(7) panics too");
        eprintln!("spawn_on(7) panics with: {}", panic_message(&*payload));
        // The runtime is unharmed.
        let h = rt.spawn_on(1, Priority::Normal, async { sched::current_core() });
        assert_eq!(rt.block_on(h).expect("core 1"), 1);
        rt.shutdown(SHUTDOWN).expect("shutdown");
    });
}

// ---------------------------------------------------------------------------
// Builder errors
// ---------------------------------------------------------------------------

#[test]
fn builder_rejects_a_cpu_that_does_not_exist() {
    bounded(|| {
        for cores in [vec![4096u32], vec![two_cpus()[0].get(), 4096]] {
            let r = std::panic::catch_unwind(|| Runtime::builder().cores(cores.clone()).build());
            match r {
                Err(p) => panic!(
                    "cores {cores:?}: build panicked ({}); it must return Err",
                    panic_message(&*p)
                ),
                Ok(Ok(_)) => panic!("cores {cores:?}: a runtime on a CPU that does not exist"),
                Ok(Err(e)) => {
                    assert!(
                        matches!(e, sched::Error::BadCpu { cpu, .. } if cpu.get() == 4096),
                        "cores {cores:?}: BadCpu for cpu4096, got {e:?}"
                    );
                    let shown = e.to_string();
                    assert!(
                        shown.contains("4096"),
                        "cores {cores:?}: the error names the CPU: {shown:?}"
                    );
                    let _: &dyn std::error::Error = &e;
                }
            }
        }
    });
}

/// The child half of [`builder_rejects_a_cpu_outside_the_process_mask`]:
/// the parent starts this binary again with a one-CPU mask.
const MASK_CHILD: &str = "CORELANE_SCHED_MASK_CHILD";

#[test]
fn builder_rejects_a_cpu_outside_the_process_mask() {
    if let Some(cpu) = std::env::var_os(MASK_CHILD) {
        // In the child: the mask is one CPU, and `cpu` is another, online one.
        let cpu: u32 = cpu.to_str().and_then(|s| s.parse().ok()).expect("cpu id");
        let mask = topology::allowed_cpus().expect("mask");
        assert!(
            !mask.contains(CpuId::new(cpu)),
            "the parent set a mask without cpu{cpu}: {mask}"
        );
        match std::panic::catch_unwind(|| Runtime::builder().cores([cpu]).build()) {
            Err(p) => panic!(
                "build panicked ({}); it must return Err",
                panic_message(&*p)
            ),
            Ok(Ok(_)) => panic!("a runtime on cpu{cpu}, outside the process mask {mask}"),
            Ok(Err(e)) => {
                assert!(
                    matches!(e, sched::Error::BadCpu { cpu: c, .. } if c.get() == cpu),
                    "BadCpu for cpu{cpu}, got {e:?}"
                );
                let shown = e.to_string();
                assert!(
                    shown.contains(&cpu.to_string()),
                    "the error names the CPU: {shown:?}"
                );
                println!("mask-child-ok: {shown}");
            }
        }
        return;
    }
    let [inside, outside] = two_cpus();
    let exe = std::env::current_exe().expect("this test binary");
    let mut cmd = std::process::Command::new(exe);
    cmd.args([
        "builder_rejects_a_cpu_outside_the_process_mask",
        "--exact",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(MASK_CHILD, outside.get().to_string());
    let keep = inside.index();
    // Runs in the forked child before exec: one plain syscall on a set on
    // its own stack, nothing allocated or locked (async-signal-safe).
    let one_cpu_mask = move || {
        // SAFETY: all-zero bytes are a valid (empty) `cpu_set_t`.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        // SAFETY: `keep` is a CPU of this machine's mask, so below
        // `CPU_SETSIZE`: the bit is inside `set`.
        unsafe { libc::CPU_SET(keep, &mut set) };
        // SAFETY: pid 0 is the calling (child) process; `set` is a valid
        // `cpu_set_t` of the size passed.
        let rc =
            unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
        if rc == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    };
    // SAFETY: `one_cpu_mask` is async-signal-safe (see above), as `pre_exec`
    // requires of code running between fork and exec.
    unsafe { std::os::unix::process::CommandExt::pre_exec(&mut cmd, one_cpu_mask) };
    let out = cmd.output().expect("run the child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("mask-child-ok"),
        "child with mask {{{inside}}} building on {outside}: {}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---------------------------------------------------------------------------
// Static guarantees of the API
// ---------------------------------------------------------------------------

#[test]
fn handles_are_send_and_unpin() {
    fn send<T: Send>() {}
    fn sync<T: Sync>() {}
    fn unpin<T: Unpin>() {}
    fn clone<T: Clone>() {}
    send::<JoinHandle<u64>>();
    unpin::<JoinHandle<Rc<u8>>>();
    send::<sched::Handle>();
    sync::<sched::Handle>();
    clone::<sched::Handle>();
    send::<sched::JoinError>();
}
