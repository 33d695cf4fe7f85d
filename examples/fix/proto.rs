//! The FIX session as a session type (research notes §7), written as the
//! initiator's view; the acceptor follows its dual.
//!
//! ```text
//! Initiator = choose { Logon => offer { Logon  => Active,      // the ack
//!                                       Logout => End } }      // refused
//! Active    = split { tx: loop choose { Heartbeat | TestRequest | ResendRequest
//!                                      | Reject | SequenceReset | NewOrderSingle => loop,
//!                                        Logout => End },
//!                     rx: loop offer  { Heartbeat | TestRequest | ResendRequest
//!                                      | Reject | SequenceReset | ExecutionReport => loop,
//!                                        Logout => End } }
//! ```
//!
//! Every arm's label is its MsgType's label (`msg::label`), fixed with
//! `Arm(T) = N`, so the codec maps MsgType(35) to the label once, whatever
//! the state: a MsgType the current state does not offer is a typed
//! `Violation` (a NewOrderSingle before the Logon ack, a second Logon, an
//! ExecutionReport sent to the acceptor). The opening Logon is a one-arm
//! choice rather than a plain `Send` because a plain send has label 0,
//! which is Heartbeat's.
//!
//! Timeouts are not arms here: they are `Chan::offer_until` deadlines whose
//! `Timed::TimedOut` gives the channel back at the same step (the engine
//! sends a TestRequest, then a Logout). Sequence numbers, CompIDs and the
//! resend store are checked beside the type, in `state.rs`.

use corelane::session::{
    Chan, Choose, Dual, End, Label, Offer, Offerable, Rec, Receiver, Split, Var, Z,
};

use super::msg::{self, Fix, FixMsg};

corelane::session_choice! {
    /// The initiator's opening message.
    pub mod logon {
        /// Logon (35=A).
        Logon(Fix<msg::Logon>) = 10 => Offer<logon_reply::Choice>,
    }
}

corelane::session_choice! {
    /// The acceptor's answer to a Logon (arms from the acceptor's side).
    pub mod logon_reply {
        /// Logon (35=A): accepted, the session is active.
        Logon(Fix<msg::Logon>) = 10 => AcceptorActive,
        /// Logout (35=5): refused, with the reason.
        Logout(Fix<msg::Logout>) = 5 => End,
    }
}

corelane::session_choice! {
    /// What the initiator sends once logged on (the acceptor offers it).
    pub mod i2a {
        /// 35=0.
        Heartbeat(Fix<msg::Heartbeat>) = 0 => Var<Z>,
        /// 35=1.
        TestRequest(Fix<msg::TestRequest>) = 1 => Var<Z>,
        /// 35=2.
        ResendRequest(Fix<msg::ResendRequest>) = 2 => Var<Z>,
        /// 35=3.
        Reject(Fix<msg::Reject>) = 3 => Var<Z>,
        /// 35=4.
        SequenceReset(Fix<msg::SequenceReset>) = 4 => Var<Z>,
        /// 35=5: this direction is over.
        Logout(Fix<msg::Logout>) = 5 => End,
        /// 35=D.
        NewOrderSingle(Fix<msg::NewOrderSingle>) = 13 => Var<Z>,
    }
}

corelane::session_choice! {
    /// What the acceptor sends once logged on (the initiator offers it).
    pub mod a2i {
        /// 35=0.
        Heartbeat(Fix<msg::Heartbeat>) = 0 => Var<Z>,
        /// 35=1.
        TestRequest(Fix<msg::TestRequest>) = 1 => Var<Z>,
        /// 35=2.
        ResendRequest(Fix<msg::ResendRequest>) = 2 => Var<Z>,
        /// 35=3.
        Reject(Fix<msg::Reject>) = 3 => Var<Z>,
        /// 35=4.
        SequenceReset(Fix<msg::SequenceReset>) = 4 => Var<Z>,
        /// 35=5: this direction is over.
        Logout(Fix<msg::Logout>) = 5 => End,
        /// 35=8.
        ExecutionReport(Fix<msg::ExecutionReport>) = 8 => Var<Z>,
    }
}

/// The acceptor once logged on: it transmits `a2i`, receives `i2a`.
pub type AcceptorActive = Split<Rec<Choose<a2i::Choice>>, Rec<Offer<i2a::Choice>>>;
/// The initiator once logged on.
pub type InitiatorActive = Dual<AcceptorActive>;
/// The initiator's whole session.
pub type Initiator = Choose<logon::Choice>;
/// The acceptor's whole session.
pub type Acceptor = Dual<Initiator>;

// Each arm's label is its MsgType's, in every choice.
const _: () = {
    use msg::label as l;
    assert!(<logon::Logon as Label<logon::Choice>>::INDEX == l::LOGON);
    assert!(<logon_reply::Logon as Label<logon_reply::Choice>>::INDEX == l::LOGON);
    assert!(<logon_reply::Logout as Label<logon_reply::Choice>>::INDEX == l::LOGOUT);
    assert!(<i2a::Heartbeat as Label<i2a::Choice>>::INDEX == l::HEARTBEAT);
    assert!(<i2a::TestRequest as Label<i2a::Choice>>::INDEX == l::TEST_REQUEST);
    assert!(<i2a::ResendRequest as Label<i2a::Choice>>::INDEX == l::RESEND_REQUEST);
    assert!(<i2a::Reject as Label<i2a::Choice>>::INDEX == l::REJECT);
    assert!(<i2a::SequenceReset as Label<i2a::Choice>>::INDEX == l::SEQUENCE_RESET);
    assert!(<i2a::Logout as Label<i2a::Choice>>::INDEX == l::LOGOUT);
    assert!(<i2a::NewOrderSingle as Label<i2a::Choice>>::INDEX == l::NEW_ORDER_SINGLE);
    assert!(<a2i::Heartbeat as Label<a2i::Choice>>::INDEX == l::HEARTBEAT);
    assert!(<a2i::TestRequest as Label<a2i::Choice>>::INDEX == l::TEST_REQUEST);
    assert!(<a2i::ResendRequest as Label<a2i::Choice>>::INDEX == l::RESEND_REQUEST);
    assert!(<a2i::Reject as Label<a2i::Choice>>::INDEX == l::REJECT);
    assert!(<a2i::SequenceReset as Label<a2i::Choice>>::INDEX == l::SEQUENCE_RESET);
    assert!(<a2i::Logout as Label<a2i::Choice>>::INDEX == l::LOGOUT);
    assert!(<a2i::ExecutionReport as Label<a2i::Choice>>::INDEX == l::EXECUTION_REPORT);
};

/// A received message other than Logout, with the header beside it.
#[derive(Debug)]
pub enum Incoming {
    /// 35=0.
    Heartbeat(Fix<msg::Heartbeat>),
    /// 35=1.
    TestRequest(Fix<msg::TestRequest>),
    /// 35=2.
    ResendRequest(Fix<msg::ResendRequest>),
    /// 35=3.
    Reject(Fix<msg::Reject>),
    /// 35=4.
    SequenceReset(Fix<msg::SequenceReset>),
    /// 35=D or 35=8.
    App(Fix<msg::App>),
}

impl Incoming {
    /// The header.
    pub fn header(&self) -> &msg::Header {
        match self {
            Incoming::Heartbeat(m) => &m.hdr,
            Incoming::TestRequest(m) => &m.hdr,
            Incoming::ResendRequest(m) => &m.hdr,
            Incoming::Reject(m) => &m.hdr,
            Incoming::SequenceReset(m) => &m.hdr,
            Incoming::App(m) => &m.hdr,
        }
    }
}

/// One received step of a receive loop, whichever side: a message and the
/// loop's continuation, or the peer's Logout and the end of this half.
pub enum Step<R: Receiver, E> {
    /// Carry on (the continuation is the loop's `Var<Z>`).
    Msg(Incoming, Chan<Var<Z>, R, E>),
    /// The peer logged out: this half is over.
    Logout(Fix<msg::Logout>, Chan<End, R, E>),
}

/// A receive loop's choice: its branches sorted into [`Step`]s, so one
/// receive loop serves both sides.
pub trait Inbound<R: Receiver, E>: Offerable<R, E> {
    /// Sorts a branch.
    fn step(b: Self::Branch) -> Step<R, E>;
}

impl<R: Receiver<Payload = FixMsg>, E> Inbound<R, E> for i2a::Choice {
    fn step(b: i2a::Branch<R, E>) -> Step<R, E> {
        use i2a::Branch as B;
        match b {
            B::Heartbeat(m, c) => Step::Msg(Incoming::Heartbeat(m), c),
            B::TestRequest(m, c) => Step::Msg(Incoming::TestRequest(m), c),
            B::ResendRequest(m, c) => Step::Msg(Incoming::ResendRequest(m), c),
            B::Reject(m, c) => Step::Msg(Incoming::Reject(m), c),
            B::SequenceReset(m, c) => Step::Msg(Incoming::SequenceReset(m), c),
            B::NewOrderSingle(m, c) => Step::Msg(Incoming::App(app(m, msg::App::Order)), c),
            B::Logout(m, c) => Step::Logout(m, c),
        }
    }
}

impl<R: Receiver<Payload = FixMsg>, E> Inbound<R, E> for a2i::Choice {
    fn step(b: a2i::Branch<R, E>) -> Step<R, E> {
        use a2i::Branch as B;
        match b {
            B::Heartbeat(m, c) => Step::Msg(Incoming::Heartbeat(m), c),
            B::TestRequest(m, c) => Step::Msg(Incoming::TestRequest(m), c),
            B::ResendRequest(m, c) => Step::Msg(Incoming::ResendRequest(m), c),
            B::Reject(m, c) => Step::Msg(Incoming::Reject(m), c),
            B::SequenceReset(m, c) => Step::Msg(Incoming::SequenceReset(m), c),
            B::ExecutionReport(m, c) => Step::Msg(Incoming::App(app(m, msg::App::Report)), c),
            B::Logout(m, c) => Step::Logout(m, c),
        }
    }
}

fn app<B>(m: Fix<B>, f: impl FnOnce(B) -> msg::App) -> Fix<msg::App> {
    Fix {
        hdr: m.hdr,
        body: f(m.body),
    }
}

/// A transmit loop's choice: the arm for each kind of message, so one
/// transmit loop serves both sides. `App` is the side's application
/// message (NewOrderSingle out of the initiator, ExecutionReport out of
/// the acceptor).
pub trait Outbound: corelane::session::Choice + Sized {
    /// 35=0.
    type Heartbeat: Label<Self, Msg = Fix<msg::Heartbeat>, Next = Var<Z>> + Default;
    /// 35=1.
    type TestRequest: Label<Self, Msg = Fix<msg::TestRequest>, Next = Var<Z>> + Default;
    /// 35=2.
    type ResendRequest: Label<Self, Msg = Fix<msg::ResendRequest>, Next = Var<Z>> + Default;
    /// 35=3.
    type Reject: Label<Self, Msg = Fix<msg::Reject>, Next = Var<Z>> + Default;
    /// 35=4.
    type SequenceReset: Label<Self, Msg = Fix<msg::SequenceReset>, Next = Var<Z>> + Default;
    /// 35=5.
    type Logout: Label<Self, Msg = Fix<msg::Logout>, Next = End> + Default;
    /// This side's application message.
    type App: Label<Self, Msg = Fix<Self::AppBody>, Next = Var<Z>> + Default;
    /// Its body.
    type AppBody;
    /// The body, if `a` is this side's kind of application message.
    fn app_body(a: msg::App) -> Option<Self::AppBody>;
}

impl Outbound for i2a::Choice {
    type Heartbeat = i2a::Heartbeat;
    type TestRequest = i2a::TestRequest;
    type ResendRequest = i2a::ResendRequest;
    type Reject = i2a::Reject;
    type SequenceReset = i2a::SequenceReset;
    type Logout = i2a::Logout;
    type App = i2a::NewOrderSingle;
    type AppBody = msg::NewOrderSingle;
    fn app_body(a: msg::App) -> Option<msg::NewOrderSingle> {
        match a {
            msg::App::Order(o) => Some(o),
            msg::App::Report(_) => None,
        }
    }
}

impl Outbound for a2i::Choice {
    type Heartbeat = a2i::Heartbeat;
    type TestRequest = a2i::TestRequest;
    type ResendRequest = a2i::ResendRequest;
    type Reject = a2i::Reject;
    type SequenceReset = a2i::SequenceReset;
    type Logout = a2i::Logout;
    type App = a2i::ExecutionReport;
    type AppBody = msg::ExecutionReport;
    fn app_body(a: msg::App) -> Option<msg::ExecutionReport> {
        match a {
            msg::App::Report(r) => Some(r),
            msg::App::Order(_) => None,
        }
    }
}
