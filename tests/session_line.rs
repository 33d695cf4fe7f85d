//! `session::line` end to end: typed ping-pong across threads with every
//! value checked (each wait strategy), a choice loop, aborts and gone
//! peers, payloads dropped exactly once, deadlines, async ends on the
//! corelane runtime, delegation of a ring channel through a line, and a
//! property test of random turn-taking scripts (with random aborts)
//! against the script as the model.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use corelane::queue::wait::WaitStrategy;
use corelane::sched::{Priority, Runtime};
use corelane::session::{
    self, line, line::Line, ring::Ring, Chan, Choose, End, Error, Offer, Rec, Recv, Send, Succ,
    Timed, Var, Z,
};
use proptest::prelude::*;

#[path = "common/sched.rs"]
mod common;
use common::bounded;

corelane::session_choice! {
    /// What the client asks for.
    pub mod ask {
        /// A number; the reply is `3n + 1`.
        Ping(u64) => Recv<u64, Var<Z>>,
        /// The negation of a signed number.
        Neg(i64) => Recv<i64, Var<Z>>,
        /// Done.
        Stop(()) => End,
    }
}

corelane::session_payload! {
    /// The ping protocol's messages.
    pub enum Msg { U(u64), I(i64) }
}

/// The client's view; the server follows its dual.
type Client = Rec<Choose<ask::Choice>>;

fn server(c: Chan<session::Dual<Client>, Line<Msg>>) -> Result<u64, Error> {
    let mut c = c.enter();
    let mut served = 0;
    loop {
        match c.offer_blocking()? {
            ask::Branch::Ping(n, c2) => c = c2.send_blocking(3 * n + 1)?.recurse(),
            ask::Branch::Neg(n, c2) => c = c2.send_blocking(-n)?.recurse(),
            ask::Branch::Stop((), c2) => {
                c2.close();
                return Ok(served);
            }
        }
        served += 1;
    }
}

/// `rounds` round trips (every seventh a `Neg`), each reply checked.
fn ping_pong(wait: WaitStrategy, rounds: u64) -> Result<(), Error> {
    let (client, srv) = line::pair_with::<Client, Msg>(wait);
    let t = thread::spawn(move || server(srv));
    let mut c = client.enter();
    for i in 0..rounds {
        c = if i % 7 == 0 {
            let (r, c2) = c.choose_blocking(ask::Neg, i as i64)?.recv_blocking()?;
            assert_eq!(r, -(i as i64));
            c2.recurse()
        } else {
            let (r, c2) = c.choose_blocking(ask::Ping, i)?.recv_blocking()?;
            assert_eq!(r, 3 * i + 1);
            c2.recurse()
        };
    }
    c.choose_blocking(ask::Stop, ())?.close();
    assert_eq!(t.join().unwrap()?, rounds);
    Ok(())
}

#[test]
fn ping_pong_backoff() {
    bounded(|| ping_pong(WaitStrategy::Backoff, 100_000)).unwrap();
}

#[test]
fn ping_pong_park() {
    bounded(|| ping_pong(WaitStrategy::Park, 100_000)).unwrap();
}

#[test]
fn ping_pong_yield() {
    bounded(|| ping_pong(WaitStrategy::Yield, 20_000)).unwrap();
}

/// Fewer rounds: two spinning threads on a busy 2-CPU machine may wait a
/// scheduler slice per hop.
#[test]
fn ping_pong_busy_spin() {
    bounded(|| ping_pong(WaitStrategy::BusySpin, 10_000)).unwrap();
}

/// A loop with no end of its own: the client leaves by dropping.
type Forever = Rec<Send<u64, Recv<u64, Var<Z>>>>;

#[test]
fn a_dropped_peer_is_cancelled_even_while_parked() {
    for wait in [WaitStrategy::Park, WaitStrategy::Backoff] {
        let (client, srv) = line::pair_with::<Forever, u64>(wait);
        let t = thread::spawn(move || {
            let mut c = srv.enter();
            let mut served = 0;
            loop {
                match c.recv_blocking() {
                    Ok((v, c2)) => c = c2.send_blocking(v + 1).unwrap().recurse(),
                    Err(e) => return (served, e),
                }
                served += 1;
            }
        });
        let mut c = client.enter();
        for i in 0..100 {
            let (v, c2) = c.send_blocking(i).unwrap().recv_blocking().unwrap();
            assert_eq!(v, i + 1);
            c = c2.recurse();
        }
        // Let the server park in its receive, then abandon the session.
        thread::sleep(Duration::from_millis(20));
        drop(c);
        let (served, e) = t.join().unwrap();
        assert_eq!(served, 100);
        assert!(matches!(e, Error::Cancelled), "{e:?}");
    }
}

#[test]
fn a_send_to_a_gone_peer_is_closed() {
    let (a, b) = line::pair_with::<Forever, u64>(WaitStrategy::Park);
    let t = thread::spawn(move || drop(b));
    t.join().unwrap();
    assert!(matches!(a.enter().send_blocking(1), Err(Error::Closed)));
}

/// The frames a peer sent before it aborted are delivered first.
#[test]
fn frames_before_an_abort_arrive_then_cancelled() {
    type P = Send<u64, Recv<u64, End>>;
    let (a, b) = line::pair::<P, u64>();
    let a = a.send_blocking(9).unwrap();
    drop(a); // at Recv: an abort
    let (v, b) = b.recv_blocking().unwrap();
    assert_eq!(v, 9);
    // Its reply finds the peer gone.
    assert!(matches!(b.send_blocking(1), Err(Error::Closed)));
}

/// Counts its drops.
struct Counted(u64, &'static AtomicUsize);
impl Drop for Counted {
    fn drop(&mut self) {
        self.1.fetch_add(1, SeqCst);
    }
}

corelane::session_payload! {
    /// One counted message.
    pub enum Boxed { C(Counted) }
}

#[test]
fn an_unread_payload_is_dropped_exactly_once() {
    static DROPS: AtomicUsize = AtomicUsize::new(0);
    type P = Send<Counted, Send<Counted, End>>;
    // Unread when both ends go, the last on another thread.
    let (a, b) = line::pair::<P, Boxed>();
    let a = a.send_blocking(Counted(1, &DROPS)).unwrap();
    drop(a);
    thread::spawn(move || drop(b)).join().unwrap();
    assert_eq!(DROPS.swap(0, SeqCst), 1);
    // Read and kept by the reader, whose end goes first: still once.
    let (a, b) = line::pair::<P, Boxed>();
    let t = thread::spawn(move || {
        let (v, b) = b.recv_blocking().unwrap();
        drop(b);
        v
    });
    let a = a.send_blocking(Counted(2, &DROPS)).unwrap();
    let v = t.join().unwrap();
    assert_eq!((v.0, DROPS.load(SeqCst)), (2, 0));
    assert!(matches!(
        a.send_blocking(Counted(3, &DROPS)),
        Err(Error::Closed)
    ));
    drop(v);
    assert_eq!(DROPS.swap(0, SeqCst), 2, "the payload and the refused one");
}

#[test]
fn deadlines_time_out_and_keep_the_session() {
    type P = Recv<u64, Offer<ask::Choice>>;
    let (a, b) = line::pair_with::<P, Msg>(WaitStrategy::Park);
    let soon = Instant::now() + Duration::from_millis(5);
    let Timed::TimedOut(a) = a.recv_blocking_until(soon).unwrap() else {
        panic!("nothing was sent");
    };
    assert!(Instant::now() >= soon);
    let t = thread::spawn(move || {
        thread::sleep(Duration::from_millis(5));
        let b = b.send_blocking(4).unwrap();
        thread::sleep(Duration::from_millis(100));
        b.choose_blocking(ask::Stop, ()).unwrap().close();
    });
    let far = Instant::now() + Duration::from_secs(30);
    let Timed::Ready((v, a)) = a.recv_blocking_until(far).unwrap() else {
        panic!("the value came in time");
    };
    assert_eq!(v, 4);
    let a = match a.offer_blocking_until(Instant::now()).unwrap() {
        Timed::TimedOut(a) => a,
        Timed::Ready(_) => panic!("the pick comes 100 ms later"),
    };
    match a.offer_blocking_until(far).unwrap() {
        Timed::Ready(ask::Branch::Stop((), a)) => a.close(),
        _ => panic!("expected Stop"),
    }
    t.join().unwrap();
}

/// Two tasks on one core take turns; then a receive with a timeout.
#[test]
fn async_ends_on_the_runtime() {
    bounded(|| {
        let rt = Runtime::builder().cores([0]).pin(false).build().unwrap();
        let (client, srv) = line::pair::<Client, Msg>();
        let server = rt.spawn_on(0, Priority::Normal, async move {
            let mut c = srv.enter();
            let mut served = 0u64;
            loop {
                match c.offer().await? {
                    ask::Branch::Ping(n, c2) => c = c2.send(3 * n + 1).await?.recurse(),
                    ask::Branch::Neg(n, c2) => c = c2.send(-n).await?.recurse(),
                    ask::Branch::Stop((), c2) => {
                        c2.close();
                        return Ok::<u64, Error>(served);
                    }
                }
                served += 1;
            }
        });
        let served = rt
            .block_on(async move {
                let mut c = client.enter();
                for i in 0..10_000u64 {
                    let (r, c2) = c.choose(ask::Ping, i).await?.recv().await?;
                    assert_eq!(r, 3 * i + 1);
                    c = c2.recurse();
                }
                c.choose(ask::Stop, ()).await?.close();
                server.await.unwrap()
            })
            .unwrap();
        assert_eq!(served, 10_000);
        let (a, _b) = line::pair::<Recv<u64, End>, u64>();
        let r =
            rt.block_on(async move { a.recv_timeout(Duration::from_micros(300)).await.map(drop) });
        assert!(matches!(r, Err(Error::Timeout)));
    });
}

/// Async ends on two threads, one a runtime task and one a blocking
/// thread that parks: each wakes the other.
#[test]
fn async_and_parked_ends_wake_each_other() {
    bounded(|| {
        let rt = Runtime::builder().cores([0]).pin(false).build().unwrap();
        let (client, srv) = line::pair_with::<Client, Msg>(WaitStrategy::Park);
        let t = thread::spawn(move || server(srv));
        let n = rt
            .block_on(async move {
                let mut c = client.enter();
                for i in 0..2_000u64 {
                    let (r, c2) = c.choose(ask::Ping, i).await?.recv().await?;
                    assert_eq!(r, 3 * i + 1);
                    c = c2.recurse();
                }
                c.choose(ask::Stop, ()).await?.close();
                Ok::<u64, Error>(2_000)
            })
            .unwrap();
        assert_eq!(t.join().unwrap().unwrap(), n);
    });
}

corelane::session_payload! {
    /// Numbers, or a ring channel handed over.
    pub enum Deleg {
        N(u64),
        Sub(Chan<Recv<u64, End>, Ring<u64>>),
    }
}

/// A ring channel's end travels through a line to another thread, which
/// then follows it.
#[test]
fn delegation_of_a_ring_channel_through_a_line() {
    type P = Send<Chan<Recv<u64, End>, Ring<u64>>, Recv<u64, End>>;
    let (a, b) = line::pair::<P, Deleg>();
    let (sub_tx, sub_rx) = session::ring::pair::<Send<u64, End>, u64>(1);
    let t = thread::spawn(move || {
        let (sub, b) = b.recv_blocking()?;
        let (v, sub) = sub.recv_blocking()?;
        sub.close();
        b.send_blocking(v * 10)?.close();
        Ok::<(), Error>(())
    });
    let a = a.send_blocking(sub_rx).unwrap();
    sub_tx.send_blocking(7).unwrap().close();
    let (v, a) = a.recv_blocking().unwrap();
    assert_eq!(v, 70);
    a.close();
    t.join().unwrap().unwrap();
}

// The property test: a random script of values, each sent by A or B, run
// over a protocol in which the sender of the current turn keeps sending
// (`Val`) until it hands the turn over (`Turn`, `Back`). Each receiver
// checks what comes against the script. With a cut, one side drops its end
// right before sending the script's value at that index, and the other
// must have received exactly that side's earlier values, then fail with
// `Cancelled` (at a receive) or `Closed` (at a send).

corelane::session_choice! {
    /// A's turn: a value, the turn to B, or the end.
    pub mod a_turn {
        /// A value from A.
        Val(u64) => Var<Z>,
        /// B sends next.
        Turn(()) => Rec<Offer<b_turn::Choice>>,
        /// The end.
        Stop(()) => End,
    }
}

corelane::session_choice! {
    /// B's turn (written from B's side): a value, or the turn back.
    pub mod b_turn {
        /// A value from B.
        Val(u64) => Var<Z>,
        /// A sends next (B's outer loop).
        Back(()) => Var<Succ<Z>>,
    }
}

type Script = Arc<Vec<(bool, u64)>>;
type ATurns = Rec<Choose<a_turn::Choice>>;

/// What one side ends with: the values it received, and the error that
/// ended it (None: it reached `End`).
type Outcome = (Vec<u64>, Option<Error>);

fn run_a(c: Chan<ATurns, Line<u64>>, script: Script, cut: Option<usize>) -> Outcome {
    let mut got = Vec::new();
    let r = (|| -> Result<(), Error> {
        let mut outer = c.enter();
        let mut i = 0;
        while i < script.len() {
            if script[i].0 {
                if cut == Some(i) {
                    return Ok(()); // drops `outer`: an abort
                }
                outer = outer.choose_blocking(a_turn::Val, script[i].1)?.recurse();
                i += 1;
                continue;
            }
            let mut inner = outer.choose_blocking(a_turn::Turn, ())?.enter();
            outer = loop {
                match inner.offer_blocking()? {
                    b_turn::Branch::Val(v, c) => {
                        got.push(v);
                        assert_eq!((script[i].0, script[i].1), (false, v));
                        i += 1;
                        inner = c.recurse();
                    }
                    b_turn::Branch::Back((), c) => break c.recurse(),
                }
            };
        }
        outer.choose_blocking(a_turn::Stop, ())?.close();
        Ok(())
    })();
    (got, r.err())
}

fn run_b(c: Chan<session::Dual<ATurns>, Line<u64>>, script: Script, cut: Option<usize>) -> Outcome {
    let mut got = Vec::new();
    let r = (|| -> Result<(), Error> {
        let mut outer = c.enter();
        let mut i = 0;
        loop {
            match outer.offer_blocking()? {
                a_turn::Branch::Val(v, c) => {
                    got.push(v);
                    assert_eq!((script[i].0, script[i].1), (true, v));
                    i += 1;
                    outer = c.recurse();
                }
                a_turn::Branch::Stop((), c) => {
                    assert_eq!(i, script.len());
                    c.close();
                    return Ok(());
                }
                a_turn::Branch::Turn((), c) => {
                    let mut inner = c.enter();
                    while i < script.len() && !script[i].0 {
                        if cut == Some(i) {
                            return Ok(());
                        }
                        inner = inner.choose_blocking(b_turn::Val, script[i].1)?.recurse();
                        i += 1;
                    }
                    outer = inner.choose_blocking(b_turn::Back, ())?.recurse();
                }
            }
        }
    })();
    (got, r.err())
}

fn strategy() -> impl Strategy<Value = WaitStrategy> {
    prop_oneof![
        Just(WaitStrategy::BusySpin),
        Just(WaitStrategy::Yield),
        Just(WaitStrategy::Backoff),
        Just(WaitStrategy::Park),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn turns_follow_the_script(
        script in prop::collection::vec((any::<bool>(), any::<u64>()), 0..40),
        cut in prop::option::of(any::<prop::sample::Index>()),
        wait in strategy(),
    ) {
        let cut = cut.filter(|_| !script.is_empty()).map(|ix| ix.index(script.len()));
        let script: Script = Arc::new(script);
        let (a, b) = line::pair_with::<ATurns, u64>(wait);
        let (s_a, s_b) = (script.clone(), script.clone());
        let (cut_a, cut_b) = match cut {
            Some(i) if script[i].0 => (Some(i), None),
            Some(i) => (None, Some(i)),
            None => (None, None),
        };
        let tb = thread::spawn(move || run_b(b, s_b, cut_b));
        let (got_a, err_a) = run_a(a, s_a, cut_a);
        let (got_b, err_b) = tb.join().unwrap();
        // The model: each side receives the other's values, in order, up
        // to the cut (if the other side made it).
        let upto = |from_a: bool, cut: Option<usize>| -> Vec<u64> {
            let end = cut.unwrap_or(script.len());
            script[..end].iter().filter(|s| s.0 == from_a).map(|s| s.1).collect()
        };
        prop_assert_eq!(&got_b, &upto(true, cut));
        prop_assert_eq!(&got_a, &upto(false, cut));
        // The side that did not cut waits to receive when the other goes
        // (the cut is at the cutter's own turn): `Cancelled`.
        let cancelled = |e: &Option<Error>| matches!(e, Some(Error::Cancelled));
        match (cut_a, cut_b) {
            (None, None) => prop_assert!(err_a.is_none() && err_b.is_none(), "{:?} {:?}", err_a, err_b),
            (Some(_), _) => prop_assert!(err_a.is_none() && cancelled(&err_b), "{:?}", err_b),
            (_, Some(_)) => prop_assert!(err_b.is_none() && cancelled(&err_a), "{:?}", err_a),
        }
    }
}
