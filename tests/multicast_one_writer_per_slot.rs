//! Many publishers on one multicast ring: a slot has at most one writer at a
//! time, whoever is subscribed. A claim of position `q` waits (reports
//! `Full`) while the claim of `q - capacity` is still being written, even
//! when no gating node sits below that claim: with only lossy cursors
//! subscribed, or after the last gating node left mid-claim and a new one
//! joined at the claim cursor.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use corelane::queue::multicast::{Builder, LossyTryRecvError};
use corelane::queue::wait::WaitStrategy;
use corelane::queue::PushError;

/// With only a lossy cursor subscribed, a second publisher cannot claim the
/// slot a first one is still filling (the second publish runs inside the
/// first one's fill closure).
#[test]
fn lossy_only_second_publisher_waits_for_the_slot_being_written() {
    let mut b = Builder::new(1, || (0u64, 0u64));
    let l = b.lossy_cursor();
    let (mut p1, mut h) = b.build_multi().unwrap();
    let mut lossy = h.lossy(l);
    let mut p2 = p1.clone();
    p1.push_with(|v| {
        assert_eq!(p2.push((2, 2)), Err(PushError::Full((2, 2))));
        *v = (1, 1);
    })
    .unwrap();
    assert_eq!(lossy.pop(), Ok((1, 1)));
    assert_eq!(p2.push((2, 2)), Ok(1));
    assert_eq!(lossy.pop(), Ok((2, 2)));
    assert_eq!(lossy.pop(), Err(LossyTryRecvError::Empty));
}

/// The last gating cursor leaves while a claim is being written and a new
/// cursor joins at the claim cursor: a second publisher still cannot take
/// the slot, and the joiner then reads what it publishes.
#[test]
fn join_at_the_claim_cursor_mid_write_keeps_one_writer_per_slot() {
    let (mut p1, h) = {
        let mut b = Builder::new(1, String::new);
        let c = b.cursor();
        let (tx, mut h) = b.build_multi().unwrap();
        let cursor = h.cursor(c);
        (tx, (h, cursor))
    };
    let joiner = p1.joiner();
    let mut p2 = p1.clone();
    let mut late = None;
    let old = h.1;
    p1.push_with(|v| {
        drop(old);
        let c = joiner.subscribe();
        assert_eq!(c.sequence(), 1, "joins at the claim cursor");
        late = Some(c);
        assert!(matches!(
            p2.push("second".to_string()),
            Err(PushError::Full(_))
        ));
        *v = "first".to_string();
    })
    .unwrap();
    let mut late = late.unwrap();
    assert_eq!(p2.push("second".to_string()), Ok(1));
    assert_eq!(&*late.pop().unwrap(), "second");
    drop(h.0);
}

/// A publisher blocked on a slot another publisher is still writing wakes
/// when that write is published (every multi-producer publish notifies the
/// room cell), and not before.
#[test]
fn blocked_publisher_wakes_when_the_earlier_claim_is_published() {
    let mut b = Builder::new(1, || 0u64);
    let l = b.lossy_cursor();
    let (mut p1, mut h) = b.build_multi().unwrap();
    let mut lossy = h.lossy(l);
    let mut p2 = p1.clone();
    let in_fill = Arc::new(Barrier::new(2));
    let release = Arc::new(AtomicBool::new(false));
    let (in_fill2, release2) = (in_fill.clone(), release.clone());
    let t1 = thread::spawn(move || {
        p1.push_with(|v| {
            in_fill2.wait();
            // Acquire: pairs with the main thread's Release store below.
            while !release2.load(Ordering::Acquire) {
                thread::sleep(Duration::from_millis(1));
            }
            *v = 1;
        })
        .unwrap();
    });
    in_fill.wait();
    let done = Arc::new(AtomicBool::new(false));
    let done2 = done.clone();
    let t2 = thread::spawn(move || {
        let seq = p2.push_blocking(2, WaitStrategy::Park).unwrap();
        // Release: pairs with the main thread's Acquire load below.
        done2.store(true, Ordering::Release);
        seq
    });
    thread::sleep(Duration::from_millis(50));
    // Acquire: pairs with the second publisher's Release store of `done`.
    assert!(
        !done.load(Ordering::Acquire),
        "the second publisher wrote into a slot still being filled"
    );
    // Release: pairs with the first publisher's Acquire loads of the flag.
    release.store(true, Ordering::Release);
    t1.join().unwrap();
    assert_eq!(t2.join().unwrap(), 1);
    let mut seen = Vec::new();
    loop {
        match lossy.pop() {
            Ok(v) => seen.push(v),
            Err(LossyTryRecvError::Lagged(_)) => {}
            Err(_) => break,
        }
    }
    assert_eq!(seen.last(), Some(&2));
}
