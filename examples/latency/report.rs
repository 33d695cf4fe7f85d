//! The output of `examples/latency.rs`: the text report, or with `--json`
//! one JSON document (and nothing else on stdout).

use serde_json::{json, Value};

use crate::rings::{percentile, CorelaneSpsc, Ring, Rtrb, ROUND_TRIP_CAP};
use crate::sched_row::{PrioRow, WakeRow, CHUNK, LOW_PER_CORE, PERIOD, PRIO_TICK, QUANTUM};
use crate::stream::{peer_of, PING_ITEMS_DIVISOR};
use crate::targets::{Goal, Target};
use crate::{
    McRow, Results, Row, StreamRow, BATCH, DISTURBED_FLOOR_NS, FLOOR_ONE_LINE, THROUGHPUT_CAP,
};

/// Warns on stderr when the one-line floor says the host is disturbed.
pub fn warn_if_disturbed(r: &Results) {
    if r.disturbed() {
        eprintln!(
            "latency: WARNING: one-line floor {:.0} ns > {DISTURBED_FLOOR_NS:.0} ns: \
             the host looks disturbed; rerun before quoting figures",
            r.rtt(FLOOR_ONE_LINE)
        );
    }
}

// ----- text ------------------------------------------------------------------

pub fn print_text(r: &Results, targets: &[Target]) {
    print_rings(r);
    print_streams(r);
    print_sched(r);
    print_multicast(r);
    print_timer(r);
    print_targets(targets);
}

fn print_rings(r: &Results) {
    println!(
        "\nround trip through two rings (ping, echo back), u64, cap {ROUND_TRIP_CAP}; \
         {} interleaved rounds;\n\
         each sample is the mean of {BATCH} round trips; p50 = median of per-round medians;\n\
         throughput: u64 one by one (unless named), cap {THROUGHPUT_CAP}",
        r.rounds
    );
    println!(
        "{:<32} {:>8} {:>8} {:>8} {:>9} {:>8} | {:>9} {:>8}",
        "ring", "p50 ns", "p99", "p99.9", "/floor", "/rtrb", "M items/s", "/rtrb"
    );
    for row in &r.rings {
        println!(
            "{:<32} {} | {}",
            row.name,
            rtt_cells(r, row),
            tput_cells(r, row)
        );
    }
}

/// p50, p99, p99.9, and the p50 as ratios to the floor and to rtrb.
fn rtt_cells(r: &Results, row: &Row) -> String {
    let Some(p50) = row.rtt_p50() else {
        return format!("{:>8} {:>8} {:>8} {:>9} {:>8}", "-", "-", "-", "-", "-");
    };
    format!(
        "{p50:>8.1} {:>8.1} {:>8.1} {:>8.2}x {:>7.2}x",
        percentile(&row.rtt_all, 99.0),
        percentile(&row.rtt_all, 99.9),
        p50 / r.rtt(FLOOR_ONE_LINE),
        p50 / r.rtt(Rtrb::NAME)
    )
}

/// Median throughput, and as a ratio to rtrb's.
fn tput_cells(r: &Results, row: &Row) -> String {
    match row.tput_p50() {
        Some(t) => format!("{t:>9.1} {:>7.2}x", t / r.tput(Rtrb::NAME)),
        None => format!("{:>9} {:>8}", "-", "-"),
    }
}

/// The streaming rows: ns per order, and as a ratio to the peer of the
/// same shape and capacity.
fn print_streams(r: &Results) {
    println!(
        "\nstreaming (3 parties on 2 CPUs: tokio workers or producer/consumer pinned, the \
         forwarder on either), ns per order;\nping-pong: ns per round trip (1/{PING_ITEMS_DIVISOR} \
         as many); p50 = median of per-round figures"
    );
    println!(
        "{:<36} {:>5} {:>9} {:>9} {:>9} {:>7}",
        "shape: implementation", "cap", "p50 ns", "min", "max", "/peer"
    );
    for row in &r.streams {
        let ratio = match peer_of(row.name) {
            Some(peer) => format!("{:>6.2}x", row.p50() / r.stream(peer, row.cap).p50()),
            None => String::new(),
        };
        println!(
            "{:<36} {:>5} {:>9.1} {:>9.1} {:>9.1} {ratio:>7}",
            row.name,
            row.cap,
            row.p50(),
            percentile(&row.ns, 0.0),
            percentile(&row.ns, 100.0)
        );
    }
}

/// The sched rows: cross-core wake round trips beside the spsc ring's and
/// tokio's, then the priority-isolation delays.
fn print_sched(r: &Results) {
    println!(
        "\nsched cross-core wake: ping-pong between a task on each of two cores (the pair above), u64;\n\
         corelane: one 2-core runtime, each core idling as named; tokio: two current_thread runtimes\n\
         on two pinned threads; same channel and tasks on both. tokio mpsc (cap 1): every message\n\
         wakes the other core's task (the targets). waker slot: one value and an AtomicWaker, every\n\
         message a wake at next to no channel cost. corelane spsc (cap {ROUND_TRIP_CAP}, send/recv.await): an\n\
         empty recv re-polls itself up to 32 times first, so quick answers wake nobody, and a tokio\n\
         pair that once parks keeps parking (no target). Each sample is the mean of {BATCH} round trips;\n\
         p50 = median of per-round medians; /spsc: to the corelane spsc ring row's round trip (a round\n\
         trip is two one-way trips on both sides: also the one-way ratio); /tokio: to the tokio row of\n\
         the same channel; wakes, parks: corelane's remote wakes and parks per round trip (stats())"
    );
    println!(
        "{:<40} {:>9} {:>9} {:>8} {:>8} {:>6} {:>6}",
        "channel: runtime, idle policy", "p50 ns", "p99", "/spsc", "/tokio", "wakes", "parks"
    );
    let spsc = r.rtt(CorelaneSpsc::NAME);
    for row in &r.sched.wake {
        let tokio = match row.peer {
            Some(peer) => format!("{:>7.3}x", row.p50() / r.sched.wake(peer).p50()),
            None => format!("{:>8}", "-"),
        };
        let (wakes, parks) = match row.per_rt() {
            Some((w, p)) => (format!("{w:.2}"), format!("{p:.2}")),
            None => ("-".into(), "-".into()),
        };
        println!(
            "{:<40} {:>9.1} {:>9.1} {:>7.2}x {} {wakes:>6} {parks:>6}",
            row.name,
            row.p50(),
            percentile(&row.rtt_all, 99.0),
            row.p50() / spsc,
            tokio
        );
    }
    println!(
        "\nsched priority isolation: 2 cores, each 100% busy with {LOW_PER_CORE} Low tasks looping on \
         {} µs of work\nthen yield (corelane: sched::yield_if_needed, quantum {} µs; tokio multi_thread, \
         2 pinned workers:\nyield_now); a High task per core (tokio: 2 tasks) woken every {} ms:\n\
         \x20 thread wake: a plain thread sends its clock over a corelane spsc ring; delay = send -> first poll\n\
         \x20 timer: sleep_until a deadline {} ms ahead; delay = first poll - deadline (corelane's wheel tick\n\
         \x20 is {} µs for this row, not the default 100 µs; tokio's timer has a 1 ms grain)\n\
         p50 = median of per-round p50s; p99, max = over every round's samples",
        CHUNK.as_micros(),
        QUANTUM.as_micros(),
        PERIOD.as_millis(),
        PERIOD.as_millis(),
        PRIO_TICK.as_micros()
    );
    println!(
        "{:<44} {:>8} {:>8} {:>8} {:>7} {:>11}",
        "variant: runtime", "p50 µs", "p99 µs", "max µs", "wakes", "Low kchunk/s"
    );
    for row in &r.sched.prio {
        println!(
            "{:<44} {:>8.1} {:>8.1} {:>8.1} {:>7} {:>11.0}",
            row.name,
            row.p50() / 1e3,
            row.p99() / 1e3,
            row.hist.max() as f64 / 1e3,
            row.hist.len(),
            crate::median(&row.low_rate) / 1e3
        );
    }
}

/// The multicast rows: a single round trip per sample (two rings, one
/// cursor each), so the figures include two clock reads and are not
/// comparable with the batched rows above; only the ratio between the two
/// multicast rows is.
fn print_multicast(r: &Results) {
    println!(
        "\nmulticast ring round trip (ping ring + pong ring, one cursor each, busy-spin),\n\
         one round trip per sample (includes two clock reads); p50 = median of per-round medians"
    );
    println!(
        "{:<36} {:>8} {:>8} {:>8} {:>11}",
        "ring", "p50 ns", "p99", "p99.9", "/disruptor"
    );
    let peer = r.multicast(crate::multicast_row::DISRUPTOR).p50();
    for row in &r.multicast {
        println!(
            "{:<36} {:>8.0} {:>8} {:>8} {:>10.2}x",
            row.name,
            row.p50(),
            row.hist.value_at_quantile(0.99),
            row.hist.value_at_quantile(0.999),
            row.p50() / peer
        );
    }
}

fn print_timer(r: &Results) {
    println!(
        "\ntimer wheel, 100k pending (single thread, {}; each figure the best of its repetitions):",
        r.timer_place
    );
    for (label, ns) in &r.timer {
        println!("  {label:<48} {ns:>8.1} ns");
    }
}

fn print_targets(targets: &[Target]) {
    println!("\ntargets, this run (ratios of medians):");
    for t in targets {
        let verdict = match t.met() {
            Some(true) => "  met",
            Some(false) => "  MISSED",
            None => "",
        };
        println!(
            "  {:<64} = {:>6.3}  ({}){verdict}",
            t.spec.what,
            t.value,
            t.describe_goal()
        );
    }
}

// ----- JSON ------------------------------------------------------------------

/// One decimal, as in the text report; NaN and the infinities become `null`.
fn round1(x: f64) -> Value {
    json!((x * 10.0).round() / 10.0)
}

pub fn to_json(r: &Results, targets: &[Target], placement: Option<&str>) -> Value {
    let timer: Vec<Value> = r
        .timer
        .iter()
        .map(|(name, ns)| json!({"name": name, "ns": round1(*ns)}))
        .collect();
    json!({
        "rounds": r.rounds,
        "batch": BATCH,
        "placement": placement,
        "host_disturbed": r.disturbed(),
        "rows": r.rings.iter().map(ring_json).collect::<Vec<_>>(),
        "streams": r.streams.iter().map(stream_json).collect::<Vec<_>>(),
        "multicast": r.multicast.iter().map(multicast_json).collect::<Vec<_>>(),
        "sched_wake": r.sched.wake.iter().map(wake_json).collect::<Vec<_>>(),
        "sched_priority": {
            "low_tasks_per_core": LOW_PER_CORE,
            "low_chunk_us": CHUNK.as_micros() as u64,
            "period_us": PERIOD.as_micros() as u64,
            "corelane_tick_us": PRIO_TICK.as_micros() as u64,
            "corelane_quantum_us": QUANTUM.as_micros() as u64,
            "rows": r.sched.prio.iter().map(prio_json).collect::<Vec<_>>(),
        },
        "timer": timer,
        "timer_place": r.timer_place,
        "targets": targets.iter().map(target_json).collect::<Vec<_>>(),
    })
}

/// Absent figures (no round trips, or no throughput, for this row) are `null`.
fn ring_json(row: &Row) -> Value {
    let pct = |p| row.rtt_p50().map(|_| round1(percentile(&row.rtt_all, p)));
    json!({
        "name": row.name,
        "rtt_p50_ns": row.rtt_p50().map(round1),
        "rtt_p99_ns": pct(99.0),
        "rtt_p999_ns": pct(99.9),
        "mitems_per_s": row.tput_p50().map(round1),
    })
}

fn stream_json(row: &StreamRow) -> Value {
    json!({
        "name": row.name,
        "capacity": row.cap,
        "ns_p50": round1(row.p50()),
        "ns_min": round1(percentile(&row.ns, 0.0)),
        "ns_max": round1(percentile(&row.ns, 100.0)),
    })
}

fn multicast_json(row: &McRow) -> Value {
    json!({
        "name": row.name,
        "rtt_p50_ns": round1(row.p50()),
        "rtt_p99_ns": row.hist.value_at_quantile(0.99),
        "rtt_p999_ns": row.hist.value_at_quantile(0.999),
    })
}

/// ns per round trip; corelane rows add their remote wakes and parks per
/// round trip (`null` for tokio rows).
fn wake_json(row: &WakeRow) -> Value {
    let per_rt = row.per_rt();
    json!({
        "name": row.name,
        "peer": row.peer,
        "rtt_p50_ns": round1(row.p50()),
        "rtt_p99_ns": round1(percentile(&row.rtt_all, 99.0)),
        "remote_wakes_per_rtt": per_rt.map(|(w, _)| (w * 100.0).round() / 100.0),
        "parks_per_rtt": per_rt.map(|(_, p)| (p * 100.0).round() / 100.0),
    })
}

/// Delays in ns; `low_chunks_per_s` the median of the rounds.
fn prio_json(row: &PrioRow) -> Value {
    json!({
        "name": row.name,
        "p50_ns": round1(row.p50()),
        "p99_ns": round1(row.p99()),
        "max_ns": row.hist.max(),
        "samples": row.hist.len(),
        "low_chunks_per_s": round1(crate::median(&row.low_rate)),
    })
}

fn target_json(t: &Target) -> Value {
    let (op, target, note) = match t.spec.goal {
        Goal::AtMost(x) => (Some("<="), Some(x), None),
        Goal::AtLeast(x) => (Some(">="), Some(x), None),
        Goal::Info(note) => (None, None, Some(note)),
    };
    json!({
        "name": t.spec.what,
        "value": t.value,
        "op": op,
        "target": target,
        "met": t.met(),
        "note": note,
    })
}
