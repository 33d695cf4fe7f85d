//! Invariant: every item leaves an SPSC ring exactly once — handed out by
//! one `pop` or one `ReadChunk` step, or dropped by the last end — even
//! when a chunk is `mem::forget`-ed, which safe code may do at any time.
//!
//! A `ReadChunk` moves the consumer's private `head` past an item *before*
//! handing it out, and the consumer's `Drop` publishes that private `head`,
//! so a forgotten read chunk can neither hand an item out again nor leave it
//! to be dropped a second time. A forgotten `WriteChunk` publishes nothing:
//! its values are leaked (never read, never dropped), as `mem::forget`
//! promises, and its slots are written again by the next publication. (The
//! loom model `loom-tests/tests/spsc_chunks.rs` checks the same across
//! threads.)

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use corelane::queue::spsc;

#[test]
fn an_item_taken_from_a_forgotten_read_chunk_is_not_handed_out_again() {
    let (mut tx, mut rx) = spsc::channel::<u64>(4);
    tx.push(1).unwrap();
    tx.push(2).unwrap();
    let mut chunk = rx.read_chunk(2).unwrap();
    assert_eq!(chunk.next(), Some(1));
    std::mem::forget(chunk);
    assert_eq!(rx.pop(), Ok(2), "item 1 was already moved out of the ring");
}

/// Counts drops, to show each item is dropped exactly once.
struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        // Relaxed: every test here is single-threaded; drops run on the
        // thread that reads the count.
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// After a forgotten read chunk, the last end drops only the items still in
/// the ring, not the one moved out, whichever end goes last.
#[test]
fn items_are_dropped_once_after_a_forgotten_read_chunk() {
    for consumer_last in [false, true] {
        let drops = Arc::new(AtomicUsize::new(0));
        let (mut tx, mut rx) = spsc::channel::<Counted>(4);
        for _ in 0..3 {
            assert!(tx.push(Counted(drops.clone())).is_ok());
        }
        let mut chunk = rx.read_chunk(3).unwrap();
        let taken = chunk.next().expect("one item");
        std::mem::forget(chunk);
        drop(taken);
        // Relaxed loads: one thread (see `Counted`).
        assert_eq!(drops.load(Ordering::Relaxed), 1);
        if consumer_last {
            drop(tx);
            drop(rx);
        } else {
            drop(rx);
            drop(tx);
        }
        // Relaxed: the last end's drops ran on this thread.
        assert_eq!(
            drops.load(Ordering::Relaxed),
            3,
            "each item dropped exactly once"
        );
    }
}

/// A forgotten write chunk publishes nothing: the consumer never sees its
/// values, the next pushes reuse its slots, and its values are leaked, not
/// dropped (neither by the overwrite nor by the last end).
#[test]
fn a_forgotten_write_chunk_publishes_nothing_and_its_slots_are_reused() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (mut tx, mut rx) = spsc::channel::<(u64, Counted)>(4);
    assert!(tx.push((0, Counted(drops.clone()))).is_ok());
    let mut chunk = tx.write_chunk(3).unwrap();
    for i in 100..103 {
        assert!(chunk.push((i, Counted(drops.clone()))).is_ok());
    }
    std::mem::forget(chunk);
    assert_eq!(tx.len(), 1, "nothing of the forgotten chunk is published");
    for i in 1..4 {
        assert!(tx.push((i, Counted(drops.clone()))).is_ok());
    }
    // Relaxed loads: one thread (see `Counted`).
    assert_eq!(
        drops.load(Ordering::Relaxed),
        0,
        "no overwrite drops a value"
    );
    for i in 0..3 {
        assert_eq!(rx.pop().map(|(v, _)| v), Ok(i));
    }
    // Relaxed: the pops' drops ran here too.
    assert_eq!(drops.load(Ordering::Relaxed), 3);
    drop(tx);
    drop(rx);
    // Relaxed: the last end's drops ran on this thread.
    assert_eq!(
        drops.load(Ordering::Relaxed),
        4,
        "the item left is dropped once; the forgotten chunk's three leak"
    );
}
