//! Load generator for `examples/broker.rs`: the corelane broker against
//! the tokio reference broker (`tokio::sync::broadcast` + tokio TCP),
//! measured in one run.
//!
//! ```text
//! cargo build --release --examples          # builds broker too
//! target/release/examples/broker_load       # full run (~1 min)
//! target/release/examples/broker_load --quick
//! target/release/examples/broker_load --publishers 2 --subscribers 16 --size 256 --rounds 3
//! target/release/examples/broker_load --rate 100000   # only a fixed rate (per publisher)
//! ```
//!
//! Method: each broker is a `broker` child process with one core pinned to
//! CPU 1 (`--cpus 1`), on its own port (read back from its banner, which
//! also names the implementation and the pid). This client is one thread on
//! CPU 0 with non-blocking sockets on one mio poller (the same client for
//! both; not io_uring), 127.0.0.1 only; every round is bounded in count and
//! time (`broker/load.rs` has the ground rules: stamps, order checks, the
//! drain). Rounds are interleaved: corelane with the block policy,
//! corelane with the drop policy, tokio, and again.
//!
//! Two cases, both 1 topic, P publishers × S subscribers of `size`-byte
//! payloads (default 1 × 8 × 64 B):
//! - **max**: publishers write as fast as the broker takes it. Delivered
//!   msg/s = messages received by all subscribers / (last delivery − first
//!   publish); median of the rounds.
//! - **half**: each publisher at a fixed rate, 50% of the tokio
//!   reference's median delivered rate of the max case (divided by S·P);
//!   publish → deliver latency p50/p99/p99.9 over all rounds.
//!
//! tokio's broadcast channel cannot hold a publisher back, so the
//! reference treats block subscriptions as lossy (it sends GAP frames);
//! its losses are reported, not failures. Under corelane's block policy
//! any lost or reordered message fails the run (exit status 1).
//! `srv µs/msg` is the broker process's CPU time (user + system) over the
//! rounds divided by the messages it delivered.

use std::error::Error;
use std::time::Duration;

use corelane::topology::{pin_current_thread, CpuId};

#[path = "broker/load.rs"]
mod load;
#[allow(dead_code)]
#[path = "echo/servers.rs"]
mod servers;
#[path = "broker/wire.rs"]
mod wire;

use load::{Shape, Tally};
use wire::Policy;

const CLIENT_CPU: u32 = 0;
const BROKER_CPU: u32 = 1;

/// One line of the report: a broker under one policy.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Who {
    CorelaneBlock,
    CorelaneDrop,
    Tokio,
}

impl Who {
    const ALL: [Who; 3] = [Who::CorelaneBlock, Who::CorelaneDrop, Who::Tokio];
    fn name(self) -> &'static str {
        match self {
            Who::CorelaneBlock => "corelane block",
            Who::CorelaneDrop => "corelane drop",
            Who::Tokio => "tokio broadcast",
        }
    }
    fn policy(self) -> Policy {
        match self {
            Who::CorelaneDrop => Policy::Drop,
            _ => Policy::Block,
        }
    }
}

struct Opts {
    quick: bool,
    publishers: usize,
    subscribers: usize,
    size: usize,
    rounds: usize,
    window: Duration,
    /// Only the fixed-rate case, at this many msg/s per publisher.
    rate: Option<f64>,
}

fn parse() -> Result<Opts, String> {
    let mut o = Opts {
        quick: false,
        publishers: 1,
        subscribers: 8,
        size: 64,
        rounds: 5,
        window: Duration::from_millis(2000),
        rate: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        if a == "--quick" {
            o.quick = true;
            o.rounds = 1;
            o.window = Duration::from_millis(300);
            continue;
        }
        let v = it.next().ok_or(format!("{a} needs a value"))?;
        let n: u64 = v.parse().map_err(|e| format!("{a} {v}: {e}"))?;
        match a.as_str() {
            "--publishers" => o.publishers = n.clamp(1, 64) as usize,
            "--subscribers" => o.subscribers = n.clamp(1, 256) as usize,
            "--size" => o.size = (n as usize).clamp(wire::STAMP, 60_000),
            "--rounds" => o.rounds = n.clamp(1, 100) as usize,
            "--window-ms" => o.window = Duration::from_millis(n.clamp(50, 60_000)),
            "--rate" => o.rate = Some(n.max(1) as f64),
            _ => return Err(format!("unknown flag {a}")),
        }
    }
    Ok(o)
}

/// Every round of one broker in one case.
struct Runs {
    who: Who,
    rates: Vec<f64>,
    /// The rounds' counts and latencies together.
    all: Tally,
    cpu_us: f64,
}

impl Runs {
    fn new(who: Who) -> Runs {
        Runs {
            who,
            rates: Vec::new(),
            all: Tally::new(),
            cpu_us: 0.0,
        }
    }
    fn add(&mut self, t: Tally, cpu_us: f64) {
        self.rates.push(t.delivered_per_sec());
        self.all.absorb(t);
        self.cpu_us += cpu_us;
    }
    fn median(&self) -> f64 {
        let mut r = self.rates.clone();
        r.sort_by(f64::total_cmp);
        r.get(r.len() / 2).copied().unwrap_or(0.0)
    }
    fn q_us(&self, q: f64) -> f64 {
        self.all.latency.value_at_quantile(q) as f64 / 1000.0
    }
}

fn run_case(
    name: &str,
    brokers: &[(Who, &servers::Server)],
    shape: &Shape,
    rounds: usize,
) -> Result<Vec<Runs>, Box<dyn Error>> {
    let mut runs: Vec<Runs> = brokers.iter().map(|(w, _)| Runs::new(*w)).collect();
    // Warm-up: one short round each, not counted.
    for (who, srv) in brokers {
        let warm = Shape {
            window: Duration::from_millis(200),
            policy: who.policy(),
            ..shape.clone()
        };
        load::round(srv.addr, &warm)?;
    }
    for _ in 0..rounds {
        for ((who, srv), r) in brokers.iter().zip(&mut runs) {
            let s = Shape {
                policy: who.policy(),
                ..shape.clone()
            };
            let cpu0 = servers::process_cpu_us(srv.pid)?;
            let t = load::round(srv.addr, &s)?;
            let cpu = servers::process_cpu_us(srv.pid)? - cpu0;
            r.add(t, cpu);
        }
    }
    println!(
        "\n{name}: {} publisher(s) x {} subscribers, {} B payloads, {}, {} round(s) of {:?}",
        shape.publishers,
        shape.subscribers,
        shape.size,
        shape.rate.map_or("max speed".to_string(), |r| format!(
            "{r:.0} msg/s per publisher"
        )),
        rounds,
        shape.window
    );
    println!(
        "  {:<16} {:>12} {:>22} {:>9} {:>9} {:>9} {:>8} {:>9} {:>8} {:>7}",
        "broker",
        "msg/s",
        "(min - max)",
        "p50 µs",
        "p99 µs",
        "p99.9 µs",
        "lost",
        "gap-noted",
        "reorder",
        "srv µs"
    );
    for r in &runs {
        let min = r.rates.iter().copied().fold(f64::INFINITY, f64::min);
        let max = r.rates.iter().copied().fold(0.0, f64::max);
        println!(
            "  {:<16} {:>12.0} {:>22} {:>9.1} {:>9.1} {:>9.1} {:>8} {:>9} {:>8} {:>7.3}",
            r.who.name(),
            r.median(),
            format!("({min:.0} - {max:.0})"),
            r.q_us(0.5),
            r.q_us(0.99),
            r.q_us(0.999),
            r.all.lost,
            r.all.gapped,
            r.all.reordered,
            r.cpu_us / r.all.delivered.max(1) as f64,
        );
        for e in r.all.errors.iter().take(3) {
            println!("    ! {e}");
        }
    }
    Ok(runs)
}

fn main() -> Result<(), Box<dyn Error>> {
    let o = parse().map_err(|e| {
        format!(
            "{e}\nflags: --quick --publishers P --subscribers S --size B --rounds N --window-ms MS --rate MSG_PER_S"
        )
    })?;
    let cpus = corelane::topology::allowed_cpus()?;
    if !cpus.contains(CpuId::new(CLIENT_CPU)) || !cpus.contains(CpuId::new(BROKER_CPU)) {
        return Err("needs CPUs 0 and 1".into());
    }
    let bin = servers::binary("broker")?;
    let life = Duration::from_secs(if o.quick { 60 } else { 900 });
    let args = || -> Vec<String> {
        vec![
            "--cpus".into(),
            BROKER_CPU.to_string(),
            "--topics".into(),
            "1".into(),
            "--for".into(),
            life.as_secs().to_string(),
        ]
    };
    let corelane = servers::spawn_child(&bin, "broker", "corelane", &args())?;
    let tokio = servers::spawn_child(&bin, "broker", "tokio", &args())?;
    // After the children started: they inherit this thread's affinity.
    pin_current_thread(CpuId::new(CLIENT_CPU))?;
    let brokers: Vec<(Who, &servers::Server)> = Who::ALL
        .iter()
        .map(|&w| (w, if w == Who::Tokio { &tokio } else { &corelane }))
        .collect();
    println!(
        "broker_load: client on CPU {CLIENT_CPU}, each broker one core on CPU {BROKER_CPU} (corelane pid {}, tokio pid {})",
        corelane.pid, tokio.pid
    );

    let base = Shape {
        publishers: o.publishers,
        subscribers: o.subscribers,
        size: o.size,
        rate: None,
        window: o.window,
        policy: Policy::Block,
        stall: None,
    };
    if let Some(rate) = o.rate {
        let at = Shape {
            rate: Some(rate),
            ..base
        };
        let runs = run_case("fixed rate", &brokers, &at, o.rounds)?;
        let bad: u64 = runs
            .iter()
            .filter(|r| r.who == Who::CorelaneBlock)
            .map(|r| r.all.lost + r.all.reordered + r.all.errors.len() as u64)
            .sum();
        if bad > 0 {
            return Err("messages lost or reordered under the block policy".into());
        }
        return Ok(());
    }
    let max = run_case("max", &brokers, &base, o.rounds)?;
    let tokio_max = max[2].median();
    let per_pub = 0.5 * tokio_max / (o.subscribers * o.publishers) as f64;
    let half = Shape {
        rate: Some(per_pub.max(100.0)),
        ..base.clone()
    };
    let half = run_case("half (50% of tokio's max)", &brokers, &half, o.rounds)?;

    println!("\ntargets (corelane / tokio):");
    let mut failed = false;
    for r in &max[..2] {
        let ratio = r.median() / tokio_max.max(1.0);
        println!(
            "  delivered msg/s, max speed, {}: {ratio:.2}x (target >= 2): {}",
            r.who.name(),
            if ratio >= 2.0 { "MET" } else { "MISSED" }
        );
    }
    for r in &half[..2] {
        let ratio = r.q_us(0.99) / half[2].q_us(0.99).max(1e-3);
        println!(
            "  p99 publish->deliver at half rate, {}: {ratio:.2}x (target <= 0.5): {}",
            r.who.name(),
            if ratio <= 0.5 { "MET" } else { "MISSED" }
        );
    }
    for r in max
        .iter()
        .chain(&half)
        .filter(|r| r.who == Who::CorelaneBlock)
    {
        let bad = r.all.lost + r.all.reordered + r.all.errors.len() as u64;
        failed |= bad > 0;
        println!(
            "  corelane block: {} published, {} delivered, {} lost, {} reordered, {} errors: {}",
            r.all.published,
            r.all.delivered,
            r.all.lost,
            r.all.reordered,
            r.all.errors.len(),
            if bad == 0 { "MET (0 lost)" } else { "FAILED" }
        );
    }
    drop((corelane, tokio));
    if failed {
        return Err("messages lost or reordered under the block policy".into());
    }
    Ok(())
}
