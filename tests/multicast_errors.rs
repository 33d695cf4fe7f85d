//! Error paths of `queue::multicast`: typed errors (or documented panics),
//! never a hang.

use std::thread;
use std::time::Duration;

use corelane::queue::multicast::{
    self, Builder, GraphError, LossyRecvError, LossyTryRecvError, NodeId, RecvError, TryRecvError,
};
use corelane::queue::wait::WaitStrategy;
use corelane::queue::{Disconnected, PushError};

#[test]
fn publish_when_every_cursor_is_gone() {
    let mut b = Builder::new(4, || 0u32);
    let (c, g, l) = (b.cursor(), b.group(2), b.lossy_cursor());
    let (mut tx, h) = b.build().unwrap();
    let _ = (c, g, l);
    assert_eq!(tx.subscribers(), 4);
    drop(h); // untaken handles leave with it
    assert_eq!(tx.subscribers(), 0);
    assert_eq!(tx.push(1), Err(PushError::Disconnected(1)));
    assert!(matches!(
        tx.push_with(|v| *v = 2),
        Err(PushError::Disconnected(_))
    ));
    assert!(tx.push_batch(2, |_, _| {}).unwrap_err().is_disconnected());
    // Blocking calls fail too, rather than wait for room forever.
    assert_eq!(
        tx.push_blocking(3, WaitStrategy::Park),
        Err(Disconnected(3))
    );
}

#[test]
fn blocked_publisher_is_released_when_the_last_cursor_leaves() {
    let (mut tx, mut cs) = multicast::broadcast(1, || 0u32, 1);
    tx.push(1).unwrap();
    let c = cs.pop().unwrap();
    let t = thread::spawn(move || tx.push_blocking(2, WaitStrategy::Park));
    thread::sleep(Duration::from_millis(50));
    drop(c);
    assert_eq!(t.join().unwrap(), Err(Disconnected(2)));
}

#[test]
fn multi_publisher_disconnected() {
    let mut b = Builder::new(4, || 0u32);
    let c = b.cursor();
    let (mut tx, mut h) = b.build_multi().unwrap();
    drop(h.cursor(c));
    let mut tx2 = tx.clone();
    assert!(tx.push(1).unwrap_err().is_disconnected());
    assert!(tx2.push(2).unwrap_err().is_disconnected());
}

#[test]
fn graph_cycle_is_an_error() {
    let mut b = Builder::new(4, || 0u8);
    let (a, x, y) = (b.cursor(), b.cursor(), b.cursor());
    b.after(x, &[a, y]).after(y, &[x]);
    let err = b.build().map(|_| ()).unwrap_err();
    assert!(matches!(&err, GraphError::Cycle(nodes) if *nodes == [x, y]));
    assert!(err.to_string().contains("cycle"));

    let mut b = Builder::new(4, || 0u8);
    let g = b.group(2);
    b.after(g, &[g]);
    assert_eq!(
        b.build_multi().map(|_| ()).unwrap_err(),
        GraphError::Cycle(vec![g.into()])
    );
}

#[test]
fn empty_group_is_an_error() {
    let mut b = Builder::new(4, || 0u8);
    let c = b.cursor();
    let g = b.group(0);
    b.after(c, &[g]);
    assert_eq!(
        b.build().map(|_| ()).unwrap_err(),
        GraphError::EmptyGroup(g)
    );
}

#[test]
fn lossy_edges_and_unknown_nodes_are_errors() {
    let mut b = Builder::new(4, || 0u8);
    let (c, l) = (b.cursor(), b.lossy_cursor());
    // Typed ids make this a compile error (tests/ui); an erased id reaches
    // the check at build time.
    b.after(NodeId::from(l), &[c]);
    assert_eq!(b.build().map(|_| ()).unwrap_err(), GraphError::LossyEdge(l));

    let (tx, mut cs) = multicast::broadcast(4, || 0u8, 1);
    let gone = cs.pop().unwrap();
    let id = gone.id();
    drop(gone);
    assert_eq!(
        tx.joiner().subscribe_after(&[id]).unwrap_err(),
        GraphError::UnknownNode(id.into())
    );
}

#[test]
#[should_panic(expected = "exceeds the ring capacity")]
fn batch_larger_than_the_ring_panics() {
    let (mut tx, _cs) = multicast::broadcast(4, || 0u8, 1);
    let _ = tx.push_batch(5, |_, _| {});
}

#[test]
#[should_panic(expected = "not an untaken cursor")]
fn taking_a_handle_twice_panics() {
    let mut b = Builder::new(4, || 0u8);
    let c = b.cursor();
    let (_tx, mut h) = b.build().unwrap();
    let _first = h.cursor(c);
    let _second = h.cursor(c);
}

#[test]
fn cursors_see_disconnected_after_draining() {
    let mut b = Builder::new(8, || 0u32);
    let (a, z, g) = (b.cursor(), b.cursor(), b.group(2));
    b.after(z, &[a]).after(g, &[z]);
    let (mut tx, mut h) = b.build().unwrap();
    let (mut a, mut z, mut ws) = (h.cursor(a), h.cursor(z), h.workers(g));
    tx.push(1).unwrap();
    drop(tx);
    assert_eq!(
        z.pop().unwrap_err(),
        TryRecvError::Empty,
        "a has not read it"
    );
    assert_eq!(*a.pop().unwrap(), 1);
    assert_eq!(a.pop().unwrap_err(), TryRecvError::Disconnected);
    assert_eq!(*z.pop().unwrap(), 1);
    assert_eq!(
        z.pop_blocking(WaitStrategy::Park).unwrap_err(),
        RecvError::Disconnected
    );
    assert_eq!(*ws[1].pop().unwrap(), 1);
    assert_eq!(
        ws[0].pop_blocking(WaitStrategy::Park).unwrap_err(),
        RecvError::Disconnected
    );
}

#[test]
fn lossy_cursor_lags_beside_a_gating_cursor() {
    let mut b = Builder::new(8, || 0u64);
    let (c, l) = (b.cursor(), b.lossy_cursor());
    let (mut tx, mut h) = b.build().unwrap();
    let (mut c, mut l) = (h.cursor(c), h.lossy(l));
    let mut next_published = 0;
    let mut lagged = 0;
    let mut read = 0;
    for round in 0..50u64 {
        // The gating cursor keeps up; the lossy one reads only now and then.
        for _ in 0..5 {
            tx.push(next_published).unwrap();
            next_published += 1;
        }
        drop(c.pop_batch(8).unwrap());
        if round % 4 == 0 {
            loop {
                match l.pop() {
                    Ok(v) => {
                        assert_eq!(v, l.sequence() - 1);
                        read += 1;
                    }
                    Err(LossyTryRecvError::Lagged(n)) => lagged += n,
                    Err(LossyTryRecvError::Empty) => break,
                    Err(e) => panic!("{e}"),
                }
            }
            assert_eq!(read + lagged, next_published, "every item read or counted");
        }
    }
    assert!(lagged > 0);
    drop(tx);
    loop {
        match l.pop() {
            Ok(_) => read += 1,
            Err(LossyTryRecvError::Lagged(n)) => lagged += n,
            Err(LossyTryRecvError::Disconnected) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(read + lagged, next_published);
}

/// Eight equal words: a copy torn by a concurrent overwrite mixes two.
#[derive(Clone, Copy)]
struct Wide([u64; 8]);

impl Wide {
    fn check(&self) {
        let w = &self.0;
        assert!(w.iter().all(|&x| x == w[0]), "torn read {w:?}");
    }
}

/// Items for the torn-read tests (fewer in debug builds).
const WIDE_N: u64 = if cfg!(debug_assertions) {
    20_000
} else {
    500_000
};

/// Races a fast producer with one lossy cursor, reading by seqlock copy
/// (`copied`) or by announced clone.
fn race_a_fast_producer(copied: bool) {
    let (mut tx, _cs) = multicast::broadcast(4, || Wide([0; 8]), 0);
    let l = tx.joiner().subscribe_lossy();
    let mut read: Box<dyn FnMut() -> Result<Wide, LossyTryRecvError> + Send> = if copied {
        let mut l = l.copied();
        Box::new(move || l.pop())
    } else {
        let mut l = l;
        Box::new(move || l.pop())
    };
    let t = thread::spawn(move || {
        let (mut ok, mut lagged) = (0u64, 0u64);
        loop {
            match read() {
                Ok(w) => {
                    w.check();
                    ok += 1;
                }
                Err(LossyTryRecvError::Lagged(n)) => lagged += n,
                Err(LossyTryRecvError::Empty) => thread::yield_now(),
                Err(LossyTryRecvError::Disconnected) => return (ok, lagged),
                Err(e) => panic!("{e}"),
            }
        }
    });
    for i in 1..=WIDE_N {
        tx.push(Wide([i; 8])).unwrap();
    }
    drop(tx);
    let (ok, lagged) = t.join().unwrap();
    assert_eq!(ok + lagged, WIDE_N);
}

#[test]
fn lossy_reader_racing_a_fast_producer_never_sees_a_torn_value() {
    race_a_fast_producer(true);
}

#[test]
fn cloning_lossy_reader_racing_a_fast_producer_never_sees_a_torn_value() {
    race_a_fast_producer(false);
}

/// A lossy cursor that joins while the producer publishes flat out (the
/// producer marks overwrites only while one is subscribed, and learns of
/// the join at its next claim): still never a torn value.
#[test]
fn lossy_reader_joining_a_fast_producer_never_sees_a_torn_value() {
    // A gating cursor drained by its own thread keeps the ring open while
    // lossy cursors come and go (so marking switches on and off).
    let (mut tx, mut cs) = multicast::broadcast(4, || Wide([0; 8]), 1);
    let mut c = cs.pop().unwrap();
    let drain = thread::spawn(move || loop {
        match c.pop_batch(usize::MAX) {
            Ok(_) => {}
            Err(TryRecvError::Disconnected) => return,
            Err(_) => thread::yield_now(),
        }
    });
    let joiner = tx.joiner();
    let t = thread::spawn(move || {
        let mut ok = 0u64;
        for round in 0..50 {
            // Alternately a cloning and a copying cursor: publishers switch
            // between checking announcements, marking only, and neither.
            let l = joiner.subscribe_lossy();
            let mut read: Box<dyn FnMut() -> Result<Wide, LossyTryRecvError>> = if round % 2 == 0 {
                let mut l = l;
                Box::new(move || l.pop())
            } else {
                let mut l = l.copied();
                Box::new(move || l.pop())
            };
            for _ in 0..200 {
                match read() {
                    Ok(w) => {
                        w.check();
                        ok += 1;
                    }
                    Err(LossyTryRecvError::Disconnected) => return ok,
                    Err(_) => {}
                }
            }
        }
        ok
    });
    for i in 1..=WIDE_N {
        let mut v = Wide([i; 8]);
        while let Err(e) = tx.push(v) {
            v = e.into_inner();
            thread::yield_now();
        }
    }
    drop(tx);
    t.join().unwrap();
    drain.join().unwrap();
}

/// A fill closure that panics still publishes its slot (holding whatever the
/// closure left) with a single publisher too: a lossy cursor behind it is
/// not left waiting on a slot marked as being written, and it sees the end
/// of the stream once the publisher is gone.
#[test]
fn a_panicking_fill_does_not_strand_a_lossy_cursor() {
    let mut b = Builder::new(4, || 0u32);
    let l = b.lossy_cursor();
    let (mut tx, mut h) = b.build().unwrap();
    let mut lossy = h.lossy(l);
    for i in 0..3 {
        tx.push(i * 10).unwrap();
    }
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = tx.push_with(|_| panic!("fill fails"));
    }));
    assert!(panicked.is_err());
    let batch_panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = tx.push_batch(2, |i, v| {
            *v = 100 + i as u32;
            assert!(i == 0, "fill fails");
        });
    }));
    assert!(batch_panicked.is_err());
    assert_eq!(tx.sequence(), 6, "the panicked claims were published");
    tx.push(7).unwrap();
    drop(tx);
    let mut seen = Vec::new();
    for _ in 0..16 {
        match lossy.pop() {
            Ok(v) => seen.push(v),
            Err(LossyTryRecvError::Lagged(_)) => {}
            Err(LossyTryRecvError::Disconnected) => break,
            Err(e) => panic!("stuck: {e:?}"),
        }
    }
    assert_eq!(seen.last(), Some(&7));
    assert_eq!(lossy.pop(), Err(LossyTryRecvError::Disconnected));
    assert_eq!(
        lossy.pop_blocking(WaitStrategy::Park),
        Err(LossyRecvError::Disconnected)
    );
}

/// A node id names a node of the ring (or builder) that made it only: an
/// id from another ring is unknown everywhere, even where the index and
/// generation happen to match.
#[test]
fn an_id_from_another_ring_is_unknown() {
    let (_tx_a, cs_a) = multicast::broadcast(4, || 0u32, 1);
    let (tx_b, _cs_b) = multicast::broadcast(4, || 0u32, 1);
    let foreign = cs_a[0].id();
    assert!(matches!(
        tx_b.joiner().subscribe_after(&[foreign]),
        Err(GraphError::UnknownNode(id)) if id == foreign
    ));
    let mut b = Builder::new(4, || 0u32);
    let c = b.cursor();
    b.after(c, &[foreign]);
    assert!(matches!(b.build(), Err(GraphError::UnknownNode(id)) if id == foreign));
    let mut other = Builder::new(4, || 0u32);
    let theirs = other.cursor();
    let mut b = Builder::new(4, || 0u32);
    let _ours = b.cursor();
    let (_tx, mut h) = b.build().unwrap();
    let taken = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| h.cursor(theirs)));
    assert!(taken.is_err(), "a handle taken by another builder's id");
}

/// `UpstreamFailed` names the failed node by kind and index (its
/// `NodeId`'s `Display`), not by the id's fields.
#[test]
fn upstream_failed_names_the_failed_node() {
    let mut b = Builder::new(4, || 0u32);
    let journal = b.cursor(); // #0
    let workers = b.group(2); // #1
    let (logic, audit) = (b.cursor(), b.cursor());
    b.after(logic, &[journal]).after(audit, &[workers]);
    let (mut tx, mut h) = b.build().unwrap();
    let (mut j, mut l, mut a) = (h.cursor(journal), h.cursor(logic), h.cursor(audit));
    let mut ws = h.workers(workers);
    for i in 0..2 {
        tx.push(i).unwrap();
    }
    drop(j.pop().unwrap()); // the journal processed item 0 ...
    drop(j); // ... and left before item 1
    assert_eq!(*l.pop().unwrap(), 0);
    assert_eq!(
        l.pop().unwrap_err().to_string(),
        "upstream cursor #0 failed before releasing item 1"
    );
    let _idle = ws.pop().unwrap();
    let mut w = ws.pop().unwrap();
    std::mem::forget(w.pop().unwrap()); // a worker dies holding item 0
    drop(w);
    let e = a.pop_blocking(WaitStrategy::Park).unwrap_err();
    assert_eq!(
        e.to_string(),
        "upstream worker group #1 failed before releasing item 0"
    );
}

/// A `NodeId` displays as its kind and index; an index reused by a node
/// that joined later shows its generation.
#[test]
fn node_ids_display_kind_and_index() {
    let mut b = Builder::new(4, || 0u32);
    let (c, g, l) = (b.cursor(), b.group(2), b.lossy_cursor());
    let names = [NodeId::from(c), NodeId::from(g), NodeId::from(l)].map(|n| n.to_string());
    assert_eq!(names, ["cursor #0", "worker group #1", "lossy cursor #2"]);
    let (tx, mut h) = b.build().unwrap();
    drop(h.cursor(c)); // leaves: index 0 is free for the next node
    let joined = tx.joiner().subscribe();
    assert_eq!(NodeId::from(joined.id()).to_string(), "cursor #0 (gen 1)");
}
