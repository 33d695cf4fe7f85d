//! Shared harness for `benches/queue.rs` and `examples/latency.rs`: one
//! adapter per ring (corelane and the peers), a raw cache-line ping-pong
//! floor, and two-thread throughput / round-trip runs on pinned CPUs.
//!
//! Measurement code, not a protocol: it uses `std` atomics directly.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use corelane::queue::{mpmc, mpsc, spsc};
use corelane::topology::{pin_current_thread, CpuId};
use crossbeam_utils::CachePadded;

/// A ring seen from a benchmark: make a pair, move `u64`s one by one.
pub trait Ring {
    const NAME: &'static str;
    type Tx: Send + 'static;
    type Rx: Send + 'static;
    fn make(cap: usize) -> (Self::Tx, Self::Rx);
    fn push(tx: &mut Self::Tx, v: u64) -> bool;
    fn pop(rx: &mut Self::Rx) -> Option<u64>;

    /// Sends `0..n`, spinning while full.
    fn send_all(tx: &mut Self::Tx, n: u64) {
        for i in 0..n {
            while !Self::push(tx, i) {
                std::hint::spin_loop();
            }
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

ring!(
    CorelaneSpsc,
    "corelane spsc",
    spsc::Producer<u64>,
    spsc::Consumer<u64>,
    |cap| spsc::channel(cap),
    |tx, v| tx.push(v).is_ok(),
    |rx| rx.pop().ok()
);
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
    CorelaneMpsc,
    "corelane mpsc 1->1",
    mpsc::Producer<u64>,
    mpsc::Consumer<u64>,
    |cap| mpsc::channel(cap),
    |tx, v| tx.push(v).is_ok(),
    |rx| rx.pop().ok()
);
ring!(
    CorelaneMpmc,
    "corelane mpmc 1->1",
    mpmc::Producer<u64>,
    mpmc::Consumer<u64>,
    |cap| mpmc::channel(cap),
    |tx, v| tx.push(v).is_ok(),
    |rx| rx.pop().ok()
);
ring!(
    Rtrb,
    "rtrb",
    rtrb::Producer<u64>,
    rtrb::Consumer<u64>,
    |cap| rtrb::RingBuffer::new(cap),
    |tx, v| tx.push(v).is_ok(),
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

/// corelane SPSC moving items through the in-place chunk API, 64 at a time.
pub struct CorelaneSpscBatch;
impl Ring for CorelaneSpscBatch {
    const NAME: &'static str = "corelane spsc chunks of 64";
    type Tx = spsc::Producer<u64>;
    type Rx = spsc::Consumer<u64>;
    fn make(cap: usize) -> (Self::Tx, Self::Rx) {
        spsc::channel(cap)
    }
    fn push(tx: &mut Self::Tx, v: u64) -> bool {
        tx.push(v).is_ok()
    }
    fn pop(rx: &mut Self::Rx) -> Option<u64> {
        rx.pop().ok()
    }
    fn send_all(tx: &mut Self::Tx, n: u64) {
        const B: u64 = 64;
        let mut i = 0;
        while i < n {
            let want = B.min(n - i) as usize;
            let free = match tx.write_chunk(want) {
                Ok(_) => want,
                Err(spsc::ChunkError::TooFewSlots(f)) => f,
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
        while expect < n {
            let c = rx.read_chunk(64);
            if c.is_empty() {
                std::hint::spin_loop();
                continue;
            }
            for v in c {
                assert_eq!(v, expect);
                expect += 1;
            }
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

/// Moves `n` items from a producer pinned on `cpus.0` to a consumer on
/// `cpus.1`; returns the time from the common start to the last pop.
pub fn throughput<R: Ring>(cpus: Option<(CpuId, CpuId)>, cap: usize, n: u64) -> Duration {
    let (mut tx, mut rx) = R::make(cap);
    let barrier = Arc::new(Barrier::new(2));
    let b2 = barrier.clone();
    let prod = std::thread::spawn(move || {
        pin(cpus.map(|c| c.0));
        b2.wait();
        let t0 = Instant::now();
        R::send_all(&mut tx, n);
        (t0, tx)
    });
    let cons = std::thread::spawn(move || {
        pin(cpus.map(|c| c.1));
        barrier.wait();
        R::recv_all(&mut rx, n);
        (Instant::now(), rx)
    });
    let (t0, _tx) = prod.join().unwrap();
    let (t1, _rx) = cons.join().unwrap();
    t1.saturating_duration_since(t0)
}

/// Round trips through two rings (ping, pong echoed back), timed in batches
/// of `batch` round trips; returns the mean ns per round trip of each batch.
pub fn round_trips<R: Ring>(
    cpus: Option<(CpuId, CpuId)>,
    samples: usize,
    batch: usize,
) -> Vec<f64> {
    let (mut ping_tx, mut ping_rx) = R::make(1024);
    let (mut pong_tx, mut pong_rx) = R::make(1024);
    let total = (samples * batch) as u64 + 1000;
    let barrier = Arc::new(Barrier::new(2));
    let b2 = barrier.clone();
    let echo = std::thread::spawn(move || {
        pin(cpus.map(|c| c.1));
        b2.wait();
        for _ in 0..total {
            let v = loop {
                if let Some(v) = R::pop(&mut ping_rx) {
                    break v;
                }
                std::hint::spin_loop();
            };
            while !R::push(&mut pong_tx, v) {
                std::hint::spin_loop();
            }
        }
    });
    let main = std::thread::spawn(move || {
        pin(cpus.map(|c| c.0));
        barrier.wait();
        let one = |i: u64| {
            while !R::push(&mut ping_tx, i) {
                std::hint::spin_loop();
            }
            loop {
                if let Some(v) = R::pop(&mut pong_rx) {
                    assert_eq!(v, i);
                    break;
                }
                std::hint::spin_loop();
            }
        };
        time_batches(samples, batch, 0, one)
    });
    echo.join().unwrap();
    main.join().unwrap()
}

/// The physical floor: one cache line bounced between the two CPUs (store,
/// then spin on the other side's store), timed like [`round_trips`].
pub fn floor(cpus: Option<(CpuId, CpuId)>, samples: usize, batch: usize) -> Vec<f64> {
    let line = Arc::new(CachePadded::new(AtomicU64::new(0)));
    let total = (samples * batch) as u64 + 1000;
    let l2 = line.clone();
    let barrier = Arc::new(Barrier::new(2));
    let b2 = barrier.clone();
    let echo = std::thread::spawn(move || {
        pin(cpus.map(|c| c.1));
        b2.wait();
        for i in 0..total {
            while l2.load(Ordering::Acquire) != 2 * i + 1 {
                std::hint::spin_loop();
            }
            l2.store(2 * i + 2, Ordering::Release);
        }
    });
    let main = std::thread::spawn(move || {
        pin(cpus.map(|c| c.0));
        barrier.wait();
        time_batches(samples, batch, 0, |i: u64| {
            line.store(2 * i + 1, Ordering::Release);
            while line.load(Ordering::Acquire) != 2 * i + 2 {
                std::hint::spin_loop();
            }
        })
    });
    echo.join().unwrap();
    main.join().unwrap()
}

/// The floor of any round trip through *two* rings: two cache lines, one
/// per direction (ping writes line A, the echo spins on A and writes line B,
/// ping spins on B), timed like [`round_trips`]. A two-ring round trip moves
/// at least these two lines, so this, not [`floor`], is what a ring's round
/// trip can approach.
pub fn floor_two_lines(cpus: Option<(CpuId, CpuId)>, samples: usize, batch: usize) -> Vec<f64> {
    let ping = Arc::new(CachePadded::new(AtomicU64::new(0)));
    let pong = Arc::new(CachePadded::new(AtomicU64::new(0)));
    let total = (samples * batch) as u64 + 1000;
    let (ping2, pong2) = (ping.clone(), pong.clone());
    let barrier = Arc::new(Barrier::new(2));
    let b2 = barrier.clone();
    let echo = std::thread::spawn(move || {
        pin(cpus.map(|c| c.1));
        b2.wait();
        for i in 1..=total {
            while ping2.load(Ordering::Acquire) != i {
                std::hint::spin_loop();
            }
            pong2.store(i, Ordering::Release);
        }
    });
    let main = std::thread::spawn(move || {
        pin(cpus.map(|c| c.0));
        barrier.wait();
        time_batches(samples, batch, 1, |i: u64| {
            ping.store(i, Ordering::Release);
            while pong.load(Ordering::Acquire) != i {
                std::hint::spin_loop();
            }
        })
    });
    echo.join().unwrap();
    main.join().unwrap()
}

/// Runs `one(i)` for `i` from `first`: 1000 warm-up calls, then `samples`
/// timed batches of `batch`; returns the mean ns per call of each batch.
fn time_batches(samples: usize, batch: usize, first: u64, mut one: impl FnMut(u64)) -> Vec<f64> {
    for i in first..first + 1000 {
        one(i);
    }
    let mut out = Vec::with_capacity(samples);
    let mut i = first + 1000;
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
