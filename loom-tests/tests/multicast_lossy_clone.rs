//! loom models of the cloning lossy read (the announcement protocol in
//! `src/queue/multicast/lossy.rs`): a tap announces the slot it clones
//! from, a publisher about to overwrite that slot waits for the clone.
//!
//! Run with:
//! `RUSTFLAGS="--cfg corelane_loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release
//!  -p corelane-loom-tests --test multicast_lossy_clone --target-dir target/loom`
//!
//! The payload is a [`Witness`]: its clone reads a loom cell of its own and
//! its drop writes it, so a clone racing the overwrite (which drops the old
//! value) is a causality violation on the payload, besides the slot's own
//! cell; each value read is checked against its sequence number, and the
//! live witnesses are counted (none dropped twice, none leaked). Lossy-only
//! rings, so publishers never wait for room and lap the taps.
//!
//! Each model was checked to fail with the step it guards weakened (a
//! temporary edit of `src/`); its doc comment says which edit, and how.
#![cfg(corelane_loom)]

use corelane::queue::multicast::{Builder, LossyCursor, LossyRecvError};
use corelane::queue::wait::WaitStrategy;
use corelane_loom_tests::multicast::{drain_lossy, drain_lossy_with, Live, Witness};
use loom::thread;

/// Publishes witnesses of `0..n` (never `Full`: no node gates).
fn publish_all<M: corelane::queue::multicast::Mode>(
    tx: &mut corelane::queue::multicast::Publisher<Witness, M>,
    live: &Live,
    n: usize,
) {
    for i in 0..n {
        tx.push(live.witness(i)).unwrap();
    }
}

/// Drains a tap to the end, checking every value against its sequence
/// number; returns `(read, missed)`.
fn drain_checked<R: corelane::queue::multicast::ReadMode<Witness>>(
    l: &mut LossyCursor<Witness, R>,
) -> (u64, u64) {
    drain_lossy_with(l, |w, seq| assert_eq!(w.value() as u64, seq))
}

/// A publisher laps a tap that clones: two slots, three items, the third
/// overwriting the slot of the first while the tap may be cloning it.
///
/// Weakened, each fails within a second of model time with "Causality
/// violation: Concurrent read and write accesses" (the clone against the
/// overwrite): `begin_overwrite` skipping its wait for clones; its
/// `fence(SeqCst)` weakened to `write_fence()` (Release); the reader's
/// `fence(SeqCst)` in `Announced::enter` removed; the reader's decrement
/// Relaxed instead of Release. The reader's re-check of the stamp after
/// announcing removed fails the value check instead ("left: 2, right: 0":
/// item 2, announced for after it was published, returned as item 0).
#[test]
fn publisher_laps_a_cloning_tap() {
    loom::model(|| {
        let live = Live::default();
        let mut b = Builder::new(2, || live.witness(usize::MAX - 1));
        let l = b.lossy_cursor();
        let (mut tx, mut h) = b.build().unwrap();
        let mut l = h.lossy(l);
        let made = live.clone();
        let p = thread::spawn(move || publish_all(&mut tx, &made, 3));
        let (read, missed) = drain_checked(&mut l);
        assert_eq!(read + missed, 3);
        p.join().unwrap();
        drop((l, h));
        assert_eq!(live.count(), 0, "a witness leaked or dropped twice");
    });
}

/// Two taps clone out of one ring while the publisher laps both: one
/// slot's count holds two announcements at once, and the publisher waits
/// for both (and only then overwrites).
///
/// Weakened: `begin_overwrite` skipping its wait fails with "Causality
/// violation: Concurrent read and write accesses to `UnsafeCell`"; the
/// reader's decrement replaced by a store of 0 (the second tap's
/// announcement lost) fails the same way. The slowest model here: about
/// nine minutes either way.
#[test]
fn two_cloning_taps() {
    loom::model(|| {
        let live = Live::default();
        let mut b = Builder::new(2, || live.witness(usize::MAX - 1));
        let (a, c) = (b.lossy_cursor(), b.lossy_cursor());
        let (mut tx, mut h) = b.build().unwrap();
        let taps: Vec<_> = [h.lossy(a), h.lossy(c)]
            .into_iter()
            .map(|mut l| thread::spawn(move || drain_checked(&mut l)))
            .collect();
        publish_all(&mut tx, &live, 3);
        drop(tx);
        for t in taps {
            let (read, missed) = t.join().unwrap();
            assert_eq!(read + missed, 3);
        }
        drop(h);
        assert_eq!(live.count(), 0);
    });
}

/// A tap's `clone()` panics; its announcement is withdrawn on unwind, so
/// the publisher's overwrite of that slot does not wait for ever, and the
/// tap reads on from the same position.
///
/// Weakened: the announcement guard forgotten on unwind (the decrement only
/// on the normal path) fails with loom's "Model exceeded maximum number of
/// branches" (the publisher spins on the leaked count).
#[test]
fn a_panicking_clone_withdraws_its_announcement() {
    // Keep the asked-for panics out of the output (every other one goes
    // to the default hook).
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !info.to_string().contains("clone refused (as asked)") {
            default(info);
        }
    }));
    loom::model(|| {
        let live = Live::default();
        let mut b = Builder::new(2, || live.witness(usize::MAX - 1));
        let l = b.lossy_cursor();
        let (mut tx, mut h) = b.build().unwrap();
        let mut l = h.lossy(l);
        let made = live.clone();
        let p = thread::spawn(move || publish_all(&mut tx, &made, 3));
        live.panic_once();
        let mut skipped = 0;
        loop {
            let before = l.sequence();
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                l.pop_blocking(WaitStrategy::Park)
            }));
            match r {
                Err(_) => {
                    assert_eq!(l.sequence(), before, "a failed clone moved the tap");
                    break;
                }
                Ok(Err(LossyRecvError::Lagged(n))) => skipped += n,
                Ok(r) => panic!("the first clone did not panic (ok: {})", r.is_ok()),
            }
        }
        let (read, missed) = drain_checked(&mut l);
        assert_eq!(skipped + read + missed, 3);
        p.join().unwrap();
        drop((l, h));
        assert_eq!(live.count(), 0);
    });
}

/// A cloning tap joins while a publisher that had no lossy subscriber (so
/// it neither marks nor checks announcements) laps it: the publisher's
/// first claim after the join must see it (the join handshake of
/// `claim.rs`, which now also sets `cloning`). One slot, three items, the
/// publisher thread also driving a gating cursor.
///
/// Weakened: `Gating::resync` computing `cloning` as `false` fails with
/// "Causality violation: Concurrent read and write accesses"; the
/// `join_barrier()` in `Joiner::subscribe_lossy` removed fails the same
/// way. Not caught: `recheck_mark` setting `mark` but not `cloning`, for
/// the reason `lossy_join_while_publishing` in `multicast_more.rs` gives
/// for `recheck_mark` as a whole (the notify's light barrier and
/// `make_room`'s handshake also pair with the joiner's barrier).
#[test]
fn cloning_tap_joins_while_publishing() {
    loom::model(|| {
        let live = Live::default();
        let mut b = Builder::new(1, || live.witness(usize::MAX - 1));
        let c = b.cursor();
        let (mut tx, mut h) = b.build().unwrap();
        let mut c = h.cursor(c);
        let joiner = tx.joiner();
        let j = thread::spawn(move || {
            let mut l = joiner.subscribe_lossy();
            let start = l.sequence();
            let (read, missed) = drain_checked(&mut l);
            assert_eq!(start + read + missed, 3);
        });
        for i in 0..3 {
            tx.push_blocking(live.witness(i), WaitStrategy::Park)
                .unwrap();
            park_one_witness(&mut c, i);
        }
        drop(tx);
        j.join().unwrap();
        drop((c, h));
        assert_eq!(live.count(), 0);
    });
}

/// Reads one item of a gating cursor of witnesses, checking its value.
fn park_one_witness(c: &mut corelane::queue::multicast::Cursor<Witness>, want: usize) {
    let item = c.pop_blocking(WaitStrategy::Park).unwrap();
    assert_eq!(item.value(), want);
}

/// One tap copies (seqlock) and one clones, on one ring: the publisher must
/// keep checking announcements while any tap clones, even though a
/// seqlock tap is subscribed too.
///
/// Weakened: `Gating::resync` computing `cloning` as "no tap copies"
/// (`ring.copied_taps() == 0`) fails with "Causality violation: Concurrent
/// read and write accesses".
#[test]
fn copying_and_cloning_taps_together() {
    loom::model(|| {
        let mut b = Builder::new(2, || usize::MAX);
        let (a, c) = (b.lossy_cursor(), b.lossy_cursor());
        let (mut tx, mut h) = b.build().unwrap();
        let copying = h.lossy(a).copied();
        let mut cloning = h.lossy(c);
        let p = thread::spawn(move || {
            for i in 0..3 {
                tx.push(i).unwrap();
            }
        });
        let (read, missed) = drain_lossy(&mut cloning);
        assert_eq!(read + missed, 3);
        p.join().unwrap();
        drop(copying);
    });
}

/// Two `MultiPublisher` clones publish into one slot with only a cloning
/// tap subscribed: each claimer marks and waits on its own slot, and
/// `lap_free` keeps the second claimer out of a slot still being written.
///
/// Weakened: `begin_overwrite` skipping its wait fails with "Causality
/// violation: Concurrent read and write accesses to `UnsafeCell`".
#[test]
fn multi_publishers_and_a_cloning_tap() {
    loom::model(|| {
        let live = Live::default();
        let mut b = Builder::new(1, || live.witness(usize::MAX - 1));
        let l = b.lossy_cursor();
        let (tx, mut h) = b.build_multi().unwrap();
        let mut l = h.lossy(l);
        let ts: Vec<_> = (0..2)
            .map(|_| {
                let (mut tx, live) = (tx.clone(), live.clone());
                thread::spawn(move || {
                    tx.push_blocking(live.witness(7), WaitStrategy::Park)
                        .unwrap()
                })
            })
            .collect();
        drop(tx);
        let (read, missed) = drain_lossy_with(&mut l, |w, _| assert_eq!(w.value(), 7));
        assert_eq!(read + missed, 2);
        for t in ts {
            t.join().unwrap();
        }
        drop((l, h));
        assert_eq!(live.count(), 0);
    });
}

/// A cloning tap joins a many-producer ring that had none while a
/// `MultiPublisher` laps it (one slot, three items, the publisher thread
/// also driving a gating cursor): the claim's CAS is the store before the
/// publisher's `recheck_mark` barrier, so every overwrite of a position at
/// or past the joiner's start marks and waits for its clone.
#[test]
fn cloning_tap_joins_many_producers_while_publishing() {
    loom::model(|| {
        let live = Live::default();
        let mut b = Builder::new(1, || live.witness(usize::MAX - 1));
        let c = b.cursor();
        let (mut tx, mut h) = b.build_multi().unwrap();
        let mut c = h.cursor(c);
        let joiner = tx.joiner();
        let j = thread::spawn(move || {
            let mut l = joiner.subscribe_lossy();
            let start = l.sequence();
            let (read, missed) = drain_checked(&mut l);
            assert_eq!(start + read + missed, 3);
        });
        for i in 0..3 {
            tx.push_blocking(live.witness(i), WaitStrategy::Park)
                .unwrap();
            let item = c.pop_blocking(WaitStrategy::Park).unwrap();
            assert_eq!(item.value(), i);
        }
        drop(tx);
        j.join().unwrap();
        drop((c, h));
        assert_eq!(live.count(), 0);
    });
}
