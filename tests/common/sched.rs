//! Scaffolding shared by the `sched_*` integration tests: the watchdog a
//! test body runs under, the lock that runs a binary's timing tests one at
//! a time, two-core runtimes on the first two CPUs of the process mask, a
//! thread's run-queue wait from its `schedstat`, and a drop counter.
//!
//! Each test file includes it as `#[path = "common/sched.rs"] mod common;`
//! and uses a part of it (so each binary has its own [`serial`] lock).
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc as std_mpsc, Arc, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

use corelane::sched::{self, Idle, Runtime};
use corelane::topology::{self, CpuId};

/// Generous limit for one test body; reaching it means a hang.
pub const WATCHDOG: Duration = Duration::from_secs(60);
/// What `shutdown` may take in these tests.
pub const SHUTDOWN: Duration = Duration::from_secs(5);

/// Runs `f` on its own thread and fails if it has not returned within
/// [`WATCHDOG`]; a panic in `f` is re-raised here with its payload.
pub fn bounded<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    bounded_by(WATCHDOG, "hang", f)
}

/// [`bounded`], holding the [`serial`] lock throughout.
pub fn serial_bounded<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    let _serial = serial();
    bounded(f)
}

/// [`bounded`] with another limit, and `hang` as what reaching it means.
pub fn bounded_by<R: Send + 'static>(
    limit: Duration,
    hang: &str,
    f: impl FnOnce() -> R + Send + 'static,
) -> R {
    let (done_tx, done_rx) = std_mpsc::channel();
    let body = thread::spawn(move || {
        let r = f();
        let _ = done_tx.send(());
        r
    });
    match done_rx.recv_timeout(limit) {
        // `Disconnected`: `f` panicked, `join` hands the panic back.
        Ok(()) | Err(std_mpsc::RecvTimeoutError::Disconnected) => match body.join() {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        },
        Err(std_mpsc::RecvTimeoutError::Timeout) => {
            panic!("test body still running after {limit:?}: {hang}")
        }
    }
}

static SERIAL: Mutex<()> = Mutex::new(());

/// One test at a time in this binary, for tests that measure time or keep
/// both cores busy (a failed one poisons nothing).
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The first two CPUs of the process mask.
pub fn two_cpus() -> [CpuId; 2] {
    let cpus: Vec<CpuId> = topology::allowed_cpus()
        .expect("read the process mask")
        .iter()
        .take(2)
        .collect();
    assert_eq!(
        cpus.len(),
        2,
        "the sched tests need two CPUs in the process mask"
    );
    [cpus[0], cpus[1]]
}

/// Two unpinned cores on [`two_cpus`] that idle by `idle`, the rest of
/// the builder left for the caller.
pub fn two_core_builder(idle: Idle) -> sched::Builder {
    Runtime::builder().cores(two_cpus()).pin(false).idle(idle)
}

/// Two unpinned cores that park when idle.
pub fn two_cores() -> Runtime {
    two_core_builder(Idle::Park)
        .build()
        .expect("build a two-core runtime")
}

/// Time the calling thread has spent runnable but not running (waiting on
/// a run queue) since it started: the second field of
/// `/proc/thread-self/schedstat`, zero where the kernel does not say.
pub fn queued() -> Duration {
    run_queue_wait("/proc/thread-self/schedstat")
}

/// [`queued`] of another thread of this process.
pub fn queued_of(tid: u32) -> Duration {
    run_queue_wait(&format!("/proc/self/task/{tid}/schedstat"))
}

/// The run-queue wait in the `schedstat` file at `path`.
fn run_queue_wait(path: &str) -> Duration {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse().ok())
        .map_or(Duration::ZERO, Duration::from_nanos)
}

/// Counts its drops; the counter is shared with the test.
pub struct DropCount(pub Arc<AtomicUsize>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub fn us(n: u64) -> Duration {
    Duration::from_micros(n)
}
