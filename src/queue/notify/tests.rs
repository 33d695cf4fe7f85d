use super::*;
use crate::sync::Arc;

#[test]
fn state_fields_do_not_overlap() {
    assert_eq!(MODE_BITS & ASYNC, 0);
    assert_eq!(MODE_BITS & PARKED, 0);
    assert_eq!(ASYNC & PARKED, 0);
    assert_eq!(WOKEN & (MODE_BITS | ASYNC | PARKED), 0);
    assert_eq!(MODE_BITS | WOKEN | ASYNC | PARKED, usize::MAX);
    assert_eq!(ONE_ASYNC & ASYNC, ONE_ASYNC);
}

/// Frequent waits switch a cell to symmetric fences; it stays
/// switched, and a registered waker is still woken every time.
#[test]
fn frequent_waits_switch_and_still_wake() {
    let n = Notify::new();
    let woken = Arc::new(AtomicUsize::new(0));
    let waker = counting_waker(woken.clone());
    for round in 0..2 * SWITCH_BURST as usize {
        let _ = n.register(&waker);
        n.notify();
        // Relaxed: the waker ran on this thread, inside `notify`.
        assert_eq!(woken.load(Ordering::Relaxed), round + 1);
    }
    // Unless a test of the degraded mode failed the barrier meanwhile,
    // the cell has switched (membarrier, or no membarrier at all).
    if barrier_trusted() {
        assert!(n.is_symmetric());
    }
}

/// After a failed membarrier the switch never completes (its barrier is
/// not trusted): every wait reports the degraded mode, so async waits
/// re-poll and parked threads re-check on a timer.
#[cfg(target_os = "linux")]
#[test]
fn failed_barrier_never_completes_the_switch() {
    crate::sync::simulate_membarrier_failure();
    let n = Notify::new();
    let woken = Arc::new(AtomicUsize::new(0));
    let waker = counting_waker(woken.clone());
    for _ in 0..2 * SWITCH_BURST {
        assert!(!n.register(&waker), "a failed barrier is reported");
        n.notify();
    }
    assert!(!n.is_symmetric());
}

/// A waker registered twice is counted once and woken once.
#[test]
fn re_registration_counts_once() {
    let n = Notify::new();
    let woken = Arc::new(AtomicUsize::new(0));
    let waker = counting_waker(woken.clone());
    let _ = n.register(&waker);
    let _ = n.register(&waker);
    // Relaxed loads: one thread registers, notifies (running the waker)
    // and checks, so program order is all the ordering needed.
    assert_eq!(n.state.load(Ordering::Relaxed) & ASYNC, ONE_ASYNC);
    n.notify();
    assert_eq!(woken.load(Ordering::Relaxed), 1);
    assert_eq!(n.state.load(Ordering::Relaxed) & ASYNC, 0);
}

/// A registered waker whose `wake` panics does not keep the others
/// asleep: every taken waker is woken, then the panic goes on to the
/// notifier.
#[test]
fn a_panicking_waker_does_not_keep_the_others_asleep() {
    struct Panics;
    impl std::task::Wake for Panics {
        fn wake(self: Arc<Self>) {
            panic!("waker panicked (as the test asks)");
        }
    }
    let n = Notify::new();
    let woken = Arc::new(AtomicUsize::new(0));
    // Registered first, so woken first (the list keeps its order).
    let _ = n.register(&Waker::from(Arc::new(Panics)));
    let _ = n.register(&counting_waker(woken.clone()));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| n.notify()));
    assert!(r.is_err(), "the waker's panic reaches the notifier");
    // Relaxed: the wakers ran on this thread, inside `notify`.
    assert_eq!(
        woken.load(Ordering::Relaxed),
        1,
        "the second waker was woken"
    );
    assert_eq!(n.state.load(Ordering::Relaxed) & ASYNC, 0);
    // The cell still works: a waker registered now is woken.
    let _ = n.register(&counting_waker(woken.clone()));
    n.notify();
    // Relaxed: woken on this thread again.
    assert_eq!(woken.load(Ordering::Relaxed), 2);
}

fn counting_waker(count: Arc<AtomicUsize>) -> Waker {
    struct Count(Arc<AtomicUsize>);
    impl std::task::Wake for Count {
        fn wake(self: Arc<Self>) {
            // Relaxed: a counter (an RMW loses no wake); the tests wake
            // and read it on one thread.
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
    Waker::from(Arc::new(Count(count)))
}
