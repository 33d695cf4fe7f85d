//! How a FIX session ended ([`Outcome`], one per connection) and what it
//! counted on the way ([`Stats`]).

use std::fmt;

use super::msg::{msg_type_of, Text};

/// How a session ended: exactly one per connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Both sides sent Logout.
    LoggedOut,
    /// The Logon was refused (by us as acceptor, or the peer answered ours
    /// with Logout), with the reason.
    Refused(Text),
    /// A MsgType the current state does not allow (its label).
    Violation(u8),
    /// A frame that does not decode.
    Malformed(&'static str),
    /// MsgSeqNum lower than expected without PossDupFlag.
    SeqTooLow {
        /// What was expected.
        expected: u64,
        /// What came.
        got: u64,
    },
    /// SenderCompID / TargetCompID not this session's.
    WrongCompId,
    /// The peer never filled a sequence gap it was asked to resend.
    ResendStalled,
    /// The peer was silent past a deadline (which).
    Timeout(&'static str),
    /// The connection closed without a Logout.
    Closed,
    /// The peer abandoned the session (an abort; rings only).
    Cancelled,
    /// The peer sent faster than we could answer.
    Overload,
    /// The transport failed.
    Io(std::io::ErrorKind),
}

impl Outcome {
    /// A short name per kind (for counting).
    pub fn kind(&self) -> &'static str {
        match self {
            Outcome::LoggedOut => "logged-out",
            Outcome::Refused(_) => "refused",
            Outcome::Violation(_) => "violation",
            Outcome::Malformed(_) => "malformed",
            Outcome::SeqTooLow { .. } => "seq-too-low",
            Outcome::WrongCompId => "wrong-comp-id",
            Outcome::ResendStalled => "resend-stalled",
            Outcome::Timeout(_) => "timeout",
            Outcome::Closed => "closed",
            Outcome::Cancelled => "cancelled",
            Outcome::Overload => "overload",
            Outcome::Io(_) => "io",
        }
    }

    /// From a failed session step.
    pub fn from_error(e: corelane::session::Error) -> Outcome {
        use corelane::session::Error as E;
        match e {
            E::Violation { got, .. } => Outcome::Violation(got),
            E::Malformed(why) => Outcome::Malformed(why),
            E::Timeout => Outcome::Timeout("session step"),
            E::Closed => Outcome::Closed,
            E::Cancelled => Outcome::Cancelled,
            E::Refused { .. } => Outcome::Refused(Text::lossy(b"handshake refused")),
            E::Io(e) => Outcome::Io(e.kind()),
            _ => Outcome::Io(std::io::ErrorKind::Other),
        }
    }

    /// The Text(58) of the Logout that reports it.
    pub fn text(&self) -> Text {
        Text::lossy(self.to_string().as_bytes())
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::LoggedOut => f.write_str("logged out"),
            Outcome::Refused(t) => write!(f, "logon refused: {t}"),
            Outcome::Violation(l) => match msg_type_of(*l) {
                Some(t) => write!(f, "MsgType {} not allowed here", t as char),
                None => f.write_str("unsupported MsgType"),
            },
            Outcome::Malformed(why) => write!(f, "malformed: {why}"),
            Outcome::SeqTooLow { expected, got } => {
                write!(
                    f,
                    "MsgSeqNum too low, expecting {expected} but received {got}"
                )
            }
            Outcome::WrongCompId => f.write_str("wrong SenderCompID or TargetCompID"),
            Outcome::ResendStalled => f.write_str("sequence gap never filled"),
            Outcome::Timeout(what) => write!(f, "timed out: {what}"),
            Outcome::Closed => f.write_str("connection closed without Logout"),
            Outcome::Cancelled => f.write_str("peer abandoned the session"),
            Outcome::Overload => f.write_str("peer outran the session"),
            Outcome::Io(k) => write!(f, "transport error: {k:?}"),
        }
    }
}

/// Counters.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stats {
    /// Messages received (decoded).
    pub msgs_in: u64,
    /// Messages sent.
    pub msgs_out: u64,
    /// Heartbeats received / sent.
    pub heartbeats_in: u64,
    /// Sent.
    pub heartbeats_out: u64,
    /// TestRequests received / sent.
    pub test_requests_in: u64,
    /// Sent.
    pub test_requests_out: u64,
    /// ResendRequests received / sent.
    pub resend_requests_in: u64,
    /// Sent.
    pub resend_requests_out: u64,
    /// SequenceReset-GapFills received / sent.
    pub gap_fills_in: u64,
    /// Sent.
    pub gap_fills_out: u64,
    /// Application messages resent.
    pub resent: u64,
    /// Application messages received / sent (first time).
    pub apps_in: u64,
    /// Sent.
    pub apps_out: u64,
    /// Duplicates (PossDupFlag=Y, already seen) ignored.
    pub dups_ignored: u64,
    /// Messages ignored in a gap.
    pub gap_ignored: u64,
    /// Rejects received / sent.
    pub rejects_in: u64,
    /// Sent.
    pub rejects_out: u64,
}
