//! The session ring transport end to end, each end on its own thread: a
//! request/reply loop over a four-arm `session_choice!` (one arm with an
//! explicit label) carrying several message types of a `session_payload!`
//! enum; nested loops left through `Var<Succ<Z>>`; a `Split` whose four
//! halves run on four threads at once; a channel delegated mid-session
//! through a payload variant to a third thread that finishes it; the
//! 255-label edge and a generated 256-arm choice; `Chan`'s size; and the
//! protocol fingerprints.
//!
//! Errors, deadlines and forged peers are in `session_ring_errors.rs`.
//! Every multi-thread body runs under a watchdog (a hang fails the test).

use std::mem::size_of;
use std::thread;

use corelane::session::ring::{self, Ring};
use corelane::session::{
    Chan, Choice, Choose, Dual, End, Error, Fingerprint, Label, Named, Offer, Rec, Recv, Send,
    Split, Succ, Var, Z,
};

#[path = "common/sched.rs"]
mod common;
use common::bounded;

// ----- the request/reply protocol ----------------------------------------------

/// Two numbers to add.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pair(pub u64, pub u64);
/// Text to echo back, upper-cased.
#[derive(Debug, Clone, PartialEq)]
pub struct Text(pub String);

impl Named for Pair {
    const NAME: &'static str = "Pair";
}
impl Named for Text {
    const NAME: &'static str = "Text";
}

corelane::session_payload! {
    /// Everything the request/reply protocol carries.
    pub enum Wire { U(u64), I(i64), P(Pair), T(Text) }
}

corelane::session_choice! {
    /// What the client asks for, in a loop.
    pub mod op {
        /// The sum comes back.
        Add(Pair) => Recv<u64, Var<Z>>,
        /// The negation comes back.
        Neg(i64) => Recv<i64, Var<Z>>,
        /// An explicit label: the text comes back upper-cased.
        Echo(Text) = 7 => Recv<Text, Var<Z>>,
        /// Done (label 8: counts on from the explicit 7).
        Quit(()) => End,
    }
}

/// The server's view; the client follows `Dual<Server>`.
type Server = Rec<Offer<op::Choice>>;

/// Serves until `Quit`; returns how many requests of each kind it served.
fn serve(server: Chan<Server, Ring<Wire>>) -> Result<[u32; 3], Error> {
    let mut c = server.enter();
    let mut served = [0; 3];
    loop {
        c = match c.offer_blocking()? {
            op::Branch::Add(Pair(a, b), c) => {
                served[0] += 1;
                c.send_blocking(a + b)?.recurse()
            }
            op::Branch::Neg(n, c) => {
                served[1] += 1;
                c.send_blocking(-n)?.recurse()
            }
            op::Branch::Echo(Text(s), c) => {
                served[2] += 1;
                c.send_blocking(Text(s.to_uppercase()))?.recurse()
            }
            op::Branch::Quit((), c) => {
                c.close();
                return Ok(served);
            }
        };
    }
}

#[test]
fn explicit_labels_count_on_from_the_fixed_one() {
    assert_eq!(<op::Add as Label<op::Choice>>::INDEX, 0);
    assert_eq!(<op::Neg as Label<op::Choice>>::INDEX, 1);
    assert_eq!(<op::Echo as Label<op::Choice>>::INDEX, 7);
    assert_eq!(<op::Quit as Label<op::Choice>>::INDEX, 8);
    assert_eq!(<op::Choice as Choice>::ARMS, 4);
    assert_eq!(
        <op::Choice as Choice>::NAMES,
        ["Add", "Neg", "Echo", "Quit"]
    );
}

#[test]
fn request_reply_loop_over_a_four_arm_choice() {
    const N: u64 = 3_000;
    let served = bounded(|| {
        let (server, client) = ring::pair::<Server, Wire>(2);
        let t = thread::spawn(move || serve(server));
        let mut c = client.enter();
        for i in 0..N {
            c = match i % 3 {
                0 => {
                    let (sum, c) = c
                        .choose_blocking(op::Add, Pair(i, 2 * i))?
                        .recv_blocking()?;
                    assert_eq!(sum, 3 * i);
                    c.recurse()
                }
                1 => {
                    let (neg, c) = c.choose_blocking(op::Neg, i as i64)?.recv_blocking()?;
                    assert_eq!(neg, -(i as i64));
                    c.recurse()
                }
                _ => {
                    let text = Text(format!("req {i}"));
                    let (up, c) = c.choose_blocking(op::Echo, text)?.recv_blocking()?;
                    assert_eq!(up, Text(format!("REQ {i}")));
                    c.recurse()
                }
            };
        }
        c.choose_blocking(op::Quit, ())?.close();
        t.join().expect("server thread")
    })
    .expect("a session without errors");
    assert_eq!(served, [1_000, 1_000, 1_000]);
}

// ----- nested loops --------------------------------------------------------------

corelane::session_choice! {
    /// The outer loop: another batch, or done.
    pub mod outer {
        /// A batch of items follows (the inner loop).
        Batch(u64) => Rec<Choose<inner::Choice>>,
        /// No more batches.
        Done(()) => End,
    }
}

corelane::session_choice! {
    /// The inner loop: another item, or the end of this batch.
    pub mod inner {
        /// One more item of the batch.
        Item(u64) => Var<Z>,
        /// The batch is over: its sum comes back, then the *outer* loop
        /// continues (`Var<Succ<Z>>` skips the inner `Rec`).
        EndBatch(()) => Recv<u64, Var<Succ<Z>>>,
    }
}

type Batches = Rec<Choose<outer::Choice>>;

/// The summing side: per batch, checks the announced size and answers the
/// sum; returns how many batches it summed.
fn sum_batches(c: Chan<Dual<Batches>, Ring<u64>>) -> Result<u32, Error> {
    let mut c = c.enter();
    let mut batches = 0;
    loop {
        let (size, batch) = match c.offer_blocking()? {
            outer::Branch::Batch(size, b) => (size, b),
            outer::Branch::Done((), end) => {
                end.close();
                return Ok(batches);
            }
        };
        let mut items = batch.enter();
        let (mut sum, mut n) = (0, 0);
        c = loop {
            items = match items.offer_blocking()? {
                inner::Branch::Item(v, next) => {
                    sum += v;
                    n += 1;
                    next.recurse()
                }
                inner::Branch::EndBatch((), reply) => {
                    assert_eq!(n, size, "the batch holds what was announced");
                    break reply.send_blocking(sum)?.recurse();
                }
            };
        };
        batches += 1;
    }
}

#[test]
fn nested_loops_continue_the_outer_one_with_var_succ_z() {
    let batches = bounded(|| {
        let (client, server) = ring::pair::<Batches, u64>(1);
        let t = thread::spawn(move || sum_batches(server));
        let mut c = client.enter();
        for size in [0u64, 1, 5, 17] {
            let mut items = c.choose_blocking(outer::Batch, size)?.enter();
            for v in 0..size {
                items = items.choose_blocking(inner::Item, v * v)?.recurse();
            }
            let (sum, next) = items
                .choose_blocking(inner::EndBatch, ())?
                .recv_blocking()?;
            assert_eq!(sum, (0..size).map(|v| v * v).sum::<u64>());
            c = next.recurse();
        }
        c.choose_blocking(outer::Done, ())?.close();
        t.join().expect("summing thread")
    })
    .expect("a session without errors");
    assert_eq!(batches, 4);
}

// ----- full duplex ---------------------------------------------------------------

corelane::session_choice! {
    /// One direction of the duplex stream: numbers, then a stop.
    pub mod up {
        /// One more.
        Tick(u64) => Var<Z>,
        /// The stream is over.
        Stop(()) => End,
    }
}

corelane::session_choice! {
    /// The other direction: signed numbers, then a stop.
    pub mod down {
        /// One more.
        Tock(i64) => Var<Z>,
        /// The stream is over.
        Stop(()) => End,
    }
}

/// Sends `up` and receives `down`; the peer the other way round.
type Duplex = Split<Rec<Choose<up::Choice>>, Rec<Offer<down::Choice>>>;

fn tick_all(tx: Chan<Rec<Choose<up::Choice>>, ring::RingTx<Wire>>, n: u64) -> Result<(), Error> {
    let mut c = tx.enter();
    for i in 0..n {
        c = c.choose_blocking(up::Tick, i)?.recurse();
    }
    c.choose_blocking(up::Stop, ())?.close();
    Ok(())
}

fn tock_all(tx: Chan<Rec<Choose<down::Choice>>, ring::RingTx<Wire>>, n: u64) -> Result<(), Error> {
    let mut c = tx.enter();
    for i in 0..n {
        c = c.choose_blocking(down::Tock, -(i as i64))?.recurse();
    }
    c.choose_blocking(down::Stop, ())?.close();
    Ok(())
}

#[test]
fn split_halves_run_full_duplex_on_four_threads() {
    const N: u64 = 20_000;
    bounded(|| {
        // Capacity 1: both directions fill at once; only independent
        // halves get through.
        let (a, b) = ring::pair::<Duplex, Wire>(1);
        let (a_tx, a_rx) = a.split();
        let (b_tx, b_rx) = b.split();
        let senders = [
            thread::spawn(move || tick_all(a_tx, N)),
            thread::spawn(move || tock_all(b_tx, N)),
        ];
        let b_reader = thread::spawn(move || -> Result<u64, Error> {
            let mut c = b_rx.enter();
            let mut next = 0;
            loop {
                c = match c.offer_blocking()? {
                    up::Branch::Tick(v, c) => {
                        assert_eq!(v, next, "in order");
                        next += 1;
                        c.recurse()
                    }
                    up::Branch::Stop((), end) => {
                        end.close();
                        return Ok(next);
                    }
                };
            }
        });
        let mut c = a_rx.enter();
        let mut got = 0u64;
        loop {
            c = match c.offer_blocking()? {
                down::Branch::Tock(v, c) => {
                    assert_eq!(v, -(got as i64), "in order");
                    got += 1;
                    c.recurse()
                }
                down::Branch::Stop((), end) => {
                    end.close();
                    break;
                }
            };
        }
        assert_eq!(got, N);
        assert_eq!(b_reader.join().expect("reader")?, N);
        for s in senders {
            s.join().expect("sender")?;
        }
        Ok::<(), Error>(())
    })
    .expect("a session without errors");
}

// ----- delegation ----------------------------------------------------------------

/// The job's protocol, from the client's side: a number goes out, its
/// double comes back.
type Job = Send<u64, Recv<u64, End>>;

/// The rest of the job, from the server's side, once the number is in.
type JobRest = Send<u64, End>;

corelane::session_payload! {
    /// The control protocol carries an endpoint.
    pub enum Ctl { Job(Chan<JobRest, Ring<u64>>), Note(u64) }
}

/// Hands the rest of a job over, with a note.
type Handover = Send<u64, Send<Chan<JobRest, Ring<u64>>, End>>;

#[test]
fn a_channel_delegated_mid_session_is_finished_by_a_third_thread() {
    let doubled = bounded(|| {
        let (client, job) = ring::pair::<Job, u64>(1);
        let (boss, worker) = ring::pair::<Handover, Ctl>(1);
        // The first server takes the number, then hands the rest of the
        // job to the worker thread and leaves.
        let first = thread::spawn(move || -> Result<thread::ThreadId, Error> {
            let (v, rest) = job.recv_blocking()?;
            boss.send_blocking(v)?.send_blocking(rest)?.close();
            Ok(thread::current().id())
        });
        let second = thread::spawn(move || -> Result<thread::ThreadId, Error> {
            let (v, c) = worker.recv_blocking()?;
            let (rest, c) = c.recv_blocking()?;
            c.close();
            rest.send_blocking(2 * v)?.close();
            Ok(thread::current().id())
        });
        let (doubled, c) = client.send_blocking(21)?.recv_blocking()?;
        c.close();
        let ids = [
            first.join().expect("first")?,
            second.join().expect("second")?,
        ];
        assert_ne!(ids[0], ids[1]);
        assert_ne!(ids[0], thread::current().id());
        Ok::<u64, Error>(doubled)
    })
    .expect("a session without errors");
    assert_eq!(doubled, 42);
}

// ----- label edges ---------------------------------------------------------------

corelane::session_choice! {
    /// The highest label a byte holds.
    pub mod edge {
        /// Label 0.
        Low(u8) => End,
        /// Label 255.
        High(u8) = 255 => End,
    }
}

#[test]
fn label_255_goes_through() -> Result<(), Error> {
    assert_eq!(<edge::High as Label<edge::Choice>>::INDEX, 255);
    for (high, v) in [(true, 9u8), (false, 3)] {
        let (a, b) = ring::pair::<Choose<edge::Choice>, u8>(1);
        let a = if high {
            a.choose_blocking(edge::High, v)?
        } else {
            a.choose_blocking(edge::Low, v)?
        };
        match b.offer_blocking()? {
            edge::Branch::High(got, c) => {
                assert!(high);
                assert_eq!(got, v);
                c.close();
            }
            edge::Branch::Low(got, c) => {
                assert!(!high);
                assert_eq!(got, v);
                c.close();
            }
        }
        a.close();
    }
    Ok(())
}

/// A 256-arm choice from 256 names: every arm carries the index it should
/// have and ends.
macro_rules! wide_choice {
    ($($arm:ident)*) => {
        corelane::session_choice! {
            /// 256 arms: every label a byte holds.
            pub mod wide { $(#[doc = "One of the 256 arms."] $arm(u16) => End),* }
        }

        /// Offers `c` and returns the arm's name and what it carried.
        fn offer_wide(c: Chan<Offer<wide::Choice>, Ring<u16>>) -> Result<(&'static str, u16), Error> {
            match c.offer_blocking()? {
                $(wide::Branch::$arm(v, c) => {
                    c.close();
                    Ok((stringify!($arm), v))
                })*
            }
        }

        /// Chooses the arm whose label is `label`, sending the label.
        fn choose_wide(c: Chan<Choose<wide::Choice>, Ring<u16>>, label: u8) -> Result<(), Error> {
            $(if <wide::$arm as Label<wide::Choice>>::INDEX == label {
                c.choose_blocking(wide::$arm, u16::from(label))?.close();
                return Ok(());
            })*
            unreachable!("every label names an arm")
        }
    };
}

wide_choice! {
    a00 a01 a02 a03 a04 a05 a06 a07 a08 a09 a0a a0b a0c a0d a0e a0f
    a10 a11 a12 a13 a14 a15 a16 a17 a18 a19 a1a a1b a1c a1d a1e a1f
    a20 a21 a22 a23 a24 a25 a26 a27 a28 a29 a2a a2b a2c a2d a2e a2f
    a30 a31 a32 a33 a34 a35 a36 a37 a38 a39 a3a a3b a3c a3d a3e a3f
    a40 a41 a42 a43 a44 a45 a46 a47 a48 a49 a4a a4b a4c a4d a4e a4f
    a50 a51 a52 a53 a54 a55 a56 a57 a58 a59 a5a a5b a5c a5d a5e a5f
    a60 a61 a62 a63 a64 a65 a66 a67 a68 a69 a6a a6b a6c a6d a6e a6f
    a70 a71 a72 a73 a74 a75 a76 a77 a78 a79 a7a a7b a7c a7d a7e a7f
    a80 a81 a82 a83 a84 a85 a86 a87 a88 a89 a8a a8b a8c a8d a8e a8f
    a90 a91 a92 a93 a94 a95 a96 a97 a98 a99 a9a a9b a9c a9d a9e a9f
    aa0 aa1 aa2 aa3 aa4 aa5 aa6 aa7 aa8 aa9 aaa aab aac aad aae aaf
    ab0 ab1 ab2 ab3 ab4 ab5 ab6 ab7 ab8 ab9 aba abb abc abd abe abf
    ac0 ac1 ac2 ac3 ac4 ac5 ac6 ac7 ac8 ac9 aca acb acc acd ace acf
    ad0 ad1 ad2 ad3 ad4 ad5 ad6 ad7 ad8 ad9 ada adb adc add ade adf
    ae0 ae1 ae2 ae3 ae4 ae5 ae6 ae7 ae8 ae9 aea aeb aec aed aee aef
    af0 af1 af2 af3 af4 af5 af6 af7 af8 af9 afa afb afc afd afe aff
}

#[test]
fn a_256_arm_choice_reaches_every_arm() {
    assert_eq!(<wide::Choice as Choice>::ARMS, 256);
    assert_eq!(<wide::aff as Label<wide::Choice>>::INDEX, 255);
    for label in 0..=255u8 {
        let (a, b) = ring::pair::<Choose<wide::Choice>, u16>(1);
        choose_wide(a, label).expect("choose");
        let (name, v) = offer_wide(b).expect("offer");
        assert_eq!(v, u16::from(label));
        assert_eq!(name, format!("a{label:02x}"));
    }
}

// ----- size and fingerprints -----------------------------------------------------

#[test]
fn a_chan_is_exactly_its_transport() {
    fn same<S>() {
        assert_eq!(size_of::<Chan<S, Ring<Wire>>>(), size_of::<Ring<Wire>>());
        assert_eq!(size_of::<Chan<S, Ring<u8>>>(), size_of::<Ring<u8>>());
    }
    same::<End>();
    same::<Send<u64, Recv<Text, End>>>();
    same::<Server>();
    same::<Dual<Server>>();
    same::<Batches>();
    same::<Rec<Choose<wide::Choice>>>();
    same::<Duplex>();
    assert_eq!(
        size_of::<Chan<Rec<Choose<up::Choice>>, ring::RingTx<Wire>>>(),
        size_of::<ring::RingTx<Wire>>()
    );
    // With a loop stack in the type, still nothing more.
    assert_eq!(
        size_of::<Chan<Offer<inner::Choice>, Ring<u64>, (Offer<inner::Choice>, ((), ()))>>(),
        size_of::<Ring<u64>>()
    );
}

corelane::session_choice! {
    /// `op`'s arms under another name for one of them.
    pub mod op_renamed {
        /// As `op::Add`.
        Sum(Pair) => Recv<u64, Var<Z>>,
        /// As `op::Neg`.
        Neg(i64) => Recv<i64, Var<Z>>,
        /// As `op::Echo`.
        Echo(Text) = 7 => Recv<Text, Var<Z>>,
        /// As `op::Quit`.
        Quit(()) => End,
    }
}

corelane::session_choice! {
    /// `op`'s first two arms swapped (so their labels swap).
    pub mod op_reordered {
        /// As `op::Neg`.
        Neg(i64) => Recv<i64, Var<Z>>,
        /// As `op::Add`.
        Add(Pair) => Recv<u64, Var<Z>>,
        /// As `op::Echo`.
        Echo(Text) = 7 => Recv<Text, Var<Z>>,
        /// As `op::Quit`.
        Quit(()) => End,
    }
}

corelane::session_choice! {
    /// `op` exactly, declared again: the same fingerprint.
    pub mod op_again {
        /// As `op::Add`.
        Add(Pair) => Recv<u64, Var<Z>>,
        /// As `op::Neg`.
        Neg(i64) => Recv<i64, Var<Z>>,
        /// As `op::Echo`.
        Echo(Text) = 7 => Recv<Text, Var<Z>>,
        /// As `op::Quit`.
        Quit(()) => End,
    }
}

const fn fp<S: Fingerprint>() -> u64 {
    S::FINGERPRINT
}

#[test]
fn fingerprints_tell_protocols_apart() {
    type Line = Send<u64, Recv<Text, Send<Pair, End>>>;
    // A protocol and its dual differ; the dual of the dual is itself.
    for (p, d, dd) in [
        (fp::<Line>(), fp::<Dual<Line>>(), fp::<Dual<Dual<Line>>>()),
        (
            fp::<Server>(),
            fp::<Dual<Server>>(),
            fp::<Dual<Dual<Server>>>(),
        ),
        (
            fp::<Batches>(),
            fp::<Dual<Batches>>(),
            fp::<Dual<Dual<Batches>>>(),
        ),
        (
            fp::<Duplex>(),
            fp::<Dual<Duplex>>(),
            fp::<Dual<Dual<Duplex>>>(),
        ),
    ] {
        assert_ne!(p, d);
        assert_eq!(p, dd);
    }
    // The same arms declared twice agree; a renamed arm, or two arms
    // swapped, do not.
    let base = fp::<Rec<Offer<op::Choice>>>();
    assert_eq!(base, fp::<Rec<Offer<op_again::Choice>>>());
    assert_ne!(base, fp::<Rec<Offer<op_renamed::Choice>>>());
    assert_ne!(base, fp::<Rec<Offer<op_reordered::Choice>>>());
    // Loop indices count: the inner loop or the outer one.
    type Inner = Rec<Send<u8, Rec<Recv<u8, Var<Z>>>>>;
    type Outer = Rec<Send<u8, Rec<Recv<u8, Var<Succ<Z>>>>>>;
    assert_ne!(fp::<Inner>(), fp::<Outer>());
    assert_ne!(fp::<Var<Z>>(), fp::<Var<Succ<Z>>>());
    // Message types count, by their wire names.
    assert_ne!(fp::<Send<u64, End>>(), fp::<Send<u32, End>>());
    assert_ne!(fp::<Send<Pair, End>>(), fp::<Send<Text, End>>());
    // Where a step goes after a choice counts.
    assert_ne!(
        fp::<Choose<inner::Choice>>(),
        fp::<Choose<up::Choice>>(),
        "same shape of arms, other names and continuations"
    );
}
