//! The LMAX shape on one multicast ring: a producer (the input stage), a
//! journalling cursor and a replicating cursor in parallel, and a
//! business-logic cursor that runs after both.
//!
//! ```text
//!              +--> journal ----+
//!   producer --+                +--> business logic
//!              +--> replicate --+
//! ```
//!
//! Prints the throughput (producer flat out) and the latency of each hop in
//! a paced run (one order every few microseconds), then a ping-pong round
//! trip through two rings, corelane vs the `disruptor` crate.
//!
//! `cargo run --release --example pipeline [-- --quick]`

#[path = "common/multicast_row.rs"]
mod multicast_row;

use std::hint::black_box;
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use corelane::queue::multicast::{Builder, Cursor, Publisher, RecvError};
use corelane::queue::wait::WaitStrategy;
use corelane::topology::{pin_current_thread, CpuId};
use hdrhistogram::Histogram;

/// One order on the ring, filled in place by the producer.
#[derive(Clone, Copy, Default)]
struct Order {
    id: u64,
    price: u64,
    qty: u32,
    buy: bool,
    /// When the producer published it (ns since the run's epoch).
    sent_ns: u64,
}

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now_ns() -> u64 {
    epoch().elapsed().as_nanos() as u64
}

/// The CPUs this process may use, read once before any thread is pinned
/// (a pinned thread's mask is one CPU, and threads it spawns inherit it).
fn allowed_cpus() -> Vec<CpuId> {
    match corelane::topology::allowed_cpus() {
        Ok(set) => set.iter().collect(),
        Err(e) => {
            eprintln!("pipeline: cannot read the affinity mask ({e}); running unpinned");
            Vec::new()
        }
    }
}

fn pin(cpu: Option<CpuId>) {
    if let Some(cpu) = cpu {
        if let Err(e) = pin_current_thread(cpu) {
            eprintln!("pipeline: cannot pin to {cpu} ({e}); running unpinned");
        }
    }
}

/// What each stage does with an order, and when it saw each one.
#[derive(Clone, Copy)]
enum Stage {
    Journal,
    Replicate,
    Logic,
}

struct Run {
    seen_ns: Vec<u64>,
    checksum: u64,
}

/// Runs one stage until the stream ends. With `stamp`, records when it
/// finished each order (index = sequence).
fn stage(mut c: Cursor<Order>, kind: Stage, n: usize, stamp: bool, strategy: WaitStrategy) -> Run {
    let mut seen_ns = if stamp { vec![0; n] } else { Vec::new() };
    let mut journal = Vec::with_capacity(64 * 1024);
    let mut checksum = 0u64;
    let mut position = 0i64;
    loop {
        match c.pop_batch_blocking(256, strategy) {
            Ok(batch) => {
                let first = batch.sequence() as usize;
                for (i, o) in batch.iter().enumerate() {
                    match kind {
                        // Append a fixed-size record; "fsync" when the buffer fills.
                        Stage::Journal => {
                            journal.extend_from_slice(&o.id.to_le_bytes());
                            journal.extend_from_slice(&o.price.to_le_bytes());
                            if journal.len() >= 64 * 1024 {
                                checksum = checksum.wrapping_add(journal.len() as u64);
                                journal.clear();
                            }
                        }
                        // Checksum the wire form, as if sent to a replica.
                        Stage::Replicate => {
                            checksum = checksum
                                .rotate_left(5)
                                .wrapping_add(o.id ^ o.price ^ u64::from(o.qty));
                        }
                        // Keep a net position.
                        Stage::Logic => {
                            let q = i64::from(o.qty);
                            position += if o.buy { q } else { -q };
                        }
                    }
                    if stamp {
                        seen_ns[first + i] = now_ns();
                    }
                }
            }
            Err(RecvError::Disconnected) => break,
            // Journal or replicate died: logic stops where they did.
            Err(RecvError::UpstreamFailed(f)) => panic!("{f}"),
        }
    }
    black_box(position);
    Run { seen_ns, checksum }
}

struct Pipeline {
    tx: Publisher<Order>,
    threads: Vec<thread::JoinHandle<Run>>,
}

fn start(n: usize, stamp: bool, strategy: WaitStrategy, cpus: &[CpuId]) -> Pipeline {
    let mut b = Builder::new(4096, Order::default);
    let journal = b.cursor();
    let replicate = b.cursor();
    let logic = b.cursor();
    b.after(logic, &[journal, replicate]);
    let (tx, mut h) = b.build().expect("the LMAX shape is acyclic");
    let stages = [
        (h.cursor(journal), Stage::Journal),
        (h.cursor(replicate), Stage::Replicate),
        (h.cursor(logic), Stage::Logic),
    ];
    let threads = stages
        .into_iter()
        .enumerate()
        .map(|(i, (c, kind))| {
            let cpu = (!cpus.is_empty()).then(|| cpus[(i + 1) % cpus.len()]);
            thread::spawn(move || {
                pin(cpu);
                stage(c, kind, n, stamp, strategy)
            })
        })
        .collect();
    pin(cpus.first().copied());
    Pipeline { tx, threads }
}

fn order(i: u64, sent_ns: u64) -> impl FnOnce(&mut Order) {
    move |o: &mut Order| {
        o.id = i;
        o.price = 100_000 + (i % 97);
        o.qty = 1 + (i % 10) as u32;
        o.buy = !i.is_multiple_of(3);
        o.sent_ns = sent_ns;
    }
}

fn throughput(n: usize, strategy: WaitStrategy, cpus: &[CpuId]) {
    let mut p = start(n, false, strategy, cpus);
    let t0 = Instant::now();
    for i in 0..n as u64 {
        p.tx.push_with_blocking(order(i, 0), strategy)
            .unwrap_or_else(|_| panic!("every stage is subscribed"));
    }
    drop(p.tx);
    let runs: Vec<Run> = p.threads.into_iter().map(|t| t.join().unwrap()).collect();
    let dt = t0.elapsed();
    black_box(runs.iter().map(|r| r.checksum).sum::<u64>());
    println!(
        "throughput: {n} orders through journal+replicate -> logic in {:.1} ms = {:.1} M orders/s",
        dt.as_secs_f64() * 1e3,
        n as f64 / dt.as_secs_f64() / 1e6
    );
}

fn latency(n: usize, gap: Duration, strategy: WaitStrategy, cpus: &[CpuId]) {
    let mut p = start(n, true, strategy, cpus);
    let mut sent = vec![0u64; n];
    for (i, s) in sent.iter_mut().enumerate() {
        let due = Instant::now() + gap;
        *s = now_ns();
        p.tx.push_with_blocking(order(i as u64, *s), strategy)
            .unwrap_or_else(|_| panic!("every stage is subscribed"));
        while Instant::now() < due {
            std::hint::spin_loop();
        }
    }
    drop(p.tx);
    let runs: Vec<Run> = p.threads.into_iter().map(|t| t.join().unwrap()).collect();
    let (j, r, l) = (&runs[0].seen_ns, &runs[1].seen_ns, &runs[2].seen_ns);
    let mut hops: Vec<(&str, Histogram<u64>)> = [
        "producer -> journal",
        "producer -> replicate",
        "journal+replicate -> logic",
        "producer -> logic (end to end)",
    ]
    .into_iter()
    .map(|name| {
        (
            name,
            Histogram::new_with_bounds(1, 60_000_000_000, 3).unwrap(),
        )
    })
    .collect();
    for i in n / 10..n {
        let rec = |h: &mut Histogram<u64>, a: u64, b: u64| h.saturating_record(b.saturating_sub(a));
        rec(&mut hops[0].1, sent[i], j[i]);
        rec(&mut hops[1].1, sent[i], r[i]);
        rec(&mut hops[2].1, j[i].max(r[i]), l[i]);
        rec(&mut hops[3].1, sent[i], l[i]);
    }
    println!(
        "latency per hop ({} orders, one every {:?}; ns):",
        n - n / 10,
        gap
    );
    println!(
        "  {:<32} {:>8} {:>8} {:>8} {:>10}",
        "hop", "p50", "p99", "p99.9", "max"
    );
    for (name, h) in &hops {
        println!(
            "  {:<32} {:>8} {:>8} {:>8} {:>10}",
            name,
            h.value_at_quantile(0.5),
            h.value_at_quantile(0.99),
            h.value_at_quantile(0.999),
            h.max()
        );
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let cpus = allowed_cpus();
    epoch();
    // Four busy threads need four CPUs; with fewer, spinning threads would
    // fight for them, so stages wait by yielding instead.
    let strategy = if cpus.len() >= 4 {
        WaitStrategy::BusySpin
    } else {
        println!(
            "note: {} CPUs allowed, the pipeline has 4 threads: oversubscribed, \
             stages wait with WaitStrategy::Yield (figures are pessimistic)",
            cpus.len()
        );
        WaitStrategy::Yield
    };
    let (n_tp, n_lat) = if quick {
        (200_000, 20_000)
    } else {
        (10_000_000, 200_000)
    };
    throughput(n_tp, strategy, &cpus);
    latency(n_lat, Duration::from_micros(5), strategy, &cpus);

    if cpus.len() >= 2 {
        println!(
            "round trip through two rings (ping + pong), CPUs {} and {} (ns):",
            cpus[0], cpus[1]
        );
        for (name, h) in multicast_row::multicast_rows(
            if quick { 20_000 } else { 1_000_000 },
            Some((cpus[0], cpus[1])),
        ) {
            println!(
                "  {:<36} p50 {:>6}  p99 {:>6}  p99.9 {:>7}",
                name,
                h.value_at_quantile(0.5),
                h.value_at_quantile(0.99),
                h.value_at_quantile(0.999)
            );
        }
    }
}
