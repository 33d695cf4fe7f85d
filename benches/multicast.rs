//! corelane's multicast ring against the `disruptor` crate (4.x), in one run.
//!
//! * `multicast_1p1c/throughput`: one producer, one consumer, two pinned
//!   CPUs; items per second. Disruptor both as a managed handler thread and
//!   as an `EventPoller` on our own pinned thread.
//! * `multicast_1p1c/round_trip`: ping through one ring, pong back through a
//!   second, two pinned CPUs (disruptor: `EventPoller` on both rings).
//! * `multicast_batch`: publishing 64 items with one publication vs one at a
//!   time (and disruptor's `batch_publish(64)`).
//! * `multicast_publish_cost`: the price of the park/wake check on publish
//!   (one thread, publish then release): `push` vs the same without
//!   `notify`.
//! * `multicast_shapes`: 1P→3C broadcast, 3-stage pipeline, diamond. These
//!   need 4 free CPUs to mean anything; with fewer they are oversubscribed
//!   (the bench says so) and only show that the shapes run.
//!
//! The process's allowed CPU set is read once, before anything is pinned.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use corelane::queue::multicast::TryRecvError;
use corelane::queue::multicast::{self, Builder, Cursor, Publisher};
use corelane::topology::{self, CpuId};
use criterion::{BenchmarkGroup, Criterion, Throughput};
use crossbeam_utils::CachePadded;
use disruptor::{BusySpin, Polling, ProcessorSettings, Producer};

const CAPACITY: usize = 1024;
const BATCH: usize = 64;

// ---------------------------------------------------------------------------
// CPUs
// ---------------------------------------------------------------------------

static CPUS: OnceLock<Vec<usize>> = OnceLock::new();

/// The CPUs this process may run on, read once (before any pinning).
fn allowed_cpus() -> &'static [usize] {
    CPUS.get_or_init(|| match topology::allowed_cpus() {
        Ok(set) => set.iter().map(CpuId::index).collect(),
        Err(e) => {
            eprintln!("multicast bench: cannot read the affinity mask ({e}); assuming CPU 0");
            vec![0]
        }
    })
}

/// The `i`-th allowed CPU (wrapping when there are fewer).
fn cpu(i: usize) -> usize {
    let cpus = allowed_cpus();
    cpus[i % cpus.len()]
}

fn pin(cpu: usize) {
    let cpu = CpuId::new(cpu as u32);
    if let Err(e) = topology::pin_current_thread(cpu) {
        eprintln!("multicast bench: could not pin to {cpu}: {e}");
    }
}

/// Runs `f` with the calling thread allowed on every CPU again: disruptor
/// checks `pin_at_core` ids against the *calling thread's* affinity.
fn unpinned<R>(f: impl FnOnce() -> R) -> R {
    if let Err(e) = topology::unpin_current_thread() {
        eprintln!("multicast bench: could not unpin: {e}");
    }
    f()
}

/// Spawns a thread pinned to `cpu`, and waits until it runs there.
fn spawn_pinned<R: Send + 'static>(
    cpu: usize,
    f: impl FnOnce() -> R + Send + 'static,
) -> JoinHandle<R> {
    let ready = Arc::new(Barrier::new(2));
    let r = ready.clone();
    let h = thread::spawn(move || {
        pin(cpu);
        r.wait();
        f()
    });
    ready.wait();
    h
}

/// A counter one side bumps and the other polls, on its own line.
type Sink = Arc<CachePadded<AtomicU64>>;

fn sink() -> Sink {
    Arc::new(CachePadded::new(AtomicU64::new(0)))
}

fn wait_for(sink: &Sink, target: u64) {
    while sink.load(Ordering::Acquire) < target {
        std::hint::spin_loop();
    }
}

#[derive(Clone, Copy, Default)]
struct Event {
    value: u64,
}

// ---------------------------------------------------------------------------
// corelane consumers
// ---------------------------------------------------------------------------

/// Reads everything, publishing the count to `sink` after each batch.
fn corelane_counter(mut c: Cursor<Event>, sink: Sink) -> u64 {
    let mut count = 0u64;
    let mut sum = 0u64;
    loop {
        match c.pop_batch(usize::MAX) {
            Ok(batch) => {
                count += batch.len() as u64;
                sum = sum.wrapping_add(batch.iter().map(|e| e.value).sum::<u64>());
                drop(batch);
                sink.store(count, Ordering::Release);
            }
            Err(TryRecvError::Disconnected) => return sum,
            Err(_) => std::hint::spin_loop(),
        }
    }
}

fn spin_publish(tx: &mut Publisher<Event>, value: u64) {
    while tx.push_with(|e| e.value = value).is_err() {
        std::hint::spin_loop();
    }
}

// ---------------------------------------------------------------------------
// 1P -> 1C
// ---------------------------------------------------------------------------

fn throughput(g: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    g.throughput(Throughput::Elements(1));
    let (a, b) = (cpu(0), cpu(1));
    pin(a);

    {
        let (mut tx, mut cs) = multicast::broadcast(CAPACITY, Event::default, 1);
        let done = sink();
        let (c, d) = (cs.pop().unwrap(), done.clone());
        let consumer = spawn_pinned(b, move || corelane_counter(c, d));
        let mut sent = 0u64;
        g.bench_function("corelane", |bench| {
            bench.iter_custom(|iters| {
                let start = Instant::now();
                for i in 0..iters {
                    spin_publish(&mut tx, i);
                }
                sent += iters;
                wait_for(&done, sent);
                start.elapsed()
            })
        });
        drop(tx);
        black_box(consumer.join().unwrap());
    }

    {
        let done = sink();
        let d = done.clone();
        let mut tx = unpinned(|| {
            disruptor::build_single_producer(CAPACITY, Event::default, BusySpin)
                .pin_at_core(b)
                .handle_events_with(move |e: &Event, seq: i64, end: bool| {
                    black_box(e.value);
                    if end {
                        d.store(seq as u64 + 1, Ordering::Release);
                    }
                })
                .build()
        });
        pin(a);
        let mut sent = 0u64;
        g.bench_function("disruptor_handler", |bench| {
            bench.iter_custom(|iters| {
                let start = Instant::now();
                for i in 0..iters {
                    tx.publish(|e| e.value = i);
                }
                sent += iters;
                wait_for(&done, sent);
                start.elapsed()
            })
        });
    }

    {
        let builder = disruptor::build_single_producer(CAPACITY, Event::default, BusySpin);
        let (mut poller, builder) = builder.new_event_poller();
        let mut tx = builder.build();
        let done = sink();
        let d = done.clone();
        let consumer = spawn_pinned(b, move || {
            let mut count = 0u64;
            loop {
                match poller.poll() {
                    Ok(mut events) => {
                        for e in &mut events {
                            black_box(e.value);
                            count += 1;
                        }
                        drop(events);
                        d.store(count, Ordering::Release);
                    }
                    Err(Polling::NoEvents) => std::hint::spin_loop(),
                    Err(Polling::Shutdown) => return count,
                }
            }
        });
        let mut sent = 0u64;
        g.bench_function("disruptor_poller", |bench| {
            bench.iter_custom(|iters| {
                let start = Instant::now();
                for i in 0..iters {
                    tx.publish(|e| e.value = i);
                }
                sent += iters;
                wait_for(&done, sent);
                start.elapsed()
            })
        });
        drop(tx);
        black_box(consumer.join().unwrap());
    }
}

fn round_trip(g: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    g.throughput(Throughput::Elements(1));
    let (a, b) = (cpu(0), cpu(1));
    pin(a);

    {
        let (mut ping, mut ping_rx) = multicast::broadcast(CAPACITY, Event::default, 1);
        let (mut pong, mut pong_rx) = multicast::broadcast(CAPACITY, Event::default, 1);
        let (mut ping_rx, mut pong_rx) = (ping_rx.pop().unwrap(), pong_rx.pop().unwrap());
        let echo = spawn_pinned(b, move || loop {
            match ping_rx.pop() {
                Ok(e) => spin_publish(&mut pong, e.value),
                Err(TryRecvError::Disconnected) => return,
                Err(_) => std::hint::spin_loop(),
            }
        });
        g.bench_function("corelane", |bench| {
            bench.iter_custom(|iters| {
                let start = Instant::now();
                for i in 0..iters {
                    spin_publish(&mut ping, i);
                    loop {
                        if let Ok(e) = pong_rx.pop() {
                            debug_assert_eq!(e.value, i);
                            break;
                        }
                        std::hint::spin_loop();
                    }
                }
                start.elapsed()
            })
        });
        drop(ping);
        echo.join().unwrap();
    }

    {
        let (mut ping_rx, b1) =
            disruptor::build_single_producer(CAPACITY, Event::default, BusySpin).new_event_poller();
        let mut ping = b1.build();
        let (mut pong_rx, b2) =
            disruptor::build_single_producer(CAPACITY, Event::default, BusySpin).new_event_poller();
        let pong = b2.build();
        let echo = spawn_pinned(b, move || {
            let mut pong = pong;
            loop {
                match ping_rx.poll() {
                    Ok(mut events) => {
                        for e in &mut events {
                            let v = e.value;
                            pong.publish(|p| p.value = v);
                        }
                    }
                    Err(Polling::NoEvents) => std::hint::spin_loop(),
                    Err(Polling::Shutdown) => return,
                }
            }
        });
        g.bench_function("disruptor_poller", |bench| {
            bench.iter_custom(|iters| {
                let start = Instant::now();
                for i in 0..iters {
                    ping.publish(|e| e.value = i);
                    loop {
                        if let Ok(mut events) = pong_rx.poll() {
                            for e in &mut events {
                                debug_assert_eq!(e.value, i);
                            }
                            break;
                        }
                        std::hint::spin_loop();
                    }
                }
                start.elapsed()
            })
        });
        drop(ping);
        echo.join().unwrap();
    }
}

// ---------------------------------------------------------------------------
// Batch publish
// ---------------------------------------------------------------------------

fn batch(c: &mut Criterion) {
    let mut g = c.benchmark_group("multicast_batch");
    g.throughput(Throughput::Elements(BATCH as u64));
    let (a, b) = (cpu(0), cpu(1));
    pin(a);
    for batched in [false, true] {
        let (mut tx, mut cs) = multicast::broadcast(CAPACITY, Event::default, 1);
        let done = sink();
        let (cur, d) = (cs.pop().unwrap(), done.clone());
        let consumer = spawn_pinned(b, move || corelane_counter(cur, d));
        let mut sent = 0u64;
        let name = if batched {
            "corelane_batch64"
        } else {
            "corelane_single"
        };
        g.bench_function(name, |bench| {
            bench.iter_custom(|iters| {
                let start = Instant::now();
                for i in 0..iters {
                    let base = i * BATCH as u64;
                    if batched {
                        while tx
                            .push_batch(BATCH, |k, e| e.value = base + k as u64)
                            .is_err()
                        {
                            std::hint::spin_loop();
                        }
                    } else {
                        for k in 0..BATCH as u64 {
                            spin_publish(&mut tx, base + k);
                        }
                    }
                }
                sent += iters * BATCH as u64;
                wait_for(&done, sent);
                start.elapsed()
            })
        });
        drop(tx);
        black_box(consumer.join().unwrap());
    }
    {
        let done = sink();
        let d = done.clone();
        let mut tx = unpinned(|| {
            disruptor::build_single_producer(CAPACITY, Event::default, BusySpin)
                .pin_at_core(b)
                .handle_events_with(move |e: &Event, seq: i64, end: bool| {
                    // Read every item, as corelane's consumer does.
                    black_box(e.value);
                    if end {
                        d.store(seq as u64 + 1, Ordering::Release);
                    }
                })
                .build()
        });
        pin(a);
        let mut sent = 0u64;
        g.bench_function("disruptor_batch64", |bench| {
            bench.iter_custom(|iters| {
                let start = Instant::now();
                for i in 0..iters {
                    let base = i * BATCH as u64;
                    tx.batch_publish(BATCH, |it| {
                        for (k, e) in it.enumerate() {
                            e.value = base + k as u64;
                        }
                    });
                }
                sent += iters * BATCH as u64;
                wait_for(&done, sent);
                start.elapsed()
            })
        });
    }
    g.finish();
}

/// Publish + release on one thread: what the park/wake check adds.
fn publish_cost(c: &mut Criterion) {
    let mut g = c.benchmark_group("multicast_publish_cost");
    g.throughput(Throughput::Elements(BATCH as u64));
    pin(cpu(0));
    for notify in [false, true] {
        let (mut tx, mut cs) = multicast::broadcast(CAPACITY, || 0u64, 1);
        let mut cur = cs.pop().unwrap();
        let name = if notify {
            "with_notify"
        } else {
            "without_notify"
        };
        g.bench_function(name, |bench| {
            bench.iter(|| {
                for k in 0..BATCH as u64 {
                    let r = if notify {
                        tx.push(black_box(k))
                    } else {
                        tx.__push_without_notify(black_box(k))
                    };
                    debug_assert!(r.is_ok());
                }
                drop(cur.pop_batch(usize::MAX));
            })
        });
    }
    g.finish();
}

// ---------------------------------------------------------------------------
// Multi-consumer shapes
// ---------------------------------------------------------------------------

#[derive(Clone, Copy)]
enum Shape {
    /// P -> {A, B, C}
    Broadcast,
    /// P -> A -> B -> C
    Pipeline,
    /// P -> {A, B} -> C
    Diamond,
}

impl Shape {
    fn name(self) -> &'static str {
        match self {
            Shape::Broadcast => "1p3c_broadcast",
            Shape::Pipeline => "3stage_pipeline",
            Shape::Diamond => "diamond",
        }
    }

    /// For each of the three consumers, the consumers it runs after.
    fn deps(self) -> [&'static [usize]; 3] {
        match self {
            Shape::Broadcast => [&[], &[], &[]],
            Shape::Pipeline => [&[], &[0], &[1]],
            Shape::Diamond => [&[], &[], &[0, 1]],
        }
    }
}

/// Runs the shape with corelane: returns the publisher and the sinks of
/// the consumers (the bench waits on all three).
fn corelane_shape(shape: Shape) -> (Publisher<Event>, Vec<Sink>, Vec<JoinHandle<u64>>) {
    let mut b = Builder::new(CAPACITY, Event::default);
    let ids: Vec<_> = (0..3).map(|_| b.cursor()).collect();
    for (i, deps) in shape.deps().iter().enumerate() {
        let deps: Vec<_> = deps.iter().map(|&d| ids[d]).collect();
        b.after(ids[i], &deps);
    }
    let (tx, mut h) = b.build().expect("valid shape");
    let sinks: Vec<Sink> = (0..3).map(|_| sink()).collect();
    let threads = ids
        .iter()
        .enumerate()
        .map(|(i, &id)| {
            let (c, s) = (h.cursor(id), sinks[i].clone());
            spawn_pinned(cpu(i + 1), move || corelane_counter(c, s))
        })
        .collect();
    (tx, sinks, threads)
}

fn shapes(c: &mut Criterion) {
    let cpus = allowed_cpus().len();
    if cpus < 4 {
        println!(
            "multicast_shapes: {cpus} CPUs allowed, these shapes need 4 (producer + 3 \
             consumers); the threads are oversubscribed and the figures below are NOT \
             meaningful"
        );
    }
    let mut g = c.benchmark_group("multicast_shapes");
    g.throughput(Throughput::Elements(1));
    if cpus < 4 {
        g.sample_size(10)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2));
    }
    pin(cpu(0));
    for shape in [Shape::Broadcast, Shape::Pipeline, Shape::Diamond] {
        let (mut tx, sinks, threads) = corelane_shape(shape);
        let mut sent = 0u64;
        g.bench_function(format!("corelane/{}", shape.name()), |bench| {
            bench.iter_custom(|iters| {
                let start = Instant::now();
                for i in 0..iters {
                    spin_publish(&mut tx, i);
                }
                sent += iters;
                sinks.iter().for_each(|s| wait_for(s, sent));
                start.elapsed()
            })
        });
        drop(tx);
        threads.into_iter().for_each(|t| {
            black_box(t.join().unwrap());
        });

        let (mut tx, sinks) = unpinned(|| disruptor_shape(shape));
        pin(cpu(0));
        let mut sent = 0u64;
        g.bench_function(format!("disruptor/{}", shape.name()), |bench| {
            bench.iter_custom(|iters| {
                let start = Instant::now();
                for i in 0..iters {
                    tx.publish(|e| e.value = i);
                }
                sent += iters;
                sinks.iter().for_each(|s| wait_for(s, sent));
                start.elapsed()
            })
        });
    }
    g.finish();
}

type DisruptorTx = Box<dyn FnMutPublish>;

/// Object-safe publish, so the three disruptor builder types fit one slot.
trait FnMutPublish {
    fn publish_dyn(&mut self, f: &mut dyn FnMut(&mut Event));
}

impl<P: Producer<Event>> FnMutPublish for P {
    fn publish_dyn(&mut self, f: &mut dyn FnMut(&mut Event)) {
        Producer::publish(self, |e| f(e));
    }
}

struct ShapeTx(DisruptorTx);

impl ShapeTx {
    fn publish(&mut self, mut f: impl FnMut(&mut Event)) {
        self.0.publish_dyn(&mut f);
    }
}

fn handler(s: Sink) -> impl FnMut(&Event, i64, bool) + Send + 'static {
    move |e: &Event, seq: i64, end: bool| {
        black_box(e.value);
        if end {
            s.store(seq as u64 + 1, Ordering::Release);
        }
    }
}

fn disruptor_shape(shape: Shape) -> (ShapeTx, Vec<Sink>) {
    let sinks: Vec<Sink> = (0..3).map(|_| sink()).collect();
    let h = |i: usize| handler(sinks[i].clone());
    let b = disruptor::build_single_producer(CAPACITY, Event::default, BusySpin);
    let tx: DisruptorTx = match shape {
        Shape::Broadcast => Box::new(
            b.pin_at_core(cpu(1))
                .handle_events_with(h(0))
                .pin_at_core(cpu(2))
                .handle_events_with(h(1))
                .pin_at_core(cpu(3))
                .handle_events_with(h(2))
                .build(),
        ),
        Shape::Pipeline => Box::new(
            b.pin_at_core(cpu(1))
                .handle_events_with(h(0))
                .and_then()
                .pin_at_core(cpu(2))
                .handle_events_with(h(1))
                .and_then()
                .pin_at_core(cpu(3))
                .handle_events_with(h(2))
                .build(),
        ),
        Shape::Diamond => Box::new(
            b.pin_at_core(cpu(1))
                .handle_events_with(h(0))
                .pin_at_core(cpu(2))
                .handle_events_with(h(1))
                .and_then()
                .pin_at_core(cpu(3))
                .handle_events_with(h(2))
                .build(),
        ),
    };
    (ShapeTx(tx), sinks)
}

fn pairs(c: &mut Criterion) {
    if allowed_cpus().len() < 2 {
        println!("multicast_1p1c: only one CPU allowed; both threads share it");
    }
    let mut t = c.benchmark_group("multicast_1p1c/throughput");
    throughput(&mut t);
    t.finish();
    let mut r = c.benchmark_group("multicast_1p1c/round_trip");
    round_trip(&mut r);
    r.finish();
}

fn main() {
    let cpus = allowed_cpus();
    println!("multicast bench: allowed CPUs {cpus:?}");
    let mut c = Criterion::default().configure_from_args();
    pairs(&mut c);
    batch(&mut c);
    publish_cost(&mut c);
    shapes(&mut c);
    c.final_summary();
}
