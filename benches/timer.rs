//! Timer wheels side by side, in one run: corelane's `timer::Wheel` vs
//! tokio-util's DelayQueue (on a paused tokio clock), hierarchical_hash_wheel_timer,
//! nexus-timer, bitwheel, and BTreeMap / BinaryHeap baselines.
//!
//! All at 1 ms resolution, `u64` payloads, deterministic pseudo-random
//! deadlines. Groups (ids `timer/<group>/<implementation>`):
//!
//! * `insert_cancel_100k` — one insert + one cancel of the same timer, with
//!   100k other timers pending (deadlines 1 ms..125 s; pair deadlines
//!   1..1000 ms). Time moves 1 ms every 256 pairs and the background timers
//!   that fire are re-armed, inside the timed region.
//! * `cancel_random_1M`, `cancel_random_10M` — cancel timers in random
//!   order at 1M / 10M pending (timed in batches of 10k; each batch is
//!   re-armed untimed, so the population stays put).
//! * `expire_100k` — cost per fired timer: 100k timers over the next
//!   1000 ms, advanced 1 ms at a time.
//! * `poll_1M` — one advance per 1 ms tick at 1M pending (about 16 fire per
//!   tick and are re-armed untimed); besides criterion's mean, the per-poll
//!   p50 / p99 / p99.9 are printed after the group (target: p99.9/p50 <= 3),
//!   with a baseline row: plain random loads of the same median length into
//!   a table of the slab's size, the host's own floor for that ratio (the
//!   work per tick itself is shown flat by the unit test
//!   `paced_cascading_keeps_the_work_per_tick_flat`).
//! * a memory table (printed first, when nothing filters it out): live heap
//!   bytes per pending timer at 1M pending, by a counting allocator.
//!
//! Left out, and why: BinaryHeap cannot cancel (it is only in `expire_100k`,
//! `poll_1M` and the memory table); bitwheel has a fixed capacity per slot,
//! preallocated, and no cascading, so it is in `insert_cancel_100k`,
//! `expire_100k` and memory only (at 1M pending it would need its BTreeMap
//! failover, i.e. it would be a BTreeMap). DelayQueue's own clock work (the
//! tokio driver firing its one internal `Sleep` on `advance`) is done
//! untimed; its `poll_expired` is timed.
//!
//! Run: `cargo bench --bench timer`; one group: `cargo bench --bench timer --
//! poll_1M`. Setups of benchmarks a plain (substring) filter excludes are
//! skipped; a regex filter runs every setup and lets criterion pick.

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput};
use hdrhistogram::Histogram;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;
use std::time::{Duration, Instant};

#[path = "timer/peers.rs"]
mod peers;
use peers::{tokio_rt, BTree, Bit, Corelane, CorelaneTicks, DelayQueue, Heap, Hhwt, Nexus, Timers};

// ----- counting allocator (for the memory table) ---------------------------

struct Counting;

thread_local! {
    static LIVE: Cell<i64> = const { Cell::new(0) };
}

fn live_bytes() -> i64 {
    LIVE.with(Cell::get)
}

fn count(delta: i64) {
    // `try_with`: allocation may happen while thread-locals are torn down.
    let _ = LIVE.try_with(|l| l.set(l.get() + delta));
}

// SAFETY: every method forwards to `System` unchanged; the bookkeeping uses
// only a thread-local `Cell` and never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as i64);
        // SAFETY: forwarded; the caller upholds `alloc`'s contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as i64);
        // SAFETY: forwarded; the caller upholds `alloc_zeroed`'s contract.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size as i64 - layout.size() as i64);
        // SAFETY: forwarded; `ptr` was allocated by `System` through us.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as i64));
        // SAFETY: forwarded; `ptr` was allocated by `System` through us.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

// ----- helpers ------------------------------------------------------------------

/// xorshift64: deterministic deadlines.
#[path = "common/xorshift.rs"]
mod xorshift;
use xorshift::Rng;

/// Background deadline horizon: 125 s.
const FAR: u64 = 125_000;

/// The filter given on the command line (criterion's positional argument),
/// used to skip expensive setups of benchmarks that will not run.
fn filter() -> Option<String> {
    let mut args = std::env::args().skip(1).peekable();
    let mut found = None;
    while let Some(a) = args.next() {
        if a.starts_with("--") {
            let takes_value = !matches!(
                a.as_str(),
                "--bench"
                    | "--test"
                    | "--list"
                    | "--quick"
                    | "--noplot"
                    | "--verbose"
                    | "--quiet"
                    | "--exact"
                    | "--ignored"
                    | "--nocapture"
            );
            if takes_value && args.peek().is_some_and(|v| !v.starts_with("--")) {
                args.next();
            }
        } else if found.is_none() {
            found = Some(a);
        }
    }
    found
}

/// `cargo test --benches` runs each benchmark once without `--bench`: keep
/// that quick by shrinking every population 100x (and skipping the memory
/// table).
fn test_mode() -> bool {
    !std::env::args().any(|a| a == "--bench")
}

fn size(n: usize) -> usize {
    if test_mode() {
        n / 100
    } else {
        n
    }
}

/// Whether benchmark `id` can match the filter. A plain filter is matched as
/// a substring; one with regex syntax matches everything here (criterion
/// then applies the real regex), which only costs unneeded setups.
fn wanted(id: &str) -> bool {
    filter().is_none_or(|f| {
        f.contains(|c: char| "()|[]*+?^$\\.{}".contains(c)) || id.contains(&f) || f.contains(id)
    })
}

fn fill<I: Timers>(t: &mut I, n: usize, rng: &mut Rng, id: &mut u64, now: u64) -> Vec<I::Key> {
    let mut keys = Vec::with_capacity(n);
    for _ in 0..n {
        *id += 1;
        keys.push(t.insert(now + 1 + rng.below(FAR), *id));
    }
    keys
}

// ----- memory --------------------------------------------------------------------

fn memory_row<I: Timers>(n: usize, preallocate: bool) {
    let mut rng = Rng(0x1234_5678);
    let mut id = 0;
    let before = live_bytes();
    let mut t = I::new(if preallocate { n } else { 0 });
    let keys = fill(&mut t, n, &mut rng, &mut id, 0);
    let heap = live_bytes() - before - (keys.capacity() * std::mem::size_of::<I::Key>()) as i64;
    println!(
        "  {:<32} {:>12} {:>10.1} B/timer",
        I::NAME,
        if preallocate {
            "with capacity"
        } else {
            "grown"
        },
        heap as f64 / n as f64
    );
    t.discard(keys);
}

fn memory() {
    if !wanted("timer/memory") {
        return;
    }
    let n = 1_000_000;
    println!("timer/memory: live heap bytes per pending timer, {n} pending, u64 payload");
    memory_row::<Corelane>(n, true);
    memory_row::<Corelane>(n, false);
    memory_row::<DelayQueue>(n, true);
    memory_row::<DelayQueue>(n, false);
    memory_row::<Hhwt>(n, false);
    memory_row::<Nexus>(n, true);
    memory_row::<Bit>(100_000, true);
    memory_row::<BTree>(n, false);
    memory_row::<Heap>(n, true);
    println!("  (bitwheel at 100k pending: its slots are preallocated for the worst case)");
}

// ----- insert + cancel at 100k pending ----------------------------------------------

fn insert_cancel<I: Timers>(g: &mut BenchmarkGroup<'_, WallTime>, pending: usize) {
    if !I::CANCEL || !wanted(&format!("timer/insert_cancel_100k/{}", I::NAME)) {
        return;
    }
    let mut rng = Rng(0xDEAD_BEEF);
    let mut id = 0u64;
    let mut t = I::new(pending + 4096);
    let keys = fill(&mut t, pending, &mut rng, &mut id, 0);
    let delays: Vec<u64> = (0..4096).map(|_| 1 + rng.below(1000)).collect();
    let mut now = 0u64;
    let mut j = 0usize;
    g.bench_function(I::NAME, |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut done = 0;
            while done < iters {
                let n = (iters - done).min(256);
                let t0 = Instant::now();
                for _ in 0..n {
                    id += 1;
                    let k = t.insert(now + delays[j & 4095], id);
                    black_box(t.cancel(k));
                    j += 1;
                }
                total += t0.elapsed();
                done += n;
                now += 1;
                t.prepare(now);
                let t0 = Instant::now();
                let mut fired = 0;
                t.advance(now, &mut |_| fired += 1);
                for _ in 0..fired {
                    id += 1;
                    let k = t.insert(now + 1 + rng.below(FAR), id);
                    t.forget(k);
                }
                total += t0.elapsed();
            }
            total
        })
    });
    t.discard(keys);
}

// ----- random-order cancel at 1M / 10M pending ---------------------------------------

fn cancel_random<I: Timers>(g: &mut BenchmarkGroup<'_, WallTime>, group: &str, pending: usize) {
    if !wanted(&format!("timer/{group}/{}", I::NAME)) {
        return;
    }
    const BATCH: usize = 10_000;
    let mut rng = Rng(0xC0FF_EE00 ^ pending as u64);
    let mut id = 0u64;
    let build = |rng: &mut Rng, id: &mut u64| {
        let mut t = I::new(pending);
        let mut keys = fill(&mut t, pending, rng, id, 0);
        for i in (1..keys.len()).rev() {
            keys.swap(i, rng.below(i as u64 + 1) as usize);
        }
        (t, keys)
    };
    let mut state = Some(build(&mut rng, &mut id));
    g.bench_function(I::NAME, |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut done = 0;
            while done < iters {
                let n = ((iters - done) as usize).min(BATCH);
                let rebuild = {
                    let (t, keys) = state.as_mut().expect("state");
                    let t0 = Instant::now();
                    for _ in 0..n {
                        let k = keys.pop().expect("key");
                        black_box(t.cancel(k));
                    }
                    total += t0.elapsed();
                    // Re-arm untimed, each new key at a random position.
                    for _ in 0..n {
                        id += 1;
                        keys.push(t.insert(1 + rng.below(FAR), id));
                        let last = keys.len() - 1;
                        keys.swap(last, rng.below(last as u64 + 1) as usize);
                    }
                    t.garbage() > 2_000_000
                };
                done += n as u64;
                if rebuild {
                    let (t, keys) = state.take().expect("state");
                    t.discard(keys);
                    state = Some(build(&mut rng, &mut id));
                }
            }
            total
        })
    });
    if let Some((t, keys)) = state {
        t.discard(keys);
    }
}

// ----- expiry cost per fired timer ---------------------------------------------------

fn expire<I: Timers>(g: &mut BenchmarkGroup<'_, WallTime>, per_round: usize) {
    if !wanted(&format!("timer/expire_100k/{}", I::NAME)) {
        return;
    }
    let mut rng = Rng(0xE1E1_0000);
    let mut id = 0u64;
    let mut t = I::new(per_round);
    let mut now = 0u64;
    g.bench_function(I::NAME, |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut fired = 0u64;
            while fired < iters {
                for _ in 0..per_round {
                    id += 1;
                    let k = t.insert(now + 1 + rng.below(1000), id);
                    t.forget(k);
                }
                for _ in 0..1000 {
                    now += 1;
                    t.prepare(now);
                    let t0 = Instant::now();
                    fired += t.advance(now, &mut |v| {
                        black_box(v);
                    }) as u64;
                    total += t0.elapsed();
                }
            }
            total.mul_f64(iters as f64 / fired as f64)
        })
    });
}

// ----- per-poll latency at 1M pending -------------------------------------------------

/// Context switches of this thread so far (voluntary + involuntary), or 0
/// where unsupported: a poll that spans one measures the scheduler, not the
/// wheel, and is left out of the clean percentiles.
fn context_switches() -> i64 {
    #[cfg(target_os = "linux")]
    {
        let mut ru = std::mem::MaybeUninit::<libc::rusage>::zeroed();
        // SAFETY: `ru` is a valid, writable `rusage`; `getrusage` only writes it.
        let rc = unsafe { libc::getrusage(libc::RUSAGE_THREAD, ru.as_mut_ptr()) };
        if rc == 0 {
            // SAFETY: `getrusage` succeeded, so it initialised `ru` (and it was
            // zeroed before, so every field is a valid integer either way).
            let ru = unsafe { ru.assume_init() };
            return ru.ru_nvcsw + ru.ru_nivcsw;
        }
    }
    0
}

fn hist() -> Histogram<u64> {
    Histogram::<u64>::new_with_bounds(1, 1 << 36, 3).expect("histogram")
}

fn poll_tail<I: Timers>(
    g: &mut BenchmarkGroup<'_, WallTime>,
    pending: usize,
    report: &mut Vec<String>,
) {
    if !wanted(&format!("timer/poll_1M/{}", I::NAME)) {
        return;
    }
    let mut rng = Rng(0x9011_7A11);
    let mut id = 0u64;
    let mut t = I::new(pending + 4096);
    let keys = fill(&mut t, pending, &mut rng, &mut id, 0);
    let mut now = 0u64;
    let (mut clean, mut all) = (hist(), hist());
    let mut fired_total = 0u64;
    g.bench_function(I::NAME, |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                now += 1;
                t.prepare(now);
                let mut fired = 0u64;
                let switches = context_switches();
                let t0 = Instant::now();
                t.advance(now, &mut |v| {
                    black_box(v);
                    fired += 1;
                });
                let dt = t0.elapsed();
                let ns = dt.as_nanos() as u64;
                total += dt;
                all.saturating_record(ns);
                if context_switches() == switches {
                    clean.saturating_record(ns);
                }
                fired_total += fired;
                for _ in 0..fired {
                    id += 1;
                    let k = t.insert(now + 1 + rng.below(FAR), id);
                    t.forget(k);
                }
            }
            total
        })
    });
    if !clean.is_empty() {
        report.push(tail_row(
            I::NAME,
            &clean,
            &all,
            &format!(
                "({} of {} left out) | {:.1} fired/poll",
                all.len() - clean.len(),
                all.len(),
                fired_total as f64 / all.len() as f64
            ),
        ));
    }
    t.discard(keys);
}

/// The machine's own tail for work shaped like a poll at 1M pending: a run
/// of dependent-free random loads into a table of 32 bytes per timer (the
/// size of corelane's slab), as many loads as make the median about that of
/// a corelane poll (~5 us here), timed the same way. Its p99.9/p50 is the
/// floor any memory-bound poll can reach on this host (TLB and cache misses
/// under a hypervisor), to read the wheels' ratios against.
fn random_access_floor(pending: usize) -> String {
    const LOADS: usize = 400;
    let table: Vec<[u64; 4]> = (0..pending as u64).map(|i| [i, 0, 0, 0]).collect();
    let mut rng = Rng(0x5EED_F100);
    let (mut clean, mut all) = (hist(), hist());
    for _ in 0..1_000_000 {
        let switches = context_switches();
        let t0 = Instant::now();
        let mut sum = 0u64;
        for _ in 0..LOADS {
            sum = sum.wrapping_add(table[rng.below(pending as u64) as usize][0]);
        }
        black_box(sum);
        let ns = t0.elapsed().as_nanos() as u64;
        all.saturating_record(ns);
        if context_switches() == switches {
            clean.saturating_record(ns);
        }
    }
    tail_row(
        "baseline: random loads",
        &clean,
        &all,
        &format!(
            "(machine floor: {LOADS} random loads into {} MB)",
            (pending * 32) >> 20
        ),
    )
}

/// One line of the poll-tail report: percentiles of the polls no context
/// switch touched (`clean`), and the p99.9 of all of them.
fn tail_row(name: &str, clean: &Histogram<u64>, all: &Histogram<u64>, suffix: &str) -> String {
    let (p50, p999) = (clean.value_at_quantile(0.5), clean.value_at_quantile(0.999));
    format!(
        "  {:<30} p50 {:>6}  p99 {:>6}  p99.9 {:>7}  max {:>8}  p99.9/p50 {:>5.2} | all polls: p99.9 {:>8} {suffix}",
        name,
        p50,
        clean.value_at_quantile(0.99),
        p999,
        clean.max(),
        p999 as f64 / p50.max(1) as f64,
        all.value_at_quantile(0.999),
    )
}

fn main() {
    let _tokio = tokio_rt().enter();
    if !test_mode() {
        memory();
    }
    let mut c = Criterion::default().configure_from_args();

    let mut g = c.benchmark_group("timer/insert_cancel_100k");
    g.throughput(Throughput::Elements(1));
    insert_cancel::<Corelane>(&mut g, size(100_000));
    insert_cancel::<CorelaneTicks>(&mut g, size(100_000));
    insert_cancel::<DelayQueue>(&mut g, size(100_000));
    insert_cancel::<Hhwt>(&mut g, size(100_000));
    insert_cancel::<Nexus>(&mut g, size(100_000));
    insert_cancel::<Bit>(&mut g, size(100_000));
    insert_cancel::<BTree>(&mut g, size(100_000));
    g.finish();

    for (group, pending) in [
        ("cancel_random_1M", size(1_000_000)),
        ("cancel_random_10M", size(10_000_000)),
    ] {
        let mut g = c.benchmark_group(format!("timer/{group}"));
        g.throughput(Throughput::Elements(1));
        g.sample_size(20);
        cancel_random::<Corelane>(&mut g, group, pending);
        cancel_random::<CorelaneTicks>(&mut g, group, pending);
        cancel_random::<DelayQueue>(&mut g, group, pending);
        cancel_random::<Hhwt>(&mut g, group, pending);
        cancel_random::<Nexus>(&mut g, group, pending);
        cancel_random::<BTree>(&mut g, group, pending);
        g.finish();
    }

    let mut g = c.benchmark_group("timer/expire_100k");
    g.throughput(Throughput::Elements(1));
    g.sample_size(20);
    expire::<Corelane>(&mut g, size(100_000));
    expire::<CorelaneTicks>(&mut g, size(100_000));
    expire::<DelayQueue>(&mut g, size(100_000));
    expire::<Hhwt>(&mut g, size(100_000));
    expire::<Nexus>(&mut g, size(100_000));
    expire::<Bit>(&mut g, size(100_000));
    expire::<BTree>(&mut g, size(100_000));
    expire::<Heap>(&mut g, size(100_000));
    g.finish();

    let mut report = Vec::new();
    let mut g = c.benchmark_group("timer/poll_1M");
    g.throughput(Throughput::Elements(1));
    g.sample_size(20);
    poll_tail::<Corelane>(&mut g, size(1_000_000), &mut report);
    poll_tail::<CorelaneTicks>(&mut g, size(1_000_000), &mut report);
    poll_tail::<DelayQueue>(&mut g, size(1_000_000), &mut report);
    poll_tail::<Hhwt>(&mut g, size(1_000_000), &mut report);
    poll_tail::<Nexus>(&mut g, size(1_000_000), &mut report);
    poll_tail::<BTree>(&mut g, size(1_000_000), &mut report);
    poll_tail::<Heap>(&mut g, size(1_000_000), &mut report);
    g.finish();
    if !report.is_empty() && !test_mode() {
        report.push(random_access_floor(size(1_000_000)));
    }
    if !report.is_empty() {
        println!(
            "timer/poll_1M: ns per poll (1 ms tick, 1M pending, includes ~20 ns of Instant::now); \
             polls that spanned a context switch are left out of the percentiles"
        );
        report.iter().for_each(|r| println!("{r}"));
    }

    c.final_summary();
}
