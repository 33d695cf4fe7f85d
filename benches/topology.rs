//! `Topology::detect()`: the sysfs back-end against the hwloc back-end
//! (`--features hwloc`), plus the sysfs back-end on the 128-CPU fixture to
//! show how it scales. Before criterion runs, one timed line prints the
//! median of each back-end and their ratio (issue target: sysfs >= 20x
//! faster).

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use corelane::topology::Topology;
use criterion::Criterion;

const EPYC: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/topology/epyc-2s64c"
);

/// Median wall time of `runs` calls.
fn median_of(runs: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t0 = Instant::now();
            f();
            t0.elapsed()
        })
        .collect();
    times.sort_unstable();
    times[runs / 2]
}

fn timed_line() {
    let sysfs = median_of(200, || drop(black_box(Topology::detect().unwrap())));
    println!("detect (median of 200): sysfs {sysfs:?}");
    #[cfg(feature = "hwloc")]
    {
        let hwloc = median_of(50, || drop(black_box(Topology::detect_hwloc().unwrap())));
        let ratio = hwloc.as_secs_f64() / sysfs.as_secs_f64();
        println!(
            "detect (median of 50): hwloc {hwloc:?}; hwloc/sysfs = {ratio:.1}x (target >= 20x)"
        );
    }
    #[cfg(not(feature = "hwloc"))]
    println!("hwloc back-end off: run `cargo bench --bench topology --features hwloc` to compare");
}

fn detect(c: &mut Criterion) {
    let mut g = c.benchmark_group("topology_detect");
    g.bench_function("sysfs", |b| b.iter(|| Topology::detect().unwrap()));
    #[cfg(feature = "hwloc")]
    g.bench_function("hwloc", |b| b.iter(|| Topology::detect_hwloc().unwrap()));
    if Path::new(EPYC).is_dir() {
        g.bench_function("sysfs_fixture_128cpu", |b| {
            b.iter(|| Topology::from_sysfs_root(EPYC).unwrap())
        });
    }
    g.finish();
}

fn main() {
    timed_line();
    let mut c = Criterion::default().configure_from_args();
    detect(&mut c);
    c.final_summary();
}
