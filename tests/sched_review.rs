//! Soundness review of `corelane::sched`: one test per finding, each of
//! which failed before the fix its comment describes.
//!
//! Scenarios that used to abort the process run in a child process (this
//! binary, filtered to the one test), so an abort is a failed exit status
//! instead of the end of the whole test run. Scenarios that used to hang
//! run under a watchdog.

use corelane::sched::{self, Idle, Priority, Runtime};
use std::future::Future;
use std::pin::Pin;
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Context, Wake, Waker};
use std::time::{Duration, Instant};

fn rt(cores: usize) -> Runtime {
    Runtime::builder()
        .cores((0..cores as u32).collect::<Vec<_>>())
        .pin(false)
        .idle(Idle::Park)
        .build()
        .unwrap()
}

/// Runs `scenario` in a child process when called from the parent, and
/// directly when this process is that child.
fn in_child(test: &str, scenario: impl FnOnce()) {
    const VAR: &str = "CORELANE_SCHED_REVIEW_CHILD";
    if std::env::var(VAR).as_deref() == Ok(test) {
        scenario();
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(VAR, test)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "child `{test}` ended with {:?}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    // Not vacuous: the child ran exactly this test.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("1 passed"),
        "child `{test}` ran nothing:\n{stdout}"
    );
}

/// Runs `f` on a thread and waits at most `limit` for it.
fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(v) => v,
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("did not finish within {limit:?}"),
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("panicked (see above)"),
    }
}

struct PanicOnDrop;

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        panic!("PanicOnDrop dropped");
    }
}

// A pending future whose destructor panics, dropped by shutdown: async-task
// drops futures under `abort_on_panic`, so this aborted the whole process.
#[test]
fn shutdown_drops_a_future_whose_drop_panics() {
    in_child("shutdown_drops_a_future_whose_drop_panics", || {
        let rt = rt(1);
        drop(rt.spawn_on(0, Priority::Normal, async {
            let _p = PanicOnDrop;
            std::future::pending::<()>().await
        }));
        std::thread::sleep(Duration::from_millis(20));
        rt.shutdown(Duration::from_secs(5)).unwrap();
    });
}

// A detached task's output whose destructor panics: async-task drops it
// under `abort_on_panic` inside `Runnable::run`: the process aborted.
#[test]
fn detached_output_whose_drop_panics() {
    in_child("detached_output_whose_drop_panics", || {
        let rt = rt(1);
        let v = rt.block_on(async {
            drop(sched::spawn(Priority::High, async { PanicOnDrop }));
            sched::yield_now().await;
            sched::spawn(Priority::Normal, async { 7 }).await.unwrap()
        });
        assert_eq!(v, 7);
    });
}

// The same with a panic payload whose destructor panics (the output of a
// detached task that panicked is its `JoinError`).
#[test]
fn detached_panic_payload_whose_drop_panics() {
    in_child("detached_panic_payload_whose_drop_panics", || {
        let rt = rt(1);
        let v = rt.block_on(async {
            drop(sched::spawn(Priority::High, async {
                std::panic::panic_any(PanicOnDrop)
            }));
            sched::yield_now().await;
            sched::spawn(Priority::Normal, async { 7 }).await.unwrap()
        });
        assert_eq!(v, 7);
    });
}

/// A waker whose `wake` panics.
struct PanicOnWake;

impl Wake for PanicOnWake {
    fn wake(self: Arc<Self>) {
        panic!("PanicOnWake woken");
    }
}

/// A waker whose last reference panics when it is dropped.
struct WakerPanicOnDrop;

impl Wake for WakerPanicOnDrop {
    fn wake(self: Arc<Self>) {}
}

impl Drop for WakerPanicOnDrop {
    fn drop(&mut self) {
        panic!("WakerPanicOnDrop dropped");
    }
}

// A task polls a `Sleep` with its own waker, whose `wake` panics. The core
// woke it from `fire_timers`, outside any task: the panic unwound out of
// the worker loop and killed the core (block_on never returned).
#[test]
fn timer_waker_that_panics_does_not_kill_the_core() {
    let rt = rt(1);
    let v = within(Duration::from_secs(10), move || {
        let v = rt.block_on(async {
            let mut s = sched::sleep(Duration::from_millis(1));
            {
                let w = Waker::from(Arc::new(PanicOnWake));
                let mut cx = Context::from_waker(&w);
                assert!(Pin::new(&mut s).poll(&mut cx).is_pending());
            }
            sched::sleep(Duration::from_millis(10)).await; // s fires meanwhile
            drop(s);
            1
        });
        rt.shutdown(Duration::from_secs(5)).unwrap();
        v
    });
    assert_eq!(v, 1);
}

// A waker left in the timer wheel (its `Sleep` leaked) whose drop panics:
// shutdown drops the wheel on the core, the panic killed that core before
// it reached the shutdown barrier, and the other core waited there forever.
#[test]
fn timer_waker_whose_drop_panics_does_not_wedge_shutdown() {
    let rt = rt(2);
    rt.block_on(async {
        let mut s = sched::sleep(Duration::from_secs(60));
        let w = Waker::from(Arc::new(WakerPanicOnDrop));
        let mut cx = Context::from_waker(&w);
        assert!(Pin::new(&mut s).poll(&mut cx).is_pending());
        std::mem::forget(s); // the wheel now holds the other reference
    });
    assert_eq!(rt.shutdown(Duration::from_secs(3)), Ok(()));
}

// Dropping a `Runtime` inside one of its own tasks waited (10 s) for every
// core to stop, its own included, which cannot stop while it waits.
#[test]
fn dropping_the_runtime_inside_its_own_task_does_not_stall() {
    let rt = rt(2);
    let h = rt.handle();
    // A pending task on the other core: shutdown still drops it.
    let (dropped_tx, dropped_rx) = mpsc::channel::<()>();
    drop(h.spawn_on(1, Priority::Low, async move {
        let _tx = dropped_tx;
        std::future::pending::<()>().await
    }));
    let slot = Arc::new(Mutex::new(Some(rt)));
    let inside = slot.clone();
    let (tx, rx) = mpsc::channel();
    drop(h.spawn_on(0, Priority::Normal, async move {
        let rt = inside.lock().unwrap().take();
        let t0 = Instant::now();
        drop(rt);
        let _ = tx.send(t0.elapsed());
    }));
    let took = rx.recv_timeout(Duration::from_secs(30)).unwrap();
    assert_eq!(
        dropped_rx.recv_timeout(Duration::from_secs(5)),
        Err(mpsc::RecvTimeoutError::Disconnected),
        "the pending task was dropped"
    );
    assert!(
        took < Duration::from_secs(1),
        "dropping the runtime inside its own task blocked its core for {took:?}"
    );
}

// `interval(Duration::MAX)` ("never again after the first tick"): computing
// the second tick's instant overflowed `Instant + Duration` and panicked.
#[test]
fn interval_with_a_huge_period() {
    let rt = rt(1);
    let second_tick_pending = rt.block_on(async {
        let mut iv = sched::interval(Duration::MAX);
        iv.tick().await;
        sched::timeout(Duration::from_millis(5), iv.tick())
            .await
            .is_err()
    });
    assert!(second_tick_pending);
}

// A huge wheel tick: the loop's next timer check `now + tick` overflowed
// (a panic in debug builds, which killed the core; block_on never returned).
#[test]
fn huge_tick_does_not_overflow_the_loop_clock() {
    let rt = Runtime::builder()
        .cores([0])
        .pin(false)
        .idle(Idle::Park)
        .tick(Duration::MAX)
        .build()
        .unwrap();
    let v = within(Duration::from_secs(10), move || rt.block_on(async { 5 }));
    assert_eq!(v, 5);
}

// `Idle::Spin(d)` compared against `d.as_nanos() as u64`, which wraps: a
// spin of 2^64 ns (584 years, "spin, never park") became 0 ns.
#[test]
fn huge_spin_does_not_wrap_to_zero() {
    let spin = Duration::new(18_446_744_073, 709_551_616); // 2^64 ns
    let rt = Runtime::builder()
        .cores([0])
        .pin(false)
        .idle(Idle::Spin(spin))
        .build()
        .unwrap();
    rt.block_on(async {});
    std::thread::sleep(Duration::from_millis(20));
    rt.block_on(async {});
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(rt.stats().cores[0].parks, 0, "a 584-year spin parked");
}

// A JoinHandle polled with a waker whose `wake` panics: the core wakes the
// awaiter when the task finishes, inside `Runnable::run`, where async-task
// wakes it under `abort_on_panic`: the process aborted.
#[test]
fn join_handle_awaiter_that_panics() {
    in_child("join_handle_awaiter_that_panics", || {
        let rt = rt(1);
        let mut h = rt.spawn_on(0, Priority::Normal, async {
            sched::sleep(Duration::from_millis(10)).await;
            1
        });
        {
            let w = Waker::from(Arc::new(PanicOnWake));
            let mut cx = Context::from_waker(&w);
            assert!(Pin::new(&mut h).poll(&mut cx).is_pending());
        }
        std::thread::sleep(Duration::from_millis(50));
        assert!(h.is_finished());
        drop(h);
        rt.shutdown(Duration::from_secs(5)).unwrap();
    });
}

// `shutdown(Duration::MAX)` ("wait as long as it takes"): the deadline
// `Instant::now() + timeout` overflowed and panicked in the caller.
#[test]
fn shutdown_with_an_unbounded_timeout() {
    let rt = rt(1);
    assert_eq!(rt.block_on(async { 3 }), 3);
    assert_eq!(rt.shutdown(Duration::MAX), Ok(()));
}
