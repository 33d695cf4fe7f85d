//! TCP echo throughput, latency and server CPU per request: `corelane::io`
//! against tokio (current_thread per core, multi_thread), monoio (io_uring)
//! and a plain mio epoll loop, measured side by side in one run.
//!
//! ```text
//! cargo build --release --examples             # builds echo_server too
//! target/release/examples/echo_load            # full run (~8 min)
//! target/release/examples/echo_load --quick    # smoke run (< 20 s)
//! target/release/examples/echo_load --case pipe,c256 --impls corelane,monoio --json
//! ```
//!
//! Method (`shared/research/io.md` section 8, the "1+1" topology): each
//! implementation is an `echo_server` child process with one thread pinned
//! to CPU 1, on its own port (`--port 0`, read back from its banner, which
//! also proves the port serves the implementation it claims). This client is
//! one thread on CPU 0 driving non-blocking sockets through mio (epoll), so
//! the client is the same for every server and is not itself io_uring.
//! Per case it pre-connects C connections to each server, warms each up,
//! then runs timed windows interleaved across implementations (A B C D E
//! A B C D E ...), closed loop with D messages in flight per connection.
//! Every message carries a sequence number and its send time and every echo
//! is checked byte for byte; any mismatch fails the run (exit status 1).
//!
//! Reported per implementation and case: req/s (median and min–max of the
//! windows), RTT p50/p90/p99 (µs, from one hdrhistogram over all windows),
//! `srv` = server CPU µs per request (Δ utime+stime of the server process
//! over the window / requests; loopback receive work that the kernel does on
//! the sender's CPU is not in it), and `cli%` = this client's CPU use in the
//! window (near 100%: the client, not the server, is the limit; compare
//! `srv` then). Then the ratios of corelane to each peer; a ratio is marked
//! `*` only when the two medians differ by more than the larger spread.
//! With `--json` only one JSON document goes to stdout.

use std::error::Error;
use std::time::{Duration, Instant};

use corelane::topology::{allowed_cpus, pin_current_thread, CpuId};
use hdrhistogram::Histogram;

#[path = "echo/client.rs"]
mod client;
#[path = "echo/report.rs"]
mod report;
#[path = "echo/servers.rs"]
mod servers;

use client::{Load, Shape, Tally};
use servers::Server;

/// The client's CPU.
const CLIENT_CPU: u32 = 0;
/// The CPU of every server's one thread.
const SERVER_CPU: u32 = 1;
/// Every implementation `echo_server` has, in run (and print) order.
const IMPLS: [&str; 5] = ["corelane", "tokio-ct", "tokio-mt", "monoio", "mio"];
/// The implementation the ratios are taken from (the first one run when
/// it is not).
const REFERENCE: &str = "corelane";

/// One workload.
#[derive(Clone, Copy, Debug)]
struct Case {
    name: &'static str,
    shape: Shape,
    /// Connections under `--quick`.
    quick_conns: usize,
}

const fn case(name: &'static str, conns: usize, size: usize, depth: usize, quick: usize) -> Case {
    Case {
        name,
        shape: Shape { conns, size, depth },
        quick_conns: quick,
    }
}

const CASES: [Case; 5] = [
    case("pingpong", 1, 64, 1, 1),
    case("c64", 64, 64, 1, 16),
    case("c256", 256, 64, 1, 32),
    case("pipe", 16, 64, 16, 4),
    case("4k", 16, 4096, 1, 4),
];

struct Opts {
    quick: bool,
    json: bool,
    cases: Vec<Case>,
    impls: Vec<String>,
    rounds: usize,
    secs: f64,
    warmup: f64,
}

const USAGE: &str = "usage: echo_load [--quick] [--json] [--case pingpong,c64,c256,pipe,4k] \
                     [--impls corelane,tokio-ct,tokio-mt,monoio,mio] [--rounds N] [--secs S] \
                     [--warmup S]";

fn opts() -> Result<Opts, String> {
    let mut o = Opts {
        quick: false,
        json: false,
        cases: CASES.to_vec(),
        impls: IMPLS.iter().map(|s| s.to_string()).collect(),
        rounds: 5,
        secs: 3.0,
        warmup: 2.0,
    };
    let (mut rounds, mut secs, mut warmup) = (None, None, None);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--quick" => o.quick = true,
            "--json" => o.json = true,
            "--case" | "--cases" => o.cases = parse_cases(&value()?)?,
            "--impls" | "--impl" => o.impls = parse_impls(&value()?)?,
            "--rounds" => rounds = Some(parse_num(&value()?, "--rounds")?),
            "--secs" => secs = Some(parse_num(&value()?, "--secs")?),
            "--warmup" => warmup = Some(parse_num(&value()?, "--warmup")?),
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    if o.quick {
        (o.rounds, o.secs, o.warmup) = (1, 0.5, 0.1);
        for c in &mut o.cases {
            c.shape.conns = c.quick_conns;
        }
    }
    o.rounds = rounds.unwrap_or(o.rounds).max(1);
    o.secs = secs.unwrap_or(o.secs).clamp(0.05, 60.0);
    o.warmup = warmup.unwrap_or(o.warmup).clamp(0.0, 60.0);
    Ok(o)
}

fn parse_num<T: std::str::FromStr>(s: &str, flag: &str) -> Result<T, String> {
    s.parse()
        .map_err(|_| format!("{flag}: not a number: {s:?}"))
}

fn parse_cases(s: &str) -> Result<Vec<Case>, String> {
    if s == "all" {
        return Ok(CASES.to_vec());
    }
    s.split(',')
        .map(|n| CASES.iter().find(|c| c.name == n).copied())
        .collect::<Option<Vec<_>>>()
        .ok_or(format!("--case: one of {s:?} is not a case\n{USAGE}"))
}

fn parse_impls(s: &str) -> Result<Vec<String>, String> {
    let list: Vec<String> = s.split(',').map(str::to_string).collect();
    match list.iter().find(|i| !IMPLS.contains(&i.as_str())) {
        Some(bad) => Err(format!("--impls: unknown implementation {bad:?}\n{USAGE}")),
        None => Ok(list),
    }
}

impl Opts {
    /// What the whole run should take, warm-ups and windows (drains and
    /// connects come on top).
    fn budget(&self) -> Duration {
        let per_impl = self.warmup + self.rounds as f64 * self.secs;
        Duration::from_secs_f64(self.cases.len() as f64 * self.impls.len() as f64 * per_impl)
    }
}

/// One implementation under one case, across rounds.
struct Cell {
    imp: String,
    case: Case,
    /// Per window.
    req_s: Vec<f64>,
    srv_us: Vec<f64>,
    cli_pct: Vec<f64>,
    /// Round trips of every window, ns.
    hist: Histogram<u64>,
    mismatches: u64,
    requests: u64,
}

/// Everything one run measured.
struct Results {
    rounds: usize,
    secs: f64,
    warmup: f64,
    quick: bool,
    cells: Vec<Cell>,
}

impl Results {
    fn cell(&self, imp: &str, case: &str) -> Option<&Cell> {
        self.cells
            .iter()
            .find(|c| c.imp == imp && c.case.name == case)
    }

    fn mismatches(&self) -> u64 {
        self.cells.iter().map(|c| c.mismatches).sum()
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let o = opts().unwrap_or_else(|e| {
        eprintln!("echo_load: {e}");
        std::process::exit(2);
    });
    check_cpus()?;
    let bin = servers::server_binary()?;
    // The servers are started before this thread is pinned (a pinned
    // thread's children inherit its one-CPU mask); each pins its own thread.
    // They outlive the run by a margin and are killed when `servers` drops.
    let cap = o.budget() * 2 + Duration::from_secs(60);
    let servers = o
        .impls
        .iter()
        .map(|name| servers::spawn(&bin, name, SERVER_CPU, cap))
        .collect::<Result<Vec<Server>, _>>()?;
    pin_current_thread(CpuId::new(CLIENT_CPU))?;
    if !o.json {
        report::print_header(&o, &servers);
    }
    let results = measure(&o, &servers, Instant::now() + cap)?;
    drop(servers);
    let reference = match o.impls.iter().any(|i| i == REFERENCE) {
        true => REFERENCE,
        false => o.impls[0].as_str(),
    };
    if o.json {
        println!("{:#}", report::to_json(&results, reference));
    } else {
        report::print_text(&results, reference);
    }
    match results.mismatches() {
        0 => Ok(()),
        n => Err(format!("{n} echoes differed from what was sent").into()),
    }
}

/// The client's and the servers' CPUs must both be allowed.
fn check_cpus() -> Result<(), Box<dyn Error>> {
    let allowed = allowed_cpus()?;
    for cpu in [CLIENT_CPU, SERVER_CPU] {
        if !allowed.contains(CpuId::new(cpu)) {
            return Err(format!("CPU {cpu} is not in this process's mask [{allowed}]").into());
        }
    }
    Ok(())
}

/// Per case: connect to every server, warm each up, then the interleaved
/// windows; stops with an error past `deadline`.
fn measure(o: &Opts, servers: &[Server], deadline: Instant) -> Result<Results, Box<dyn Error>> {
    let epoch = Instant::now();
    let mut cells = Vec::new();
    for case in &o.cases {
        let mut loads = Vec::with_capacity(servers.len());
        let mut row: Vec<Cell> = Vec::with_capacity(servers.len());
        for s in servers {
            let mut load = Load::connect(s.addr, case.shape, epoch)
                .map_err(|e| format!("{} {}: connect: {e}", s.name, case.name))?;
            let mut warm = Tally::default();
            let mut hist = client::rtt_histogram();
            load.window(Duration::from_secs_f64(o.warmup), &mut hist)?;
            load.drain(&mut warm)?;
            loads.push(load);
            row.push(Cell::new(&s.name, *case, warm.mismatches));
        }
        for _round in 0..o.rounds {
            if Instant::now() > deadline {
                return Err("the run overran its time budget".into());
            }
            for ((s, load), cell) in servers.iter().zip(&mut loads).zip(&mut row) {
                timed_window(o, s, load, cell)
                    .map_err(|e| format!("{} {}: {e}", s.name, case.name))?;
            }
        }
        cells.extend(row);
    }
    Ok(Results {
        rounds: o.rounds,
        secs: o.secs,
        warmup: o.warmup,
        quick: o.quick,
        cells,
    })
}

impl Cell {
    fn new(imp: &str, case: Case, mismatches: u64) -> Cell {
        Cell {
            imp: imp.to_string(),
            case,
            req_s: Vec::new(),
            srv_us: Vec::new(),
            cli_pct: Vec::new(),
            hist: client::rtt_histogram(),
            mismatches,
            requests: 0,
        }
    }
}

/// One measured window against server `s`, added to `cell`.
fn timed_window(
    o: &Opts,
    s: &Server,
    load: &mut Load,
    cell: &mut Cell,
) -> Result<(), Box<dyn Error>> {
    let (srv0, cli0) = (servers::process_cpu_us(s.pid)?, servers::thread_cpu_us());
    let mut tally = load.window(Duration::from_secs_f64(o.secs), &mut cell.hist)?;
    let (srv1, cli1) = (servers::process_cpu_us(s.pid)?, servers::thread_cpu_us());
    load.drain(&mut tally)?;
    if tally.done == 0 {
        return Err("no echo in a whole window".into());
    }
    let secs = tally.elapsed.as_secs_f64();
    cell.req_s.push(tally.done as f64 / secs);
    cell.srv_us.push((srv1 - srv0) / tally.done as f64);
    cell.cli_pct.push((cli1 - cli0) / 1e4 / secs);
    cell.mismatches += tally.mismatches;
    cell.requests += tally.done;
    Ok(())
}
