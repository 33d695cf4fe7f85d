//! The streaming shapes of `benches/common/stream.rs` on their own: corelane
//! against tokio::sync::mpsc and crossbeam-channel, interleaved round by
//! round, medians with min/max and ratios to the peer of each shape.
//!
//! ```text
//! cargo run --release --example stream                  # 7 rounds, 200k orders
//! cargo run --release --example stream -- --quick       # 2 rounds, 20k orders
//! cargo run --release --example stream -- --rounds 9 --items 100000 --only async
//! ```
//!
//! `--only WORD` keeps the rows whose name contains WORD, `--cap N` runs
//! capacity N only (both repeatable; for `strace -f -c`). The same rows,
//! with targets, are in `examples/latency.rs`.

#[path = "../benches/common/rings.rs"]
mod rings;
#[path = "../benches/common/stream.rs"]
mod stream;

use stream::*;

struct Opts {
    rounds: usize,
    items: u64,
    only: Vec<String>,
    caps: Vec<usize>,
}

fn opts() -> Opts {
    let mut o = Opts {
        rounds: 7,
        items: 200_000,
        only: Vec::new(),
        caps: Vec::new(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut num = |what: &str| -> u64 {
            let v = args.next().and_then(|v| v.parse().ok());
            v.unwrap_or_else(|| panic!("{what} needs a number"))
        };
        match a.as_str() {
            "--quick" => {
                o.rounds = 2;
                o.items = 20_000;
            }
            "--rounds" => o.rounds = num("--rounds") as usize,
            "--items" => o.items = num("--items"),
            "--cap" => o.caps.push(num("--cap") as usize),
            "--only" => o.only.push(args.next().expect("--only needs a word")),
            other => panic!("stream: unknown argument {other:?}"),
        }
    }
    if o.caps.is_empty() {
        o.caps = STREAM_CAPS.to_vec();
    }
    o
}

fn main() {
    let o = opts();
    let cpus = rings::cpu_pair();
    let runs: Vec<_> = stream_runs(&o.caps)
        .into_iter()
        .filter(|(r, _)| o.only.is_empty() || o.only.iter().any(|w| r.name.contains(w.as_str())))
        .collect();
    // Warm-up: every run once, a tenth of the size, untimed.
    for (r, cap) in &runs {
        (r.run)(cpus, *cap, r.items(o.items / 10).max(1));
    }
    // ns[i] = run i's per-round ns per order (per round trip for ping-pong).
    let mut ns = vec![Vec::new(); runs.len()];
    for _ in 0..o.rounds {
        for ((r, cap), ns) in runs.iter().zip(&mut ns) {
            let items = r.items(o.items);
            let took = (r.run)(cpus, *cap, items);
            ns.push(took.as_nanos() as f64 / items as f64);
        }
    }
    println!(
        "{} orders per run, {} interleaved rounds, load {}; ns per order \
         (ping-pong: per round trip, 1/{PING_ITEMS_DIVISOR} as many): median [min, max]",
        o.items,
        o.rounds,
        load()
    );
    let med = |i: usize| rings::percentile(&ns[i], 50.0);
    for (i, (r, cap)) in runs.iter().enumerate() {
        let peer =
            peer_of(r.name).and_then(|p| runs.iter().position(|(q, c)| q.name == p && c == cap));
        let ratio = peer.map_or(String::new(), |p| format!("{:.2}x peer", med(i) / med(p)));
        println!(
            "  {:<36} cap {cap:>5} {:>9.1} [{:>8.1}, {:>8.1}]  {ratio}",
            r.name,
            med(i),
            rings::percentile(&ns[i], 0.0),
            rings::percentile(&ns[i], 100.0)
        );
    }
}

/// The 1-minute load average, for the record (the figures mean little on
/// a busy machine).
fn load() -> String {
    let s = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    s.split_whitespace().next().unwrap_or("?").to_string()
}
