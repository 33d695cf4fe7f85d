//! loom models of the multicast protocols `multicast.rs` does not cover:
//! the async register/retry path, lossy cursors joining and leaving, many
//! publishers with only lossy (or freshly joined) subscribers, worker
//! members leaving and groups joining after a dependency, a dependent
//! cursor rewired when its upstream leaves (`OnFailure::Rewire`), and
//! dependents stopped where an upstream failed (`OnFailure::Fail`).
//!
//! Run with:
//! `RUSTFLAGS="--cfg corelane_loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release
//!  -p corelane-loom-tests --test multicast_more --target-dir target/loom`
//!
//! Each model was checked to fail with the step it guards weakened (a
//! temporary edit of `src/`); its doc comment says which edit, and how it
//! failed. Slots are loom cells, so two writers in one slot, or a write
//! racing a gating reader, is a causality violation; a lossy read that
//! accepts a copy overlapping an overwrite trips the slot probe inside the
//! read. Lossy values themselves are not checked (see `drain_lossy`). A
//! lost wake-up is a loom "deadlock"; loom then aborts the test binary
//! ("panic in a destructor during cleanup") rather than failing one test.
#![cfg(corelane_loom)]

use corelane::queue::multicast::{broadcast, Builder, Dep, RecvError};
use corelane::queue::wait::WaitStrategy;
use corelane::queue::PushError;
use corelane_loom_tests::multicast::{drain_lossy, park_one, publish_park, work_one, Counts};
use loom::future::block_on;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;

// ---------------------------------------------------------------------------
// 1. The async register/retry path (`wait::poll_retry`)
// ---------------------------------------------------------------------------

/// A task awaiting `Cursor::recv` is woken by each publish and by the end of
/// the stream; a task awaiting `Publisher::send` on a full ring (one
/// slot) is woken by the release. Both sides run under
/// `loom::future::block_on`, so a lost wake-up is a loom deadlock.
///
/// Weakened (each fails with "deadlock; threads = [(Id(0), Blocked(..)),
/// (Id(1), Blocked(..))]"): the re-check after registering in `poll_retry`
/// replaced by `None`; `light_barrier` an empty function under loom (only
/// the waiter's side fences).
#[test]
fn async_recv_and_publish_wake() {
    loom::model(|| {
        let (mut tx, mut cs) = broadcast(1, || usize::MAX, 1);
        let mut c = cs.pop().unwrap();
        let t = thread::spawn(move || {
            let mut next = 0;
            loop {
                match block_on(c.recv()) {
                    Ok(item) => assert_eq!((*item, item.sequence()), (next, next as u64)),
                    Err(RecvError::Disconnected) => return next,
                    Err(e) => panic!("{e}"),
                }
                next += 1;
            }
        });
        for i in 0..2 {
            assert_eq!(block_on(tx.send(i)), Ok(()));
        }
        drop(tx);
        assert_eq!(t.join().unwrap(), 2);
    });
}

// ---------------------------------------------------------------------------
// 2. Lossy cursors joining and leaving (the mark handshake)
// ---------------------------------------------------------------------------

/// Drains `l` on this thread and checks that it accounted for every item
/// from where it started to the end of the stream (`end`). Reads by
/// seqlock copy (`copied`), the protocol these models were written for;
/// the cloning reads have their own models in `multicast_lossy_clone.rs`.
fn drain_to(l: corelane::queue::multicast::LossyCursor<usize>, end: u64) {
    let mut l = l.copied();
    let start = l.sequence();
    let (read, missed) = drain_lossy(&mut l);
    assert_eq!(start + read + missed, end, "start {start}");
}

/// A lossy cursor joins a single-producer ring that had none (the
/// publisher does not mark slots) while items flow, and reads to the end:
/// no accepted copy overlaps an unmarked overwrite (the probe assert in
/// `lossy::read`). One slot, three items; the publisher thread also drives
/// the gating cursor, so it laps the lossy cursor.
///
/// Weakened (each fails with "corelane (loom): a lossy read accepted a copy
/// that overlapped an overwrite"): the `join_barrier()` in
/// `Joiner::subscribe_lossy` removed; its `bump_version()` removed.
///
/// Not caught, and not a gap of the model: removing the publisher's
/// `recheck_mark` (the call, or its light barrier; also together with the
/// light barrier in `make_room`). Every publish ends with a notify, whose
/// light barrier sits between the publish's stamp store and the next
/// claim's version check, and `make_room`'s join handshake alone keeps a
/// publisher's limit within a ring of where a joiner starts, lossy or not;
/// either pairs with the joiner's barrier.
#[test]
fn lossy_join_while_publishing() {
    loom::model(|| {
        let (mut tx, mut cs) = broadcast(1, || usize::MAX, 1);
        let mut c = cs.pop().unwrap();
        let joiner = tx.joiner();
        let j = thread::spawn(move || drain_to(joiner.subscribe_lossy(), 3));
        for i in 0..3 {
            publish_park(&mut tx, i);
            park_one(&mut c, |v, _| assert_eq!(v, i)).unwrap();
        }
        drop(tx);
        j.join().unwrap();
    });
}

/// Mark toggling: the only lossy cursor leaves (the publisher stops
/// marking at its next refresh) and another joins while items flow; the
/// joiner reads to the end without an accepted copy overlapping an
/// overwrite. One slot, three items, the publisher driving the gating
/// cursor as above.
///
/// Weakened: the `join_barrier()` in `Joiner::subscribe_lossy` removed
/// fails with "corelane (loom): a lossy read accepted a copy that
/// overlapped an overwrite" (loom needs about three minutes to reach that
/// interleaving; the model passes in about ten seconds). Removing the
/// join's `bump_version()` is caught by `lossy_join_while_publishing` but
/// not here within two preemptions.
#[test]
fn lossy_leave_then_join_while_publishing() {
    loom::model(|| {
        let mut b = Builder::new(1, || usize::MAX);
        let (c, first) = (b.cursor(), b.lossy_cursor());
        let (mut tx, mut h) = b.build().unwrap();
        let (mut c, first) = (h.cursor(c), h.lossy(first));
        let joiner = tx.joiner();
        let j = thread::spawn(move || {
            drop(first);
            drain_to(joiner.subscribe_lossy(), 3);
        });
        for i in 0..3 {
            publish_park(&mut tx, i);
            park_one(&mut c, |v, _| assert_eq!(v, i)).unwrap();
        }
        drop(tx);
        j.join().unwrap();
    });
}

// ---------------------------------------------------------------------------
// 3. Many publishers: one writer per slot (`lap_free`)
// ---------------------------------------------------------------------------

/// Two `MultiPublisher` clones publish concurrently into one slot with only
/// a lossy cursor subscribed (so the gating floor is the claim cursor
/// itself), while the cursor reads: loom's cell tracking reports two
/// writers in one slot, and the slot probe an accepted torn copy.
///
/// Weakened: `lap_free` returning `true` fails with "Causality violation:
/// Concurrent write accesses to `UnsafeCell`" (the second claimer writes the
/// slot the first is still filling).
#[test]
fn multi_publishers_lossy_only() {
    loom::model(|| {
        let mut b = Builder::new(1, || usize::MAX);
        let l = b.lossy_cursor();
        let (tx, mut h) = b.build_multi().unwrap();
        let l = h.lossy(l);
        let ts: Vec<_> = (0..2)
            .map(|i| {
                let mut tx = tx.clone();
                thread::spawn(move || publish_park(&mut tx, i))
            })
            .collect();
        drop(tx);
        drain_to(l, 2);
        let mut seqs: Vec<u64> = ts.into_iter().map(|t| t.join().unwrap()).collect();
        seqs.sort_unstable();
        assert_eq!(seqs, [0, 1]);
    });
}

/// Many publishers, and while a claim is in flight (inside the first
/// publisher's fill closure) the only gating cursor leaves and a new one
/// joins, at the claim cursor, past the slot still being written: the
/// other publisher still cannot take that slot, and the joiner reads a
/// gap-free run to the end with each publisher's value at the sequence its
/// claim returned. A lossy cursor keeps the ring subscribed between the
/// leave and the join (it is never read).
///
/// Weakened: `lap_free` returning `true` fails with "Causality violation:
/// Concurrent write accesses to `UnsafeCell`".
#[test]
fn multi_publishers_gating_leave_and_join_mid_claim() {
    loom::model(|| {
        let mut b = Builder::new(1, || usize::MAX);
        let (c, l) = (b.cursor(), b.lossy_cursor());
        let (mut tx, mut h) = b.build_multi().unwrap();
        let (c, _keep) = (h.cursor(c), h.lossy(l));
        let mut tx2 = tx.clone();
        let t = thread::spawn(move || publish_park(&mut tx2, 1));
        let joiner = tx.joiner();
        let mut late = None;
        let mut old = Some(c);
        let seq = loop {
            let r = tx.push_with(|v| {
                drop(old.take());
                late = Some(joiner.subscribe());
                *v = 0;
            });
            match r {
                Ok(seq) => break seq,
                Err(PushError::Full(_)) => {
                    // The other publisher claimed first: the old cursor
                    // still gates; release its item, then try again.
                    park_one(old.as_mut().unwrap(), |v, _| assert_eq!(v, 1)).unwrap();
                }
                Err(e) => panic!("{e}"),
            }
        };
        drop(tx);
        let mut late = late.unwrap();
        let mut seen = [None; 2];
        let mut next = late.sequence();
        while park_one(&mut late, |v, seq| {
            assert_eq!(seq, next);
            seen[seq as usize] = Some(v);
            next += 1;
        })
        .is_some()
        {}
        assert_eq!(next, 2);
        for (i, seq) in [(0, seq), (1, t.join().unwrap())] {
            if let Some(v) = seen[seq as usize] {
                assert_eq!(v, i);
            }
        }
    });
}

// ---------------------------------------------------------------------------
// 4. Worker groups: a member leaving, a group joining after a dependency
// ---------------------------------------------------------------------------

/// A member of a two-worker group leaves (its `Worker` is dropped, after
/// trying one item) while the group runs: every item is handled exactly
/// once by the live members, nothing is lost, and the publisher never
/// overwrites a slot the remaining member holds (loom's cells).
///
/// Weakened: `Registry::leave` removing a group's node when its *first*
/// member leaves (ignoring the handle count) fails with "Causality
/// violation: Concurrent read and write accesses" (the publisher
/// overwrites the slot the remaining member reads, the group no longer
/// gating it).
#[test]
fn worker_leaves_while_the_group_runs() {
    // Three threads: two preemptions take about two minutes, one takes two
    // seconds and still finds the weakened leave below.
    let mut model = loom::model::Builder::new();
    model.preemption_bound = Some(1);
    model.check(|| {
        let mut b = Builder::new(1, || usize::MAX);
        let g = b.group(2);
        let (mut tx, mut h) = b.build().unwrap();
        let mut ws = h.workers(g);
        let quitter = ws.pop().unwrap();
        let counts = Arc::new(Counts::<2>::new());
        let (c1, c2) = (counts.clone(), counts.clone());
        let mut w = ws.pop().unwrap();
        let stayer = thread::spawn(move || while work_one(&mut w, |v, _| c1.hit(v)).is_some() {});
        let leaver = thread::spawn(move || {
            let mut q = quitter;
            if let Ok(item) = q.pop() {
                c2.hit(*item);
            }
            drop(q); // leaves the group
        });
        for i in 0..2 {
            publish_park(&mut tx, i);
        }
        drop(tx);
        stayer.join().unwrap();
        leaver.join().unwrap();
        assert_eq!(counts.get(), [1, 1]);
    });
}

/// A worker group joins after a cursor (`subscribe_group_after(2, &[dep])`)
/// while items flow: its members never read an item before the cursor has
/// released it, handle a gap-free run from where the group started, each
/// item once, and the publisher never overwrites what they hold. The two
/// members share one thread (alternating, parking), which keeps the model
/// at two threads; the publisher thread drives the cursor.
///
/// Weakened: the upstream cursor positions a dependent reads
/// (`Barrier::upstream`) loaded Relaxed instead of Acquire fails with "read
/// before the dep". Not caught, by design of the check: `join_point`
/// ignoring the deps (starting at the published position) only makes the
/// group skip items the cursor had not released yet, never read them early.
#[test]
fn group_joins_after_a_cursor() {
    loom::model(|| {
        let (mut tx, mut cs) = broadcast(1, || usize::MAX, 1);
        let mut c = cs.pop().unwrap();
        let dep = c.id();
        let released = Arc::new(AtomicUsize::new(0));
        let seen_released = released.clone();
        let joiner = tx.joiner();
        let j = thread::spawn(move || {
            let mut ws = joiner.subscribe_group_after(2, &[dep]).unwrap();
            let mut seen = Vec::new();
            'run: loop {
                for w in &mut ws {
                    let got = work_one(w, |v, seq| {
                        assert_eq!(v as u64, seq);
                        // Relaxed: ordered before `c`'s release, which the
                        // member acquired through its barrier.
                        assert!(
                            seen_released.load(Ordering::Relaxed) > v,
                            "read before the dep"
                        );
                        seen.push(v);
                    });
                    if got.is_none() {
                        break 'run;
                    }
                }
            }
            let first = 3 - seen.len();
            assert!(seen.iter().copied().eq(first..3), "{seen:?}");
        });
        for i in 0..3 {
            publish_park(&mut tx, i);
            park_one(&mut c, |v, _| {
                assert_eq!(v, i);
                // Relaxed: sequenced before `c` releases item `i`, which the
                // group's barrier acquires (the check above).
                released.store(i + 1, Ordering::Relaxed);
            })
            .unwrap();
        }
        drop(tx);
        j.join().unwrap();
    });
}

// ---------------------------------------------------------------------------
// 5. Rewiring a dependent when its upstream leaves
// ---------------------------------------------------------------------------

/// A chain `x -> a -> b` (each runs after the one before); `a` reads one
/// item and leaves while items flow, so `b` must rewire to run after `x`.
/// `b` reads every item, in order, never before `x` released it, and never
/// a slot the publisher has not published or is overwriting (loom's
/// cells). One slot, two items; the publisher thread drives `x`.
///
/// Weakened: (a) the version check and barrier refresh in the cursor's
/// `nothing_ready` skipped fails with "deadlock" (`b` waits on `a`'s frozen
/// position for ever); (b) `Registry::leave` dropping the edge instead of
/// inheriting the leaver's upstream (`b` becomes a root reader) fails with
/// "read before the upstream".
#[test]
fn dependent_rewires_when_its_upstream_leaves() {
    loom::model(|| {
        let mut graph = Builder::new(1, || usize::MAX);
        let (x, a, b) = (graph.cursor(), graph.cursor(), graph.cursor());
        graph
            .after(a, &[Dep::rewire(x)])
            .after(b, &[Dep::rewire(a)]);
        let (mut tx, mut h) = graph.build().unwrap();
        let (mut x, mut a, mut b) = (h.cursor(x), h.cursor(a), h.cursor(b));
        let released = Arc::new(AtomicUsize::new(0));
        let seen_released = released.clone();
        let leaver = thread::spawn(move || {
            park_one(&mut a, |v, _| assert_eq!(v, 0)).unwrap();
            drop(a);
        });
        let last = thread::spawn(move || {
            let mut next = 0;
            while park_one(&mut b, |v, seq| {
                assert_eq!((v, seq), (next, next as u64));
                // Relaxed: ordered before `x`'s release (see above).
                assert!(
                    seen_released.load(Ordering::Relaxed) > v,
                    "read before the upstream"
                );
                next += 1;
            })
            .is_some()
            {}
            assert_eq!(next, 2);
        });
        for i in 0..2 {
            publish_park(&mut tx, i);
            park_one(&mut x, |v, _| {
                assert_eq!(v, i);
                // Relaxed: sequenced before `x` releases item `i`, which `b`
                // acquires through its barrier (the check above).
                released.store(i + 1, Ordering::Relaxed);
            })
            .unwrap();
        }
        drop(tx);
        leaver.join().unwrap();
        last.join().unwrap();
    });
}

// ---------------------------------------------------------------------------
// 6. Failure policy: dependents stop where an upstream failed
// ---------------------------------------------------------------------------

/// A worker dies holding item 0 (its batch leaked, then the worker
/// dropped) while the other member idles, so the group lives on; a cursor
/// after the group with `OnFailure::Fail` parks meanwhile. It must never
/// read item 0 (loom would also flag the unreleased slot only once the
/// producer reuses it; here the check is the value) and must wake with
/// `UpstreamFailed` at 0.
///
/// Weakened (fails with "a Fail dependent read an item the group lost"):
/// `Worker::drop` storing `held = IDLE` before the failure mark, so the
/// dependent can see the group's position move past item 0 before it sees
/// the mark.
#[test]
fn a_worker_dying_mid_run_stops_its_fail_dependents() {
    loom::model(|| {
        let mut graph = Builder::new(2, || usize::MAX);
        let g = graph.group(2);
        let d = graph.cursor();
        graph.after(d, &[g]);
        let (mut tx, mut h) = graph.build().unwrap();
        let mut ws = h.workers(g);
        let _idle = ws.pop().unwrap();
        let mut w0 = ws.pop().unwrap();
        let mut d = h.cursor(d);
        for i in 0..2 {
            publish_park(&mut tx, i);
        }
        let dies = thread::spawn(move || {
            let item = w0.pop().unwrap();
            assert_eq!(*item, 0);
            std::mem::forget(item); // dies holding it
            drop(w0);
        });
        match d.pop_blocking(WaitStrategy::Park) {
            Err(RecvError::UpstreamFailed(f)) => assert_eq!(f.at, 0),
            Ok(item) => panic!("a Fail dependent read an item the group lost: {}", *item),
            Err(e) => panic!("{e}"),
        }
        dies.join().unwrap();
    });
}

/// The journal reads item 0, dies holding item 1 and leaves, while logic
/// (after the journal, `OnFailure::Fail`) parks for items. Logic reads
/// item 0 only after the journal released it, never item 1, and wakes
/// with `UpstreamFailed` at 1 (the leave's notify and the kept edge).
///
/// Weakened: `Registry::leave` rewiring `Fail` edges as it did before the
/// policy existed fails with "logic read an item the journal never
/// released"; `leave` not marking the departed journal failed fails with
/// "deadlock" (logic waits on the frozen position for ever).
#[test]
fn a_journal_leaving_mid_stream_stops_logic() {
    loom::model(|| {
        let mut graph = Builder::new(2, || usize::MAX);
        let (j, l) = (graph.cursor(), graph.cursor());
        graph.after(l, &[j]);
        let (mut tx, mut h) = graph.build().unwrap();
        let (mut j, mut l) = (h.cursor(j), h.cursor(l));
        for i in 0..2 {
            publish_park(&mut tx, i);
        }
        let released = Arc::new(AtomicUsize::new(0));
        let seen_released = released.clone();
        let journal = thread::spawn(move || {
            park_one(&mut j, |v, _| {
                assert_eq!(v, 0);
                // Relaxed: ordered before the release of `j`'s position.
                released.store(1, Ordering::Relaxed);
            })
            .unwrap();
            let item = j.pop_blocking(WaitStrategy::Park).unwrap();
            std::mem::forget(item); // dies holding item 1
            drop(j);
        });
        let mut read = 0;
        let why = loop {
            match l.pop_blocking(WaitStrategy::Park) {
                Ok(item) => {
                    assert_eq!(*item, read, "logic read an item the journal never released");
                    // Relaxed: the journal's store precedes its release of
                    // the position, which logic's barrier acquired.
                    assert!(
                        seen_released.load(Ordering::Relaxed) > *item,
                        "logic read an item the journal never released"
                    );
                    read += 1;
                }
                Err(e) => break e,
            }
        };
        assert_eq!(read, 1);
        assert_eq!(why.upstream_failed().map(|f| f.at), Some(1));
        journal.join().unwrap();
        drop(tx);
    });
}

/// A worker leaks its batch of item 0 and takes again (item 1) while the
/// other member idles; a cursor after the group with `OnFailure::Fail`
/// parks meanwhile. The new claim must not carry the group's position
/// past item 0 unmarked: the dependent never reads item 0 and wakes with
/// `UpstreamFailed` at 0.
///
/// Weakened: without `WorkerState::leaked_run` (the take overwrites `held`
/// with its new claim) fails with "a Fail dependent read an item the group
/// lost"; `leaked_run` storing `held = IDLE` before the mark fails the same
/// way.
#[test]
fn a_worker_that_leaked_a_run_and_takes_again_stops_its_fail_dependents() {
    loom::model(|| {
        let mut graph = Builder::new(2, || usize::MAX);
        let g = graph.group(2);
        let d = graph.cursor();
        graph.after(d, &[g]);
        let (mut tx, mut h) = graph.build().unwrap();
        let mut ws = h.workers(g);
        let _idle = ws.pop().unwrap();
        let mut w0 = ws.pop().unwrap();
        let mut d = h.cursor(d);
        for i in 0..2 {
            publish_park(&mut tx, i);
        }
        let leaks = thread::spawn(move || {
            let item = w0.pop().unwrap();
            assert_eq!(*item, 0);
            std::mem::forget(item);
            assert_eq!(*w0.pop().unwrap(), 1);
            w0
        });
        match d.pop_blocking(WaitStrategy::Park) {
            Err(RecvError::UpstreamFailed(f)) => assert_eq!(f.at, 0),
            Ok(item) => panic!("a Fail dependent read an item the group lost: {}", *item),
            Err(e) => panic!("{e}"),
        }
        drop(leaks.join().unwrap());
    });
}
