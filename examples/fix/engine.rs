//! The session engine: the Logon phase as typed steps, then the split into
//! a transmit loop and a receive loop that run on one task (one core),
//! sharing [`State`] through a `RefCell` that no borrow holds across an
//! `await`. Generic over the transport: the same code runs over the
//! in-process rings and over io_uring TCP.
//!
//! Ground rules:
//! - The receive loop owns the receive half: it checks each message beside
//!   the type (`State::on_incoming`), hands application messages to the
//!   [`Handler`], and queues what must be answered (a Heartbeat for a
//!   TestRequest, a replay for a ResendRequest) for the transmit loop.
//!   Silence past `State::rx_deadline` is `Chan::offer_until`'s
//!   `Timed::TimedOut`: a TestRequest first, the end of the session next.
//! - The transmit loop owns the transmit half: it stamps and sends duties
//!   in order, and a Heartbeat whenever nothing went out for HeartBtInt.
//!   Its last message is the Logout (the type's only way to `End`).
//! - The session is over when both loops are; once one is, the other gets
//!   `logout_timeout` more, then is dropped (its endpoint aborts). So no
//!   peer can keep a session alive without taking part in it.

use core::future::{poll_fn, Future};
use core::pin::{pin, Pin};
use core::task::Poll;
use std::cell::RefCell;
use std::time::Instant;

use corelane::sched;
use corelane::session::{
    Chan, Choose, Message, Offer, Rec, Receiver, Sender, SplitTransport, Timed,
};

use super::msg::*;
use super::proto::{self, a2i, i2a, logon, logon_reply, Inbound, Incoming, Outbound, Step};
use super::state::{Config, Duty, Outcome, Replay, State, Stats, Verdict};

/// The application above the session.
pub trait Handler {
    /// Room in the send queue that [`on_app`](Handler::on_app) may fill.
    const REPLIES: usize = 0;
    /// An application message, in sequence, once; replies go out through
    /// `st.push_app` (at most `REPLIES` of them).
    fn on_app(&mut self, m: &Fix<App>, st: &mut State, now: Instant);
    /// A Heartbeat (in sequence).
    fn on_heartbeat(&mut self, _m: &Fix<Heartbeat>) {}
    /// One of our application messages is going out for the first time.
    fn on_sent(&mut self, _app: &App, _now: Instant) {}
}

/// The state and the application, shared by the loops and the driver.
pub struct Shared<H> {
    /// The session state.
    pub st: RefCell<State>,
    /// The application.
    pub app: RefCell<H>,
}

/// How a session went.
pub struct Report<H> {
    /// How it ended.
    pub outcome: Outcome,
    /// Its counters.
    pub stats: Stats,
    /// The application, for its own results.
    pub app: H,
}

impl<H> Shared<H> {
    fn new(cfg: Config, app: H) -> Shared<H> {
        Shared {
            st: RefCell::new(State::new(cfg, Instant::now())),
            app: RefCell::new(app),
        }
    }

    fn end(&self, o: Outcome) {
        self.st.borrow_mut().end(o);
    }

    fn report(self) -> Report<H> {
        let mut st = self.st.into_inner();
        Report {
            outcome: st.take_outcome(),
            stats: st.stats,
            app: self.app.into_inner(),
        }
    }
}

/// Waits until `f` holds (re-checked whenever the session wakes the
/// application: news from the peer, room in the queue, the end).
pub async fn until<H>(sh: &Shared<H>, mut f: impl FnMut(&State, &H) -> bool) {
    poll_fn(|cx| {
        let mut st = sh.st.borrow_mut();
        if f(&st, &sh.app.borrow()) || st.outcome().is_some() {
            return Poll::Ready(());
        }
        st.app_waker = Some(cx.waker().clone());
        Poll::Pending
    })
    .await
}

/// Runs the initiator's side: Logon, then the loops and `driver` (the
/// application's script) until the session ends.
pub async fn initiator<T, H>(
    chan: Chan<proto::Initiator, T>,
    cfg: Config,
    app: H,
    driver: impl AsyncFnOnce(&Shared<H>),
) -> Report<H>
where
    T: SplitTransport<Payload = FixMsg> + Sender + Receiver,
    T::Tx: Sender<Payload = FixMsg>,
    T::Rx: Receiver<Payload = FixMsg>,
    H: Handler,
{
    let (hb, reset, deadline) = (
        cfg.heartbeat,
        cfg.reset_on_logon,
        Instant::now() + cfg.logon_timeout,
    );
    let sh = Shared::new(cfg, app);
    let hdr = sh.st.borrow_mut().stamp(UtcMillis::now());
    let body = Logon {
        heart_bt_int: hb,
        reset_seq_num: reset,
    };
    let sent = bounded(deadline, chan.choose(logon::Logon, Fix { hdr, body })).await;
    let reply = match sent {
        Ok(c) => c.offer_until(deadline).await,
        Err(e) => Err(e),
    };
    match reply {
        Err(corelane::session::Error::Timeout) => sh.end(Outcome::Timeout("sending our Logon")),
        Err(e) => sh.end(Outcome::from_error(e)),
        Ok(Timed::TimedOut(c)) => {
            drop(c);
            sh.end(Outcome::Timeout("no answer to our Logon"));
        }
        Ok(Timed::Ready(logon_reply::Branch::Logout(m, c))) => {
            c.close();
            let why = m.body.text.unwrap_or(Text::lossy(b"(no text)"));
            sh.end(Outcome::Refused(why));
        }
        Ok(Timed::Ready(logon_reply::Branch::Logon(m, c))) => {
            logged_on(&sh, &m.hdr, hb);
            let (tx, rx) = c.split();
            let drv = driver(&sh);
            active::<i2a::Choice, a2i::Choice, _, _, _, _>(tx, rx, &sh, drv).await;
        }
    }
    sh.report()
}

/// Runs the acceptor's side: waits for a Logon, checks it, answers with
/// Logon (or Logout, refusing), then the loops until the session ends.
pub async fn acceptor<T, H>(chan: Chan<proto::Acceptor, T>, cfg: Config, app: H) -> Report<H>
where
    T: SplitTransport<Payload = FixMsg> + Sender + Receiver,
    T::Tx: Sender<Payload = FixMsg>,
    T::Rx: Receiver<Payload = FixMsg>,
    H: Handler,
{
    let deadline = Instant::now() + cfg.logon_timeout;
    let sh = Shared::new(cfg, app);
    let (m, c) = match chan.offer_until(deadline).await {
        Err(e) => return end_with(sh, Outcome::from_error(e)),
        Ok(Timed::TimedOut(c)) => {
            drop(c);
            return end_with(sh, Outcome::Timeout("no Logon"));
        }
        Ok(Timed::Ready(logon::Branch::Logon(m, c))) => (m, c),
    };
    let checked = check_logon(&sh.st.borrow(), &m);
    if let Err(why) = checked {
        let hdr = sh.st.borrow_mut().stamp(UtcMillis::now());
        let body = Logout {
            text: Some(why.text()),
        };
        if let Ok(c) = bounded(deadline, c.choose(logon_reply::Logout, Fix { hdr, body })).await {
            c.close();
        }
        return end_with(sh, why);
    }
    let hb = m.body.heart_bt_int;
    let hdr = sh.st.borrow_mut().stamp(UtcMillis::now());
    let body = Logon {
        heart_bt_int: hb,
        reset_seq_num: m.body.reset_seq_num,
    };
    match bounded(deadline, c.choose(logon_reply::Logon, Fix { hdr, body })).await {
        Err(corelane::session::Error::Timeout) => {
            sh.end(Outcome::Timeout("sending the Logon answer"));
        }
        Err(e) => sh.end(Outcome::from_error(e)),
        Ok(c) => {
            logged_on(&sh, &m.hdr, hb);
            let (tx, rx) = c.split();
            let idle = std::future::pending::<()>();
            active::<a2i::Choice, i2a::Choice, _, _, _, _>(tx, rx, &sh, idle).await;
        }
    }
    sh.report()
}

/// A send of the Logon phase, given until `deadline` (a peer that does not
/// read must not hold the session before the loops, whose own timers bound
/// it, have started); `Error::Timeout` after.
async fn bounded<C>(
    deadline: Instant,
    send: impl Future<Output = Result<C, corelane::session::Error>>,
) -> Result<C, corelane::session::Error> {
    let left = deadline.saturating_duration_since(Instant::now());
    match sched::timeout(left, send).await {
        Ok(r) => r,
        Err(_) => Err(corelane::session::Error::Timeout),
    }
}

fn end_with<H>(sh: Shared<H>, o: Outcome) -> Report<H> {
    sh.end(o);
    sh.report()
}

/// Why an acceptor refuses a Logon.
fn check_logon(st: &State, m: &Fix<Logon>) -> Result<(), Outcome> {
    if m.hdr.sender != st.cfg.target || m.hdr.target != st.cfg.sender {
        return Err(Outcome::WrongCompId);
    }
    let hb = m.body.heart_bt_int;
    if hb == 0 || hb > st.cfg.max_heartbeat {
        return Err(Outcome::Refused(Text::lossy(b"HeartBtInt out of range")));
    }
    Ok(())
}

/// The Logon exchange is done: the peer's Logon counts in sequence (a
/// higher number than 1 is a gap to resend).
fn logged_on<H>(sh: &Shared<H>, hdr: &Header, hb: u32) {
    let now = Instant::now();
    let mut st = sh.st.borrow_mut();
    st.on_logon(hb, now);
    st.on_logon_msg(hdr, now);
}

/// Runs both loops and the driver until both loops are done (the second
/// one `logout_timeout` at most after the first).
async fn active<Out, In, TX, RX, H, D>(
    tx: Chan<Rec<Choose<Out>>, TX>,
    rx: Chan<Rec<Offer<In>>, RX>,
    sh: &Shared<H>,
    driver: D,
) where
    Out: Outbound,
    Fix<Out::AppBody>: Message<FixMsg>,
    In: Inbound<RX, (Offer<In>, ())>,
    TX: Sender<Payload = FixMsg>,
    RX: Receiver<Payload = FixMsg>,
    H: Handler,
    D: Future<Output = ()>,
{
    let linger_for = sh.st.borrow().cfg.logout_timeout;
    let mut tx = pin!(tx_loop::<Out, TX, H>(tx, sh));
    let mut rx = pin!(rx_loop::<In, RX, H>(rx, sh));
    let mut drv = pin!(driver);
    let (mut tx_done, mut rx_done, mut drv_done) = (false, false, false);
    let mut linger: Option<sched::Sleep> = None;
    poll_fn(|cx| {
        tx_done = tx_done || tx.as_mut().poll(cx).is_ready();
        rx_done = rx_done || rx.as_mut().poll(cx).is_ready();
        drv_done = drv_done || drv.as_mut().poll(cx).is_ready();
        if tx_done && rx_done {
            return Poll::Ready(());
        }
        if tx_done || rx_done {
            let l = linger.get_or_insert_with(|| sched::sleep(linger_for));
            if Pin::new(l).poll(cx).is_ready() {
                sh.end(Outcome::Timeout("one half did not finish"));
                return Poll::Ready(());
            }
        }
        Poll::Pending
    })
    .await;
}

/// Stamps and sends duties, and Heartbeats when idle, until the Logout.
async fn tx_loop<C, T, H>(chan: Chan<Rec<Choose<C>>, T>, sh: &Shared<H>)
where
    C: Outbound,
    Fix<C::AppBody>: Message<FixMsg>,
    T: Sender<Payload = FixMsg>,
    H: Handler,
{
    let mut c = chan.enter();
    let mut timer = sched::sleep_until(sh.st.borrow().heartbeat_due());
    loop {
        let duty = poll_fn(|cx| {
            let mut st = sh.st.borrow_mut();
            if let Some(d) = st.next_duty() {
                return Poll::Ready(d);
            }
            let due = st.heartbeat_due();
            if timer.deadline() != due {
                timer.reset(due);
            }
            if Pin::new(&mut timer).poll(cx).is_ready() {
                return Poll::Ready(Duty::Heartbeat(None));
            }
            st.tx_waker = Some(cx.waker().clone());
            Poll::Pending
        })
        .await;
        sh.st.borrow_mut().sending(true, Instant::now());
        let sent = match duty {
            Duty::Logout(text) => {
                let hdr = stamp(sh);
                let m = Fix {
                    hdr,
                    body: Logout { text },
                };
                match c.choose(C::Logout::default(), m).await {
                    Ok(end) => {
                        end.close();
                        sh.st.borrow_mut().sent_logout(Instant::now());
                        return;
                    }
                    Err(e) => Err(e),
                }
            }
            Duty::Resend(begin, end) => replay::<C, T, H>(c, sh, begin, end).await,
            d => send_one::<C, T, H>(c, sh, d).await,
        };
        match sent {
            Ok(next) => {
                c = next;
                let mut st = sh.st.borrow_mut();
                st.sending(false, Instant::now());
                st.sent(Instant::now());
            }
            Err(e) => {
                sh.end(Outcome::from_error(e));
                return;
            }
        }
    }
}

/// The transmit loop's channel at its loop head.
type TxChan<C, T> = Chan<Choose<C>, T, (Choose<C>, ())>;

fn stamp<H>(sh: &Shared<H>) -> Header {
    sh.st.borrow_mut().stamp(UtcMillis::now())
}

/// Sends one duty other than Logout and Resend.
async fn send_one<C, T, H>(
    c: TxChan<C, T>,
    sh: &Shared<H>,
    d: Duty,
) -> Result<TxChan<C, T>, corelane::session::Error>
where
    C: Outbound,
    Fix<C::AppBody>: Message<FixMsg>,
    T: Sender<Payload = FixMsg>,
    H: Handler,
{
    let c = match d {
        Duty::Heartbeat(test_req_id) => {
            sh.st.borrow_mut().stats.heartbeats_out += 1;
            let m = Fix {
                hdr: stamp(sh),
                body: Heartbeat { test_req_id },
            };
            c.choose(C::Heartbeat::default(), m).await?
        }
        Duty::TestRequest(test_req_id) => {
            sh.st.borrow_mut().stats.test_requests_out += 1;
            let m = Fix {
                hdr: stamp(sh),
                body: TestRequest { test_req_id },
            };
            c.choose(C::TestRequest::default(), m).await?
        }
        Duty::ResendRequest(begin) => {
            sh.st.borrow_mut().stats.resend_requests_out += 1;
            let m = Fix {
                hdr: stamp(sh),
                body: ResendRequest { begin, end: 0 },
            };
            c.choose(C::ResendRequest::default(), m).await?
        }
        Duty::Reject(ref_seq, reason, text) => {
            let m = Fix {
                hdr: stamp(sh),
                body: Reject {
                    ref_seq,
                    reason: Some(reason),
                    text: Some(Text::lossy(text.as_bytes())),
                },
            };
            c.choose(C::Reject::default(), m).await?
        }
        Duty::App(app) => {
            let Some(body) = C::app_body(app) else {
                // Not this side's kind of message: the type has no arm for it.
                return Ok(c);
            };
            let now = Instant::now();
            let hdr = sh.st.borrow_mut().stamp_app(&app, UtcMillis::now());
            sh.app.borrow_mut().on_sent(&app, now);
            c.choose(C::App::default(), Fix { hdr, body }).await?
        }
        // Handled by the caller.
        Duty::Logout(_) | Duty::Resend(..) => return Ok(c),
    };
    Ok(c.recurse())
}

/// Answers a ResendRequest: stored application messages again (PossDupFlag,
/// OrigSendingTime), SequenceReset-GapFill over everything else.
async fn replay<C, T, H>(
    mut c: TxChan<C, T>,
    sh: &Shared<H>,
    begin: u64,
    end: u64,
) -> Result<TxChan<C, T>, corelane::session::Error>
where
    C: Outbound,
    Fix<C::AppBody>: Message<FixMsg>,
    T: Sender<Payload = FixMsg>,
    H: Handler,
{
    let end = sh.st.borrow().replay_end(end);
    let mut from = begin;
    loop {
        let step = sh.st.borrow().replay(from, end);
        let now = UtcMillis::now();
        c = match step {
            None => return Ok(c),
            Some(Replay::App(seq, orig, app)) => {
                from = seq + 1;
                let Some(body) = C::app_body(app) else {
                    continue;
                };
                let hdr = {
                    let mut st = sh.st.borrow_mut();
                    st.stats.resent += 1;
                    st.stamp_replay(seq, orig, now)
                };
                c.choose(C::App::default(), Fix { hdr, body }).await?
            }
            Some(Replay::GapFill(seq, new_seq)) => {
                from = new_seq;
                let hdr = {
                    let mut st = sh.st.borrow_mut();
                    st.stats.gap_fills_out += 1;
                    st.stamp_replay(seq, now, now)
                };
                let body = SequenceReset {
                    gap_fill: true,
                    new_seq,
                };
                c.choose(C::SequenceReset::default(), Fix { hdr, body })
                    .await?
            }
        }
        .recurse();
        // (Not a stuck send while we only yield the core.)
        sh.st.borrow_mut().sending(false, Instant::now());
        sched::yield_if_needed().await;
        sh.st.borrow_mut().sending(true, Instant::now());
    }
}

/// Receives, checks and dispatches until the peer's Logout or the end.
async fn rx_loop<C, R, H>(chan: Chan<Rec<Offer<C>>, R>, sh: &Shared<H>)
where
    C: Inbound<R, (Offer<C>, ())>,
    R: Receiver<Payload = FixMsg>,
    H: Handler,
{
    let mut c = chan.enter();
    loop {
        if sh
            .st
            .borrow()
            .outcome()
            .is_some_and(|o| *o != Outcome::LoggedOut)
        {
            return; // poisoned: the transmit half says why, then both end
        }
        let deadline = sh.st.borrow().rx_deadline();
        let branch = match c.offer_until(deadline).await {
            Err(e) => return sh.end(Outcome::from_error(e)),
            Ok(Timed::TimedOut(back)) => {
                let mut st = sh.st.borrow_mut();
                let now = Instant::now();
                if !st.check_stall(now) && now >= st.rx_deadline() {
                    st.on_silence(now);
                }
                c = back;
                continue;
            }
            Ok(Timed::Ready(b)) => b,
        };
        let (m, next) = match C::step(branch) {
            Step::Logout(_, end) => {
                end.close();
                sh.st.borrow_mut().on_peer_logout(Instant::now());
                return;
            }
            Step::Msg(m, next) => (m, next),
        };
        if matches!(m, Incoming::App(_)) && !room(sh, H::REPLIES).await {
            return sh.end(Outcome::Overload);
        }
        if !dispatch(sh, &m) {
            return;
        }
        c = next.recurse();
        // A peer that never lets the socket run dry must not keep the other
        // sessions of this core (and their timers) waiting.
        sched::yield_if_needed().await;
    }
}

/// Checks a received message beside the type and hands it to the
/// application; `false` if the session ends.
fn dispatch<H: Handler>(sh: &Shared<H>, m: &Incoming) -> bool {
    let now = Instant::now();
    let mut st = sh.st.borrow_mut();
    if st.check_stall(now) {
        return false;
    }
    match st.on_incoming(m, now) {
        Verdict::End => return false,
        Verdict::Ignore => {}
        Verdict::Process => {
            let mut app = sh.app.borrow_mut();
            match m {
                Incoming::App(a) => app.on_app(a, &mut st, now),
                Incoming::Heartbeat(h) => app.on_heartbeat(h),
                _ => {}
            }
            if let Some(w) = st.app_waker.take() {
                w.wake();
            }
        }
    }
    true
}

/// Waits for room for `n` application messages, for at most two heartbeat
/// intervals; `false` if none came.
async fn room<H>(sh: &Shared<H>, n: usize) -> bool {
    if n == 0 || sh.st.borrow().has_room(n) {
        return true;
    }
    let limit = sh.st.borrow().hb * 2;
    let wait = poll_fn(|cx| {
        let mut st = sh.st.borrow_mut();
        if st.has_room(n) {
            return Poll::Ready(());
        }
        st.rx_waker = Some(cx.waker().clone());
        Poll::Pending
    });
    sched::timeout(limit, wait).await.is_ok()
}
