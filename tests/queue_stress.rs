//! Multi-threaded stress tests for the four rings.
//!
//! * **No loss, no duplicate, per-producer FIFO**: producer `id` sends
//!   `(id << 32) | seq` for `seq = 0, 1, ...`; every consumer checks that it
//!   sees each producer's sequence numbers strictly increasing (FIFO as seen
//!   by one consumer), a shared bitmap catches duplicates, and the total
//!   proves nothing was lost. Run with every [`WaitStrategy`], mixing
//!   blocking and try-loops, and the batch APIs: SPSC chunks (with
//!   `slices()` and `pop_batch`), and on every ring `push_slice` /
//!   `push_iter` producers racing single pushes, against `pop_batch`
//!   consumers.
//! * **Park with a slow side**: one side sleeps now and then, so the other
//!   fills/drains the ring and goes to sleep on the futex; a lost wake-up
//!   hangs the test, which the watchdog turns into a failure.
//! * **Drop exactly once**: counted items, left in the ring when the last
//!   handle goes, popped, handed back by a failed push, left in a batch.
//! * **Disconnect**: a blocked `pop_blocking` / `push_blocking` wakes with
//!   `Disconnected` when the other side's last handle drops.
//!
//! Sizes: about two million items per stress test in release, a tenth in
//! debug. Tests run one at a time (a global lock) so that a 2-CPU machine
//! is not oversubscribed by spinning threads, and each body runs under a
//! 120 s watchdog. No assertion depends on timing; sleeps only make a
//! parked waiter likely.

use std::iter::Peekable;
use std::panic::resume_unwind;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc as std_mpsc, Arc, Mutex};
use std::thread;
use std::time::Duration;

use corelane::queue::spsc::{ReadChunkError, WriteChunkError};
use corelane::queue::wait::WaitStrategy;
use corelane::queue::{mpmc, mpsc, spmc, spsc, Disconnected, PopError, PushError};

const STRATEGIES: [WaitStrategy; 4] = [
    WaitStrategy::BusySpin,
    WaitStrategy::Yield,
    WaitStrategy::Backoff,
    WaitStrategy::Park,
];

/// Release-mode item count scaled down ~10x for debug builds.
fn scaled(release: usize) -> usize {
    if cfg!(debug_assertions) {
        release / 10
    } else {
        release
    }
}

// ---------------------------------------------------------------------------
// Harness: serialisation, watchdog, a tiny RNG
// ---------------------------------------------------------------------------

static SERIAL: Mutex<()> = Mutex::new(());

/// Runs `body` on its own thread, one test at a time, failing if it does not
/// finish within 120 s (a lost wake-up or a deadlock).
fn guarded(name: &str, body: impl FnOnce() + Send + 'static) {
    let _one_at_a_time = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (done, finished) = std_mpsc::channel();
    let worker = thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            body();
            let _ = done.send(());
        })
        .unwrap();
    match finished.recv_timeout(Duration::from_secs(120)) {
        Ok(()) => worker.join().unwrap(),
        Err(std_mpsc::RecvTimeoutError::Disconnected) => {
            resume_unwind(worker.join().expect_err("body ended without finishing"))
        }
        Err(std_mpsc::RecvTimeoutError::Timeout) => {
            panic!("{name}: did not finish within 120 s (lost wake-up or deadlock?)")
        }
    }
}

/// xorshift64*: enough randomness to vary batch sizes, no dependency.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n.max(1)
    }
}

/// One wait step for the hand-written try-loops, in the spirit of `s`.
fn pause(s: WaitStrategy, round: &mut u32) {
    *round += 1;
    match s {
        WaitStrategy::BusySpin => std::hint::spin_loop(),
        // Yield sometimes even when spinning, so an oversubscribed host
        // still schedules the thread we are waiting for.
        _ if round.is_multiple_of(64) => thread::yield_now(),
        WaitStrategy::Yield => thread::yield_now(),
        _ => std::hint::spin_loop(),
    }
}

// ---------------------------------------------------------------------------
// One API over the four rings
// ---------------------------------------------------------------------------

trait Tx<T>: Send + Sized + 'static {
    fn push(&mut self, v: T) -> Result<(), PushError<T>>;
    fn push_blocking(&mut self, v: T, s: WaitStrategy) -> Result<(), Disconnected<T>>;
    fn push_slice(&mut self, items: &[T]) -> Result<usize, Disconnected>
    where
        T: Clone;
    fn push_iter<I: Iterator<Item = T>>(
        &mut self,
        it: &mut Peekable<I>,
    ) -> Result<usize, Disconnected>;
    fn try_clone(&self) -> Option<Self>;
}

trait Rx<T>: Send + Sized + 'static {
    fn pop(&mut self) -> Result<T, PopError>;
    fn pop_blocking(&mut self, s: WaitStrategy) -> Result<T, Disconnected>;
    fn pop_batch<E: Extend<T>>(&mut self, out: &mut E, max: usize) -> Result<usize, Disconnected>;
    fn len(&self) -> usize;
    fn capacity(&self) -> usize;
    fn try_clone(&self) -> Option<Self>;
}

/// Test scaffolding: `Tx`/`Rx` for one ring module.
macro_rules! endpoints {
    ($m:ident, tx_clone = $tc:expr, rx_clone = $rc:expr) => {
        impl<T: Send + 'static> Tx<T> for $m::Producer<T> {
            fn push(&mut self, v: T) -> Result<(), PushError<T>> {
                $m::Producer::push(self, v)
            }
            fn push_blocking(&mut self, v: T, s: WaitStrategy) -> Result<(), Disconnected<T>> {
                $m::Producer::push_blocking(self, v, s)
            }
            fn push_slice(&mut self, items: &[T]) -> Result<usize, Disconnected>
            where
                T: Clone,
            {
                $m::Producer::push_slice(self, items)
            }
            fn push_iter<I: Iterator<Item = T>>(
                &mut self,
                it: &mut Peekable<I>,
            ) -> Result<usize, Disconnected> {
                $m::Producer::push_iter(self, it)
            }
            fn try_clone(&self) -> Option<Self> {
                let f: fn(&Self) -> Option<Self> = $tc;
                f(self)
            }
        }

        impl<T: Send + 'static> Rx<T> for $m::Consumer<T> {
            fn pop(&mut self) -> Result<T, PopError> {
                $m::Consumer::pop(self)
            }
            fn pop_blocking(&mut self, s: WaitStrategy) -> Result<T, Disconnected> {
                $m::Consumer::pop_blocking(self, s)
            }
            fn pop_batch<E: Extend<T>>(
                &mut self,
                out: &mut E,
                max: usize,
            ) -> Result<usize, Disconnected> {
                $m::Consumer::pop_batch(self, out, max)
            }
            fn len(&self) -> usize {
                $m::Consumer::len(self)
            }
            fn capacity(&self) -> usize {
                $m::Consumer::capacity(self)
            }
            fn try_clone(&self) -> Option<Self> {
                let f: fn(&Self) -> Option<Self> = $rc;
                f(self)
            }
        }
    };
}

endpoints!(spsc, tx_clone = |_| None, rx_clone = |_| None);
endpoints!(mpsc, tx_clone = |p| Some(p.clone()), rx_clone = |_| None);
endpoints!(spmc, tx_clone = |_| None, rx_clone = |c| Some(c.clone()));
endpoints!(
    mpmc,
    tx_clone = |p| Some(p.clone()),
    rx_clone = |c| Some(c.clone())
);

fn clones<E>(first: E, n: usize, clone: impl Fn(&E) -> Option<E>) -> Vec<E> {
    let mut all = Vec::with_capacity(n);
    for _ in 1..n {
        all.push(clone(&first).expect("this side is not Clone"));
    }
    all.push(first);
    all
}

/// The handle and, if that side is `Clone`, a clone of it.
fn up_to_two<E>(first: E, clone: impl Fn(&E) -> Option<E>) -> Vec<E> {
    let second = clone(&first);
    std::iter::once(first).chain(second).collect()
}

// ---------------------------------------------------------------------------
// The checker: per-consumer, per-producer FIFO; global no-dup; total
// ---------------------------------------------------------------------------

fn tag(id: usize, seq: usize) -> u64 {
    ((id as u64) << 32) | seq as u64
}

struct Checker {
    per_producer: usize,
    seen: Vec<AtomicBool>,
    total: AtomicUsize,
}

impl Checker {
    fn new(producers: usize, per_producer: usize) -> Arc<Self> {
        Arc::new(Checker {
            per_producer,
            seen: (0..producers * per_producer)
                .map(|_| AtomicBool::new(false))
                .collect(),
            total: AtomicUsize::new(0),
        })
    }

    /// A consumer's view; `last[id]` is the last sequence seen from `id`.
    fn view(self: &Arc<Self>) -> View {
        let producers = self.seen.len() / self.per_producer.max(1);
        View {
            checker: self.clone(),
            last: vec![None; producers],
            count: 0,
        }
    }

    fn assert_complete(&self) {
        assert_eq!(
            self.total.load(Ordering::SeqCst),
            self.seen.len(),
            "items lost"
        );
    }
}

struct View {
    checker: Arc<Checker>,
    last: Vec<Option<usize>>,
    count: usize,
}

impl View {
    fn see(&mut self, v: u64) {
        let (id, seq) = ((v >> 32) as usize, (v & 0xFFFF_FFFF) as usize);
        assert!(seq < self.checker.per_producer, "bogus item {v:#x}");
        if let Some(last) = self.last[id] {
            assert!(seq > last, "producer {id}: saw {seq} after {last} (FIFO)");
        }
        self.last[id] = Some(seq);
        // Relaxed: the swap is an RMW, so of two receipts of one item only
        // one reads `false`; no other memory is read on the flag.
        let dup =
            self.checker.seen[id * self.checker.per_producer + seq].swap(true, Ordering::Relaxed);
        assert!(!dup, "producer {id}: item {seq} received twice");
        self.count += 1;
    }
}

impl Drop for View {
    fn drop(&mut self) {
        self.checker.total.fetch_add(self.count, Ordering::SeqCst);
    }
}

// ---------------------------------------------------------------------------
// Generic stress: P producers, C consumers
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Debug)]
enum Slow {
    Nobody,
    Producers,
    Consumers,
    /// Producers slow in odd phases of 1024 items, consumers in even ones.
    Alternating,
}

#[derive(Clone, Copy, Debug)]
struct Plan {
    producers: usize,
    consumers: usize,
    per_producer: usize,
    capacity: usize,
    strategy: WaitStrategy,
    slow: Slow,
}

/// Sleeps now and then if this side is the slow one at `seq`.
fn dawdle(slow: Slow, producer: bool, seq: usize) {
    let phase_odd = (seq / 1024) % 2 == 1;
    let me = match slow {
        Slow::Nobody => false,
        Slow::Producers => producer,
        Slow::Consumers => !producer,
        Slow::Alternating => producer == phase_odd,
    };
    if me && seq.is_multiple_of(32) {
        thread::sleep(Duration::from_micros(100));
    }
}

fn produce<P: Tx<u64>>(mut tx: P, id: usize, plan: Plan) {
    let mut round = 0;
    for seq in 0..plan.per_producer {
        dawdle(plan.slow, true, seq);
        let v = tag(id, seq);
        // Even producers block; odd ones run a try-loop (Full and Busy
        // hand the value back, which we retry).
        if id.is_multiple_of(2) {
            tx.push_blocking(v, plan.strategy).expect("consumers alive");
            continue;
        }
        let mut v = v;
        loop {
            match tx.push(v) {
                Ok(()) => break,
                Err(PushError::Full(back) | PushError::Busy(back)) => {
                    assert_eq!(back, v, "value handed back");
                    v = back;
                    pause(plan.strategy, &mut round);
                }
                Err(e) => panic!("producer {id}: {e:?}"),
            }
        }
    }
}

fn consume<C: Rx<u64>>(mut rx: C, idx: usize, plan: Plan, mut view: View) {
    let (mut n, mut round) = (0, 0);
    loop {
        dawdle(plan.slow, false, n);
        // Consumer 0 blocks; the others run a try-loop.
        let r = if idx == 0 {
            rx.pop_blocking(plan.strategy).map_err(PopError::from)
        } else {
            loop {
                match rx.pop() {
                    Err(PopError::Empty | PopError::Busy) => pause(plan.strategy, &mut round),
                    r => break r,
                }
            }
        };
        match r {
            Ok(v) => view.see(v),
            Err(PopError::Disconnected) => break,
            Err(e) => panic!("pop_blocking returned {e:?}"),
        }
        n += 1;
    }
}

fn stress<P: Tx<u64>, C: Rx<u64>>((tx, rx): (P, C), plan: Plan) {
    let checker = Checker::new(plan.producers, plan.per_producer);
    let mut threads = Vec::new();
    for (idx, rx) in clones(rx, plan.consumers, C::try_clone)
        .into_iter()
        .enumerate()
    {
        let view = checker.view();
        threads.push(thread::spawn(move || consume(rx, idx, plan, view)));
    }
    for (id, tx) in clones(tx, plan.producers, P::try_clone)
        .into_iter()
        .enumerate()
    {
        threads.push(thread::spawn(move || produce(tx, id, plan)));
    }
    for t in threads {
        t.join().unwrap();
    }
    checker.assert_complete();
}

/// About `total` items over `producers` producers.
fn plan(producers: usize, consumers: usize, total: usize, s: WaitStrategy) -> Plan {
    Plan {
        producers,
        consumers,
        per_producer: scaled(total) / producers,
        // Spinning waiters on 2 CPUs progress about a time slice at a time:
        // give them a ring that holds a slice's worth of items.
        capacity: if s == WaitStrategy::BusySpin {
            4096
        } else {
            64
        },
        strategy: s,
        slow: Slow::Nobody,
    }
}

/// `stress_tests!(name, module, producers, consumers)`: one test per wait
/// strategy, plus the slow-side Park tests.
macro_rules! stress_tests {
    ($name:ident, $m:ident, $p:expr, $c:expr) => {
        mod $name {
            use super::*;

            fn run(s: WaitStrategy) {
                let p = plan($p, $c, 2_000_000, s);
                guarded(concat!(stringify!($name), " stress"), move || {
                    stress($m::channel::<u64>(p.capacity), p)
                });
            }

            fn slow(slow: Slow) {
                let p = Plan {
                    per_producer: scaled(100_000) / $p,
                    capacity: 8,
                    slow,
                    ..plan($p, $c, 0, WaitStrategy::Park)
                };
                guarded(concat!(stringify!($name), " park"), move || {
                    stress($m::channel::<u64>(p.capacity), p)
                });
            }

            #[test]
            fn busy_spin() {
                run(WaitStrategy::BusySpin)
            }
            #[test]
            fn yield_now() {
                run(WaitStrategy::Yield)
            }
            #[test]
            fn backoff() {
                run(WaitStrategy::Backoff)
            }
            #[test]
            fn park() {
                run(WaitStrategy::Park)
            }
            #[test]
            fn park_slow_producer() {
                slow(Slow::Producers)
            }
            #[test]
            fn park_slow_consumer() {
                slow(Slow::Consumers)
            }
            #[test]
            fn park_alternating_slow_side() {
                slow(Slow::Alternating)
            }
            #[test]
            fn tiny_ring() {
                let p = Plan {
                    capacity: 1,
                    per_producer: scaled(200_000) / $p,
                    ..plan($p, $c, 0, WaitStrategy::Backoff)
                };
                guarded(concat!(stringify!($name), " tiny"), move || {
                    stress($m::channel::<u64>(p.capacity), p)
                });
            }
        }
    };
}

stress_tests!(spsc_stress, spsc, 1, 1);
stress_tests!(mpsc_stress, mpsc, 3, 1);
stress_tests!(spmc_stress, spmc, 1, 3);
stress_tests!(mpmc_stress, mpmc, 2, 2);

// ---------------------------------------------------------------------------
// SPSC chunks
// ---------------------------------------------------------------------------

/// Producer writes chunks of random sizes, filled partially, committed or
/// dropped; when the ring is full it waits with `push_blocking`. The consumer
/// opens chunks of random sizes, peeks, takes some, releases the rest with
/// `commit_all` (recorded through `iter()` first) or leaves them; when the
/// ring is empty it waits with `pop_blocking`. So chunk publication must
/// wake a parked consumer and chunk release a parked producer.
fn spsc_chunks(s: WaitStrategy) {
    spsc_chunks_in(s, spsc::channel::<u64>(256));
    // Blocks of 3 slots: publications start and end mid-block, and a
    // 256-slot ring ends in a 1-slot block.
    spsc_chunks_in(s, spsc::__with_block_len::<u64>(256, 3));
}

fn spsc_chunks_in(s: WaitStrategy, (tx, rx): (spsc::Producer<u64>, spsc::Consumer<u64>)) {
    let n = scaled(2_000_000);
    let checker = Checker::new(1, n);
    let view = checker.view();
    let p = thread::spawn(move || chunk_producer(tx, n, s));
    let c = thread::spawn(move || chunk_consumer(rx, view, s));
    p.join().unwrap();
    c.join().unwrap();
    checker.assert_complete();
}

fn chunk_producer(mut tx: spsc::Producer<u64>, n: usize, s: WaitStrategy) {
    let (mut rng, mut next) = (Rng::new(1), 0usize);
    while next < n {
        let want = (1 + rng.below(64)).min(n - next);
        let free = match tx.write_chunk(want) {
            Ok(chunk) => {
                next += fill_chunk(chunk, &mut rng, next as u64);
                continue;
            }
            Err(WriteChunkError::TooFewSlots(free)) => free,
            Err(e) => panic!("{e:?}"),
        };
        if free == 0 {
            // Full: wait the strategy's way, through a single push.
            tx.push_blocking(next as u64, s).unwrap();
            next += 1;
        } else {
            let chunk = tx.write_chunk(free.min(want)).unwrap();
            next += fill_chunk(chunk, &mut rng, next as u64);
        }
    }
}

/// Fills a random part of `chunk` with `first, first + 1, ...` (half by
/// `push`, half by `fill_from_iter`), then commits or drops it; returns how
/// many were written.
fn fill_chunk(mut chunk: spsc::WriteChunk<'_, u64>, rng: &mut Rng, first: u64) -> usize {
    let fill = rng.below(chunk.len() + 1);
    let by_push = fill / 2;
    for v in first..first + by_push as u64 {
        chunk.push(v).unwrap();
    }
    let rest = fill - by_push;
    let from = first + by_push as u64;
    assert_eq!(chunk.fill_from_iter(from..from + rest as u64), rest);
    assert_eq!(chunk.filled(), fill);
    if rng.below(2) == 0 {
        chunk.commit();
    }
    fill
}

/// Opens chunks of exactly a random size (or of what is there, when fewer
/// are: the error says how many) and reads them ([`read_some`]); now and
/// then takes a `pop_batch` instead. Waits with `pop_blocking` when the
/// ring is empty.
fn chunk_consumer(mut rx: spsc::Consumer<u64>, mut view: View, s: WaitStrategy) {
    let mut rng = Rng::new(2);
    let mut out = Vec::new();
    loop {
        if rng.below(4) == 0 {
            out.clear();
            match rx.pop_batch(&mut out, 1 + rng.below(96)) {
                Ok(0) => {}
                Ok(k) => {
                    assert_eq!(k, out.len());
                    out.iter().for_each(|&v| view.see(v));
                    continue;
                }
                Err(Disconnected(())) => return,
            }
        }
        let short = match rx.read_chunk(1 + rng.below(96)) {
            Ok(chunk) => {
                read_some(chunk, &mut rng, &mut view);
                continue;
            }
            Err(e) => e,
        };
        let n = match short {
            ReadChunkError::TooFewItems(k) => k,
            // Fewer than asked, for good: take what is left.
            ReadChunkError::Disconnected => rx.len(),
            e => panic!("{e:?}"),
        };
        if n == 0 {
            match rx.pop_blocking(s) {
                Ok(v) => view.see(v),
                Err(Disconnected(())) => return,
            }
            continue;
        }
        let chunk = rx.read_chunk(n).expect("the items counted are still there");
        read_some(chunk, &mut rng, &mut view);
    }
}

/// Reads a chunk through `slices`, `get` and the iterator (they must
/// agree), takes a random number of items, then releases the rest with
/// `commit_all` (seen through `iter()` first) or leaves them in the ring.
fn read_some(mut chunk: spsc::ReadChunk<'_, u64>, rng: &mut Rng, view: &mut View) {
    let in_slices: Vec<u64> = chunk.slices().flatten().copied().collect();
    assert_eq!(in_slices.len(), chunk.len());
    let take = rng.below(chunk.len() + 1);
    for &expected in &in_slices[..take] {
        let peek = *chunk.get(0).unwrap();
        assert_eq!(peek, expected, "slices() and get() agree");
        assert_eq!(chunk.next(), Some(peek), "get(0) is the next item");
        view.see(peek);
    }
    if rng.below(3) == 0 {
        for &v in chunk.iter() {
            view.see(v);
        }
        chunk.commit_all();
    }
}

mod spsc_chunk_stress {
    use super::*;

    #[test]
    fn busy_spin() {
        guarded("spsc chunks", || spsc_chunks(WaitStrategy::BusySpin));
    }
    #[test]
    fn yield_now() {
        guarded("spsc chunks", || spsc_chunks(WaitStrategy::Yield));
    }
    #[test]
    fn backoff() {
        guarded("spsc chunks", || spsc_chunks(WaitStrategy::Backoff));
    }
    #[test]
    fn park() {
        guarded("spsc chunks", || spsc_chunks(WaitStrategy::Park));
    }
}

// ---------------------------------------------------------------------------
// Batches on every ring
// ---------------------------------------------------------------------------

/// `producers` producers and `consumers` consumers. With more than one
/// producer, producer 0 pushes singly (blocking) while the others batch;
/// a batching producer alternates `push_slice` and `push_iter` (over a
/// `Peekable` of the next items: what did not fit must still be there,
/// next in line) in random sizes, and when a batch places nothing it waits
/// with `push_blocking` of its next item. Every consumer takes `pop_batch`es
/// of random sizes and waits with `pop_blocking` when one comes back
/// empty. On the multi-producer rings batches race other producers' claims
/// (the staged run claims and the one-at-a-time `push_iter`); on SPMC/MPMC
/// consumers' run claims race each other.
fn batches<P: Tx<u64>, C: Rx<u64>>(
    (tx, rx): (P, C),
    producers: usize,
    consumers: usize,
    s: WaitStrategy,
) {
    let per = scaled(1_000_000) / producers;
    let checker = Checker::new(producers, per);
    let mut threads = Vec::new();
    for (idx, rx) in clones(rx, consumers, C::try_clone).into_iter().enumerate() {
        let view = checker.view();
        threads.push(thread::spawn(move || batch_consumer(rx, idx, s, view)));
    }
    for (id, tx) in clones(tx, producers, P::try_clone).into_iter().enumerate() {
        if producers > 1 && id == 0 {
            let p = Plan {
                per_producer: per,
                ..plan(producers, consumers, 0, s)
            };
            threads.push(thread::spawn(move || produce(tx, id, p)));
        } else {
            threads.push(thread::spawn(move || batch_producer(tx, id, per, s)));
        }
    }
    for t in threads {
        t.join().unwrap();
    }
    checker.assert_complete();
}

fn batch_producer<P: Tx<u64>>(mut tx: P, id: usize, per: usize, s: WaitStrategy) {
    let mut rng = Rng::new(1 + id as u64);
    let all: Vec<u64> = (0..per).map(|seq| tag(id, seq)).collect();
    let mut next = 0;
    while next < per {
        let k = (1 + rng.below(64)).min(per - next);
        let offered = &all[next..next + k];
        let pushed = if rng.below(2) == 0 {
            tx.push_slice(offered).expect("consumers alive")
        } else {
            let mut it = offered.iter().copied().peekable();
            let pushed = tx.push_iter(&mut it).expect("consumers alive");
            assert_eq!(
                it.peek(),
                offered.get(pushed),
                "the next item stays in the iterator"
            );
            assert_eq!(it.count(), k - pushed, "nothing taken that was not pushed");
            pushed
        };
        assert!(pushed <= k);
        next += pushed;
        if pushed == 0 {
            tx.push_blocking(all[next], s).expect("consumers alive");
            next += 1;
        }
    }
}

fn batch_consumer<C: Rx<u64>>(mut rx: C, idx: usize, s: WaitStrategy, mut view: View) {
    let mut rng = Rng::new(100 + idx as u64);
    let mut out = Vec::new();
    loop {
        out.clear();
        match rx.pop_batch(&mut out, 1 + rng.below(64)) {
            Ok(0) => match rx.pop_blocking(s) {
                Ok(v) => view.see(v),
                Err(Disconnected(())) => return,
            },
            Ok(k) => {
                assert_eq!(k, out.len());
                out.iter().for_each(|&v| view.see(v));
            }
            Err(Disconnected(())) => return,
        }
    }
}

/// `batch_tests!(name, module, producers, consumers)`: one test per wait
/// strategy.
macro_rules! batch_tests {
    ($name:ident, $m:ident, $p:expr, $c:expr) => {
        mod $name {
            use super::*;

            fn run(s: WaitStrategy) {
                let cap = plan($p, $c, 0, s).capacity;
                guarded(concat!(stringify!($name), " batches"), move || {
                    batches($m::channel::<u64>(cap), $p, $c, s)
                });
            }

            #[test]
            fn busy_spin() {
                run(WaitStrategy::BusySpin)
            }
            #[test]
            fn yield_now() {
                run(WaitStrategy::Yield)
            }
            #[test]
            fn backoff() {
                run(WaitStrategy::Backoff)
            }
            #[test]
            fn park() {
                run(WaitStrategy::Park)
            }
        }
    };
}

batch_tests!(spsc_batch_stress, spsc, 1, 1);
batch_tests!(mpsc_batch_stress, mpsc, 3, 1);
batch_tests!(spmc_batch_stress, spmc, 1, 3);
batch_tests!(mpmc_batch_stress, mpmc, 3, 2);

// ---------------------------------------------------------------------------
// Drop exactly once
// ---------------------------------------------------------------------------

#[derive(Default)]
struct Counts {
    created: AtomicUsize,
    dropped: AtomicUsize,
}

impl Counts {
    fn live(&self) -> usize {
        self.created.load(Ordering::SeqCst) - self.dropped.load(Ordering::SeqCst)
    }
    fn dropped(&self) -> usize {
        self.dropped.load(Ordering::SeqCst)
    }
}

struct Counted(Arc<Counts>);

impl Counted {
    fn new(c: &Arc<Counts>) -> Self {
        c.created.fetch_add(1, Ordering::SeqCst);
        Counted(c.clone())
    }
}

/// A clone counts as a new item (as `push_slice` makes them).
impl Clone for Counted {
    fn clone(&self) -> Self {
        Counted::new(&self.0)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.dropped.fetch_add(1, Ordering::SeqCst);
    }
}

/// Single-threaded: wrap the ring, leave items in it, drop the producers
/// (items survive), pop some, drop the consumers (the rest go, once).
/// Then the other order: consumers first, a push hands its value back.
fn drop_once_single<P: Tx<Counted>, C: Rx<Counted>>(make: impl Fn() -> (P, C)) {
    let c = Arc::new(Counts::default());
    let (tx, rx) = make();
    let cap = rx.capacity();
    let mut txs = up_to_two(tx, P::try_clone);
    let mut rxs = up_to_two(rx, C::try_clone);
    for i in 0..cap {
        let n = txs.len();
        txs[i % n].push(Counted::new(&c)).ok().unwrap();
    }
    for _ in 0..cap / 2 {
        drop(rxs[0].pop().ok().unwrap());
    }
    for _ in 0..cap / 2 {
        txs[0].push(Counted::new(&c)).ok().unwrap(); // wraps around
    }
    assert!(matches!(
        txs[0].push(Counted::new(&c)),
        Err(PushError::Full(_))
    ));
    assert_eq!(c.live(), cap, "a refused push dropped its value once");
    txs.clear();
    assert_eq!(c.live(), cap, "items outlive the producers");
    drop(rxs.last_mut().unwrap().pop().ok().unwrap());
    assert_eq!(c.live(), cap - 1);
    rxs.clear();
    assert_eq!(c.live(), 0, "leftovers dropped with the last handle");

    let (mut tx, rx) = make();
    tx.push(Counted::new(&c)).ok().unwrap();
    drop(rx);
    match tx.push(Counted::new(&c)) {
        Err(PushError::Disconnected(v)) => drop(v),
        other => panic!("{:?}", other.map_err(|_| "not Disconnected")),
    }
    assert_eq!(
        c.live(),
        1,
        "the item in the ring waits for the last handle"
    );
    drop(tx);
    assert_eq!(c.live(), 0);
    assert_eq!(c.dropped(), c.created.load(Ordering::SeqCst));
}

/// Threaded: producers push until the consumers leave early; items handed
/// back are dropped by the producers, items left in the ring by the last
/// handle, items popped by the consumers: each exactly once.
fn drop_once_threaded<P: Tx<Counted>, C: Rx<Counted>>((tx, rx): (P, C), p: usize, k: usize) {
    let c = Arc::new(Counts::default());
    let stop_after = scaled(100_000) / k;
    let consumers: Vec<_> = clones(rx, k, C::try_clone)
        .into_iter()
        .map(|mut rx| {
            thread::spawn(move || {
                for _ in 0..stop_after {
                    match rx.pop_blocking(WaitStrategy::Backoff) {
                        Ok(v) => drop(v),
                        Err(e) => panic!("{e:?}"),
                    }
                }
            })
        })
        .collect();
    let producers: Vec<_> = clones(tx, p, P::try_clone)
        .into_iter()
        .map(|mut tx| {
            let c = c.clone();
            thread::spawn(move || loop {
                match tx.push_blocking(Counted::new(&c), WaitStrategy::Park) {
                    Ok(()) => {}
                    Err(Disconnected(v)) => return drop(v),
                }
            })
        })
        .collect();
    for t in consumers.into_iter().chain(producers) {
        t.join().unwrap();
    }
    assert_eq!(c.live(), 0, "every item dropped exactly once");
    assert!(c.dropped() >= stop_after * k);
}

#[test]
fn spsc_drops_exactly_once() {
    guarded("spsc drops", || {
        drop_once_single(|| spsc::channel::<Counted>(8));
        drop_once_threaded(spsc::channel::<Counted>(16), 1, 1);
    });
}

#[test]
fn mpsc_drops_exactly_once() {
    guarded("mpsc drops", || {
        drop_once_single(|| mpsc::channel::<Counted>(8));
        drop_once_threaded(mpsc::channel::<Counted>(16), 3, 1);
    });
}

#[test]
fn spmc_drops_exactly_once() {
    guarded("spmc drops", || {
        drop_once_single(|| spmc::channel::<Counted>(8));
        drop_once_threaded(spmc::channel::<Counted>(16), 1, 3);
    });
}

#[test]
fn mpmc_drops_exactly_once() {
    guarded("mpmc drops", || {
        drop_once_single(|| mpmc::channel::<Counted>(8));
        drop_once_threaded(mpmc::channel::<Counted>(16), 2, 2);
    });
}

#[test]
fn spsc_chunks_drop_exactly_once() {
    let c = Arc::new(Counts::default());
    let (mut tx, mut rx) = spsc::channel::<Counted>(8);
    for _ in 0..6 {
        tx.push(Counted::new(&c)).ok().unwrap();
    }
    let mut chunk = rx.read_chunk(4).unwrap();
    drop(chunk.next());
    drop(chunk.next());
    drop(chunk); // two taken and dropped, two left in the ring
    rx.read_chunk(1).unwrap().commit_all(); // one more dropped in place
    assert_eq!(c.live(), 3);
    let mut w = tx.write_chunk(5).unwrap(); // wraps around
    assert_eq!(w.fill_from_iter((0..3).map(|_| Counted::new(&c))), 3);
    assert!(w.push(Counted::new(&c)).is_ok());
    drop(w); // four published
    assert_eq!(c.live(), 7);
    drop(rx);
    assert_eq!(c.live(), 7, "items outlive the consumer");
    assert_eq!(tx.write_chunk(1).err(), Some(WriteChunkError::Disconnected));
    drop(tx);
    assert_eq!(c.live(), 0);
}

/// Batches and drops: what `push_slice` did not push stays the caller's
/// (clones are made only for slots known free when the call looked, so
/// none is wasted here); what `push_iter` did not push stays in the
/// iterator; `Disconnected` clones nothing. `spare_tx`: a second producer
/// handle exists, so MPSC takes the staged claims instead of the sole
/// producer's write-ahead.
fn batch_drops_once<P: Tx<Counted>, C: Rx<Counted>>((mut tx, mut rx): (P, C), spare_tx: bool) {
    let c = Arc::new(Counts::default());
    let spare = if spare_tx { tx.try_clone() } else { None };
    let cap = rx.capacity();
    let originals: Vec<_> = (0..cap + 2).map(|_| Counted::new(&c)).collect();
    assert_eq!(tx.push_slice(&originals), Ok(cap));
    assert_eq!(
        c.live(),
        2 * cap + 2,
        "cap clones in the ring, the originals ours"
    );
    drop(originals);
    assert_eq!(c.live(), cap);
    let mut out = Vec::new();
    assert_eq!(rx.pop_batch(&mut out, 2), Ok(2));
    drop(out);
    let mut rest = (0..3).map(|_| Counted::new(&c)).peekable();
    assert_eq!(tx.push_iter(&mut rest), Ok(2));
    assert!(rest.peek().is_some(), "the third stays in the iterator");
    assert_eq!(c.live(), cap + 1);
    drop(rest);
    assert_eq!(c.live(), cap);
    drop(rx);
    assert_eq!(tx.push_slice(&[Counted::new(&c)]), Err(Disconnected(())));
    assert_eq!(c.live(), cap, "Disconnected clones nothing");
    drop(spare);
    drop(tx);
    assert_eq!(c.live(), 0);
    assert_eq!(c.dropped(), c.created.load(Ordering::SeqCst));
}

#[test]
fn batches_drop_exactly_once() {
    batch_drops_once(spsc::channel::<Counted>(4), false);
    batch_drops_once(mpsc::channel::<Counted>(4), false);
    batch_drops_once(mpsc::channel::<Counted>(4), true);
    batch_drops_once(spmc::channel::<Counted>(4), false);
    batch_drops_once(mpmc::channel::<Counted>(4), false);
}

/// A `pop_batch` sink that takes the first `take` items of the claimed
/// run, says so on `held`, and keeps the rest of the run claimed but
/// unread until `go` fires.
struct HoldingSink<T> {
    take: usize,
    got: Vec<T>,
    held: std_mpsc::Sender<()>,
    go: std_mpsc::Receiver<()>,
}

impl<T> Extend<T> for HoldingSink<T> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, iter: I) {
        let mut run = iter.into_iter();
        self.got.extend(run.by_ref().take(self.take));
        self.held.send(()).unwrap();
        self.go.recv().unwrap();
        self.got.extend(run);
    }
}

/// MPMC `push_slice` sizes its clone groups by `free_len` (`capacity -
/// len`), which counts slots that consumers have claimed but are still
/// reading as free. That look is only a hint: the claim checks each
/// slot's stamp, so the batch takes only the slot really free, drops the
/// clones that found none, and leaves the slots being read alone.
#[test]
fn mpmc_push_slice_claims_only_slots_free_by_their_stamps() {
    guarded(
        "mpmc_push_slice_claims_only_slots_free_by_their_stamps",
        || {
            let (mut tx, mut rx) = mpmc::channel::<Arc<u32>>(4);
            assert_eq!(tx.capacity(), 4);
            for i in 0..4 {
                tx.push(Arc::new(i)).unwrap();
            }
            let (held_tx, held) = std_mpsc::channel();
            let (go, go_rx) = std_mpsc::channel();
            let reader = thread::spawn(move || {
                let mut sink = HoldingSink {
                    take: 1,
                    got: Vec::new(),
                    held: held_tx,
                    go: go_rx,
                };
                assert_eq!(rx.pop_batch(&mut sink, 3), Ok(3));
                (rx, sink.got)
            });
            held.recv().unwrap();
            // Positions 0..3 are claimed, only 0 read: `len` counts one item,
            // but only slot 0 is free; slots 1 and 2 are still being read.
            assert_eq!((tx.len(), tx.free_len()), (1, 3));
            let items: Vec<_> = (10..13).map(Arc::new).collect();
            assert_eq!(tx.push_slice(&items), Ok(1), "only slot 0 is free");
            let refs: Vec<_> = items.iter().map(Arc::strong_count).collect();
            assert_eq!(refs, [2, 1, 1], "one clone in the ring, the others dropped");
            assert!(
                matches!(tx.push(Arc::new(99)), Err(PushError::Busy(_))),
                "the next slot is still being read"
            );
            go.send(()).unwrap();
            let (mut rx, got) = reader.join().unwrap();
            assert_eq!(got.iter().map(|v| **v).collect::<Vec<_>>(), [0, 1, 2]);
            assert_eq!(tx.push_slice(&items[1..]), Ok(2));
            let mut rest = Vec::new();
            assert_eq!(rx.pop_batch(&mut rest, 8), Ok(4));
            assert_eq!(
                rest.iter().map(|v| **v).collect::<Vec<_>>(),
                [3, 10, 11, 12]
            );
        },
    );
}

/// An item whose `clone` panics once `ARMED` is set.
struct Bomb(u64, Arc<Counts>);

static ARMED: Mutex<Option<u64>> = Mutex::new(None);

impl Clone for Bomb {
    fn clone(&self) -> Self {
        if *ARMED.lock().unwrap_or_else(|e| e.into_inner()) == Some(self.0) {
            panic!("clone of {} refused", self.0);
        }
        self.1.created.fetch_add(1, Ordering::SeqCst);
        Bomb(self.0, self.1.clone())
    }
}

impl Drop for Bomb {
    fn drop(&mut self) {
        self.1.dropped.fetch_add(1, Ordering::SeqCst);
    }
}

/// A panic inside a batch (a `clone` in `push_slice`, the caller's
/// `Extend` in `pop_batch`) leaves a working ring, every item dropped
/// exactly once: no claimed slot is left unwritten or unread. `prefix`:
/// the single-producer and sole-handle paths publish the items cloned
/// before the panic; the staged multi-producer path pushes none of that
/// group. `sole_rx`: what `Extend` did not take stays in the ring (SPSC,
/// MPSC); otherwise it was claimed and is dropped.
fn batch_panics<P: Tx<Bomb>, C: Rx<Bomb>>((mut tx, mut rx): (P, C), prefix: bool, sole_rx: bool) {
    use std::panic::{catch_unwind, AssertUnwindSafe};
    let _one_at_a_time = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let c = Arc::new(Counts::default());
    let items: Vec<Bomb> = (0..4)
        .map(|v| {
            c.created.fetch_add(1, Ordering::SeqCst);
            Bomb(v, c.clone())
        })
        .collect();
    *ARMED.lock().unwrap() = Some(2);
    let r = catch_unwind(AssertUnwindSafe(|| tx.push_slice(&items)));
    *ARMED.lock().unwrap() = None;
    assert!(r.is_err(), "the clone of 2 panicked");
    let pushed = if prefix { 2 } else { 0 };
    assert_eq!(c.live(), 4 + pushed, "the originals and the pushed clones");
    assert_eq!(
        tx.push_slice(&items[pushed..]),
        Ok(4 - pushed),
        "the ring still works"
    );

    struct GiveUpAfterOne(Vec<Bomb>);
    impl Extend<Bomb> for GiveUpAfterOne {
        fn extend<I: IntoIterator<Item = Bomb>>(&mut self, iter: I) {
            self.0.extend(iter.into_iter().next());
            panic!("extend gave up");
        }
    }
    let mut out = GiveUpAfterOne(Vec::new());
    let r = catch_unwind(AssertUnwindSafe(|| rx.pop_batch(&mut out, 3)));
    assert!(r.is_err());
    assert_eq!(out.0.iter().map(|b| b.0).collect::<Vec<_>>(), [0]);
    let left = if sole_rx { 3 } else { 1 };
    let mut rest = Vec::new();
    assert_eq!(
        rx.pop_batch(&mut rest, 10),
        Ok(left),
        "the ring still works"
    );
    let expected: Vec<u64> = (4 - left as u64..4).collect();
    assert_eq!(rest.iter().map(|b| b.0).collect::<Vec<_>>(), expected);
    drop((out, rest, items));
    assert_eq!(c.live(), 0, "every item dropped exactly once");
    drop((tx, rx));
}

#[test]
fn batch_panics_leave_a_working_ring() {
    batch_panics(spsc::channel::<Bomb>(8), true, true);
    batch_panics(mpsc::channel::<Bomb>(8), true, true);
    let (tx, rx) = mpsc::channel::<Bomb>(8);
    let spare = tx.clone();
    batch_panics((tx, rx), false, true);
    drop(spare);
    batch_panics(spmc::channel::<Bomb>(8), true, false);
    batch_panics(mpmc::channel::<Bomb>(8), false, false);
}

// ---------------------------------------------------------------------------
// Disconnect wakes blocked waiters
// ---------------------------------------------------------------------------

/// Consumers block in `pop_blocking` on an empty ring. One producer handle
/// drops (another remains, so nobody may see `Disconnected` yet), the
/// other sends one item, then drops: every consumer ends with
/// `Disconnected` and exactly one item was received.
fn pop_wakes<P: Tx<u64>, C: Rx<u64>>((tx, rx): (P, C), k: usize, s: WaitStrategy) {
    let waiters: Vec<_> = clones(rx, k, C::try_clone)
        .into_iter()
        .map(|mut rx| {
            thread::spawn(move || {
                let mut got = Vec::new();
                loop {
                    match rx.pop_blocking(s) {
                        Ok(v) => got.push(v),
                        Err(Disconnected(())) => return got,
                    }
                }
            })
        })
        .collect();
    thread::sleep(Duration::from_millis(20)); // let them park (not relied on)
    let mut last = tx;
    if let Some(other) = last.try_clone() {
        drop(std::mem::replace(&mut last, other));
        thread::sleep(Duration::from_millis(5));
    }
    last.push(7).unwrap();
    thread::sleep(Duration::from_millis(5));
    drop(last);
    let got: Vec<u64> = waiters
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    assert_eq!(got, [7], "{s:?}: the one item, then Disconnected for all");
}

/// Producers block in `push_blocking` on a full ring. A spare consumer
/// handle drops (one remains: no `Disconnected` yet), the other pops one
/// item, so exactly one blocked push completes; once the ring is full again
/// it drops too: every producer wakes with `Disconnected` and gets its value
/// back.
fn push_wakes<P: Tx<u64>, C: Rx<u64>>((mut tx, mut rx): (P, C), p: usize, s: WaitStrategy) {
    let cap = rx.capacity();
    for i in 0..cap {
        tx.push(i as u64).unwrap();
    }
    let waiters: Vec<_> = clones(tx, p, P::try_clone)
        .into_iter()
        .enumerate()
        .map(|(id, mut tx)| {
            thread::spawn(move || {
                let (v, mut pushed) = (1000 + id as u64, 0);
                loop {
                    match tx.push_blocking(v, s) {
                        Ok(()) => pushed += 1,
                        Err(Disconnected(back)) => {
                            assert_eq!(back, v, "value handed back");
                            return pushed;
                        }
                    }
                }
            })
        })
        .collect();
    thread::sleep(Duration::from_millis(20)); // let them park (not relied on)
    drop(rx.try_clone());
    assert_eq!(rx.pop(), Ok(0));
    while rx.len() < cap {
        thread::yield_now();
    }
    drop(rx);
    let pushed: usize = waiters.into_iter().map(|w| w.join().unwrap()).sum();
    assert_eq!(pushed, 1, "{s:?}: exactly the one freed slot was filled");
}

macro_rules! disconnect_tests {
    ($($m:ident: $pop:ident, $push:ident, producers = $p:expr, consumers = $c:expr;)*) => {$(
        #[test]
        fn $pop() {
            guarded(stringify!($pop), || {
                for s in STRATEGIES {
                    pop_wakes($m::channel::<u64>(4), $c, s);
                }
            });
        }

        #[test]
        fn $push() {
            guarded(stringify!($push), || {
                for s in STRATEGIES {
                    push_wakes($m::channel::<u64>(4), $p, s);
                }
            });
        }
    )*};
}

disconnect_tests! {
    spsc: spsc_blocked_pop_wakes_on_disconnect, spsc_blocked_push_wakes_on_disconnect,
        producers = 1, consumers = 1;
    mpsc: mpsc_blocked_pop_wakes_on_disconnect, mpsc_blocked_push_wakes_on_disconnect,
        producers = 2, consumers = 1;
    spmc: spmc_blocked_pop_wakes_on_disconnect, spmc_blocked_push_wakes_on_disconnect,
        producers = 1, consumers = 2;
    mpmc: mpmc_blocked_pop_wakes_on_disconnect, mpmc_blocked_push_wakes_on_disconnect,
        producers = 2, consumers = 2;
}
