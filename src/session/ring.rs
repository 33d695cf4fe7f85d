//! The in-process transport: a pair of SPSC rings, one per direction,
//! carrying `(label, payload)` frames by value (no allocation per message).

// The step signatures spell out the protocol state; naming each one
// would hide exactly what the reader needs to see.
#![allow(clippy::type_complexity)]

use core::task::{Context, Poll};
use std::time::Instant;

use super::chan::{new_chan, Chan};
use super::error::Error;
use super::message::Payload;
use super::transport::{
    BlockingReceiver, BlockingSender, Endpoint, Receiver, Sender, SplitTransport,
};
use super::types::Session;
use crate::queue::spsc::{self, Consumer, Producer};
use crate::queue::wait::WaitStrategy;
use crate::queue::{PopError, PopTimeoutError, PushError};
use crate::sync::CachePadded;

/// One frame on a ring: a message with its label, or the abort a dropped
/// endpoint leaves behind.
enum Frame<P> {
    Msg(u8, P),
    Abort,
}

/// Both directions of an in-process session: this side's producer into
/// the peer's ring and consumer of its own. Blocking calls wait per the
/// [`WaitStrategy`] given to [`pair_with`] (`Backoff` for [`pair`]); async
/// calls register the task's waker.
///
/// # Examples
///
/// See [`pair`].
pub struct Ring<P>(Box<CachePadded<Ends<P>>>);

/// Both halves, behind one pointer: a step moves the channel, and a
/// channel of one pointer moves in a register. Padded: the two ends of a
/// pair are allocated together, and each writes its own cursors.
struct Ends<P> {
    tx: RingTx<P>,
    rx: RingRx<P>,
}

/// The transmit half of a [`Ring`] (after a [`Split`](super::Split)).
///
/// # Examples
///
/// See [`Split`](super::Split).
pub struct RingTx<P> {
    tx: Producer<Frame<P>>,
    wait: WaitStrategy,
}

/// The receive half of a [`Ring`] (after a [`Split`](super::Split)).
///
/// # Examples
///
/// See [`Split`](super::Split).
pub struct RingRx<P> {
    rx: Consumer<Frame<P>>,
    wait: WaitStrategy,
}

/// A session over two SPSC rings of `capacity` frames each, plus one slot
/// so that a side that has not filled its ring can still leave an abort:
/// the endpoint following `S` and the one following
/// its dual. Blocking calls wait with [`WaitStrategy::Backoff`].
///
/// # Panics
///
/// If `capacity` rounded up to a power of two does not fit a `usize`
/// (as [`spsc::channel`]).
///
/// # Examples
///
/// ```
/// use corelane::session::{self, End, Recv, Send};
/// let (a, b) = session::ring::pair::<Send<u64, Recv<u64, End>>, u64>(1);
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
pub fn pair<S: Session, P: Payload>(capacity: usize) -> (Chan<S, Ring<P>>, Chan<S::Dual, Ring<P>>) {
    pair_with::<S, P>(capacity, WaitStrategy::Backoff)
}

/// [`pair`] with the blocking calls waiting per `wait` (both ends).
///
/// # Examples
///
/// ```
/// use corelane::queue::wait::WaitStrategy;
/// use corelane::session::{self, End, Send};
/// let (a, b) = session::ring::pair_with::<Send<u8, End>, u8>(1, WaitStrategy::BusySpin);
/// a.send_blocking(1)?.close();
/// let (v, b) = b.recv_blocking()?;
/// assert_eq!(v, 1);
/// b.close();
/// # Ok::<(), session::Error>(())
/// ```
pub fn pair_with<S: Session, P: Payload>(
    capacity: usize,
    wait: WaitStrategy,
) -> (Chan<S, Ring<P>>, Chan<S::Dual, Ring<P>>) {
    let cap = capacity.max(1).saturating_add(1);
    let (a_tx, b_rx) = spsc::channel(cap);
    let (b_tx, a_rx) = spsc::channel(cap);
    let a = Ring(Box::new(CachePadded::new(Ends {
        tx: RingTx { tx: a_tx, wait },
        rx: RingRx { rx: a_rx, wait },
    })));
    let b = Ring(Box::new(CachePadded::new(Ends {
        tx: RingTx { tx: b_tx, wait },
        rx: RingRx { rx: b_rx, wait },
    })));
    (new_chan(a), new_chan(b))
}

impl<P> Ring<P> {
    /// Frames each direction holds (including the slot added for an
    /// abort; a sender may use it too, and a side dropped with its ring
    /// full leaves no abort: the peer then reads [`Error::Closed`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::session::{self, End};
    /// let (a, b) = session::ring::pair::<End, u8>(4);
    /// assert!(a.transport().capacity() >= 5);
    /// a.close();
    /// b.close();
    /// ```
    pub fn capacity(&self) -> usize {
        self.0.tx.tx.capacity()
    }
}

#[inline]
fn recv_frame<P>(r: Result<Frame<P>, ()>) -> Result<(u8, P), Error> {
    match r {
        Ok(Frame::Msg(label, p)) => Ok((label, p)),
        Ok(Frame::Abort) => Err(Error::Cancelled),
        Err(()) => Err(Error::Closed),
    }
}

impl<P> Endpoint for RingTx<P> {
    type Payload = P;
    fn abort(&mut self) {
        // A full ring means the peer is behind; it still sees the producer
        // disconnect (Closed) once it catches up.
        let _ = self.tx.push(Frame::Abort);
    }
}

impl<P> Sender for RingTx<P> {
    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.tx.poll_ready(cx).map_err(|_| Error::Closed)
    }
    #[inline]
    fn start_send(&mut self, label: u8, payload: P) -> Result<(), Error> {
        match self.tx.push(Frame::Msg(label, payload)) {
            Ok(()) => Ok(()),
            Err(PushError::Disconnected(_)) => Err(Error::Closed),
            // poll_ready said there was room and only this side fills it.
            Err(_) => Err(Error::Io(std::io::Error::new(
                std::io::ErrorKind::WouldBlock,
                "start_send without poll_ready",
            ))),
        }
    }
}

impl<P> BlockingSender for RingTx<P> {
    #[inline]
    fn send_blocking(&mut self, label: u8, payload: P) -> Result<(), Error> {
        self.tx
            .push_blocking(Frame::Msg(label, payload), self.wait)
            .map_err(|_| Error::Closed)
    }
}

impl<P> Endpoint for RingRx<P> {
    type Payload = P;
}

impl<P> Receiver for RingRx<P> {
    #[inline]
    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<(u8, P), Error>> {
        self.rx.poll_pop(cx).map(|r| recv_frame(r.map_err(|_| ())))
    }
}

impl<P> BlockingReceiver for RingRx<P> {
    #[inline]
    fn recv_blocking(&mut self, deadline: Option<Instant>) -> Result<Option<(u8, P)>, Error> {
        match deadline {
            None => recv_frame(self.rx.pop_blocking(self.wait).map_err(|_| ())).map(Some),
            Some(d) => match self.rx.pop_until(d, self.wait) {
                Ok(f) => recv_frame(Ok(f)).map(Some),
                Err(PopTimeoutError::Timeout) => {
                    // One last look: the deadline may have passed while a
                    // frame arrived.
                    match self.rx.pop() {
                        Ok(f) => recv_frame(Ok(f)).map(Some),
                        Err(PopError::Disconnected) => Err(Error::Closed),
                        Err(_) => Ok(None),
                    }
                }
                Err(_) => Err(Error::Closed),
            },
        }
    }
}

impl<P> Endpoint for Ring<P> {
    type Payload = P;
    fn abort(&mut self) {
        self.0.tx.abort();
    }
}

impl<P> Ring<P> {
    /// A send found the peer gone: `Cancelled` if it left an abort (in
    /// our receive ring, where only a receive would otherwise see it),
    /// else `Closed`.
    #[cold]
    fn peer_gone(&mut self, e: Error) -> Error {
        match (e, self.0.rx.rx.pop()) {
            (Error::Closed, Ok(Frame::Abort)) => Error::Cancelled,
            (e, _) => e,
        }
    }
}

impl<P> Sender for Ring<P> {
    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.0.tx.poll_ready(cx).map_err(|e| self.peer_gone(e))
    }
    #[inline]
    fn start_send(&mut self, label: u8, payload: P) -> Result<(), Error> {
        self.0
            .tx
            .start_send(label, payload)
            .map_err(|e| self.peer_gone(e))
    }
}

impl<P> BlockingSender for Ring<P> {
    #[inline]
    fn send_blocking(&mut self, label: u8, payload: P) -> Result<(), Error> {
        self.0
            .tx
            .send_blocking(label, payload)
            .map_err(|e| self.peer_gone(e))
    }
}

impl<P> Receiver for Ring<P> {
    #[inline]
    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<(u8, P), Error>> {
        self.0.rx.poll_recv(cx)
    }
}

impl<P> BlockingReceiver for Ring<P> {
    #[inline]
    fn recv_blocking(&mut self, deadline: Option<Instant>) -> Result<Option<(u8, P)>, Error> {
        self.0.rx.recv_blocking(deadline)
    }
}

impl<P> SplitTransport for Ring<P> {
    type Tx = RingTx<P>;
    type Rx = RingRx<P>;
    fn split(self) -> (RingTx<P>, RingRx<P>) {
        let ends = CachePadded::into_inner(*self.0);
        (ends.tx, ends.rx)
    }
}
