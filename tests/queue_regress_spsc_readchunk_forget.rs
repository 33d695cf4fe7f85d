//! REGRESSION TEST (was a bug reproducer; fixed in src/queue/spsc.rs: `ReadChunk::next` now advances the private cursor itself).
//! Forgetting an `spsc::ReadChunk` after moving items out of it makes the
//! consumer hand the same items out again: safe code observes a moved-out
//! value twice, which for a non-`Copy` `T` (a `String`, a `Box`) is a
//! double drop, i.e. a use-after-free reachable from safe Rust.
//!
//! Cause (`src/queue/spsc.rs`): `ReadChunk::next` reads the slot with
//! `assume_init_read` and only bumps its own `taken` counter; the
//! consumer's private cursor `Consumer::head` is advanced in
//! `ReadChunk::drop`. `std::mem::forget` is safe, so the destructor may
//! never run, and the next `pop`/`read_chunk` starts at the old `head`.
//! Fix: advance `consumer.head` in `next` itself (the chunk then indexes
//! from it) and keep only the shared `cons.pos` Release store, and the
//! wake-up, in `Drop`; a forgotten chunk then merely delays the release of
//! its slots until the next pop. (The `u64` item keeps this test itself
//! free of memory errors.)

use corelane::queue::spsc;

#[test]
fn forgotten_read_chunk_hands_out_a_taken_item_again() {
    let (mut tx, mut rx) = spsc::channel::<u64>(4);
    tx.push(1).unwrap();
    tx.push(2).unwrap();
    let mut chunk = rx.read_chunk(2);
    assert_eq!(chunk.next(), Some(1));
    std::mem::forget(chunk);
    assert_eq!(rx.pop(), Ok(2), "item 1 was already moved out of the ring");
}

/// Counts drops, to show each item is dropped exactly once.
struct Counted(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// A forgotten chunk, then both ends dropped: the ring must drop only the
/// items still in it, not the one moved out (was a double drop: the
/// consumer's private head was never published on `Consumer::drop`).
#[test]
fn forgotten_read_chunk_then_drop_drops_each_item_once() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    for consumer_last in [false, true] {
        let drops = Arc::new(AtomicUsize::new(0));
        let (mut tx, mut rx) = spsc::channel::<Counted>(4);
        for _ in 0..3 {
            assert!(tx.push(Counted(drops.clone())).is_ok());
        }
        let mut chunk = rx.read_chunk(3);
        let taken = chunk.next().expect("one item");
        std::mem::forget(chunk);
        drop(taken);
        assert_eq!(drops.load(Ordering::Relaxed), 1);
        if consumer_last {
            drop(tx);
            drop(rx);
        } else {
            drop(rx);
            drop(tx);
        }
        assert_eq!(
            drops.load(Ordering::Relaxed),
            3,
            "each item dropped exactly once"
        );
    }
}
