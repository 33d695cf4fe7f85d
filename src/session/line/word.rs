//! The line's state word: its bits, and what a receive or a send does
//! seeing a given word. Pure functions of the word, tested over every
//! value in `tests.rs`; the protocol that changes the word is in the
//! parent module (its ground rules).

use crate::session::Error;

// The bits of an end come in pairs: A's, and B's one above it
// (`Side::mine`, `Side::peers`). Nine bits in all; the rest stay zero.

/// A owns the cell (B: `OWN_A << 1`); neither before the first send.
pub(super) const OWN_A: u32 = 1 << 0;
/// A may sleep or have left a waker, and must be notified (rule 5).
pub(super) const WAIT_A: u32 = 1 << 2;
/// A abandoned the session.
pub(super) const ABORT_A: u32 = 1 << 4;
/// A's end is gone.
pub(super) const GONE_A: u32 = 1 << 6;
/// The cell holds a frame for its owner.
pub(super) const FULL: u32 = 1 << 8;
/// Either owner bit.
pub(super) const OWNED: u32 = OWN_A | OWN_A << 1;

/// Which end: 0 for A, 1 for B.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Side(u8);

impl Side {
    pub(super) const A: Side = Side(0);
    pub(super) const B: Side = Side(1);

    /// This end's bit of the pair whose A bit is `a_bit`.
    #[inline(always)]
    pub(super) fn mine(self, a_bit: u32) -> u32 {
        a_bit << self.0
    }

    /// The peer's bit of that pair.
    #[inline(always)]
    pub(super) fn peers(self, a_bit: u32) -> u32 {
        a_bit << (1 - self.0)
    }

    #[inline(always)]
    pub(super) fn index(self) -> usize {
        usize::from(self.0)
    }

    #[inline(always)]
    pub(super) fn peer(self) -> Side {
        Side(1 - self.0)
    }
}

/// What a receive does, seeing the word `s` (pure: the tests run it over
/// every word).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum RecvMove {
    /// Move the frame out (ours, full, not yet read).
    Take,
    /// Our frame was read: give the empty cell to the peer, then wait.
    HandOver,
    Cancelled,
    Closed,
    Wait,
}

#[inline]
pub(super) fn recv_move(s: u32, me: Side, consumed: bool) -> RecvMove {
    let ours_full = s & (OWNED | FULL) == me.mine(OWN_A) | FULL;
    if ours_full && !consumed {
        RecvMove::Take
    } else if s & me.peers(ABORT_A) != 0 {
        RecvMove::Cancelled
    } else if s & me.peers(GONE_A) != 0 {
        RecvMove::Closed
    } else if ours_full {
        RecvMove::HandOver
    } else {
        RecvMove::Wait
    }
}

/// What a send does, seeing the word `s`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum SendMove {
    /// The cell is ours and holds no live frame.
    Write,
    /// Nobody owns the cell yet (the session's first send).
    Claim,
    Closed,
    /// A frame for this end is unread: no session allows a send here.
    Unread,
    /// The peer owns the cell (it has not read our last frame).
    Wait,
}

#[inline]
pub(super) fn send_move(s: u32, me: Side, consumed: bool) -> SendMove {
    if s & (me.peers(ABORT_A) | me.peers(GONE_A)) != 0 {
        SendMove::Closed
    } else if s & OWNED == 0 {
        SendMove::Claim
    } else if s & me.mine(OWN_A) == 0 {
        SendMove::Wait
    } else if s & FULL != 0 && !consumed {
        SendMove::Unread
    } else {
        SendMove::Write
    }
}

/// The error of a send that no session makes (a misused transport).
#[cold]
pub(super) fn misuse(m: SendMove) -> Error {
    use std::io::ErrorKind::{InvalidInput, WouldBlock};
    let (kind, what) = match m {
        SendMove::Unread => (InvalidInput, "send while a frame for this end is unread"),
        _ => (
            WouldBlock,
            "send while the peer holds the line (no poll_ready)",
        ),
    };
    Error::Io(std::io::Error::new(kind, what))
}
