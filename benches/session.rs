//! Session-typed ping-pong (issue 14, section 5): a request/reply loop with
//! a Ping/Stop choice, one end on each of two pinned CPUs, beside what it
//! is built on and what a user would otherwise pick:
//!
//! - (a) the one-cache-line round trip (the physical floor) and (b) the
//!   two-line one (a round trip through two rings moves at least two
//!   lines);
//! - (c) the same frames (label + payload enum) over a raw, untyped pair
//!   of `queue::spsc` rings, `BusySpin`: the baseline the typed session
//!   must match (target: typed / raw <= 1.05 at the median);
//! - (d) `session::ring::pair_with(.., BusySpin)`, `Rec<Choose<..>>`;
//! - (e) `session::line` (one shared line per direction), once it exists:
//!   see `line_row` below;
//! - (f) `session_types` 0.3 (crossbeam unbounded channels, a `Box` per
//!   message, blocking threads) and (f') crossbeam unbounded used untyped
//!   with a plain enum, its own transport;
//! - (g) `dialectic` 0.4 over `dialectic-tokio-mpsc` (unbounded; a boxed
//!   `dyn Any` per message), each end on a tokio `current_thread` runtime
//!   on its own pinned thread, and (g') tokio's unbounded mpsc untyped
//!   with a plain enum on the same two runtimes.
//!
//! Method (`../shared/BENCHMARKING.md`): every row runs once per round,
//! rounds interleaved (a b c d … a b c d …); each sample is the mean of
//! `BATCH` round trips; a row's p50 is the median of its per-round
//! medians, printed with their min and max (the spread); p50 and p99.9
//! over all samples come from an `hdrhistogram`. Ratios to (c) and to the
//! floor are of the p50s. A claim "X is faster" needs medians that differ
//! by more than the spread; a one-line floor above 150 ns means the host
//! was disturbed: rerun.
//!
//! `cargo bench --bench session` (about 30 s); `SESSION_BENCH_QUICK=1`, or a
//! run without `--bench` (`cargo test --benches`), does two short rounds.
//! Not criterion: criterion runs rows one after another, not interleaved.
//! The peers (f) and (g) wait by parking their threads (crossbeam, tokio):
//! their round trips are wake-ups, microseconds, where the typing cost
//! hides; (f') and (g') show what their transports cost untyped.

use std::time::Instant;

use corelane::topology::CpuId;
use hdrhistogram::Histogram;

/// The peer crates' rows, each beside its own transport used untyped.
#[path = "session/peers.rs"]
mod peers;
#[path = "common/rings.rs"]
mod rings;
#[path = "common/session_rows.rs"]
mod session_rows;

use rings::{cpu_pair, floor, floor_two_lines, percentile, WARMUP};

type Cpus = Option<(CpuId, CpuId)>;
/// A row's run: `(cpus, samples, batch)` to ns per round trip per batch.
type Run = fn(Cpus, usize, usize) -> Vec<f64>;

/// Round trips per sample.
const BATCH: usize = 8;
/// A one-line floor above this means the host is disturbed.
const DISTURBED_FLOOR_NS: f64 = 150.0;

const FLOOR_ONE: &str = "(a) floor: one cache line";
const FLOOR_TWO: &str = "(b) floor: two lines";
const RAW: &str = "(c) spsc pair, raw frames";
const TYPED: &str = "(d) session::ring, typed";
const LINE: &str = "(e) session::line, typed";
const ST: &str = "(f) session_types 0.3";
const ST_RAW: &str = "(f') crossbeam unbounded, raw";
const DIALECTIC: &str = "(g) dialectic 0.4 + tokio mpsc";
const DIALECTIC_RAW: &str = "(g') tokio mpsc unbounded, raw";

/// The rows, in print order (and run order within a round).
fn rows() -> Vec<(&'static str, Run)> {
    let mut v: Vec<(&'static str, Run)> = vec![
        (FLOOR_ONE, floor),
        (FLOOR_TWO, floor_two_lines),
        (RAW, session_rows::raw_frames),
        (TYPED, session_rows::typed_ring),
    ];
    v.extend(line_row());
    v.extend([
        (ST, peers::session_types_row as Run),
        (ST_RAW, peers::crossbeam_row),
        (DIALECTIC, peers::dialectic_row),
        (DIALECTIC_RAW, peers::tokio_mpsc_row),
    ]);
    v
}

/// (e) `session::line`: the same typed loop on one slot that both
/// directions take turns on (target: at most 1.15x the one-line floor).
fn line_row() -> Vec<(&'static str, Run)> {
    vec![(LINE, session_rows::typed_line)]
}

/// How much to measure.
struct Sizes {
    rounds: usize,
    samples: usize,
}

/// One row across rounds.
struct Row {
    name: &'static str,
    run: Run,
    /// Per-round medians, ns per round trip.
    medians: Vec<f64>,
    /// Every sample, ns per round trip (batch means).
    hist: Histogram<u64>,
}

impl Row {
    fn p50(&self) -> f64 {
        percentile(&self.medians, 50.0)
    }
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    let quick = !bench || std::env::var_os("SESSION_BENCH_QUICK").is_some_and(|v| v != "0");
    let sizes = if quick {
        Sizes {
            rounds: 2,
            samples: 200,
        }
    } else {
        Sizes {
            rounds: 7,
            samples: 4_000,
        }
    };
    // The process mask, read once before anything is pinned.
    let cpus = cpu_pair();
    match cpus {
        Some((a, b)) => println!("session bench: client on CPU {a}, echo on CPU {b}"),
        None => println!("session bench: fewer than 2 allowed CPUs; threads run unpinned"),
    }
    println!(
        "{} rounds interleaved, {} samples of {BATCH} round trips per row and round ({} warm-up){}",
        sizes.rounds,
        sizes.samples,
        WARMUP,
        if quick {
            "; quick run: figures mean little"
        } else {
            ""
        }
    );
    let mut rows: Vec<Row> = rows()
        .into_iter()
        .map(|(name, run)| Row {
            name,
            run,
            medians: Vec::new(),
            hist: Histogram::new_with_bounds(1, 1_000_000_000, 3).expect("histogram bounds"),
        })
        .collect();
    let t0 = Instant::now();
    for _ in 0..sizes.rounds {
        for row in &mut rows {
            let samples = (row.run)(cpus, sizes.samples, BATCH);
            row.medians.push(percentile(&samples, 50.0));
            for s in samples {
                row.hist.saturating_record(s.round().max(1.0) as u64);
            }
        }
    }
    report(&rows);
    println!("({:.1} s)", t0.elapsed().as_secs_f64());
}

fn find<'a>(rows: &'a [Row], name: &str) -> &'a Row {
    let row = rows.iter().find(|r| r.name == name);
    row.unwrap_or_else(|| panic!("no row named {name:?}"))
}

fn report(rows: &[Row]) {
    let raw = find(rows, RAW).p50();
    let floor = find(rows, FLOOR_ONE).p50();
    println!(
        "\n{:<34} {:>9} {:>19} {:>9} {:>9} {:>8} {:>8}",
        "ns per round trip", "p50", "rounds min..max", "hdr p50", "p99.9", "/(c)", "/floor"
    );
    for r in rows {
        let (lo, hi) = r
            .medians
            .iter()
            .fold((f64::MAX, f64::MIN), |(lo, hi), &m| (lo.min(m), hi.max(m)));
        println!(
            "{:<34} {:>9.1} {:>9.1}..{:<9.1} {:>9} {:>9} {:>7.2}x {:>7.2}x",
            r.name,
            r.p50(),
            lo,
            hi,
            r.hist.value_at_quantile(0.5),
            r.hist.value_at_quantile(0.999),
            r.p50() / raw,
            r.p50() / floor
        );
    }
    let typed = find(rows, TYPED).p50();
    println!(
        "\ntyped / raw on the same rings: {:.3} (target <= 1.05); typed line / one-line floor: {:.3} \
         (target <= 1.15); session_types / crossbeam raw: {:.2}; dialectic / tokio mpsc raw: {:.2}",
        typed / raw,
        find(rows, LINE).p50() / floor,
        find(rows, ST).p50() / find(rows, ST_RAW).p50(),
        find(rows, DIALECTIC).p50() / find(rows, DIALECTIC_RAW).p50(),
    );
    if floor > DISTURBED_FLOOR_NS {
        println!(
            "WARNING: the one-line floor reads {floor:.0} ns > {DISTURBED_FLOOR_NS:.0} ns: \
             the host looks disturbed; rerun before quoting figures"
        );
    }
}
