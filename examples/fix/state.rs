//! The session state beside the type: sequence numbers, the resend store,
//! the duties the receive half hands to the transmit half, the timers'
//! deadlines, and how the session ended. Plain data and plain methods (no
//! I/O, no clock reads: every method is given `now`), so it is tested the
//! way the timer wheel is, without sockets.
//!
//! Ground rules:
//! - `next_in` is the MsgSeqNum expected next. Equal: processed, +1.
//!   Higher: a gap; the message is ignored and one ResendRequest(next_in,
//!   0) goes out (not another while that one is unanswered; a peer that
//!   never fills it ends the session after [`MAX_GAP_IGNORED`] messages).
//!   Lower: ignored with PossDupFlag=Y, else [`Outcome::SeqTooLow`].
//! - `next_out` is stamped on each message sent. Application messages go
//!   into the store (the newest `store_cap`); a ResendRequest replays them
//!   with PossDupFlag=Y and OrigSendingTime, and gap-fills everything else
//!   (administrative messages, and any no longer stored).
//! - Duties (the receive half's obligations: answer a TestRequest, replay,
//!   log out) queue for the transmit half. Application messages may fill
//!   `queue_cap` entries (their producer waits for room); administrative
//!   ones another [`ADMIN_RESERVE`]; past that the peer outruns us and the
//!   session ends as [`Outcome::Overload`].
//! - A send stuck for two heartbeat intervals (a peer that sends but never
//!   reads) ends the session: the receive half checks it on every message
//!   and deadline.
//! - The first outcome set is the session's (`end` is set-once).

use std::collections::VecDeque;
use std::task::Waker;
use std::time::{Duration, Instant};

use super::msg::*;
pub use super::outcome::{Outcome, Stats};
use super::proto::Incoming;

/// Duties beyond `queue_cap` that administrative messages may use.
pub const ADMIN_RESERVE: usize = 64;
/// Messages ignored in a gap, while a ResendRequest is unanswered, before
/// the session ends.
pub const MAX_GAP_IGNORED: u64 = 100_000;

/// The session's settings.
#[derive(Clone, Debug)]
pub struct Config {
    /// Our SenderCompID.
    pub sender: CompId,
    /// The peer's (our TargetCompID).
    pub target: CompId,
    /// HeartBtInt asked for in our Logon (initiator), seconds.
    pub heartbeat: u32,
    /// The largest HeartBtInt an acceptor accepts.
    pub max_heartbeat: u32,
    /// How long one HeartBtInt second lasts: 1 s, shorter only in tests.
    pub second: Duration,
    /// How long to wait for the Logon (acceptor) or its answer (initiator).
    pub logon_timeout: Duration,
    /// How long to wait for the peer's Logout after ours.
    pub logout_timeout: Duration,
    /// Application messages kept for resending.
    pub store_cap: usize,
    /// Application messages queued for sending.
    pub queue_cap: usize,
    /// Send ResetSeqNumFlag(141)=Y in the Logon (initiator).
    pub reset_on_logon: bool,
    /// A forced gap, for tests: after the `.0`th application message, skip
    /// `.1` outbound sequence numbers.
    pub skip_out: Option<(u64, u64)>,
}

impl Config {
    /// Defaults for a session from `sender` to `target`.
    pub fn new(sender: CompId, target: CompId) -> Config {
        Config {
            sender,
            target,
            heartbeat: 30,
            max_heartbeat: 300,
            second: Duration::from_secs(1),
            logon_timeout: Duration::from_secs(10),
            logout_timeout: Duration::from_secs(5),
            store_cap: 8192,
            queue_cap: 1024,
            reset_on_logon: true,
            skip_out: None,
        }
    }
}

/// What the receive half asks the transmit half to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Duty {
    /// A Heartbeat (echoing a TestReqID).
    Heartbeat(Option<Id>),
    /// A TestRequest.
    TestRequest(Id),
    /// A ResendRequest from `begin` to the end.
    ResendRequest(u64),
    /// Replay `begin..=end` (0: to the last sent).
    Resend(u64, u64),
    /// A Reject of message `ref_seq`.
    Reject(u64, u32, &'static str),
    /// An application message.
    App(App),
    /// The Logout (the last message of the transmit half).
    Logout(Option<Text>),
}

/// One message of a replay (a transient value: the size difference between
/// its variants costs nothing worth a box).
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Replay {
    /// A stored application message, resent under its own number.
    App(u64, UtcMillis, App),
    /// SequenceReset-GapFill at `.0` to `.1`.
    GapFill(u64, u64),
}

/// What happened to an inbound message.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// In sequence: act on it.
    Process,
    /// Not acted on (a duplicate, in a gap, or fully handled here).
    Ignore,
    /// The session ends.
    End,
}

/// The session state shared by the two halves (on one task, one core).
pub struct State {
    /// The settings.
    pub cfg: Config,
    /// The heartbeat interval in force.
    pub hb: Duration,
    next_out: u64,
    next_in: u64,
    store: VecDeque<(u64, UtcMillis, App)>,
    duties: VecDeque<Duty>,
    apps_queued: usize,
    /// The transmit half, waiting for a duty.
    pub tx_waker: Option<Waker>,
    /// The application (or receive half) waiting for room or for news.
    pub app_waker: Option<Waker>,
    /// The receive half, waiting for room.
    pub rx_waker: Option<Waker>,
    last_sent: Instant,
    last_recv: Instant,
    probe: Option<(Instant, Id)>,
    probes: u64,
    resend_until: Option<u64>,
    gap_ignored: u64,
    logout_sent: Option<Instant>,
    /// Since when the transmit half waits for a send to be taken.
    sending_since: Option<Instant>,
    logged_on: bool,
    apps_stamped: u64,
    outcome: Option<Outcome>,
    /// Counters.
    pub stats: Stats,
}

impl State {
    /// A new session at sequence numbers 1/1.
    pub fn new(cfg: Config, now: Instant) -> State {
        let hb = cfg.second * cfg.heartbeat;
        State {
            cfg,
            hb,
            next_out: 1,
            next_in: 1,
            store: VecDeque::new(),
            duties: VecDeque::new(),
            apps_queued: 0,
            tx_waker: None,
            app_waker: None,
            rx_waker: None,
            last_sent: now,
            last_recv: now,
            probe: None,
            probes: 0,
            resend_until: None,
            gap_ignored: 0,
            logout_sent: None,
            sending_since: None,
            logged_on: false,
            apps_stamped: 0,
            outcome: None,
            stats: Stats::default(),
        }
    }

    /// Records how the session ends (the first call wins) and logs out.
    pub fn end(&mut self, o: Outcome) {
        if self.outcome.is_none() {
            let text = (o != Outcome::LoggedOut).then(|| o.text());
            if text.is_some() {
                // Poisoned: nothing queued goes out, only the Logout.
                self.duties.clear();
                self.apps_queued = 0;
            }
            self.outcome = Some(o);
            self.logout(text);
        }
        self.wake_all();
    }

    /// How the session ended, if it has.
    pub fn outcome(&self) -> Option<&Outcome> {
        self.outcome.as_ref()
    }

    /// Takes the outcome (`Closed` if none was recorded).
    pub fn take_outcome(&mut self) -> Outcome {
        self.outcome.take().unwrap_or(Outcome::Closed)
    }

    /// The next inbound MsgSeqNum expected.
    pub fn next_in(&self) -> u64 {
        self.next_in
    }

    /// Whether the Logon exchange completed.
    pub fn logged_on(&self) -> bool {
        self.logged_on
    }

    /// The Logon exchange completed with interval `hb_secs`.
    pub fn on_logon(&mut self, hb_secs: u32, now: Instant) {
        self.hb = self.cfg.second * hb_secs.max(1);
        self.logged_on = true;
        self.last_recv = now;
        self.last_sent = now;
        self.wake_all();
    }

    fn wake_all(&mut self) {
        for w in [&mut self.tx_waker, &mut self.app_waker, &mut self.rx_waker] {
            if let Some(w) = w.take() {
                w.wake();
            }
        }
    }

    // ----- stamping (transmit half) ------------------------------------------

    /// A header for the next message.
    pub fn stamp(&mut self, now: UtcMillis) -> Header {
        let seq = self.next_out;
        self.next_out += 1;
        self.stats.msgs_out += 1;
        Header {
            seq,
            poss_dup: false,
            sender: self.cfg.sender,
            target: self.cfg.target,
            sending_time: now,
            orig_sending_time: None,
        }
    }

    /// A header for an application message, which goes into the store
    /// (and may take the forced gap first).
    pub fn stamp_app(&mut self, app: &App, now: UtcMillis) -> Header {
        self.apps_stamped += 1;
        if let Some((at, skip)) = self.cfg.skip_out {
            if self.apps_stamped == at {
                self.next_out += skip;
            }
        }
        let h = self.stamp(now);
        if self.cfg.store_cap > 0 {
            if self.store.len() == self.cfg.store_cap {
                self.store.pop_front();
            }
            self.store.push_back((h.seq, now, *app));
        }
        self.stats.apps_out += 1;
        h
    }

    /// A header for a replayed message numbered `seq`.
    pub fn stamp_replay(&mut self, seq: u64, orig: UtcMillis, now: UtcMillis) -> Header {
        self.stats.msgs_out += 1;
        Header {
            seq,
            poss_dup: true,
            sender: self.cfg.sender,
            target: self.cfg.target,
            sending_time: now,
            orig_sending_time: Some(orig),
        }
    }

    /// Something went out at `now`.
    pub fn sent(&mut self, now: Instant) {
        self.last_sent = now;
    }

    /// Our Logout went out.
    pub fn sent_logout(&mut self, now: Instant) {
        self.logout_sent = Some(now);
        self.sending_since = None;
        self.wake_all();
    }

    /// When the transmit half must send a Heartbeat if nothing else went.
    pub fn heartbeat_due(&self) -> Instant {
        self.last_sent + self.hb
    }

    /// The replay step at `from` of a replay ending at `end` (inclusive).
    pub fn replay(&self, from: u64, end: u64) -> Option<Replay> {
        if from > end {
            return None;
        }
        let i = self.store.partition_point(|&(s, _, _)| s < from);
        match self.store.get(i) {
            Some(&(s, t, app)) if s == from => Some(Replay::App(s, t, app)),
            Some(&(s, _, _)) if s <= end => Some(Replay::GapFill(from, s)),
            _ => Some(Replay::GapFill(from, end + 1)),
        }
    }

    /// The last sequence number a replay of `begin..=end` covers (`end` 0
    /// or past the last sent: the last sent).
    pub fn replay_end(&self, end: u64) -> u64 {
        let last = self.next_out - 1;
        if end == 0 || end > last {
            last
        } else {
            end
        }
    }

    // ----- duties ------------------------------------------------------------

    /// The next duty for the transmit half.
    pub fn next_duty(&mut self) -> Option<Duty> {
        let d = self.duties.pop_front()?;
        if let Duty::App(_) = d {
            self.apps_queued -= 1;
            if let Some(w) = self.app_waker.take() {
                w.wake();
            }
            if let Some(w) = self.rx_waker.take() {
                w.wake();
            }
        }
        Some(d)
    }

    /// Room for `n` more application messages.
    pub fn has_room(&self, n: usize) -> bool {
        self.apps_queued + n <= self.cfg.queue_cap.max(n)
    }

    /// Queues an application message (the caller checked
    /// [`has_room`](State::has_room)).
    pub fn push_app(&mut self, app: App) {
        self.apps_queued += 1;
        self.push(Duty::App(app));
    }

    /// Queues an administrative duty; past the reserve the session ends as
    /// [`Outcome::Overload`].
    pub fn push_admin(&mut self, d: Duty) {
        if self.duties.len() - self.apps_queued >= ADMIN_RESERVE {
            self.end(Outcome::Overload);
            return;
        }
        self.push(d);
    }

    fn push(&mut self, d: Duty) {
        self.duties.push_back(d);
        if let Some(w) = self.tx_waker.take() {
            w.wake();
        }
    }

    /// Queues our Logout (once), after what is queued.
    pub fn logout(&mut self, text: Option<Text>) {
        let queued = self.duties.iter().any(|d| matches!(d, Duty::Logout(_)));
        if !queued && self.logout_sent.is_none() {
            self.push(Duty::Logout(text));
        }
    }

    /// Queues a TestRequest of our own (not a liveness probe).
    pub fn test_request(&mut self, id: Id) {
        self.push_admin(Duty::TestRequest(id));
    }

    // ----- receiving -----------------------------------------------------------

    /// When the receive half must act if nothing arrives: probe with a
    /// TestRequest, give up on the probe, or give up on the Logout reply.
    pub fn rx_deadline(&self) -> Instant {
        let d = if let Some(t) = self.logout_sent {
            t + self.cfg.logout_timeout
        } else {
            match &self.probe {
                Some((t, _)) => *t + self.hb,
                None => self.last_recv + self.hb + self.hb / 2,
            }
        };
        match self.sending_since {
            Some(t) => d.min(t + self.hb * 2),
            None => d,
        }
    }

    /// The transmit half starts (`true`) or finished (`false`) a send.
    pub fn sending(&mut self, yes: bool, now: Instant) {
        self.sending_since = if yes {
            self.sending_since.or(Some(now))
        } else {
            None
        };
    }

    /// A send has been stuck for two heartbeat intervals: the peer stopped
    /// reading (it may still be sending), so the session ends rather than
    /// stay half alive. `true` if it ended.
    pub fn check_stall(&mut self, now: Instant) -> bool {
        if self.sending_since.is_some_and(|t| now >= t + self.hb * 2) {
            self.end(Outcome::Timeout("the peer stopped reading"));
            return true;
        }
        false
    }

    /// Nothing arrived by [`rx_deadline`](State::rx_deadline): probe, or
    /// end the session.
    pub fn on_silence(&mut self, now: Instant) {
        if self.logout_sent.is_some() {
            self.end(Outcome::Timeout("no Logout in reply to ours"));
        } else if self.probe.is_some() {
            self.end(Outcome::Timeout("no answer to a TestRequest"));
        } else {
            self.probes += 1;
            let mut id = [0u8; 20];
            let id = Id::new(super::wire::digits(self.probes, &mut id)).unwrap_or(Id::EMPTY);
            self.probe = Some((now, id));
            self.push_admin(Duty::TestRequest(id));
        }
    }

    /// The peer's Logon (or its answer to ours) counts in sequence: a
    /// number past 1 is a gap to be resent. `false` if the session ends.
    pub fn on_logon_msg(&mut self, hdr: &Header, now: Instant) -> bool {
        self.last_recv = now;
        self.stats.msgs_in += 1;
        if hdr.sender != self.cfg.target || hdr.target != self.cfg.sender {
            self.end(Outcome::WrongCompId);
            return false;
        }
        self.admit(hdr) != Verdict::End
    }

    /// Checks an inbound message's CompIDs and MsgSeqNum, counts it, and
    /// acts on the session-level ones; `Process` hands it on.
    pub fn on_incoming(&mut self, m: &Incoming, now: Instant) -> Verdict {
        self.last_recv = now;
        self.probe = None;
        self.stats.msgs_in += 1;
        let hdr = m.header();
        if hdr.sender != self.cfg.target || hdr.target != self.cfg.sender {
            self.end(Outcome::WrongCompId);
            return Verdict::End;
        }
        if let Incoming::SequenceReset(r) = m {
            if !r.body.gap_fill {
                return self.on_reset(hdr.seq, r.body.new_seq);
            }
        }
        match self.admit(hdr) {
            Verdict::Process => {}
            v => return v,
        }
        self.act(m)
    }

    /// The sequence check.
    fn admit(&mut self, hdr: &Header) -> Verdict {
        if hdr.seq > self.next_in {
            self.stats.gap_ignored += 1;
            match self.resend_until {
                None => {
                    self.resend_until = Some(hdr.seq);
                    self.push_admin(Duty::ResendRequest(self.next_in));
                }
                Some(u) => {
                    self.resend_until = Some(u.max(hdr.seq));
                    self.gap_ignored += 1;
                    if self.gap_ignored > MAX_GAP_IGNORED {
                        self.end(Outcome::ResendStalled);
                        return Verdict::End;
                    }
                }
            }
            return Verdict::Ignore;
        }
        if hdr.seq < self.next_in {
            if hdr.poss_dup {
                self.stats.dups_ignored += 1;
                return Verdict::Ignore;
            }
            self.end(Outcome::SeqTooLow {
                expected: self.next_in,
                got: hdr.seq,
            });
            return Verdict::End;
        }
        self.next_in += 1;
        self.gap_closed();
        Verdict::Process
    }

    fn gap_closed(&mut self) {
        if self.resend_until.is_some_and(|u| self.next_in > u) {
            self.resend_until = None;
            self.gap_ignored = 0;
        }
    }

    /// SequenceReset in Reset mode: MsgSeqNum is ignored; NewSeqNo may only
    /// move forward.
    fn on_reset(&mut self, seq: u64, new_seq: u64) -> Verdict {
        if new_seq < self.next_in {
            self.stats.rejects_out += 1;
            self.push_admin(Duty::Reject(seq, 5, "NewSeqNo would lower MsgSeqNum"));
        } else {
            self.next_in = new_seq;
            self.gap_closed();
        }
        Verdict::Ignore
    }

    /// Acts on an in-sequence message.
    fn act(&mut self, m: &Incoming) -> Verdict {
        match m {
            Incoming::Heartbeat(_) => self.stats.heartbeats_in += 1,
            Incoming::TestRequest(t) => {
                self.stats.test_requests_in += 1;
                self.push_admin(Duty::Heartbeat(Some(t.body.test_req_id)));
                return Verdict::Ignore;
            }
            Incoming::ResendRequest(r) => {
                self.stats.resend_requests_in += 1;
                let (b, e) = (r.body.begin, r.body.end);
                if b == 0 || (e != 0 && e < b) {
                    self.stats.rejects_out += 1;
                    self.push_admin(Duty::Reject(r.hdr.seq, 5, "bad BeginSeqNo/EndSeqNo"));
                } else {
                    self.push_admin(Duty::Resend(b, e));
                }
                return Verdict::Ignore;
            }
            Incoming::Reject(_) => self.stats.rejects_in += 1,
            Incoming::SequenceReset(r) => {
                self.stats.gap_fills_in += 1;
                if r.body.new_seq < self.next_in {
                    self.stats.rejects_out += 1;
                    self.push_admin(Duty::Reject(r.hdr.seq, 5, "NewSeqNo not past MsgSeqNum"));
                } else {
                    self.next_in = r.body.new_seq;
                    self.gap_closed();
                }
                return Verdict::Ignore;
            }
            Incoming::App(_) => self.stats.apps_in += 1,
        }
        Verdict::Process
    }

    /// The peer's Logout arrived: answer it (unless ours went already).
    pub fn on_peer_logout(&mut self, now: Instant) {
        self.last_recv = now;
        self.stats.msgs_in += 1;
        self.end(Outcome::LoggedOut);
    }
}
