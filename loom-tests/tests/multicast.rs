//! loom models of `queue::multicast` (capacity 2, two or three threads).
//!
//! Run with:
//! `RUSTFLAGS="--cfg corelane_loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release
//!  -p corelane-loom-tests --test multicast --target-dir target/loom`
//!
//! Readers access slots through loom cells (`process` runs its handler inside
//! the cell access; `Item` derefs through it), so a publisher overwriting a
//! slot that a reader has not released is reported by loom as a causality
//! violation, besides the value checks. The first models spin with
//! `try_*` calls (the non-blocking paths); the others block with
//! `WaitStrategy::Park`, which keeps the models small (a parked thread is not
//! scheduled) and checks the wake-ups at the same time.
#![cfg(corelane_loom)]

use corelane::queue::multicast::{broadcast, Builder, Cursor};
use corelane::queue::wait::WaitStrategy;
use corelane::queue::{PopError, PushError};
use corelane_loom_tests::multicast::{count_work, park_one, publish_park, work_one};
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;

/// Publishes `value`, yielding to the model while the ring is full.
fn publish<M: corelane::queue::multicast::Mode>(
    tx: &mut corelane::queue::multicast::Publisher<usize, M>,
    value: usize,
) -> u64 {
    let mut v = value;
    loop {
        match tx.try_publish(v) {
            Ok(seq) => return seq,
            Err(PushError::Full(x) | PushError::Busy(x)) => {
                v = x;
                thread::yield_now();
            }
            Err(e) => panic!("publish: {e}"),
        }
    }
}

/// Reads one item through `process`, yielding while none is there; `None`
/// once the stream ended.
fn read_one(c: &mut Cursor<usize>, mut check: impl FnMut(usize, u64)) -> Option<()> {
    loop {
        match c.process(1, |v, seq, _| check(*v, seq)) {
            Ok(_) => return Some(()),
            Err(PopError::Empty | PopError::Busy) => thread::yield_now(),
            Err(PopError::Disconnected) => return None,
            Err(e) => panic!("{e}"),
        }
    }
}

/// The producer never overwrites a slot a cursor has not released: three
/// items through two slots, read in order with the right values.
#[test]
fn gating() {
    loom::model(|| {
        let (mut tx, mut cs) = broadcast(2, || usize::MAX, 1);
        let mut c = cs.pop().unwrap();
        let t = thread::spawn(move || {
            for i in 0..3 {
                assert_eq!(publish(&mut tx, i), i as u64);
            }
        });
        for i in 0..3 {
            read_one(&mut c, |v, seq| assert_eq!((v, seq), (i, i as u64))).unwrap();
        }
        t.join().unwrap();
    });
}

/// A cursor declared after another never reads an item before the other has
/// released it. (The items are published first: the race modelled is
/// between the two cursors.)
#[test]
fn dependency_order() {
    loom::model(|| {
        let mut b = Builder::new(2, || usize::MAX);
        let first = b.cursor();
        let second = b.cursor();
        b.after(second, &[first]);
        let (mut tx, mut h) = b.build().unwrap();
        let (mut first, mut second) = (h.cursor(first), h.cursor(second));
        for i in 0..2 {
            publish(&mut tx, i);
        }
        drop(tx);
        let done = Arc::new(AtomicUsize::new(0));
        let d1 = done.clone();
        let t = thread::spawn(move || {
            while park_one(&mut first, |v, _| {
                // Relaxed: ordered before the release of `first`'s position.
                d1.store(v + 1, Ordering::Relaxed);
            })
            .is_some()
            {}
        });
        let mut n = 0;
        while park_one(&mut second, |v, _| {
            // Relaxed suffices iff `second` acquired `first`'s release.
            assert!(done.load(Ordering::Relaxed) > v, "read before `first`");
            n += 1;
        })
        .is_some()
        {}
        assert_eq!(n, 2);
        t.join().unwrap();
    });
}

/// Two producers claim by CAS; the reader sees each item exactly once, never
/// a claimed-but-unwritten slot (the factory value `MAX`).
#[test]
fn multi_producer_publication() {
    loom::model(|| {
        let mut b = Builder::new(2, || usize::MAX);
        let c = b.cursor();
        let (tx, mut h) = b.build_multi().unwrap();
        let mut c = h.cursor(c);
        let ts: Vec<_> = (0..2)
            .map(|i| {
                let mut tx = tx.clone();
                thread::spawn(move || publish(&mut tx, i))
            })
            .collect();
        drop(tx);
        let mut seen = [usize::MAX; 2];
        for _ in 0..2 {
            read_one(&mut c, |v, seq| seen[seq as usize] = v).unwrap();
        }
        let seqs: Vec<u64> = ts.into_iter().map(|t| t.join().unwrap()).collect();
        // Each producer's item sits at the sequence its claim returned.
        assert_eq!(seen[seqs[0] as usize], 0);
        assert_eq!(seen[seqs[1] as usize], 1);
        assert!(read_one(&mut c, |_, _| unreachable!()).is_none());
    });
}

/// Each item goes to exactly one worker of a group (one item published
/// before the workers start, one while they run).
#[test]
fn worker_group_exactly_once() {
    loom::model(|| {
        let mut b = Builder::new(2, || usize::MAX);
        let g = b.group(2);
        let (mut tx, mut h) = b.build().unwrap();
        publish(&mut tx, 0);
        let (counts, ts) = count_work::<2>(h.workers(g));
        publish_park(&mut tx, 1);
        drop(tx);
        ts.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(counts.get(), [1, 1]);
    });
}

/// A cursor joining while the producer runs reads a gap-free run of items
/// from where it started, and the producer (which also drives the first
/// cursor) never overwrites them early.
#[test]
fn join_while_publishing() {
    loom::model(|| {
        let (mut tx, mut cs) = broadcast(2, || usize::MAX, 1);
        let mut c = cs.pop().unwrap();
        let joiner = tx.joiner();
        let j = thread::spawn(move || {
            let mut late = joiner.subscribe();
            let mut next = late.sequence();
            while park_one(&mut late, |v, seq| {
                assert_eq!((v as u64, seq), (next, next));
                next += 1;
            })
            .is_some()
            {}
            assert_eq!(next, 3);
        });
        for i in 0..3 {
            publish_park(&mut tx, i);
            park_one(&mut c, |v, _| assert_eq!(v, i)).unwrap();
        }
        drop(tx);
        j.join().unwrap();
    });
}

/// A publisher parked on a joiner's provisional position is woken when the
/// joiner moves to its start (this model found that lost wake-up). It needs
/// a third thread (loom never lets a yielding thread pass a runnable one, so
/// with two threads the producer's backoff always lets the joiner finish
/// first) and one slot; with three threads two preemptions take far too
/// long, and one finds the bug in seconds, so this model pins the bound to
/// 1 (about 10 s since publishers mark slots only for lossy cursors).
#[test]
fn join_wakes_a_parked_publisher() {
    let mut model = loom::model::Builder::new();
    model.preemption_bound = Some(1);
    model.check(|| {
        let (mut tx, mut cs) = broadcast(1, || usize::MAX, 1);
        let mut c = cs.pop().unwrap();
        let joiner = tx.joiner();
        let p = thread::spawn(move || {
            for i in 0..2 {
                publish_park(&mut tx, i);
            }
        });
        let j = thread::spawn(move || {
            let mut late = joiner.subscribe();
            let mut next = late.sequence();
            while park_one(&mut late, |v, seq| {
                assert_eq!((v as u64, seq), (next, next));
                next += 1;
            })
            .is_some()
            {}
            assert_eq!(next, 2);
        });
        while park_one(&mut c, |v, seq| assert_eq!(v as u64, seq)).is_some() {}
        p.join().unwrap();
        j.join().unwrap();
    });
}

/// A cursor leaving stops gating: with the ring full, a parked publisher
/// gets through once the cursor that held the ring leaves.
#[test]
fn leave_stops_gating() {
    loom::model(|| {
        let (mut tx, mut cs) = broadcast(2, || usize::MAX, 2);
        let quitter = cs.pop().unwrap();
        let mut c = cs.pop().unwrap();
        for i in 0..2 {
            publish(&mut tx, i);
        }
        let q = thread::spawn(move || drop(quitter));
        for i in 0..2 {
            park_one(&mut c, |v, _| assert_eq!(v, i)).unwrap();
        }
        publish_park(&mut tx, 2); // needs `quitter`'s slot
        park_one(&mut c, |v, _| assert_eq!(v, 2)).unwrap();
        q.join().unwrap();
    });
}

/// Park on both sides: a parked cursor is woken by a publish and by the
/// publisher's drop, a parked publisher by a release. A lost wake-up shows
/// up as a deadlock.
#[test]
fn park_and_wake() {
    loom::model(|| {
        let (mut tx, mut cs) = broadcast(1, || usize::MAX, 1);
        let mut c = cs.pop().unwrap();
        let t = thread::spawn(move || {
            let mut sum = 0;
            loop {
                match c.next_blocking(WaitStrategy::Park) {
                    Ok(item) => sum += *item,
                    Err(PopError::Disconnected) => return sum,
                    Err(e) => panic!("{e}"),
                }
            }
        });
        tx.publish_blocking(1, WaitStrategy::Park).unwrap();
        tx.publish_blocking(2, WaitStrategy::Park).unwrap();
        drop(tx);
        assert_eq!(t.join().unwrap(), 3);
    });
}

/// A worker group gating a full ring: the publisher parks on the group's
/// released position, and a member that announced a claim and then lost
/// the race (or found nothing) must wake it when it withdraws the
/// announcement (that wake-up was missing: publisher and both workers
/// slept for ever; this model, checked to deadlock without the fix, takes
/// about two minutes). One slot, two items, two members, all parking.
#[test]
fn group_gating_wakes_a_parked_publisher() {
    let mut model = loom::model::Builder::new();
    // Three threads: two preemptions take far too long; one reaches the
    // lost wake-up (stale announcement, withdrawn after the release).
    model.preemption_bound = Some(1);
    model.check(|| {
        let mut b = Builder::new(1, || usize::MAX);
        let g = b.group(2);
        let (mut tx, mut h) = b.build().unwrap();
        let (counts, ts) = count_work::<2>(h.workers(g));
        publish_park(&mut tx, 0);
        publish_park(&mut tx, 1); // needs the group to release slot 0
        drop(tx);
        ts.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(counts.get(), [1, 1]);
    });
}

/// A worker group joining while the producer runs: its (single) worker
/// reads a gap-free run of items from where the group started, and the
/// producer never overwrites them early (the same handshake as a cursor's
/// join, through the group's claim cursor).
#[test]
fn group_join_while_publishing() {
    loom::model(|| {
        let (mut tx, mut cs) = broadcast(2, || usize::MAX, 1);
        let mut c = cs.pop().unwrap();
        let joiner = tx.joiner();
        let j = thread::spawn(move || {
            let mut w = joiner.subscribe_group(1, &[]).unwrap().pop().unwrap();
            let mut seen = Vec::new();
            while work_one(&mut w, |v, _| seen.push(v)).is_some() {}
            // A suffix of 0..3, in order.
            let first = 3 - seen.len();
            assert!(seen.iter().copied().eq(first..3), "{seen:?}");
        });
        for i in 0..3 {
            publish_park(&mut tx, i);
            park_one(&mut c, |v, _| assert_eq!(v, i)).unwrap();
        }
        drop(tx);
        j.join().unwrap();
    });
}

/// A single producer's batch: its values are written before any of its
/// positions reads as published (loom's cells report a read racing the
/// write). Was broken: the batch's stamps went out before the values.
#[test]
fn single_producer_batch_publication() {
    loom::model(|| {
        let (mut tx, mut cs) = broadcast(2, || usize::MAX, 1);
        let mut c = cs.pop().unwrap();
        let t = thread::spawn(move || {
            while tx.try_publish_batch(2, |k, v| *v = 10 + k).is_err() {
                thread::yield_now();
            }
        });
        for i in 0..2 {
            read_one(&mut c, |v, seq| assert_eq!((v, seq), (10 + i, i as u64))).unwrap();
        }
        t.join().unwrap();
    });
}
