//! The load of `examples/echo_load.rs`: C non-blocking connections on one
//! mio (epoll) poller, closed loop, D messages in flight per connection.
//!
//! Ground rules:
//! - A message is `size` bytes: its sequence number (u64 LE), its send time
//!   (u64 LE, ns since the client's epoch), its connection's id (u32 LE),
//!   then a body cut from a fixed pseudo-random pattern at an offset that
//!   depends on the connection and the sequence number (so a reply from the
//!   wrong message or connection differs). Every reply is compared byte for
//!   byte with the message the connection's send record says it answers; a
//!   reply that differs counts as a mismatch.
//! - TCP keeps order and the server echoes in order, so each connection's
//!   replies arrive in the order of its `inflight` queue.
//! - The clock is read once per readiness event: the replies one read
//!   returns share a receive time, and the messages they trigger share a
//!   send time (they go out in one write).
//! - A round is a window plus a drain: during the window every reply sends
//!   the next message; after it nothing new is sent and the replies still in
//!   flight are awaited (checked, not counted), so the next round starts
//!   with every connection idle.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use mio::{Events, Interest, Poll, Token};

/// Sequence number, send time and connection id.
const HEADER: usize = 20;
/// How many distinct bodies the pattern holds.
const PERIOD: usize = 1021;
/// Bytes per read(2).
const READ_CHUNK: usize = 64 * 1024;
/// How long the replies in flight at a window's end may take to arrive.
const DRAIN_LIMIT: Duration = Duration::from_secs(5);

/// What one case asks for.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    /// Connections.
    pub conns: usize,
    /// Bytes per message (at least the 20-byte header).
    pub size: usize,
    /// Messages in flight per connection.
    pub depth: usize,
}

/// What one timed window did.
#[derive(Debug, Default)]
pub struct Tally {
    /// Replies received (and checked) in the window.
    pub done: u64,
    /// Replies that differed from what was sent, window and drain.
    pub mismatches: u64,
    /// The window's length as measured.
    pub elapsed: Duration,
}

/// One connection and its bookkeeping.
struct Conn {
    s: mio::net::TcpStream,
    id: u32,
    next_seq: u64,
    /// (sequence number, send time) of the messages in flight, oldest first.
    inflight: VecDeque<(u64, u64)>,
    /// The reply being received (up to `size` bytes).
    partial: Vec<u8>,
    /// Bytes queued for the socket; `out[out_pos..]` is not written yet.
    out: Vec<u8>,
    out_pos: usize,
}

/// The connections to one server, on their own poller.
pub struct Load {
    poll: Poll,
    events: Events,
    /// The connections the last poll named.
    ready: Vec<usize>,
    conns: Vec<Conn>,
    shape: Shape,
    epoch: Instant,
    scratch: Vec<u8>,
    /// What message bodies are cut from (see [`fill`]).
    pattern: Vec<u8>,
}

/// The byte pattern a message's body is cut from: PERIOD + the body's
/// length of pseudo-random bytes (a fixed xorshift sequence).
fn pattern(body: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..PERIOD + body)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Where message `seq` of connection `conn` cuts its body from the pattern.
fn body_at(conn: u32, seq: u64) -> usize {
    (seq.wrapping_mul(7).wrapping_add(u64::from(conn) * 13) % PERIOD as u64) as usize
}

/// Writes message `seq` of connection `conn`, sent at `ts`, into `msg`.
fn fill(msg: &mut [u8], pattern: &[u8], conn: u32, seq: u64, ts: u64) {
    msg[..8].copy_from_slice(&seq.to_le_bytes());
    msg[8..16].copy_from_slice(&ts.to_le_bytes());
    msg[16..HEADER].copy_from_slice(&conn.to_le_bytes());
    let (at, len) = (body_at(conn, seq), msg.len() - HEADER);
    msg[HEADER..].copy_from_slice(&pattern[at..at + len]);
}

/// Whether `msg` is message `seq` of connection `conn`, sent at `ts`.
fn matches(msg: &[u8], pattern: &[u8], conn: u32, seq: u64, ts: u64) -> bool {
    let at = body_at(conn, seq);
    msg[..8] == seq.to_le_bytes()
        && msg[8..16] == ts.to_le_bytes()
        && msg[16..HEADER] == conn.to_le_bytes()
        && msg[HEADER..] == pattern[at..at + msg.len() - HEADER]
}

impl Load {
    /// Connects `shape.conns` sockets to `addr` (blocking connect, then
    /// non-blocking with `TCP_NODELAY`).
    pub fn connect(addr: SocketAddr, shape: Shape, epoch: Instant) -> io::Result<Load> {
        assert!(shape.size >= HEADER, "a message holds at least its header");
        let poll = Poll::new()?;
        let mut conns = Vec::with_capacity(shape.conns);
        for id in 0..shape.conns {
            let s = std::net::TcpStream::connect(addr)?;
            s.set_nodelay(true)?;
            s.set_nonblocking(true)?;
            let mut s = mio::net::TcpStream::from_std(s);
            let interest = Interest::READABLE | Interest::WRITABLE;
            poll.registry().register(&mut s, Token(id), interest)?;
            conns.push(Conn {
                s,
                id: id as u32,
                next_seq: 0,
                inflight: VecDeque::with_capacity(shape.depth),
                partial: Vec::with_capacity(shape.size),
                out: Vec::with_capacity(shape.size * shape.depth),
                out_pos: 0,
            });
        }
        Ok(Load {
            poll,
            events: Events::with_capacity(1024),
            ready: Vec::with_capacity(1024),
            conns,
            shape,
            epoch,
            scratch: vec![0; READ_CHUNK],
            pattern: pattern(shape.size - HEADER),
        })
    }

    fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    /// One window of `len`: every connection starts `depth` messages, each
    /// reply sends the next; replies' round trips go to `hist` (ns).
    /// Call [`Load::drain`] before the next window.
    pub fn window(&mut self, len: Duration, hist: &mut Histogram<u64>) -> io::Result<Tally> {
        let start = Instant::now();
        let end = start + len;
        let ts = self.now_ns();
        for c in &mut self.conns {
            for _ in 0..self.shape.depth {
                queue(c, &self.pattern, self.shape.size, ts);
            }
            flush(c)?;
        }
        let mut tally = Tally::default();
        loop {
            let now = Instant::now();
            if now >= end {
                break;
            }
            self.poll_once(Some(end - now), true, &mut tally, Some(hist))?;
        }
        tally.elapsed = start.elapsed();
        Ok(tally)
    }

    /// Waits for every reply still in flight (checked, not counted; no new
    /// message is sent); adds their mismatches to `tally`.
    pub fn drain(&mut self, tally: &mut Tally) -> io::Result<()> {
        let limit = Instant::now() + DRAIN_LIMIT;
        let mut ignored = Tally::default();
        while self.in_flight() > 0 {
            let now = Instant::now();
            if now >= limit {
                return Err(io::Error::other(format!(
                    "{} replies still in flight {DRAIN_LIMIT:?} after the window",
                    self.in_flight()
                )));
            }
            self.poll_once(Some(limit - now), false, &mut ignored, None)?;
        }
        tally.mismatches += ignored.mismatches;
        Ok(())
    }

    fn in_flight(&self) -> usize {
        self.conns.iter().map(|c| c.inflight.len()).sum()
    }

    /// One poll(2) and the events it returns.
    fn poll_once(
        &mut self,
        timeout: Option<Duration>,
        sending: bool,
        tally: &mut Tally,
        mut hist: Option<&mut Histogram<u64>>,
    ) -> io::Result<()> {
        match self.poll.poll(&mut self.events, timeout) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(()),
            other => other?,
        }
        self.ready.clear();
        self.ready.extend(self.events.iter().map(|e| e.token().0));
        for k in 0..self.ready.len() {
            self.service(self.ready[k], sending, tally, hist.as_deref_mut())?;
        }
        Ok(())
    }

    /// Reads connection `i` until it would block, checks each whole reply,
    /// answers it with the next message while `sending`, then writes.
    fn service(
        &mut self,
        i: usize,
        sending: bool,
        tally: &mut Tally,
        mut hist: Option<&mut Histogram<u64>>,
    ) -> io::Result<()> {
        let now = self.now_ns();
        let size = self.shape.size;
        let c = &mut self.conns[i];
        loop {
            let n = match c.s.read(&mut self.scratch) {
                Ok(0) => return Err(io::Error::other("the server closed a connection")),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            let mut got = &self.scratch[..n];
            while !got.is_empty() {
                let take = (size - c.partial.len()).min(got.len());
                c.partial.extend_from_slice(&got[..take]);
                got = &got[take..];
                if c.partial.len() < size {
                    break;
                }
                let Some((seq, ts)) = c.inflight.pop_front() else {
                    return Err(io::Error::other("a reply to nothing sent"));
                };
                if !matches(&c.partial, &self.pattern, c.id, seq, ts) {
                    tally.mismatches += 1;
                }
                c.partial.clear();
                tally.done += 1;
                if let Some(h) = hist.as_deref_mut() {
                    h.saturating_record(now.saturating_sub(ts).max(1));
                }
                if sending {
                    queue(c, &self.pattern, size, now);
                }
            }
        }
        flush(c)
    }
}

/// Appends connection `c`'s next message, sent at `ts`, to its output.
fn queue(c: &mut Conn, pattern: &[u8], size: usize, ts: u64) {
    let seq = c.next_seq;
    c.next_seq += 1;
    let at = c.out.len();
    c.out.resize(at + size, 0);
    fill(&mut c.out[at..], pattern, c.id, seq, ts);
    c.inflight.push_back((seq, ts));
}

/// Writes `c`'s queued output until done or the socket would block.
fn flush(c: &mut Conn) -> io::Result<()> {
    while c.out_pos < c.out.len() {
        match c.s.write(&c.out[c.out_pos..]) {
            Ok(0) => return Err(io::Error::other("the server stopped reading")),
            Ok(n) => c.out_pos += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    c.out.clear();
    c.out_pos = 0;
    Ok(())
}

/// A histogram of round trips in ns (1 ns to 60 s, 3 significant digits).
pub fn rtt_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("valid histogram bounds")
}
