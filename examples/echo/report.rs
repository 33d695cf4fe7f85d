//! The output of `examples/echo_load.rs`: a text table and the ratios to
//! the reference implementation, or with `--json` one JSON document (and
//! nothing else on stdout).

use serde_json::{json, Value};

use crate::servers::Server;
use crate::{Cell, Opts, Results, CLIENT_CPU, SERVER_CPU};

/// Median, min and max of one figure across windows.
#[derive(Clone, Copy, Debug)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Spread {
    pub fn of(v: &[f64]) -> Spread {
        let mut s = v.to_vec();
        s.sort_by(f64::total_cmp);
        let n = s.len();
        let median = match n {
            0 => f64::NAN,
            _ if n % 2 == 1 => s[n / 2],
            _ => (s[n / 2 - 1] + s[n / 2]) / 2.0,
        };
        Spread {
            median,
            min: s.first().copied().unwrap_or(f64::NAN),
            max: s.last().copied().unwrap_or(f64::NAN),
        }
    }

    fn width(&self) -> f64 {
        self.max - self.min
    }

    fn json(&self) -> Value {
        json!({ "median": self.median, "min": self.min, "max": self.max })
    }
}

/// A round-trip percentile of `cell`, µs.
fn pct_us(cell: &Cell, q: f64) -> f64 {
    cell.hist.value_at_quantile(q) as f64 / 1e3
}

/// `reference` against one peer in one case.
struct Ratio<'a> {
    case: &'static str,
    peer: &'a str,
    /// reference / peer; > 1: the reference serves more.
    req_s: f64,
    /// reference / peer; < 1: the reference spends less CPU per request.
    srv: f64,
    /// Whether the req/s medians differ by more than the larger spread
    /// (`None`: too few windows to tell).
    req_s_clear: Option<bool>,
    srv_clear: Option<bool>,
}

fn ratio<'a>(reference: &Cell, peer: &'a Cell) -> Ratio<'a> {
    // One window each has no spread: nothing can be claimed.
    let clear = |a: &[f64], b: &[f64]| {
        let (sa, sb) = (Spread::of(a), Spread::of(b));
        let apart = (sa.median - sb.median).abs() > sa.width().max(sb.width());
        (a.len() >= 2 && b.len() >= 2).then_some(apart)
    };
    Ratio {
        case: peer.case.name,
        peer: &peer.imp,
        req_s: Spread::of(&reference.req_s).median / Spread::of(&peer.req_s).median,
        srv: Spread::of(&reference.srv_us).median / Spread::of(&peer.srv_us).median,
        req_s_clear: clear(&reference.req_s, &peer.req_s),
        srv_clear: clear(&reference.srv_us, &peer.srv_us),
    }
}

fn ratios<'a>(r: &'a Results, reference: &str) -> Vec<Ratio<'a>> {
    r.cells
        .iter()
        .filter(|c| c.imp != reference)
        .filter_map(|peer| Some(ratio(r.cell(reference, peer.case.name)?, peer)))
        .collect()
}

// ----- text ------------------------------------------------------------------

pub fn print_header(o: &Opts, servers: &[Server]) {
    println!(
        "echo: servers' one thread on CPU {SERVER_CPU}, this client (mio/epoll, one thread) on \
         CPU {CLIENT_CPU};\n{} interleaved round(s) of {:.1} s per implementation and case, \
         {:.1} s warm-up{}",
        o.rounds,
        o.secs,
        o.warmup,
        if o.quick {
            " (--quick: a smoke run, not a measurement)"
        } else {
            ""
        }
    );
    for s in servers {
        println!("  {:<9} pid {:<7} {}", s.name, s.pid, s.addr);
    }
}

pub fn print_text(r: &Results, reference: &str) {
    println!(
        "\nreq/s: median [min-max] of the windows; RTT percentiles from all windows (µs);\n\
         srv: server CPU µs per request (utime+stime of its process); cli%: this client's CPU"
    );
    println!(
        "{:<9} {:>5} {:>5} {:>3} {:<9} {:>10} {:>21} {:>8} {:>8} {:>8} {:>7} {:>5}",
        "case",
        "conns",
        "bytes",
        "D",
        "impl",
        "req/s",
        "[min-max]",
        "p50",
        "p90",
        "p99",
        "srv",
        "cli%"
    );
    for c in &r.cells {
        let req = Spread::of(&c.req_s);
        println!(
            "{:<9} {:>5} {:>5} {:>3} {:<9} {:>10.0} {:>21} {:>8.1} {:>8.1} {:>8.1} {:>7.2} {:>5.0}",
            c.case.name,
            c.case.shape.conns,
            c.case.shape.size,
            c.case.shape.depth,
            c.imp,
            req.median,
            format!("[{:.0}-{:.0}]", req.min, req.max),
            pct_us(c, 0.50),
            pct_us(c, 0.90),
            pct_us(c, 0.99),
            Spread::of(&c.srv_us).median,
            Spread::of(&c.cli_pct).median,
        );
    }
    print_ratios(r, reference);
    warn_client_bound(r);
    for c in r.cells.iter().filter(|c| c.mismatches > 0) {
        eprintln!(
            "echo_load: {} {}: {} echoes differed from what was sent",
            c.case.name, c.imp, c.mismatches
        );
    }
}

fn print_ratios(r: &Results, reference: &str) {
    let list = ratios(r, reference);
    if list.is_empty() {
        return;
    }
    println!(
        "\n{reference} / peer: req/s (> 1: {reference} serves more), srv (< 1: {reference} \
         spends less CPU per request);\n* = the medians differ by more than the larger spread \
         (? = one window each: no spread to tell)"
    );
    println!("{:<9} {:<9} {:>8} {:>8}", "case", "peer", "req/s", "srv");
    for q in &list {
        println!(
            "{:<9} {:<9} {:>7.2}x{} {:>7.2}x{}",
            q.case,
            q.peer,
            q.req_s,
            mark(q.req_s_clear),
            q.srv,
            mark(q.srv_clear),
        );
    }
}

/// `*` where a ratio is clear, `?` where one window each cannot tell.
fn mark(clear: Option<bool>) -> &'static str {
    match clear {
        Some(true) => "*",
        Some(false) => " ",
        None => "?",
    }
}

/// Where the client ran near 100%, req/s measures the client.
fn warn_client_bound(r: &Results) {
    for c in &r.cells {
        let cli = Spread::of(&c.cli_pct).median;
        if cli > 90.0 {
            eprintln!(
                "echo_load: {} {}: the client ran at {cli:.0}% CPU: req/s there is the \
                 client's limit; compare srv instead",
                c.case.name, c.imp
            );
        }
    }
}

// ----- JSON ------------------------------------------------------------------

pub fn to_json(r: &Results, reference: &str) -> Value {
    let cells: Vec<Value> = r.cells.iter().map(cell_json).collect();
    let ratios: Vec<Value> = ratios(r, reference)
        .iter()
        .map(|q| {
            json!({
                "case": q.case,
                "reference": reference,
                "peer": q.peer,
                "req_s": q.req_s,
                "req_s_clear": q.req_s_clear,
                "srv": q.srv,
                "srv_clear": q.srv_clear,
            })
        })
        .collect();
    json!({
        "bench": "echo_load",
        "topology": {
            "server_cpu": SERVER_CPU,
            "client_cpu": CLIENT_CPU,
            "server_threads": 1,
        },
        "env": env_json(),
        "rounds": r.rounds,
        "window_secs": r.secs,
        "warmup_secs": r.warmup,
        "quick": r.quick,
        "cells": cells,
        "ratios": ratios,
        "mismatches": r.mismatches(),
    })
}

fn cell_json(c: &Cell) -> Value {
    json!({
        "impl": c.imp,
        "case": c.case.name,
        "conns": c.case.shape.conns,
        "bytes": c.case.shape.size,
        "depth": c.case.shape.depth,
        "req_s": Spread::of(&c.req_s).json(),
        "req_s_windows": c.req_s,
        "rtt_us": {
            "p50": pct_us(c, 0.50),
            "p90": pct_us(c, 0.90),
            "p99": pct_us(c, 0.99),
            "p999": pct_us(c, 0.999),
            "max": c.hist.max() as f64 / 1e3,
            "samples": c.hist.len(),
        },
        "srv_cpu_us_per_req": Spread::of(&c.srv_us).json(),
        "client_cpu_pct": Spread::of(&c.cli_pct).json(),
        "requests": c.requests,
        "mismatches": c.mismatches,
    })
}

/// Kernel and CPU model, for telling runs apart.
fn env_json() -> Value {
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split(':').nth(1))
        .unwrap_or("")
        .trim();
    json!({ "kernel": kernel.trim(), "cpu_model": model })
}
