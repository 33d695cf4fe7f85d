//! corelane's main job: how fast are the rings on *this* machine, against the
//! peers a user would otherwise pick, measured side by side in one run.
//!
//! ```text
//! cargo run --release --example latency            # full run (~1 min)
//! cargo run --release --example latency -- --quick # CI smoke run
//! cargo run --release --example latency -- --json  # machine-readable
//! cargo run --release --example latency -- --svg c2c.svg  # core-to-core heat map
//! ```
//!
//! Method (see ../shared/BENCHMARKING.md): both threads pinned on the pair the
//! placement plan picks; every implementation runs once per round, rounds
//! interleaved (A B C A B C ...); figures are medians over rounds; round
//! trips are reported as ratios to a raw one-cache-line ping-pong measured in
//! the same rounds, and to rtrb.

use corelane::topology::{c2c, CpuId, PlanOptions, Topology};

#[path = "common/multicast_row.rs"]
mod multicast_row;
#[path = "../benches/common/rings.rs"]
mod rings;
#[path = "common/timer_row.rs"]
mod timer_row;

use hdrhistogram::Histogram;

use rings::*;

struct Opts {
    quick: bool,
    json: bool,
    svg: Option<String>,
}

fn opts() -> Opts {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut o = Opts {
        quick: false,
        json: false,
        svg: None,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => o.quick = true,
            "--json" => o.json = true,
            "--svg" => o.svg = it.next().cloned(),
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

/// One implementation's samples across rounds.
#[derive(Default)]
struct Row {
    name: &'static str,
    /// Per-round median round trip, ns.
    rtt_med: Vec<f64>,
    /// All round-trip samples (ns per round trip, batches of BATCH).
    rtt_all: Vec<f64>,
    /// Per-round throughput, M items/s.
    tput: Vec<f64>,
}

const BATCH: usize = 8;

fn median(v: &[f64]) -> f64 {
    percentile(v, 50.0)
}

fn run_rtt<R: Ring>(row: &mut Row, cpus: Option<(CpuId, CpuId)>, samples: usize) {
    row.name = R::NAME;
    let s = round_trips::<R>(cpus, samples, BATCH);
    row.rtt_med.push(median(&s));
    row.rtt_all.extend(s);
}

fn run_tput<R: Ring>(row: &mut Row, cpus: Option<(CpuId, CpuId)>, items: u64) {
    row.name = R::NAME;
    let d = throughput::<R>(cpus, 1024, items);
    row.tput.push(items as f64 / d.as_secs_f64() / 1e6);
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let o = opts();

    // Topology first, before any thread is pinned (a pinned thread's mask
    // is one CPU, and threads it spawns inherit it).
    let topo = Topology::detect()?;
    let cpus = match topo.plan(2, &PlanOptions::new().allow_smt_siblings(true)) {
        Ok(plan) => {
            let c = plan.cpus();
            if !o.json {
                println!("placement: rings run on {plan}");
            }
            Some((c[0], c[1]))
        }
        Err(e) => {
            println!("placement: {e}; threads run unpinned (figures mean little)");
            None
        }
    };
    if !o.json {
        println!(
            "topology: {} CPUs, {} cores, {} packages, allowed [{}] ({:?} back-end)",
            topo.cpus().len(),
            topo.cores().len(),
            topo.packages().len(),
            topo.allowed(),
            topo.backend()
        );
    }
    let matrix = c2c::matrix(&topo, if o.quick { 20_000 } else { 200_000 })?;
    if !o.json {
        println!("core-to-core cache-line round trip, median ns:\n{matrix}");
    }
    if let Some(path) = &o.svg {
        c2c::write_svg(&matrix, path)?;
        println!("heat map written to {path}");
    }

    let (rounds, samples, items) = if o.quick {
        (2, 2_000, 200_000)
    } else {
        (7, 20_000, 5_000_000)
    };
    let mut rows: Vec<Row> = (0..12).map(|_| Row::default()).collect();
    // Multicast round trips (corelane, disruptor's EventPoller): single
    // round trips timed one by one, merged over the rounds.
    let mut multicast: Vec<(String, Histogram<u64>, Vec<f64>)> = Vec::new();
    for _round in 0..rounds {
        // Round trips, interleaved.
        rows[0].name = "floor: one cache line";
        let f = floor(cpus, samples, BATCH);
        rows[0].rtt_med.push(median(&f));
        rows[0].rtt_all.extend(f);
        rows[11].name = "floor: two lines (one per ring)";
        let f2 = floor_two_lines(cpus, samples, BATCH);
        rows[11].rtt_med.push(median(&f2));
        rows[11].rtt_all.extend(f2);
        run_rtt::<CorelaneSpsc>(&mut rows[1], cpus, samples);
        run_rtt::<Rtrb>(&mut rows[2], cpus, samples);
        run_rtt::<Ringbuf>(&mut rows[3], cpus, samples);
        run_rtt::<Nexus>(&mut rows[4], cpus, samples);
        run_rtt::<CorelaneMpsc>(&mut rows[5], cpus, samples);
        run_rtt::<CorelaneMpmc>(&mut rows[6], cpus, samples);
        run_rtt::<ArrayQueue>(&mut rows[7], cpus, samples);
        run_rtt::<CbChannel>(&mut rows[8], cpus, samples);
        for (i, (name, h)) in multicast_row::multicast_rows(samples as u64, cpus)
            .into_iter()
            .enumerate()
        {
            if multicast.len() <= i {
                multicast.push((name, h.clone(), Vec::new()));
            } else {
                multicast[i].1.add(&h).expect("same histogram bounds");
            }
            multicast[i].2.push(h.value_at_quantile(0.5) as f64);
        }
        // Throughput, interleaved.
        run_tput::<CorelaneSpsc>(&mut rows[1], cpus, items);
        run_tput::<Rtrb>(&mut rows[2], cpus, items);
        run_tput::<Ringbuf>(&mut rows[3], cpus, items);
        run_tput::<Nexus>(&mut rows[4], cpus, items);
        run_tput::<CorelaneMpsc>(&mut rows[5], cpus, items);
        run_tput::<CorelaneMpmc>(&mut rows[6], cpus, items);
        run_tput::<ArrayQueue>(&mut rows[7], cpus, items);
        run_tput::<CbChannel>(&mut rows[8], cpus, items);
        run_tput::<CorelaneSpscBatch>(&mut rows[9], cpus, items);
        run_tput::<CorelaneSpscNoNotify>(&mut rows[10], cpus, items);
    }
    // The timer row: one thread, pinned to the plan's first CPU.
    let timer_cpu = cpus.map(|c| c.0);
    let quick = o.quick;
    let timers = std::thread::spawn(move || {
        if let Some(cpu) = timer_cpu {
            corelane::topology::pin_current_thread(cpu).expect("pin the timer thread");
        }
        timer_row::timer_row(quick)
    })
    .join()
    .expect("timer row thread");
    let place = timer_cpu.map_or_else(|| "unpinned".to_string(), |c| format!("pinned to {c}"));
    report(&o, &rows, rounds, &multicast, &timers);
    report_multicast(&o, &multicast);
    if !o.json {
        println!("\ntimer wheel, 100k pending (single thread, {place}, medians):");
        for (label, ns) in &timers {
            println!("  {label:<48} {ns:>8.1} ns");
        }
    }

    Ok(())
}

type McRow = (String, Histogram<u64>, Vec<f64>);

fn report(o: &Opts, rows: &[Row], rounds: usize, multicast: &[McRow], timers: &[(String, f64)]) {
    let floor = median(&rows[0].rtt_med);
    let rtrb_rtt = median(&rows[2].rtt_med);
    let rtrb_tput = median(&rows[2].tput);
    let best_peer_rtt = rows[2..=4]
        .iter()
        .map(|r| median(&r.rtt_med))
        .fold(f64::INFINITY, f64::min);
    let best_peer_tput = rows[2..=4]
        .iter()
        .map(|r| median(&r.tput))
        .fold(0.0, f64::max);
    if o.json {
        let items: Vec<String> = rows
            .iter()
            .map(|r| {
                format!(
                    "{{\"name\":\"{}\",\"rtt_p50_ns\":{:.1},\"rtt_p99_ns\":{:.1},\"rtt_p999_ns\":{:.1},\"mitems_per_s\":{:.1}}}",
                    r.name,
                    median(&r.rtt_med),
                    percentile(&r.rtt_all, 99.0),
                    percentile(&r.rtt_all, 99.9),
                    if r.tput.is_empty() { f64::NAN } else { median(&r.tput) }
                )
                .replace("NaN", "null")
            })
            .collect();
        let timer_items: Vec<String> = timers
            .iter()
            .map(|(label, ns)| format!("{{\"name\":\"{label}\",\"ns\":{ns:.1}}}"))
            .collect();
        println!(
            "{{\"rounds\":{rounds},\"batch\":{BATCH},\"rows\":[{}],\"multicast\":[{}],\"timer\":[{}]}}",
            items.join(","),
            multicast_json(multicast),
            timer_items.join(",")
        );
        return;
    }
    println!(
        "\nround trip through two rings (ping, echo back), u64, cap 1024; {rounds} interleaved rounds;\n\
         each sample is the mean of {BATCH} round trips; p50 = median of per-round medians"
    );
    println!(
        "{:<30} {:>8} {:>8} {:>8} {:>9} {:>8} | {:>9} {:>8}",
        "ring", "p50 ns", "p99", "p99.9", "/floor", "/rtrb", "M items/s", "/rtrb"
    );
    for r in rows {
        let has_rtt = !r.rtt_med.is_empty();
        let p50 = median(&r.rtt_med);
        let rtt = if has_rtt {
            format!(
                "{:>8.1} {:>8.1} {:>8.1} {:>8.2}x {:>7.2}x",
                p50,
                percentile(&r.rtt_all, 99.0),
                percentile(&r.rtt_all, 99.9),
                p50 / floor,
                p50 / rtrb_rtt
            )
        } else {
            format!("{:>8} {:>8} {:>8} {:>9} {:>8}", "-", "-", "-", "-", "-")
        };
        let tp = if r.tput.is_empty() {
            format!("{:>9} {:>8}", "-", "-")
        } else {
            let t = median(&r.tput);
            format!("{:>9.1} {:>7.2}x", t, t / rtrb_tput)
        };
        println!("{:<30} {rtt} | {tp}", r.name);
    }
    let spsc_rtt = median(&rows[1].rtt_med);
    let spsc_tput = median(&rows[1].tput);
    println!("\ntargets (issue #2), this run:");
    println!(
        "  spsc round trip / best of rtrb, ringbuf, nexus-queue = {:.2} (target <= 0.85)",
        spsc_rtt / best_peer_rtt
    );
    println!(
        "  spsc round trip / one-line floor                     = {:.2} (target <= 1.20)",
        spsc_rtt / floor
    );
    println!(
        "  spsc round trip / two-line floor (one line per ring) = {:.2} (what two rings can reach)",
        spsc_rtt / median(&rows[11].rtt_med)
    );
    println!(
        "  spsc throughput / best of rtrb, ringbuf, nexus-queue = {:.2} (target >= 1.30)",
        spsc_tput / best_peer_tput
    );
    println!(
        "  spsc chunks of 64 / rtrb single-item                 = {:.2} (target >= 3.00)",
        median(&rows[9].tput) / rtrb_tput
    );
    println!(
        "  mpsc 1->1 / crossbeam-channel bounded                = {:.2} (target >= 2.00)",
        median(&rows[5].tput) / median(&rows[8].tput)
    );
    println!(
        "  mpmc 1->1 / crossbeam ArrayQueue                     = {:.2} (target >= 1.00)",
        median(&rows[6].tput) / median(&rows[7].tput)
    );
    println!(
        "  spsc push cost with park check / without (per item)  = {:.2} (target <= 1.05)",
        median(&rows[10].tput) / spsc_tput
    );
    if floor > 150.0 {
        println!("  NOTE: floor {floor:.0} ns > 150 ns: the host looks disturbed; rerun before quoting figures");
    }
}

fn multicast_p50(r: &McRow) -> f64 {
    median(&r.2)
}

fn multicast_json(rows: &[McRow]) -> String {
    rows.iter()
        .map(|r| {
            format!(
                "{{\"name\":\"{}\",\"rtt_p50_ns\":{:.1},\"rtt_p99_ns\":{},\"rtt_p999_ns\":{}}}",
                r.0,
                multicast_p50(r),
                r.1.value_at_quantile(0.99),
                r.1.value_at_quantile(0.999)
            )
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The multicast rows: a single round trip per sample (two rings, one
/// cursor each), so the figures include two clock reads and are not
/// comparable with the batched rows above; only the ratio between the two
/// multicast rows is.
fn report_multicast(o: &Opts, rows: &[McRow]) {
    let p50 = multicast_p50;
    if o.json {
        return;
    }
    let Some(peer) = rows.iter().find(|r| r.0.contains("disruptor")) else {
        return;
    };
    println!(
        "\nmulticast ring round trip (ping ring + pong ring, one cursor each, busy-spin),\n\
         one round trip per sample (includes two clock reads); p50 = median of per-round medians"
    );
    println!(
        "{:<36} {:>8} {:>8} {:>8} {:>11}",
        "ring", "p50 ns", "p99", "p99.9", "/disruptor"
    );
    for r in rows {
        println!(
            "{:<36} {:>8.0} {:>8} {:>8} {:>10.2}x",
            r.0,
            p50(r),
            r.1.value_at_quantile(0.99),
            r.1.value_at_quantile(0.999),
            p50(r) / p50(peer)
        );
    }
    if let Some(ours) = rows.iter().find(|r| r.0.contains("corelane")) {
        println!(
            "  multicast round trip / disruptor EventPoller = {:.2} (target <= 0.80, issue #3)",
            p50(ours) / p50(peer)
        );
    }
}
