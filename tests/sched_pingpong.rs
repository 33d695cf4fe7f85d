//! `sched` cross-core ping-pong: a task on core 0 and one on core 1 bounce
//! a counter through a pair of channels, each hop a remote wake.
//!
//! * 1M round trips through corelane's own SPSC rings (`send().await` /
//!   `recv().await`, capacity 1; 50k in debug builds) and 100k through
//!   `tokio::sync::mpsc` (capacity 1; 20k in debug builds), with spinning
//!   idle cores; every reply checked, both tasks stay on their cores, the
//!   pong side ends when the ping side hangs up.
//! * The same with parked idle cores (every hop a doorbell on a parked
//!   core, where a lost wake-up would hide), 10k round trips.
//!
//! The rings' async path re-polls itself (`wake_by_ref`) while the other
//! side is likely about to move, instead of registering a waker, so in
//! steady state most of their hops are local self-wakes plus cross-core
//! cache traffic; the tokio channels wake the other core's task on every
//! hop (one remote wake each). Each test logs the per-core counts.
//!
//! The tests spin both cores, so they run one at a time (the
//! [`common::serial`] lock), each under a watchdog.

use std::future::Future;
use std::time::{Duration, Instant};

use corelane::queue::spsc;
use corelane::sched::{self, Idle, Priority, Runtime};

#[path = "common/sched.rs"]
mod common;
use common::{bounded_by, serial, two_core_builder, SHUTDOWN};

/// This file's watchdog, twice [`common::WATCHDOG`].
const WATCHDOG: Duration = Duration::from_secs(120);

/// Round trips with spinning cores. The rings: 1M in release builds (about
/// 1 s on the quiet 2-vCPU dev VM), 50k in debug. tokio's channels cost far
/// more per round trip here (7.5 us in debug, 23 us in release at 5c1de88),
/// so 100k in release and 20k in debug. With other processes busy, two
/// spinning cores on two vCPUs fall back to parking on most hops and a
/// round trip costs 50-120 us (debug): these sizes keep the tests within a
/// few seconds even then.
fn spinning_rounds(rings: bool) -> u64 {
    match (cfg!(debug_assertions), rings) {
        (false, true) => 1_000_000,
        (false, false) => 100_000,
        (true, true) => 50_000,
        (true, false) => 20_000,
    }
}

const PARKED_ROUNDS: u64 = 10_000;

/// What each side saw: round trips (or replies) and hops run off its core.
struct Outcome {
    ping: (u64, u64),
    pong: (u64, u64),
    took: Duration,
    /// Per core: (polls, local wakes, remote wakes, parks), for the log.
    cores: Vec<(u64, u64, u64, u64)>,
}

fn core_figures(rt: &Runtime) -> Vec<(u64, u64, u64, u64)> {
    rt.stats()
        .cores
        .iter()
        .map(|c| (c.polls, c.local_wakes, c.remote_wakes, c.parks))
        .collect()
}

fn check(label: &str, rounds: u64, o: Outcome) {
    assert_eq!(o.ping.0, rounds, "{label}: every round trip completed");
    assert_eq!(o.pong.0, rounds, "{label}: every ping answered once");
    assert_eq!(o.ping.1, 0, "{label}: the ping task left core 0");
    assert_eq!(o.pong.1, 0, "{label}: the pong task left core 1");
    eprintln!(
        "{label}: {rounds} round trips in {:?} ({:?} each); per core (polls, local wakes, remote wakes, parks): {:?}",
        o.took,
        o.took / u32::try_from(rounds).expect("rounds fit u32"),
        o.cores
    );
}

/// One kind of channel the counter bounces through.
trait Channel: 'static {
    type Tx: Send + 'static;
    type Rx: Send + 'static;
    type SendError: std::fmt::Debug;
    /// A channel of capacity 1.
    fn channel() -> (Self::Tx, Self::Rx);
    fn send(tx: &mut Self::Tx, v: u64) -> impl Future<Output = Result<(), Self::SendError>> + Send;
    /// `None` once the sending side has hung up.
    fn recv(rx: &mut Self::Rx) -> impl Future<Output = Option<u64>> + Send;
}

/// corelane's SPSC rings.
struct Rings;

impl Channel for Rings {
    type Tx = spsc::Producer<u64>;
    type Rx = spsc::Consumer<u64>;
    type SendError = corelane::queue::Disconnected<u64>;
    fn channel() -> (Self::Tx, Self::Rx) {
        spsc::channel(1)
    }
    fn send(tx: &mut Self::Tx, v: u64) -> impl Future<Output = Result<(), Self::SendError>> + Send {
        tx.send(v)
    }
    async fn recv(rx: &mut Self::Rx) -> Option<u64> {
        rx.recv().await.ok()
    }
}

/// `tokio::sync::mpsc` channels.
struct TokioChannels;

impl Channel for TokioChannels {
    type Tx = tokio::sync::mpsc::Sender<u64>;
    type Rx = tokio::sync::mpsc::Receiver<u64>;
    type SendError = tokio::sync::mpsc::error::SendError<u64>;
    fn channel() -> (Self::Tx, Self::Rx) {
        tokio::sync::mpsc::channel(1)
    }
    fn send(tx: &mut Self::Tx, v: u64) -> impl Future<Output = Result<(), Self::SendError>> + Send {
        tx.send(v)
    }
    fn recv(rx: &mut Self::Rx) -> impl Future<Output = Option<u64>> + Send {
        rx.recv()
    }
}

/// `rounds` round trips between a task on core 0 and one on core 1
/// through a pair of `C` channels.
fn ping_pong<C: Channel>(idle: Idle, rounds: u64) -> Outcome {
    let _serial = serial();
    bounded_by(WATCHDOG, "hang (a lost wake-up?)", move || {
        let rt = two_core_builder(idle)
            .build()
            .expect("build a two-core runtime");
        let (mut to_pong, mut from_ping) = C::channel();
        let (mut to_ping, mut from_pong) = C::channel();
        let pong = rt.spawn_on(1, Priority::Normal, async move {
            let (mut served, mut off) = (0u64, 0u64);
            while let Some(v) = C::recv(&mut from_ping).await {
                off += u64::from(sched::current_core() != 1);
                C::send(&mut to_ping, v + 1)
                    .await
                    .expect("the ping side waits for its reply");
                served += 1;
            }
            (served, off)
        });
        let ping = rt.spawn_on(0, Priority::Normal, async move {
            let (mut done, mut off) = (0u64, 0u64);
            let t = Instant::now();
            for i in 0..rounds {
                C::send(&mut to_pong, 2 * i)
                    .await
                    .expect("the pong side is alive");
                let reply = C::recv(&mut from_pong)
                    .await
                    .expect("the pong side replies");
                assert_eq!(reply, 2 * i + 1, "round {i}: the reply to this ping");
                off += u64::from(sched::current_core() != 0);
                done += 1;
            }
            ((done, off), t.elapsed())
        });
        let (ping, took) = rt.block_on(ping).expect("ping task");
        let pong = rt
            .block_on(pong)
            .expect("pong task ends when the ping side hangs up");
        let cores = core_figures(&rt);
        rt.shutdown(SHUTDOWN).expect("shutdown");
        Outcome {
            ping,
            pong,
            took,
            cores,
        }
    })
}

#[test]
fn million_cross_core_ping_pongs_through_corelane_rings() {
    let n = spinning_rounds(true);
    check(
        "spsc rings, Idle::Spin(50us)",
        n,
        ping_pong::<Rings>(Idle::Spin(Duration::from_micros(50)), n),
    );
}

#[test]
fn cross_core_ping_pongs_through_tokio_channels() {
    let n = spinning_rounds(false);
    check(
        "tokio mpsc, Idle::Spin(50us)",
        n,
        ping_pong::<TokioChannels>(Idle::Spin(Duration::from_micros(50)), n),
    );
}

#[test]
fn cross_core_ping_pongs_with_parked_cores_through_corelane_rings() {
    check(
        "spsc rings, Idle::Park",
        PARKED_ROUNDS,
        ping_pong::<Rings>(Idle::Park, PARKED_ROUNDS),
    );
}

#[test]
fn cross_core_ping_pongs_with_parked_cores_through_tokio_channels() {
    check(
        "tokio mpsc, Idle::Park",
        PARKED_ROUNDS,
        ping_pong::<TokioChannels>(Idle::Park, PARKED_ROUNDS),
    );
}
