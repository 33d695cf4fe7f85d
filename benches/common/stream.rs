//! Shared harness for `benches/stream.rs` and `examples/latency.rs`: the
//! streaming shapes of issue 11, corelane beside the peer a user would
//! otherwise pick, each a function `(cpus, capacity, items) -> Duration`.
//!
//! * **async stream**: a tokio task sends `items` orders into ring 1 with
//!   `send().await`, a plain thread forwards them into ring 2 with blocking
//!   calls (`Park`), a second tokio task receives them with `recv().await`
//!   (tokio `multi_thread`, 2 workers). Peer: `tokio::sync::mpsc` in the same
//!   shape (`blocking_recv` / `blocking_send` in the forwarder).
//! * **park stream**: the same with three plain threads (producer
//!   `push_blocking(Park)`, forwarder, consumer `pop_blocking(Park)`). Peer:
//!   `crossbeam-channel` bounded (`send` / `recv`).
//! * **async ping-pong**: one order in flight: a task on each of two
//!   single-threaded runtimes, one per CPU, sends and awaits the echo.
//!   Peer: `tokio::sync::mpsc`.
//! * **park ping-pong**: the same between two pinned plain threads with
//!   blocking calls (`Park`). Peer: `crossbeam-channel` (no target: it
//!   shows what the streams' spinning policy costs when one side waits
//!   for the other every time).
//!
//! Placement: three busy parties on two CPUs. The tokio workers (or, for
//! the park stream, the producer and the consumer) are pinned one per CPU;
//! the forwarder may run on either. The shape is oversubscribed by design
//! (it is the user program of the issue): compare within a run only.
//!
//! Measurement code, not a protocol: it uses `std` atomics directly.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use corelane::queue::spsc;
use corelane::queue::wait::WaitStrategy::Park;
use corelane::topology::{pin_current_thread, CpuId};

type Cpus = Option<(CpuId, CpuId)>;
/// A streaming run: `(cpus, capacity, items)` to the time taken.
pub type StreamRun = fn(Cpus, usize, u64) -> Duration;

/// The item every shape moves: an order, the same type for every peer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Order {
    pub id: u64,
    pub price: u64,
    pub qty: u32,
    pub buy: bool,
}

impl Order {
    #[inline]
    pub fn new(id: u64) -> Self {
        Order {
            id,
            price: 100_000 + (id & 0xff),
            qty: (id & 0x3f) as u32 + 1,
            buy: id & 1 == 0,
        }
    }
}

/// Row names, one per implementation and shape.
pub const ASYNC_CORELANE: &str = "async stream: corelane spsc";
pub const ASYNC_TOKIO: &str = "async stream: tokio::sync::mpsc";
pub const PARK_CORELANE: &str = "park stream: corelane spsc Park";
pub const PARK_CROSSBEAM: &str = "park stream: crossbeam-channel";
pub const PING_CORELANE: &str = "async ping-pong: corelane spsc";
pub const PING_TOKIO: &str = "async ping-pong: tokio::sync::mpsc";
pub const PARK_PING_CORELANE: &str = "park ping-pong: corelane spsc Park";
pub const PARK_PING_CROSSBEAM: &str = "park ping-pong: crossbeam-channel";

/// Ping-pong runs move this fraction of a stream run's items (a round
/// trip costs two thread wake-ups, tens of µs under KVM).
pub const PING_ITEMS_DIVISOR: u64 = 20;

/// Capacities of every streaming row: the 64, and 1024.
pub const STREAM_CAPS: [usize; 2] = [64, 1024];

/// One streaming implementation: its row name and how to run it.
#[derive(Clone, Copy)]
pub struct StreamImpl {
    pub name: &'static str,
    pub run: StreamRun,
}

impl StreamImpl {
    /// Orders (stream) or round trips (ping-pong) a run asked for `items`
    /// moves: what its time is divided by.
    pub fn items(&self, items: u64) -> u64 {
        if self.is_ping_pong() {
            (items / PING_ITEMS_DIVISOR).max(1)
        } else {
            items
        }
    }

    /// One order in flight (capacity does not matter).
    pub fn is_ping_pong(&self) -> bool {
        matches!(
            self.name,
            PING_CORELANE | PING_TOKIO | PARK_PING_CORELANE | PARK_PING_CROSSBEAM
        )
    }
}

/// Every streaming implementation, in print order.
pub fn stream_table() -> Vec<StreamImpl> {
    let row = |name, run| StreamImpl { name, run };
    vec![
        row(ASYNC_CORELANE, async_corelane as StreamRun),
        row(ASYNC_TOKIO, async_tokio),
        row(PARK_CORELANE, park_corelane),
        row(PARK_CROSSBEAM, park_crossbeam),
        row(PING_CORELANE, ping_corelane),
        row(PING_TOKIO, ping_tokio),
        row(PARK_PING_CORELANE, park_ping_corelane),
        row(PARK_PING_CROSSBEAM, park_ping_crossbeam),
    ]
}

/// What one round of a full table runs, in order: every stream at every
/// capacity of `caps`, ping-pong once (at the first; one order in flight).
pub fn stream_runs(caps: &[usize]) -> Vec<(StreamImpl, usize)> {
    let mut runs = Vec::new();
    for (i, &cap) in caps.iter().enumerate() {
        for imp in stream_table() {
            if !imp.is_ping_pong() || i == 0 {
                runs.push((imp, cap));
            }
        }
    }
    runs
}

/// The peer a corelane row is compared with, if `name` is a corelane row.
pub fn peer_of(name: &str) -> Option<&'static str> {
    match name {
        ASYNC_CORELANE => Some(ASYNC_TOKIO),
        PARK_CORELANE => Some(PARK_CROSSBEAM),
        PING_CORELANE => Some(PING_TOKIO),
        PARK_PING_CORELANE => Some(PARK_PING_CROSSBEAM),
        _ => None,
    }
}

fn pin(cpu: Option<CpuId>) {
    if let Some(c) = cpu {
        pin_current_thread(c).expect("pin benchmark thread");
    }
}

/// A `multi_thread` runtime with two workers, pinned one per CPU.
fn two_worker_runtime(cpus: Cpus) -> tokio::runtime::Runtime {
    let next = Arc::new(AtomicUsize::new(0));
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .on_thread_start(move || {
            if let Some((a, b)) = cpus {
                let k = next.fetch_add(1, Ordering::Relaxed);
                pin(Some(if k.is_multiple_of(2) { a } else { b }));
            }
        })
        .build()
        .expect("tokio runtime")
}

/// Runs the async stream shape: `send(n)` and `recv(n)` as tasks on a
/// two-worker runtime, `forward()` on a plain thread; returns the time from
/// the start of the sender to the last receive.
fn async_stream<S, R>(
    cpus: Cpus,
    forward: impl FnOnce() + Send + 'static,
    send: impl FnOnce() -> S,
    recv: impl FnOnce() -> R,
) -> Duration
where
    S: std::future::Future<Output = ()> + Send + 'static,
    R: std::future::Future<Output = ()> + Send + 'static,
{
    let rt = two_worker_runtime(cpus);
    let fwd = std::thread::spawn(forward);
    let took = rt.block_on(async {
        let (send, recv) = (send(), recv());
        let t0 = Instant::now();
        let s = tokio::spawn(send);
        let r = tokio::spawn(recv);
        r.await.expect("receiver task");
        let took = t0.elapsed();
        s.await.expect("sender task");
        took
    });
    fwd.join().expect("forwarder");
    took
}

fn async_corelane(cpus: Cpus, cap: usize, n: u64) -> Duration {
    let (mut tx1, mut rx1) = spsc::channel::<Order>(cap);
    let (mut tx2, mut rx2) = spsc::channel::<Order>(cap);
    async_stream(
        cpus,
        move || {
            while let Ok(o) = rx1.pop_blocking(Park) {
                tx2.push_blocking(o, Park).expect("receiver alive");
            }
        },
        || async move {
            for i in 0..n {
                tx1.send(Order::new(i)).await.expect("forwarder alive");
            }
        },
        || async move {
            for i in 0..n {
                assert_eq!(rx2.recv().await.expect("item").id, i);
            }
        },
    )
}

fn async_tokio(cpus: Cpus, cap: usize, n: u64) -> Duration {
    let (tx1, mut rx1) = tokio::sync::mpsc::channel::<Order>(cap);
    let (tx2, mut rx2) = tokio::sync::mpsc::channel::<Order>(cap);
    async_stream(
        cpus,
        move || {
            while let Some(o) = rx1.blocking_recv() {
                tx2.blocking_send(o).expect("receiver alive");
            }
        },
        || async move {
            for i in 0..n {
                tx1.send(Order::new(i)).await.expect("forwarder alive");
            }
        },
        || async move {
            for i in 0..n {
                assert_eq!(rx2.recv().await.expect("item").id, i);
            }
        },
    )
}

/// Runs the park stream shape: `produce` pinned on `cpus.0`, `consume` on
/// `cpus.1`, `forward` on either; returns the time from the common start to
/// the last receive.
fn park_stream(
    cpus: Cpus,
    produce: impl FnOnce() + Send + 'static,
    forward: impl FnOnce() + Send + 'static,
    consume: impl FnOnce() + Send + 'static,
) -> Duration {
    let start = Arc::new(Barrier::new(3));
    let spawn = |cpu: Option<CpuId>, f: Box<dyn FnOnce() + Send>| {
        let start = start.clone();
        std::thread::spawn(move || {
            pin(cpu);
            start.wait();
            let t0 = Instant::now();
            f();
            (t0, Instant::now())
        })
    };
    let p = spawn(cpus.map(|c| c.0), Box::new(produce));
    let f = spawn(None, Box::new(forward));
    let c = spawn(cpus.map(|c| c.1), Box::new(consume));
    let (t0, _) = p.join().expect("producer");
    f.join().expect("forwarder");
    let (_, t1) = c.join().expect("consumer");
    t1.saturating_duration_since(t0)
}

fn park_corelane(cpus: Cpus, cap: usize, n: u64) -> Duration {
    let (mut tx1, mut rx1) = spsc::channel::<Order>(cap);
    let (mut tx2, mut rx2) = spsc::channel::<Order>(cap);
    park_stream(
        cpus,
        move || {
            for i in 0..n {
                tx1.push_blocking(Order::new(i), Park)
                    .expect("forwarder alive");
            }
        },
        move || {
            while let Ok(o) = rx1.pop_blocking(Park) {
                tx2.push_blocking(o, Park).expect("consumer alive");
            }
        },
        move || {
            for i in 0..n {
                assert_eq!(rx2.pop_blocking(Park).expect("item").id, i);
            }
        },
    )
}

fn park_crossbeam(cpus: Cpus, cap: usize, n: u64) -> Duration {
    let (tx1, rx1) = crossbeam_channel::bounded::<Order>(cap);
    let (tx2, rx2) = crossbeam_channel::bounded::<Order>(cap);
    park_stream(
        cpus,
        move || {
            for i in 0..n {
                tx1.send(Order::new(i)).expect("forwarder alive");
            }
        },
        move || {
            while let Ok(o) = rx1.recv() {
                tx2.send(o).expect("consumer alive");
            }
        },
        move || {
            for i in 0..n {
                assert_eq!(rx2.recv().expect("item").id, i);
            }
        },
    )
}

/// Runs the ping-pong shape: `echo` and `ping` each on a single-threaded
/// runtime on its own pinned thread; returns the pinger's time.
fn ping_pong<P, E>(cpus: Cpus, ping: P, echo: E) -> Duration
where
    P: std::future::Future<Output = ()> + Send + 'static,
    E: std::future::Future<Output = ()> + Send + 'static,
{
    let start = Arc::new(Barrier::new(2));
    let on = |cpu: Option<CpuId>, start: Arc<Barrier>| {
        move |f: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>| {
            std::thread::spawn(move || {
                pin(cpu);
                let rt = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .expect("tokio runtime");
                start.wait();
                let t0 = Instant::now();
                rt.block_on(f);
                t0.elapsed()
            })
        }
    };
    let e = on(cpus.map(|c| c.1), start.clone())(Box::pin(echo));
    let p = on(cpus.map(|c| c.0), start)(Box::pin(ping));
    let took = p.join().expect("pinger");
    e.join().expect("echo");
    took
}

/// `n` round trips (the caller divides; see [`StreamImpl::items`]).
fn ping_corelane(cpus: Cpus, cap: usize, n: u64) -> Duration {
    let (mut ping_tx, mut ping_rx) = spsc::channel::<Order>(cap);
    let (mut pong_tx, mut pong_rx) = spsc::channel::<Order>(cap);
    ping_pong(
        cpus,
        async move {
            for i in 0..n {
                ping_tx.send(Order::new(i)).await.expect("echo alive");
                assert_eq!(pong_rx.recv().await.expect("echo").id, i);
            }
        },
        async move {
            while let Ok(o) = ping_rx.recv().await {
                pong_tx.send(o).await.expect("pinger alive");
            }
        },
    )
}

fn ping_tokio(cpus: Cpus, cap: usize, n: u64) -> Duration {
    let (ping_tx, mut ping_rx) = tokio::sync::mpsc::channel::<Order>(cap);
    let (pong_tx, mut pong_rx) = tokio::sync::mpsc::channel::<Order>(cap);
    ping_pong(
        cpus,
        async move {
            for i in 0..n {
                ping_tx.send(Order::new(i)).await.expect("echo alive");
                assert_eq!(pong_rx.recv().await.expect("echo").id, i);
            }
        },
        async move {
            while let Some(o) = ping_rx.recv().await {
                pong_tx.send(o).await.expect("pinger alive");
            }
        },
    )
}

/// Runs `echo` on `cpus.1` and `ping` on `cpus.0`, plain threads started
/// together; returns the pinger's time.
fn park_ping_pong(
    cpus: Cpus,
    ping: impl FnOnce() + Send + 'static,
    echo: impl FnOnce() + Send + 'static,
) -> Duration {
    let start = Arc::new(Barrier::new(2));
    let s2 = start.clone();
    let e = std::thread::spawn(move || {
        pin(cpus.map(|c| c.1));
        s2.wait();
        echo();
    });
    let p = std::thread::spawn(move || {
        pin(cpus.map(|c| c.0));
        start.wait();
        let t0 = Instant::now();
        ping();
        t0.elapsed()
    });
    let took = p.join().expect("pinger");
    e.join().expect("echo");
    took
}

fn park_ping_corelane(cpus: Cpus, cap: usize, n: u64) -> Duration {
    let (mut ping_tx, mut ping_rx) = spsc::channel::<Order>(cap);
    let (mut pong_tx, mut pong_rx) = spsc::channel::<Order>(cap);
    park_ping_pong(
        cpus,
        move || {
            for i in 0..n {
                ping_tx
                    .push_blocking(Order::new(i), Park)
                    .expect("echo alive");
                assert_eq!(pong_rx.pop_blocking(Park).expect("echo").id, i);
            }
        },
        move || {
            while let Ok(o) = ping_rx.pop_blocking(Park) {
                pong_tx.push_blocking(o, Park).expect("pinger alive");
            }
        },
    )
}

fn park_ping_crossbeam(cpus: Cpus, cap: usize, n: u64) -> Duration {
    let (ping_tx, ping_rx) = crossbeam_channel::bounded::<Order>(cap);
    let (pong_tx, pong_rx) = crossbeam_channel::bounded::<Order>(cap);
    park_ping_pong(
        cpus,
        move || {
            for i in 0..n {
                ping_tx.send(Order::new(i)).expect("echo alive");
                assert_eq!(pong_rx.recv().expect("echo").id, i);
            }
        },
        move || {
            while let Ok(o) = ping_rx.recv() {
                pong_tx.send(o).expect("pinger alive");
            }
        },
    )
}
