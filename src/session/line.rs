//! The shared one-line transport: both directions of an in-process session
//! in one slot, for protocols that take turns (request, reply, request …).
//!
//! The [ring pair](super::ring) gives each direction a ring of its own, so
//! a request and its reply travel on different cache lines, each with its
//! cursors. Here the state word and the frame share one cache line (when
//! the frame fits beside the word), and a round trip moves that one line
//! each way: the one-line ping-pong floor. A send is one load and one RMW
//! of that line; a receive is one load and reads the frame from it.
//!
//! # Why one slot serves both directions
//!
//! In a binary session that is not split, the two ends follow one sequence
//! of messages. An end can be ahead of its peer only by messages it sent
//! that the peer has not read yet (anything else would have needed the
//! peer to send first), and with one slot that is at most one message. So
//! an end at a `Send` whose previous frame is still unread waits only for
//! the peer, and the peer's next step is the dual `Recv` of exactly that
//! frame: both ends never wait to send at once, and any unsplit protocol
//! runs over one slot. A [`Split`](super::Split) session is full duplex
//! (both halves send at will) and would need a slot per direction, so
//! [`Line`] does not implement [`SplitTransport`](super::SplitTransport):
//! splitting a session over a line does not compile.
//!
//! A protocol that sends several frames in a row works, but each frame
//! waits until the peer has read the one before (a hand-over per frame,
//! not a pipeline): streams belong on the ring pair.
//!
//! # Examples
//!
//! ```
//! use corelane::session::{self, Rec, Recv, Send, Var, Z};
//! // The client asks forever, and leaves by dropping its end (an abort).
//! type Client = Rec<Send<u64, Recv<u64, Var<Z>>>>;
//! let (client, server) = session::line::pair::<Client, u64>();
//! let t = std::thread::spawn(move || -> Result<(), session::Error> {
//!     let mut c = server.enter();
//!     loop {
//!         let (n, c2) = c.recv_blocking()?;
//!         c = c2.send_blocking(n + 1)?.recurse();
//!     }
//! });
//! let mut c = client.enter();
//! for i in 0..3 {
//!     let (r, c2) = c.send_blocking(i)?.recv_blocking()?;
//!     assert_eq!(r, i + 1);
//!     c = c2.recurse();
//! }
//! drop(c);
//! assert!(matches!(t.join().unwrap(), Err(session::Error::Cancelled)));
//! # Ok::<(), session::Error>(())
//! ```
//!
//! # Ground rules
//!
//! The two ends, A (the first of [`pair`]) and B, share one block: the
//! state word and the frame cell on one cache line, and a wake-up cell per
//! end (the rings' eventcount, `queue/notify.rs`) on lines of their own.
//! Every change of the word is an RMW that adds an exact delta to fields
//! only the changing end may change at that moment (`lock xadd` on x86, no
//! CAS loop), so the changes are totally ordered and none is lost.
//!
//! 1. **The cell has one owner**, named by the word (`OWN_A` or `OWN_B`;
//!    neither before the first send). Only the owner reads or writes the
//!    frame, and only the owner passes ownership on, by a Release RMW that
//!    the new owner's Acquire load pairs with. So the ends never touch the
//!    cell at once, whatever the protocol does: soundness does not rest on
//!    the session types (a misused transport gets an error or waits).
//! 2. **`FULL`** says the cell holds a frame for its owner. A receive moves
//!    the frame out and writes nothing to the word: the end remembers it
//!    (`consumed`) and gives the cell back with its next RMW, which is the
//!    send of its reply (one RMW per message: the reply's publication
//!    returns the slot and fills it) or, if its next step is another
//!    receive, a hand-over of the empty cell to the peer.
//! 3. **A send** writes the frame, then in one RMW passes the cell to the
//!    peer with `FULL`. The first send of a session claims the unowned cell
//!    (a CAS, once per session).
//! 4. **Leaving.** An end's drop sets its `GONE` bit (an abort first sets
//!    `ABORT`) and gives up a consumed frame in the same RMW. A receive
//!    takes a frame before it looks at the peer's bits (frames sent before
//!    an abort are delivered, as on the ring), then reports `ABORT` as
//!    [`Error::Cancelled`] and `GONE` as [`Error::Closed`]; a send to a
//!    gone peer is `Closed`. The last end to go drops a frame still marked
//!    `FULL`: every frame is dropped exactly once.
//! 5. **Waking.** An end that is about to sleep or leave a waker
//!    (`WaitStrategy::Park`, async) first announces itself to its wake-up
//!    cell, then sets its `WAIT` bit with an RMW and re-checks the value
//!    that RMW returns (`wait::Phase::Announced`). Every RMW of the peer that
//!    could end the wait returns the value before it and runs the cell's
//!    notify only if that shows the `WAIT` bit. Both are RMWs of one word:
//!    either the waiter's RMW sees the change (it does not sleep), or the
//!    change sees the `WAIT` bit (it notifies, and the cell's own handshake
//!    wakes the waiter). An end clears its bit in its next send; only the
//!    end itself sets or clears it. A wait that spins (`BusySpin`, `Yield`,
//!    `Backoff`, Park's spin phase) never sets it, so then the send and the
//!    receive touch only the one line.
//!
//! Each rule is a loom model in `loom-tests/tests/session_line.rs`, seen to
//! fail against the `loom_mutant`s below (`ci/loom-mutants.sh`).

// The step signatures spell out the protocol state; naming each one
// would hide exactly what the reader needs to see.
#![allow(clippy::type_complexity)]

use core::fmt;
use core::mem::MaybeUninit;
use core::task::{Context, Poll};
use std::time::Instant;

use super::chan::{new_chan, Chan};
use super::error::Error;
use super::message::Payload;
use super::transport::{BlockingReceiver, BlockingSender, Endpoint, Receiver, Sender};
use super::types::Session;
use crate::queue::wait::{self, Notify, Phase, WaitStrategy};
use crate::sync::{loom_mutant, Arc, AtomicU32, CachePadded, Ordering, UnsafeCell};

mod word;
use word::{
    misuse, recv_move, send_move, RecvMove, SendMove, Side, ABORT_A, FULL, GONE_A, OWNED, OWN_A,
    WAIT_A,
};

/// The line: the state word and the frame, in this order (`repr(C)`), so
/// a frame of up to a cache line less 8 bytes sits on the word's line.
#[repr(C)]
struct Slot<P> {
    state: AtomicU32,
    frame: UnsafeCell<MaybeUninit<(u8, P)>>,
}

/// What the two ends share.
struct Shared<P> {
    line: CachePadded<Slot<P>>,
    /// `wake[i]`: end `i` waits here for the other's moves.
    wake: [Notify; 2],
}

// Through `&Shared<P>` the ends share the state word (an atomic), the two
// wake-up cells (`Sync` themselves) and the frame cell. No `&self` method
// hands out a `&P`: the cell is read (moved out) or written only by the
// end the word names as its owner (rule 1), ownership passing by
// Release/Acquire, and dropped by whichever end goes last. So `P: Sync` is
// not needed (tests/ui/session_line_payload_not_send.rs pins `P: Send`).
// SAFETY: a `P` only ever moves between threads through the cell, never
// shared; `P: Send` is what that takes.
unsafe impl<P: Send> Sync for Shared<P> {}

impl<P> Shared<P> {
    fn new() -> Self {
        Shared {
            line: CachePadded::new(Slot {
                state: AtomicU32::new(0),
                frame: UnsafeCell::new(MaybeUninit::uninit()),
            }),
            wake: [Notify::new(), Notify::new()],
        }
    }

    #[inline(always)]
    fn load(&self) -> u32 {
        // Acquire: pairs with the Release RMWs that pass the cell (`send`,
        // `hand_over`), so the frame, or the peer's last read of the cell,
        // is ordered before what we do with the cell next.
        self.line.state.load(Ordering::Acquire)
    }

    /// Changes this end's fields from `old` to `new` (rules: only this end
    /// may change them now), returning the word before.
    #[inline(always)]
    fn change(&self, old: u32, new: u32, order: Ordering) -> u32 {
        self.line.state.fetch_add(new.wrapping_sub(old), order)
    }

    /// Runs the peer's notify if `prev` (the word before our change) shows
    /// it waiting (rule 5).
    #[inline(always)]
    fn wake_peer_if(&self, prev: u32, me: Side) {
        if prev & me.peers(WAIT_A) != 0 {
            self.wake[me.peer().index()].notify();
        }
    }

    /// Sets our `WAIT` bit (rule 5); the word it set it in.
    #[cold]
    fn announce(&self, me: Side) -> u32 {
        let bit = me.mine(WAIT_A);
        // Acquire: pairs with the peer's Release RMWs, as `load` does: a
        // frame (or the cell) that the returned word shows is ours to use.
        self.change(0, bit, Ordering::Acquire).wrapping_add(bit)
    }

    /// One try of a receive by `me`: the frame, an error, or `None` (wait).
    #[inline(always)]
    fn try_recv(
        &self,
        me: Side,
        consumed: &mut bool,
        phase: Phase,
    ) -> Option<Result<(u8, P), Error>> {
        let mut s = self.load();
        loop {
            match recv_move(s, me, *consumed) {
                RecvMove::Take => {
                    *consumed = true;
                    // The word (read with Acquire, `load` or `announce`)
                    // names us owner with a frame we have not moved out.
                    // SAFETY: it was written and published to us, and only
                    // we touch the cell until we pass it on (rule 1).
                    let frame = self.line.frame.with(|f| unsafe { (*f).assume_init_read() });
                    return Some(Ok(frame));
                }
                RecvMove::Cancelled => return Some(Err(Error::Cancelled)),
                RecvMove::Closed => return Some(Err(Error::Closed)),
                RecvMove::HandOver => {
                    s = self.hand_over(s, me);
                    *consumed = false;
                }
                RecvMove::Wait => {
                    if phase == Phase::Spinning || s & me.mine(WAIT_A) != 0 {
                        return None;
                    }
                    s = self.announce(me);
                    if loom_mutant("LineRecheckIgnored") {
                        return None;
                    }
                }
            }
        }
    }

    /// Gives our read, empty cell to the peer (rule 2); the word after.
    #[cold]
    fn hand_over(&self, s: u32, me: Side) -> u32 {
        let (old, new) = (me.mine(OWN_A) | FULL, me.peers(OWN_A));
        let order = if loom_mutant("LineHandOverRelaxed") {
            Ordering::Relaxed // the broken variant the loom models must catch
        } else {
            // Release: our read of the frame (the move out) happens before
            // the peer's next write of the cell, after its Acquire `load`.
            Ordering::Release
        };
        let prev = self.change(old, new, order);
        self.wake_peer_if(prev, me);
        debug_assert_eq!(s & (OWNED | FULL), old, "hand-over of a cell not ours");
        prev.wrapping_add(new.wrapping_sub(old))
    }

    /// One try of a send's wait by `me`: the word if a send may go ahead
    /// (the cell is ours or unowned), an error, or `None` (wait).
    #[inline(always)]
    fn try_ready(&self, me: Side, consumed: bool, phase: Phase) -> Option<Result<u32, Error>> {
        let mut s = self.load();
        loop {
            match send_move(s, me, consumed) {
                SendMove::Write | SendMove::Claim => return Some(Ok(s)),
                SendMove::Closed => return Some(Err(Error::Closed)),
                SendMove::Unread => return Some(Err(misuse(SendMove::Unread))),
                SendMove::Wait => {
                    if phase == Phase::Spinning || s & me.mine(WAIT_A) != 0 {
                        return None;
                    }
                    s = self.announce(me);
                    if loom_mutant("LineRecheckIgnored") {
                        return None;
                    }
                }
            }
        }
    }

    /// Sends `(label, p)` as `me`, from the word `s` (rule 3).
    #[inline(always)]
    fn send(
        &self,
        mut s: u32,
        me: Side,
        consumed: &mut bool,
        label: u8,
        p: P,
    ) -> Result<(), Error> {
        match send_move(s, me, *consumed) {
            SendMove::Write => {}
            SendMove::Claim => s = self.claim(s, me)?,
            SendMove::Closed => return Err(Error::Closed),
            m @ (SendMove::Unread | SendMove::Wait) => return Err(misuse(m)),
        }
        // SAFETY: we own the cell (`s`, read with Acquire, or our claim) and
        // it holds no live frame: never written, handed to us empty, or
        // moved out by our own receive (`consumed`). `write` drops nothing.
        self.line.frame.with_mut(|f| unsafe {
            (*f).write((label, p));
        });
        *consumed = false;
        // Our fields: the cell's owner and FULL (ours while we own it) and
        // our WAIT bit (only we change it).
        let old = s & (OWNED | FULL | me.mine(WAIT_A));
        let publish = if loom_mutant("LinePublishRelaxed") {
            Ordering::Relaxed // the broken variant the loom models must catch
        } else {
            // Release: pairs with the peer's Acquire `load` (or `announce`)
            // that sees the cell passed to it, making the frame visible.
            Ordering::Release
        };
        let prev = self.change(old, me.peers(OWN_A) | FULL, publish);
        self.wake_peer_if(prev, me);
        Ok(())
    }

    /// Claims the unowned cell for the session's first send; the word after.
    #[cold]
    fn claim(&self, mut s: u32, me: Side) -> Result<u32, Error> {
        loop {
            if s & OWNED != 0 {
                // Both ends sent first: no session does that.
                return Err(misuse(SendMove::Wait));
            }
            let claimed = s | me.mine(OWN_A);
            // Relaxed (both): the cell was never written, so there is no
            // earlier access to order; the CAS only decides who writes first,
            // and the send that follows publishes with Release.
            match self
                .line
                .state
                .compare_exchange(s, claimed, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return Ok(claimed),
                Err(now) => s = now,
            }
        }
    }

    /// `me` abandons the session (rule 4).
    #[cold]
    fn abort(&self, me: Side) {
        // Release: pairs with the peer's Acquire `load`; the bit carries no
        // data, so this only keeps the change in order with our last send.
        // `fetch_or`: an abort may be asked for twice.
        let prev = self
            .line
            .state
            .fetch_or(me.mine(ABORT_A), Ordering::Release);
        if !loom_mutant("LineGoneWithoutWake") {
            self.wake_peer_if(prev, me);
        }
    }

    /// `me`'s end is dropped, after moving a frame out if `consumed`.
    fn leave(&self, me: Side, consumed: bool) {
        let old = if consumed && !loom_mutant("LineDropKeepsFrame") {
            FULL
        } else {
            0
        };
        // Release: our read of a consumed frame happens before the last
        // end's drop (whose Acquire load pairs with this; the Arc's count
        // orders it too).
        let prev = self.change(old, me.mine(GONE_A), Ordering::Release);
        if !loom_mutant("LineGoneWithoutWake") {
            self.wake_peer_if(prev, me);
        }
    }
}

impl<P> Drop for Shared<P> {
    fn drop(&mut self) {
        // Acquire: pairs with the ends' last Release RMWs (a send, their
        // `leave`); the Arc's count already orders them.
        let s = self.line.state.load(Ordering::Acquire);
        if s & FULL != 0 {
            let frame = &self.line.frame;
            // SAFETY: FULL with both ends gone: a frame was sent and nobody
            // moved it out (a reader that did cleared FULL when it left);
            // we are the last owner of the block.
            frame.with_mut(|f| unsafe { (*f).assume_init_drop() });
        }
    }
}

/// One end of a session over a shared line: one slot, a state word and a
/// frame on one cache line, that both directions take turns on. Made by
/// [`pair`] / [`pair_with`]; blocking calls wait per their
/// [`WaitStrategy`], async calls register the task's waker. Not
/// [`SplitTransport`](super::SplitTransport): see the [module
/// docs](self).
///
/// `Send` and `Sync` for `P: Send`: a payload moves from one end's thread
/// to the other's, and `&Line` reads no payload.
///
/// # Examples
///
/// ```
/// use corelane::session::{self, line::Line, Chan, End, Recv, Send};
/// fn both<T: std::marker::Send + Sync>() {}
/// both::<Line<u64>>();
/// // A channel is exactly its transport: one pointer.
/// assert_eq!(
///     std::mem::size_of::<Chan<Send<u64, Recv<u64, End>>, Line<u64>>>(),
///     std::mem::size_of::<usize>(),
/// );
/// ```
///
/// A payload that is not `Send` keeps its line on one thread:
///
/// ```compile_fail
/// fn is_send<T: Send>() {}
/// is_send::<corelane::session::line::Line<std::rc::Rc<u8>>>();
/// ```
///
/// And a split needs a slot per direction, so it does not compile here
/// (the same session splits over [`ring::pair`](super::ring::pair)):
///
/// ```compile_fail
/// use corelane::session::{self, End, Split};
/// let (a, _b) = session::line::pair::<Split<End, End>, u8>();
/// let (_tx, _rx) = a.split();
/// ```
pub struct Line<P>(Box<CachePadded<EndState<P>>>);

/// An end's state, behind the one pointer a [`Line`] is. Every step moves
/// the channel; these fields, copied piecewise through each step's
/// `Result`, left the next send's load of `shared` on store-forwarding
/// stalls, and a reply a few ns late loses the line to the peer's spinning
/// load before its RMW: one more round trip of the line. Padded: the two
/// ends' states are allocated together, and `consumed` changes each step.
struct EndState<P> {
    shared: Arc<Shared<P>>,
    me: Side,
    wait: WaitStrategy,
    /// The frame the word shows as ours was moved out; the cell goes back
    /// with our next RMW (rule 2).
    consumed: bool,
}

/// A session over one shared line: the endpoint following `S` and the one
/// following its dual. Blocking calls wait with [`WaitStrategy::Backoff`].
/// Several frames in a row each wait until the peer read the one before.
///
/// # Examples
///
/// ```
/// use corelane::session::{self, End, Recv, Send};
/// let (a, b) = session::line::pair::<Send<u64, Recv<u64, End>>, u64>();
/// let t = std::thread::spawn(move || {
///     let (v, b) = b.recv_blocking()?;
///     b.send_blocking(v * 2)?.close();
///     Ok::<(), session::Error>(())
/// });
/// let (v, a) = a.send_blocking(21)?.recv_blocking()?;
/// assert_eq!(v, 42);
/// a.close();
/// t.join().unwrap()?;
/// # Ok::<(), session::Error>(())
/// ```
pub fn pair<S: Session, P: Payload>() -> (Chan<S, Line<P>>, Chan<S::Dual, Line<P>>) {
    pair_with::<S, P>(WaitStrategy::Backoff)
}

/// [`pair`] with the blocking calls waiting per `wait` (both ends).
/// `BusySpin` is the latency floor: a wait then reads only the line.
///
/// # Examples
///
/// ```
/// use corelane::queue::wait::WaitStrategy;
/// use corelane::session::{self, End, Send};
/// let (a, b) = session::line::pair_with::<Send<u8, End>, u8>(WaitStrategy::BusySpin);
/// a.send_blocking(1)?.close();
/// let (v, b) = b.recv_blocking()?;
/// assert_eq!(v, 1);
/// b.close();
/// # Ok::<(), session::Error>(())
/// ```
pub fn pair_with<S: Session, P: Payload>(
    wait: WaitStrategy,
) -> (Chan<S, Line<P>>, Chan<S::Dual, Line<P>>) {
    let shared = Arc::new(Shared::new());
    let end = |shared, me| {
        Line(Box::new(CachePadded::new(EndState {
            shared,
            me,
            wait,
            consumed: false,
        })))
    };
    let a = end(shared.clone(), Side::A);
    let b = end(shared, Side::B);
    (new_chan(a), new_chan(b))
}

impl<P> EndState<P> {
    /// Waits (per the strategy) until a send may go ahead; the word then.
    #[inline(always)]
    fn wait_ready(&self) -> Result<u32, Error> {
        let wake = &self.shared.wake[self.me.index()];
        wait::block_on_phased(self.wait, wake, |phase| {
            self.shared.try_ready(self.me, self.consumed, phase)
        })
    }

    /// Waits (per the strategy, until `deadline` if any) for a frame.
    #[inline(always)]
    fn wait_recv(&mut self, deadline: Option<Instant>) -> Result<Option<(u8, P)>, Error> {
        let (shared, me, consumed) = (&self.shared, self.me, &mut self.consumed);
        let wake = &shared.wake[me.index()];
        let op = |phase| shared.try_recv(me, consumed, phase);
        let Some(deadline) = deadline else {
            return wait::block_on_phased(self.wait, wake, op).map(Some);
        };
        match wait::block_until_phased(self.wait, wake, deadline, op) {
            Some(r) => r.map(Some),
            // One last look: a frame may have come as the deadline passed.
            None => match shared.try_recv(me, consumed, Phase::Spinning) {
                Some(r) => r.map(Some),
                None => Ok(None),
            },
        }
    }
}

impl<P> Drop for Line<P> {
    fn drop(&mut self) {
        let e = &self.0;
        e.shared.leave(e.me, e.consumed);
    }
}

impl<P> fmt::Debug for Line<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = &self.0;
        f.debug_struct("session::line::Line")
            .field("end", &if e.me == Side::A { "A" } else { "B" })
            .field("wait", &e.wait)
            // Relaxed: a snapshot for printing; nothing is read on it.
            .field("state", &e.shared.line.state.load(Ordering::Relaxed))
            .finish()
    }
}

impl<P> Endpoint for Line<P> {
    type Payload = P;
    fn abort(&mut self) {
        self.0.shared.abort(self.0.me);
    }
}

impl<P> Sender for Line<P> {
    #[inline(always)]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let (shared, me, consumed) = (&self.0.shared, self.0.me, self.0.consumed);
        wait::poll_retry_phased(&shared.wake[me.index()], cx, |phase| {
            shared.try_ready(me, consumed, phase).map(|r| r.map(drop))
        })
    }

    #[inline(always)]
    fn start_send(&mut self, label: u8, payload: P) -> Result<(), Error> {
        let e = &mut **self.0;
        let s = e.shared.load();
        e.shared.send(s, e.me, &mut e.consumed, label, payload)
    }
}

impl<P> BlockingSender for Line<P> {
    #[inline(always)]
    fn send_blocking(&mut self, label: u8, payload: P) -> Result<(), Error> {
        let e = &mut **self.0;
        let s = match e.shared.try_ready(e.me, e.consumed, Phase::Spinning) {
            Some(r) => r?,
            None => e.wait_ready()?,
        };
        e.shared.send(s, e.me, &mut e.consumed, label, payload)
    }
}

impl<P> Receiver for Line<P> {
    #[inline(always)]
    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<(u8, P), Error>> {
        let e = &mut **self.0;
        let (shared, me, consumed) = (&e.shared, e.me, &mut e.consumed);
        wait::poll_retry_phased(&shared.wake[me.index()], cx, |phase| {
            shared.try_recv(me, consumed, phase)
        })
    }
}

impl<P> BlockingReceiver for Line<P> {
    #[inline(always)]
    fn recv_blocking(&mut self, deadline: Option<Instant>) -> Result<Option<(u8, P)>, Error> {
        let e = &mut **self.0;
        match e.shared.try_recv(e.me, &mut e.consumed, Phase::Spinning) {
            Some(r) => r.map(Some),
            None => e.wait_recv(deadline),
        }
    }
}

#[cfg(all(test, not(corelane_loom)))]
mod tests;
