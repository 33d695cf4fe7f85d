//! loom models of the wake-up cell (`src/queue/notify.rs`): each ground rule
//! on the bare cell, then streams through an SPSC ring that wait often
//! enough to switch modes.
//!
//! Under loom a cell switches to symmetric fences at its *second* heavy
//! barrier, and an async wait re-polls itself once before registering, so
//! small models see both modes, the switch and the spin. A model that
//! starts with a wait that succeeds at once (`warm`) has spent the first
//! heavy barrier, so its next wait is the switch.
//!
//! Each model was seen to fail (a loom deadlock: a waiter asleep with no
//! wake-up coming) against the mutant of `notify.rs` named in its docs:
//! `ci/loom-mutants.sh` builds each mutant and expects its models to fail.
#![cfg(corelane_loom)]

use std::future::poll_fn;

use corelane::__loom::Cell;
use corelane::queue::spsc;
use corelane::queue::wait::WaitStrategy::Park;
use loom::future::block_on;
use loom::sync::atomic::{AtomicBool, Ordering};
use loom::sync::Arc;
use loom::thread;

/// `loom::model` with room for the spin loops.
fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    b.max_branches = 100_000;
    b.check(f);
}

/// A flag a waiter waits for: the "ring" of the bare-cell models. Relaxed
/// on both sides, as a ring's Release/Acquire adds nothing to the StoreLoad
/// pair the cell must provide.
#[derive(Default)]
struct Flag(AtomicBool);

impl Flag {
    fn set(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    fn get(&self) -> Option<()> {
        // Relaxed: see the type's docs (the cell supplies the StoreLoad
        // pair; a ring's Acquire would add nothing to it).
        self.0.load(Ordering::Relaxed).then_some(())
    }
}

/// Spends the cell's first heavy barrier on a wait that succeeds at once.
fn warm(cell: &Cell) {
    cell.park_until(|| Some(()));
}

/// Rules 1 and 4: a thread parks on a fresh (asymmetric) cell; the
/// publisher's light barrier pairs with its heavy barrier, and the futex is
/// woken because the state counts a parked thread.
///
/// Fails against `ParkedNotCounted` (the futex is never woken).
#[test]
fn asymmetric_park_is_woken() {
    model(|| {
        let cell = Arc::new(Cell::new());
        let flag = Arc::new(Flag::default());
        let (c, f) = (cell.clone(), flag.clone());
        let waiter = thread::spawn(move || c.park_until(|| f.get()));
        flag.set();
        cell.notify();
        waiter.join().unwrap();
        assert_eq!(cell.parked(), 0, "every announcement taken back");
    });
}

/// Rules 2 and 3: the waiter's first wait switches the cell (its heavy
/// barrier is the switch's), its second is symmetric (a plain fence),
/// against a publisher that may read the state before, during or after
/// the switch.
///
/// Fails against `SwitchWithoutBarrier` (the first wait) and
/// `PublisherSkipsFence` (the second).
#[test]
fn park_across_the_switch() {
    model(|| {
        let cell = Arc::new(Cell::new());
        warm(&cell);
        let flags = Arc::new([Flag::default(), Flag::default()]);
        let (c, f) = (cell.clone(), flags.clone());
        let waiter = thread::spawn(move || {
            c.park_until(|| f[0].get());
            c.park_until(|| f[1].get());
        });
        for flag in flags.iter() {
            flag.set();
            cell.notify();
        }
        waiter.join().unwrap();
        assert_eq!(cell.parked(), 0, "every announcement taken back");
    });
}

/// Rule 3 with two waiters: one switches while the other announces. The
/// second may skip the heavy barrier only once the switch's barrier has
/// returned. And rule 4's `WOKEN`: the wake of one waiter must not let a
/// publisher skip the other, who parked after that wake.
///
/// Fails against `WaitersFenceEarly` and `WokenNotCleared`.
#[test]
fn two_waiters_during_the_switch() {
    model(|| {
        let cell = Arc::new(Cell::new());
        warm(&cell);
        let flags = Arc::new([Flag::default(), Flag::default()]);
        let waiters: Vec<_> = (0..2)
            .map(|i| {
                let (c, f) = (cell.clone(), flags.clone());
                thread::spawn(move || c.park_until(|| f[i].get()))
            })
            .collect();
        for flag in flags.iter() {
            flag.set();
            cell.notify();
        }
        for w in waiters {
            w.join().unwrap();
        }
        assert_eq!(cell.parked(), 0, "every announcement taken back");
    });
}

/// Rule 4 on the deadline path (`pop_until` / `push_until` with `Park`):
/// a timed sleep ends on its own (under loom at once: a yield), and each
/// time the waiter takes its announcement back before it re-checks, so
/// once the wait is over the cell counts no parked thread. (A count left
/// behind would send every later publish down the slow path and, with
/// `WOKEN` set, let publishers skip the wake of a later sleeper.) A wait
/// that spins through several announcements against a publisher that may
/// see any of them.
///
/// Fails against `TimedParkKeepsCount`.
#[test]
fn timed_park_leaves_the_counts_balanced() {
    model(|| {
        let cell = Arc::new(Cell::new());
        let flag = Arc::new(Flag::default());
        let (c, f) = (cell.clone(), flag.clone());
        let far = std::time::Instant::now() + std::time::Duration::from_secs(3600);
        let waiter = thread::spawn(move || c.park_until_deadline(|| f.get(), far));
        flag.set();
        cell.notify();
        assert_eq!(waiter.join().unwrap(), Some(()));
        assert_eq!(cell.parked(), 0, "every announcement taken back");
    });
}

/// Rules 2, 3 and 5 on the async path: a task waits twice (a self-wake,
/// then a registration that switches the cell; then a symmetric one),
/// and once polls again while its waker is still registered (rule 5: no
/// new barrier).
///
/// Fails against `SwitchWithoutBarrier` and `PublisherSkipsFence`.
#[test]
fn async_waits_across_the_switch() {
    model(|| {
        let cell = Arc::new(Cell::new());
        warm(&cell);
        let flags = Arc::new([Flag::default(), Flag::default()]);
        let (c, f) = (cell.clone(), flags.clone());
        let waiter = thread::spawn(move || {
            // A spurious wake-up after the first registration: the next poll
            // finds the waker registered (rule 5).
            let mut spurious = true;
            block_on(poll_fn(|cx| {
                let r = c.poll(cx, || f[0].get());
                if r.is_pending() && std::mem::take(&mut spurious) {
                    cx.waker().wake_by_ref();
                }
                r
            }));
            block_on(poll_fn(|cx| c.poll(cx, || f[1].get())));
        });
        for flag in flags.iter() {
            flag.set();
            cell.notify();
        }
        waiter.join().unwrap();
        assert_eq!(cell.parked(), 0, "every announcement taken back");
    });
}

/// A stream through a one-slot SPSC ring, both sides parking: each cell
/// may see several waits, so the models cover a ring whose cells switch
/// mid-stream, with the ring's own stores as the published data.
#[test]
fn spsc_park_stream() {
    model(|| {
        let (mut tx, mut rx) = spsc::channel::<usize>(1);
        let p = thread::spawn(move || {
            for i in 0..3 {
                tx.push_blocking(i, Park).unwrap();
            }
        });
        for i in 0..3 {
            assert_eq!(rx.pop_blocking(Park), Ok(i));
        }
        p.join().unwrap();
    });
}

/// The same stream with `send().await` and `recv().await`, and the end of
/// the stream seen by `recv` (the unconditional wake of a disconnect).
#[test]
fn spsc_async_stream() {
    model(|| {
        let (mut tx, mut rx) = spsc::channel::<usize>(1);
        let p = thread::spawn(move || {
            for i in 0..3 {
                block_on(tx.send(i)).unwrap();
            }
        });
        for i in 0..3 {
            assert_eq!(block_on(rx.recv()), Ok(i));
        }
        assert!(block_on(rx.recv()).is_err());
        p.join().unwrap();
    });
}
