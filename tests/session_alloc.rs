//! A counting global allocator checks the session target "zero heap
//! allocations per message over the ring transport": after a warm-up,
//! 10 000 request/reply round trips of a loop with a three-arm choice
//! (two payload types and a label alone), one end on each of two threads,
//! allocate nothing: blocking (each wait strategy but `BusySpin`, which
//! two spinning threads on two CPUs make a poor neighbour of the other
//! tests), and async on a two-core `corelane::sched` runtime (one task per
//! core, cores that park when idle, so each message may be a cross-core
//! wake).
//!
//! Only the measuring threads count, and only inside their windows (a
//! thread-local switch): the warm-up, the thread spawns, the runtime's
//! start and the test harness are not counted. On the runtime the switch
//! is set by the task on its core's thread, so the core's own work during
//! the window (wakes, parks, the timer) counts too. The figures are
//! printed before anything is asserted.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::thread;

use corelane::queue::wait::WaitStrategy;
use corelane::sched::{Idle, Priority};
use corelane::session::ring::{self, Ring};
use corelane::session::{Chan, Dual, End, Error, Offer, Rec, Recv, Var, Z};

#[path = "common/sched.rs"]
mod common;
#[path = "common/alloc.rs"]
mod counting_alloc;
use common::{bounded, two_core_builder};
use counting_alloc::Counting;

/// Allocations by threads inside their windows.
static ALLOCS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// Set while this thread is inside a measured window.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

fn note() {
    // `try_with`: the allocator may run while thread-locals are torn down.
    if COUNTING.try_with(Cell::get).unwrap_or(false) {
        ALLOCS.fetch_add(1, SeqCst);
    }
}

// SAFETY: `note` touches one atomic and a const-initialised thread-local
// `Cell` (through `try_with`): it never allocates and never unwinds.
#[global_allocator]
static GLOBAL: Counting = unsafe { Counting::new(note) };

fn counting(on: bool) {
    COUNTING.with(|c| c.set(on));
}

/// Untimed, uncounted round trips before each window.
const WARMUP: u64 = 1_000;
/// Counted round trips.
const ROUND_TRIPS: u64 = 10_000;

/// A two-number request.
#[derive(Clone, Copy, Debug)]
pub struct Pair(pub u64, pub u64);

corelane::session_payload! {
    /// What the protocol carries.
    pub enum Wire { U(u64), P(Pair) }
}

corelane::session_choice! {
    /// The client's requests.
    pub mod req {
        /// Its successor comes back.
        Incr(u64) => Recv<u64, Var<Z>>,
        /// Their sum comes back.
        Add(Pair) => Recv<u64, Var<Z>>,
        /// A label alone; a zero comes back.
        Nop(()) => Recv<u64, Var<Z>>,
        /// Done.
        Stop(()) => End,
    }
}

type Server = Rec<Offer<req::Choice>>;
type Client = Dual<Server>;

/// Serves until `Stop`; counts its allocations from request `WARMUP` on.
fn serve(c: Chan<Server, Ring<Wire>>) -> Result<u64, Error> {
    let mut c = c.enter();
    let mut n = 0;
    loop {
        if n == WARMUP {
            counting(true);
        }
        n += 1;
        c = match c.offer_blocking()? {
            req::Branch::Incr(v, c) => c.send_blocking(v + 1)?.recurse(),
            req::Branch::Add(Pair(a, b), c) => c.send_blocking(a + b)?.recurse(),
            req::Branch::Nop((), c) => c.send_blocking(0)?.recurse(),
            req::Branch::Stop((), c) => {
                counting(false);
                c.close();
                return Ok(n - 1);
            }
        };
    }
}

/// Asks `WARMUP + ROUND_TRIPS` questions, counting from `WARMUP` on.
fn ask(c: Chan<Client, Ring<Wire>>) -> Result<(), Error> {
    let mut c = c.enter();
    for i in 0..WARMUP + ROUND_TRIPS {
        if i == WARMUP {
            counting(true);
        }
        c = match i % 3 {
            0 => {
                let (v, c) = c.choose_blocking(req::Incr, i)?.recv_blocking()?;
                assert_eq!(v, i + 1);
                c.recurse()
            }
            1 => {
                let (v, c) = c.choose_blocking(req::Add, Pair(i, 1))?.recv_blocking()?;
                assert_eq!(v, i + 1);
                c.recurse()
            }
            _ => {
                let (v, c) = c.choose_blocking(req::Nop, ())?.recv_blocking()?;
                assert_eq!(v, 0);
                c.recurse()
            }
        };
    }
    counting(false);
    c.choose_blocking(req::Stop, ())?.close();
    Ok(())
}

async fn serve_async(c: Chan<Server, Ring<Wire>>) -> Result<u64, Error> {
    let mut c = c.enter();
    let mut n = 0;
    loop {
        if n == WARMUP {
            counting(true);
        }
        n += 1;
        c = match c.offer().await? {
            req::Branch::Incr(v, c) => c.send(v + 1).await?.recurse(),
            req::Branch::Add(Pair(a, b), c) => c.send(a + b).await?.recurse(),
            req::Branch::Nop((), c) => c.send(0).await?.recurse(),
            req::Branch::Stop((), c) => {
                counting(false);
                c.close();
                return Ok(n - 1);
            }
        };
    }
}

async fn ask_async(c: Chan<Client, Ring<Wire>>) -> Result<(), Error> {
    let mut c = c.enter();
    for i in 0..WARMUP + ROUND_TRIPS {
        if i == WARMUP {
            counting(true);
        }
        c = match i % 3 {
            0 => {
                let (v, c) = c.choose(req::Incr, i).await?.recv().await?;
                assert_eq!(v, i + 1);
                c.recurse()
            }
            1 => {
                let (v, c) = c.choose(req::Add, Pair(i, 1)).await?.recv().await?;
                assert_eq!(v, i + 1);
                c.recurse()
            }
            _ => {
                let (v, c) = c.choose(req::Nop, ()).await?.recv().await?;
                assert_eq!(v, 0);
                c.recurse()
            }
        };
    }
    counting(false);
    c.choose(req::Stop, ()).await?.close();
    Ok(())
}

/// The blocking round trips with both ends waiting per `wait`; returns the
/// allocations counted.
fn blocking(wait: WaitStrategy) -> u64 {
    bounded(move || {
        let before = ALLOCS.load(SeqCst);
        let (server, client) = ring::pair_with::<Server, Wire>(1, wait);
        let t = thread::spawn(move || serve(server));
        ask(client).expect("client");
        let served = t.join().expect("server thread").expect("server");
        assert_eq!(served, WARMUP + ROUND_TRIPS);
        ALLOCS.load(SeqCst) - before
    })
}

/// The async round trips on a two-core runtime (client on core 0, server
/// on core 1); returns the allocations counted.
fn async_two_cores() -> u64 {
    bounded(|| {
        let rt = two_core_builder(Idle::Park).build().expect("runtime");
        let before = ALLOCS.load(SeqCst);
        let (server, client) = ring::pair::<Server, Wire>(1);
        let s = rt.spawn_on(1, Priority::Normal, serve_async(server));
        let c = rt.spawn_on(0, Priority::Normal, ask_async(client));
        rt.block_on(c).expect("client task").expect("client");
        let served = rt.block_on(s).expect("server task").expect("server");
        assert_eq!(served, WARMUP + ROUND_TRIPS);
        let counted = ALLOCS.load(SeqCst) - before;
        rt.shutdown(common::SHUTDOWN).expect("shutdown");
        counted
    })
}

#[test]
fn no_allocation_per_message_over_the_ring() {
    let _serial = common::serial();
    let runs = [
        ("blocking, Backoff", blocking(WaitStrategy::Backoff)),
        ("blocking, Yield", blocking(WaitStrategy::Yield)),
        ("blocking, Park", blocking(WaitStrategy::Park)),
        ("async, two cores parking", async_two_cores()),
    ];
    for (name, n) in runs {
        println!("{name}: {n} allocations in {ROUND_TRIPS} round trips (both ends)");
    }
    for (name, n) in runs {
        assert_eq!(n, 0, "{name}: allocations per round trip");
    }
}
