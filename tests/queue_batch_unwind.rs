//! What a panic in the caller's code inside a batch call leaves behind,
//! beyond `queue_stress`'s `batch_panics_leave_a_working_ring`: a
//! `push_iter` whose iterator panics after some items went in still wakes
//! a consumer parked on the ring.

use std::iter::Peekable;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc as std_mpsc;
use std::thread;
use std::time::Duration;

use corelane::queue::wait::WaitStrategy::Park;
use corelane::queue::{mpmc, mpsc, spmc, spsc, Disconnected};

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
