//! An in-memory stream transport for the fuzz test: the peer's bytes are
//! a script given up front, decoded through the example's `FixCodec` as
//! the TCP transport would (same frame cap, same end-of-stream rules), and
//! what the acceptor sends is encoded through the same codec and counted.
//! It lets most of the fuzz frames run through the real codec and the real
//! async engine in memory; a share also runs over io_uring TCP.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::BytesMut;
use corelane::sched::{self, Sleep};
use corelane::session::codec::Codec;
use corelane::session::{Endpoint, Error, Receiver, Sender, SplitTransport};

use super::codec::FixCodec;
use super::msg::FixMsg;

/// What the peer does once its script is spent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum After {
    /// Closes the connection (end of stream).
    Close,
    /// Stays connected and says nothing.
    Silence,
}

/// The connection's state, shared by both halves.
pub struct Wire {
    codec: FixCodec,
    input: BytesMut,
    /// Bytes of the script not yet "received", handed over in chunks.
    rest: bytes::Bytes,
    chunk: usize,
    after: After,
    max_frame: usize,
    out: BytesMut,
    /// Frames the acceptor sent.
    pub sent: u64,
    /// Bytes the acceptor sent.
    pub sent_bytes: u64,
    /// After this many frames sent the peer stops reading (our sends
    /// block forever).
    deaf_after: Option<u64>,
    /// Frames that ended in an error (the last one, at most).
    errors: u64,
    /// Hand over one chunk per this interval (a peer that trickles).
    drip: Option<Duration>,
    next_chunk: Option<Sleep>,
}

impl Wire {
    /// Frames the acceptor's codec consumed: decoded, garbled, or the one
    /// that failed.
    pub fn frames(&self) -> u64 {
        self.codec.stats.frames + self.codec.stats.garbled + self.errors
    }
}

/// The transport (both directions; the halves share the `Wire`).
#[derive(Clone)]
pub struct Mem(pub Rc<RefCell<Wire>>);

impl Mem {
    /// A connection whose peer sends `script` in chunks of `chunk` bytes
    /// (one chunk per `drip` if given), then does `after`; deaf after
    /// `deaf_after` of our frames.
    pub fn new(
        script: Vec<u8>,
        chunk: usize,
        after: After,
        deaf_after: Option<u64>,
        drip: Option<Duration>,
    ) -> Mem {
        let max_frame = 8 * 1024;
        Mem(Rc::new(RefCell::new(Wire {
            codec: FixCodec::new(max_frame),
            input: BytesMut::new(),
            rest: script.into(),
            chunk: chunk.max(1),
            after,
            max_frame,
            out: BytesMut::new(),
            sent: 0,
            sent_bytes: 0,
            deaf_after,
            errors: 0,
            drip,
            next_chunk: None,
        })))
    }
}

impl Endpoint for Mem {
    type Payload = FixMsg;
}

impl Sender for Mem {
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let w = self.0.borrow();
        if w.deaf_after.is_some_and(|n| w.sent >= n) {
            // A peer that never reads: the send never completes (the
            // engine's timers are what wake the task).
            return Poll::Pending;
        }
        Poll::Ready(Ok(()))
    }

    fn start_send(&mut self, label: u8, payload: FixMsg) -> Result<(), Error> {
        let w = &mut *self.0.borrow_mut();
        w.codec.encode(label, payload, &mut w.out)?;
        w.sent += 1;
        w.sent_bytes += w.out.len() as u64;
        w.out.clear(); // bounded: nobody reads it back
        Ok(())
    }
}

impl Receiver for Mem {
    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<(u8, FixMsg), Error>> {
        let w = &mut *self.0.borrow_mut();
        loop {
            match w.codec.decode(&mut w.input) {
                Ok(Some(m)) => return Poll::Ready(Ok(m)),
                Ok(None) => {}
                Err(e) => {
                    w.errors += 1;
                    return Poll::Ready(Err(e));
                }
            }
            if w.input.len() > w.max_frame {
                w.errors += 1;
                return Poll::Ready(Err(Error::Malformed("a frame longer than max_frame")));
            }
            if !w.rest.is_empty() {
                if let Some(s) = w.next_chunk.as_mut() {
                    if Pin::new(s).poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                }
                w.next_chunk = w.drip.map(sched::sleep);
                let n = w.chunk.min(w.rest.len());
                let c = w.rest.split_to(n);
                w.input.extend_from_slice(&c);
                continue;
            }
            return match w.after {
                After::Silence => Poll::Pending,
                After::Close if w.input.is_empty() => Poll::Ready(Err(Error::Closed)),
                After::Close => {
                    w.errors += 1;
                    Poll::Ready(Err(Error::Malformed(
                        "the connection closed in the middle of a frame",
                    )))
                }
            };
        }
    }
}

impl SplitTransport for Mem {
    type Tx = Mem;
    type Rx = Mem;
    fn split(self) -> (Mem, Mem) {
        (self.clone(), self)
    }
}
