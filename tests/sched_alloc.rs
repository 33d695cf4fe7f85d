//! A counting global allocator checks the allocation targets for
//! `sched` after warm-up: one allocation per spawn (the task cell) and none
//! per wake.
//!
//! * Spawns: 256 tasks at a time by `spawn_local`, `spawn`, `spawn_on` this
//!   core, `spawn_on` the other core (from a task), and `Runtime::spawn_on`
//!   (from a plain thread): exactly one allocation each; joining them
//!   (the `JoinHandle` wake-ups included) none.
//! * Wakes: 10k `yield_now`s; 10k items through an SPSC ring of capacity 1
//!   from core 0 to a task on core 1 (a remote wake per item, and one back
//!   per freed slot); 10k wakes of a task by a plain thread through a stored
//!   waker; 200 short sleeps (wheel entries in a warm wheel): none.
//!
//! Counting is global (every thread: the cores do the work), so this file
//! holds a single test and nothing else runs beside its windows; the test's
//! own thread is not counted while it only waits in `block_on` (whose
//! bookkeeping would otherwise race into a core's window), and both cores
//! have started before the first window. The ring's "remote wake per item"
//! is nominal: its async path often re-polls itself instead (see
//! `sched_pingpong`). All figures are printed before anything is asserted.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::{Duration, Instant};

use corelane::queue::spsc;
use corelane::sched::{self, JoinHandle, Priority};

#[path = "common/sched.rs"]
mod common;
#[path = "common/alloc.rs"]
mod counting_alloc;
use common::{bounded, two_cores};
use counting_alloc::Counting;

/// Allocations since the start by every thread not [`excluded`].
static ALLOCS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// Set on the test's own thread while it only waits in `block_on`, so
    /// that its `block_on` bookkeeping never lands in a core's window.
    static EXCLUDED: Cell<bool> = const { Cell::new(false) };
}

fn note() {
    // `try_with`: the allocator may run while thread-locals are torn down.
    if !EXCLUDED.try_with(Cell::get).unwrap_or(false) {
        ALLOCS.fetch_add(1, SeqCst);
    }
}

/// Runs `f` with this thread's allocations not counted.
fn excluded<R>(f: impl FnOnce() -> R) -> R {
    EXCLUDED.with(|e| e.set(true));
    let r = f();
    EXCLUDED.with(|e| e.set(false));
    r
}

// SAFETY: `note` touches one atomic and a const-initialised thread-local
// `Cell` (through `try_with`): it never allocates and never unwinds.
#[global_allocator]
static GLOBAL: Counting = unsafe { Counting::new(note) };

fn allocs() -> u64 {
    ALLOCS.load(SeqCst)
}

const BATCH: usize = 256;
const WAKES: u64 = 10_000;

#[derive(Clone, Copy, Debug)]
enum Kind {
    SpawnLocal,
    Spawn,
    SpawnOnSelf,
    SpawnOnOther,
}

fn spawn(kind: Kind, i: u64) -> JoinHandle<u64> {
    let body = async move { i };
    match kind {
        Kind::SpawnLocal => sched::spawn_local(Priority::Normal, body),
        Kind::Spawn => sched::spawn(Priority::Normal, body),
        Kind::SpawnOnSelf => sched::spawn_on(sched::current_core(), Priority::Normal, body),
        Kind::SpawnOnOther => sched::spawn_on(1 - sched::current_core(), Priority::Normal, body),
    }
}

/// One batch spawned then joined: (allocations while spawning, while
/// joining). `handles` is reused, so its buffer is not counted.
async fn spawn_batch(kind: Kind, handles: &mut Vec<JoinHandle<u64>>) -> (u64, u64) {
    let a0 = allocs();
    for i in 0..BATCH as u64 {
        handles.push(spawn(kind, i));
    }
    let a1 = allocs();
    let mut sum = 0;
    for h in handles.drain(..) {
        sum += h.await.expect("task");
    }
    let a2 = allocs();
    assert_eq!(sum, (BATCH as u64) * (BATCH as u64 - 1) / 2);
    (a1 - a0, a2 - a1)
}

/// Ready when `released` reaches `round`; stores its waker on every poll.
struct Round<'a> {
    slot: &'a Slot,
    round: u64,
}

#[derive(Default)]
struct Slot {
    waker: Mutex<Option<Waker>>,
    registered: AtomicU64,
    released: AtomicU64,
}

impl Future for Round<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        {
            let mut w = self.slot.waker.lock().unwrap();
            // `clone_from` keeps the stored waker when it is the same one.
            match &mut *w {
                Some(stored) => stored.clone_from(cx.waker()),
                None => *w = Some(cx.waker().clone()),
            }
        }
        self.slot.registered.store(self.round, SeqCst);
        if self.slot.released.load(SeqCst) >= self.round {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

/// The figures, printed together before any is checked.
#[derive(Debug, Default)]
struct Figures {
    /// Per kind: (spawn allocations, join allocations) for one batch.
    spawns: Vec<(String, u64, u64)>,
    yields: u64,
    ring: u64,
    foreign: u64,
    sleeps: u64,
}

#[test]
fn one_allocation_per_spawn_and_none_per_wake() {
    let f = bounded(measure);
    eprintln!("allocation figures (batch {BATCH}, {WAKES} wakes): {f:#?}");
    for (kind, spawning, joining) in &f.spawns {
        assert_eq!(
            *spawning, BATCH as u64,
            "{kind}: one allocation per spawn ({spawning} for {BATCH})"
        );
        assert_eq!(
            *joining, 0,
            "{kind}: joining {BATCH} tasks allocates nothing"
        );
    }
    assert_eq!(f.yields, 0, "{WAKES} yield_now wakes allocate nothing");
    assert_eq!(
        f.ring, 0,
        "{WAKES} items through a ring across cores allocate nothing"
    );
    assert_eq!(
        f.foreign, 0,
        "{WAKES} wakes from a plain thread allocate nothing"
    );
    assert_eq!(
        f.sleeps, 0,
        "200 short sleeps in a warm wheel allocate nothing"
    );
}

fn measure() -> Figures {
    let rt = two_cores();
    // Every window below runs on the cores while this thread waits in
    // `block_on`, its own allocations not counted; first, both cores are
    // up (their start-up allocations done).
    let mut figures = excluded(|| {
        rt.block_on(async {
            for core in 0..2 {
                sched::spawn_on(core, Priority::Normal, async {})
                    .await
                    .expect("core up");
            }
        });
        rt.block_on(windows_on_the_cores())
    });

    // From a plain thread (this one, counted again).
    let mut handles = Vec::with_capacity(BATCH);
    let mut outside = 0;
    for _ in 0..4 {
        let a0 = allocs();
        for i in 0..BATCH as u64 {
            handles.push(rt.spawn_on(i as usize % 2, Priority::Normal, async move { i }));
        }
        outside = allocs() - a0;
        let (drained, back) = excluded(|| {
            rt.block_on(async move {
                let mut sum = 0;
                for h in handles.drain(..) {
                    sum += h.await.expect("task");
                }
                (sum, handles)
            })
        });
        handles = back;
        assert_eq!(drained, (BATCH as u64) * (BATCH as u64 - 1) / 2);
    }
    // Joining is not measured here: `block_on` itself spawns a task.
    figures.spawns.push((
        "Runtime::spawn_on from a plain thread".to_owned(),
        outside,
        0,
    ));

    // Wakes from a plain thread, through a stored waker.
    let slot = Arc::new(Slot::default());
    let s = slot.clone();
    let waiter = rt.spawn_on(1, Priority::Normal, async move {
        let mut a0 = 0;
        for round in 1..=1_000 + WAKES {
            if round == 1_001 {
                a0 = allocs();
            }
            Round { slot: &s, round }.await;
        }
        allocs() - a0
    });
    let waking = thread::spawn(move || {
        for round in 1..=1_000 + WAKES {
            let t = Instant::now();
            loop {
                if slot.registered.load(SeqCst) >= round {
                    slot.released.store(round, SeqCst);
                    let w = slot.waker.lock().unwrap().take();
                    if let Some(w) = w {
                        w.wake();
                    }
                    break;
                }
                assert!(
                    t.elapsed() < Duration::from_secs(10),
                    "round {round}: lost wake-up"
                );
                thread::yield_now();
            }
        }
    });
    figures.foreign = excluded(|| {
        waking.join().expect("waking thread");
        rt.block_on(waiter).expect("waiter")
    });

    rt.shutdown(Duration::from_secs(5)).expect("shutdown");
    figures
}

/// The windows measured inside one `block_on` (on core 0, spawning to
/// both cores).
async fn windows_on_the_cores() -> Figures {
    let mut figures = Figures::default();
    let mut handles = Vec::with_capacity(BATCH);
    for kind in [
        Kind::SpawnLocal,
        Kind::Spawn,
        Kind::SpawnOnSelf,
        Kind::SpawnOnOther,
    ] {
        // Warm-up: queues grown, thread-locals and lazies initialised.
        for _ in 0..3 {
            spawn_batch(kind, &mut handles).await;
        }
        let (spawning, joining) = spawn_batch(kind, &mut handles).await;
        figures
            .spawns
            .push((format!("{kind:?}"), spawning, joining));
    }

    // Wakes by yield_now, on core 1.
    figures.yields = sched::spawn_on(1, Priority::Normal, async {
        for _ in 0..1_000 {
            sched::yield_now().await;
        }
        let a0 = allocs();
        for _ in 0..WAKES {
            sched::yield_now().await;
        }
        allocs() - a0
    })
    .await
    .expect("yielding task");

    // Wakes through a ring, core 0 → core 1.
    let (mut tx, mut rx) = spsc::channel::<u64>(1);
    let consumer = sched::spawn_on(1, Priority::High, async move {
        for i in 0..1_000 {
            assert_eq!(rx.recv().await, Ok(i));
        }
        let a0 = allocs();
        for i in 1_000..1_000 + WAKES {
            assert_eq!(rx.recv().await, Ok(i));
        }
        allocs() - a0
    });
    let producer = sched::spawn_on(0, Priority::High, async move {
        for i in 0..1_000 + WAKES {
            tx.send(i).await.expect("consumer alive");
        }
    });
    producer.await.expect("producer");
    figures.ring = consumer.await.expect("consumer");

    // Short sleeps in a warm wheel, on core 1.
    figures.sleeps = sched::spawn_on(1, Priority::Normal, async move {
        for _ in 0..200 {
            sched::sleep(Duration::from_micros(50)).await;
        }
        let a0 = allocs();
        for _ in 0..200 {
            sched::sleep(Duration::from_micros(50)).await;
        }
        allocs() - a0
    })
    .await
    .expect("sleeping task");
    figures
}
