//! Stress tests of `queue::multicast`: several producers and cursors, graph
//! edges, worker groups and cursors joining and leaving, all at once.
//! Every broadcast cursor must see every item exactly once in publication
//! order; every worker-group item must be handled exactly once.

use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;

use corelane::queue::multicast::RecvError;
use corelane::queue::multicast::{Builder, Cursor, Worker};
use corelane::queue::wait::WaitStrategy;

/// Items per producer (smaller in debug builds so `cargo test` stays fast).
const N: u64 = if cfg!(debug_assertions) {
    20_000
} else {
    300_000
};
/// Yield, not spin: these tests run many threads on few CPUs.
const WAIT: WaitStrategy = WaitStrategy::Yield;

/// Drains a cursor, returning every item in the order seen, and checking the
/// sequence numbers are gap-free from where the cursor started.
fn drain(mut c: Cursor<u64>) -> Vec<u64> {
    let mut seen = Vec::new();
    let mut next = c.sequence();
    loop {
        match c.pop_batch_blocking(97, WAIT) {
            Ok(batch) => {
                assert_eq!(batch.sequence(), next, "gap or repeat");
                next += batch.len() as u64;
                seen.extend(batch.iter().copied());
            }
            Err(RecvError::Disconnected) => return seen,
            Err(e) => panic!("{e}"),
        }
    }
}

/// Drains a worker, marking each item handled in `marks`.
fn work(mut w: Worker<u64>, marks: Arc<Vec<AtomicU8>>, max: usize) -> usize {
    let mut n = 0;
    loop {
        match w.pop_batch_blocking(max, WAIT) {
            Ok(batch) => {
                for &v in &batch {
                    // Relaxed: an RMW, so two handlings of `v` can't both
                    // read 0; the totals are read after the joins.
                    let prev = marks[v as usize].fetch_add(1, Ordering::Relaxed);
                    assert_eq!(prev, 0, "item {v} handled twice");
                    n += 1;
                }
            }
            Err(RecvError::Disconnected) => return n,
            Err(e) => panic!("{e}"),
        }
    }
}

fn marks(n: u64) -> Arc<Vec<AtomicU8>> {
    Arc::new((0..n).map(|_| AtomicU8::new(0)).collect())
}

/// One producer; journal and replicate in parallel, logic after both, and a
/// worker group after the journal.
#[test]
fn single_producer_graph() {
    let mut b = Builder::new(64, || 0u64);
    let journal = b.cursor();
    let replicate = b.cursor();
    let logic = b.cursor();
    let group = b.group(3);
    b.after(logic, &[journal, replicate])
        .after(group, &[journal]);
    let (mut tx, mut h) = b.build().unwrap();
    let cursors = [journal, replicate, logic].map(|id| h.cursor(id));
    let handled = marks(N);
    let workers: Vec<_> = h
        .workers(group)
        .into_iter()
        .enumerate()
        .map(|(i, w)| {
            let m = handled.clone();
            thread::spawn(move || work(w, m, 1 + i * 7))
        })
        .collect();
    let readers: Vec<_> = cursors
        .into_iter()
        .map(|c| thread::spawn(move || drain(c)))
        .collect();
    let mut i = 0;
    while i < N {
        let n = ((i % 13) + 1).min(N - i) as usize;
        if i % 2 == 0 {
            tx.push_batch_blocking(n, |k, v| *v = i + k as u64, WAIT)
                .unwrap();
            i += n as u64;
        } else {
            tx.push_blocking(i, WAIT).unwrap();
            i += 1;
        }
    }
    drop(tx);
    let expected: Vec<u64> = (0..N).collect();
    for r in readers {
        assert_eq!(r.join().unwrap(), expected);
    }
    let total: usize = workers.into_iter().map(|w| w.join().unwrap()).sum();
    assert_eq!(total as u64, N);
    // Relaxed: the workers have been joined, which orders their marks.
    assert!(handled.iter().all(|m| m.load(Ordering::Relaxed) == 1));
}

/// Three producers; two broadcast cursors must agree on one publication
/// order that keeps each producer's items in order; a worker group handles
/// each item once.
#[test]
fn multi_producer_broadcast_and_group() {
    const P: u64 = 3;
    let mut b = Builder::new(32, || 0u64);
    let a = b.cursor();
    let c = b.cursor();
    let group = b.group(2);
    b.after(group, &[a]);
    let (tx, mut h) = b.build_multi().unwrap();
    let readers: Vec<_> = [a, c]
        .map(|id| h.cursor(id))
        .into_iter()
        .map(|cur| thread::spawn(move || drain(cur)))
        .collect();
    let handled = marks(N * P);
    let workers: Vec<_> = h
        .workers(group)
        .into_iter()
        .map(|w| {
            let m = handled.clone();
            thread::spawn(move || work(w, m, 16))
        })
        .collect();
    let producers: Vec<_> = (0..P)
        .map(|p| {
            let mut tx = tx.clone();
            thread::spawn(move || {
                let mut i = 0;
                while i < N {
                    if i % 5 == 0 && N - i >= 4 {
                        tx.push_batch_blocking(4, |k, v| *v = (i + k as u64) * P + p, WAIT)
                            .unwrap();
                        i += 4;
                    } else {
                        tx.push_blocking(i * P + p, WAIT).unwrap();
                        i += 1;
                    }
                }
            })
        })
        .collect();
    drop(tx);
    for p in producers {
        p.join().unwrap();
    }
    let seen: Vec<Vec<u64>> = readers.into_iter().map(|r| r.join().unwrap()).collect();
    assert_eq!(seen[0], seen[1], "cursors disagree on the order");
    assert_eq!(seen[0].len() as u64, N * P);
    let mut next = [0u64; P as usize];
    for &v in &seen[0] {
        let (i, p) = (v / P, (v % P) as usize);
        assert_eq!(i, next[p], "producer {p} out of order");
        next[p] += 1;
    }
    let total: usize = workers.into_iter().map(|w| w.join().unwrap()).sum();
    assert_eq!(total as u64, N * P);
}

/// Cursors join and leave while one producer publishes; each joiner reads a
/// gap-free run from where it joined; the producer never stalls on a cursor
/// that left.
#[test]
fn join_and_leave_while_publishing() {
    let mut b = Builder::new(16, || 0u64);
    let anchor = b.cursor();
    let (mut tx, mut h) = b.build().unwrap();
    let anchor = h.cursor(anchor);
    let anchor_id = anchor.id();
    let joiner = h.joiner();
    let anchor = thread::spawn(move || drain(anchor));
    let joins = Arc::new(AtomicUsize::new(0));
    // Root cursors, cursors after the anchor, and one-worker groups after
    // the anchor join and leave over and over; each must read a gap-free,
    // in-order run from where it started.
    let churn: Vec<_> = (0..3)
        .map(|k| {
            let (joiner, joins) = (joiner.clone(), joins.clone());
            thread::spawn(move || loop {
                joins.fetch_add(1, Ordering::Relaxed);
                if k == 2 {
                    // The anchor leaves once it has read everything.
                    let Ok(mut ws) = joiner.subscribe_group_after(1, &[anchor_id]) else {
                        return;
                    };
                    let mut w = ws.pop().unwrap();
                    let mut expect = None;
                    for _ in 0..40 {
                        match w.pop_batch_blocking(8, WAIT) {
                            Ok(b) => {
                                for &v in &b {
                                    assert!(expect.is_none_or(|e| v == e), "{v} {expect:?}");
                                    expect = Some(v + 1);
                                }
                            }
                            Err(RecvError::Disconnected) => return,
                            Err(e) => panic!("{e}"),
                        }
                    }
                    continue;
                }
                let mut c = if k == 0 {
                    joiner.subscribe()
                } else {
                    // The anchor leaves once it has read everything.
                    match joiner.subscribe_after(&[anchor_id]) {
                        Ok(c) => c,
                        Err(_) => return,
                    }
                };
                let mut expect = c.sequence();
                for _ in 0..(50 + k * 31) {
                    match c.pop_batch_blocking(8, WAIT) {
                        Ok(b) => {
                            for &v in &b {
                                assert_eq!(v, expect);
                                expect += 1;
                            }
                        }
                        Err(RecvError::Disconnected) => return,
                        Err(e) => panic!("{e}"),
                    }
                }
            })
        })
        .collect();
    // Publish at least N items, and go on until the churners have been
    // through more joins than their first three, so the run really overlaps
    // joins with publishing (on a loaded machine the publisher could
    // otherwise finish before anyone joins).
    let t0 = std::time::Instant::now();
    let mut published = 0;
    // Relaxed: a progress counter; no data is read on its strength.
    while published < N || joins.load(Ordering::Relaxed) <= 3 {
        assert!(t0.elapsed().as_secs() < 120, "no cursor could join");
        tx.push_blocking(published, WAIT).unwrap();
        published += 1;
    }
    drop(tx);
    assert_eq!(anchor.join().unwrap(), (0..published).collect::<Vec<_>>());
    for c in churn {
        c.join().unwrap();
    }
    // Relaxed: the churners have been joined.
    assert!(joins.load(Ordering::Relaxed) > 3);
}

/// Parked readers and a parked publisher on a tiny ring still deliver
/// everything.
#[test]
fn park_everywhere() {
    let n = N / 4;
    let mut b = Builder::new(2, || 0u64);
    let a = b.cursor();
    let z = b.cursor();
    b.after(z, &[a]);
    let (mut tx, mut h) = b.build().unwrap();
    let readers: Vec<_> = [a, z]
        .map(|id| h.cursor(id))
        .into_iter()
        .map(|mut c| {
            thread::spawn(move || {
                let mut sum = 0;
                while let Ok(item) = c.pop_blocking(WaitStrategy::Park) {
                    sum += *item;
                }
                sum
            })
        })
        .collect();
    for i in 0..n {
        tx.push_blocking(i, WaitStrategy::Park).unwrap();
    }
    drop(tx);
    for r in readers {
        assert_eq!(r.join().unwrap(), n * (n - 1) / 2);
    }
}

/// Batches only, one reader taking small runs: every value read is the one
/// published at that position. (Regression: a single producer's batch
/// published its stamps before writing the values, because a guard meant
/// only for many producers was built and dropped on the spot; readers then
/// saw the previous lap's values. Failed in most runs.)
#[test]
fn batch_values_are_written_before_they_are_published() {
    for max in [1, 5, 16, 97] {
        let (mut tx, mut cs) = corelane::queue::multicast::broadcast(64, || 0u64, 1);
        let mut c = cs.pop().unwrap();
        let reader = thread::spawn(move || {
            let mut next = 0u64;
            loop {
                match c.pop_batch_blocking(max, WaitStrategy::BusySpin) {
                    Ok(batch) => {
                        for &v in &batch {
                            assert_eq!(v, next, "max {max}");
                            next += 1;
                        }
                    }
                    Err(RecvError::Disconnected) => return next,
                    Err(e) => panic!("{e}"),
                }
            }
        });
        let mut i = 0;
        while i < N {
            let n = ((i % 13) + 1).min(N - i) as usize;
            tx.push_batch_blocking(n, |k, v| *v = i + k as u64, WaitStrategy::BusySpin)
                .unwrap();
            i += n as u64;
        }
        drop(tx);
        assert_eq!(reader.join().unwrap(), N);
    }
}
