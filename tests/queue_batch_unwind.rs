//! What a panic in the caller's code inside a batch call leaves behind,
//! beyond `queue_stress`'s `batch_panics_leave_a_working_ring`: a
//! `push_iter` whose iterator panics after some items went in still wakes
//! a consumer parked on the ring, and a `pop_batch` whose unread items
//! panic when dropped still frees every slot it claimed.

use std::iter::Peekable;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use corelane::queue::wait::WaitStrategy::Park;
use corelane::queue::{mpmc, mpsc, spmc, spsc, Disconnected, PushError};

/// Yields `0..n`, then panics.
struct PanicsAfter(u32, u32);

impl Iterator for PanicsAfter {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        if self.0 == self.1 {
            panic!("the iterator gave up");
        }
        self.0 += 1;
        Some(self.0 - 1)
    }
}

/// A consumer parks on an empty ring; `push` (a `push_iter` that panics
/// after two items) must wake it: it receives both items. The producer
/// handles stay alive throughout, so only a notify can end the wait.
fn parked_consumer_sees_a_panicking_push_iter<P: Send + 'static>(
    mut tx: P,
    pop_blocking: impl FnOnce() -> Vec<Result<u32, Disconnected>> + Send + 'static,
    push: impl FnOnce(&mut P, &mut Peekable<PanicsAfter>),
) {
    let (done, got) = std_mpsc::channel();
    let consumer = thread::spawn(move || {
        let _ = done.send(pop_blocking());
    });
    // Let the consumer finish its spin and park (not relied on for
    // correctness: a consumer that has not parked yet finds the items).
    thread::sleep(Duration::from_millis(100));
    let mut iter = PanicsAfter(0, 2).peekable();
    let r = catch_unwind(AssertUnwindSafe(|| push(&mut tx, &mut iter)));
    assert!(r.is_err(), "the iterator panicked");
    let got = got
        .recv_timeout(Duration::from_secs(5))
        .expect("the parked consumer was never woken for the items pushed before the panic");
    assert_eq!(got, [Ok(0), Ok(1)]);
    consumer.join().unwrap();
    drop(tx);
}

#[test]
fn mpmc_push_iter_panic_wakes_a_parked_consumer() {
    let (tx, mut rx) = mpmc::channel::<u32>(8);
    parked_consumer_sees_a_panicking_push_iter(
        tx,
        move || vec![rx.pop_blocking(Park), rx.pop_blocking(Park)],
        |tx, it| {
            let _ = tx.push_iter(it);
        },
    );
}

#[test]
fn mpsc_shared_push_iter_panic_wakes_a_parked_consumer() {
    let (tx, mut rx) = mpsc::channel::<u32>(8);
    // A second handle: the staged, claim-per-item path.
    let spare = tx.clone();
    parked_consumer_sees_a_panicking_push_iter(
        tx,
        move || vec![rx.pop_blocking(Park), rx.pop_blocking(Park)],
        |tx, it| {
            let _ = tx.push_iter(it);
        },
    );
    drop(spare);
}

#[test]
fn sole_producer_push_iter_panic_wakes_a_parked_consumer() {
    let (tx, mut rx) = mpsc::channel::<u32>(8);
    parked_consumer_sees_a_panicking_push_iter(
        tx,
        move || vec![rx.pop_blocking(Park), rx.pop_blocking(Park)],
        |tx, it| {
            let _ = tx.push_iter(it);
        },
    );
    let (tx, mut rx) = spmc::channel::<u32>(8);
    parked_consumer_sees_a_panicking_push_iter(
        tx,
        move || vec![rx.pop_blocking(Park), rx.pop_blocking(Park)],
        |tx, it| {
            let _ = tx.push_iter(it);
        },
    );
    let (tx, mut rx) = spsc::channel::<u32>(8);
    parked_consumer_sees_a_panicking_push_iter(
        tx,
        move || vec![rx.pop_blocking(Park), rx.pop_blocking(Park)],
        |tx, it| {
            let _ = tx.push_iter(it);
        },
    );
}

/// An item whose drop panics if it is armed, counting every drop.
struct Armed(bool, Arc<AtomicUsize>);

impl Drop for Armed {
    fn drop(&mut self) {
        self.1.fetch_add(1, Ordering::SeqCst);
        if self.0 && !thread::panicking() {
            panic!("drop of an armed item");
        }
    }
}

/// Takes nothing from the run it is handed.
struct TakesNothing;

impl Extend<Armed> for TakesNothing {
    fn extend<I: IntoIterator<Item = Armed>>(&mut self, _: I) {}
}

/// A claimed run whose first untaken item panics when dropped: the items
/// after it are still read and dropped, and their slots freed, so the ring
/// takes a full capacity of pushes again.
fn claimed_run_survives_a_panicking_drop<P, C>(
    mut tx: P,
    mut rx: C,
    push: impl Fn(&mut P, Armed) -> Result<(), PushError<Armed>>,
    pop_batch: impl Fn(&mut C, &mut TakesNothing, usize) -> Result<usize, Disconnected>,
    cap: usize,
) {
    let drops = Arc::new(AtomicUsize::new(0));
    for armed in [true, false, false] {
        assert!(push(&mut tx, Armed(armed, drops.clone())).is_ok());
    }
    let r = catch_unwind(AssertUnwindSafe(|| {
        pop_batch(&mut rx, &mut TakesNothing, 3)
    }));
    assert!(r.is_err(), "the armed item's drop panicked");
    assert_eq!(
        drops.load(Ordering::SeqCst),
        3,
        "every claimed item dropped"
    );
    for i in 0..cap {
        assert!(
            push(&mut tx, Armed(false, drops.clone())).is_ok(),
            "push {i} of {cap}: a slot of the claimed run was never freed"
        );
    }
    drop((tx, rx));
    assert_eq!(drops.load(Ordering::SeqCst), 3 + cap);
}

#[test]
fn mpmc_pop_batch_survives_a_panicking_drop() {
    let (tx, rx) = mpmc::channel::<Armed>(4);
    let cap = rx.capacity();
    claimed_run_survives_a_panicking_drop(
        tx,
        rx,
        |tx, v| tx.push(v),
        |rx, out, n| rx.pop_batch(out, n),
        cap,
    );
}

#[test]
fn spmc_pop_batch_survives_a_panicking_drop() {
    let (tx, rx) = spmc::channel::<Armed>(4);
    let cap = rx.capacity();
    claimed_run_survives_a_panicking_drop(
        tx,
        rx,
        |tx, v| tx.push(v),
        |rx, out, n| rx.pop_batch(out, n),
        cap,
    );
}
