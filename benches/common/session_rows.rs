//! The session rows shared by `benches/session.rs` and
//! `examples/latency.rs`: a request/reply loop with a Ping/Stop choice
//! over the typed session ring (`session::ring::pair_with`, `BusySpin`),
//! and the same frames (label + payload enum, as the ring transport
//! carries them) over a raw untyped pair of `queue::spsc` rings, waiting
//! the same way. Each is timed like the ring rows of `rings.rs`: both
//! threads pinned and released together, `WARMUP` untimed round trips,
//! then batches of round trips, each sample the mean ns of one batch.
//!
//! Measurement code, not a protocol.
#![allow(dead_code)]

use std::sync::{Arc, Barrier};
use std::time::Instant;

use corelane::queue::spsc;
use corelane::queue::wait::WaitStrategy;
use corelane::session::line::{self, Line};
use corelane::session::ring::{self, Ring};
use corelane::session::{
    BlockingReceiver, BlockingSender, Chan, Choose, Dual, End, Endpoint, Rec, Recv, Var, Z,
};
use corelane::topology::CpuId;

use crate::rings::{spawn_pinned, ROUND_TRIP_CAP, WARMUP};

/// Row name of the typed session ring.
pub const TYPED_RING: &str = "session ring, typed";
/// Row name of the typed shared line (`session::line`).
pub const TYPED_LINE: &str = "session line, typed";
/// Row name of the raw frames over two spsc rings.
pub const RAW_FRAMES: &str = "spsc pair, raw frames";

/// How the rows wait: spinning, as a latency-bound pair of pinned
/// threads would.
pub const WAIT: WaitStrategy = WaitStrategy::BusySpin;

/// An order: the payload enum's second variant, so that the payload is an
/// enum of the size a real protocol's would have.
#[derive(Clone, Copy, Debug)]
pub struct Order {
    pub px: u64,
    pub qty: u64,
}

corelane::session_payload! {
    /// What both the typed and the raw rows carry.
    pub enum Wire { Num(u64), Order(Order) }
}

corelane::session_choice! {
    /// The client's loop: a ping answered by the same number, or the end.
    pub mod ping {
        /// The number comes back.
        Ping(u64) => Recv<u64, Var<Z>>,
        /// Done.
        Stop(()) => End,
    }
}

/// The client's protocol; the echo follows its dual.
pub type PingClient = Rec<Choose<ping::Choice>>;
/// The client inside its loop, over the transport `Tr`.
type InLoop<Tr> = Chan<Choose<ping::Choice>, Tr, (Choose<ping::Choice>, ())>;

/// What the typed rows need of a transport.
pub trait Blocking: Endpoint<Payload = Wire> + BlockingSender + BlockingReceiver {}
impl<T: Endpoint<Payload = Wire> + BlockingSender + BlockingReceiver> Blocking for T {}

/// The raw row's frame: the ring transport's own frame shape.
pub enum RawFrame {
    Msg(u8, Wire),
    Abort,
}

/// Label of `Stop` in the raw row (as the choice numbers it).
const RAW_STOP: u8 = 1;

type Cpus = Option<(CpuId, CpuId)>;

/// Runs `echo` on `cpus.1` and `client` on `cpus.0`, released together;
/// returns what the client returns once both are done.
pub fn run_pair<R: Send + 'static>(
    cpus: Cpus,
    echo: impl FnOnce() + Send + 'static,
    client: impl FnOnce() -> R + Send + 'static,
) -> R {
    let start = Arc::new(Barrier::new(2));
    let echo = spawn_pinned(cpus.map(|c| c.1), &start, echo);
    let client = spawn_pinned(cpus.map(|c| c.0), &start, client);
    echo.join().expect("echo thread");
    client.join().expect("client thread")
}

/// [`WARMUP`] untimed calls of `one`, then `samples` timed batches of
/// `batch`; `one` takes the state (an endpoint, which each step consumes)
/// and the round trip's number and gives the state back. Returns the mean
/// ns per call of each batch, and the state.
#[inline]
pub fn timed<C>(
    mut c: C,
    samples: usize,
    batch: usize,
    mut one: impl FnMut(C, u64) -> C,
) -> (Vec<f64>, C) {
    for i in 0..WARMUP {
        c = one(c, i);
    }
    let mut out = Vec::with_capacity(samples);
    let mut i = WARMUP;
    for _ in 0..samples {
        let t0 = Instant::now();
        for _ in 0..batch {
            c = one(c, i);
            i += 1;
        }
        out.push(t0.elapsed().as_nanos() as f64 / batch as f64);
    }
    (out, c)
}

// ----- typed ----------------------------------------------------------------------

#[inline]
fn typed_one<Tr: Blocking>(c: InLoop<Tr>, i: u64) -> InLoop<Tr> {
    let c = c.choose_blocking(ping::Ping, i).expect("ping");
    let (v, c) = c.recv_blocking().expect("pong");
    assert_eq!(v, i);
    c.recurse()
}

/// The echo: answers every `Ping` with its number until `Stop`.
#[inline(never)]
fn typed_echo<Tr: Blocking>(c: Chan<Dual<PingClient>, Tr>) {
    let mut c = c.enter();
    loop {
        c = match c.offer_blocking().expect("a request") {
            ping::Branch::Ping(v, c) => c.send_blocking(v).expect("pong").recurse(),
            ping::Branch::Stop((), c) => return c.close(),
        };
    }
}

/// The client's timed loop (a function of its own, like the ring rows').
#[inline(never)]
fn typed_client<Tr: Blocking>(c: Chan<PingClient, Tr>, samples: usize, batch: usize) -> Vec<f64> {
    let (out, c) = timed(c.enter(), samples, batch, typed_one);
    c.choose_blocking(ping::Stop, ()).expect("stop").close();
    out
}

/// Round trips over the typed session ring.
pub fn typed_ring(cpus: Cpus, samples: usize, batch: usize) -> Vec<f64> {
    let (client, echo) = ring::pair_with::<PingClient, Wire>(ROUND_TRIP_CAP, WAIT);
    run_pair(
        cpus,
        move || typed_echo::<Ring<Wire>>(echo),
        move || typed_client::<Ring<Wire>>(client, samples, batch),
    )
}

/// Round trips over the typed shared line: the same protocol, handlers
/// and waits as [`typed_ring`], both directions taking turns on one slot.
pub fn typed_line(cpus: Cpus, samples: usize, batch: usize) -> Vec<f64> {
    let (client, echo) = line::pair_with::<PingClient, Wire>(WAIT);
    run_pair(
        cpus,
        move || typed_echo::<Line<Wire>>(echo),
        move || typed_client::<Line<Wire>>(client, samples, batch),
    )
}

// ----- raw ------------------------------------------------------------------------

/// One direction of the raw row.
type RawTx = spsc::Producer<RawFrame>;
type RawRx = spsc::Consumer<RawFrame>;

#[inline]
fn raw_send(tx: &mut RawTx, label: u8, w: Wire) {
    if tx.push_blocking(RawFrame::Msg(label, w), WAIT).is_err() {
        panic!("raw row: peer gone");
    }
}

#[inline]
fn raw_recv(rx: &mut RawRx) -> (u8, Wire) {
    match rx.pop_blocking(WAIT) {
        Ok(RawFrame::Msg(label, w)) => (label, w),
        _ => panic!("raw row: peer gone"),
    }
}

#[inline]
fn raw_one((mut tx, mut rx): (RawTx, RawRx), i: u64) -> (RawTx, RawRx) {
    raw_send(&mut tx, 0, Wire::Num(i));
    match raw_recv(&mut rx) {
        (0, Wire::Num(v)) => assert_eq!(v, i),
        _ => panic!("raw row: not a number"),
    }
    (tx, rx)
}

#[inline(never)]
fn raw_echo(mut rx: RawRx, mut tx: RawTx) {
    loop {
        match raw_recv(&mut rx) {
            (0, Wire::Num(v)) => raw_send(&mut tx, 0, Wire::Num(v)),
            (RAW_STOP, _) => return,
            _ => panic!("raw row: unexpected frame"),
        }
    }
}

#[inline(never)]
fn raw_client(ends: (RawTx, RawRx), samples: usize, batch: usize) -> Vec<f64> {
    let (out, (mut tx, _rx)) = timed(ends, samples, batch, raw_one);
    raw_send(&mut tx, RAW_STOP, Wire::Num(0));
    out
}

/// Round trips of the same frames over two raw spsc rings of the typed
/// ring's capacity.
pub fn raw_frames(cpus: Cpus, samples: usize, batch: usize) -> Vec<f64> {
    // `pair_with` keeps one more frame per direction (for the abort).
    let (ping_tx, ping_rx) = spsc::channel::<RawFrame>(ROUND_TRIP_CAP + 1);
    let (pong_tx, pong_rx) = spsc::channel::<RawFrame>(ROUND_TRIP_CAP + 1);
    run_pair(
        cpus,
        move || raw_echo(ping_rx, pong_tx),
        move || raw_client((ping_tx, pong_rx), samples, batch),
    )
}
