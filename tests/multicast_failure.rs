//! The dependency failure policy of `queue::multicast` (`OnFailure`): a
//! node that runs after a failed node stops where it failed (`Fail`, the
//! default) or carries on past it (`Rewire`), and a node that read the
//! stream to its end has not failed.
//!
//! The journal → business-logic pipeline of the issue: the journal thread
//! panics mid-stream; logic must never read an item the journal did not
//! process.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use corelane::queue::multicast::{
    Builder, Cursor, Dep, NodeId, Publisher, RecvError, TryRecvError, UpstreamFailed,
};
use corelane::queue::wait::WaitStrategy;
use corelane::queue::PushTimeoutError;

const N: u64 = 20_000;
/// The item the journal's handler panics on.
const DIES_AT: u64 = 7_777;

/// Publishes `0..N`, giving up once `stop` is set (a pipeline whose
/// consumers stopped never frees room again); returns how many it pushed.
fn publish(mut tx: Publisher<u64>, stop: Arc<AtomicBool>) -> u64 {
    for i in 0..N {
        loop {
            match tx.push_timeout(i, Duration::from_millis(1), WaitStrategy::Park) {
                Ok(seq) => {
                    assert_eq!(seq, i);
                    break;
                }
                // Relaxed: `stop` carries no data, only "give up".
                Err(PushTimeoutError::Timeout(_)) if stop.load(Ordering::Relaxed) => return i,
                Err(PushTimeoutError::Timeout(_)) => {}
                // Every reader stopped and left.
                Err(PushTimeoutError::Disconnected(_)) => return i,
            }
        }
    }
    N
}

/// Marks of the items the journal processed (`Relaxed`: the ring orders
/// the journal's release before logic's read).
fn marks() -> Arc<Vec<AtomicBool>> {
    Arc::new((0..N).map(|_| AtomicBool::new(false)).collect())
}

/// Logic: reads until its stream ends, checking each item was journaled;
/// returns how many it read and why it stopped.
fn logic(mut c: Cursor<u64>, journaled: Arc<Vec<AtomicBool>>) -> (u64, RecvError) {
    let mut next = 0;
    loop {
        match c.pop_batch_blocking(64, WaitStrategy::Park) {
            Ok(batch) => {
                for &v in &batch {
                    assert_eq!(v, next, "gap or repeat");
                    // Relaxed: the journal marked `v` before releasing it,
                    // and our read of `v` acquired that release (`marks`).
                    assert!(
                        journaled[v as usize].load(Ordering::Relaxed),
                        "logic read item {v}, which the journal never processed"
                    );
                    next += 1;
                }
            }
            Err(e) => return (next, e),
        }
    }
}

/// The journal's thread: processes items (marking them) in `process`, and
/// panics on `DIES_AT`, which unwinds the thread and drops the cursor.
fn journal(mut c: Cursor<u64>, journaled: Arc<Vec<AtomicBool>>) -> thread::JoinHandle<()> {
    thread::spawn(move || loop {
        let r = c.process(50, |&v, _, _| {
            assert!(v != DIES_AT, "the journal's disk is full");
            // Relaxed: ordered before logic's read by the cursor's Release
            // of the position (see `marks`).
            journaled[v as usize].store(true, Ordering::Relaxed);
        });
        match r {
            Ok(_) | Err(TryRecvError::Empty) => thread::yield_now(),
            Err(e) => panic!("{e}"),
        }
    })
}

#[test]
fn logic_stops_where_a_panicking_journal_died() {
    let mut b = Builder::new(64, || 0u64);
    let (j, l) = (b.cursor(), b.cursor());
    b.after(l, &[j]); // the default policy: OnFailure::Fail
    let (tx, mut h) = b.build().unwrap();
    let (j_cursor, l_cursor) = (h.cursor(j), h.cursor(l));
    let journaled = marks();
    let stop = Arc::new(AtomicBool::new(false));
    let publisher = {
        let stop = stop.clone();
        thread::spawn(move || publish(tx, stop))
    };
    let journal = journal(j_cursor, journaled.clone());
    let (read, why) = logic(l_cursor, journaled.clone());
    // Relaxed: a flag with no data behind it; the publisher polls it.
    stop.store(true, Ordering::Relaxed);
    assert!(journal.join().is_err(), "the journal panicked");
    let pushed = publisher.join().unwrap();
    assert!(
        pushed > DIES_AT && pushed < N,
        "the producer stalled behind logic"
    );
    assert_eq!(
        read, DIES_AT,
        "logic read every journaled item, and no other"
    );
    let f: UpstreamFailed = why.upstream_failed().expect("stopped by the failure");
    assert_eq!((f.node, f.at), (NodeId::from(j), DIES_AT));
}

/// The journal panics while it holds an item it took with `pop_blocking`
/// (not through `process`): the item is not released.
#[test]
fn a_journal_that_panics_holding_an_item_never_releases_it() {
    let mut b = Builder::new(8, || 0u64);
    let (j, l) = (b.cursor(), b.cursor());
    b.after(l, &[j]);
    let (mut tx, mut h) = b.build().unwrap();
    let (mut j, mut l) = (h.cursor(j), h.cursor(l));
    for i in 0..4 {
        tx.push(i).unwrap();
    }
    let journal = thread::spawn(move || {
        for _ in 0..2 {
            drop(j.pop_blocking(WaitStrategy::Park).unwrap());
        }
        let item = j.pop_blocking(WaitStrategy::Park).unwrap();
        assert_eq!(*item, 2);
        panic!("died holding item 2");
    });
    assert!(journal.join().is_err());
    assert_eq!(l.pop_batch(8).unwrap().len(), 2);
    assert!(matches!(
        l.pop_blocking(WaitStrategy::Park),
        Err(RecvError::UpstreamFailed(f)) if f.at == 2
    ));
}

/// A dependent parked on its upstream is woken by the upstream's failure
/// (no hang), and a caught panic in `process` releases what was handled;
/// the cursor reads the rest again.
#[test]
fn a_parked_dependent_wakes_when_its_upstream_fails() {
    let mut b = Builder::new(8, || 0u64);
    let (j, l) = (b.cursor(), b.cursor());
    b.after(l, &[j]);
    let (mut tx, mut h) = b.build().unwrap();
    let (mut j, mut l) = (h.cursor(j), h.cursor(l));
    for i in 0..3 {
        tx.push(i).unwrap();
    }
    let waiter = thread::spawn(move || {
        let mut seen = vec![];
        let why = loop {
            match l.pop_blocking(WaitStrategy::Park) {
                Ok(item) => seen.push(*item),
                Err(e) => break e,
            }
        };
        (seen, why)
    });
    thread::sleep(Duration::from_millis(20));
    let caught = catch_unwind(AssertUnwindSafe(|| {
        j.process(8, |&v, _, _| assert!(v != 1, "fails on 1"))
            .unwrap();
    }));
    assert!(caught.is_err());
    assert_eq!(j.sequence(), 1, "item 0 released, 1 and 2 not");
    assert_eq!(*j.pop().unwrap(), 1, "a kept cursor reads the item again");
    drop(j); // gone before item 2
    let (seen, why) = waiter.join().unwrap();
    assert_eq!(seen, [0, 1]);
    assert_eq!(why.upstream_failed().map(|f| f.at), Some(2));
}

#[test]
fn rewire_keeps_logic_running_past_a_dead_journal() {
    let mut b = Builder::new(64, || 0u64);
    let (j, l) = (b.cursor(), b.cursor());
    b.after(l, &[Dep::rewire(j)]);
    let (tx, mut h) = b.build().unwrap();
    let (j_cursor, mut l_cursor) = (h.cursor(j), h.cursor(l));
    let journaled = marks();
    let stop = Arc::new(AtomicBool::new(false));
    let publisher = {
        let stop = stop.clone();
        thread::spawn(move || publish(tx, stop))
    };
    let journal = journal(j_cursor, journaled.clone());
    let mut next = 0;
    let why = loop {
        match l_cursor.pop_batch_blocking(64, WaitStrategy::Park) {
            Ok(batch) => {
                for &v in &batch {
                    assert_eq!(v, next);
                    next += 1;
                }
            }
            Err(e) => break e,
        }
    };
    assert!(journal.join().is_err());
    assert_eq!(publisher.join().unwrap(), N);
    assert_eq!((next, why), (N, RecvError::Disconnected));
    // Relaxed: the journal thread has been joined, which orders its marks.
    let unjournaled = (0..N).filter(|&i| !journaled[i as usize].load(Ordering::Relaxed));
    assert!(unjournaled.count() > 0, "logic went on past the journal");
}

/// A journal that reads the stream to its end and then leaves has not
/// failed, even if it leaves long before logic catches up.
#[test]
fn a_journal_that_finished_is_not_a_failure() {
    let mut b = Builder::new(16, || 0u64);
    let (j, l) = (b.cursor(), b.cursor());
    b.after(l, &[j]);
    let (mut tx, mut h) = b.build().unwrap();
    let (mut j, mut l) = (h.cursor(j), h.cursor(l));
    for i in 0..10 {
        tx.push(i).unwrap();
    }
    drop(tx);
    while j.pop_batch(4).is_ok() {}
    assert_eq!(j.pop().unwrap_err(), TryRecvError::Disconnected);
    drop(j);
    let mut n = 0;
    let why = loop {
        match l.pop_blocking(WaitStrategy::Park) {
            Ok(_) => n += 1,
            Err(e) => break e,
        }
    };
    assert_eq!((n, why), (10, RecvError::Disconnected));
}

/// A journal that leaves at the very position the stream later ends at
/// cost logic nothing: the end of the stream wins.
#[test]
fn the_end_of_the_stream_wins_over_a_failure_at_the_same_point() {
    let mut b = Builder::new(8, || 0u64);
    let (j, l) = (b.cursor(), b.cursor());
    b.after(l, &[j]);
    let (mut tx, mut h) = b.build().unwrap();
    let (mut j, mut l) = (h.cursor(j), h.cursor(l));
    tx.push(1).unwrap();
    drop(j.pop().unwrap());
    drop(j); // left while the ring was open: failed at 1
    assert_eq!(*l.pop().unwrap(), 1);
    assert!(matches!(l.pop(), Err(TryRecvError::UpstreamFailed(_))));
    drop(tx); // the stream ends at 1 after all
    assert_eq!(l.pop().unwrap_err(), TryRecvError::Disconnected);
}

/// A worker that panics mid-run loses the rest of its run for the group:
/// the other worker goes on, a `Fail` dependent stops at the first lost
/// item, a `Rewire` dependent reads past it.
#[test]
fn a_worker_panicking_mid_run_fails_its_group_for_fail_dependents() {
    let mut b = Builder::new(16, || 0u64);
    let g = b.group(2);
    let (strict, lenient) = (b.cursor(), b.cursor());
    b.after(strict, &[g]).after(lenient, &[Dep::rewire(g)]);
    let (mut tx, mut h) = b.build().unwrap();
    let mut ws = h.workers(g);
    let (mut strict, mut lenient) = (h.cursor(strict), h.cursor(lenient));
    tx.push_batch(8, |i, v| *v = i as u64).unwrap();
    let mut w1 = ws.pop().unwrap();
    let mut w0 = ws.pop().unwrap();
    assert_eq!(w0.process(2, |_, _, _| {}), Ok(2));
    let panicked = thread::spawn(move || {
        w0.process(3, |&v, _, _| assert!(v != 3, "worker fails on 3"))
            .unwrap();
    })
    .join();
    assert!(panicked.is_err(), "w0 handled 2, died on 3, lost 4");
    // The other worker carries on after the lost run.
    assert_eq!(w1.pop_batch(8).unwrap().sequence(), 5);
    assert_eq!(strict.pop_batch(16).unwrap().len(), 3);
    let Err(TryRecvError::UpstreamFailed(f)) = strict.pop() else {
        panic!("strict must stop at the lost item")
    };
    assert_eq!((f.node, f.at), (NodeId::from(g), 3));
    assert_eq!(lenient.pop_batch(16).unwrap().len(), 8);
}

/// A group whose last member leaves before the end of the stream fails at
/// its claim position; one that drained the stream has not failed.
#[test]
fn a_group_that_leaves_early_fails_at_its_claim() {
    let mut b = Builder::new(8, || 0u64);
    let g = b.group(1);
    let after = b.cursor();
    b.after(after, &[g]);
    let (mut tx, mut h) = b.build().unwrap();
    let mut w = h.workers(g).pop().unwrap();
    let mut after = h.cursor(after);
    tx.push_batch(4, |i, v| *v = i as u64).unwrap();
    drop(w.pop_batch(2).unwrap());
    drop(w);
    assert_eq!(after.pop_batch(8).unwrap().len(), 2);
    assert!(matches!(
        after.pop_blocking(WaitStrategy::Park),
        Err(RecvError::UpstreamFailed(f)) if f.at == 2
    ));
}

/// A group keeps one failure mark for good: a `Fail` cursor that joins
/// after the group lost an item (its other member running on) starts past
/// the mark and fails on its first read; a `Rewire` one reads on.
#[test]
fn a_fail_cursor_joining_after_a_group_lost_items_fails_at_once() {
    let mut b = Builder::new(8, || 0u64);
    let g = b.group(2);
    let (mut tx, mut h) = b.build().unwrap();
    let mut ws = h.workers(g);
    tx.push_batch(4, |i, v| *v = i as u64).unwrap();
    std::mem::forget(ws[0].pop().unwrap());
    drop(ws.remove(0)); // item 0 lost: the group failed at 0
    drop(ws[0].pop_batch(8).unwrap());
    let mut strict = tx.joiner().subscribe_after(&[g]).unwrap();
    let mut lenient = tx.joiner().subscribe_after(&[Dep::rewire(g)]).unwrap();
    assert_eq!((strict.sequence(), lenient.sequence()), (4, 4));
    tx.push(4).unwrap();
    drop(ws[0].pop().unwrap());
    assert!(matches!(
        strict.pop(),
        Err(TryRecvError::UpstreamFailed(f)) if f.at == 0
    ));
    assert_eq!(*lenient.pop().unwrap(), 4);
}
