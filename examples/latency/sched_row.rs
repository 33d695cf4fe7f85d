//! The `corelane::sched` rows of `examples/latency.rs` (issue 12, section
//! 4), measured in the same interleaved rounds as the ring rows.
//!
//! * **Cross-core wake**: a ping-pong between a task on each of two cores
//!   (the placement plan's two CPUs), `u64` items. corelane runs the two
//!   tasks on one two-core runtime (`spawn_on`, one task per core) with
//!   each core's idle policy as named: `BusyPoll`, `Park`, or the default
//!   `Spin(50 µs)` (spin, then park). The peer is two tokio `current_thread`
//!   runtimes on two pinned threads, the same channels and task bodies
//!   (tokio's multi-thread runtime tends to run both ends on one worker, so
//!   this is its true cross-core shape); their threads park when idle.
//!   Each sample is the mean of `BATCH` round trips, timed like the ring
//!   rows, so a row's round trip compares directly with the `corelane spsc`
//!   ring row's: a round trip is two one-way trips on both sides, so the
//!   ratio of round trips is the ratio of one-way latencies.
//!
//!   Three channels, each the same on every runtime it runs on.
//!   `tokio::sync::mpsc` (capacity 1, as in `benches/sched.rs`) carries the
//!   targets: every message wakes the task on the other core, so the rows
//!   measure the runtime's cross-core wake (corelane: a push into the
//!   other core's inbox, plus its doorbell if it is parked), plus the
//!   channel's own cost. A one-value slot with an `AtomicWaker` (corelane
//!   `BusyPoll` only, no target) wakes just the same with next to no
//!   channel cost: the wake alone. corelane `spsc` rings with `send().await`
//!   / `recv().await` are shown too, without a target: an empty `recv`
//!   re-polls itself up to 32 times before it registers a waker, so while
//!   answers come back within that spin nobody is woken (the rows then
//!   measure the ring and the executors' poll loops, not a wake), and a
//!   pair of tokio threads that once parks stays in the parking regime
//!   (each side's spin is shorter than the other's futex wake): that row's
//!   figure depends on how the run started. The corelane rows print the
//!   remote wakes and parks they counted per round trip
//!   (`Runtime::stats`), which tells which regime a row ran in.
//! * **Priority isolation**: two cores, each 100% busy with
//!   [`LOW_PER_CORE`] `Low` tasks that loop on a [`CHUNK`] of CPU work
//!   then `sched::yield_if_needed().await`; one `High` task per core,
//!   woken every [`PERIOD`] two ways, one after the other on the same load:
//!   (a) *thread wake*: a plain `std` thread sends its clock over a corelane
//!   `spsc` ring (one per `High` task) every period, delay = send → the
//!   `High` task's first poll; (b) *timer*: `sleep_until` a deadline one
//!   period ahead, delay = first poll − deadline. corelane's runtime for
//!   this row has a wheel tick of [`PRIO_TICK`] (not the default 100 µs) so
//!   the timer's grain does not dominate (b), and the default quantum,
//!   [`QUANTUM`], set explicitly. The peer is tokio `multi_thread` with two
//!   workers pinned one per CPU, the same load (its `Low` tasks call
//!   `tokio::task::yield_now` after each chunk; it has one priority) and
//!   two "High" tasks, with `tokio::time::sleep_until` in (b): tokio's
//!   timer has a 1 ms grain, so (b) mostly measures that, and (a), which
//!   no timer touches, carries the targets.
//!
//! Runtimes and threads are started afresh in every round and stopped
//! before the next row runs (a `BusyPoll` core keeps its CPU at 100%).

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::task::Poll;
use std::time::{Duration, Instant};

use corelane::queue::spsc;
use corelane::sched::{self, Builder, CoreStats, Idle, Priority, Runtime};
use corelane::topology::{pin_current_thread, CpuId};
use crossbeam_utils::CachePadded;
use futures_lite::future::block_on;
use futures_util::task::AtomicWaker;
use hdrhistogram::Histogram;

use crate::rings::ROUND_TRIP_CAP;
use crate::{median, Cpus};

/// Row names: cross-core wake over `tokio::sync::mpsc` (the targets).
pub const MPSC_BUSY: &str = "tokio mpsc: corelane sched, BusyPoll";
pub const MPSC_SPIN: &str = "tokio mpsc: corelane sched, Spin(50 µs)";
pub const MPSC_PARK: &str = "tokio mpsc: corelane sched, Park";
pub const MPSC_TOKIO: &str = "tokio mpsc: tokio current_thread x2";
/// Row names: cross-core wake over corelane `spsc` rings (no target).
pub const SPSC_BUSY: &str = "corelane spsc: corelane sched, BusyPoll";
pub const SPSC_TOKIO: &str = "corelane spsc: tokio current_thread x2";
/// Row name: cross-core wake over a one-value cell (no target).
pub const SLOT_BUSY: &str = "waker slot: corelane sched, BusyPoll";
/// Row names: priority isolation (delay to the `High` task's first poll).
pub const PRIO_WAKE_CORELANE: &str = "thread wake: corelane High";
pub const PRIO_WAKE_TOKIO: &str = "thread wake: tokio multi_thread 2";
pub const PRIO_TIMER_CORELANE: &str = "timer: corelane sleep_until (tick 10 µs)";
pub const PRIO_TIMER_TOKIO: &str = "timer: tokio sleep_until (1 ms grain)";

/// `Low` tasks per core in the priority-isolation row.
pub const LOW_PER_CORE: usize = 4;
/// A `Low` task's chunk of CPU work between two yields.
pub const CHUNK: Duration = Duration::from_micros(10);
/// How often each `High` task is woken.
pub const PERIOD: Duration = Duration::from_millis(1);
/// corelane's wheel tick in the priority-isolation row.
pub const PRIO_TICK: Duration = Duration::from_micros(10);
/// corelane's quantum in the priority-isolation row (the default, set
/// explicitly): the bound of the `High` p99 target.
pub const QUANTUM: Duration = Duration::from_micros(50);
/// Low load running before the first `High` wake of a round.
const SETTLE: Duration = Duration::from_millis(10);
/// Capacity of each `High` task's wake ring (a run never fills it).
const WAKE_RING_CAP: usize = 1024;

/// How much one round measures.
#[derive(Clone, Copy)]
pub struct Sizes {
    /// Timed batches of the `BusyPoll` wake rows.
    pub busy_samples: usize,
    /// Timed batches of the rows whose receivers may park (tens of µs a
    /// round trip under KVM): `Spin`, `Park`, tokio.
    pub park_samples: usize,
    /// Wakes per `High` task and variant of the priority-isolation row.
    pub prio_wakes: usize,
}

/// Untimed round trips before a wake row's timed batches: `BusyPoll`, and
/// the rows that may park.
const BUSY_WARMUP: u64 = 1000;
const PARK_WARMUP: u64 = 100;

/// A cross-core wake row across rounds.
pub struct WakeRow {
    pub name: &'static str,
    /// The tokio row of the same channel (its own name for a tokio row),
    /// if there is one.
    pub peer: Option<&'static str>,
    /// Per-round median, ns per round trip.
    pub rtt_med: Vec<f64>,
    /// Every sample (ns per round trip, batches of `BATCH`).
    pub rtt_all: Vec<f64>,
    /// corelane rows: per round, remote wakes and parks per round trip.
    pub per_rt: Vec<(f64, f64)>,
}

impl WakeRow {
    /// Median of the per-round medians, ns per round trip.
    pub fn p50(&self) -> f64 {
        median(&self.rtt_med)
    }

    /// Medians over the rounds of the remote wakes and parks per round
    /// trip; `None` for a tokio row.
    pub fn per_rt(&self) -> Option<(f64, f64)> {
        if self.per_rt.is_empty() {
            return None;
        }
        let (w, p): (Vec<f64>, Vec<f64>) = self.per_rt.iter().copied().unzip();
        Some((median(&w), median(&p)))
    }
}

/// A priority-isolation row across rounds.
pub struct PrioRow {
    pub name: &'static str,
    /// Every round's delays, ns.
    pub hist: Histogram<u64>,
    /// Per-round median delay, ns.
    pub p50s: Vec<f64>,
    /// Per-round `Low` chunks completed per second (both cores), while
    /// the `High` tasks ran: the load was there.
    pub low_rate: Vec<f64>,
}

impl PrioRow {
    /// Median of the per-round medians, ns.
    pub fn p50(&self) -> f64 {
        median(&self.p50s)
    }

    /// The 99th percentile over every round's samples, ns.
    pub fn p99(&self) -> f64 {
        self.hist.value_at_quantile(0.99) as f64
    }
}

/// Every sched row of a run.
pub struct SchedRows {
    pub wake: Vec<WakeRow>,
    pub prio: Vec<PrioRow>,
}

/// A wake row's run: `(cpus, warm-up round trips, samples, batch)`.
type WakeRun = fn(Cpus, u64, usize, usize) -> WakeOut;

/// One wake row: its name, its tokio peer's, how to run it, and whether
/// its receivers may park (fewer samples).
struct WakeImpl {
    name: &'static str,
    peer: Option<&'static str>,
    run: WakeRun,
    parks: bool,
}

/// The wake rows, in run (and print) order.
#[rustfmt::skip]
fn wake_table() -> [WakeImpl; 7] {
    const SPIN: Idle = Idle::Spin(Duration::from_micros(50));
    let row = |name, peer, run, parks| WakeImpl {
        name,
        peer,
        run,
        parks,
    };
    [
        row(MPSC_BUSY, Some(MPSC_TOKIO), |c, w, s, b| wake_corelane::<TokioMpsc>(c, Idle::BusyPoll, w, s, b), false),
        row(MPSC_SPIN, Some(MPSC_TOKIO), |c, w, s, b| wake_corelane::<TokioMpsc>(c, SPIN, w, s, b), true),
        row(MPSC_PARK, Some(MPSC_TOKIO), |c, w, s, b| wake_corelane::<TokioMpsc>(c, Idle::Park, w, s, b), true),
        row(MPSC_TOKIO, Some(MPSC_TOKIO), wake_tokio::<TokioMpsc>, true),
        row(SPSC_BUSY, Some(SPSC_TOKIO), |c, w, s, b| wake_corelane::<Spsc>(c, Idle::BusyPoll, w, s, b), false),
        row(SPSC_TOKIO, Some(SPSC_TOKIO), wake_tokio::<Spsc>, true),
        row(SLOT_BUSY, None, |c, w, s, b| wake_corelane::<Slot>(c, Idle::BusyPoll, w, s, b), false),
    ]
}

impl SchedRows {
    pub fn new() -> Self {
        let wake = wake_table()
            .map(|w| WakeRow {
                name: w.name,
                peer: w.peer,
                rtt_med: Vec::new(),
                rtt_all: Vec::new(),
                per_rt: Vec::new(),
            })
            .into();
        let prio = [
            PRIO_WAKE_CORELANE,
            PRIO_WAKE_TOKIO,
            PRIO_TIMER_CORELANE,
            PRIO_TIMER_TOKIO,
        ]
        .map(|name| PrioRow {
            name,
            hist: new_hist(),
            p50s: Vec::new(),
            low_rate: Vec::new(),
        })
        .into();
        SchedRows { wake, prio }
    }

    pub fn wake(&self, name: &str) -> &WakeRow {
        let row = self.wake.iter().find(|r| r.name == name);
        row.unwrap_or_else(|| panic!("no sched wake row named {name:?}"))
    }

    pub fn prio(&self, name: &str) -> &PrioRow {
        let row = self.prio.iter().find(|r| r.name == name);
        row.unwrap_or_else(|| panic!("no priority-isolation row named {name:?}"))
    }

    fn prio_mut(&mut self, name: &str) -> &mut PrioRow {
        let row = self.prio.iter_mut().find(|r| r.name == name);
        row.unwrap_or_else(|| panic!("no priority-isolation row named {name:?}"))
    }

    /// Starts every wake row's runtime and threads once, untimed.
    pub fn warm_up(cpus: Cpus) {
        for w in wake_table() {
            (w.run)(cpus, PARK_WARMUP, 1, 1);
        }
    }

    /// One round: every wake row, then the priority-isolation rows
    /// (corelane, then tokio).
    pub fn run_round(&mut self, cpus: Cpus, sizes: &Sizes, batch: usize) {
        for (w, row) in wake_table().into_iter().zip(&mut self.wake) {
            let (warmup, samples) = if w.parks {
                (PARK_WARMUP, sizes.park_samples)
            } else {
                (BUSY_WARMUP, sizes.busy_samples)
            };
            let out = (w.run)(cpus, warmup, samples, batch);
            row.rtt_med.push(median(&out.samples));
            row.rtt_all.extend(out.samples);
            row.per_rt.extend(out.per_rt);
        }
        let c = prio_corelane(cpus, sizes.prio_wakes);
        self.add_prio(PRIO_WAKE_CORELANE, PRIO_TIMER_CORELANE, c);
        let t = prio_tokio(cpus, sizes.prio_wakes);
        self.add_prio(PRIO_WAKE_TOKIO, PRIO_TIMER_TOKIO, t);
    }

    fn add_prio(&mut self, wake: &str, timer: &str, r: PrioRound) {
        for (name, h) in [(wake, &r.wake), (timer, &r.timer)] {
            let row = self.prio_mut(name);
            row.hist.add(h).expect("same histogram bounds");
            row.p50s.push(h.value_at_quantile(0.5) as f64);
            row.low_rate.push(r.low_rate);
        }
    }
}

fn pin(cpu: Option<CpuId>) {
    if let Some(c) = cpu {
        pin_current_thread(c).expect("pin benchmark thread");
    }
}

/// A two-core corelane runtime on the plan's two CPUs (core 0 on `cpus.0`),
/// configured further by `f`; unpinned on CPUs 0 and 1 without a plan.
fn corelane_rt(cpus: Cpus, f: impl FnOnce(Builder) -> Builder) -> Runtime {
    let b = match cpus {
        Some((a, b)) => Runtime::builder().cores([a, b]),
        None => Runtime::builder().cores([0u32, 1]).pin(false),
    };
    f(b).build()
        .unwrap_or_else(|e| panic!("corelane sched runtime on {cpus:?}: {e}"))
}

// ----- cross-core wake ---------------------------------------------------------

/// A channel of the ping-pong, the same on every runtime.
trait Chan: 'static {
    type Tx: Send + 'static;
    type Rx: Send + 'static;
    fn pair() -> (Self::Tx, Self::Rx);
    /// False once the receiver is gone.
    fn send(tx: &mut Self::Tx, v: u64) -> impl Future<Output = bool> + Send + '_;
    /// `None` once the sender is gone and the channel drained.
    fn recv(rx: &mut Self::Rx) -> impl Future<Output = Option<u64>> + Send + '_;
}

/// `tokio::sync::mpsc`, capacity 1 (as in `benches/sched.rs`): every
/// receive that finds it empty registers the task's waker, every send to a
/// waiting task wakes it.
struct TokioMpsc;

impl Chan for TokioMpsc {
    type Tx = tokio::sync::mpsc::Sender<u64>;
    type Rx = tokio::sync::mpsc::Receiver<u64>;
    fn pair() -> (Self::Tx, Self::Rx) {
        tokio::sync::mpsc::channel(1)
    }
    async fn send(tx: &mut Self::Tx, v: u64) -> bool {
        tx.send(v).await.is_ok()
    }
    fn recv(rx: &mut Self::Rx) -> impl Future<Output = Option<u64>> + Send + '_ {
        rx.recv()
    }
}

/// corelane `spsc` rings of [`ROUND_TRIP_CAP`], `send().await` /
/// `recv().await`. A receive that finds the ring empty re-polls itself (a
/// self-wake, up to 32 times) before it registers its waker: a ping-pong
/// whose answers come back within that spin never wakes anyone.
struct Spsc;

impl Chan for Spsc {
    type Tx = spsc::Producer<u64>;
    type Rx = spsc::Consumer<u64>;
    fn pair() -> (Self::Tx, Self::Rx) {
        spsc::channel(ROUND_TRIP_CAP)
    }
    async fn send(tx: &mut Self::Tx, v: u64) -> bool {
        tx.send(v).await.is_ok()
    }
    async fn recv(rx: &mut Self::Rx) -> Option<u64> {
        rx.recv().await.ok()
    }
}

/// A one-value cell and an `AtomicWaker` (futures'): about the least a
/// channel can do, with no queue and no spin. A receive that finds it
/// empty registers its waker, a send wakes it: a ping-pong over it is
/// two runtime wakes and little else. One value in flight at a time (the
/// ping-pong's); dropping the sender closes it.
struct Slot;

const SLOT_EMPTY: u64 = 0;
const SLOT_CLOSED: u64 = u64::MAX;

struct SlotShared {
    /// `SLOT_EMPTY`, `SLOT_CLOSED`, or a value plus one.
    val: CachePadded<AtomicU64>,
    waker: AtomicWaker,
}

struct SlotTx(Arc<SlotShared>);

impl Drop for SlotTx {
    fn drop(&mut self) {
        self.0.val.store(SLOT_CLOSED, Ordering::Release);
        self.0.waker.wake();
    }
}

impl Chan for Slot {
    type Tx = SlotTx;
    type Rx = Arc<SlotShared>;
    fn pair() -> (Self::Tx, Self::Rx) {
        let shared = Arc::new(SlotShared {
            val: CachePadded::new(AtomicU64::new(SLOT_EMPTY)),
            waker: AtomicWaker::new(),
        });
        (SlotTx(shared.clone()), shared)
    }
    async fn send(tx: &mut Self::Tx, v: u64) -> bool {
        debug_assert_eq!(tx.0.val.load(Ordering::Relaxed), SLOT_EMPTY);
        tx.0.val.store(v + 1, Ordering::Release);
        tx.0.waker.wake();
        true
    }
    async fn recv(rx: &mut Self::Rx) -> Option<u64> {
        let take = || match rx.val.swap(SLOT_EMPTY, Ordering::Acquire) {
            SLOT_EMPTY => None,
            SLOT_CLOSED => Some(None),
            v => Some(Some(v - 1)),
        };
        std::future::poll_fn(|cx| {
            if let Some(r) = take() {
                return Poll::Ready(r);
            }
            // Register, then look again: a send in between either is seen
            // now or wakes the registered waker (AtomicWaker's contract).
            rx.waker.register(cx.waker());
            match take() {
                Some(r) => Poll::Ready(r),
                None => Poll::Pending,
            }
        })
        .await
    }
}

/// The echo end: sends back every value until the ping channel is closed.
async fn echo<C: Chan>(mut ping: C::Rx, mut pong: C::Tx) {
    while let Some(v) = C::recv(&mut ping).await {
        assert!(C::send(&mut pong, v).await, "pinger alive");
    }
}

/// One round trip: send `i`, await its echo.
async fn round_trip<C: Chan>(ping: &mut C::Tx, pong: &mut C::Rx, i: u64) {
    assert!(C::send(ping, i).await, "echo alive");
    assert_eq!(C::recv(pong).await, Some(i), "echo");
}

/// The timed end: `warmup` untimed round trips, then `samples` batches of
/// `batch`; returns the mean ns per round trip of each batch. Dropping
/// `ping` at the end stops [`echo`].
async fn pinger<C: Chan>(
    mut ping: C::Tx,
    mut pong: C::Rx,
    warmup: u64,
    samples: usize,
    batch: usize,
) -> Vec<f64> {
    let mut i = 0;
    while i < warmup {
        round_trip::<C>(&mut ping, &mut pong, i).await;
        i += 1;
    }
    let mut out = Vec::with_capacity(samples);
    for _ in 0..samples {
        let t0 = Instant::now();
        for _ in 0..batch {
            round_trip::<C>(&mut ping, &mut pong, i).await;
            i += 1;
        }
        out.push(t0.elapsed().as_nanos() as f64 / batch as f64);
    }
    out
}

/// What one run of a wake row gives.
struct WakeOut {
    /// ns per round trip of each timed batch.
    samples: Vec<f64>,
    /// corelane only: remote wakes and parks, summed over both cores, per
    /// round trip (warm-up included).
    per_rt: Option<(f64, f64)>,
}

/// The ping-pong on one two-core corelane runtime: the pinger on core 0,
/// the echo on core 1, both cores idling per `idle`.
fn wake_corelane<C: Chan>(
    cpus: Cpus,
    idle: Idle,
    warmup: u64,
    samples: usize,
    batch: usize,
) -> WakeOut {
    let rt = corelane_rt(cpus, |b| b.idle(idle));
    let (ping_tx, ping_rx) = C::pair();
    let (pong_tx, pong_rx) = C::pair();
    let e = rt.spawn_on(1, Priority::Normal, echo::<C>(ping_rx, pong_tx));
    let p = rt.spawn_on(
        0,
        Priority::Normal,
        pinger::<C>(ping_tx, pong_rx, warmup, samples, batch),
    );
    let samples = block_on(p).expect("pinger task");
    block_on(e).expect("echo task");
    // A core publishes its counters every millisecond and when it parks.
    std::thread::sleep(Duration::from_millis(3));
    let stats = rt.stats();
    let round_trips = (warmup + (samples.len() * batch) as u64) as f64;
    let sum = |f: fn(&CoreStats) -> u64| stats.cores.iter().map(f).sum::<u64>() as f64;
    let per_rt = Some((
        sum(|c| c.remote_wakes) / round_trips,
        sum(|c| c.parks) / round_trips,
    ));
    rt.shutdown(Duration::from_secs(10))
        .expect("corelane runtime shutdown");
    WakeOut { samples, per_rt }
}

/// The same ping-pong on two tokio `current_thread` runtimes, each built
/// on its own thread (the pinger's pinned to `cpus.0`, the echo's to
/// `cpus.1`), started together.
fn wake_tokio<C: Chan>(cpus: Cpus, warmup: u64, samples: usize, batch: usize) -> WakeOut {
    let (ping_tx, ping_rx) = C::pair();
    let (pong_tx, pong_rx) = C::pair();
    let start = Arc::new(Barrier::new(2));
    fn on<T: Send + 'static>(
        cpu: Option<CpuId>,
        start: Arc<Barrier>,
        f: impl Future<Output = T> + Send + 'static,
    ) -> std::thread::JoinHandle<T> {
        std::thread::spawn(move || {
            pin(cpu);
            let rt = tokio::runtime::Builder::new_current_thread()
                .build()
                .expect("tokio runtime");
            start.wait();
            rt.block_on(f)
        })
    }
    let e = on(
        cpus.map(|c| c.1),
        start.clone(),
        echo::<C>(ping_rx, pong_tx),
    );
    let p = on(
        cpus.map(|c| c.0),
        start,
        pinger::<C>(ping_tx, pong_rx, warmup, samples, batch),
    );
    let samples = p.join().expect("pinger thread");
    e.join().expect("echo thread");
    WakeOut {
        samples,
        per_rt: None,
    }
}

// ----- priority isolation --------------------------------------------------------

fn new_hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 10_000_000_000, 3).expect("histogram bounds")
}

fn record(h: &mut Histogram<u64>, d: Duration) {
    h.saturating_record(d.as_nanos().clamp(1, u128::from(u64::MAX)) as u64);
}

/// Busy-waits `d`: a `Low` task's chunk of work.
fn spin_for(d: Duration) {
    let t0 = Instant::now();
    while t0.elapsed() < d {
        std::hint::spin_loop();
    }
}

/// A `Low` task: chunks of work, each followed by `yield_`, until `stop`.
async fn low<Y, Fut>(stop: Arc<AtomicBool>, chunks: Arc<AtomicU64>, yield_: Y)
where
    Y: Fn() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    while !stop.load(Ordering::Relaxed) {
        spin_for(CHUNK);
        chunks.fetch_add(1, Ordering::Relaxed);
        yield_().await;
    }
}

/// The `High` task of the thread-wake variant: for each send time
/// received, records send → this (first) poll.
async fn high_woken(mut rx: spsc::Consumer<Instant>) -> Histogram<u64> {
    let mut h = new_hist();
    while let Ok(sent) = rx.recv().await {
        record(&mut h, sent.elapsed());
    }
    h
}

/// The `High` task of the timer variant: `wakes` sleeps until a deadline
/// one period ahead, each recording first poll − deadline.
async fn high_timer<S, Fut>(wakes: usize, sleep_until: S) -> Histogram<u64>
where
    S: Fn(Instant) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut h = new_hist();
    for _ in 0..wakes {
        let deadline = Instant::now() + PERIOD;
        sleep_until(deadline).await;
        record(&mut h, deadline.elapsed());
    }
    h
}

/// Two wake rings (one per `High` task) and the plain thread that, after
/// [`SETTLE`], pushes its clock into each every [`PERIOD`], `wakes` times,
/// then closes them. Spawned from the unpinned main thread: it may run on
/// either CPU (it preempts a runtime thread for a moment each period, on
/// both runtimes alike).
fn waker_thread(wakes: usize) -> (Vec<spsc::Consumer<Instant>>, std::thread::JoinHandle<()>) {
    assert!(wakes <= WAKE_RING_CAP, "a wake ring would fill");
    let (mut txs, rxs): (Vec<_>, Vec<_>) = (0..2)
        .map(|_| spsc::channel::<Instant>(WAKE_RING_CAP))
        .unzip();
    let t = std::thread::spawn(move || {
        std::thread::sleep(SETTLE);
        for _ in 0..wakes {
            std::thread::sleep(PERIOD);
            for tx in &mut txs {
                tx.push(Instant::now())
                    .expect("High task alive, ring not full");
            }
        }
    });
    (rxs, t)
}

/// One runtime's figures from one round.
struct PrioRound {
    wake: Histogram<u64>,
    timer: Histogram<u64>,
    low_rate: f64,
}

fn merge(hs: impl IntoIterator<Item = Histogram<u64>>) -> Histogram<u64> {
    let mut all = new_hist();
    for h in hs {
        all.add(&h).expect("same histogram bounds");
    }
    all
}

fn prio_corelane(cpus: Cpus, wakes: usize) -> PrioRound {
    let rt = corelane_rt(cpus, |b| b.tick(PRIO_TICK).quantum(QUANTUM));
    let stop = Arc::new(AtomicBool::new(false));
    let chunks = Arc::new(AtomicU64::new(0));
    let mut lows = Vec::new();
    for core in 0..rt.cores() {
        for _ in 0..LOW_PER_CORE {
            let task = low(stop.clone(), chunks.clone(), sched::yield_if_needed);
            lows.push(rt.spawn_on(core, Priority::Low, task));
        }
    }
    let (rxs, waker) = waker_thread(wakes);
    let t0 = Instant::now();
    let c0 = chunks.load(Ordering::Relaxed);
    let highs: Vec<_> = rxs
        .into_iter()
        .enumerate()
        .map(|(core, rx)| rt.spawn_on(core, Priority::High, high_woken(rx)))
        .collect();
    let wake = merge(highs.into_iter().map(|h| block_on(h).expect("High task")));
    waker.join().expect("waker thread");
    let highs: Vec<_> = (0..rt.cores())
        .map(|core| rt.spawn_on(core, Priority::High, high_timer(wakes, sched::sleep_until)))
        .collect();
    let timer = merge(highs.into_iter().map(|h| block_on(h).expect("High task")));
    let low_rate = (chunks.load(Ordering::Relaxed) - c0) as f64 / t0.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for l in lows {
        block_on(l).expect("Low task");
    }
    rt.shutdown(Duration::from_secs(10))
        .expect("corelane runtime shutdown");
    PrioRound {
        wake,
        timer,
        low_rate,
    }
}

/// tokio `multi_thread`, two workers pinned one per CPU, timer on.
fn tokio_two_workers(cpus: Cpus) -> tokio::runtime::Runtime {
    let next = AtomicU64::new(0);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .on_thread_start(move || {
            // The workers start first; later (blocking) threads stay unpinned.
            if let Some((a, b)) = cpus {
                match next.fetch_add(1, Ordering::Relaxed) {
                    0 => pin(Some(a)),
                    1 => pin(Some(b)),
                    _ => {}
                }
            }
        })
        .build()
        .expect("tokio multi_thread runtime")
}

fn prio_tokio(cpus: Cpus, wakes: usize) -> PrioRound {
    let rt = tokio_two_workers(cpus);
    let (rxs, waker) = waker_thread(wakes);
    // Everything runs in a root task on the workers; the caller only waits.
    let r = rt.block_on(async move {
        tokio::spawn(async move {
            let stop = Arc::new(AtomicBool::new(false));
            let chunks = Arc::new(AtomicU64::new(0));
            let lows: Vec<_> = (0..2 * LOW_PER_CORE)
                .map(|_| {
                    let task = low(stop.clone(), chunks.clone(), tokio::task::yield_now);
                    tokio::spawn(task)
                })
                .collect();
            let t0 = Instant::now();
            let c0 = chunks.load(Ordering::Relaxed);
            let highs: Vec<_> = rxs
                .into_iter()
                .map(|rx| tokio::spawn(high_woken(rx)))
                .collect();
            let mut hs = Vec::new();
            for h in highs {
                hs.push(h.await.expect("High task"));
            }
            let wake = merge(hs);
            let highs: Vec<_> = (0..2)
                .map(|_| {
                    tokio::spawn(high_timer(wakes, |t| {
                        tokio::time::sleep_until(tokio::time::Instant::from_std(t))
                    }))
                })
                .collect();
            let mut hs = Vec::new();
            for h in highs {
                hs.push(h.await.expect("High task"));
            }
            let timer = merge(hs);
            let low_rate =
                (chunks.load(Ordering::Relaxed) - c0) as f64 / t0.elapsed().as_secs_f64();
            stop.store(true, Ordering::Relaxed);
            for l in lows {
                l.await.expect("Low task");
            }
            PrioRound {
                wake,
                timer,
                low_rate,
            }
        })
        .await
        .expect("root task")
    });
    waker.join().expect("waker thread");
    r
}
