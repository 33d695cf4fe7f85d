//! Scheduler benchmarks (issue 12, section 4): `corelane::sched` beside
//! tokio (`current_thread`; `multi_thread` with 2 workers), async-executor
//! (`LocalExecutor`; `Executor` run by one thread), glommio 0.9 and monoio
//! 0.2 (io_uring driver), on the same task bodies.
//!
//! `cargo bench --bench sched` (criterion; compare rows within one group
//! only; about 2 minutes). `SCHED_BENCH_QUICK=1` shrinks every case and the
//! default warm-up and measurement times (criterion's `--warm-up-time` and
//! `--measurement-time` still override them); `cargo test --bench sched`
//! runs the quick configuration once through. `SCHED_PRIO_LOW_TASKS` (per
//! core, default 4) and `SCHED_PRIO_CHUNK_US` (default 10) set the Low load
//! of `priority_isolation`.
//!
//! Cases (every runtime runs the same task bodies; only the spawn, join and
//! yield calls differ, through the `Rt` trait below):
//! - `spawn_many`: one task spawns N tasks, then joins them all in order.
//! - `yield_many`: N tasks each yield M times; the root joins them.
//! - `chained_spawn`: each task spawns the next (depth D), the last one
//!   signals the root over a `tokio::sync::oneshot`.
//! - `ping_pong_local`: two tasks on one core, one round trip per
//!   iteration over two `tokio::sync::mpsc` channels of capacity 1.
//! - `ping_pong_cross_core`: the same bodies on two pinned cores: corelane
//!   (echo on core 1 by `spawn_on`, default idle and `Idle::BusyPoll`),
//!   tokio `multi_thread` (2 workers, pinned; tokio may run both ends on
//!   one worker), and pairs of single-thread runtimes on two pinned threads
//!   (tokio `current_thread`, async-executor, glommio, monoio), beside the
//!   raw cache-line round trip (the floor) measured in the same run.
//! - `skewed_load`: all work produced on one core: the root spawns N small
//!   CPU-bound tasks and joins them (corelane with stealing on and off,
//!   tokio `multi_thread`, and tokio `current_thread` as the one-core line).
//! - `priority_isolation` (printed, not criterion): every core busy with
//!   `Low` tasks that loop on a 10 µs chunk of work and `yield_if_needed`
//!   (tokio: `yield_now`, its only priority); a `High` task woken every
//!   millisecond, (a) by a plain thread sending the send time over a
//!   `tokio::sync::mpsc` (wake → first poll) and (b) by its runtime's own
//!   sleep (lateness past the deadline, which includes the timer's grain:
//!   1 ms for tokio). p50/p99 from `hdrhistogram`, runtimes interleaved
//!   round by round (corelane, tokio current_thread, tokio multi_thread).
//!
//! Every runtime runs on the first two CPUs of the process mask (read once,
//! before anything is pinned); single-thread runtimes run on a thread of
//! their own pinned to the first one. Criterion runs the rows of a group
//! one after another, not interleaved: ratios count only from one run, and
//! only when they differ by more than the spread (see
//! `../shared/BENCHMARKING.md`). The cache-line floor is printed before and
//! after the run: if it reads above 150 ns the host was disturbed.
//!
//! Peers: everything named here builds and runs on the 2-vCPU Linux 6.18
//! machines. glommio refuses to start when `RLIMIT_MEMLOCK` is below
//! 512 KiB (`ulimit -l` is 8 MiB here); where it cannot start, its rows are
//! skipped with the error printed. monoio needs its `sync` feature: without
//! it a task woken from another thread is never polled again (the
//! cross-core rows hang).

use std::any::Any;
use std::future::Future;
use std::hint::black_box;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::thread;
use std::time::{Duration, Instant};

use corelane::topology::{self, CpuId};
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput};
use crossbeam_utils::CachePadded;
use hdrhistogram::Histogram;
use tokio::sync::{mpsc, oneshot};

use corelane::sched::{self, Idle, Priority};

// ---------------------------------------------------------------------------
// Configuration

/// Sizes and times of one run.
#[derive(Clone, Copy, Debug)]
struct Cfg {
    spawn_n: usize,
    yield_tasks: usize,
    yield_each: usize,
    chain_depth: u32,
    skew_n: usize,
    /// xorshift rounds per skewed-load task (about 1 ns each).
    skew_work: u32,
    warm_up: Duration,
    measure: Duration,
    prio_rounds: usize,
    prio_wakes: usize,
    low_per_core: usize,
    low_chunk: Duration,
}

impl Cfg {
    fn new(quick: bool) -> Cfg {
        if quick {
            Cfg {
                spawn_n: 1_000,
                yield_tasks: 100,
                yield_each: 10,
                chain_depth: 100,
                skew_n: 100,
                skew_work: 2_000,
                warm_up: Duration::from_millis(100),
                measure: Duration::from_millis(200),
                prio_rounds: 1,
                prio_wakes: 50,
                low_per_core: 4,
                low_chunk: Duration::from_micros(10),
            }
        } else {
            Cfg {
                spawn_n: 10_000,
                yield_tasks: 1_000,
                yield_each: 100,
                chain_depth: 1_000,
                skew_n: 1_000,
                skew_work: 2_000,
                warm_up: Duration::from_millis(500),
                measure: Duration::from_millis(1_500),
                prio_rounds: 3,
                prio_wakes: 200,
                low_per_core: 4,
                low_chunk: Duration::from_micros(10),
            }
        }
    }
}

/// What the command line asks for, as far as the printed parts care.
struct Cli {
    /// `--bench` was passed (cargo bench); without it criterion runs each
    /// benchmark once (cargo test --benches).
    bench: bool,
    list: bool,
    filter: Option<String>,
}

impl Cli {
    fn parse() -> Cli {
        // Criterion's options that take a value: their value is not a filter.
        const VALUED: &[&str] = &[
            "--save-baseline",
            "-s",
            "--baseline",
            "-b",
            "--baseline-lenient",
            "--load-baseline",
            "--sample-size",
            "--warm-up-time",
            "--measurement-time",
            "--nresamples",
            "--noise-threshold",
            "--confidence-level",
            "--significance-level",
            "--profile-time",
            "--output-format",
            "--format",
            "--color",
            "-c",
            "--plotting-backend",
        ];
        let args: Vec<String> = std::env::args().skip(1).collect();
        let mut cli = Cli {
            bench: false,
            list: false,
            filter: None,
        };
        let mut i = 0;
        while i < args.len() {
            let a = args[i].as_str();
            if a == "--bench" {
                cli.bench = true;
            } else if a == "--list" {
                cli.list = true;
            } else if VALUED.contains(&a) {
                i += 1;
            } else if !a.starts_with('-') && cli.filter.is_none() {
                cli.filter = Some(a.to_owned());
            }
            i += 1;
        }
        cli
    }

    /// Whether a filter leaves `name` in (a plain substring test, either
    /// way round; criterion's own filter is a regex).
    fn wants(&self, name: &str) -> bool {
        match &self.filter {
            None => true,
            Some(f) => name.contains(f.as_str()) || f.contains(name),
        }
    }
}

// ---------------------------------------------------------------------------
// The runtimes, as the task bodies see them

/// What a task body may ask of the runtime it runs on: spawn (here or
/// anywhere the runtime likes), detach, yield. Every implementation calls
/// the runtime's own functions; nothing is boxed.
trait Rt: Copy + Send + Sync + Unpin + 'static {
    /// Spawns `f` where the runtime puts new tasks; the future joins it.
    fn spawn<F>(self, f: F) -> impl Future<Output = u64>
    where
        F: Future<Output = u64> + Send + 'static;

    /// Spawns `f` and drops its handle without cancelling it.
    fn spawn_detached<F>(self, f: F)
    where
        F: Future<Output = ()> + Send + 'static;

    /// Spawns `f` on the calling task's core (the same as `spawn` on a
    /// one-thread runtime).
    fn spawn_here<F>(self, f: F) -> impl Future<Output = u64>
    where
        F: Future<Output = u64> + Send + 'static,
    {
        self.spawn(f)
    }

    /// The runtime's own unconditional yield.
    fn yield_now(self) -> impl Future<Output = ()> + Send;
}

/// A join handle whose output is a `Result`, unwrapped (tokio, corelane).
struct Unwrap<H>(H);

impl<H, E> Future for Unwrap<H>
where
    H: Future<Output = Result<u64, E>> + Unpin,
    E: std::fmt::Debug,
{
    type Output = u64;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u64> {
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|r| r.expect("benchmark task failed"))
    }
}

/// corelane::sched: `Normal` tasks, `sched::spawn` (stealable) and
/// `sched::spawn_local` for `spawn_here`.
#[derive(Clone, Copy)]
struct Corelane;

impl Rt for Corelane {
    fn spawn<F>(self, f: F) -> impl Future<Output = u64>
    where
        F: Future<Output = u64> + Send + 'static,
    {
        Unwrap(sched::spawn(Priority::Normal, f))
    }
    fn spawn_detached<F>(self, f: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        drop(sched::spawn(Priority::Normal, f));
    }
    fn spawn_here<F>(self, f: F) -> impl Future<Output = u64>
    where
        F: Future<Output = u64> + Send + 'static,
    {
        Unwrap(sched::spawn_local(Priority::Normal, f))
    }
    fn yield_now(self) -> impl Future<Output = ()> + Send {
        sched::yield_now()
    }
}

/// tokio, either flavour (`tokio::spawn` on the current runtime).
#[derive(Clone, Copy)]
struct Tokio;

impl Rt for Tokio {
    fn spawn<F>(self, f: F) -> impl Future<Output = u64>
    where
        F: Future<Output = u64> + Send + 'static,
    {
        Unwrap(tokio::spawn(f))
    }
    fn spawn_detached<F>(self, f: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        drop(tokio::spawn(f));
    }
    fn yield_now(self) -> impl Future<Output = ()> + Send {
        tokio::task::yield_now()
    }
}

thread_local! {
    /// The `LocalExecutor` of each thread that runs [`AeLocal`].
    static AE_LOCAL: async_executor::LocalExecutor<'static> =
        const { async_executor::LocalExecutor::new() };
}

/// The one `Executor` that [`AeExec`] spawns on (run by one thread).
static AE_EXEC: async_executor::Executor<'static> = async_executor::Executor::new();

/// async-executor's `LocalExecutor` (smol's single-thread executor).
#[derive(Clone, Copy)]
struct AeLocal;

impl Rt for AeLocal {
    fn spawn<F>(self, f: F) -> impl Future<Output = u64>
    where
        F: Future<Output = u64> + Send + 'static,
    {
        AE_LOCAL.with(|ex| ex.spawn(f))
    }
    fn spawn_detached<F>(self, f: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        AE_LOCAL.with(|ex| ex.spawn(f).detach());
    }
    fn yield_now(self) -> impl Future<Output = ()> + Send {
        futures_lite::future::yield_now()
    }
}

/// async-executor's work-stealing `Executor`, run by one thread.
#[derive(Clone, Copy)]
struct AeExec;

impl Rt for AeExec {
    fn spawn<F>(self, f: F) -> impl Future<Output = u64>
    where
        F: Future<Output = u64> + Send + 'static,
    {
        AE_EXEC.spawn(f)
    }
    fn spawn_detached<F>(self, f: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        AE_EXEC.spawn(f).detach();
    }
    fn yield_now(self) -> impl Future<Output = ()> + Send {
        futures_lite::future::yield_now()
    }
}

/// glommio's `LocalExecutor` (`spawn_local`; its own `yield_now` is
/// futures-lite's).
#[derive(Clone, Copy)]
struct Glommio;

impl Rt for Glommio {
    fn spawn<F>(self, f: F) -> impl Future<Output = u64>
    where
        F: Future<Output = u64> + Send + 'static,
    {
        glommio::spawn_local(f)
    }
    fn spawn_detached<F>(self, f: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        drop(glommio::spawn_local(f).detach());
    }
    fn yield_now(self) -> impl Future<Output = ()> + Send {
        futures_lite::future::yield_now()
    }
}

/// monoio with its io_uring driver (it has no yield of its own).
#[derive(Clone, Copy)]
struct Monoio;

impl Rt for Monoio {
    fn spawn<F>(self, f: F) -> impl Future<Output = u64>
    where
        F: Future<Output = u64> + Send + 'static,
    {
        monoio::spawn(f)
    }
    fn spawn_detached<F>(self, f: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        drop(monoio::spawn(f));
    }
    fn yield_now(self) -> impl Future<Output = ()> + Send {
        futures_lite::future::yield_now()
    }
}

/// A runtime that one thread builds for itself and runs (all the peers
/// but tokio `multi_thread`).
trait ThreadRt: Rt {
    const NAME: &'static str;
    /// Builds the runtime on the calling (already pinned) thread and runs
    /// `fut` on it to completion.
    fn block_on_here<Fut: Future<Output = ()> + 'static>(fut: Fut) -> Result<(), String>;
}

impl ThreadRt for Tokio {
    const NAME: &'static str = "tokio current_thread";
    fn block_on_here<Fut: Future<Output = ()> + 'static>(fut: Fut) -> Result<(), String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(fut);
        Ok(())
    }
}

impl ThreadRt for AeLocal {
    const NAME: &'static str = "async-executor LocalExecutor";
    fn block_on_here<Fut: Future<Output = ()> + 'static>(fut: Fut) -> Result<(), String> {
        AE_LOCAL.with(|ex| futures_lite::future::block_on(ex.run(fut)));
        Ok(())
    }
}

impl ThreadRt for AeExec {
    const NAME: &'static str = "async-executor Executor";
    fn block_on_here<Fut: Future<Output = ()> + 'static>(fut: Fut) -> Result<(), String> {
        futures_lite::future::block_on(AE_EXEC.run(fut));
        Ok(())
    }
}

impl ThreadRt for Glommio {
    const NAME: &'static str = "glommio";
    fn block_on_here<Fut: Future<Output = ()> + 'static>(fut: Fut) -> Result<(), String> {
        // Unbound: the thread is already pinned by `Worker::start`.
        let ex = glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
            .make()
            .map_err(|e| e.to_string())?;
        ex.run(fut);
        Ok(())
    }
}

impl ThreadRt for Monoio {
    const NAME: &'static str = "monoio (io_uring)";
    fn block_on_here<Fut: Future<Output = ()> + 'static>(fut: Fut) -> Result<(), String> {
        let mut rt = monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
            .enable_timer()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(fut);
        Ok(())
    }
}

type Out = Box<dyn Any + Send>;
type Job = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = Out>>> + Send>;

/// A thread pinned to one CPU running one single-thread runtime `R`, which
/// runs the jobs sent to it one at a time (as tasks' root futures); the
/// caller blocks outside the runtime, so only the job's own timing counts.
struct Worker<R: ThreadRt> {
    cmd: Option<mpsc::UnboundedSender<Job>>,
    res: std::sync::mpsc::Receiver<Out>,
    thread: Option<thread::JoinHandle<Result<(), String>>>,
    _rt: PhantomData<R>,
}

impl<R: ThreadRt> Worker<R> {
    /// Starts the thread and checks that the runtime came up.
    fn start(cpu: CpuId) -> Result<Worker<R>, String> {
        let (cmd, mut cmd_rx) = mpsc::unbounded_channel::<Job>();
        let (res_tx, res) = std::sync::mpsc::channel::<Out>();
        let thread = thread::Builder::new()
            .name(format!("{} on {cpu}", R::NAME))
            .spawn(move || {
                topology::pin_current_thread(cpu).map_err(|e| format!("pin to {cpu}: {e}"))?;
                R::block_on_here(async move {
                    while let Some(job) = cmd_rx.recv().await {
                        if res_tx.send(job().await).is_err() {
                            break;
                        }
                    }
                })
            })
            .map_err(|e| e.to_string())?;
        let mut w = Worker {
            cmd: Some(cmd),
            res,
            thread: Some(thread),
            _rt: PhantomData,
        };
        w.submit(|| async {});
        match w.res.recv() {
            Ok(_) => Ok(w),
            Err(_) => {
                drop(w.cmd.take());
                let why = match w.thread.take().map(|t| t.join()) {
                    Some(Ok(Err(e))) => e,
                    Some(Err(_)) => "the thread panicked".to_owned(),
                    _ => "the thread stopped".to_owned(),
                };
                Err(format!("{}: {why}", R::NAME))
            }
        }
    }

    /// Runs `f()` as a job without waiting for it.
    fn submit<T, Fut, F>(&self, f: F)
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = T> + 'static,
        T: Send + 'static,
    {
        let job: Job = Box::new(move || Box::pin(async move { Box::new(f().await) as Out }));
        self.cmd
            .as_ref()
            .and_then(|c| c.send(job).ok())
            .unwrap_or_else(|| panic!("{} worker is gone", R::NAME));
    }

    /// Waits for the oldest submitted job's output.
    fn wait<T: 'static>(&self) -> T {
        let out = self
            .res
            .recv()
            .unwrap_or_else(|_| panic!("{} worker died (a job panicked?)", R::NAME));
        *out.downcast().expect("job output of another type")
    }

    /// Runs `f()` as a job and returns its output.
    fn run<T, Fut, F>(&self, f: F) -> T
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = T> + 'static,
        T: Send + 'static,
    {
        self.submit(f);
        self.wait()
    }
}

impl<R: ThreadRt> Drop for Worker<R> {
    fn drop(&mut self) {
        drop(self.cmd.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// tokio `multi_thread` with 2 workers, pinned one per CPU of `cpus`.
fn tokio_mt(cpus: &[CpuId]) -> tokio::runtime::Runtime {
    let pins: Vec<CpuId> = cpus.iter().copied().take(2).collect();
    let next = AtomicUsize::new(0);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .on_thread_start(move || {
            // Workers start first; later (blocking) threads stay unpinned.
            let i = next.fetch_add(1, Ordering::Relaxed);
            if let Some(&cpu) = pins.get(i) {
                topology::pin_current_thread(cpu).expect("pin tokio worker");
            }
        })
        .build()
        .expect("tokio multi_thread runtime")
}

/// Runs `f` as a task on a tokio `multi_thread` runtime's workers (not on
/// the calling thread, which only waits).
fn on_tokio_mt<F>(rt: &tokio::runtime::Runtime, f: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    rt.block_on(async move { tokio::spawn(f).await.expect("root task") })
}

/// A corelane runtime on `cpus` (`idle: None` = the default idle policy).
fn corelane_rt(cpus: &[CpuId], idle: Option<Idle>, stealing: bool) -> sched::Runtime {
    let mut b = sched::Runtime::builder()
        .cores(cpus.iter().copied())
        .stealing(stealing);
    if let Some(idle) = idle {
        b = b.idle(idle);
    }
    b.build()
        .unwrap_or_else(|e| panic!("corelane runtime on {cpus:?}: {e}"))
}

// ---------------------------------------------------------------------------
// The task bodies (the same for every runtime)

/// Runs `body()` `iters` times in a row; the time of all of them.
async fn timed<Fut: Future<Output = u64>>(iters: u64, mut body: impl FnMut() -> Fut) -> Duration {
    let t0 = Instant::now();
    for _ in 0..iters {
        black_box(body().await);
    }
    t0.elapsed()
}

async fn spawn_many<R: Rt>(rt: R, n: usize) -> u64 {
    let mut handles = Vec::with_capacity(n);
    for i in 0..n as u64 {
        handles.push(rt.spawn(async move { black_box(i) }));
    }
    let mut sum = 0;
    for h in handles {
        sum += h.await;
    }
    assert_eq!(sum, n as u64 * (n as u64).saturating_sub(1) / 2);
    sum
}

async fn yield_many<R: Rt>(rt: R, tasks: usize, each: usize) -> u64 {
    let mut handles = Vec::with_capacity(tasks);
    for _ in 0..tasks {
        handles.push(rt.spawn(async move {
            for _ in 0..each {
                rt.yield_now().await;
            }
            each as u64
        }));
    }
    let mut sum = 0;
    for h in handles {
        sum += h.await;
    }
    assert_eq!(sum, (tasks * each) as u64);
    sum
}

/// One link of `chained_spawn`: spawns the next link (detached) and ends;
/// the last link signals `done`.
struct Chain<R> {
    rt: R,
    left: u32,
    done: Option<oneshot::Sender<()>>,
}

impl<R: Rt> Future for Chain<R> {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        let done = self.done.take().expect("Chain polled after completion");
        if self.left == 0 {
            let _ = done.send(());
        } else {
            let next = Chain {
                rt: self.rt,
                left: self.left - 1,
                done: Some(done),
            };
            self.rt.spawn_detached(next);
        }
        Poll::Ready(())
    }
}

async fn chained_spawn<R: Rt>(rt: R, depth: u32) -> u64 {
    let (tx, rx) = oneshot::channel();
    rt.spawn_detached(Chain {
        rt,
        left: depth,
        done: Some(tx),
    });
    rx.await.expect("the chain was dropped");
    u64::from(depth)
}

/// About `rounds` ns of work that the compiler cannot fold.
fn cpu_work(seed: u64, rounds: u32) -> u64 {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for _ in 0..black_box(rounds) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    black_box(x)
}

async fn skewed<R: Rt>(rt: R, n: usize, work: u32) -> u64 {
    let mut handles = Vec::with_capacity(n);
    for i in 0..n as u64 {
        handles.push(rt.spawn(async move { cpu_work(i, work) }));
    }
    let mut acc = 0u64;
    for h in handles {
        acc = acc.wrapping_add(h.await);
    }
    acc
}

/// Untimed round trips before each timed ping-pong run.
const PP_WARMUP: u64 = 100;

/// The echo end: sends back every value until the ping side is dropped;
/// returns how many it echoed.
async fn echo(mut ping: mpsc::Receiver<u64>, pong: mpsc::Sender<u64>) -> u64 {
    let mut n = 0;
    while let Some(v) = ping.recv().await {
        if pong.send(v).await.is_err() {
            break;
        }
        n += 1;
    }
    n
}

/// The timed end: [`PP_WARMUP`] round trips, then `iters` timed ones; drops
/// `ping` at the end, which stops [`echo`].
async fn pinger(ping: mpsc::Sender<u64>, mut pong: mpsc::Receiver<u64>, iters: u64) -> Duration {
    for i in 0..PP_WARMUP {
        ping.send(i).await.expect("echo gone");
        assert_eq!(pong.recv().await, Some(i));
    }
    let t0 = Instant::now();
    for i in 0..iters {
        ping.send(i).await.expect("echo gone");
        let got = pong.recv().await;
        debug_assert_eq!(got, Some(i));
        black_box(got);
    }
    t0.elapsed()
}

type PingPong = (
    (mpsc::Sender<u64>, mpsc::Receiver<u64>),
    (mpsc::Sender<u64>, mpsc::Receiver<u64>),
);

fn pp_channels() -> PingPong {
    (mpsc::channel(1), mpsc::channel(1))
}

async fn ping_pong_local<R: Rt>(rt: R, iters: u64) -> Duration {
    let ((ping_tx, ping_rx), (pong_tx, pong_rx)) = pp_channels();
    let echoed = rt.spawn_here(echo(ping_rx, pong_tx));
    let d = pinger(ping_tx, pong_rx, iters).await;
    assert_eq!(echoed.await, iters + PP_WARMUP);
    d
}

/// Cross-core ping-pong between two single-thread runtimes on two pinned
/// threads: the echo on `b`, the timed end on `a`.
fn ping_pong_pair<R: ThreadRt>(a: &Worker<R>, b: &Worker<R>, iters: u64) -> Duration {
    let ((ping_tx, ping_rx), (pong_tx, pong_rx)) = pp_channels();
    b.submit(move || echo(ping_rx, pong_tx));
    let d = a.run(move || pinger(ping_tx, pong_rx, iters));
    assert_eq!(b.wait::<u64>(), iters + PP_WARMUP);
    d
}

/// The floor: one cache line bounced between two threads pinned on `cpus`
/// (store, then spin on the other side's store); `iters` timed round trips.
fn floor_round_trips(cpus: (CpuId, CpuId), iters: u64) -> Duration {
    let line = Arc::new(CachePadded::new(AtomicU64::new(0)));
    let total = iters + 1_000;
    let l2 = line.clone();
    let echo = thread::spawn(move || {
        topology::pin_current_thread(cpus.1).expect("pin floor echo");
        for i in 0..total {
            while l2.load(Ordering::Acquire) != 2 * i + 1 {
                std::hint::spin_loop();
            }
            l2.store(2 * i + 2, Ordering::Release);
        }
    });
    let main = thread::spawn(move || {
        topology::pin_current_thread(cpus.0).expect("pin floor main");
        let one = |i: u64| {
            line.store(2 * i + 1, Ordering::Release);
            while line.load(Ordering::Acquire) != 2 * i + 2 {
                std::hint::spin_loop();
            }
        };
        for i in 0..1_000 {
            one(i);
        }
        let t0 = Instant::now();
        for i in 1_000..total {
            one(i);
        }
        t0.elapsed()
    });
    echo.join().expect("floor echo");
    main.join().expect("floor main")
}

// ---------------------------------------------------------------------------
// Criterion rows

/// One row of a group: `build()` runs once, the first time criterion runs
/// the row (so rows a filter leaves out build nothing), and the state is
/// dropped (its threads stopped) before the next row starts.
fn row<S>(
    g: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    build: impl FnOnce() -> S,
    mut run: impl FnMut(&S, u64) -> Duration,
) {
    let mut build = Some(build);
    let mut state: Option<S> = None;
    g.bench_function(name, |b| {
        let s = state.get_or_insert_with(|| (build.take().expect("built once"))());
        b.iter_custom(|iters| run(s, iters));
    });
}

/// Which optional peers could start here.
struct Avail {
    glommio: bool,
    monoio: bool,
}

impl Avail {
    fn probe(cpu: CpuId) -> Avail {
        let glommio = Worker::<Glommio>::start(cpu)
            .map_err(|e| println!("glommio rows skipped: {e}"))
            .is_ok();
        let monoio = Worker::<Monoio>::start(cpu)
            .map_err(|e| println!("monoio rows skipped: {e}"))
            .is_ok();
        Avail { glommio, monoio }
    }
}

/// The rows of a one-core case: every runtime runs `$job` (a future of the
/// `Duration` of `$iters` iterations, written with `$rt: impl Rt`) as its
/// root task. corelane runs it in `block_on` (core 0), tokio
/// `multi_thread` as a spawned task, the others as a `Worker` job on a
/// thread pinned to the first CPU.
macro_rules! local_rows {
    ($g:expr, $env:expr, multi_thread: $mt:expr, |$rt:ident, $iters:ident| $job:expr) => {{
        let env: &Env = $env;
        {
            let one = [env.c0];
            row(
                &mut $g,
                "corelane_1core",
                || corelane_rt(&one, None, true),
                |r, iters| {
                    let $rt = Corelane;
                    let $iters = iters;
                    r.block_on($job)
                },
            );
            if env.two.len() == 2 {
                row(
                    &mut $g,
                    "corelane_2core",
                    || corelane_rt(&env.two, None, true),
                    |r, iters| {
                        let $rt = Corelane;
                        let $iters = iters;
                        r.block_on($job)
                    },
                );
            }
        }
        row(
            &mut $g,
            "tokio_current_thread",
            || Worker::<Tokio>::start(env.c0).expect("tokio"),
            |w, iters| {
                w.run(move || {
                    let $rt = Tokio;
                    let $iters = iters;
                    $job
                })
            },
        );
        if $mt {
            row(
                &mut $g,
                "tokio_multi_thread_2",
                || tokio_mt(&env.two),
                |r, iters| {
                    let $rt = Tokio;
                    let $iters = iters;
                    on_tokio_mt(r, $job)
                },
            );
        }
        row(
            &mut $g,
            "async_executor_local",
            || Worker::<AeLocal>::start(env.c0).expect("ae"),
            |w, iters| {
                w.run(move || {
                    let $rt = AeLocal;
                    let $iters = iters;
                    $job
                })
            },
        );
        row(
            &mut $g,
            "async_executor_1thread",
            || Worker::<AeExec>::start(env.c0).expect("ae"),
            |w, iters| {
                w.run(move || {
                    let $rt = AeExec;
                    let $iters = iters;
                    $job
                })
            },
        );
        if env.avail.glommio {
            row(
                &mut $g,
                "glommio",
                || Worker::<Glommio>::start(env.c0).expect("glommio"),
                |w, iters| {
                    w.run(move || {
                        let $rt = Glommio;
                        let $iters = iters;
                        $job
                    })
                },
            );
        }
        if env.avail.monoio {
            row(
                &mut $g,
                "monoio_uring",
                || Worker::<Monoio>::start(env.c0).expect("monoio"),
                |w, iters| {
                    w.run(move || {
                        let $rt = Monoio;
                        let $iters = iters;
                        $job
                    })
                },
            );
        }
    }};
}

/// The machine as the bench uses it.
struct Env {
    c0: CpuId,
    /// The first two allowed CPUs (one if only one is allowed).
    two: Vec<CpuId>,
    avail: Avail,
}

fn benches(c: &mut Criterion, cfg: &Cfg, env: &Env) {
    {
        let n = cfg.spawn_n;
        let mut g = c.benchmark_group("spawn_many");
        g.throughput(Throughput::Elements(n as u64));
        local_rows!(g, env, multi_thread: true, |rt, iters| timed(iters, move || spawn_many(rt, n)));
        g.finish();
    }
    {
        let (tasks, each) = (cfg.yield_tasks, cfg.yield_each);
        let mut g = c.benchmark_group("yield_many");
        g.throughput(Throughput::Elements((tasks * each) as u64));
        local_rows!(g, env, multi_thread: true, |rt, iters| timed(iters, move || yield_many(rt, tasks, each)));
        g.finish();
    }
    {
        let depth = cfg.chain_depth;
        let mut g = c.benchmark_group("chained_spawn");
        g.throughput(Throughput::Elements(u64::from(depth)));
        local_rows!(g, env, multi_thread: true, |rt, iters| timed(iters, move || chained_spawn(rt, depth)));
        g.finish();
    }
    {
        // tokio multi_thread cannot keep two tasks on one worker: left out.
        let mut g = c.benchmark_group("ping_pong_local");
        g.throughput(Throughput::Elements(1));
        local_rows!(g, env, multi_thread: false, |rt, iters| ping_pong_local(rt, iters));
        g.finish();
    }
    if env.two.len() < 2 {
        println!("ping_pong_cross_core, skewed_load: need 2 allowed CPUs; skipped");
        return;
    }
    let (c0, c1) = (env.two[0], env.two[1]);
    {
        let mut g = c.benchmark_group("ping_pong_cross_core");
        g.throughput(Throughput::Elements(1));
        row(
            &mut g,
            "floor_cache_line",
            || (),
            |_, iters| floor_round_trips((c0, c1), iters),
        );
        for (name, idle) in [
            ("corelane_spin_default", None),
            ("corelane_busypoll", Some(Idle::BusyPoll)),
        ] {
            row(
                &mut g,
                name,
                || corelane_rt(&env.two, idle, true),
                |r, iters| {
                    let ((ping_tx, ping_rx), (pong_tx, pong_rx)) = pp_channels();
                    let echoed = r.spawn_on(1, Priority::Normal, echo(ping_rx, pong_tx));
                    let d = r.block_on(pinger(ping_tx, pong_rx, iters));
                    let n = futures_lite::future::block_on(echoed).expect("echo task");
                    assert_eq!(n, iters + PP_WARMUP);
                    d
                },
            );
        }
        row(
            &mut g,
            "tokio_multi_thread_2",
            || tokio_mt(&env.two),
            |r, iters| {
                on_tokio_mt(r, async move {
                    let ((ping_tx, ping_rx), (pong_tx, pong_rx)) = pp_channels();
                    let echoed = tokio::spawn(echo(ping_rx, pong_tx));
                    let d = tokio::spawn(pinger(ping_tx, pong_rx, iters))
                        .await
                        .expect("pinger");
                    assert_eq!(echoed.await.expect("echo"), iters + PP_WARMUP);
                    d
                })
            },
        );
        fn pair<R: ThreadRt>(c0: CpuId, c1: CpuId) -> (Worker<R>, Worker<R>) {
            let a = Worker::<R>::start(c0).unwrap_or_else(|e| panic!("{e}"));
            let b = Worker::<R>::start(c1).unwrap_or_else(|e| panic!("{e}"));
            (a, b)
        }
        row(
            &mut g,
            "tokio_current_thread_x2_pinned",
            || pair::<Tokio>(c0, c1),
            |(a, b), iters| ping_pong_pair(a, b, iters),
        );
        row(
            &mut g,
            "async_executor_local_x2_pinned",
            || pair::<AeLocal>(c0, c1),
            |(a, b), iters| ping_pong_pair(a, b, iters),
        );
        if env.avail.glommio {
            row(
                &mut g,
                "glommio_x2_pinned",
                || pair::<Glommio>(c0, c1),
                |(a, b), iters| ping_pong_pair(a, b, iters),
            );
        }
        if env.avail.monoio {
            row(
                &mut g,
                "monoio_uring_x2_pinned",
                || pair::<Monoio>(c0, c1),
                |(a, b), iters| ping_pong_pair(a, b, iters),
            );
        }
        g.finish();
    }
    {
        let (n, work) = (cfg.skew_n, cfg.skew_work);
        let mut g = c.benchmark_group("skewed_load");
        g.throughput(Throughput::Elements(n as u64));
        for (name, stealing) in [("corelane_stealing", true), ("corelane_no_stealing", false)] {
            row(
                &mut g,
                name,
                || corelane_rt(&env.two, None, stealing),
                |r, iters| r.block_on(timed(iters, move || skewed(Corelane, n, work))),
            );
        }
        row(
            &mut g,
            "tokio_multi_thread_2",
            || tokio_mt(&env.two),
            |r, iters| on_tokio_mt(r, timed(iters, move || skewed(Tokio, n, work))),
        );
        row(
            &mut g,
            "tokio_current_thread_1core",
            || Worker::<Tokio>::start(c0).expect("tokio"),
            |w, iters| w.run(move || timed(iters, move || skewed(Tokio, n, work))),
        );
        g.finish();
    }
}

// ---------------------------------------------------------------------------
// Priority isolation (printed)

fn new_hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 10_000_000_000, 3).expect("histogram bounds")
}

fn record(h: &mut Histogram<u64>, d: Duration) {
    h.saturating_record(d.as_nanos().clamp(1, u128::from(u64::MAX)) as u64);
}

/// Busy-waits `d` (a `Low` task's chunk of work).
fn spin_for(d: Duration) {
    let t0 = Instant::now();
    while t0.elapsed() < d {
        std::hint::spin_loop();
    }
}

/// The `High` task of the wake variant: records send → first poll for each
/// send time received.
async fn high_woken(mut rx: mpsc::UnboundedReceiver<Instant>) -> Histogram<u64> {
    let mut h = new_hist();
    while let Some(sent) = rx.recv().await {
        record(&mut h, sent.elapsed());
    }
    h
}

/// The `High` task of the timer variant: `wakes` sleeps of 1 ms, each
/// recording how late its first poll came after the deadline.
async fn high_timer<S, Fut>(wakes: usize, sleep_until: S) -> Histogram<u64>
where
    S: Fn(Instant) -> Fut,
    Fut: Future<Output = ()>,
{
    let mut h = new_hist();
    for _ in 0..wakes {
        let deadline = Instant::now() + Duration::from_millis(1);
        sleep_until(deadline).await;
        record(&mut h, deadline.elapsed());
    }
    h
}

/// A plain (unpinned) thread that, after `settle`, sends its clock to the
/// `High` task every millisecond, `wakes` times. Spawned from the main
/// thread so it keeps the whole process mask.
fn waker_thread(
    wakes: usize,
    settle: Duration,
) -> (mpsc::UnboundedReceiver<Instant>, thread::JoinHandle<()>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let t = thread::spawn(move || {
        thread::sleep(settle);
        for _ in 0..wakes {
            thread::sleep(Duration::from_millis(1));
            if tx.send(Instant::now()).is_err() {
                break;
            }
        }
    });
    (rx, t)
}

/// One runtime's figures from one round.
struct PrioRound {
    woken: Histogram<u64>,
    timer: Histogram<u64>,
    /// `Low` chunks completed per second while the `High` task ran.
    low_rate: f64,
    /// The runtime's own ready → first-poll histogram of the `High` class
    /// on core 0 (corelane's `stats()`), both variants together.
    own: Option<Histogram<u64>>,
}

const SETTLE: Duration = Duration::from_millis(10);

fn prio_corelane(cfg: &Cfg, two: &[CpuId]) -> PrioRound {
    let rt = corelane_rt(two, None, true);
    let stop = Arc::new(AtomicBool::new(false));
    let chunks = Arc::new(AtomicU64::new(0));
    let chunk = cfg.low_chunk;
    let mut lows = Vec::new();
    for core in 0..rt.cores() {
        for _ in 0..cfg.low_per_core {
            let (stop, chunks) = (stop.clone(), chunks.clone());
            lows.push(rt.spawn_on(core, Priority::Low, async move {
                while !stop.load(Ordering::Relaxed) {
                    spin_for(chunk);
                    chunks.fetch_add(1, Ordering::Relaxed);
                    sched::yield_if_needed().await;
                }
            }));
        }
    }
    let (rx, waker) = waker_thread(cfg.prio_wakes, SETTLE);
    let t0 = Instant::now();
    let c0 = chunks.load(Ordering::Relaxed);
    let woken = futures_lite::future::block_on(rt.spawn_on(0, Priority::High, high_woken(rx)))
        .expect("High task (wake)");
    waker.join().expect("waker thread");
    let wakes = cfg.prio_wakes;
    let timer = futures_lite::future::block_on(rt.spawn_on(
        0,
        Priority::High,
        high_timer(wakes, sched::sleep_until),
    ))
    .expect("High task (timer)");
    let low_rate = (chunks.load(Ordering::Relaxed) - c0) as f64 / t0.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for l in lows {
        futures_lite::future::block_on(l).expect("Low task");
    }
    let own = rt.stats().cores[0].classes[Priority::High.index()]
        .delay
        .clone();
    PrioRound {
        woken,
        timer,
        low_rate,
        own: Some(own),
    }
}

/// The tokio side: `low_tasks` tasks looping on a chunk and `yield_now`,
/// then the two `High` variants as plain tasks, all inside one root task.
async fn prio_tokio_job(
    low_tasks: usize,
    chunk: Duration,
    wakes: usize,
    rx: mpsc::UnboundedReceiver<Instant>,
) -> (Histogram<u64>, Histogram<u64>, f64) {
    let stop = Arc::new(AtomicBool::new(false));
    let chunks = Arc::new(AtomicU64::new(0));
    let lows: Vec<_> = (0..low_tasks)
        .map(|_| {
            let (stop, chunks) = (stop.clone(), chunks.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    spin_for(chunk);
                    chunks.fetch_add(1, Ordering::Relaxed);
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    let t0 = Instant::now();
    let c0 = chunks.load(Ordering::Relaxed);
    let woken = tokio::spawn(high_woken(rx))
        .await
        .expect("High task (wake)");
    let timer = tokio::spawn(high_timer(wakes, |t| {
        tokio::time::sleep_until(tokio::time::Instant::from_std(t))
    }))
    .await
    .expect("High task (timer)");
    let low_rate = (chunks.load(Ordering::Relaxed) - c0) as f64 / t0.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for l in lows {
        l.await.expect("Low task");
    }
    (woken, timer, low_rate)
}

fn prio_tokio_ct(cfg: &Cfg, c0: CpuId) -> PrioRound {
    let w = Worker::<Tokio>::start(c0).expect("tokio current_thread");
    let (rx, waker) = waker_thread(cfg.prio_wakes, SETTLE);
    let (n, chunk, wakes) = (cfg.low_per_core, cfg.low_chunk, cfg.prio_wakes);
    let (woken, timer, low_rate) = w.run(move || prio_tokio_job(n, chunk, wakes, rx));
    waker.join().expect("waker thread");
    PrioRound {
        woken,
        timer,
        low_rate,
        own: None,
    }
}

fn prio_tokio_mt(cfg: &Cfg, two: &[CpuId]) -> PrioRound {
    let rt = tokio_mt(two);
    let (rx, waker) = waker_thread(cfg.prio_wakes, SETTLE);
    let n = cfg.low_per_core * two.len();
    let (woken, timer, low_rate) =
        on_tokio_mt(&rt, prio_tokio_job(n, cfg.low_chunk, cfg.prio_wakes, rx));
    waker.join().expect("waker thread");
    PrioRound {
        woken,
        timer,
        low_rate,
        own: None,
    }
}

fn us(ns: u64) -> f64 {
    ns as f64 / 1_000.0
}

/// Median, min and max of `v` (not empty).
fn mid_min_max(v: &mut [f64]) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

fn priority_isolation(cfg: &Cfg, env: &Env) {
    println!();
    println!(
        "priority_isolation: {} Low tasks per core ({} µs of work, then yield), {} High wakes \
         per variant, {} round(s), runtimes interleaved",
        cfg.low_per_core,
        cfg.low_chunk.as_micros(),
        cfg.prio_wakes,
        cfg.prio_rounds
    );
    type Run = fn(&Cfg, &Env) -> PrioRound;
    let mut runs: Vec<(&str, Run)> = Vec::new();
    runs.push(("corelane (High vs Low, yield_if_needed)", |cfg, env| {
        prio_corelane(cfg, &env.two)
    }));
    runs.push(("tokio current_thread (1 core, yield_now)", |cfg, env| {
        prio_tokio_ct(cfg, env.c0)
    }));
    runs.push(("tokio multi_thread 2 (yield_now)", |cfg, env| {
        prio_tokio_mt(cfg, &env.two)
    }));
    let mut results: Vec<Vec<PrioRound>> = runs.iter().map(|_| Vec::new()).collect();
    for round in 0..cfg.prio_rounds {
        for (i, (name, run)) in runs.iter().enumerate() {
            let r = run(cfg, env);
            println!(
                "  round {round} {name}: wake→poll p50 {:.1} µs p99 {:.1} µs max {:.1} µs | \
                 timer lateness p50 {:.1} µs p99 {:.1} µs | Low {:.0} chunks/s",
                us(r.woken.value_at_quantile(0.5)),
                us(r.woken.value_at_quantile(0.99)),
                us(r.woken.max()),
                us(r.timer.value_at_quantile(0.5)),
                us(r.timer.value_at_quantile(0.99)),
                r.low_rate,
            );
            if let Some(own) = &r.own {
                println!(
                    "    (runtime's own High-class delay, core 0: p50 {:.1} µs p99 {:.1} µs, {} polls)",
                    us(own.value_at_quantile(0.5)),
                    us(own.value_at_quantile(0.99)),
                    own.len()
                );
            }
            results[i].push(r);
        }
    }
    println!("  summary (median of rounds [min, max]):");
    for ((name, _), rs) in runs.iter().zip(&results) {
        let pick = |f: &dyn Fn(&PrioRound) -> u64| {
            let mut v: Vec<f64> = rs.iter().map(|r| us(f(r))).collect();
            mid_min_max(&mut v)
        };
        let (w50, w50lo, w50hi) = pick(&|r| r.woken.value_at_quantile(0.5));
        let (w99, w99lo, w99hi) = pick(&|r| r.woken.value_at_quantile(0.99));
        let (t99, t99lo, t99hi) = pick(&|r| r.timer.value_at_quantile(0.99));
        println!(
            "    {name}: wake→poll p50 {w50:.1} [{w50lo:.1}, {w50hi:.1}] µs, \
             p99 {w99:.1} [{w99lo:.1}, {w99hi:.1}] µs; timer lateness p99 {t99:.1} [{t99lo:.1}, {t99hi:.1}] µs"
        );
    }
    println!(
        "  (wake→poll: a plain thread's send time to the High task's first poll, the same \
         tokio::sync channel everywhere; timer lateness includes each timer's grain: tokio 1 ms)"
    );
}

// ---------------------------------------------------------------------------

fn print_floor(when: &str, env: &Env) {
    if env.two.len() < 2 {
        return;
    }
    match topology::c2c::round_trip(env.two[0], env.two[1], 200_000) {
        Ok(rt) => {
            let ns = rt.median.as_secs_f64() * 1e9;
            println!(
                "cache-line round trip {}<->{} ({when}): median {ns:.0} ns, min {:.0} ns{}",
                env.two[0],
                env.two[1],
                rt.min.as_secs_f64() * 1e9,
                if ns > 150.0 {
                    " — above 150 ns: the host looks disturbed, cross-core figures are not comparable"
                } else {
                    ""
                }
            );
        }
        Err(e) => println!("cache-line round trip ({when}): {e}"),
    }
}

/// A number from the environment (`None` when unset; panics when garbled).
fn env_num(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    Some(
        v.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v}: not a number")),
    )
}

fn main() {
    let cli = Cli::parse();
    let quick = !cli.bench || std::env::var_os("SCHED_BENCH_QUICK").is_some_and(|v| v != "0");
    let mut cfg = Cfg::new(quick);
    // The priority-isolation load: with cooperative yields a High wake waits
    // for the running Low chunk, so the chunk sets the floor of every
    // runtime's figure and the number of Low tasks sets tokio's.
    if let Some(n) = env_num("SCHED_PRIO_LOW_TASKS") {
        cfg.low_per_core = n as usize;
    }
    if let Some(us) = env_num("SCHED_PRIO_CHUNK_US") {
        cfg.low_chunk = Duration::from_micros(us);
    }
    // The process mask, read once before anything is pinned.
    let allowed: Vec<CpuId> = topology::allowed_cpus()
        .expect("read the process CPU mask")
        .iter()
        .collect();
    let c0 = allowed[0];
    let two: Vec<CpuId> = allowed.iter().copied().take(2).collect();
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(cfg.warm_up)
        .measurement_time(cfg.measure)
        .configure_from_args();
    if cli.list {
        let env = Env {
            c0,
            two,
            avail: Avail {
                glommio: true,
                monoio: true,
            },
        };
        benches(&mut c, &cfg, &env);
        return;
    }
    println!(
        "sched bench: cpus {two:?} of {allowed:?}, {} configuration: {cfg:?}",
        if quick { "quick" } else { "full" }
    );
    let env = Env {
        c0,
        avail: Avail::probe(c0),
        two,
    };
    if env.two.len() < 2 {
        println!("only one allowed CPU: every two-core row is skipped");
    }
    print_floor("before", &env);
    benches(&mut c, &cfg, &env);
    if cli.wants("priority_isolation") {
        priority_isolation(&cfg, &env);
    }
    print_floor("after", &env);
    c.final_summary();
}
