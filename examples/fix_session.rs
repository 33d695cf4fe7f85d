//! A FIX 4.4 session as a session type: an initiator that sends orders and
//! an acceptor that answers them with execution reports, on two cores of a
//! corelane runtime, over io_uring TCP (real FIX tag=value on the wire) or,
//! with `--in-process`, over the in-process rings.
//!
//! ```text
//! cargo run --release --example fix_session                 # both sides, TCP, two cores
//! cargo run --release --example fix_session -- --in-process # both sides, rings
//! cargo run --release --example fix_session -- --quick      # CI smoke run (a few s)
//! target/release/examples/fix_session --acceptor --port 9878 --once
//! target/release/examples/fix_session --initiator --port 9878 --heartbeat 1
//! ```
//!
//! The session (see `examples/fix/proto.rs`): Logon with a HeartBtInt,
//! then a transmit and a receive loop. Heartbeat and TestRequest are driven
//! by timers on the sched wheel (outbound idle: Heartbeat; inbound silence:
//! TestRequest, then Logout); NewOrderSingle → ExecutionReport (ack,
//! partial fill, fill, or reject: every tenth order is invalid);
//! ResendRequest / SequenceReset-GapFill with a store of the last 8192
//! outbound application messages; the Logout handshake. Sequence numbers
//! are checked beside the type: a gap sends a ResendRequest, a number too
//! low without PossDupFlag ends the session.
//!
//! The initiator logs on, idles `--idle` seconds (heartbeats flow), sends
//! a TestRequest and waits for its Heartbeat, sends `--orders` orders with
//! at most `--window` in flight, checks every report against the venue's
//! rules (`examples/fix/app.rs`), and logs out. It prints orders per second
//! (first order sent to last report received) and the order → first
//! execution report latency (p50/p99). `--skip-seq K` makes the initiator
//! skip three outbound sequence numbers after its Kth order (a forced gap,
//! which the acceptor must recover through ResendRequest and GapFill).
//!
//! `--quick`: 2000 orders, window 32, heartbeat 1 s, 1.5 s idle, a forced
//! gap at order 500 (when both sides run in this process), a 60 s deadline; exits non-zero if
//! any order or report is lost, out of order or wrong, if the TestRequest
//! or a Heartbeat is missing, or if a session does not end in a Logout
//! handshake. Other flags: `--acceptor` / `--initiator` (one side, this
//! process, one core; default both), `--once` (acceptor: exit after the
//! first session), `--port N`, `--sender-comp-id ID`, `--target-comp-id
//! ID`, `--heartbeat SECS`, `--cpus a,b` (initiator's, acceptor's),
//! `--no-pin`, `--deadline SECS`.

#[cfg(not(corelane_loom))]
#[allow(dead_code)] // shared with tests/fix_fuzz.rs, which uses other parts
#[path = "fix/app.rs"]
mod app;
#[cfg(not(corelane_loom))]
#[allow(dead_code)] // shared with tests/fix_fuzz.rs, which uses other parts
#[path = "fix/codec.rs"]
mod codec;
#[cfg(not(corelane_loom))]
#[allow(dead_code)] // shared with tests/fix_fuzz.rs, which uses other parts
#[path = "fix/engine.rs"]
mod engine;
#[cfg(not(corelane_loom))]
#[allow(dead_code)] // shared with tests/fix_fuzz.rs, which uses other parts
#[path = "fix/msg.rs"]
mod msg;
#[cfg(not(corelane_loom))]
#[allow(dead_code)] // shared with tests/fix_fuzz.rs, which uses other parts
#[path = "fix/outcome.rs"]
mod outcome;
#[cfg(not(corelane_loom))]
#[allow(dead_code)] // shared with tests/fix_fuzz.rs, which uses other parts
#[path = "fix/proto.rs"]
mod proto;
#[cfg(not(corelane_loom))]
#[allow(dead_code)] // shared with tests/fix_fuzz.rs, which uses other parts
#[path = "fix/run.rs"]
mod run;
#[cfg(not(corelane_loom))]
#[allow(dead_code)] // shared with tests/fix_fuzz.rs, which uses other parts
#[path = "fix/state.rs"]
mod state;
#[cfg(not(corelane_loom))]
#[allow(dead_code)] // shared with tests/fix_fuzz.rs, which uses other parts
#[path = "fix/wire.rs"]
mod wire;

/// Under the loom build (`--cfg corelane_loom`, lint only) there is no io.
#[cfg(corelane_loom)]
fn main() {
    eprintln!("fix_session: corelane::io is not built under --cfg corelane_loom");
}

#[cfg(not(corelane_loom))]
fn main() {
    let o = opts::parse().unwrap_or_else(|e| {
        eprintln!("fix_session: {e}");
        std::process::exit(2);
    });
    match opts::run(&o) {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(e) => {
            eprintln!("fix_session: {e}");
            std::process::exit(1);
        }
    }
}

#[cfg(not(corelane_loom))]
#[allow(dead_code)] // shared with tests/fix_fuzz.rs, which uses other parts
#[path = "fix/opts.rs"]
mod opts;
