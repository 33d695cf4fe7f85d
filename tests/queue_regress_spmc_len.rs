//! REGRESSION TEST (was a bug reproducer; fixed in src/queue/stamped/mod.rs and spsc.rs by clamping a negative tail-head gap to 0).
//! `spmc::Consumer::len()` (and so `is_full()`) can report the ring as
//! *full* while at most one item has ever been in it.
//!
//! Cause (`src/queue/stamped/`): the single producer's `SoleProducer::push` stores
//! the slot stamp (`seq = pos + 1`, Release) *before* it stores `tail = pos +
//! 1`. A consumer in `SharedConsumer::pop` sees the stamp, CASes `head` to `pos + 1`
//! and returns, all inside that window; `Ring::len` then computes
//! `tail.wrapping_sub(head)` = `usize::MAX`, which `.min(capacity())` turns
//! into `capacity()`. (MPSC/MPMC claim `tail` by CAS before writing, so
//! `head <= tail` always holds there.) Fix: clamp a negative difference to 0
//! (`ahead(tail, head).max(0)`), or store `tail` before the stamp.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use corelane::queue::spmc;

/// Producer and consumer in lockstep: the producer pushes item `i` only
/// after the consumer acknowledged `i - 1`, so the ring never holds more
/// than one item and `len()` after a pop can only be 0 or 1.
#[test]
fn spmc_len_reports_full_ring_holding_at_most_one_item() {
    let rounds = if cfg!(debug_assertions) {
        1_000_000
    } else {
        2_000_000
    };
    let (mut tx, mut rx) = spmc::channel::<usize>(1024);
    let ack = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicUsize::new(0));
    let (ack2, stop2) = (ack.clone(), stop.clone());
    let producer = std::thread::spawn(move || {
        for i in 1..=rounds {
            tx.push(i).unwrap();
            let mut spins = 0u32;
            // Acquire: pairs with the consumer's Release store of `ack`,
            // so its pop of `i` happens before our push of `i + 1` (the
            // ring holds at most one item). `stop` carries no data.
            while ack2.load(Ordering::Acquire) != i {
                if stop2.load(Ordering::Acquire) != 0 {
                    return;
                }
                spins += 1;
                if spins.is_multiple_of(256) {
                    std::thread::yield_now();
                }
            }
        }
    });
    let mut seen = None;
    for i in 1..=rounds {
        // Spin (the window is a few instructions wide), yielding now and
        // then so an oversubscribed host still makes progress.
        let mut spins = 0u32;
        let v = loop {
            if let Ok(v) = rx.pop() {
                break v;
            }
            spins += 1;
            if spins.is_multiple_of(256) {
                std::thread::yield_now();
            }
        };
        assert_eq!(v, i);
        let len = rx.len();
        if len > 1 {
            seen = Some((i, len, rx.is_full()));
            // Release: pairs with the producer's Acquire load (only the
            // flag matters; `seen` stays on this thread).
            stop.store(1, Ordering::Release);
            break;
        }
        // Release: pairs with the producer's Acquire load of `ack`.
        ack.store(i, Ordering::Release);
    }
    producer.join().unwrap();
    if let Some((i, len, full)) = seen {
        panic!(
            "after pop #{i} (ring holds at most 1 item) len() = {len} of capacity {}, \
             is_full() = {full}",
            rx.capacity()
        );
    }
}
