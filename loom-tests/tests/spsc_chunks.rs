//! loom models of SPSC chunks that are `mem::forget`-ed on one thread while
//! the other end runs: every item leaves the ring exactly once (handed out
//! once, dropped once), a forgotten write chunk publishes nothing, and no
//! slot is read before it is written nor written while it is being read
//! (loom's `UnsafeCell` tracking reports either as a causality violation).
//!
//! The orderings these rest on (see `src/queue/spsc/mod.rs`): the consumer's
//! Release store of `head` (in `pop`, a read chunk's drop, the consumer's
//! drop) against the producer's Acquire load before it reuses a slot; and
//! the producer's Release stamp store (in `push`, a write chunk's commit)
//! against the consumer's Acquire stamp load before it reads a slot.
//!
//! The producer pushes with `__push_without_notify`. The wake-up check's
//! barrier is a `fence(SeqCst)` under loom; loom joins every SeqCst fence
//! into one global clock, and a fence is not a scheduling point, so a
//! cursor store and the fence after it act as one step. With fences on both
//! sides, each side's next fence would order its later slot accesses after
//! the other's, and a Release/Acquire pair weakened to Relaxed would go
//! unnoticed (checked: with `push` these models pass with the consumer's
//! `head` store made Relaxed). No consumer here parks, so nothing needs the
//! wake-up.
//!
//! Run: `RUSTFLAGS="--cfg corelane_loom" LOOM_MAX_PREEMPTIONS=2 cargo test
//! --release -p corelane-loom-tests --target-dir target/loom --test
//! spsc_chunks` (see ci/loom.sh).
#![cfg(corelane_loom)]

use corelane::queue::spsc::ReadChunkError;
use corelane::queue::{spsc, PopError, PushError};
use loom::thread;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

/// `loom::model` with room for the spin loops (each failed try is a few
/// scheduling points; the default 1000 branches is too tight).
fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    b.max_branches = 100_000;
    b.check(f);
}

/// An item that counts its drops, to show each is dropped exactly once.
struct Counted(usize, &'static AtomicUsize);

impl Drop for Counted {
    fn drop(&mut self) {
        self.1.fetch_add(1, SeqCst);
    }
}

/// Pushes `v` (without the wake-up barrier, see the module docs), yielding
/// to loom while the ring is full.
fn push_spin<T>(tx: &mut spsc::Producer<T>, mut v: T) {
    loop {
        match tx.__push_without_notify(v) {
            Ok(()) => return,
            Err(PushError::Full(back)) => {
                v = back;
                thread::yield_now();
            }
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
}

/// Pops one item, yielding to loom while the ring is empty.
fn pop_spin<T>(rx: &mut spsc::Consumer<T>) -> T {
    loop {
        match rx.pop() {
            Ok(v) => return v,
            Err(PopError::Empty) => thread::yield_now(),
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
}

/// A read chunk of up to `max` waiting items, `None` while the ring is
/// empty. Chunks are exact: ask for `max`, and if fewer are there, for what
/// the error says is there (the chunk opened only to count releases
/// nothing).
fn chunk_up_to<T>(rx: &mut spsc::Consumer<T>, max: usize) -> Option<spsc::ReadChunk<'_, T>> {
    let opened = rx.read_chunk(max).map(|chunk| chunk.len());
    let n = match opened {
        Ok(n) => n,
        Err(ReadChunkError::TooFewItems(k)) => k,
        Err(ReadChunkError::Disconnected) => rx.len(),
        Err(e) => panic!("unexpected {e:?}"),
    };
    (n > 0).then(|| rx.read_chunk(n).expect("items only accumulate"))
}

/// Capacity 2 in blocks of one slot: 3 slots, so the fourth item reuses
/// the slot of the first, which a forgotten chunk read.
fn ring() -> (spsc::Producer<Counted>, spsc::Consumer<Counted>) {
    spsc::__with_block_len::<Counted>(2, 1)
}

/// The consumer takes one item from a read chunk and forgets the chunk
/// while the producer keeps pushing: the item is not handed out again, the
/// rest arrive in order, and the producer's reuse of the chunk's slot waits
/// for the release published by the consumer's next pop.
#[test]
fn spsc_forgotten_read_chunk_hands_each_item_out_once() {
    static DROPS: AtomicUsize = AtomicUsize::new(0);
    model(|| {
        DROPS.store(0, SeqCst);
        let (mut tx, mut rx) = ring();
        let p = thread::spawn(move || {
            for i in 0..4 {
                push_spin(&mut tx, Counted(i, &DROPS));
            }
        });
        let first = loop {
            if let Some(mut chunk) = chunk_up_to(&mut rx, 2) {
                let item = chunk.next().expect("a chunk of at least one");
                std::mem::forget(chunk);
                break item;
            }
            thread::yield_now();
        };
        let mut got = vec![first.0];
        drop(first);
        while got.len() < 4 {
            got.push(pop_spin(&mut rx).0);
        }
        assert_eq!(got, [0, 1, 2, 3]);
        p.join().unwrap();
        assert!(matches!(rx.pop(), Err(PopError::Disconnected)));
        drop(rx);
        assert_eq!(DROPS.load(SeqCst), 4, "each item dropped exactly once");
    });
}

/// The producer fills a write chunk and forgets it while the consumer
/// pops: the consumer never sees the forgotten value (it is leaked, never
/// read nor dropped), and the pushes after it, which write the same slot
/// again, arrive in order.
#[test]
fn spsc_forgotten_write_chunk_publishes_nothing() {
    static DROPS: AtomicUsize = AtomicUsize::new(0);
    model(|| {
        DROPS.store(0, SeqCst);
        let (mut tx, mut rx) = ring();
        let p = thread::spawn(move || {
            push_spin(&mut tx, Counted(0, &DROPS));
            loop {
                if let Ok(mut chunk) = tx.write_chunk(1) {
                    assert!(chunk.push(Counted(100, &DROPS)).is_ok());
                    std::mem::forget(chunk);
                    break;
                }
                thread::yield_now();
            }
            for i in 1..4 {
                push_spin(&mut tx, Counted(i, &DROPS));
            }
        });
        let mut got = Vec::new();
        while got.len() < 4 {
            got.push(pop_spin(&mut rx).0);
        }
        assert_eq!(got, [0, 1, 2, 3]);
        p.join().unwrap();
        assert!(matches!(rx.pop(), Err(PopError::Disconnected)));
        drop(rx);
        assert_eq!(
            DROPS.load(SeqCst),
            4,
            "the forgotten value leaks; every other item is dropped once"
        );
    });
}

/// The consumer forgets a read chunk it took one item from, then drops
/// while the producer is still pushing: every item made is dropped exactly
/// once (taken, handed back by a failed push, or left in the ring for the
/// last end), whichever end goes last.
#[test]
fn spsc_forgotten_read_chunk_then_consumer_drop_drops_each_item_once() {
    static DROPS: AtomicUsize = AtomicUsize::new(0);
    model(|| {
        DROPS.store(0, SeqCst);
        let (mut tx, mut rx) = ring();
        let p = thread::spawn(move || {
            for i in 0..3 {
                let mut v = Counted(i, &DROPS);
                loop {
                    match tx.__push_without_notify(v) {
                        Ok(()) => break,
                        Err(PushError::Full(back)) => {
                            v = back;
                            thread::yield_now();
                        }
                        Err(e) => {
                            drop(e.into_inner());
                            break;
                        }
                    }
                }
            }
        });
        loop {
            if let Some(mut chunk) = chunk_up_to(&mut rx, 2) {
                let item = chunk.next().expect("a chunk of at least one");
                std::mem::forget(chunk);
                assert_eq!(item.0, 0);
                break;
            }
            thread::yield_now();
        }
        drop(rx);
        p.join().unwrap();
        assert_eq!(DROPS.load(SeqCst), 3, "each item dropped exactly once");
    });
}
