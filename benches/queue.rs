//! Ring benchmarks: corelane against rtrb, ringbuf, nexus-queue,
//! crossbeam's ArrayQueue and crossbeam-channel, in one run, on two pinned
//! CPUs, beside a raw cache-line ping-pong floor.
//!
//! `cargo bench --bench queue` (criterion; compare within a group only).
//! The interleaved, ratio-reporting run is `cargo run --release --example latency`.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};

#[path = "common/rings.rs"]
mod rings;
use rings::*;

type Cpus = Option<(corelane::topology::CpuId, corelane::topology::CpuId)>;

fn tput<R: Ring>(
    g: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>,
    cpus: Cpus,
    cap: usize,
) {
    g.bench_function(R::NAME, |b| {
        b.iter_custom(|iters| throughput::<R>(cpus, cap, iters.max(1)))
    });
}

fn rtt<R: Ring>(g: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>, cpus: Cpus) {
    g.bench_function(R::NAME, |b| {
        b.iter_custom(|iters| {
            let ns = round_trips::<R>(cpus, 1, iters.max(1) as usize)[0];
            Duration::from_nanos((ns * iters as f64) as u64)
        })
    });
}

fn group<'a>(
    c: &'a mut Criterion,
    name: &str,
) -> BenchmarkGroup<'a, criterion::measurement::WallTime> {
    let mut g = c.benchmark_group(name);
    g.sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    g
}

fn benches(c: &mut Criterion) {
    let cpus = cpu_pair();
    if cpus.is_none() {
        eprintln!(
            "queue bench: fewer than 2 allowed CPUs; threads run unpinned (figures mean little)"
        );
    }
    for cap in [1024, 65536] {
        let mut g = group(c, &format!("spsc_throughput/cap{cap}"));
        g.throughput(Throughput::Elements(1));
        tput::<CorelaneSpsc>(&mut g, cpus, cap);
        tput::<CorelaneSpscBatch>(&mut g, cpus, cap);
        tput::<Rtrb>(&mut g, cpus, cap);
        tput::<Ringbuf>(&mut g, cpus, cap);
        tput::<Nexus>(&mut g, cpus, cap);
        tput::<ArrayQueue>(&mut g, cpus, cap);
        tput::<CbChannel>(&mut g, cpus, cap);
        g.finish();
    }
    let mut g = group(c, "publish_cost/cap1024");
    g.throughput(Throughput::Elements(1));
    tput::<CorelaneSpsc>(&mut g, cpus, 1024);
    tput::<CorelaneSpscNoNotify>(&mut g, cpus, 1024);
    g.finish();

    let mut g = group(c, "mpsc_1to1_throughput/cap1024");
    g.throughput(Throughput::Elements(1));
    tput::<CorelaneMpsc>(&mut g, cpus, 1024);
    tput::<CbChannel>(&mut g, cpus, 1024);
    tput::<ArrayQueue>(&mut g, cpus, 1024);
    g.finish();

    let mut g = group(c, "mpmc_1to1_throughput/cap1024");
    g.throughput(Throughput::Elements(1));
    tput::<CorelaneMpmc>(&mut g, cpus, 1024);
    tput::<ArrayQueue>(&mut g, cpus, 1024);
    g.finish();

    let mut g = group(c, "round_trip");
    g.bench_function("floor: one cache line", |b| {
        b.iter_custom(|iters| {
            let ns = floor(cpus, 1, iters.max(1) as usize)[0];
            Duration::from_nanos((ns * iters as f64) as u64)
        })
    });
    g.bench_function("floor: two lines (one per ring)", |b| {
        b.iter_custom(|iters| {
            let ns = floor_two_lines(cpus, 1, iters.max(1) as usize)[0];
            Duration::from_nanos((ns * iters as f64) as u64)
        })
    });
    rtt::<CorelaneSpsc>(&mut g, cpus);
    rtt::<Rtrb>(&mut g, cpus);
    rtt::<Ringbuf>(&mut g, cpus);
    rtt::<Nexus>(&mut g, cpus);
    rtt::<CorelaneMpsc>(&mut g, cpus);
    rtt::<CorelaneMpmc>(&mut g, cpus);
    rtt::<ArrayQueue>(&mut g, cpus);
    rtt::<CbChannel>(&mut g, cpus);
    g.finish();
}

criterion_group!(queue, benches);
criterion_main!(queue);
