//! loom models of the point-to-point rings and the park/wake handshake.
//!
//! Run: `RUSTFLAGS="--cfg corelane_loom" LOOM_MAX_PREEMPTIONS=2 cargo test
//! --release -p corelane-loom-tests --target-dir target/loom` (see ci/loom.sh).
#![cfg(corelane_loom)]

use corelane::queue::wait::WaitStrategy;
use corelane::queue::{mpmc, mpsc, spmc, spsc, PopError, PushError};
use loom::thread;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

/// `loom::model` with room for the spin loops of 3-thread models (each
/// failed try is a few scheduling points; the default 1000 is too tight).
fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    b.max_branches = 100_000;
    b.check(f);
}

/// Spins (yielding to loom) until `f` returns `Some`.
fn spin<R>(mut f: impl FnMut() -> Option<R>) -> R {
    loop {
        if let Some(r) = f() {
            return r;
        }
        thread::yield_now();
    }
}

fn push_spin<T>(mut push: impl FnMut(T) -> Result<(), PushError<T>>, v: T) {
    let mut v = Some(v);
    spin(|| match push(v.take().unwrap()) {
        Ok(()) => Some(()),
        Err(e) => {
            assert!(!e.is_disconnected(), "unexpected disconnect");
            v = Some(e.into_inner());
            None
        }
    })
}

fn pop_spin<T>(mut pop: impl FnMut() -> Result<T, PopError>) -> Result<T, PopError> {
    spin(|| match pop() {
        Err(PopError::Empty | PopError::Busy) => None,
        r => Some(r),
    })
}

/// Counts drops, to prove every item is dropped exactly once.
struct Counted(#[allow(dead_code)] usize, &'static AtomicUsize);
impl Drop for Counted {
    fn drop(&mut self) {
        self.1.fetch_add(1, SeqCst);
    }
}

#[test]
fn spsc_fifo_wraps_and_disconnects() {
    model(|| {
        let (mut tx, mut rx) = spsc::channel::<usize>(2);
        let p = thread::spawn(move || {
            for i in 0..3 {
                push_spin(|v| tx.push(v), i);
            }
        });
        for i in 0..3 {
            assert_eq!(pop_spin(|| rx.pop()), Ok(i));
        }
        p.join().unwrap();
        assert_eq!(rx.pop(), Err(PopError::Disconnected));
    });
}

/// Blocks of one slot: every push stores a different block's stamp, and
/// the consumer's stale stamps from the last lap must read as "empty".
#[test]
fn spsc_one_slot_blocks_wrap() {
    model(|| {
        let (mut tx, mut rx) = spsc::__with_block_len::<usize>(2, 1);
        let p = thread::spawn(move || {
            for i in 0..4 {
                push_spin(|v| tx.push(v), i);
            }
        });
        for i in 0..4 {
            assert_eq!(pop_spin(|| rx.pop()), Ok(i));
        }
        p.join().unwrap();
        assert_eq!(rx.pop(), Err(PopError::Disconnected));
    });
}

/// A chunk that spans two blocks is published by one stamp (its first
/// block's); the pushes after it start mid-block, in the last (short)
/// block, and wrap. Cap 4 in blocks of 3 + 1.
#[test]
fn spsc_chunk_across_blocks_then_pushes() {
    model(|| {
        let (mut tx, mut rx) = spsc::__with_block_len::<usize>(4, 3);
        let p = thread::spawn(move || {
            push_spin(|v| tx.push(v), 0);
            let mut c = tx.write_chunk(3).unwrap();
            c.fill_from_iter([1, 2, 3]);
            c.commit();
            push_spin(|v| tx.push(v), 4);
        });
        let mut got = Vec::new();
        while got.len() < 5 {
            if got.len() % 2 == 0 {
                if let Ok(v) = rx.pop() {
                    got.push(v);
                }
            } else {
                got.extend(rx.read_chunk(2));
            }
            thread::yield_now();
        }
        assert_eq!(got, [0, 1, 2, 3, 4]);
        p.join().unwrap();
        assert_eq!(rx.pop(), Err(PopError::Disconnected));
    });
}

#[test]
fn spsc_disconnect_sees_last_item() {
    model(|| {
        let (mut tx, mut rx) = spsc::channel::<usize>(2);
        let p = thread::spawn(move || {
            tx.push(7).unwrap();
            drop(tx);
        });
        assert_eq!(pop_spin(|| rx.pop()), Ok(7));
        assert_eq!(pop_spin(|| rx.pop()), Err(PopError::Disconnected));
        p.join().unwrap();
    });
}

#[test]
fn spsc_chunks() {
    model(|| {
        let (mut tx, mut rx) = spsc::channel::<usize>(2);
        let p = thread::spawn(move || {
            let mut c = tx.write_chunk(2).unwrap();
            c.fill_from_iter([1, 2]);
            c.commit();
            spin(|| {
                let mut c = tx.write_chunk(1).ok()?;
                c.push(3).unwrap();
                Some(())
            });
        });
        let mut got = Vec::new();
        while got.len() < 3 {
            got.extend(rx.read_chunk(2));
            thread::yield_now();
        }
        assert_eq!(got, [1, 2, 3]);
        p.join().unwrap();
    });
}

#[test]
fn spsc_drops_leftovers_once() {
    static DROPS: AtomicUsize = AtomicUsize::new(0);
    model(|| {
        DROPS.store(0, SeqCst);
        let (mut tx, mut rx) = spsc::channel::<Counted>(2);
        let p = thread::spawn(move || {
            let _ = tx.push(Counted(1, &DROPS));
            let _ = tx.push(Counted(2, &DROPS));
        });
        let _ = rx.pop();
        drop(rx);
        p.join().unwrap();
        assert_eq!(DROPS.load(SeqCst), 2);
    });
}

#[test]
fn spsc_park_no_lost_wakeup() {
    model(|| {
        let (mut tx, mut rx) = spsc::channel::<usize>(2);
        let c = thread::spawn(move || rx.pop_blocking(WaitStrategy::Park));
        tx.push(5).unwrap();
        assert_eq!(c.join().unwrap(), Ok(5));
    });
}

#[test]
fn spsc_park_full_no_lost_wakeup() {
    model(|| {
        let (mut tx, mut rx) = spsc::channel::<usize>(1);
        tx.push(1).unwrap();
        let p = thread::spawn(move || tx.push_blocking(2, WaitStrategy::Park));
        assert_eq!(pop_spin(|| rx.pop()), Ok(1));
        assert_eq!(pop_spin(|| rx.pop()), Ok(2));
        assert!(p.join().unwrap().is_ok());
    });
}

#[test]
fn spsc_park_wakes_on_disconnect() {
    model(|| {
        let (tx, mut rx) = spsc::channel::<usize>(2);
        let c = thread::spawn(move || rx.pop_blocking(WaitStrategy::Park));
        drop(tx);
        assert_eq!(c.join().unwrap(), Err(corelane::queue::Disconnected(())));
    });
}

#[test]
fn mpsc_two_producers() {
    model(|| {
        let (mut tx1, mut rx) = mpsc::channel::<usize>(4);
        let mut tx2 = tx1.clone();
        let a = thread::spawn(move || {
            tx2.push(10).unwrap();
            tx2.push(11).unwrap();
        });
        tx1.push(20).unwrap();
        let mut got = Vec::new();
        for _ in 0..3 {
            got.push(pop_spin(|| rx.pop()).unwrap());
        }
        a.join().unwrap();
        let from_a: Vec<_> = got.iter().filter(|&&v| v < 20).copied().collect();
        assert_eq!(from_a, [10, 11], "per-producer FIFO");
        assert!(got.contains(&20));
        drop(tx1);
        assert_eq!(rx.pop(), Err(PopError::Disconnected));
    });
}

/// The sole-producer fast path (plain `tail` store instead of a CAS) hands
/// over to CAS claims when the handle is cloned, and back when the clone
/// leaves: no position is claimed twice or skipped, whatever the
/// interleaving of the clone's pushes and drop with the original's pushes.
#[test]
fn mpsc_sole_producer_hands_over() {
    model(|| {
        let (mut tx, mut rx) = mpsc::channel::<usize>(4);
        tx.push(0).unwrap(); // sole
        let mut tx2 = tx.clone();
        let b = thread::spawn(move || {
            push_spin(|v| tx2.push(v), 1);
            drop(tx2);
        });
        push_spin(|v| tx.push(v), 2); // CAS, or sole once the clone left
        push_spin(|v| tx.push(v), 3);
        b.join().unwrap();
        let mut got: Vec<usize> = (0..4).map(|_| pop_spin(|| rx.pop()).unwrap()).collect();
        got.sort();
        assert_eq!(got, [0, 1, 2, 3]);
        tx.push(4).unwrap(); // sole again, wrapping
        assert_eq!(rx.pop(), Ok(4));
        assert_eq!(rx.pop(), Err(PopError::Empty));
    });
}

#[test]
fn mpsc_full_ring_reloads_cached_head() {
    // Capacity 2, three items: the producer's cached head must be reloaded
    // (Acquire) before it reuses a slot the consumer released.
    model(|| {
        let (mut tx, mut rx) = mpsc::channel::<usize>(2);
        let p = thread::spawn(move || {
            for i in 0..3 {
                push_spin(|v| tx.push(v), i);
            }
        });
        for i in 0..3 {
            assert_eq!(pop_spin(|| rx.pop()), Ok(i));
        }
        p.join().unwrap();
    });
}

#[test]
fn mpsc_batch_against_single_push() {
    model(|| {
        let (tx, mut rx) = mpsc::channel::<usize>(4);
        let mut tx2 = tx.clone();
        let a = thread::spawn(move || {
            let mut batch = vec![1, 2];
            while !batch.is_empty() {
                tx.push_batch(&mut batch).unwrap();
                thread::yield_now();
            }
        });
        let b = thread::spawn(move || push_spin(|v| tx2.push(v), 9));
        let mut got = Vec::new();
        for _ in 0..3 {
            got.push(pop_spin(|| rx.pop()).unwrap());
        }
        a.join().unwrap();
        b.join().unwrap();
        let ones: Vec<_> = got.iter().filter(|&&v| v < 9).copied().collect();
        assert_eq!(ones, [1, 2]);
        assert!(got.contains(&9));
    });
}

/// MPSC `push_batch` whose claim wraps past the end of the slot array while
/// another producer pushes and the consumer pops. Capacity 2, and item 0
/// goes first: once the consumer has read it, one batch claim takes
/// positions 1 and 2, i.e. slot 1 and then slot 0 again (or only position 2,
/// slot 0, when the other producer took position 1). The producers decide
/// "free" from the consumer's published `head` (its Release store, the
/// batch claim's Acquire load), never from the slot's stamp, so that pair
/// alone keeps the batch off a slot still being read; the batch's Release
/// fence keeps the consumer off a slot not yet written. loom flags either
/// as a causality violation on the slot's cell, and a lost, doubled or
/// reordered item fails the asserts. Each producer makes one attempt, so
/// the model needs no producer spin loops.
#[test]
fn mpsc_batch_wraps_around_the_ring() {
    model(|| {
        let (mut tx, mut rx) = mpsc::channel::<usize>(2);
        tx.push(0).unwrap();
        let mut tx2 = tx.clone();
        let batcher = thread::spawn(move || {
            let mut batch = vec![1, 2];
            tx.push_batch(&mut batch).unwrap();
            2 - batch.len()
        });
        let pusher = thread::spawn(move || tx2.push(10).is_ok());
        let mut got = Vec::new();
        loop {
            match rx.pop() {
                Ok(v) => got.push(v),
                Err(PopError::Disconnected) => break,
                Err(_) => thread::yield_now(),
            }
        }
        let batched = batcher.join().unwrap();
        let pushed = pusher.join().unwrap();
        let first_producer: Vec<_> = got.iter().filter(|&&v| v < 10).copied().collect();
        let expected: Vec<usize> = (0..=batched).collect();
        assert_eq!(first_producer, expected, "FIFO, nothing lost or doubled");
        assert_eq!(got.contains(&10), pushed, "the other producer's item");
        assert_eq!(got.len(), 1 + batched + usize::from(pushed));
    });
}

#[test]
fn spmc_each_item_once() {
    model(|| {
        let (mut tx, mut rx1) = spmc::channel::<usize>(2);
        let mut rx2 = rx1.clone();
        tx.push(1).unwrap();
        let a = thread::spawn(move || pop_spin(|| rx2.pop()).unwrap());
        tx.push(2).unwrap();
        let mine = pop_spin(|| rx1.pop()).unwrap();
        let mut got = vec![mine, a.join().unwrap()];
        got.sort();
        assert_eq!(got, [1, 2]);
    });
}

#[test]
fn mpmc_exactly_once_with_wrap() {
    model(|| {
        let (mut tx1, mut rx1) = mpmc::channel::<usize>(2);
        let (mut tx2, mut rx2) = (tx1.clone(), rx1.clone());
        let a = thread::spawn(move || {
            push_spin(|v| tx2.push(v), 1);
            pop_spin(|| rx2.pop()).unwrap()
        });
        push_spin(|v| tx1.push(v), 2);
        push_spin(|v| tx1.push(v), 3);
        let mine = pop_spin(|| rx1.pop()).unwrap();
        let theirs = a.join().unwrap();
        let last = pop_spin(|| rx1.pop()).unwrap();
        let mut got = vec![mine, theirs, last];
        got.sort();
        assert_eq!(got, [1, 2, 3]);
    });
}

#[test]
fn stamped_drops_leftovers_once() {
    static DROPS: AtomicUsize = AtomicUsize::new(0);
    model(|| {
        DROPS.store(0, SeqCst);
        let (mut tx, mut rx) = mpmc::channel::<Counted>(2);
        let p = thread::spawn(move || {
            let _ = tx.push(Counted(1, &DROPS));
            let _ = tx.push(Counted(2, &DROPS));
        });
        let _ = rx.pop();
        drop(rx);
        p.join().unwrap();
        assert_eq!(DROPS.load(SeqCst), 2);
    });
}

#[test]
fn stamped_park_no_lost_wakeup() {
    model(|| {
        let (mut tx, mut rx) = mpsc::channel::<usize>(2);
        let c = thread::spawn(move || rx.pop_blocking(WaitStrategy::Park));
        tx.push(5).unwrap();
        assert_eq!(c.join().unwrap(), Ok(5));
    });
}

/// A consumer parked on an empty stamped ring is woken by the last sender
/// leaving, after it has taken what was sent (it waits twice: for the item,
/// then for the end of the stream).
#[test]
fn stamped_park_wakes_on_disconnect() {
    model(|| {
        let (mut tx, rx) = mpmc::channel::<usize>(2);
        let c = thread::spawn(move || {
            let mut rx = rx;
            let first = rx.pop_blocking(WaitStrategy::Park);
            (first, rx.pop_blocking(WaitStrategy::Park))
        });
        tx.push(1).unwrap();
        drop(tx);
        assert_eq!(c.join().unwrap(), (Ok(1), Err(PopError::Disconnected)));
    });
}

/// A producer parked on a full stamped ring is woken by a pop (the space
/// side of the handshake).
#[test]
fn stamped_park_full_no_lost_wakeup() {
    model(|| {
        let (mut tx, mut rx) = mpsc::channel::<usize>(1);
        tx.push(1).unwrap();
        let p = thread::spawn(move || tx.push_blocking(2, WaitStrategy::Park));
        assert_eq!(pop_spin(|| rx.pop()), Ok(1));
        assert_eq!(pop_spin(|| rx.pop()), Ok(2));
        assert!(p.join().unwrap().is_ok());
    });
}

/// SPMC wrap-around and disconnect: three items through two slots, two
/// consumers, each item taken exactly once, both see the end.
#[test]
fn spmc_wraps_and_disconnects() {
    model(|| {
        let (mut tx, mut rx1) = spmc::channel::<usize>(2);
        let mut rx2 = rx1.clone();
        let a = thread::spawn(move || {
            let mut got = vec![];
            while let Ok(v) = pop_spin(|| rx2.pop()) {
                got.push(v);
            }
            got
        });
        for i in 0..3 {
            push_spin(|v| tx.push(v), i);
        }
        drop(tx);
        let mut got = vec![];
        while let Ok(v) = pop_spin(|| rx1.pop()) {
            got.push(v);
        }
        got.extend(a.join().unwrap());
        got.sort();
        assert_eq!(got, [0, 1, 2]);
    });
}

/// SPMC: a consumer parked on the empty ring is woken by a push.
#[test]
fn spmc_park_no_lost_wakeup() {
    model(|| {
        let (mut tx, mut rx) = spmc::channel::<usize>(2);
        let c = thread::spawn(move || rx.pop_blocking(WaitStrategy::Park));
        tx.push(5).unwrap();
        assert_eq!(c.join().unwrap(), Ok(5));
    });
}

/// A consumer that saw the ring empty while the producer was alive, and then
/// sees the producer gone, must not report `Disconnected` while an item is
/// still in the ring, even when another consumer took the slot it looked at
/// in between (its position is then stale, and the slot's stamp is a lap
/// ahead rather than "never written").
#[test]
fn spmc_disconnect_leaves_no_item_behind() {
    model(|| {
        let (mut tx, mut rx1) = spmc::channel::<usize>(4);
        let mut rx2 = rx1.clone();
        let a = thread::spawn(move || {
            let mut got = vec![];
            while let Ok(v) = pop_spin(|| rx1.pop()) {
                got.push(v);
            }
            got
        });
        tx.push(1).unwrap();
        tx.push(2).unwrap();
        drop(tx);
        // One try, then this consumer leaves: whatever it did not take is
        // the other consumer's to take.
        let mut got: Vec<usize> = rx2.pop().ok().into_iter().collect();
        drop(rx2);
        got.extend(a.join().unwrap());
        got.sort();
        assert_eq!(got, [1, 2], "an item was left behind a Disconnected");
    });
}
