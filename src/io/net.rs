//! TCP over the core's ring: [`TcpListener`] (multishot accept) and
//! [`TcpStream`] (multishot recv into the buffer ring, one send at a time;
//! its vectored send is in `vectored`).

mod sock;
mod vectored;

use super::driver::{Deferred, Event, Inner, Key, Kind, Mem, Target};
use super::{current, Unavailable};
use bytes::Bytes;
use io_uring::{opcode, types};
pub(crate) use sock::{listen_socket, local_addr};
use sock::{setsockopt_int, sockaddr, socket};
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, IntoRawFd, OwnedFd, RawFd};
use std::rc::Rc;
use std::task::{Context, Poll};

macro_rules! on_target {
    ($t:expr, |$fd:ident| $e:expr) => {
        match $t {
            Target::Fd(raw) => {
                let $fd = types::Fd(raw);
                $e
            }
            Target::Fixed(i) => {
                let $fd = types::Fixed(i);
                $e
            }
        }
    };
}

fn errno(res: i32) -> io::Error {
    io::Error::from_raw_os_error(-res)
}

/// An op awaiting its single completion; dropping it before then cancels
/// the op (its memory stays with the driver until the kernel is done).
struct Op<'a> {
    inner: &'a Inner,
    key: Option<Key>,
}

impl std::future::Future for Op<'_> {
    type Output = (i32, Mem);

    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<(i32, Mem)> {
        let key = self.key.expect("polled after completion");
        let r = self.inner.with(|d| d.poll_result(key, cx));
        if r.is_ready() {
            self.key = None;
        }
        r
    }
}

impl Drop for Op<'_> {
    fn drop(&mut self) {
        if let Some(k) = self.key.take() {
            self.inner.or_defer(Deferred::Release(k));
        }
    }
}

/// A listening socket whose connections arrive through one multishot
/// accept on the current core's ring (into direct descriptors when the
/// ring has a file table).
///
/// Made on a core of a [`Runtime`](crate::sched::Runtime) with io; it
/// stays on that core (`!Send`).
///
/// ```no_run
/// use corelane::{io, sched::{self, Priority, Runtime}};
///
/// let rt = Runtime::builder().build()?;
/// rt.block_on(async {
///     // `!Send`: made and used inside a local task on one core.
///     sched::spawn_local(Priority::Normal, async {
///         let mut l = io::TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
///         println!("listening on {}", l.local_addr()?);
///         let mut s = l.accept().await?;
///         while let Some(b) = s.recv().await? {
///             s.send(b).await?;
///         }
///         Ok::<(), std::io::Error>(())
///     })
///     .await
/// })??;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct TcpListener {
    inner: Rc<Inner>,
    /// `Some` until `Drop` takes it to close it through the ring.
    fd: Option<OwnedFd>,
    accept: Option<Key>,
}

impl TcpListener {
    /// Binds `addr` (`SO_REUSEPORT`, `TCP_NODELAY` on accepted
    /// connections) on the current core. Fails with an `Unsupported`
    /// error wrapping [`Unavailable`] off a runtime core with io.
    ///
    /// # Examples
    ///
    /// See [`TcpListener`].
    pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
        let inner = current()?;
        let fd = listen_socket(&addr, true, 4096)?;
        Ok(TcpListener {
            inner,
            fd: Some(fd),
            accept: None,
        })
    }

    /// Takes over a listening socket made elsewhere (it must be listening).
    ///
    /// # Examples
    ///
    /// See [`TcpListener`].
    pub fn from_owned_fd(fd: OwnedFd) -> io::Result<TcpListener> {
        Ok(TcpListener {
            inner: current()?,
            fd: Some(fd),
            accept: None,
        })
    }

    fn raw(&self) -> RawFd {
        self.fd.as_ref().map_or(-1, |f| f.as_raw_fd())
    }

    /// The bound address.
    ///
    /// # Examples
    ///
    /// See [`TcpListener`].
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        local_addr(self.raw())
    }

    /// The next connection. Cancel safe: a connection accepted while no
    /// `accept` future was waiting is kept for the next call.
    ///
    /// # Examples
    ///
    /// See [`TcpListener`].
    pub async fn accept(&mut self) -> io::Result<TcpStream> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<TcpStream>> {
        let inner = self.inner.clone();
        inner.with(|d| loop {
            let key = match self.accept {
                Some(k) => k,
                None => {
                    let fd = self.raw();
                    let direct = d.direct;
                    let k = d.submit(Kind::AcceptMulti, Mem::None, |_| {
                        opcode::AcceptMulti::new(types::Fd(fd))
                            .allocate_file_index(direct)
                            // (CLOEXEC is refused for direct descriptors,
                            // which are not in the fd table anyway.)
                            .flags(if direct { 0 } else { libc::SOCK_CLOEXEC })
                            .build()
                    });
                    self.accept = Some(k);
                    k
                }
            };
            match d.poll_event(key, cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => {
                    // Multishot ended (an error was delivered, or the
                    // kernel stopped it): arm again.
                    d.release(key);
                    self.accept = None;
                }
                Poll::Ready(Some(Event::Res(r))) if r >= 0 => {
                    let target = if d.direct {
                        Target::Fixed(r as u32)
                    } else {
                        Target::Fd(r)
                    };
                    return Poll::Ready(Ok(TcpStream::new(self.inner.clone(), target)));
                }
                // A connection that died in the backlog: next.
                Poll::Ready(Some(Event::Res(r))) if r == -libc::ECONNABORTED => {}
                Poll::Ready(Some(Event::Res(r))) => return Poll::Ready(Err(errno(r))),
                Poll::Ready(Some(Event::Data(_))) => {}
            }
        })
    }
}

impl Drop for TcpListener {
    fn drop(&mut self) {
        if let Some(k) = self.accept.take() {
            self.inner.or_defer(Deferred::Release(k));
        }
        // Closed through the ring, after the cancel: a plain close now
        // would let a queued accept reach whatever reuses the number.
        if let Some(fd) = self.fd.take() {
            let fd = fd.into_raw_fd();
            self.inner.or_defer(Deferred::Close(Target::Fd(fd)));
        }
    }
}

impl std::fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpListener")
            .field("fd", &self.raw())
            .finish()
    }
}

/// A TCP connection driven by the current core's ring.
///
/// - [`recv`](TcpStream::recv) returns the next received chunk as
///   [`Bytes`] lent from the core's buffer ring: no copy; the buffer goes
///   back to the kernel once the last clone of it has dropped, on any
///   thread (at the core's next reclaim scan). One multishot receive stays
///   armed, so data keeps arriving between calls, up to
///   [`Config::recv_budget`](super::Config::recv_budget) chunks (then it
///   pauses until the stream is read; the rest waits in the socket).
/// - [`send`](TcpStream::send) sends a whole `Bytes` (short sends are
///   resumed), [`send_vectored`](TcpStream::send_vectored) a batch of them
///   in one op (no copy), [`write_all`](TcpStream::write_all) a borrowed
///   slice (copied into a pooled buffer). One send at a time (`&mut
///   self`): writes never interleave.
/// - Dropping the stream cancels its receive and closes it through the
///   ring; a queued send is not cancelled: it goes out first (for up to
///   [`Config::send_grace`](super::Config::send_grace)) and the close
///   follows it.
///
/// `!Send`: it belongs to the core whose ring serves it (use
/// [`spawn_local`](crate::sched::spawn_local) or a handler of
/// [`Server`](super::Server)).
///
/// # Examples
///
/// A request/reply client (a local task: streams are `!Send`):
///
/// ```no_run
/// use corelane::{io, sched::{self, Priority, Runtime}};
///
/// let rt = Runtime::builder().build()?;
/// let reply = rt.block_on(async {
///     sched::spawn_local(Priority::High, async {
///         let mut s = io::TcpStream::connect("127.0.0.1:7000".parse().unwrap()).await?;
///         s.write_all(b"35=D|11=42|").await?; // queued; the ring owns a copy
///         let mut got = Vec::new();
///         while let Some(chunk) = s.recv().await? {
///             got.extend_from_slice(&chunk); // `chunk` is lent, no copy
///             if got.ends_with(b"|") {
///                 break;
///             }
///         }
///         s.close().await?; // waits for the send, then closes via the ring
///         Ok::<_, std::io::Error>(got)
///     })
///     .await
/// })??;
/// # let _ = reply;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct TcpStream {
    inner: Rc<Inner>,
    target: Option<Target>,
    recv: Option<Key>,
    /// The send in flight (at most one).
    send: Option<Key>,
    eof: bool,
    starved: bool,
}

impl TcpStream {
    pub(crate) fn new(inner: Rc<Inner>, target: Target) -> TcpStream {
        TcpStream {
            inner,
            target: Some(target),
            recv: None,
            send: None,
            eof: false,
            starved: false,
        }
    }

    fn target(&self) -> io::Result<Target> {
        self.target
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotConnected))
    }

    /// Connects to `addr` through the ring (`TCP_NODELAY` set).
    ///
    /// ```no_run
    /// # use corelane::{io, sched::{self, Priority, Runtime}};
    /// # let rt = Runtime::builder().build()?;
    /// rt.block_on(async {
    ///     sched::spawn_local(Priority::Normal, async {
    ///         let mut s = io::TcpStream::connect("127.0.0.1:7000".parse().unwrap()).await?;
    ///         s.write_all(b"ping").await?;
    ///         let reply = s.recv().await?;
    ///         Ok::<_, std::io::Error>(reply)
    ///     })
    ///     .await
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
        let inner = current()?;
        let fd = socket(&addr)?;
        setsockopt_int(fd.as_raw_fd(), libc::IPPROTO_TCP, libc::TCP_NODELAY, 1)?;
        let raw = fd.as_raw_fd();
        // The socket lives in the op's memory: a dropped connect closes it
        // only after its terminal completion (a plain close now would let
        // the queued connect reach whatever socket reuses the number).
        let key = inner.with(|d| {
            d.submit(
                Kind::Connect,
                Mem::Connect(Box::new(sockaddr(&addr)), fd),
                |m| {
                    let Mem::Connect(a, _) = m else {
                        unreachable!("connect owns an address")
                    };
                    opcode::Connect::new(
                        types::Fd(raw),
                        (&a.0 as *const libc::sockaddr_storage).cast(),
                        a.1,
                    )
                    .build()
                },
            )
        });
        let (res, mem) = Op {
            inner: &inner,
            key: Some(key),
        }
        .await;
        let Mem::Connect(_, fd) = mem else {
            return Err(io::Error::other("connect lost its socket"));
        };
        if res < 0 {
            return Err(errno(res));
        }
        Ok(TcpStream::new(inner.clone(), Target::Fd(fd.into_raw_fd())))
    }

    /// The next chunk of received data; `Ok(None)` once the peer has
    /// closed its side and everything before was returned; the error of a
    /// failed queued send (a reset may be reported only there). Cancel
    /// safe: data received while no `recv` future was waiting is kept.
    ///
    /// # Examples
    ///
    /// See [`TcpStream`].
    pub async fn recv(&mut self) -> io::Result<Option<Bytes>> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// The poll form of [`recv`](TcpStream::recv).
    ///
    /// # Examples
    ///
    /// See [`TcpStream`].
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Option<Bytes>>> {
        if self.eof {
            return Poll::Ready(Ok(None));
        }
        let target = match self.target() {
            Ok(t) => t,
            Err(e) => return Poll::Ready(Err(e)),
        };
        let inner = self.inner.clone();
        // Instead of waiting: a reset can surface only in the queued send
        // (its error is consumed there), so report that rather than wait
        // for data that will never come. Data already received goes first.
        let pending = |this: &mut Self, d: &mut super::driver::Driver, cx: &mut Context<'_>| {
            if let Some(res) = this.send.and_then(|k| d.send_status(k, cx)) {
                this.send = None;
                if res < 0 {
                    return Poll::Ready(Err(errno(res)));
                }
            }
            Poll::Pending
        };
        inner.with(|d| loop {
            let key = match self.recv {
                Some(k) => k,
                None => {
                    if self.starved {
                        if d.buffers_available() == 0 {
                            d.starve(cx.waker());
                            return pending(self, d, cx);
                        }
                        self.starved = false;
                    }
                    match d.arm_recv(target) {
                        Ok(k) => {
                            self.recv = Some(k);
                            k
                        }
                        Err(e) => return Poll::Ready(Err(e)),
                    }
                }
            };
            match d.poll_event(key, cx) {
                Poll::Pending => return pending(self, d, cx),
                Poll::Ready(Some(Event::Data(b))) => return Poll::Ready(Ok(Some(b))),
                Poll::Ready(Some(Event::Res(0))) => {
                    self.eof = true;
                    d.release(key);
                    self.recv = None;
                    return Poll::Ready(Ok(None));
                }
                Poll::Ready(Some(Event::Res(r))) if r == -libc::ENOBUFS => {
                    // The multishot ended for want of buffers; the data is
                    // still in the socket. Re-armed once buffers return.
                    self.starved = true;
                }
                Poll::Ready(Some(Event::Res(r))) if r > 0 => {}
                Poll::Ready(Some(Event::Res(r))) => {
                    d.release(key);
                    self.recv = None;
                    return Poll::Ready(Err(errno(r)));
                }
                Poll::Ready(None) => {
                    // Ended (ENOBUFS, or the kernel stopped it): re-arm.
                    d.release(key);
                    self.recv = None;
                }
            }
        })
    }

    /// Queues all of `data` for sending and returns; the ring owns the
    /// bytes until the kernel has taken them (short sends are resumed by
    /// the driver). At most one send is in flight per stream: a second
    /// `send` first waits for the previous one. `send` only queues:
    /// [`flush`](TcpStream::flush) waits for the bytes to be taken. A
    /// failed send is reported once, to the first call that looks: the
    /// next `send`, `flush`, `shutdown`, `close`, or a `recv` with nothing
    /// to return. Dropping the stream lets a queued send finish before
    /// the close, for up to [`Config::send_grace`](super::Config::send_grace).
    ///
    /// # Examples
    ///
    /// See [`TcpStream`].
    pub async fn send(&mut self, data: Bytes) -> io::Result<()> {
        self.send_mem(Mem::Send(data)).await
    }

    /// [`send`](TcpStream::send) of a borrowed slice, copied into a pooled
    /// buffer first (no allocation once the pool is warm).
    ///
    /// # Examples
    ///
    /// See [`TcpStream`].
    pub async fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        self.flush().await?;
        let mut v = self.inner.with(|d| d.copy_buf());
        v.extend_from_slice(data);
        self.send_mem(Mem::Copy(v)).await
    }

    async fn send_mem(&mut self, mem: Mem) -> io::Result<()> {
        self.flush().await?;
        let target = self.target()?;
        if mem.bytes().is_empty() {
            self.inner.with(|d| d.recycle_mem(mem));
            return Ok(());
        }
        self.send = Some(self.inner.with(|d| d.submit_send(target, mem)));
        Ok(())
    }

    /// Queues `data` for sending without waiting, like
    /// [`send`](TcpStream::send) once [`poll_flush`](TcpStream::poll_flush)
    /// has returned `Ready(Ok)`: the poll form for transports that share a
    /// stream between a sending and a receiving half.
    ///
    /// # Errors
    ///
    /// `WouldBlock` (with nothing queued) if a send is still in flight;
    /// `NotConnected` after [`close`](TcpStream::close).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # use corelane::{io, sched::{self, Priority, Runtime}};
    /// # use std::future::poll_fn;
    /// # let rt = Runtime::builder().io(io::Config::default()).build()?;
    /// rt.block_on(async {
    ///     sched::spawn_local(Priority::Normal, async {
    ///         let mut s = io::TcpStream::connect("127.0.0.1:7000".parse().unwrap()).await?;
    ///         poll_fn(|cx| s.poll_flush(cx)).await?; // nothing in flight
    ///         s.start_send(bytes::Bytes::from_static(b"ping"))?;
    ///         s.flush().await
    ///     })
    ///     .await
    /// })??;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn start_send(&mut self, data: Bytes) -> io::Result<()> {
        if self.send.is_some() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let target = self.target()?;
        if data.is_empty() {
            return Ok(());
        }
        self.send = Some(self.inner.with(|d| d.submit_send(target, Mem::Send(data))));
        Ok(())
    }

    /// Waits until the last queued send has been taken by the kernel;
    /// its failure, if it failed. Cancel safe (the send carries on).
    ///
    /// # Examples
    ///
    /// See [`TcpStream`].
    pub async fn flush(&mut self) -> io::Result<()> {
        poll_fn(|cx| self.poll_flush(cx)).await
    }

    /// The poll form of [`flush`](TcpStream::flush), for hand-written
    /// futures and transports: `Ready` once no send is in flight (with the
    /// last one's failure, if it failed), else `Pending` with the task's
    /// waker registered for its completion. After `Ready(Ok)`,
    /// [`start_send`](TcpStream::start_send) queues without waiting.
    ///
    /// # Examples
    ///
    /// See [`start_send`](TcpStream::start_send).
    pub fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let Some(key) = self.send else {
            return Poll::Ready(Ok(()));
        };
        let inner = self.inner.clone();
        inner.with(|d| match d.poll_result(key, cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready((res, mem)) => {
                self.send = None;
                d.recycle_mem(mem);
                Poll::Ready(if res < 0 { Err(errno(res)) } else { Ok(()) })
            }
        })
    }

    /// Shuts down the read side, the write side or both (the write side
    /// after the queued send has gone out; if that send failed, its error
    /// is returned and nothing is shut down).
    ///
    /// # Examples
    ///
    /// See [`TcpStream`].
    pub async fn shutdown(&mut self, how: std::net::Shutdown) -> io::Result<()> {
        if how != std::net::Shutdown::Read {
            // The queued send goes out first (and its failure is ours).
            self.flush().await?;
        }
        let target = self.target()?;
        let how = match how {
            std::net::Shutdown::Read => libc::SHUT_RD,
            std::net::Shutdown::Write => libc::SHUT_WR,
            std::net::Shutdown::Both => libc::SHUT_RDWR,
        };
        let key = self.inner.with(|d| {
            d.submit(Kind::Shutdown, Mem::None, |_| {
                on_target!(target, |fd| opcode::Shutdown::new(fd, how).build())
            })
        });
        self.finish(key).await
    }

    /// Awaits a single-shot op of this stream: `Ok` or its errno.
    async fn finish(&self, key: Key) -> io::Result<()> {
        let (res, _) = Op {
            inner: &self.inner,
            key: Some(key),
        }
        .await;
        if res < 0 {
            Err(errno(res))
        } else {
            Ok(())
        }
    }

    /// Waits for the last send, then closes the connection through the
    /// ring; the first failure of the two.
    ///
    /// # Examples
    ///
    /// See [`TcpStream`].
    pub async fn close(mut self) -> io::Result<()> {
        let flushed = self.flush().await;
        let target = self.target()?;
        if let Some(k) = self.recv.take() {
            self.inner.with(|d| d.release(k));
        }
        self.target = None;
        let key = self.inner.with(|d| {
            if let Target::Fixed(_) = target {
                d.stats.direct_open = d.stats.direct_open.saturating_sub(1);
            }
            d.submit(Kind::Close, Mem::None, |_| {
                on_target!(target, |fd| opcode::Close::new(fd).build())
            })
        });
        let closed = self.finish(key).await;
        // The flush happened first: its failure is the one reported.
        flushed.and(closed)
    }

    /// Whether this stream uses a direct descriptor (no fd in the process
    /// table: [`as_raw_fd`](TcpStream::as_raw_fd) is `None`).
    ///
    /// # Examples
    ///
    /// See [`TcpStream`].
    pub fn is_direct(&self) -> bool {
        matches!(self.target, Some(Target::Fixed(_)))
    }

    /// The descriptor, unless the stream uses a direct descriptor.
    ///
    /// # Examples
    ///
    /// See [`TcpStream`].
    pub fn as_raw_fd(&self) -> Option<RawFd> {
        match self.target {
            Some(Target::Fd(fd)) => Some(fd),
            _ => None,
        }
    }
}

impl Drop for TcpStream {
    fn drop(&mut self) {
        if let Some(k) = self.recv.take() {
            self.inner.or_defer(Deferred::Release(k));
        }
        match (self.send.take(), self.target.take()) {
            // The send owns the close: it may still resume by descriptor.
            (Some(k), Some(t)) => self.inner.or_defer(Deferred::Detach(k, t)),
            (None, Some(t)) => self.inner.or_defer(Deferred::Close(t)),
            (Some(k), None) => self.inner.or_defer(Deferred::Release(k)),
            (None, None) => {}
        }
    }
}

impl std::fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TcpStream")
            .field("target", &self.target)
            .field("eof", &self.eof)
            .finish()
    }
}

impl From<Unavailable> for io::Error {
    fn from(u: Unavailable) -> io::Error {
        io::Error::new(io::ErrorKind::Unsupported, u)
    }
}
