//! One round of `examples/broker_load.rs` against one broker: P publishers
//! and S subscribers on one mio (epoll) poller on the calling thread.
//!
//! Ground rules:
//! - Subscribers connect first, subscribe to topic 0 with the round's
//!   policy and wait for SUBSCRIBED; only then do the publishers connect
//!   and start, so a block-policy subscriber must see every message.
//! - A payload is `size` bytes: publisher id, sequence number and stamp
//!   (`wire::stamp`), then zeros. The stamp is the time the batch holding
//!   it is written: publish → deliver is measured from the write(2). At a
//!   set rate a publisher writes what is due every `PACE` (one client
//!   core cannot afford a loopback write per message at a million
//!   deliveries a second); a client that falls behind its schedule shows
//!   as a lower published count, not as latency.
//! - A subscriber checks each publisher's sequence numbers: a jump is lost
//!   messages (with a GAP frame covering it under the drop policy), a step
//!   back is a reorder. The clock is read once per read(2): the messages
//!   one read returns share a receive time.
//! - The publishers stop after the window; the round ends when every
//!   subscriber has everything that was published, or nothing arrived for
//!   `QUIET` (a lossy broker dropped the rest), or after `DRAIN_LIMIT`.
//!   Delivered msg/s = messages received by all subscribers / (last
//!   delivery - first publish).

#![allow(dead_code)] // the test uses only part of it

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use mio::{Events, Interest, Poll, Token};

use super::wire::{self, Policy};

/// Bytes per read(2).
const READ_CHUNK: usize = 64 * 1024;
/// Frames a publisher writes per batch at max speed.
const BURST: usize = 256;
/// A lossy round is over when nothing arrived for this long after the
/// publishers stopped.
const QUIET: Duration = Duration::from_millis(300);
/// The longest drain.
const DRAIN_LIMIT: Duration = Duration::from_secs(5);
/// At a set rate, how often a publisher writes what is due.
const PACE: Duration = Duration::from_micros(25);
/// How often every connection sends a HEARTBEAT.
const BEAT: Duration = Duration::from_millis(200);

/// What one round asks for.
#[derive(Clone, Debug)]
pub struct Shape {
    pub publishers: usize,
    pub subscribers: usize,
    /// Payload bytes (at least `wire::STAMP`).
    pub size: usize,
    /// Messages per second per publisher; `None`: as fast as it can.
    pub rate: Option<f64>,
    pub window: Duration,
    pub policy: Policy,
    /// One subscriber with its own policy that stops reading for a while
    /// (the test's slow consumer).
    pub stall: Option<Stall>,
}

/// A subscriber that pauses.
#[derive(Clone, Debug)]
pub struct Stall {
    /// Which subscriber (an index below `subscribers`).
    pub sub: usize,
    pub policy: Policy,
    /// When it stops reading, from the first publish.
    pub after: Duration,
    /// For how long.
    pub pause: Duration,
}

/// One subscriber's account.
#[derive(Clone, Debug, Default)]
pub struct SubTally {
    pub got: u64,
    pub lost: u64,
    pub gapped: u64,
    pub reordered: u64,
}

/// What one round measured.
#[derive(Debug)]
pub struct Tally {
    pub published: u64,
    pub delivered: u64,
    /// Messages a subscriber never got (sequence jumps).
    pub lost: u64,
    /// Of those, announced by GAP frames.
    pub gapped: u64,
    pub reordered: u64,
    /// ERROR frames and unexpected closes, as text.
    pub errors: Vec<String>,
    /// First publish to last delivery.
    pub elapsed: Duration,
    /// Publish -> deliver, ns.
    pub latency: Histogram<u64>,
    pub per_sub: Vec<SubTally>,
}

impl Tally {
    /// Nothing yet.
    pub fn new() -> Tally {
        Tally {
            published: 0,
            delivered: 0,
            lost: 0,
            gapped: 0,
            reordered: 0,
            errors: Vec::new(),
            elapsed: Duration::ZERO,
            latency: Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("valid bounds"),
            per_sub: Vec::new(),
        }
    }

    /// Adds another round's counts and latencies to these (its elapsed
    /// time and per-subscriber accounts are not kept).
    pub fn absorb(&mut self, t: Tally) {
        let _ = self.latency.add(&t.latency);
        self.published += t.published;
        self.delivered += t.delivered;
        self.lost += t.lost;
        self.gapped += t.gapped;
        self.reordered += t.reordered;
        self.errors.extend(t.errors);
    }

    pub fn delivered_per_sec(&self) -> f64 {
        self.delivered as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

struct Link {
    sock: mio::net::TcpStream,
    /// Received bytes: `rbuf[start..end]` is still to parse (allocated
    /// and zeroed once: no memset per read).
    rbuf: Vec<u8>,
    start: usize,
    end: usize,
    wbuf: Vec<u8>,
    wpos: usize,
    writable: bool,
    readable: bool,
    closed: bool,
}

impl Link {
    fn connect(addr: SocketAddr) -> io::Result<Link> {
        let s = loop {
            match std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5)) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other?,
            }
        };
        s.set_nodelay(true)?;
        s.set_nonblocking(true)?;
        Ok(Link {
            sock: mio::net::TcpStream::from_std(s),
            rbuf: vec![0; READ_CHUNK * 4],
            start: 0,
            end: 0,
            wbuf: Vec::with_capacity(READ_CHUNK),
            wpos: 0,
            writable: true,
            readable: true,
            closed: false,
        })
    }

    /// Writes what is queued until the socket takes no more.
    fn flush(&mut self) -> io::Result<()> {
        while self.wpos < self.wbuf.len() && self.writable {
            match self.sock.write(&self.wbuf[self.wpos..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.wpos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.writable = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if self.wpos == self.wbuf.len() {
            self.wbuf.clear();
            self.wpos = 0;
        }
        Ok(())
    }

    fn pending(&self) -> usize {
        self.wbuf.len() - self.wpos
    }

    /// Reads until the socket is dry; whether anything came.
    fn fill(&mut self) -> io::Result<bool> {
        let mut got = false;
        if !self.readable || self.closed {
            return Ok(false);
        }
        loop {
            if self.start == self.end {
                (self.start, self.end) = (0, 0);
            } else if self.rbuf.len() - self.end < READ_CHUNK {
                self.rbuf.copy_within(self.start..self.end, 0);
                (self.start, self.end) = (0, self.end - self.start);
                if self.rbuf.len() - self.end < READ_CHUNK {
                    self.rbuf.resize(self.end + READ_CHUNK * 2, 0);
                }
            }
            let want = self.rbuf.len() - self.end;
            match self.sock.read(&mut self.rbuf[self.end..]) {
                Ok(0) => {
                    self.closed = true;
                    return Ok(got);
                }
                Ok(n) => {
                    self.end += n;
                    got = true;
                    if n < want {
                        // Dry for now: new data raises a new (edge) event.
                        self.readable = false;
                        return Ok(got);
                    }
                }
                Err(e) => match e.kind() {
                    io::ErrorKind::WouldBlock => {
                        self.readable = false;
                        return Ok(got);
                    }
                    io::ErrorKind::Interrupted => {}
                    _ => return Err(e),
                },
            }
        }
    }

    /// The next whole frame: (kind, body).
    fn next(&mut self) -> Result<Option<(u8, std::ops::Range<usize>)>, String> {
        match wire::next_frame(&self.rbuf[self.start..self.end], u32::MAX) {
            Ok(Some((kind, total))) => {
                let body = self.start + wire::HEADER..self.start + total;
                self.start += total;
                Ok(Some((kind, body)))
            }
            Ok(None) => Ok(None),
            Err(e) => Err(format!("bad frame from the broker: {e:?}")),
        }
    }
}

struct Sub {
    link: Link,
    subscribed: bool,
    /// Next sequence number expected from each publisher.
    next: Vec<u64>,
    t: SubTally,
    /// Paused between these instants (the stalled subscriber).
    pause: Option<(Duration, Duration)>,
}

/// Runs one round against the broker at `addr`.
pub fn round(addr: SocketAddr, shape: &Shape) -> io::Result<Tally> {
    let (np, ns) = (shape.publishers, shape.subscribers);
    let size = shape.size.max(wire::STAMP);
    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(256);
    let mut tally = Tally::new();

    let mut subs = Vec::with_capacity(ns);
    for i in 0..ns {
        let mut link = Link::connect(addr)?;
        poll.registry().register(
            &mut link.sock,
            Token(i),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        let stall = shape.stall.as_ref().filter(|s| s.sub == i);
        let policy = stall.map_or(shape.policy, |s| s.policy);
        wire::subscribe(&mut link.wbuf, wire::SUBSCRIBE, 0, policy);
        link.flush()?;
        subs.push(Sub {
            link,
            subscribed: false,
            next: vec![0; np],
            t: SubTally::default(),
            pause: stall.map(|s| (s.after, s.after + s.pause)),
        });
    }
    // Wait for every SUBSCRIBED.
    let deadline = Instant::now() + Duration::from_secs(5);
    while subs.iter().any(|s| !s.subscribed) {
        if Instant::now() > deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "no SUBSCRIBED in 5 s",
            ));
        }
        wait(&mut poll, &mut events, Some(Duration::from_millis(10)))?;
        for s in subs.iter_mut().filter(|s| !s.subscribed) {
            s.link.readable = true;
            s.link.fill()?;
            while let Some((kind, body)) = s.link.next().map_err(io::Error::other)? {
                match kind {
                    wire::SUBSCRIBED => s.subscribed = true,
                    wire::ERROR => return Err(io::Error::other(error_text(&s.link.rbuf[body]))),
                    _ => {}
                }
            }
            if s.link.closed {
                return Err(io::Error::other("the broker closed a subscriber"));
            }
        }
    }

    let mut pubs = Vec::with_capacity(np);
    for i in 0..np {
        let mut link = Link::connect(addr)?;
        poll.registry().register(
            &mut link.sock,
            Token(ns + i),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        pubs.push((link, 0u64, Instant::now()));
    }

    let mut payload = vec![0u8; size];
    let t0 = Instant::now();
    let end = t0 + shape.window;
    let mut last_beat = t0;
    let mut last_delivery = t0;
    let mut publishing = true;
    let mut drain_from = None::<Instant>;
    loop {
        let now = Instant::now();
        if publishing && now >= end {
            publishing = false;
            drain_from = Some(now);
        }
        if now.duration_since(last_beat) >= BEAT {
            last_beat = now;
            for s in &mut subs {
                wire::heartbeat(&mut s.link.wbuf);
            }
            for (p, _, _) in &mut pubs {
                wire::heartbeat(&mut p.wbuf);
            }
        }
        // Publish.
        for (i, (p, seq, last)) in pubs.iter_mut().enumerate() {
            let paced_out = shape.rate.is_some() && now.duration_since(*last) < PACE;
            if publishing && p.pending() < READ_CHUNK && !paced_out {
                *last = now;
                let due = match shape.rate {
                    None => *seq + BURST as u64,
                    Some(r) => (now.duration_since(t0).as_secs_f64() * r) as u64,
                };
                let ns = wire::now_ns();
                while *seq < due && p.pending() < READ_CHUNK * 4 {
                    wire::stamp(&mut payload, i as u32, *seq, ns);
                    wire::publish(&mut p.wbuf, 0, &payload);
                    *seq += 1;
                }
            }
            p.flush()?;
            // Read (and ignore) the broker's heartbeats; note errors.
            if p.fill()? {
                while let Some((kind, body)) = p.next().map_err(io::Error::other)? {
                    if kind == wire::ERROR {
                        tally
                            .errors
                            .push(format!("publisher {i}: {}", error_text(&p.rbuf[body])));
                    }
                }
            }
            if p.closed && publishing {
                tally
                    .errors
                    .push(format!("publisher {i}: closed by the broker"));
                publishing = false;
                drain_from = Some(now);
            }
        }
        // Deliver.
        for (si, s) in subs.iter_mut().enumerate() {
            s.link.flush()?;
            if let Some((from, to)) = s.pause {
                let t = now.duration_since(t0);
                if t >= from && t < to {
                    continue;
                }
                if t >= to {
                    s.link.readable = true; // events were missed meanwhile
                    s.pause = None;
                }
            }
            if !s.link.fill()? {
                continue;
            }
            let rx_ns = wire::now_ns();
            last_delivery = Instant::now();
            while let Some((kind, body)) = s.link.next().map_err(io::Error::other)? {
                let body = &s.link.rbuf[body];
                match kind {
                    wire::PUBLISH => {
                        let Some((p, seq, stamp)) = wire::read_stamp(&body[2..]) else {
                            tally.errors.push(format!("subscriber {si}: short payload"));
                            continue;
                        };
                        let Some(next) = s.next.get_mut(p as usize) else {
                            tally
                                .errors
                                .push(format!("subscriber {si}: publisher {p}?"));
                            continue;
                        };
                        if seq >= *next {
                            s.t.lost += seq - *next;
                            *next = seq + 1;
                        } else {
                            s.t.reordered += 1;
                        }
                        s.t.got += 1;
                        let _ = tally.latency.record(rx_ns.saturating_sub(stamp).max(1));
                    }
                    wire::GAP => match body.get(2..10) {
                        Some(n) if body.len() == 10 => {
                            s.t.gapped += u64::from_le_bytes(n.try_into().expect("8 bytes"))
                        }
                        _ => tally.errors.push(format!("subscriber {si}: bad GAP")),
                    },
                    wire::ERROR => {
                        tally
                            .errors
                            .push(format!("subscriber {si}: {}", error_text(body)));
                    }
                    _ => {}
                }
            }
            if s.link.closed {
                tally
                    .errors
                    .push(format!("subscriber {si}: closed by the broker"));
            }
        }
        if let Some(from) = drain_from {
            let published: u64 = pubs.iter().map(|(_, s, _)| *s).sum();
            let all = subs.iter().all(|s| s.t.got >= published || s.link.closed);
            let quiet = Instant::now().duration_since(last_delivery.max(from)) > QUIET;
            if all || quiet || from.elapsed() > DRAIN_LIMIT {
                break;
            }
        }
        let spin = shape.rate.is_some() && publishing;
        let idle = pubs.iter().all(|(p, _, _)| !p.writable || !publishing);
        let timeout = if spin {
            Some(Duration::ZERO)
        } else if idle {
            Some(Duration::from_millis(1))
        } else {
            Some(Duration::ZERO)
        };
        wait(&mut poll, &mut events, timeout)?;
        for e in events.iter() {
            let t = e.token().0;
            let link = if t < ns {
                &mut subs[t].link
            } else {
                &mut pubs[t - ns].0
            };
            link.writable |= e.is_writable() || e.is_write_closed();
            link.readable |= e.is_readable() || e.is_read_closed() || e.is_error();
        }
    }
    tally.published = pubs.iter().map(|(_, s, _)| *s).sum();
    for s in &mut subs {
        // Messages never seen at the end of the stream are lost too.
        for (p, next) in s.next.iter().enumerate() {
            s.t.lost += pubs[p].1 - *next.min(&pubs[p].1);
        }
        tally.delivered += s.t.got;
        tally.lost += s.t.lost;
        tally.gapped += s.t.gapped;
        tally.reordered += s.t.reordered;
    }
    tally.per_sub = subs.into_iter().map(|s| s.t).collect();
    tally.elapsed = last_delivery.duration_since(t0);
    Ok(tally)
}

/// `poll`, with EINTR as an empty round (a signal is not an error here).
fn wait(poll: &mut Poll, events: &mut Events, timeout: Option<Duration>) -> io::Result<()> {
    match poll.poll(events, timeout) {
        Err(e) if e.kind() == io::ErrorKind::Interrupted => {
            events.clear();
            Ok(())
        }
        other => other,
    }
}

fn error_text(body: &[u8]) -> String {
    match body.split_first() {
        Some((&code, text)) => format!(
            "ERROR {:?}: {}",
            wire::Code::from_u8(code),
            String::from_utf8_lossy(text)
        ),
        None => "ERROR (empty)".into(),
    }
}
