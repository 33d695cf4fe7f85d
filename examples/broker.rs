//! A pub/sub message broker built only from corelane: TCP publishers →
//! one `queue::multicast` ring of `bytes::Bytes` per topic → TCP
//! subscribers, on `io::Server` connections with heartbeats on the
//! scheduler's timer wheel. `--impl tokio` runs the reference broker
//! (`tokio::sync::broadcast` + tokio TCP) that `broker_load` measures it
//! against.
//!
//! ```text
//! cargo run --release --example broker -- --port 7100 --topics 4 --stats-every 5
//! cargo run --release --example broker -- --impl tokio --port 7101
//! cargo run --release --example broker_load            # both, side by side
//! ```
//!
//! **Wire format** (all little-endian; `broker/wire.rs` has the encoders
//! and the decoder every part of this example shares):
//!
//! ```text
//! frame = len:u32 kind:u8 body          len = 1 + body length, 1..=--max-frame
//! 1 PUBLISH     topic:u16 payload       client → broker; broker → subscriber unchanged
//! 2 SUBSCRIBE   topic:u16 policy:u8     0 = block, 1 = drop
//! 3 SUBSCRIBED  topic:u16 policy:u8     messages published from now on reach you
//! 4 HEARTBEAT   -                       both ways after a quiet interval
//! 5 GAP         topic:u16 missed:u64    drop policy: this many were skipped
//! 6 ERROR       code:u8 text            1 malformed, 2 unknown topic, 3 oversize,
//!                                       4 silent, 5 unknown kind, 7 duplicate;
//!                                       2 and 7 skip the frame, the others
//!                                       close the connection (6, stalled,
//!                                       is never sent: see below)
//! ```
//!
//! **Semantics.** Topics are `0..--topics`. A subscriber receives every
//! message of its topics published after its SUBSCRIBED, each publisher's
//! in publication order. *Block*: the topic's publishers wait for this
//! subscriber, and nothing is lost. *Drop*: it never holds anyone back;
//! when it falls a ring behind it gets a GAP with the count and carries on
//! from the oldest message still there. No replay store: a reconnecting
//! subscriber resumes from now.
//!
//! **Liveness.** Every peer, a subscriber that only receives included,
//! must send something (a HEARTBEAT will do) at least once per `--missed`
//! heartbeat intervals, or it gets ERROR silent and is closed. A
//! connection that does not take what the broker sends for as long is
//! closed without an ERROR (it could not be delivered: the *stalled* case)
//! — whatever its policy; this is what bounds how long a stuck
//! block-policy subscriber holds its publishers. A peer that shuts its
//! write side gets the answers already queued, then the close: nothing
//! more is delivered to it. Bad input gets an ERROR frame (and a close,
//! when fatal); the broker keeps serving everyone else. A connection whose
//! answers pile up unread (64 KiB of them) is not read until they go. The
//! design is in `broker/server.rs` and `broker/fanout.rs`.
//!
//! `--stats-every SECS` prints each topic's counters (messages in and out,
//! drops, lag events, subscribers) and `Runtime::stats()` per core.

use std::io::Write;
use std::time::{Duration, Instant};

#[path = "broker/config.rs"]
mod config;
#[cfg(not(corelane_loom))] // no io under the loom build (lint only)
#[path = "broker/fanout.rs"]
mod fanout;
#[cfg(not(corelane_loom))]
#[path = "broker/server.rs"]
mod server;
#[path = "broker/tokio_check.rs"]
mod tokio_check;
#[path = "broker/tokio_ref.rs"]
mod tokio_ref;
#[path = "broker/wire.rs"]
mod wire;

use config::{Config, USAGE};

enum Broker {
    #[cfg(not(corelane_loom))]
    Corelane(server::Running),
    Tokio(tokio_ref::Running),
}

impl Broker {
    fn addr(&self) -> std::net::SocketAddr {
        match self {
            #[cfg(not(corelane_loom))]
            Broker::Corelane(r) => r.addr,
            Broker::Tokio(r) => r.addr,
        }
    }

    /// One line per topic with traffic, then the runtime's cores.
    fn print_stats(&self, since: Instant) {
        let t = since.elapsed().as_secs_f64();
        let rows = match self {
            #[cfg(not(corelane_loom))]
            Broker::Corelane(r) => r.stats(),
            Broker::Tokio(r) => r.stats(),
        };
        let mut out = std::io::stdout().lock();
        for s in rows
            .iter()
            .filter(|s| s.msgs_in + s.msgs_out + s.subscribers > 0)
        {
            let _ = writeln!(
                out,
                "stats t={t:.0}s topic={} in={} out={} drops={} lagged={} subscribers={}",
                s.topic, s.msgs_in, s.msgs_out, s.drops, s.lagged, s.subscribers
            );
        }
        #[cfg(not(corelane_loom))]
        if let Broker::Corelane(r) = self {
            let (gone, fatal) = r.ended();
            let _ = writeln!(
                out,
                "stats t={t:.0}s connections ended: {gone} by the peer, by ERROR malformed {} oversize {} silent {} unknown-kind {} stalled {}",
                fatal[1], fatal[3], fatal[4], fatal[5], fatal[6]
            );
            for line in r.runtime_stats() {
                let _ = writeln!(out, "stats t={t:.0}s {line}");
            }
        }
        let _ = out.flush();
    }

    fn stop(self) {
        match self {
            #[cfg(not(corelane_loom))]
            Broker::Corelane(r) => r.stop(),
            Broker::Tokio(r) => r.stop(),
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--self-check") {
        match tokio_check::self_check() {
            Ok(()) => println!("tokio reference broker: self-check passed"),
            Err(e) => {
                eprintln!("tokio reference broker: self-check FAILED: {e}");
                std::process::exit(1);
            }
        }
        return;
    }
    let (imp, cfg) = match Config::parse(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("usage: broker [flags]\n{e}");
            std::process::exit(2);
        }
    };
    let started = match imp.as_str() {
        #[cfg(not(corelane_loom))]
        "corelane" => server::start(&cfg).map(Broker::Corelane),
        "tokio" => tokio_ref::start(&cfg).map(Broker::Tokio),
        other => {
            eprintln!("--impl {other}: corelane or tokio\n{USAGE}");
            std::process::exit(2);
        }
    };
    let broker = match started {
        Ok(b) => b,
        Err(e) => {
            eprintln!("broker {imp}: {e}");
            std::process::exit(1);
        }
    };
    // The banner `broker_load` reads (and checks).
    println!(
        "broker impl={imp} addr={} pid={}",
        broker.addr(),
        std::process::id()
    );
    let _ = std::io::stdout().flush();
    let since = Instant::now();
    let end = cfg.run_for.map(|d| since + d);
    let mut next_stats = cfg.stats_every.map(|p| since + p);
    loop {
        let now = Instant::now();
        if end.is_some_and(|e| now >= e) {
            break;
        }
        if let (Some(at), Some(p)) = (next_stats, cfg.stats_every) {
            if now >= at {
                broker.print_stats(since);
                next_stats = Some(at + p);
            }
        }
        let wake = [end, next_stats].into_iter().flatten().min();
        let nap = wake.map_or(Duration::from_secs(1), |w| w.saturating_duration_since(now));
        std::thread::sleep(nap.min(Duration::from_secs(1)));
    }
    if cfg.stats_every.is_some() {
        broker.print_stats(since);
    }
    broker.stop();
}
