//! Shared harness for `benches/queue.rs` and `examples/latency.rs`: one
//! adapter per ring (corelane and the peers), a raw cache-line ping-pong
//! floor, and two-thread throughput / round-trip runs on pinned CPUs.
//!
//! Measurement code, not a protocol: it uses `std` atomics directly.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use corelane::queue::{mpmc, mpsc, spsc};
use corelane::topology::{pin_current_thread, CpuId};
use crossbeam_utils::CachePadded;

/// Capacity of each of the two rings of a round-trip run.
pub const ROUND_TRIP_CAP: usize = 1024;
/// Untimed round trips before the timed batches of a round-trip or floor run.
pub const WARMUP: u64 = 1000;
/// Items per chunk of [`CorelaneSpscBatch`].
const CHUNK: usize = 64;

/// A ring seen from a benchmark: make a pair, move `u64`s one by one.
pub trait Ring {
    const NAME: &'static str;
    type Tx: Send + 'static;
    type Rx: Send + 'static;
    fn make(cap: usize) -> (Self::Tx, Self::Rx);
    fn push(tx: &mut Self::Tx, v: u64) -> bool;
    fn pop(rx: &mut Self::Rx) -> Option<u64>;

    /// Pushes `v`, spinning while full.
    #[inline]
    fn push_spin(tx: &mut Self::Tx, v: u64) {
        while !Self::push(tx, v) {
            std::hint::spin_loop();
        }
    }

    /// Pops one item, spinning while empty.
    #[inline]
    fn pop_spin(rx: &mut Self::Rx) -> u64 {
        loop {
            if let Some(v) = Self::pop(rx) {
                return v;
            }
            std::hint::spin_loop();
        }
    }

    /// Sends `0..n`, spinning while full.
    fn send_all(tx: &mut Self::Tx, n: u64) {
        for i in 0..n {
            Self::push_spin(tx, i);
        }
    }

    /// Receives `n` items, checking order; returns the last.
    fn recv_all(rx: &mut Self::Rx, n: u64) -> u64 {
        let mut expect = 0;
        while expect < n {
            if let Some(v) = Self::pop(rx) {
                assert_eq!(v, expect, "{}: out of order", Self::NAME);
                expect += 1;
            } else {
                std::hint::spin_loop();
            }
        }
        expect
    }
}

/// One [`Ring`] adapter: its type, row name, handle types, and how to
/// make a pair, push and pop.
macro_rules! ring {
    ($t:ident, $name:literal, $tx:ty, $rx:ty, |$cap:ident| $make:expr, |$ptx:ident, $v:ident| $push:expr, |$prx:ident| $pop:expr) => {
        pub struct $t;
        impl Ring for $t {
            const NAME: &'static str = $name;
            type Tx = $tx;
            type Rx = $rx;
            fn make($cap: usize) -> ($tx, $rx) {
                $make
            }
            #[inline]
            fn push($ptx: &mut $tx, $v: u64) -> bool {
                $push
            }
            #[inline]
            fn pop($prx: &mut $rx) -> Option<u64> {
                $pop
            }
        }
    };
}

/// [`ring!`] for each ring whose `push` and `pop` return `Result`s, one a
/// line: type, row name, handle types, constructor.
macro_rules! result_rings {
    ($($t:ident, $name:literal, $tx:ty, $rx:ty, $make:path;)*) => {
        $(ring!($t, $name, $tx, $rx, |cap| $make(cap), |tx, v| tx.push(v).is_ok(), |rx| rx.pop().ok());)*
    };
}

result_rings! {
    CorelaneSpsc, "corelane spsc", spsc::Producer<u64>, spsc::Consumer<u64>, spsc::channel;
    CorelaneMpsc, "corelane mpsc 1->1", mpsc::Producer<u64>, mpsc::Consumer<u64>, mpsc::channel;
    CorelaneMpmc, "corelane mpmc 1->1", mpmc::Producer<u64>, mpmc::Consumer<u64>, mpmc::channel;
    Rtrb, "rtrb", rtrb::Producer<u64>, rtrb::Consumer<u64>, rtrb::RingBuffer::new;
}

ring!(
    CorelaneSpscNoNotify,
    "corelane spsc (no park check)",
    spsc::Producer<u64>,
    spsc::Consumer<u64>,
    |cap| spsc::channel(cap),
    |tx, v| tx.__push_without_notify(v).is_ok(),
    |rx| rx.pop().ok()
);
ring!(
    Ringbuf,
    "ringbuf",
    ringbuf::HeapProd<u64>,
    ringbuf::HeapCons<u64>,
    |cap| {
        use ringbuf::traits::Split;
        ringbuf::HeapRb::<u64>::new(cap).split()
    },
    |tx, v| {
        use ringbuf::traits::Producer;
        tx.try_push(v).is_ok()
    },
    |rx| {
        use ringbuf::traits::Consumer;
        rx.try_pop()
    }
);
ring!(
    Nexus,
    "nexus-queue",
    nexus_queue::spsc::Producer<u64>,
    nexus_queue::spsc::Consumer<u64>,
    |cap| nexus_queue::spsc::ring_buffer(cap),
    |tx, v| tx.push(v).is_ok(),
    |rx| rx.pop()
);
ring!(
    ArrayQueue,
    "crossbeam ArrayQueue",
    Arc<crossbeam_queue::ArrayQueue<u64>>,
    Arc<crossbeam_queue::ArrayQueue<u64>>,
    |cap| {
        let q = Arc::new(crossbeam_queue::ArrayQueue::new(cap));
        (q.clone(), q)
    },
    |tx, v| tx.push(v).is_ok(),
    |rx| rx.pop()
);
ring!(
    CbChannel,
    "crossbeam-channel bounded",
    crossbeam_channel::Sender<u64>,
    crossbeam_channel::Receiver<u64>,
    |cap| crossbeam_channel::bounded(cap),
    |tx, v| tx.try_send(v).is_ok(),
    |rx| rx.try_recv().ok()
);

/// corelane SPSC moving items through the in-place chunk API, [`CHUNK`] at
/// a time (single items as [`CorelaneSpsc`]).
pub struct CorelaneSpscBatch;
impl Ring for CorelaneSpscBatch {
    const NAME: &'static str = "corelane spsc chunks of 64";
    type Tx = spsc::Producer<u64>;
    type Rx = spsc::Consumer<u64>;
    fn make(cap: usize) -> (Self::Tx, Self::Rx) {
        CorelaneSpsc::make(cap)
    }
    fn push(tx: &mut Self::Tx, v: u64) -> bool {
        CorelaneSpsc::push(tx, v)
    }
    fn pop(rx: &mut Self::Rx) -> Option<u64> {
        CorelaneSpsc::pop(rx)
    }
    fn send_all(tx: &mut Self::Tx, n: u64) {
        let mut i = 0;
        while i < n {
            let want = (CHUNK as u64).min(n - i) as usize;
            let free = match tx.write_chunk(want) {
                Ok(_) => want,
                Err(spsc::WriteChunkError::TooFewSlots(f)) => f,
                Err(e) => panic!("{e}"),
            };
            if free == 0 {
                std::hint::spin_loop();
                continue;
            }
            let mut c = tx.write_chunk(free).expect("free slots only grow");
            i += c.fill_from_iter(i..i + free as u64) as u64;
        }
    }
    fn recv_all(rx: &mut Self::Rx, n: u64) -> u64 {
        let mut expect = 0;
        let take = |c: spsc::ReadChunk<'_, u64>, expect: &mut u64| {
            for v in c {
                assert_eq!(v, *expect);
                *expect += 1;
            }
        };
        while expect < n {
            // A chunk of CHUNK, or of what is there when fewer are (the
            // error says how many).
            let waiting = match rx.read_chunk(CHUNK) {
                Ok(c) => {
                    take(c, &mut expect);
                    continue;
                }
                Err(spsc::ReadChunkError::TooFewItems(k)) => k,
                Err(e) => panic!("{e}"),
            };
            if waiting == 0 {
                std::hint::spin_loop();
                continue;
            }
            take(
                rx.read_chunk(waiting).expect("items only accumulate"),
                &mut expect,
            );
        }
        expect
    }
}

/// The CPUs to run on: the first two the process may use (read once, before
/// any thread is pinned), or `None` on a 1-CPU machine.
pub fn cpu_pair() -> Option<(CpuId, CpuId)> {
    let allowed = corelane::topology::allowed_cpus().ok()?;
    let mut it = allowed.iter();
    Some((it.next()?, it.next()?))
}

fn pin(cpu: Option<CpuId>) {
    if let Some(c) = cpu {
        pin_current_thread(c).expect("pin benchmark thread");
    }
}

/// Spawns `f` on a thread pinned to `cpu` that waits on `start` first; the
/// two threads of a run share one two-party barrier, so they start together.
pub fn spawn_pinned<T: Send + 'static>(
    cpu: Option<CpuId>,
    start: &Arc<Barrier>,
    f: impl FnOnce() -> T + Send + 'static,
) -> JoinHandle<T> {
    let start = start.clone();
    std::thread::spawn(move || {
        pin(cpu);
        start.wait();
        f()
    })
}

/// Each ring's send loop as a function of its own, so that every ring's
/// loop is compiled the same way whatever surrounds the call (inlined into
/// the thread's closure, the loops' machine code moved the peers' figures
/// by up to 90% between two layouts of this file).
#[inline(never)]
fn send_loop<R: Ring>(tx: &mut R::Tx, n: u64) {
    R::send_all(tx, n);
}

/// The receive side of [`send_loop`].
#[inline(never)]
fn recv_loop<R: Ring>(rx: &mut R::Rx, n: u64) -> u64 {
    R::recv_all(rx, n)
}

/// Moves `n` items from a producer pinned on `cpus.0` to a consumer on
/// `cpus.1`; returns the time from the common start to the last pop.
pub fn throughput<R: Ring>(cpus: Option<(CpuId, CpuId)>, cap: usize, n: u64) -> Duration {
    let (mut tx, mut rx) = R::make(cap);
    let start = Arc::new(Barrier::new(2));
    let prod = spawn_pinned(cpus.map(|c| c.0), &start, move || {
        let t0 = Instant::now();
        send_loop::<R>(&mut tx, n);
        (t0, tx)
    });
    let cons = spawn_pinned(cpus.map(|c| c.1), &start, move || {
        recv_loop::<R>(&mut rx, n);
        (Instant::now(), rx)
    });
    let (t0, _tx) = prod.join().unwrap();
    let (t1, _rx) = cons.join().unwrap();
    t1.saturating_duration_since(t0)
}

/// Round trips the echo side answers: the warm-up and every timed one.
fn echo_count(samples: usize, batch: usize) -> u64 {
    (samples * batch) as u64 + WARMUP
}

/// Runs `echo` on `cpus.1` and, on `cpus.0`, `one(i)` timed by
/// [`time_batches`]; returns the timed batches once both are done.
fn ping_pong(
    cpus: Option<(CpuId, CpuId)>,
    samples: usize,
    batch: usize,
    first: u64,
    echo: impl FnOnce() + Send + 'static,
    one: impl FnMut(u64) + Send + 'static,
) -> Vec<f64> {
    let start = Arc::new(Barrier::new(2));
    let echo = spawn_pinned(cpus.map(|c| c.1), &start, echo);
    let main = spawn_pinned(cpus.map(|c| c.0), &start, move || {
        time_batches(samples, batch, first, one)
    });
    echo.join().unwrap();
    main.join().unwrap()
}

/// Round trips through two rings of [`ROUND_TRIP_CAP`] (ping, pong echoed
/// back), timed in batches of `batch` round trips; returns the mean ns per
/// round trip of each batch.
pub fn round_trips<R: Ring>(
    cpus: Option<(CpuId, CpuId)>,
    samples: usize,
    batch: usize,
) -> Vec<f64> {
    let (mut ping_tx, mut ping_rx) = R::make(ROUND_TRIP_CAP);
    let (mut pong_tx, mut pong_rx) = R::make(ROUND_TRIP_CAP);
    let total = echo_count(samples, batch);
    let echo = move || {
        for _ in 0..total {
            let v = R::pop_spin(&mut ping_rx);
            R::push_spin(&mut pong_tx, v);
        }
    };
    let one = move |i: u64| {
        R::push_spin(&mut ping_tx, i);
        assert_eq!(R::pop_spin(&mut pong_rx), i);
    };
    ping_pong(cpus, samples, batch, 0, echo, one)
}

/// The physical floor: one cache line bounced between the two CPUs (store,
/// then spin on the other side's store), timed like [`round_trips`].
pub fn floor(cpus: Option<(CpuId, CpuId)>, samples: usize, batch: usize) -> Vec<f64> {
    let line = Arc::new(CachePadded::new(AtomicU64::new(0)));
    let total = echo_count(samples, batch);
    let l2 = line.clone();
    let echo = move || {
        for i in 0..total {
            while l2.load(Ordering::Acquire) != 2 * i + 1 {
                std::hint::spin_loop();
            }
            l2.store(2 * i + 2, Ordering::Release);
        }
    };
    let one = move |i: u64| {
        line.store(2 * i + 1, Ordering::Release);
        while line.load(Ordering::Acquire) != 2 * i + 2 {
            std::hint::spin_loop();
        }
    };
    ping_pong(cpus, samples, batch, 0, echo, one)
}

/// The floor of any round trip through *two* rings: two cache lines, one
/// per direction (ping writes line A, the echo spins on A and writes line B,
/// ping spins on B), timed like [`round_trips`]. A two-ring round trip moves
/// at least these two lines, so this, not [`floor`], is what a ring's round
/// trip can approach.
pub fn floor_two_lines(cpus: Option<(CpuId, CpuId)>, samples: usize, batch: usize) -> Vec<f64> {
    let ping = Arc::new(CachePadded::new(AtomicU64::new(0)));
    let pong = Arc::new(CachePadded::new(AtomicU64::new(0)));
    let total = echo_count(samples, batch);
    let (ping2, pong2) = (ping.clone(), pong.clone());
    let echo = move || {
        for i in 1..=total {
            while ping2.load(Ordering::Acquire) != i {
                std::hint::spin_loop();
            }
            pong2.store(i, Ordering::Release);
        }
    };
    let one = move |i: u64| {
        ping.store(i, Ordering::Release);
        while pong.load(Ordering::Acquire) != i {
            std::hint::spin_loop();
        }
    };
    ping_pong(cpus, samples, batch, 1, echo, one)
}

/// Runs `one(i)` for `i` from `first`: [`WARMUP`] untimed calls, then
/// `samples` timed batches of `batch`; returns the mean ns per call of each
/// batch.
fn time_batches(samples: usize, batch: usize, first: u64, mut one: impl FnMut(u64)) -> Vec<f64> {
    for i in first..first + WARMUP {
        one(i);
    }
    let mut out = Vec::with_capacity(samples);
    let mut i = first + WARMUP;
    for _ in 0..samples {
        let t0 = Instant::now();
        for _ in 0..batch {
            one(i);
            i += 1;
        }
        out.push(t0.elapsed().as_nanos() as f64 / batch as f64);
    }
    out
}

/// Percentile (0..=100) of unsorted samples.
pub fn percentile(v: &[f64], p: f64) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    if s.is_empty() {
        return f64::NAN;
    }
    let idx = ((p / 100.0) * (s.len() - 1) as f64).round() as usize;
    s[idx.min(s.len() - 1)]
}
