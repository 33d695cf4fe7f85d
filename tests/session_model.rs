//! Property test: a session over a ring pair against a `VecDeque` model.
//!
//! Each case draws a sequence of steps of a four-arm loop choice (a plain
//! value, a value followed by a second message, a label with no message
//! under an explicit label, and the end), a ring capacity, a wait
//! strategy, how the receiver waits (blocking, or polling with deadlines
//! that have already passed), and whether the sender ends the session with
//! `Stop` or abandons it by dropping its endpoint. The sender runs on one
//! thread and records, step by step, what the receiver should observe in
//! the model; the receiver runs on another and records what it did
//! observe. The two must be equal: every message in order, every arm as
//! chosen, and the abandonment after everything sent before it.
//!
//! The abandonment reads as `Cancelled` when the sender's abort frame found
//! room in the ring, and as `Closed` when it found the ring full (the ring
//! transport does not keep a slot for it: a sender that streams fills
//! every slot). This test cannot tell which happened, so the model accepts
//! either; `session_ring_errors.rs` pins both cases down one by one.

use std::collections::VecDeque;
use std::thread;
use std::time::Instant;

use corelane::queue::wait::WaitStrategy;
use corelane::session::ring::{self, Ring};
use corelane::session::{Chan, Choose, Dual, End, Error, Offer, Rec, Send, Timed, Var, Z};
use proptest::prelude::*;

corelane::session_choice! {
    /// One step of the stream.
    pub mod step {
        /// A value.
        Val(u64) => Var<Z>,
        /// A value, then a second one as a plain message.
        Two(u64) => Send<u64, Var<Z>>,
        /// A label alone, fixed at 9.
        Tick(()) = 9 => Var<Z>,
        /// The end.
        Stop(()) => End,
    }
}

/// The sender's protocol.
type Stream = Rec<Choose<step::Choice>>;
/// The loop stack inside the receiver's loop.
type InLoop = (Offer<step::Choice>, ());
/// The receiver at the head of its loop.
type Reader = Chan<Offer<step::Choice>, Ring<u64>, InLoop>;

/// What the sender does, one step at a time.
#[derive(Clone, Debug)]
enum Op {
    Val(u64),
    Two(u64, u64),
    Tick,
}

/// What the receiver sees.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Obs {
    Val(u64),
    Two(u64, u64),
    Tick,
    Stop,
    /// `Cancelled` or `Closed` (see the module docs).
    Abandoned,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        any::<u64>().prop_map(Op::Val),
        (any::<u64>(), any::<u64>()).prop_map(|(a, b)| Op::Two(a, b)),
        Just(Op::Tick),
    ]
}

fn wait() -> impl Strategy<Value = WaitStrategy> {
    prop_oneof![
        Just(WaitStrategy::BusySpin),
        Just(WaitStrategy::Yield),
        Just(WaitStrategy::Backoff),
        Just(WaitStrategy::Park),
    ]
}

/// Runs `ops` through the sender's endpoint, then stops or abandons;
/// returns the model of what the receiver should see.
fn send_all(c: Chan<Stream, Ring<u64>>, ops: &[Op], stop: bool) -> Result<VecDeque<Obs>, Error> {
    let mut model = VecDeque::new();
    let mut c = c.enter();
    for op in ops {
        c = match *op {
            Op::Val(v) => {
                model.push_back(Obs::Val(v));
                c.choose_blocking(step::Val, v)?.recurse()
            }
            Op::Two(a, b) => {
                model.push_back(Obs::Two(a, b));
                c.choose_blocking(step::Two, a)?.send_blocking(b)?.recurse()
            }
            Op::Tick => {
                model.push_back(Obs::Tick);
                c.choose_blocking(step::Tick, ())?.recurse()
            }
        };
    }
    if stop {
        model.push_back(Obs::Stop);
        c.choose_blocking(step::Stop, ())?.close();
    } else {
        model.push_back(Obs::Abandoned);
        drop(c);
    }
    Ok(model)
}

/// The next arm: blocking, or by polling with a deadline already past
/// (each `TimedOut` hands the channel back at the same step).
fn offer(c: Reader, poll: bool) -> Result<step::Branch<Ring<u64>, InLoop>, Error> {
    if !poll {
        return c.offer_blocking();
    }
    let mut c = c;
    loop {
        match c.offer_blocking_until(Instant::now())? {
            Timed::Ready(b) => return Ok(b),
            Timed::TimedOut(back) => {
                c = back;
                thread::yield_now();
            }
        }
    }
}

/// Receives until the end or an error; returns what it saw.
fn observe(c: Chan<Dual<Stream>, Ring<u64>>, poll: bool) -> Vec<Obs> {
    let mut seen = Vec::new();
    let mut c = c.enter();
    loop {
        let arm = match offer(c, poll) {
            Ok(arm) => arm,
            Err(Error::Cancelled | Error::Closed) => {
                seen.push(Obs::Abandoned);
                return seen;
            }
            Err(e) => panic!("unexpected error {e}"),
        };
        c = match arm {
            step::Branch::Val(v, next) => {
                seen.push(Obs::Val(v));
                next.recurse()
            }
            step::Branch::Two(a, next) => {
                let (b, next) = next.recv_blocking().expect("the second value");
                seen.push(Obs::Two(a, b));
                next.recurse()
            }
            step::Branch::Tick((), next) => {
                seen.push(Obs::Tick);
                next.recurse()
            }
            step::Branch::Stop((), end) => {
                end.close();
                seen.push(Obs::Stop);
                return seen;
            }
        };
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_receiver_sees_what_the_model_says(
        ops in proptest::collection::vec(op(), 0..64),
        capacity in 1usize..6,
        wait in wait(),
        stop in any::<bool>(),
        poll in any::<bool>(),
    ) {
        let (tx, rx) = ring::pair_with::<Stream, u64>(capacity, wait);
        let reader = thread::spawn(move || observe(rx, poll));
        let model = send_all(tx, &ops, stop).expect("the receiver stays to the end");
        let seen = reader.join().expect("receiver thread");
        let mut model = model;
        for (i, obs) in seen.iter().enumerate() {
            let want = model.pop_front();
            prop_assert_eq!(Some(obs), want.as_ref(), "observation {}", i);
        }
        prop_assert!(model.is_empty(), "not observed: {:?}", model);
    }
}
