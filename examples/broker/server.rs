//! The broker on corelane: `io::Server` connections, one
//! `queue::multicast` ring of `Bytes` per topic, heartbeats on the
//! scheduler's timer wheel.
//!
//! - **Ingress.** A connection's received bytes are appended to its own
//!   arena (`BytesMut`): that is the one copy a message ever gets, out of
//!   the core's provided-buffer pool (a ring slot keeps its payload until
//!   the slot is overwritten, so slicing the pool's buffers instead would
//!   let the rings pin the whole pool). Each PUBLISH frame is split off the
//!   arena as one `Bytes` and pushed, unchanged, into its topic's ring (a
//!   multi-publisher ring: any connection may publish on any topic; each
//!   publisher's messages keep their order).
//! - **Fan-out.** A subscription is a cursor of that ring: a gating
//!   [`Cursor`] for the *block* policy (the topic's publishers wait for
//!   it: nothing is lost), a [`LossyCursor`] for *drop* (never holds
//!   anyone back; when lapped it reads `Lagged(n)` and the subscriber gets
//!   a GAP frame). A connection gathers what its cursors have ready (up to
//!   `BATCH` messages, the topics taken in turn) as clones of the same
//!   `Bytes` (a reference count, not a copy) and sends them in one
//!   vectored io_uring send; while it is in flight, more accumulate.
//! - **One task per connection**, on the core that accepted it: a
//!   hand-written future polls the heartbeat interval, the send in flight,
//!   a publish waiting for room, the cursors and the socket, so a
//!   connection that publishes into a full ring still delivers what it
//!   subscribed to (it may be the subscriber its publisher waits for).
//! - **Heartbeats** on the core's timer wheel: a HEARTBEAT goes out after a
//!   quiet interval; nothing received for `missed` intervals is ERROR
//!   Silent and a disconnect; a send not taken for `missed` intervals is a
//!   disconnect (Stalled) — which is also what bounds how long a stuck
//!   block-policy subscriber can hold its topic's publishers.
//! - **Bad input** ends only its own connection (fatal codes) or is
//!   answered with a non-fatal ERROR; a fatal error drops the connection's
//!   cursors at once, so a dying block-policy subscriber stops gating.

use std::future::poll_fn;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use corelane::io::{self as cio, TcpStream};
use corelane::sched::{self, Priority, Runtime};

use super::config::Config;
use super::fanout::{Publishers, Pushed, Subscriptions, TopicStats, Topics};
use super::wire::{self, Code, Policy};

/// Most messages one vectored send carries (IOV_MAX: one SENDMSG op).
const BATCH: usize = 1024;
/// Loop passes of one connection's poll before it lets the core's other
/// tasks run.
const PASSES: usize = 16;
/// Arena growth step (and the first arena's size).
const ARENA: usize = 64 * 1024;
/// Control frames (answers: SUBSCRIBED, ERROR) queued for one connection
/// past which the broker stops reading it until they have gone out: a
/// peer that sends without reading cannot make it queue answers without
/// bound.
const CTL_LIMIT: usize = 64 * 1024;

struct Shared {
    cfg: Config,
    topics: Arc<Topics>,
    /// Connections ended by a fatal ERROR, by code.
    fatal: [AtomicU64; 8],
    /// Connections ended by the peer (close, reset).
    gone: AtomicU64,
}

/// A running broker; [`stop`](Running::stop) ends it.
pub struct Running {
    pub addr: SocketAddr,
    rt: Option<Runtime>,
    server: Option<cio::ServerHandle>,
    shared: Arc<Shared>,
}

/// Starts the broker on `127.0.0.1:cfg.port`, one core per CPU of
/// `cfg.cpus`.
pub fn start(cfg: &Config) -> io::Result<Running> {
    let topics = Arc::new(Topics::new(cfg.topics, cfg.ring).map_err(io::Error::other)?);
    let shared = Arc::new(Shared {
        cfg: cfg.clone(),
        topics,
        fatal: Default::default(),
        gone: AtomicU64::new(0),
    });
    let rt = Runtime::builder()
        .cores(cfg.cpus.iter().copied())
        // A stalled peer's last send is cancelled after as long as the
        // broker waited for it (not the default 10 s).
        .io(cio::Config::default()
            .required(true)
            .send_grace(cfg.heartbeat * cfg.missed))
        .build()
        .map_err(io::Error::other)?;
    let bind = SocketAddr::from((Ipv4Addr::LOCALHOST, cfg.port));
    let sh = shared.clone();
    let server = cio::Server::builder(bind)
        .priority(Priority::Normal)
        .nodelay(true)
        .serve(&rt, move |s: TcpStream| {
            let sh = sh.clone();
            async move {
                match Conn::new(s, sh.clone()).run().await {
                    End::Gone => sh.gone.fetch_add(1, Relaxed),
                    End::Fatal(code) => sh.fatal[code as usize].fetch_add(1, Relaxed),
                };
            }
        })?;
    Ok(Running {
        addr: server.local_addr(),
        rt: Some(rt),
        server: Some(server),
        shared,
    })
}

impl Running {
    /// Every topic's counters.
    pub fn stats(&self) -> Vec<TopicStats> {
        self.shared.topics.stats()
    }

    /// Connections ended so far: by their peer, and by a fatal ERROR of
    /// each code (`wire::Code as usize`).
    pub fn ended(&self) -> (u64, [u64; 8]) {
        let s = &self.shared;
        (
            s.gone.load(Relaxed),
            std::array::from_fn(|i| s.fatal[i].load(Relaxed)),
        )
    }

    /// The runtime's per-core counters, one line per core.
    pub fn runtime_stats(&self) -> Vec<String> {
        let Some(rt) = &self.rt else {
            return Vec::new();
        };
        rt.stats()
            .cores
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let io = c.io.as_ref().map_or(String::from("no io"), |io| {
                    format!(
                        "enters {} parks {} sqes {} cqes {} short sends {}",
                        io.enters, io.parks, io.sqes, io.cqes, io.short_sends
                    )
                });
                format!(
                    "core {i} polls {} wakes {}+{} parks {} tasks {} | {io}",
                    c.polls, c.local_wakes, c.remote_wakes, c.parks, c.live_tasks
                )
            })
            .collect()
    }

    /// Stops accepting, drops every connection and joins the cores
    /// (bounded: 5 s).
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        drop(self.server.take());
        if let Some(rt) = self.rt.take() {
            let _ = rt.shutdown(Duration::from_secs(5));
        }
    }
}

/// Why a connection ended.
#[derive(Debug)]
enum End {
    /// The peer closed, or its socket failed.
    Gone,
    /// We sent a fatal ERROR (or could not even send it: Stalled).
    Fatal(Code),
}

struct Conn {
    stream: TcpStream,
    shared: Arc<Shared>,
    arena: BytesMut,
    pubs: Publishers,
    subs: Subscriptions,
    /// The next vectored send.
    out: Vec<Bytes>,
    /// Control frames to go out ahead of the next gather.
    ctl: Vec<u8>,
    /// A publish waiting for room in its ring.
    pending: Option<(u16, Bytes)>,
    in_flight: bool,
    /// When the send in flight was queued.
    sent_at: Instant,
    last_rx: Instant,
    last_tx: Instant,
    tick: sched::Interval,
    /// A fatal error is on its way out: read nothing more.
    closing: Option<Code>,
    /// The peer shut its side: flush what is queued, then end.
    eof: bool,
}

impl Conn {
    fn new(stream: TcpStream, shared: Arc<Shared>) -> Conn {
        let now = Instant::now();
        let hb = shared.cfg.heartbeat;
        Conn {
            stream,
            pubs: Publishers::new(&shared.topics),
            subs: Subscriptions::new(shared.topics.clone()),
            shared,
            arena: BytesMut::with_capacity(ARENA),
            out: Vec::with_capacity(BATCH + 8),
            ctl: Vec::new(),
            pending: None,
            in_flight: false,
            sent_at: now,
            last_rx: now,
            last_tx: now,
            // Checked four times per interval: a deadline is seen at most a
            // quarter interval late.
            tick: sched::interval((hb / 4).max(Duration::from_millis(1))),
            closing: None,
            eof: false,
        }
    }

    async fn run(mut self) -> End {
        let end = poll_fn(|cx| self.poll(cx)).await;
        // The cursors go first (a block-policy subscriber stops gating),
        // then the stream (a queued ERROR still goes out, within the io
        // config's send grace).
        self.subs.clear();
        end
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<End> {
        for _ in 0..PASSES {
            let mut progress = false;
            if let Poll::Ready(now) = self.tick.poll_tick(cx) {
                if let Some(end) = self.on_tick(now) {
                    return Poll::Ready(end);
                }
                progress = true;
            }
            if self.in_flight {
                match self.stream.poll_flush(cx) {
                    Poll::Pending => {}
                    Poll::Ready(Ok(())) => {
                        self.in_flight = false;
                        progress = true;
                    }
                    Poll::Ready(Err(_)) => return Poll::Ready(End::Gone),
                }
            }
            if !self.in_flight {
                if self.ctl.is_empty() {
                    if let Some(code) = self.closing {
                        return Poll::Ready(End::Fatal(code));
                    }
                    if self.eof {
                        return Poll::Ready(End::Gone);
                    }
                }
                if self.gather(cx) {
                    if self.stream.start_send_vectored(&mut self.out).is_err() {
                        return Poll::Ready(End::Gone);
                    }
                    self.in_flight = true;
                    self.sent_at = Instant::now();
                    self.last_tx = self.sent_at;
                    continue; // register for its completion
                }
            }
            if self.closing.is_some() || self.eof {
                if !progress {
                    return Poll::Pending;
                }
                continue;
            }
            if let Some((topic, frame)) = self.pending.take() {
                if self.retry_publish(topic, frame, cx) {
                    self.parse();
                    progress = true;
                } else {
                    if !progress {
                        return Poll::Pending;
                    }
                    continue;
                }
            }
            // A backlog of answers waits for the send in flight (whose
            // completion wakes us): read nothing more until it has gone,
            // then first the frames it left in the arena.
            if self.pending.is_none() && self.ctl.len() < CTL_LIMIT {
                let before = self.arena.len();
                self.parse();
                progress |= self.arena.len() != before;
            }
            if self.pending.is_none() && self.closing.is_none() && self.ctl.len() < CTL_LIMIT {
                match self.stream.poll_recv(cx) {
                    Poll::Pending => {}
                    Poll::Ready(Ok(Some(data))) => {
                        self.last_rx = Instant::now();
                        // The one copy: out of the core's receive buffer
                        // (which goes back to its pool when `data` drops).
                        self.arena.reserve(data.len().max(ARENA / 4));
                        self.arena.extend_from_slice(&data);
                        drop(data);
                        self.parse();
                        progress = true;
                    }
                    // The peer shut its side (the arena holds no whole frame:
                    // every one was handled before this read): nothing more
                    // is delivered; answers already queued still go out.
                    Poll::Ready(Ok(None)) => {
                        self.eof = true;
                        self.subs.clear();
                        progress = true;
                    }
                    Poll::Ready(Err(_)) => return Poll::Ready(End::Gone),
                }
            }
            if !progress {
                return Poll::Pending;
            }
        }
        // Busy for PASSES rounds: let the core's other tasks run.
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// Heartbeat duties; `Some` ends the connection.
    fn on_tick(&mut self, now: Instant) -> Option<End> {
        let limit = self.shared.cfg.heartbeat * self.shared.cfg.missed;
        if self.pending.is_some() || self.ctl.len() >= CTL_LIMIT {
            // Not reading this peer now (its publish waits for room, or
            // its answers for it to read): its silence is ours.
            self.last_rx = now;
        }
        if self.in_flight && now.duration_since(self.sent_at) > limit {
            // Not even an ERROR could get through.
            return Some(End::Fatal(Code::Stalled));
        }
        if self.closing.is_none() && now.duration_since(self.last_rx) > limit {
            self.fatal(
                Code::Silent,
                "nothing received for too many heartbeat intervals",
            );
        } else if now.duration_since(self.last_tx) >= self.shared.cfg.heartbeat
            && !self.in_flight
            && self.ctl.is_empty()
        {
            wire::heartbeat(&mut self.ctl);
        }
        None
    }

    /// Fills `out` with control frames and what the cursors have ready;
    /// whether there is anything to send.
    fn gather(&mut self, cx: &mut Context<'_>) -> bool {
        debug_assert!(self.out.is_empty());
        if !self.ctl.is_empty() {
            self.out.push(Bytes::from(std::mem::take(&mut self.ctl)));
        }
        self.subs.gather(&mut self.out, BATCH, cx);
        !self.out.is_empty()
    }

    /// Retries a publish that found its ring full; `true` once it is
    /// done with (published, or dropped for want of subscribers).
    fn retry_publish(&mut self, topic: u16, mut frame: Bytes, cx: &mut Context<'_>) -> bool {
        loop {
            if self.pubs.poll_ready(topic, cx).is_pending() {
                self.pending = Some((topic, frame));
                return false;
            }
            match self.pubs.push(&self.shared.topics, topic, frame) {
                Pushed::Done | Pushed::Dropped => return true,
                // Another publisher took the room first.
                Pushed::Full(f) => frame = f,
            }
        }
    }

    /// Handles every whole frame in the arena, until one must wait.
    fn parse(&mut self) {
        while self.pending.is_none() && self.closing.is_none() && self.ctl.len() < CTL_LIMIT {
            let (kind, total) = match wire::next_frame(&self.arena, self.shared.cfg.max_frame) {
                Ok(Some(f)) => f,
                Ok(None) => return,
                Err(wire::WireError::Empty) => {
                    return self.fatal(Code::Malformed, "frame of length 0");
                }
                Err(wire::WireError::Oversize(n)) => {
                    let msg = format!("frame of {n} bytes, limit {}", self.shared.cfg.max_frame);
                    return self.fatal(Code::Oversize, &msg);
                }
            };
            match kind {
                wire::PUBLISH => {
                    let frame = self.arena.split_to(total).freeze();
                    match wire::topic(&frame[wire::HEADER..]) {
                        None => return self.fatal(Code::Malformed, "PUBLISH without a topic"),
                        Some(t) if t as usize >= self.shared.topics.len() => {
                            self.error(Code::UnknownTopic, &format!("no topic {t}"));
                        }
                        Some(t) => self.publish(t, frame),
                    }
                }
                wire::SUBSCRIBE => {
                    let r = wire::parse_subscribe(&self.arena[wire::HEADER..total]);
                    let _ = self.arena.split_to(total);
                    match r {
                        Ok((t, p)) => self.subscribe(t, p),
                        Err(c) => return self.fatal(c, "SUBSCRIBE body is topic:u16 policy:u8"),
                    }
                }
                wire::HEARTBEAT => {
                    let _ = self.arena.split_to(total);
                }
                k => {
                    return self.fatal(Code::UnknownKind, &format!("kind {k} is not for a broker"))
                }
            }
        }
    }

    fn publish(&mut self, topic: u16, frame: Bytes) {
        if let Pushed::Full(f) = self.pubs.push(&self.shared.topics, topic, frame) {
            self.pending = Some((topic, f));
        }
    }

    fn subscribe(&mut self, topic: u16, policy: Policy) {
        match self.subs.subscribe(topic, policy) {
            Ok(()) => wire::subscribe(&mut self.ctl, wire::SUBSCRIBED, topic, policy),
            Err(Code::Duplicate) => self.error(
                Code::Duplicate,
                &format!("topic {topic} already subscribed"),
            ),
            Err(c) => self.error(c, &format!("no topic {topic}")),
        }
    }

    /// A non-fatal ERROR: the frame was skipped.
    fn error(&mut self, code: Code, text: &str) {
        wire::error(&mut self.ctl, code, text);
    }

    /// A fatal ERROR: read nothing more, stop gating, send it, close.
    fn fatal(&mut self, code: Code, text: &str) {
        wire::error(&mut self.ctl, code, text);
        self.closing = Some(code);
        self.pending = None;
        self.subs.clear();
    }
}
