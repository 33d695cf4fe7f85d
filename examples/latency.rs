//! corelane's main job: how fast are the rings on *this* machine, against the
//! peers a user would otherwise pick, measured side by side in one run.
//!
//! ```text
//! cargo run --release --example latency            # full run (~1.5 min)
//! cargo run --release --example latency -- --quick # CI smoke run
//! cargo run --release --example latency -- --json  # machine-readable
//! cargo run --release --example latency -- --svg c2c.svg  # core-to-core heat map
//! ```
//!
//! Method: both threads pinned on the pair the placement plan picks; every
//! implementation runs once per round, rounds interleaved (A B C A B C ...);
//! figures are medians over rounds; round trips are reported as ratios to a
//! raw one-cache-line ping-pong measured in the same rounds, and to rtrb.
//! The streaming rows (issue 11: tokio tasks and a forwarding thread, or
//! three parking threads, on two CPUs) run in the same rounds and report
//! ns per order as ratios to tokio::sync::mpsc and crossbeam-channel.
//! The `corelane::sched` rows (issue 12: cross-core wake, a ping-pong
//! between two runtime cores over tokio::sync::mpsc, a waker slot and spsc
//! rings; `High`-task delay under full `Low` load; `latency/sched_row.rs`)
//! run in the same rounds too, beside the spsc ring's round trip and
//! tokio's figures (two pinned current_thread runtimes; multi_thread).
//! The session rows (issue 14) are ring rows too: a Ping/Stop request/reply
//! loop over the typed session ring (`session::ring::pair_with`, BusySpin)
//! and the same (label, payload) frames over a raw spsc pair, their ratio
//! a target (`benches/session.rs` adds the floors and the peer crates).
//!
//! Every figure is looked up by its row's name (the rings' `Ring::NAME`, the
//! floors' and multicast rows' constants), never by position. With `--json`
//! only the JSON document goes to stdout; notes and warnings go to stderr.

use std::time::Duration;

use corelane::topology::{c2c, CpuId, PlanOptions, Topology};
use hdrhistogram::Histogram;

#[path = "common/multicast_row.rs"]
mod multicast_row;
#[path = "latency/report.rs"]
mod report;
#[path = "../benches/common/rings.rs"]
mod rings;
#[path = "latency/sched_row.rs"]
mod sched_row;
#[path = "../benches/common/session_rows.rs"]
mod session_rows;
#[path = "../benches/common/stream.rs"]
mod stream;
#[path = "latency/targets.rs"]
mod targets;
#[path = "common/timer_row.rs"]
mod timer_row;

use rings::*;

/// Round trips per timed sample (each sample is their mean).
const BATCH: usize = 8;
/// Ring capacity of the throughput runs.
const THROUGHPUT_CAP: usize = 1024;
/// A one-line floor above this means the host is disturbed: rerun.
const DISTURBED_FLOOR_NS: f64 = 150.0;
/// Row names of the two floors.
const FLOOR_ONE_LINE: &str = "floor: one cache line";
const FLOOR_TWO_LINES: &str = "floor: two lines (one per ring)";

type Cpus = Option<(CpuId, CpuId)>;
/// A round-trip run: `(cpus, samples, batch)` to per-sample ns.
type RttRun = fn(Cpus, usize, usize) -> Vec<f64>;
/// A throughput run: `(cpus, capacity, items)` to the time taken.
type TputRun = fn(Cpus, usize, u64) -> Duration;

struct Opts {
    quick: bool,
    json: bool,
    svg: Option<String>,
}

fn opts() -> Opts {
    let mut o = Opts {
        quick: false,
        json: false,
        svg: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--quick" => o.quick = true,
            "--json" => o.json = true,
            "--svg" => o.svg = args.next(),
            "-h" | "--help" => {
                println!("usage: latency [--quick] [--json] [--svg FILE]");
                std::process::exit(0);
            }
            other => {
                eprintln!("latency: unknown argument {other:?} (try --help)");
                std::process::exit(2);
            }
        }
    }
    o
}

/// How much to measure: `--quick` is a smoke run, not a measurement.
struct Sizes {
    /// Iterations per pair of the core-to-core matrix.
    c2c_iters: usize,
    /// Interleaved rounds.
    rounds: usize,
    /// Timed round-trip samples per implementation and round.
    samples: usize,
    /// Items per throughput run.
    items: u64,
    /// Orders per streaming run (ping-pong: 1/PING_ITEMS_DIVISOR of them).
    stream_items: u64,
    /// The sched rows' samples and wakes per round.
    sched: sched_row::Sizes,
}

impl Sizes {
    fn new(quick: bool) -> Self {
        if quick {
            Sizes {
                c2c_iters: 20_000,
                rounds: 2,
                samples: 2_000,
                items: 200_000,
                stream_items: 20_000,
                sched: sched_row::Sizes {
                    busy_samples: 2_000,
                    park_samples: 100,
                    prio_wakes: 30,
                },
            }
        } else {
            Sizes {
                c2c_iters: 200_000,
                rounds: 7,
                samples: 20_000,
                items: 5_000_000,
                stream_items: 200_000,
                sched: sched_row::Sizes {
                    busy_samples: 20_000,
                    park_samples: 1_000,
                    prio_wakes: 500,
                },
            }
        }
    }
}

/// One implementation of the ring table: what it measures and how.
struct Bench {
    name: &'static str,
    rtt: Option<RttRun>,
    tput: Option<TputRun>,
}

fn both<R: Ring>() -> Bench {
    Bench {
        name: R::NAME,
        rtt: Some(round_trips::<R>),
        tput: Some(throughput::<R>),
    }
}

fn tput_only<R: Ring>() -> Bench {
    Bench {
        rtt: None,
        ..both::<R>()
    }
}

/// A row with round trips only (the floors, the session rows).
fn rtt_row(name: &'static str, f: RttRun) -> Bench {
    Bench {
        name,
        rtt: Some(f),
        tput: None,
    }
}

/// The ring table, in print order; each round runs its round trips, then
/// the multicast rows, then its throughputs, each in this order.
fn benches() -> Vec<Bench> {
    vec![
        rtt_row(FLOOR_ONE_LINE, floor),
        rtt_row(FLOOR_TWO_LINES, floor_two_lines),
        both::<CorelaneSpsc>(),
        both::<Rtrb>(),
        both::<Ringbuf>(),
        both::<Nexus>(),
        both::<CorelaneMpsc>(),
        both::<CorelaneMpmc>(),
        both::<ArrayQueue>(),
        both::<CbChannel>(),
        rtt_row(session_rows::TYPED_RING, session_rows::typed_ring),
        rtt_row(session_rows::RAW_FRAMES, session_rows::raw_frames),
        rtt_row(session_rows::TYPED_LINE, session_rows::typed_line),
        tput_only::<CorelaneSpscBatch>(),
        tput_only::<CorelaneSpscNoNotify>(),
    ]
}

/// One ring's samples across rounds.
struct Row {
    name: &'static str,
    /// Per-round median round trip, ns.
    rtt_med: Vec<f64>,
    /// All round-trip samples (ns per round trip, batches of BATCH).
    rtt_all: Vec<f64>,
    /// Per-round throughput, M items/s.
    tput: Vec<f64>,
}

impl Row {
    fn new(name: &'static str) -> Self {
        Row {
            name,
            rtt_med: Vec::new(),
            rtt_all: Vec::new(),
            tput: Vec::new(),
        }
    }

    fn add_rtt(&mut self, samples: Vec<f64>) {
        self.rtt_med.push(median(&samples));
        self.rtt_all.extend(samples);
    }

    fn add_tput(&mut self, items: u64, took: Duration) {
        self.tput.push(items as f64 / took.as_secs_f64() / 1e6);
    }

    fn rtt_p50(&self) -> Option<f64> {
        (!self.rtt_med.is_empty()).then(|| median(&self.rtt_med))
    }

    fn tput_p50(&self) -> Option<f64> {
        (!self.tput.is_empty()).then(|| median(&self.tput))
    }
}

/// One multicast implementation: round trips timed one by one.
struct McRow {
    name: &'static str,
    /// All rounds' round trips, ns.
    hist: Histogram<u64>,
    /// Per-round median round trip, ns.
    p50s: Vec<f64>,
}

impl McRow {
    fn p50(&self) -> f64 {
        median(&self.p50s)
    }
}

/// One streaming row: an implementation at one capacity, across rounds.
struct StreamRow {
    name: &'static str,
    cap: usize,
    /// Per-round ns per order (per round trip for ping-pong).
    ns: Vec<f64>,
}

impl StreamRow {
    fn p50(&self) -> f64 {
        median(&self.ns)
    }
}

/// Everything one run measured, looked up by row name.
struct Results {
    rounds: usize,
    rings: Vec<Row>,
    /// The streaming shapes (`benches/common/stream.rs`), by name and
    /// capacity.
    streams: Vec<StreamRow>,
    multicast: Vec<McRow>,
    /// The `corelane::sched` rows.
    sched: sched_row::SchedRows,
    timer: Vec<(&'static str, f64)>,
    /// Where the timer row ran.
    timer_place: String,
}

impl Results {
    fn ring(&self, name: &str) -> &Row {
        let row = self.rings.iter().find(|r| r.name == name);
        row.unwrap_or_else(|| panic!("no ring row named {name:?}"))
    }

    fn stream(&self, name: &str, cap: usize) -> &StreamRow {
        let row = self.streams.iter().find(|r| r.name == name && r.cap == cap);
        row.unwrap_or_else(|| panic!("no streaming row named {name:?} at capacity {cap}"))
    }

    fn multicast(&self, name: &str) -> &McRow {
        let row = self.multicast.iter().find(|r| r.name == name);
        row.unwrap_or_else(|| panic!("no multicast row named {name:?}"))
    }

    fn rtt(&self, name: &str) -> f64 {
        median(&self.ring(name).rtt_med)
    }

    fn tput(&self, name: &str) -> f64 {
        median(&self.ring(name).tput)
    }

    /// Whether the one-line floor reads above [`DISTURBED_FLOOR_NS`].
    fn disturbed(&self) -> bool {
        self.rtt(FLOOR_ONE_LINE) > DISTURBED_FLOOR_NS
    }
}

fn median(v: &[f64]) -> f64 {
    percentile(v, 50.0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let o = opts();
    let sizes = Sizes::new(o.quick);
    // Topology first, before any thread is pinned (a pinned thread's mask
    // is one CPU, and threads it spawns inherit it).
    let topo = Topology::detect()?;
    let (cpus, placement) = place(&topo);
    let matrix = c2c::matrix(&topo, sizes.c2c_iters)?;
    if !o.json {
        print_topology(&topo, placement.as_deref(), &matrix);
    }
    if let Some(path) = &o.svg {
        c2c::write_svg(&matrix, path)?;
        eprintln!("heat map written to {path}");
    }
    let results = measure(cpus, &sizes, o.quick);
    let targets = targets::targets(&results);
    if o.json {
        let doc = report::to_json(&results, &targets, placement.as_deref());
        println!("{doc:#}");
    } else {
        report::print_text(&results, &targets);
    }
    report::warn_if_disturbed(&results);
    Ok(())
}

/// The two CPUs the placement plan picks and its description, or `None`
/// (unpinned) with a warning.
fn place(topo: &Topology) -> (Cpus, Option<String>) {
    match topo.plan(2, &PlanOptions::new().allow_smt_siblings(true)) {
        Ok(plan) => {
            let c = plan.cpus();
            (Some((c[0], c[1])), Some(plan.to_string()))
        }
        Err(e) => {
            eprintln!("placement: {e}; threads run unpinned (figures mean little)");
            (None, None)
        }
    }
}

fn print_topology(topo: &Topology, placement: Option<&str>, matrix: &c2c::Matrix) {
    if let Some(plan) = placement {
        println!("placement: rings run on {plan}");
    }
    println!(
        "topology: {} CPUs, {} cores, {} packages, allowed [{}] ({:?} back-end)",
        topo.cpus().len(),
        topo.cores().len(),
        topo.packages().len(),
        topo.allowed(),
        topo.backend()
    );
    println!("core-to-core cache-line round trip, median ns:\n{matrix}");
}

/// The interleaved rounds (ring, multicast, streaming and sched rows), then
/// the timer row.
fn measure(cpus: Cpus, sizes: &Sizes, quick: bool) -> Results {
    let table = benches();
    let mut rings: Vec<Row> = table.iter().map(|b| Row::new(b.name)).collect();
    let mut multicast = Vec::new();
    let stream_runs = stream::stream_runs(&stream::STREAM_CAPS);
    let mut streams: Vec<StreamRow> = stream_runs
        .iter()
        .map(|(s, cap)| StreamRow {
            name: s.name,
            cap: *cap,
            ns: Vec::new(),
        })
        .collect();
    // The streams start runtimes and threads: warm each up once, untimed.
    for (s, cap) in &stream_runs {
        (s.run)(cpus, *cap, s.items(sizes.stream_items / 10).max(1));
    }
    let mut sched = sched_row::SchedRows::new();
    sched_row::SchedRows::warm_up(cpus);
    for _round in 0..sizes.rounds {
        for (b, row) in table.iter().zip(&mut rings) {
            if let Some(rtt) = b.rtt {
                row.add_rtt(rtt(cpus, sizes.samples, BATCH));
            }
        }
        add_multicast(&mut multicast, sizes.samples as u64, cpus);
        for (b, row) in table.iter().zip(&mut rings) {
            if let Some(tput) = b.tput {
                row.add_tput(sizes.items, tput(cpus, THROUGHPUT_CAP, sizes.items));
            }
        }
        for ((s, cap), row) in stream_runs.iter().zip(&mut streams) {
            let items = s.items(sizes.stream_items);
            let took = (s.run)(cpus, *cap, items);
            row.ns.push(took.as_nanos() as f64 / items as f64);
        }
        sched.run_round(cpus, &sizes.sched, BATCH);
    }
    let (timer, timer_place) = run_timer(cpus.map(|c| c.0), quick);
    Results {
        rounds: sizes.rounds,
        rings,
        streams,
        multicast,
        sched,
        timer,
        timer_place,
    }
}

/// One round of the multicast rows (single round trips timed one by one),
/// merged into the rows of earlier rounds by name.
fn add_multicast(rows: &mut Vec<McRow>, samples: u64, cpus: Cpus) {
    for (name, h) in multicast_row::multicast_rows(samples, cpus) {
        let p50 = h.value_at_quantile(0.5) as f64;
        match rows.iter_mut().find(|r| r.name == name) {
            Some(row) => {
                row.hist.add(&h).expect("same histogram bounds");
                row.p50s.push(p50);
            }
            None => rows.push(McRow {
                name,
                hist: h,
                p50s: vec![p50],
            }),
        }
    }
}

/// The timer row: one thread, pinned to `cpu`; returns it and where it ran.
fn run_timer(cpu: Option<CpuId>, quick: bool) -> (Vec<(&'static str, f64)>, String) {
    let rows = std::thread::spawn(move || {
        if let Some(cpu) = cpu {
            corelane::topology::pin_current_thread(cpu).expect("pin the timer thread");
        }
        timer_row::timer_row(quick)
    })
    .join()
    .expect("timer row thread");
    let place = cpu.map_or_else(|| "unpinned".to_string(), |c| format!("pinned to {c}"));
    (rows, place)
}
