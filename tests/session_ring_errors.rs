//! Errors are values, never panics, over the session ring transport; and
//! deadlines, blocking and async (under a `corelane::sched` runtime).
//!
//! * A peer that drops its endpoint (or panics) mid-session: `Cancelled`.
//! * A peer whose rings go away without an abort frame (a dropped receive
//!   half, or an abort that finds its ring full): `Closed`.
//! * A peer that breaks the protocol: `Violation`. Both ends of a ring pair
//!   are dual by construction, so each case *forges* the misbehaving peer:
//!   a hand-written `Label` impl that picks label 200 of a choice that has
//!   no such arm, a hand-written `Message` impl that puts another variant
//!   of the payload enum on the wire, and endpoints made by the hidden
//!   `__private::new_chan` over a scripted transport that delivers frames
//!   a dual peer could never send (`new_chan` cannot re-type a ring
//!   endpoint: a `Chan` never gives its transport back).
//! * Deadlines: a receive or offer that times out hands the channel back at
//!   the same step, still usable; the `_timeout` forms end the session.

use std::any::type_name;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll};
use std::thread;
use std::time::{Duration, Instant};

use corelane::sched::{self, Priority, Runtime};
use corelane::session::__private::new_chan;
use corelane::session::ring;
use corelane::session::{
    BlockingReceiver, Chan, Choose, Dual, End, Endpoint, Error, Label, Message, Offer, Rec,
    Receiver, Recv, Send, Split, Timed, Var, Z,
};

#[path = "common/sched.rs"]
mod common;
use common::bounded;

corelane::session_payload! {
    /// What the protocols here carry.
    pub enum Wire { U(u64), I(i64) }
}

corelane::session_choice! {
    /// A request in a loop, or the end.
    pub mod op {
        /// A number; its successor comes back.
        Incr(u64) => Recv<u64, Var<Z>>,
        /// A signed number; its negation comes back.
        Neg(i64) => Recv<i64, Var<Z>>,
        /// Done.
        Quit(()) => End,
    }
}

type Client = Rec<Choose<op::Choice>>;

fn is_cancelled<T>(r: Result<T, Error>) -> bool {
    matches!(r, Err(Error::Cancelled))
}

fn is_closed<T>(r: Result<T, Error>) -> bool {
    matches!(r, Err(Error::Closed))
}

fn runtime() -> Runtime {
    Runtime::builder()
        .cores([0])
        .pin(false)
        .build()
        .expect("a one-core runtime")
}

// ----- Cancelled and Closed ------------------------------------------------------

#[test]
fn a_peer_dropping_mid_session_cancels_it() {
    bounded(|| {
        // The server answers one request, takes the next one, and drops
        // its endpoint instead of answering: the client's receive reads
        // the abort.
        let (client, server) = ring::pair::<Client, Wire>(2);
        let t = thread::spawn(move || {
            let Ok(op::Branch::Incr(n, c)) = server.enter().offer_blocking() else {
                panic!("an Incr first");
            };
            let c = c.send_blocking(n + 1).expect("reply").recurse();
            let Ok(op::Branch::Neg(_, c)) = c.offer_blocking() else {
                panic!("a Neg next");
            };
            drop(c);
        });
        let c = client.enter().choose_blocking(op::Incr, 1).expect("ask");
        let (v, c) = c.recv_blocking().expect("answer");
        assert_eq!(v, 2);
        let c = c.recurse().choose_blocking(op::Neg, 5).expect("ask again");
        assert!(is_cancelled(c.recv_blocking()));
        t.join().expect("server thread");

        // A send to a peer that is gone and left an abort reads Cancelled
        // too (the sender looks in the ring it receives from).
        let (client, server) = ring::pair::<Client, Wire>(2);
        drop(server);
        assert!(is_cancelled(client.enter().choose_blocking(op::Quit, ())));
    });
}

#[test]
fn a_chooser_dropping_before_its_choice_cancels_the_offer() {
    let (client, server) = ring::pair::<Client, Wire>(1);
    drop(client.enter());
    assert!(is_cancelled(server.enter().offer_blocking()));
}

#[test]
fn a_peer_that_panics_mid_session_cancels_it() {
    bounded(|| {
        let (a, b) = ring::pair::<Send<u64, Recv<u64, End>>, u64>(1);
        let t = thread::spawn(move || {
            let (_v, _b) = b.recv_blocking().expect("the number");
            panic!("the peer's own bug, mid-session");
        });
        let a = a.send_blocking(7).expect("send");
        assert!(is_cancelled(a.recv_blocking()));
        assert!(t.join().is_err(), "the peer did panic");
    });
}

/// Streams numbers one way; the other half answers nothing.
type Stream = Split<Rec<Send<u64, Var<Z>>>, End>;

#[test]
fn a_dropped_receive_half_closes_the_peers_sends() {
    let (a, b) = ring::pair::<Stream, u64>(4);
    let (a_tx, a_rx) = a.split();
    let (b_tx, b_rx) = b.split();
    a_rx.close();
    b_tx.close();
    // The receive half has no abort to send: dropping it unfinished just
    // drops its ring.
    drop(b_rx);
    assert!(is_closed(a_tx.enter().send_blocking(1)));
}

#[test]
fn an_abort_that_finds_the_ring_full_reads_as_closed() {
    let (a, b) = ring::pair::<Stream, u64>(1);
    // Every slot of the ring takes a message, the one said to be kept for
    // an abort included.
    let frames = a.transport().capacity() as u64;
    let (a_tx, a_rx) = a.split();
    let (b_tx, b_rx) = b.split();
    let mut tx = a_tx.enter();
    for i in 0..frames {
        tx = tx.send_blocking(i).expect("room for every frame").recurse();
    }
    drop(tx); // the abort finds no room
    a_rx.close();
    b_tx.close();
    let mut rx = b_rx.enter();
    for i in 0..frames {
        let (v, next) = rx.recv_blocking().expect("the frames sent before the drop");
        assert_eq!(v, i);
        rx = next.recurse();
    }
    assert!(is_closed(rx.recv_blocking()));
}

#[test]
fn async_steps_see_cancelled_and_closed_too() {
    let rt = runtime();
    rt.block_on(async {
        let (a, b) = ring::pair::<Recv<u64, End>, u64>(1);
        drop(b);
        assert!(is_cancelled(a.recv().await));

        let (a, b) = ring::pair::<Stream, u64>(1);
        let (a_tx, a_rx) = a.split();
        let (b_tx, b_rx) = b.split();
        drop(b_rx);
        assert!(is_closed(a_tx.enter().send(1).await));
        a_rx.close();
        b_tx.close();
    });
}

// ----- forged peers: Violation ---------------------------------------------------

/// A forged arm of `op`: label 200, which `op` does not have. (`Label`
/// needs the hidden `__private::ArmOf`, which only `session_choice!` is
/// meant to implement; a program that forges it anyway, as here, is
/// still stopped by the offerer's check.)
struct Forged;
impl corelane::session::__private::ArmOf<op::Choice> for Forged {}
impl Label<op::Choice> for Forged {
    const INDEX: u8 = 200;
    type Msg = u64;
    type Next = Recv<u64, End>;
}

#[test]
fn a_label_the_choice_does_not_have_is_a_violation() {
    bounded(|| {
        let (client, server) = ring::pair::<Client, Wire>(1);
        let t = thread::spawn(move || match server.enter().offer_blocking() {
            Err(Error::Violation { expected, got }) => (expected, got),
            Err(e) => panic!("expected a violation, got {e}"),
            Ok(_) => panic!("expected a violation, got an arm"),
        });
        let c = client.enter().choose_blocking(Forged, 1).expect("sent");
        let (expected, got) = t.join().expect("server thread");
        assert_eq!(got, 200);
        assert_eq!(expected, "one of op::{Incr, Neg, Quit}");
        // The offerer's failed step aborted the session: the forger hears.
        assert!(is_cancelled(c.recv_blocking()));
    });
}

/// A number whose `Message` impl lies: it goes out as `Wire::I` but is
/// read back only from `Wire::U` (a peer built with another payload
/// mapping).
struct Liar(u64);
impl Message<Wire> for Liar {
    fn into_payload(self) -> Wire {
        Wire::I(-(self.0 as i64))
    }
    fn from_payload(p: Wire) -> Result<Self, Wire> {
        match p {
            Wire::U(v) => Ok(Liar(v)),
            other => Err(other),
        }
    }
}

#[test]
fn a_message_of_another_type_is_a_violation() {
    bounded(|| {
        let (a, b) = ring::pair::<Send<Liar, Recv<u64, End>>, Wire>(1);
        let t = thread::spawn(move || match b.recv_blocking() {
            Err(Error::Violation { expected, got }) => (expected, got),
            Err(e) => panic!("expected a violation, got {e}"),
            Ok(_) => panic!("expected a violation, got the message"),
        });
        let a = a.send_blocking(Liar(3)).expect("sent");
        let (expected, got) = t.join().expect("receiving thread");
        assert_eq!((expected, got), (type_name::<Liar>(), 0));
        assert!(is_cancelled(a.recv_blocking()));
    });
}

/// A transport that delivers a fixed script of frames (then `Closed`) and
/// records whether the endpoint aborted: the forged peer of the cases a
/// ring pair cannot produce.
struct Script {
    frames: VecDeque<(u8, Wire)>,
    aborted: Arc<AtomicBool>,
}

impl Endpoint for Script {
    type Payload = Wire;
    fn abort(&mut self) {
        self.aborted.store(true, SeqCst);
    }
}

impl Receiver for Script {
    fn poll_recv(&mut self, _: &mut Context<'_>) -> Poll<Result<(u8, Wire), Error>> {
        Poll::Ready(self.frames.pop_front().ok_or(Error::Closed))
    }
}

impl BlockingReceiver for Script {
    fn recv_blocking(&mut self, _: Option<Instant>) -> Result<Option<(u8, Wire)>, Error> {
        self.frames.pop_front().map(Some).ok_or(Error::Closed)
    }
}

/// An endpoint at step `S`, forged over a script of `frames`, and the flag
/// its abort sets.
fn forged<S>(frames: impl IntoIterator<Item = (u8, Wire)>) -> (Chan<S, Script>, Arc<AtomicBool>) {
    let aborted = Arc::new(AtomicBool::new(false));
    let script = Script {
        frames: frames.into_iter().collect(),
        aborted: aborted.clone(),
    };
    (new_chan(script), aborted)
}

#[test]
fn frames_no_dual_peer_sends_are_violations_and_abort() {
    // A labelled frame where a plain message is due.
    let (c, aborted) = forged::<Recv<u64, End>>([(3, Wire::U(1))]);
    let r = c.recv_blocking();
    assert!(matches!(r, Err(Error::Violation { got: 3, .. })));
    assert!(aborted.load(SeqCst), "a failed step aborts the transport");

    // The right label, the wrong variant.
    let (c, aborted) = forged::<Recv<u64, End>>([(0, Wire::I(-1))]);
    let r = c.recv_blocking();
    let want = type_name::<u64>();
    assert!(matches!(r, Err(Error::Violation { expected, got: 0 }) if expected == want));
    assert!(aborted.load(SeqCst));

    // A unit frame where a number is due, and a number where a unit is.
    let (c, _) = forged::<Recv<u64, End>>([(0, Wire::__Unit)]);
    assert!(matches!(c.recv_blocking(), Err(Error::Violation { .. })));
    let (c, _) = forged::<Recv<(), End>>([(0, Wire::U(1))]);
    assert!(matches!(c.recv_blocking(), Err(Error::Violation { .. })));

    // An arm's label with another arm's message type.
    let (c, aborted) = forged::<Offer<op::Choice>>([(0, Wire::I(4))]);
    let r = c.offer_blocking();
    assert!(matches!(r, Err(Error::Violation { got: 0, .. })));
    assert!(aborted.load(SeqCst));

    // Labels past the last arm.
    for label in [3, 200, 255] {
        let (c, aborted) = forged::<Offer<op::Choice>>([(label, Wire::U(4))]);
        match c.offer_blocking() {
            Err(Error::Violation { expected, got }) => {
                assert_eq!(got, label);
                assert!(expected.contains("Incr") && expected.contains("Quit"));
            }
            Err(e) => panic!("label {label}: {e}"),
            Ok(_) => panic!("label {label}: an arm"),
        }
        assert!(aborted.load(SeqCst));
    }

    // A well-formed script passes, and then the script ends: Closed.
    let (c, aborted) = forged::<Dual<Client>>([(1, Wire::I(4))]);
    let Ok(op::Branch::Neg(v, c)) = c.enter().offer_blocking() else {
        panic!("a Neg");
    };
    assert_eq!(v, 4);
    // (The forged transport cannot send: a dual step would not compile;
    // the session ends here by drop, which aborts.)
    drop(c);
    assert!(aborted.load(SeqCst));
}

#[test]
fn violations_say_what_was_expected() {
    let (c, _) = forged::<Offer<op::Choice>>([(9, Wire::U(4))]);
    let e = c.offer_blocking().expect_err("a violation");
    assert!(e.is_protocol_error());
    assert_eq!(
        e.to_string(),
        "protocol violation: expected one of op::{Incr, Neg, Quit}, got label 9"
    );
}

// ----- deadlines ---------------------------------------------------------------

#[test]
fn a_blocking_receive_that_times_out_keeps_the_channel() {
    bounded(|| {
        let (a, b) = ring::pair::<Recv<u64, Send<u64, End>>, u64>(1);
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let t = thread::spawn(move || {
            go_rx.recv().expect("go");
            let (v, b) = b
                .send_blocking(5)
                .expect("send")
                .recv_blocking()
                .expect("recv");
            b.close();
            v
        });
        let soon = Instant::now() + Duration::from_millis(5);
        let a = match a.recv_blocking_until(soon).expect("no error") {
            Timed::TimedOut(a) => a,
            Timed::Ready(_) => panic!("nothing was sent yet"),
        };
        assert!(Instant::now() >= soon);
        go_tx.send(()).expect("go");
        let later = Instant::now() + Duration::from_secs(30);
        let Timed::Ready((v, a)) = a.recv_blocking_until(later).expect("no error") else {
            panic!("the peer sent within 30 s");
        };
        assert_eq!(v, 5);
        a.send_blocking(6).expect("send").close();
        assert_eq!(t.join().expect("peer"), 6);
    });
}

#[test]
fn a_blocking_offer_that_times_out_keeps_the_channel() {
    let (client, server) = ring::pair::<Client, Wire>(1);
    let server = server.enter();
    let past = Instant::now();
    let Timed::TimedOut(server) = server.offer_blocking_until(past).expect("no error") else {
        panic!("nothing was chosen yet");
    };
    // A frame already there is taken even with the deadline passed.
    let client = client.enter().choose_blocking(op::Quit, ()).expect("sent");
    match server.offer_blocking_until(past).expect("no error") {
        Timed::Ready(op::Branch::Quit((), c)) => c.close(),
        Timed::Ready(_) => panic!("a Quit"),
        Timed::TimedOut(_) => panic!("the frame was waiting"),
    }
    client.close();
}

#[test]
fn async_deadlines_on_the_runtime_wheel() {
    let rt = runtime();
    rt.block_on(async {
        // recv_until: times out, the channel comes back and still works.
        let (a, b) = ring::pair::<Recv<u64, End>, u64>(1);
        let soon = Instant::now() + Duration::from_micros(300);
        let Timed::TimedOut(a) = a.recv_until(soon).await.expect("no error") else {
            panic!("nothing was sent yet");
        };
        assert!(Instant::now() >= soon);
        let peer = sched::spawn(Priority::Normal, async move {
            b.send(8).await.expect("send").close();
        });
        let later = Instant::now() + Duration::from_secs(30);
        let Timed::Ready((v, a)) = a.recv_until(later).await.expect("no error") else {
            panic!("the peer sent within 30 s");
        };
        assert_eq!(v, 8);
        a.close();
        peer.await.expect("peer task");

        // recv_timeout: times out and ends the session (the peer hears).
        let (a, b) = ring::pair::<Recv<u64, End>, u64>(1);
        let r = a.recv_timeout(Duration::from_micros(300)).await;
        assert!(matches!(r, Err(Error::Timeout)));
        // The timed-out side dropped its endpoint (an abort): the peer's
        // send finds it gone and reads the abort.
        assert!(is_cancelled(b.send(1).await.map(|b| b.close())));

        // offer_timeout in time (out of time: the next test).
        let (client, server) = ring::pair::<Client, Wire>(1);
        let peer = sched::spawn(Priority::Normal, async move {
            let c = client.enter().choose(op::Incr, 41).await.expect("ask");
            let (v, c) = c.recv().await.expect("answer");
            assert_eq!(v, 42);
            // The server drops the second request unanswered.
            let r = c
                .recurse()
                .choose(op::Incr, 0)
                .await
                .expect("ask")
                .recv()
                .await;
            assert!(is_cancelled(r));
        });
        let server = match server.enter().offer_timeout(Duration::from_secs(30)).await {
            Ok(op::Branch::Incr(n, c)) => c.send(n + 1).await.expect("reply").recurse(),
            _ => panic!("an Incr within 30 s"),
        };
        match server.offer_timeout(Duration::from_secs(30)).await {
            // Drop the second request unanswered.
            Ok(op::Branch::Incr(_, c)) => drop(c),
            Ok(_) => panic!("an Incr"),
            Err(e) => panic!("the request comes at once: {e}"),
        }
        peer.await.expect("peer task");
    });
}

#[test]
fn async_offer_timeout_ends_the_session() {
    let rt = runtime();
    rt.block_on(async {
        let (client, server) = ring::pair::<Client, Wire>(1);
        let r = server
            .enter()
            .offer_timeout(Duration::from_micros(300))
            .await;
        assert!(matches!(r, Err(Error::Timeout)));
        // The timed-out side dropped its endpoint: a send finds it gone
        // and reads its abort.
        assert!(is_cancelled(client.enter().choose(op::Incr, 1).await));
    });
}

#[test]
fn an_async_deadline_outside_a_runtime_is_an_error_not_a_panic() {
    let (a, b) = ring::pair::<Recv<u64, End>, u64>(1);
    let soon = Instant::now() + Duration::from_millis(1);
    let r = futures_util::FutureExt::now_or_never(a.recv_until(soon)).expect("ready at once");
    match r {
        Err(Error::Io(e)) => assert_eq!(e.kind(), std::io::ErrorKind::Unsupported),
        Err(e) => panic!("expected Io(Unsupported), got {e}"),
        Ok(_) => panic!("expected Io(Unsupported)"),
    }
    // The failed step consumed the channel (an abort): the peer reads it.
    assert!(is_cancelled(b.send_blocking(1).map(|b| b.close())));
}
