//! `sched` wakers: waking from anywhere, and waking what is gone.
//!
//! * Lockstep rounds: a task on either core, at every class, waits on a
//!   hand-written future that stores its waker; the waker is taken and
//!   fired (by `wake`, `wake_by_ref`, or a clone) from a plain
//!   `std::thread`, from a tokio runtime's thread, from a task of another
//!   `sched` runtime, from a task on the same core and from one on the other
//!   core. Every round completes (a lost wake-up fails the round's timeout).
//! * Free-running: two plain threads bump a counter and wake whatever waker
//!   is stored, with no handshake; the task sees the final count (no lost
//!   wake-up under races with its own polls).
//! * Waking a finished task, or an aborted one, is a no-op: its future is
//!   never polled again (poll counter), dropped once (drop counter), and the
//!   runtime keeps running other tasks, which those stale wakes never poll.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::{Duration, Instant};

use corelane::sched::{self, Priority};

#[path = "common/sched.rs"]
mod common;
use common::{bounded, two_cores, DropCount, SHUTDOWN};

/// One lockstep round, or a whole free-running run, may take this long.
const ROUND_LIMIT: Duration = Duration::from_secs(10);

fn rounds() -> usize {
    if cfg!(debug_assertions) {
        1_000
    } else {
        10_000
    }
}

// ---------------------------------------------------------------------------
// Lockstep: one wake per round
// ---------------------------------------------------------------------------

/// The meeting point of a waiting task and its waker.
#[derive(Default)]
struct Slot {
    /// The waiter's latest waker.
    waker: Mutex<Option<Waker>>,
    /// The round the waiter has registered its waker for.
    registered: AtomicUsize,
    /// The last round released.
    released: AtomicUsize,
}

/// Round `round` of the waiter: ready once the round is released.
struct Round {
    slot: Arc<Slot>,
    round: usize,
    polls: usize,
}

impl Future for Round {
    type Output = usize;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
        self.polls += 1;
        // Waker first, then the announcement, then the check: a release
        // after the check finds the waker.
        *self.slot.waker.lock().unwrap() = Some(cx.waker().clone());
        self.slot.registered.store(self.round, SeqCst);
        if self.slot.released.load(SeqCst) >= self.round {
            Poll::Ready(self.polls)
        } else {
            Poll::Pending
        }
    }
}

/// The waiting side: `n` rounds, each bounded in time.
async fn waiter(slot: Arc<Slot>, n: usize) -> usize {
    let mut polls = 0;
    for round in 1..=n {
        let r = sched::timeout(
            ROUND_LIMIT,
            Round {
                slot: slot.clone(),
                round,
                polls: 0,
            },
        )
        .await;
        polls += r.unwrap_or_else(|_| panic!("round {round}: lost wake-up"));
    }
    polls
}

/// The waking side, for round `round`: `Some(waker)` once the waiter has
/// registered for it (the round is then released), `None` while not yet.
fn try_release(slot: &Slot, round: usize) -> Option<Waker> {
    if slot.registered.load(SeqCst) < round {
        return None;
    }
    slot.released.store(round, SeqCst);
    slot.waker.lock().unwrap().take()
}

/// Fires `waker` one of three ways.
fn fire(waker: Waker, round: usize) {
    match round % 3 {
        0 => waker.wake(),
        1 => waker.wake_by_ref(),
        _ => {
            let clone = waker.clone();
            drop(waker);
            clone.wake();
        }
    }
}

/// The waking side on a plain thread.
fn wake_rounds_blocking(slot: &Slot, n: usize) {
    for round in 1..=n {
        let t = Instant::now();
        loop {
            if let Some(w) = try_release(slot, round) {
                fire(w, round);
                break;
            }
            // Released but no waker to take: the waiter's poll already saw it.
            if slot.released.load(SeqCst) >= round {
                break;
            }
            assert!(
                t.elapsed() < ROUND_LIMIT,
                "round {round}: the waiter never registered"
            );
            thread::yield_now();
        }
    }
}

/// The waking side as a task.
async fn wake_rounds_async(slot: Arc<Slot>, n: usize) {
    for round in 1..=n {
        let t = Instant::now();
        loop {
            if let Some(w) = try_release(&slot, round) {
                fire(w, round);
                break;
            }
            if slot.released.load(SeqCst) >= round {
                break;
            }
            assert!(
                t.elapsed() < ROUND_LIMIT,
                "round {round}: the waiter never registered"
            );
            sched::yield_now().await;
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Source {
    PlainThread,
    TokioThread,
    OtherRuntime,
    SameCore,
    OtherCore,
}

fn lockstep(source: Source) {
    bounded(move || {
        let rt = two_cores();
        let n = rounds();
        for core in 0..2 {
            for prio in [Priority::High, Priority::Normal, Priority::Low] {
                let slot = Arc::new(Slot::default());
                let waiting = rt.spawn_on(core, prio, waiter(slot.clone(), n));
                match source {
                    Source::PlainThread => {
                        let s = slot.clone();
                        thread::spawn(move || wake_rounds_blocking(&s, n))
                            .join()
                            .expect("waking thread");
                    }
                    Source::TokioThread => {
                        let s = slot.clone();
                        thread::spawn(move || {
                            let tokio_rt = tokio::runtime::Builder::new_current_thread()
                                .build()
                                .expect("tokio");
                            tokio_rt.block_on(async move {
                                tokio::task::spawn(async move { wake_rounds_blocking(&s, n) }).await
                            })
                        })
                        .join()
                        .expect("tokio thread")
                        .expect("tokio task");
                    }
                    Source::OtherRuntime => {
                        let other = two_cores();
                        other.block_on(wake_rounds_async(slot.clone(), n));
                        other
                            .shutdown(SHUTDOWN)
                            .expect("the other runtime's shutdown");
                    }
                    Source::SameCore | Source::OtherCore => {
                        let at = if matches!(source, Source::SameCore) {
                            core
                        } else {
                            1 - core
                        };
                        // `Low`: on the waiter's own core, a busy waker of a
                        // higher class would hold a `Low` waiter to the
                        // starvation bound every round.
                        let waking =
                            rt.spawn_on(at, Priority::Low, wake_rounds_async(slot.clone(), n));
                        rt.block_on(waking).expect("waking task");
                    }
                }
                let polls = rt.block_on(waiting).expect("waiter");
                assert!(
                    polls >= n,
                    "{source:?}, core {core}: {polls} polls for {n} rounds"
                );
                assert!(
                    polls <= 2 * n + n / 10,
                    "{source:?}, core {core}: {polls} polls for {n} rounds: spurious polls"
                );
            }
        }
        rt.shutdown(SHUTDOWN).expect("shutdown");
    });
}

#[test]
fn wakes_from_a_plain_thread() {
    lockstep(Source::PlainThread);
}

#[test]
fn wakes_from_a_tokio_thread() {
    lockstep(Source::TokioThread);
}

#[test]
fn wakes_from_another_sched_runtime() {
    lockstep(Source::OtherRuntime);
}

#[test]
fn wakes_from_a_task_on_the_same_core() {
    lockstep(Source::SameCore);
}

#[test]
fn wakes_from_a_task_on_the_other_core() {
    lockstep(Source::OtherCore);
}

// ---------------------------------------------------------------------------
// Free-running wakes
// ---------------------------------------------------------------------------

/// Ready once `count` reaches `target`.
struct Count {
    count: Arc<AtomicUsize>,
    waker: Arc<Mutex<Option<Waker>>>,
    target: usize,
}

impl Future for Count {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        *self.waker.lock().unwrap() = Some(cx.waker().clone());
        if self.count.load(SeqCst) >= self.target {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

#[test]
fn racing_wakes_from_two_threads_lose_nothing() {
    bounded(|| {
        let rt = two_cores();
        let per_thread = 10 * rounds();
        for core in 0..2 {
            let count = Arc::new(AtomicUsize::new(0));
            let waker: Arc<Mutex<Option<Waker>>> = Arc::default();
            let fut = Count {
                count: count.clone(),
                waker: waker.clone(),
                target: 2 * per_thread,
            };
            let waiting = rt.spawn_on(core, Priority::Normal, async move {
                sched::timeout(ROUND_LIMIT, fut).await
            });
            let wakers: Vec<_> = (0..2)
                .map(|_| {
                    let (count, waker) = (count.clone(), waker.clone());
                    thread::spawn(move || {
                        for i in 0..per_thread {
                            count.fetch_add(1, SeqCst);
                            let w = waker.lock().unwrap().clone();
                            if let Some(w) = w {
                                if i % 2 == 0 {
                                    w.wake()
                                } else {
                                    w.wake_by_ref()
                                }
                            }
                        }
                    })
                })
                .collect();
            for w in wakers {
                w.join().expect("waking thread");
            }
            let r = rt.block_on(waiting).expect("waiter");
            assert!(
                r.is_ok(),
                "core {core}: the waiter missed the last wake (count {})",
                count.load(SeqCst)
            );
        }
        rt.shutdown(SHUTDOWN).expect("shutdown");
    });
}

// ---------------------------------------------------------------------------
// Waking what is gone
// ---------------------------------------------------------------------------

/// Hands its waker out on the first poll, counts its polls, completes on
/// the second (`finish`) or never.
struct Stash {
    out: Arc<Mutex<Vec<Waker>>>,
    polls: Arc<AtomicUsize>,
    finish: bool,
    _drops: DropCount,
}

impl Future for Stash {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let n = self.polls.fetch_add(1, SeqCst) + 1;
        if n == 1 {
            self.out.lock().unwrap().push(cx.waker().clone());
            // Ask for the second poll right away.
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        if self.finish {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

#[test]
fn waking_a_finished_or_aborted_task_is_a_no_op() {
    bounded(|| {
        let rt = two_cores();
        for core in 0..2 {
            let stale: Arc<Mutex<Vec<Waker>>> = Arc::default();
            // A task that finished.
            let (done_polls, done_drops) =
                (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
            let finished = rt.spawn_on(
                core,
                Priority::Normal,
                Stash {
                    out: stale.clone(),
                    polls: done_polls.clone(),
                    finish: true,
                    _drops: DropCount(done_drops.clone()),
                },
            );
            rt.block_on(finished).expect("finished task");
            assert_eq!(done_polls.load(SeqCst), 2);
            assert_eq!(done_drops.load(SeqCst), 1);
            // A task that was aborted while pending.
            let (gone_polls, gone_drops) =
                (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
            let aborted = rt.spawn_on(
                core,
                Priority::Normal,
                Stash {
                    out: stale.clone(),
                    polls: gone_polls.clone(),
                    finish: false,
                    _drops: DropCount(gone_drops.clone()),
                },
            );
            let t = Instant::now();
            while gone_polls.load(SeqCst) < 2 {
                assert!(
                    t.elapsed() < ROUND_LIMIT,
                    "the second task was not polled twice"
                );
                thread::yield_now();
            }
            aborted.abort();
            let err = rt.block_on(aborted).expect_err("aborted");
            assert!(err.is_cancelled());
            assert_eq!(gone_drops.load(SeqCst), 1);

            // A live task beside them, pending until released.
            let slot = Arc::new(Slot::default());
            let live = rt.spawn_on(core, Priority::Normal, waiter(slot.clone(), 1));
            let t = Instant::now();
            while slot.registered.load(SeqCst) < 1 {
                assert!(t.elapsed() < ROUND_LIMIT, "the live task never polled");
                thread::yield_now();
            }

            // Wake the two gone tasks, many times, every way, from here,
            // from another thread and from a task on each core.
            let wakers: Vec<Waker> = stale.lock().unwrap().clone();
            assert_eq!(wakers.len(), 2);
            for _ in 0..1_000 {
                for w in &wakers {
                    w.wake_by_ref();
                    // A clone woken by value (not `wake_by_ref`): the
                    // clone and the consuming wake are what is exercised.
                    let clone = w.clone();
                    clone.wake();
                }
            }
            let clones = wakers.clone();
            thread::spawn(move || {
                for _ in 0..1_000 {
                    clones.iter().for_each(Waker::wake_by_ref);
                }
                clones.into_iter().for_each(Waker::wake);
            })
            .join()
            .expect("waking thread");
            for at in 0..2 {
                let clones = wakers.clone();
                rt.block_on(rt.spawn_on(at, Priority::High, async move {
                    for _ in 0..1_000 {
                        clones.iter().for_each(Waker::wake_by_ref);
                        sched::yield_now().await;
                    }
                }))
                .expect("waking task");
            }
            drop(wakers);
            stale.lock().unwrap().clear();
            thread::sleep(Duration::from_millis(10));

            assert_eq!(
                done_polls.load(SeqCst),
                2,
                "core {core}: a finished task was polled again"
            );
            assert_eq!(
                gone_polls.load(SeqCst),
                2,
                "core {core}: an aborted task was polled again"
            );
            assert_eq!(
                done_drops.load(SeqCst),
                1,
                "core {core}: finished future dropped once"
            );
            assert_eq!(
                gone_drops.load(SeqCst),
                1,
                "core {core}: aborted future dropped once"
            );
            assert!(
                !live.is_finished(),
                "core {core}: the live task waits for its release"
            );

            // The core still works: release the live task.
            let w = try_release(&slot, 1).expect("the live task's waker");
            w.wake();
            let polls = rt.block_on(live).expect("live task");
            assert!(
                polls <= 3,
                "core {core}: the live task was polled {polls} times for one wake-up"
            );
        }
        rt.shutdown(SHUTDOWN).expect("shutdown");
    });
}
