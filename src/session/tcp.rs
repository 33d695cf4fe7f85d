//! The TCP transport: a session over an [`io::TcpStream`](crate::io::TcpStream)
//! on the current core's io_uring, with a [`Codec`] for the frames and a
//! handshake that carries the protocol type's [`Fingerprint`].
//!
//! [`connect`] and [`accept`] open with a 16-byte preamble each way (magic
//! `CLS1`, wire version, role, the fingerprint of the sender's own session
//! type) and a verdict byte from the acceptor: if the peer's fingerprint is
//! not the one of the dual of ours, the acceptor answers "refused", closes
//! the connection and returns [`Error::Refused`] before any message, and
//! the initiator returns `Refused` too. [`foreign`] skips the handshake,
//! for wire formats that have their own (a FIX Logon): the peer's type is
//! then unchecked, but every frame is still checked against the current
//! step (label and message type).
//!
//! A slow or hostile peer cannot hang or bloat the process: frames are
//! capped ([`Config::max_frame`]; the transport also refuses to buffer more
//! than that whatever the codec), the handshake has a deadline
//! ([`Config::handshake_timeout`]), and every receive can have one
//! ([`Config::read_timeout`], or per step with
//! [`Chan::recv_until`](super::Chan::recv_until)), and so can every send's
//! wait for the one before ([`Config::write_timeout`]). A dropped transmit
//! half whose last send is still in flight leaves its abort to a small
//! task on its core, which sends it once that send is done (holding the
//! connection open for at most 10 s).
//!
//! Endpoints are `!Send` (the stream belongs to its core's ring), and a
//! `Chan` has no wire encoding: delegation over TCP does not compile.
//!
//! # Examples
//!
//! ```no_run
//! use corelane::{io, sched::{self, Priority, Runtime}};
//! use corelane::session::{self, codec::Framed, tcp, End, Recv, Send};
//!
//! type Client = Send<u64, Recv<u64, End>>;
//! let rt = Runtime::builder().io(io::Config::default()).build()?;
//! rt.block_on(async {
//!     sched::spawn_local(Priority::Normal, async {
//!         let s = io::TcpStream::connect("127.0.0.1:7000".parse().unwrap()).await?;
//!         let c = tcp::connect::<Client, u64, _>(s, Framed::pod(1024), &tcp::Config::new()).await?;
//!         let (v, c) = c.send(41).await?.recv().await?;
//!         c.close();
//!         Ok::<u64, session::Error>(v)
//!     })
//!     .await
//! })??;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use core::cell::RefCell;
use core::future::poll_fn;
use core::marker::PhantomData;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::future::Future;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::{BufMut, BytesMut};

use super::chan::{new_chan, Chan};
use super::codec::Codec;
use super::error::Error;
use super::fingerprint::Fingerprint;
use super::transport::{Endpoint, Receiver, Sender, SplitTransport};
use crate::io::TcpStream;
use crate::sched::Sleep;

/// Limits of a TCP session.
///
/// # Examples
///
/// ```
/// use corelane::session::tcp::Config;
/// use std::time::Duration;
/// let c = Config::new().max_frame(64 * 1024).read_timeout(Some(Duration::from_secs(30)));
/// assert_eq!(c.get_max_frame(), 64 * 1024);
/// ```
#[derive(Clone, Debug)]
pub struct Config {
    max_frame: usize,
    handshake_timeout: Duration,
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_frame: 1 << 20,
            handshake_timeout: Duration::from_secs(5),
            read_timeout: None,
            write_timeout: None,
        }
    }
}

impl Config {
    /// 1 MiB frames, a 5 s handshake, no read deadline.
    ///
    /// # Examples
    ///
    /// See [`Config`].
    pub fn new() -> Self {
        Config::default()
    }
    /// The most bytes the transport buffers for one incoming frame (the
    /// codec should cap its frames at the same size): beyond it the
    /// receive fails with [`Error::Malformed`].
    ///
    /// # Examples
    ///
    /// See [`Config`].
    pub fn max_frame(mut self, bytes: usize) -> Self {
        self.max_frame = bytes.max(16);
        self
    }
    /// The cap set by [`max_frame`](Config::max_frame).
    ///
    /// # Examples
    ///
    /// See [`Config`].
    pub fn get_max_frame(&self) -> usize {
        self.max_frame
    }
    /// How long [`connect`] and [`accept`] wait for the peer's preamble.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::session::tcp::Config;
    /// let c = Config::new().handshake_timeout(std::time::Duration::from_millis(500));
    /// # let _ = c;
    /// ```
    pub fn handshake_timeout(mut self, d: Duration) -> Self {
        self.handshake_timeout = d;
        self
    }
    /// A deadline on every receive, counted from when it starts waiting
    /// ([`Error::Timeout`], which ends the session); `None` for none (per
    /// step deadlines are still available).
    ///
    /// # Examples
    ///
    /// See [`Config`].
    pub fn read_timeout(mut self, d: Option<Duration>) -> Self {
        self.read_timeout = d;
        self
    }
    /// A deadline on every send step's wait for the previous send to be
    /// taken by the kernel (a peer that stops reading fills the socket
    /// buffers): [`Error::Timeout`], which ends the session; `None` (the
    /// default) for none.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::session::tcp::Config;
    /// let c = Config::new().write_timeout(Some(std::time::Duration::from_secs(5)));
    /// # let _ = c;
    /// ```
    pub fn write_timeout(mut self, d: Option<Duration>) -> Self {
        self.write_timeout = d;
        self
    }
}

struct Shared<C> {
    stream: TcpStream,
    codec: C,
    rbuf: BytesMut,
    wbuf: BytesMut,
    max_frame: usize,
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
    /// The read deadline's timer while a receive step waits.
    sleep: Option<Sleep>,
    /// The write deadline's timer while a send step waits.
    wsleep: Option<Sleep>,
    /// An abort that found a send in flight: a local task sends it when
    /// that send is done (up to `ABORT_GRACE`). Only that task polls for
    /// it: a send has one waker slot, so a second poller would steal its
    /// wake-up.
    abort: Option<bytes::Bytes>,
    eof: bool,
}

/// A session's TCP connection (both directions). `!Send`: it belongs to
/// the core whose ring owns the stream.
///
/// # Examples
///
/// See the [module docs](self).
pub struct Tcp<P, C> {
    sh: Rc<RefCell<Shared<C>>>,
    _p: PhantomData<fn() -> P>,
}

/// The transmit half of a [`Tcp`] (after a [`Split`](super::Split)); it
/// shares the connection with the receive half on the same core.
///
/// # Examples
///
/// See the [module docs](self).
pub struct TcpTx<P, C>(Tcp<P, C>);

/// The receive half of a [`Tcp`] (after a [`Split`](super::Split)).
///
/// # Examples
///
/// See the [module docs](self).
pub struct TcpRx<P, C>(Tcp<P, C>);

fn io_err(e: std::io::Error) -> Error {
    use std::io::ErrorKind::*;
    match e.kind() {
        ConnectionReset | ConnectionAborted | BrokenPipe | NotConnected | UnexpectedEof => {
            Error::Closed
        }
        _ => Error::Io(e),
    }
}

impl<C> Shared<C> {
    /// Reads until `f` finds what it wants in `rbuf`.
    fn poll_read<R>(
        &mut self,
        cx: &mut Context<'_>,
        mut f: impl FnMut(&mut Self) -> Result<Option<R>, Error>,
    ) -> Poll<Result<R, Error>> {
        loop {
            match f(self) {
                Ok(Some(r)) => {
                    self.sleep = None;
                    return Poll::Ready(Ok(r));
                }
                Ok(None) => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
            if self.rbuf.len() > self.max_frame {
                return Poll::Ready(Err(Error::Malformed("a frame longer than max_frame")));
            }
            if self.eof {
                return Poll::Ready(Err(if self.rbuf.is_empty() {
                    Error::Closed
                } else {
                    Error::Malformed("the connection closed in the middle of a frame")
                }));
            }
            match self.stream.poll_recv(cx) {
                Poll::Ready(Ok(Some(chunk))) => self.rbuf.extend_from_slice(&chunk),
                Poll::Ready(Ok(None)) => self.eof = true,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(io_err(e))),
                Poll::Pending => {
                    if let Some(t) = self.read_timeout {
                        if self.sleep.is_none() {
                            self.sleep = crate::sched::try_sleep(t).ok();
                        }
                        if let Some(s) = self.sleep.as_mut() {
                            if Pin::new(s).poll(cx).is_ready() {
                                self.sleep = None;
                                return Poll::Ready(Err(Error::Timeout));
                            }
                        }
                    }
                    return Poll::Pending;
                }
            }
        }
    }

    /// Sends a pending abort once the send in flight is done.
    fn push_abort(&mut self, cx: &mut Context<'_>) {
        if self.abort.is_some() && self.stream.poll_flush(cx).is_ready() {
            if let Some(frame) = self.abort.take() {
                let _ = self.stream.start_send(frame);
            }
        }
    }

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        match self.stream.poll_flush(cx) {
            Poll::Ready(r) => {
                self.wsleep = None;
                Poll::Ready(r.map_err(io_err))
            }
            Poll::Pending => {
                if let Some(t) = self.write_timeout {
                    if self.wsleep.is_none() {
                        self.wsleep = crate::sched::try_sleep(t).ok();
                    }
                    if let Some(s) = self.wsleep.as_mut() {
                        if Pin::new(s).poll(cx).is_ready() {
                            self.wsleep = None;
                            return Poll::Ready(Err(Error::Timeout));
                        }
                    }
                }
                Poll::Pending
            }
        }
    }

    fn start_send<P>(&mut self, label: u8, p: P) -> Result<(), Error>
    where
        C: Codec<P>,
    {
        // Whatever an earlier encode that failed or panicked left behind
        // is not a frame.
        self.wbuf.clear();
        self.codec.encode(label, p, &mut self.wbuf)?;
        let frame = self.wbuf.split().freeze();
        self.stream.start_send(frame).map_err(io_err)
    }

    fn abort<P>(&mut self)
    where
        C: Codec<P>,
    {
        // The abort goes out alone: not behind the partial frame of an
        // encode that failed (or panicked), which the peer would read
        // as malformed.
        self.wbuf.clear();
        self.codec.encode_abort(&mut self.wbuf);
        let frame = self.wbuf.split().freeze();
        if frame.is_empty() {
            return; // the format has no abort frame
        }
        // A finished send is reaped here (its completion waits for a
        // poll); one still in flight makes the abort wait for it (see
        // `Shared::abort`).
        let mut cx = Context::from_waker(core::task::Waker::noop());
        match self.stream.poll_flush(&mut cx) {
            Poll::Ready(Ok(())) => {
                let _ = self.stream.start_send(frame);
            }
            Poll::Ready(Err(_)) => {} // the connection failed: nothing to say
            Poll::Pending => self.abort = Some(frame),
        }
    }
}

impl<P, C: Codec<P> + 'static> Tcp<P, C> {
    fn new(stream: TcpStream, codec: C, cfg: &Config) -> Self {
        Tcp {
            sh: Rc::new(RefCell::new(Shared {
                stream,
                codec,
                rbuf: BytesMut::with_capacity(4096),
                wbuf: BytesMut::with_capacity(4096),
                max_frame: cfg.max_frame,
                read_timeout: cfg.read_timeout,
                write_timeout: cfg.write_timeout,
                sleep: None,
                wsleep: None,
                abort: None,
                eof: false,
            })),
            _p: PhantomData,
        }
    }

    fn recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<(u8, P), Error>> {
        self.sh
            .borrow_mut()
            .poll_read(cx, |sh| sh.codec.decode(&mut sh.rbuf))
    }
}

impl<P, C: Codec<P> + 'static> Endpoint for Tcp<P, C> {
    type Payload = P;
    fn abort(&mut self) {
        let pending = {
            let mut sh = self.sh.borrow_mut();
            sh.abort::<P>();
            sh.abort.is_some()
        };
        if pending {
            // A send is in flight: a small task on this core sends the
            // abort once it is done, for up to ABORT_GRACE (a peer that
            // reads nothing never needs it), whether or not anyone polls
            // the receive half. It holds the connection until then.
            let sh = self.sh.clone();
            let _ = crate::sched::try_spawn_local(crate::sched::Priority::Normal, async move {
                let flushed = poll_fn(|cx| {
                    let mut s = sh.borrow_mut();
                    s.push_abort(cx);
                    if s.abort.is_none() {
                        Poll::Ready(())
                    } else {
                        Poll::Pending
                    }
                });
                if let Ok(t) = crate::sched::try_timeout(ABORT_GRACE, flushed) {
                    let _ = t.await;
                }
            });
        }
    }
}

/// How long a dropped endpoint's abort waits for the send in flight.
const ABORT_GRACE: Duration = Duration::from_secs(10);
impl<P, C: Codec<P> + 'static> Sender for Tcp<P, C> {
    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.sh.borrow_mut().poll_ready(cx)
    }
    #[inline]
    fn start_send(&mut self, label: u8, payload: P) -> Result<(), Error> {
        self.sh.borrow_mut().start_send(label, payload)
    }
    fn begin_send(&mut self) {
        self.sh.borrow_mut().wsleep = None;
    }
}
impl<P, C: Codec<P> + 'static> Receiver for Tcp<P, C> {
    #[inline]
    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<(u8, P), Error>> {
        self.recv(cx)
    }
    fn begin_recv(&mut self) {
        self.sh.borrow_mut().sleep = None;
    }
}
impl<P, C: Codec<P> + 'static> SplitTransport for Tcp<P, C> {
    type Tx = TcpTx<P, C>;
    type Rx = TcpRx<P, C>;
    fn split(self) -> (TcpTx<P, C>, TcpRx<P, C>) {
        let rx = Tcp {
            sh: self.sh.clone(),
            _p: PhantomData,
        };
        (TcpTx(self), TcpRx(rx))
    }
}

impl<P, C: Codec<P> + 'static> Endpoint for TcpTx<P, C> {
    type Payload = P;
    fn abort(&mut self) {
        self.0.abort();
    }
}
impl<P, C: Codec<P> + 'static> Sender for TcpTx<P, C> {
    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.0.poll_ready(cx)
    }
    #[inline]
    fn start_send(&mut self, label: u8, payload: P) -> Result<(), Error> {
        self.0.start_send(label, payload)
    }
    fn begin_send(&mut self) {
        self.0.begin_send();
    }
}
impl<P, C: Codec<P> + 'static> Endpoint for TcpRx<P, C> {
    type Payload = P;
    // The receive half cannot send: its abort is the connection closing
    // once the transmit half is gone too.
}
impl<P, C: Codec<P> + 'static> Receiver for TcpRx<P, C> {
    #[inline]
    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<(u8, P), Error>> {
        self.0.recv(cx)
    }
    fn begin_recv(&mut self) {
        self.0.begin_recv();
    }
}

const MAGIC: [u8; 4] = *b"CLS1";
const VERSION: u16 = 1;
const PREAMBLE: usize = 16;
const INITIATOR: u8 = 0;
const ACCEPTOR: u8 = 1;

fn preamble(role: u8, fp: u64) -> [u8; PREAMBLE] {
    let mut b = [0u8; PREAMBLE];
    b[..4].copy_from_slice(&MAGIC);
    b[4..6].copy_from_slice(&VERSION.to_le_bytes());
    b[6] = role;
    b[8..].copy_from_slice(&fp.to_le_bytes());
    b
}

/// The peer's fingerprint if its preamble is well formed and from `role`.
fn parse(b: &[u8], role: u8) -> Option<u64> {
    if b[..4] != MAGIC || b[4..6] != VERSION.to_le_bytes() || b[6] != role {
        return None;
    }
    let mut fp = [0u8; 8];
    fp.copy_from_slice(&b[8..16]);
    Some(u64::from_le_bytes(fp))
}

async fn read_exact<C>(
    sh: &RefCell<Shared<C>>,
    n: usize,
    deadline: Instant,
) -> Result<Vec<u8>, Error> {
    let sleep = crate::sched::try_sleep_until(deadline).map_err(|_| {
        Error::Io(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "a TCP session needs a corelane::sched runtime with io",
        ))
    })?;
    let mut sleep = core::pin::pin!(sleep);
    poll_fn(|cx| {
        let r = sh.borrow_mut().poll_read(cx, |s| {
            Ok((s.rbuf.len() >= n).then(|| s.rbuf.split_to(n).to_vec()))
        });
        match r {
            Poll::Ready(r) => Poll::Ready(r),
            Poll::Pending => sleep.as_mut().poll(cx).map(|()| Err(Error::Timeout)),
        }
    })
    .await
}

async fn write_now<C>(sh: &RefCell<Shared<C>>, bytes: &[u8]) -> Result<(), Error> {
    poll_fn(|cx| sh.borrow_mut().poll_ready(cx)).await?;
    let mut s = sh.borrow_mut();
    s.wbuf.put_slice(bytes);
    let frame = s.wbuf.split().freeze();
    s.stream.start_send(frame).map_err(io_err)
}

/// Opens a session as the initiator: sends the fingerprint of `S`, and
/// returns the endpoint once the acceptor has checked that its own type is
/// the dual of `S` and said so.
///
/// # Errors
///
/// [`Error::Refused`] if the acceptor refused (or speaks something else),
/// [`Error::Timeout`] after [`Config::handshake_timeout`],
/// [`Error::Closed`] / [`Error::Io`] if the connection failed.
///
/// # Examples
///
/// See the [module docs](self).
pub async fn connect<S, P, C>(
    stream: TcpStream,
    codec: C,
    cfg: &Config,
) -> Result<Chan<S, Tcp<P, C>>, Error>
where
    S: Fingerprint,
    S::Dual: Fingerprint,
    C: Codec<P> + 'static,
{
    let tr = Tcp::new(stream, codec, cfg);
    let deadline = super::timed::deadline_after(cfg.handshake_timeout);
    write_now(&tr.sh, &preamble(INITIATOR, S::FINGERPRINT)).await?;
    let reply = read_exact(&tr.sh, PREAMBLE + 1, deadline).await?;
    let expected = <S::Dual as Fingerprint>::FINGERPRINT;
    match parse(&reply, ACCEPTOR) {
        Some(fp) if fp == expected && reply[PREAMBLE] == 1 => Ok(new_chan(tr)),
        Some(fp) => Err(Error::Refused { expected, got: fp }),
        None => Err(Error::Refused { expected, got: 0 }),
    }
}

/// Opens a session as the acceptor: reads the initiator's fingerprint,
/// refuses (and closes) unless it is the one of the dual of `S`, and
/// returns the endpoint after saying yes.
///
/// # Errors
///
/// [`Error::Refused`] for a peer whose protocol is not the dual of `S` (or
/// whose preamble is not ours), [`Error::Timeout`] after
/// [`Config::handshake_timeout`], [`Error::Closed`] / [`Error::Io`].
///
/// # Examples
///
/// ```no_run
/// use corelane::{io, sched::{self, Priority, Runtime}};
/// use corelane::session::{self, codec::Framed, tcp, End, Recv, Send};
///
/// type Server = Recv<u64, Send<u64, End>>;
/// let rt = Runtime::builder().io(io::Config::default()).build()?;
/// rt.block_on(async {
///     sched::spawn_local(Priority::Normal, async {
///         let mut l = io::TcpListener::bind("127.0.0.1:7000".parse().unwrap())?;
///         let s = l.accept().await?;
///         let c = tcp::accept::<Server, u64, _>(s, Framed::pod(1024), &tcp::Config::new()).await?;
///         let (v, c) = c.recv().await?;
///         c.send(v + 1).await?.close();
///         Ok::<(), session::Error>(())
///     })
///     .await
/// })??;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub async fn accept<S, P, C>(
    stream: TcpStream,
    codec: C,
    cfg: &Config,
) -> Result<Chan<S, Tcp<P, C>>, Error>
where
    S: Fingerprint,
    S::Dual: Fingerprint,
    C: Codec<P> + 'static,
{
    let tr = Tcp::new(stream, codec, cfg);
    let deadline = super::timed::deadline_after(cfg.handshake_timeout);
    let hello = read_exact(&tr.sh, PREAMBLE, deadline).await?;
    let expected = <S::Dual as Fingerprint>::FINGERPRINT;
    let got = parse(&hello, INITIATOR);
    let ok = got == Some(expected);
    let mut reply = [0u8; PREAMBLE + 1];
    reply[..PREAMBLE].copy_from_slice(&preamble(ACCEPTOR, S::FINGERPRINT));
    reply[PREAMBLE] = ok as u8;
    write_now(&tr.sh, &reply).await?;
    if ok {
        Ok(new_chan(tr))
    } else {
        // The verdict goes out before the close (a dropped stream finishes
        // its queued send first).
        drop(tr);
        Err(Error::Refused {
            expected,
            got: got.unwrap_or(0),
        })
    }
}

/// A session over `stream` without the handshake, for a foreign wire
/// format that has its own (FIX's Logon): the peer's protocol type is not
/// checked, but every frame still is against the current step.
///
/// # Examples
///
/// ```no_run
/// use corelane::{io, sched::{self, Priority, Runtime}};
/// use corelane::session::{self, codec::Framed, tcp, End, Recv};
///
/// let rt = Runtime::builder().io(io::Config::default()).build()?;
/// rt.block_on(async {
///     sched::spawn_local(Priority::Normal, async {
///         let s = io::TcpStream::connect("127.0.0.1:7000".parse().unwrap()).await?;
///         let c = tcp::foreign::<Recv<u64, End>, u64, _>(s, Framed::pod(1024), &tcp::Config::new());
///         let (v, c) = c.recv().await?;
///         c.close();
///         Ok::<u64, session::Error>(v)
///     })
///     .await
/// })??;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn foreign<S, P, C: Codec<P> + 'static>(
    stream: TcpStream,
    codec: C,
    cfg: &Config,
) -> Chan<S, Tcp<P, C>> {
    new_chan(Tcp::new(stream, codec, cfg))
}
