//! Streaming benchmarks (issue 11): an async stream through two rings with
//! a forwarding thread, the same with three parking threads, and an async
//! ping-pong; corelane beside tokio::sync::mpsc and crossbeam-channel in
//! the same group, at the same capacity, with the same item type.
//!
//! `cargo bench --bench stream` (criterion; compare within a group only).
//! The interleaved, ratio-reporting run is `cargo run --release --example
//! latency` (or `--example stream` for these rows alone). Three busy
//! parties share two CPUs here by design (see `common/stream.rs`).

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

#[path = "common/rings.rs"]
mod rings;
#[path = "common/stream.rs"]
mod stream;
use stream::*;

fn benches(c: &mut Criterion) {
    let cpus = rings::cpu_pair();
    if cpus.is_none() {
        eprintln!("stream bench: fewer than 2 allowed CPUs; threads run unpinned");
    }
    let runs = stream_runs(&STREAM_CAPS);
    // One group per shape and capacity, each with corelane and its peer.
    let mut groups: Vec<(String, Vec<StreamImpl>)> = Vec::new();
    for (imp, cap) in runs {
        let shape = imp.name.split(':').next().unwrap_or(imp.name);
        let key = if imp.is_ping_pong() {
            shape.replace(' ', "_")
        } else {
            format!("{}/cap{cap}", shape.replace(' ', "_"))
        };
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => v.push(imp),
            None => groups.push((key, vec![imp])),
        }
    }
    for (key, imps) in groups {
        let cap = key
            .rsplit_once("/cap")
            .and_then(|(_, c)| c.parse().ok())
            .unwrap_or(STREAM_CAPS[0]);
        let mut g = c.benchmark_group(&key);
        g.sample_size(10)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(5))
            .throughput(Throughput::Elements(1));
        for imp in imps {
            let label = imp.name.split(": ").nth(1).unwrap_or(imp.name);
            g.bench_function(label, |b| {
                // Each iteration is one order (one round trip for
                // ping-pong); a run starts its runtime and threads before
                // its clock, so short runs are dominated by nothing else.
                b.iter_custom(|iters| (imp.run)(cpus, cap, iters.max(1)))
            });
        }
        g.finish();
    }
}

criterion_group!(stream_benches, benches);
criterion_main!(stream_benches);
