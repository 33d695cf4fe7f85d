//! Soundness review of `corelane::sched`: one test per finding, each of
//! which failed before the fix its comment describes.
//!
//! Scenarios that used to abort the process run in a child process (this
//! binary, filtered to the one test), so an abort is a failed exit status
//! instead of the end of the whole test run. Scenarios that used to hang
//! run under a watchdog.

use corelane::sched::{self, Idle, Priority, Runtime};
use std::time::Duration;

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
