//! What a session needs from a transport: frames of `(label, payload)`,
//! an abort, and (for `Split`) two halves.

use core::task::{Context, Poll};
use std::time::Instant;

use super::error::Error;

/// A transport endpoint: the payload type it carries, and how it tells the
/// peer that this side abandoned the session.
///
/// # Examples
///
/// ```
/// use corelane::session::{ring::Ring, Endpoint};
/// fn payload_is_u64<T: Endpoint<Payload = u64>>() {}
/// payload_is_u64::<Ring<u64>>();
/// ```
pub trait Endpoint {
    /// The one type this transport carries for the protocol.
    type Payload;
    /// Tells the peer, where the transport can, that this side abandoned
    /// the session (its next step returns [`Error::Cancelled`]). Called
    /// when an unfinished [`Chan`](super::Chan) is dropped or a step fails.
    /// Never blocks.
    fn abort(&mut self) {}
}

/// The sending side of a transport.
///
/// # Examples
///
/// ```
/// use corelane::session::{ring::Ring, Sender};
/// fn sends<T: Sender>() {}
/// sends::<Ring<u64>>();
/// ```
pub trait Sender: Endpoint {
    /// `Ready(Ok)` once [`start_send`](Sender::start_send) can take a
    /// frame.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] once the peer is gone, or the transport's error.
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>>;
    /// Queues one frame (after `poll_ready` said `Ready(Ok)`).
    ///
    /// # Errors
    ///
    /// As `poll_ready`.
    fn start_send(&mut self, label: u8, payload: Self::Payload) -> Result<(), Error>;
    /// Called once at the start of each async send step, before
    /// `poll_ready` (a transport with a write deadline starts it here).
    fn begin_send(&mut self) {}
}

/// The receiving side of a transport.
///
/// # Examples
///
/// ```
/// use corelane::session::{ring::Ring, Receiver};
/// fn receives<T: Receiver>() {}
/// receives::<Ring<u64>>();
/// ```
pub trait Receiver: Endpoint {
    /// The next frame.
    ///
    /// # Errors
    ///
    /// [`Error::Cancelled`] for the peer's abort, [`Error::Closed`] once the
    /// peer is gone, [`Error::Malformed`] for a frame that does not decode,
    /// or the transport's error.
    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<(u8, Self::Payload), Error>>;
    /// Called once at the start of each async receive step, before
    /// `poll_recv` (a transport with a read deadline starts it here).
    fn begin_recv(&mut self) {}
}

/// A sender that can wait on the calling thread (the in-process rings).
///
/// # Examples
///
/// ```
/// use corelane::session::{ring::Ring, BlockingSender};
/// fn blocks<T: BlockingSender>() {}
/// blocks::<Ring<u64>>();
/// ```
pub trait BlockingSender: Sender {
    /// Sends one frame, waiting for room.
    ///
    /// # Errors
    ///
    /// As [`Sender::poll_ready`].
    fn send_blocking(&mut self, label: u8, payload: Self::Payload) -> Result<(), Error>;
}

/// A receiver that can wait on the calling thread (the in-process rings).
///
/// # Examples
///
/// ```
/// use corelane::session::{ring::Ring, BlockingReceiver};
/// fn blocks<T: BlockingReceiver>() {}
/// blocks::<Ring<u64>>();
/// ```
pub trait BlockingReceiver: Receiver {
    /// The next frame, waiting until `deadline` (forever if `None`);
    /// `Ok(None)` if the deadline passed first (nothing was consumed).
    ///
    /// # Errors
    ///
    /// As [`Receiver::poll_recv`].
    fn recv_blocking(
        &mut self,
        deadline: Option<Instant>,
    ) -> Result<Option<(u8, Self::Payload)>, Error>;
}

/// A transport that splits into a transmit-only and a receive-only half
/// (for [`Split`](super::Split)).
///
/// # Examples
///
/// See [`Split`](super::Split).
pub trait SplitTransport: Endpoint {
    /// The transmit half.
    type Tx: Sender<Payload = Self::Payload>;
    /// The receive half.
    type Rx: Receiver<Payload = Self::Payload>;
    /// Splits.
    fn split(self) -> (Self::Tx, Self::Rx);
}
