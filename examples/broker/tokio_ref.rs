//! The reference broker on tokio (issue #15): the same wire format
//! (`wire.rs`) and settings (`config.rs`) as the corelane broker, written
//! the way a competent tokio user would, to measure corelane against.
//!
//! # Design
//!
//! - **Threads.** One `current_thread` runtime per CPU of `cfg.cpus`, its
//!   thread pinned to that CPU, each with its own `SO_REUSEPORT` listener on
//!   the same port (the kernel spreads connections over them; a connection
//!   stays on the thread that accepted it). Thread-per-core, like the
//!   corelane broker and `echo_server --impl tokio-ct`.
//! - **Topics.** One `tokio::sync::broadcast::channel::<Bytes>(cfg.ring)` per
//!   topic `0..cfg.topics`, shared by all threads (its wakeups cross them).
//! - **Reading.** One task per connection reads into a `BytesMut`
//!   (`read_buf`, 64 KiB reserved), splits each complete frame off with
//!   `split_to(len).freeze()` and hands a PUBLISH frame, unchanged, to the
//!   topic's sender: every subscriber writes the publisher's own bytes (one
//!   reference-counted `Bytes`, never rebuilt). The same task answers
//!   control frames and runs the connection's timers (heartbeat out,
//!   silence in).
//! - **Writing.** One task per subscription: `recv()` a message, lock the
//!   connection's `BufWriter` (a tokio `Mutex` shared with the connection's
//!   other subscriptions and its replies), write it and whatever `try_recv`
//!   finds ready (at most [`BATCH`], so the writer is shared fairly), then
//!   flush once: a backlog costs one `write` per 64 KiB or per batch, a
//!   quiet topic one per message. A task per receiver rather than one
//!   writer per connection selecting over its receivers: tokio has no select
//!   over a changing set of receivers (`StreamMap` is in tokio-stream, no
//!   dependency here), and a task per receiver is how tokio's own docs use
//!   broadcast.
//! - **Slow subscribers.** On `RecvError::Lagged(n)` the subscription writes
//!   a GAP frame of `n` and carries on. Every write and flush runs under
//!   `tokio::time::timeout(heartbeat × missed)`; one that does not finish
//!   ends the connection with ERROR Stalled.
//! - **Counters** per topic (`AtomicU64`, relaxed): `msgs_in` counts every
//!   valid PUBLISH to a known topic, `drops` those with no subscriber plus
//!   the messages skipped by lag, `lagged` the Lagged events.
//!
//! # Limitation: no Block policy
//!
//! broadcast is lossy only: its sender never waits, and a receiver that
//! falls a ring behind loses the oldest messages. A subscription asking for
//! Block is accepted (SUBSCRIBED echoes the policy asked for) and served
//! exactly like Drop, GAP frames included; the load generator reports the
//! messages it lost. Providing Block on tokio would need a per-subscriber
//! bounded queue (`mpsc`) that publishers await, i.e. a different broker.

#![allow(dead_code)] // each binary that includes this uses a different part

use super::config::Config;
use super::wire::{self, Code, WireError};
use bytes::{Bytes, BytesMut};
use corelane::topology::{pin_current_thread, CpuId};
use std::collections::HashSet;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::{tcp::OwnedWriteHalf, TcpListener, TcpStream};
use tokio::sync::broadcast::{self, error::RecvError, error::TryRecvError};
use tokio::sync::{watch, Mutex};
use tokio::task::JoinSet;
use tokio::time::{timeout, Instant};

/// Read buffer reserve and write buffer size.
const BUF: usize = 64 * 1024;
/// Most messages one subscription writes before it flushes and lets go of
/// the connection's writer.
pub const BATCH: usize = 256;

pub use super::config::TopicStats;

/// Per-topic counters, read only for display (Relaxed: nothing is
/// ordered by them).
#[derive(Default)]
struct Counters {
    msgs_in: AtomicU64,
    msgs_out: AtomicU64,
    drops: AtomicU64,
    lagged: AtomicU64,
    subscribers: AtomicU64,
}

struct Topic {
    tx: broadcast::Sender<Bytes>,
    n: Counters,
}

struct Shared {
    cfg: Config,
    topics: Vec<Topic>,
}

impl Shared {
    fn stats(&self) -> Vec<TopicStats> {
        let t = |(i, t): (usize, &Topic)| TopicStats {
            topic: i as u16,
            msgs_in: t.n.msgs_in.load(Relaxed),
            msgs_out: t.n.msgs_out.load(Relaxed),
            drops: t.n.drops.load(Relaxed),
            lagged: t.n.lagged.load(Relaxed),
            subscribers: t.n.subscribers.load(Relaxed),
        };
        self.topics.iter().enumerate().map(t).collect()
    }
}

/// A started broker. Dropping it stops the broker without waiting.
pub struct Running {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Running {
    /// Every topic's counters since the start.
    pub fn stats(&self) -> Vec<TopicStats> {
        self.shared.stats()
    }
    /// Stops the broker (connections are dropped) and joins its threads,
    /// waiting at most 5 s (a thread still running then is left detached).
    pub fn stop(self) {
        self.stop.send_replace(true);
        let until = std::time::Instant::now() + Duration::from_secs(5);
        for t in self.threads {
            while !t.is_finished() && std::time::Instant::now() < until {
                std::thread::sleep(Duration::from_millis(5));
            }
            if t.is_finished() {
                let _ = t.join();
            } else {
                eprintln!("tokio_ref: {:?} did not stop within 5 s", t.thread().name());
            }
        }
    }
    /// Blocks until the broker stops by itself (`cfg.run_for`; never without).
    pub fn wait(self) {
        let Running { stop, threads, .. } = self;
        for t in threads {
            let _ = t.join();
        }
        drop(stop);
    }
}

/// Starts the reference broker on 127.0.0.1:`cfg.port`: one pinned thread
/// with a `current_thread` runtime per CPU of `cfg.cpus`, each listening on
/// the port with `SO_REUSEPORT`. Returns once all of them listen.
pub fn start(cfg: &Config) -> io::Result<Running> {
    let topic = |_| Topic {
        tx: broadcast::channel(cfg.ring).0,
        n: Counters::default(),
    };
    let topics = (0..cfg.topics).map(topic).collect();
    let shared = Arc::new(Shared {
        cfg: cfg.clone(),
        topics,
    });
    let deadline = cfg.run_for.map(|d| std::time::Instant::now() + d);
    let mut run = Running {
        addr: SocketAddr::from(([127, 0, 0, 1], cfg.port)),
        shared,
        stop: watch::channel(false).0,
        threads: Vec::new(),
    };
    for (i, &cpu) in cfg.cpus.iter().enumerate() {
        let (ready, is_ready) = std::sync::mpsc::channel();
        let (sh, stop, port) = (run.shared.clone(), run.stop.subscribe(), run.addr.port());
        let serve = move || serve_thread(i, CpuId::new(cpu), port, sh, stop, deadline, ready);
        let t = std::thread::Builder::new().name(format!("tokio-ref-{i}"));
        run.threads.push(t.spawn(serve)?);
        let e = match is_ready.recv() {
            Ok(Ok(addr)) => {
                run.addr = addr;
                continue;
            }
            Ok(Err(e)) => e,
            Err(_) => io::Error::other("a broker thread died while starting"),
        };
        run.stop();
        return Err(e);
    }
    Ok(run)
}

type Ready = std::sync::mpsc::Sender<io::Result<SocketAddr>>;

/// Pins, listens, reports on `ready`, serves until stopped or `deadline`.
fn serve_thread(
    i: usize,
    cpu: CpuId,
    port: u16,
    sh: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
    deadline: Option<std::time::Instant>,
    ready: Ready,
) {
    let mut run = || -> io::Result<()> {
        pin_current_thread(cpu).map_err(|e| io::Error::other(format!("pin to {cpu}: {e}")))?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        rt.block_on(async {
            let s = tokio::net::TcpSocket::new_v4()?;
            s.set_reuseaddr(true)?;
            s.set_reuseport(true)?;
            s.bind(SocketAddr::from(([127, 0, 0, 1], port)))?;
            let l = s.listen(1024)?;
            let _ = ready.send(Ok(l.local_addr()?));
            let until = Instant::from_std(deadline.unwrap_or_else(std::time::Instant::now));
            let every = sh.cfg.stats_every.filter(|_| i == 0);
            tokio::select! {
                () = accept(l, &sh) => {}
                _ = stop.wait_for(|stop| *stop) => {} // Err: `Running` dropped
                () = tokio::time::sleep_until(until), if deadline.is_some() => {}
                () = print_stats(&sh, every.unwrap_or(Duration::MAX)), if every.is_some() => {}
            }
            Ok(())
        })
    };
    if let Err(e) = run() {
        let _ = ready.send(Err(e));
    }
}

/// One line per topic with traffic each period: the period's counts.
async fn print_stats(sh: &Shared, every: Duration) -> ! {
    let mut tick = tokio::time::interval_at(Instant::now() + every, every);
    let mut prev = sh.stats();
    loop {
        tick.tick().await;
        let now = sh.stats();
        for (p, n) in prev.iter().zip(&now) {
            let (i, o, d) = (
                n.msgs_in - p.msgs_in,
                n.msgs_out - p.msgs_out,
                n.drops - p.drops,
            );
            let (t, l, s, secs) = (n.topic, n.lagged - p.lagged, n.subscribers, every.as_secs());
            if i + o + d > 0 {
                println!("stats impl=tokio topic={t} secs={secs} in={i} out={o} drops={d} lagged={l} subscribers={s}");
            }
        }
        prev = now;
    }
}

async fn accept(l: TcpListener, sh: &Arc<Shared>) {
    loop {
        match l.accept().await {
            Ok((s, _)) => {
                let _ = s.set_nodelay(true);
                tokio::spawn(conn(s, sh.clone()));
            }
            Err(e) => {
                eprintln!("tokio_ref: accept: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// Why a connection ends: the peer went away, or an ERROR to send first.
enum End {
    Gone,
    Fatal(Code, String),
}

fn fatal(code: Code, text: impl Into<String>) -> End {
    End::Fatal(code, text.into())
}

/// A write (or flush) that must finish within `stall`.
async fn timed<T>(stall: Duration, f: impl Future<Output = io::Result<T>>) -> Result<T, End> {
    match timeout(stall, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(_)) => Err(End::Gone),
        Err(_) => Err(fatal(Code::Stalled, format!("a write took over {stall:?}"))),
    }
}

/// A connection's sending side, shared by its reader and subscriptions.
struct Out {
    w: Mutex<BufWriter<OwnedWriteHalf>>,
    stall: Duration,
    born: std::time::Instant,
    /// When something was last sent, in ns since `born`. Relaxed: a
    /// heartbeat hint, it orders nothing (a stale read only sends one
    /// HEARTBEAT more or one interval later).
    last_sent: AtomicU64,
    /// A frame too big for the buffer is being written straight to the
    /// socket: if that is cut short, the stream is mid-frame. Relaxed: it
    /// is stored while holding `w`'s lock and read after every
    /// subscription task has been shut down (joined), which orders it.
    torn: AtomicBool,
}

impl Out {
    fn sent(&self) {
        self.last_sent
            .store(self.born.elapsed().as_nanos() as u64, Relaxed);
    }
    fn idle(&self) -> Duration {
        let last = Duration::from_nanos(self.last_sent.load(Relaxed));
        self.born.elapsed().saturating_sub(last)
    }
    /// Sends one broker frame (a reply, a heartbeat) and flushes.
    async fn send(&self, frame: &[u8]) -> Result<(), End> {
        let mut w = timed(self.stall, async { io::Result::Ok(self.w.lock().await) }).await?;
        timed(self.stall, w.write_all(frame)).await?;
        timed(self.stall, w.flush()).await?;
        self.sent();
        Ok(())
    }
}

/// A subscription counted in its topic's `subscribers` while this lives.
struct Sub {
    sh: Arc<Shared>,
    topic: u16,
}

impl Sub {
    fn new(sh: &Arc<Shared>, topic: u16) -> Sub {
        sh.topics[topic as usize]
            .n
            .subscribers
            .fetch_add(1, Relaxed);
        Sub {
            sh: sh.clone(),
            topic,
        }
    }
}

impl Drop for Sub {
    fn drop(&mut self) {
        let t = &self.sh.topics[self.topic as usize];
        t.n.subscribers.fetch_sub(1, Relaxed);
    }
}

/// A subscription's task: forwards its topic to the connection in batches.
async fn forward(sub: Sub, mut rx: broadcast::Receiver<Bytes>, out: Arc<Out>) -> Result<(), End> {
    let t = &sub.sh.topics[sub.topic as usize];
    let mut gap = Vec::with_capacity(16);
    loop {
        let mut next = rx.recv().await;
        let mut w = out.w.lock().await;
        let (mut n, mut msgs) = (0, 0);
        loop {
            match next {
                Ok(frame) => {
                    let big = frame.len() >= BUF; // written around the buffer
                    out.torn.store(big, Relaxed);
                    timed(out.stall, w.write_all(&frame)).await?;
                    out.torn.store(false, Relaxed);
                    msgs += 1;
                }
                Err(RecvError::Lagged(k)) => {
                    t.n.lagged.fetch_add(1, Relaxed);
                    t.n.drops.fetch_add(k, Relaxed);
                    gap.clear();
                    wire::gap(&mut gap, sub.topic, k);
                    timed(out.stall, w.write_all(&gap)).await?;
                }
                Err(RecvError::Closed) => return Ok(()),
            }
            n += 1;
            if n == BATCH {
                break;
            }
            next = match rx.try_recv() {
                Ok(frame) => Ok(frame),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Lagged(k)) => Err(RecvError::Lagged(k)),
                Err(TryRecvError::Closed) => Err(RecvError::Closed),
            };
        }
        timed(out.stall, w.flush()).await?;
        t.n.msgs_out.fetch_add(msgs, Relaxed);
        out.sent();
    }
}

type Subs = JoinSet<Result<(), End>>;

/// One connection: reads and dispatches frames, runs its timers, and says
/// why it ends before closing.
async fn conn(s: TcpStream, sh: Arc<Shared>) {
    let cfg = &sh.cfg;
    let stall = cfg.heartbeat * cfg.missed;
    let (mut rd, wr) = s.into_split();
    let out = Arc::new(Out {
        w: Mutex::new(BufWriter::with_capacity(BUF, wr)),
        stall,
        born: std::time::Instant::now(),
        last_sent: AtomicU64::new(0),
        torn: AtomicBool::new(false),
    });
    let (mut subs, mut mine) = (Subs::new(), HashSet::new());
    let mut buf = BytesMut::with_capacity(BUF);
    let mut last_rx = Instant::now();
    let timer = tokio::time::sleep(cfg.heartbeat);
    tokio::pin!(timer);
    let end = loop {
        buf.reserve(BUF);
        tokio::select! {
            r = rd.read_buf(&mut buf) => match r {
                Ok(0) | Err(_) => break End::Gone,
                Ok(_) => {
                    last_rx = Instant::now();
                    if let Err(e) = frames(&mut buf, &sh, &out, &mut subs, &mut mine).await {
                        break e;
                    }
                }
            },
            Some(Ok(Err(e))) = subs.join_next(), if !subs.is_empty() => break e,
            () = &mut timer => {
                if last_rx.elapsed() >= stall {
                    break fatal(Code::Silent, format!("nothing received for {stall:?}"));
                }
                if out.idle() >= cfg.heartbeat {
                    let mut hb = Vec::with_capacity(wire::HEADER);
                    wire::heartbeat(&mut hb);
                    if let Err(e) = out.send(&hb).await {
                        break e;
                    }
                }
                let beat = Instant::now() + cfg.heartbeat.saturating_sub(out.idle());
                timer.as_mut().reset(beat.min(last_rx + stall));
            }
        }
    };
    subs.shutdown().await;
    if let End::Fatal(code, text) = end {
        if !out.torn.load(Relaxed) {
            let mut e = Vec::new();
            wire::error(&mut e, code, &text);
            let _ = timeout(cfg.heartbeat, out.send(&e)).await;
        }
    }
    // Close our side, then drain the peer's for a moment: closing with
    // unread input would reset the connection and could lose the ERROR.
    let _ = timeout(cfg.heartbeat, async {
        let _ = out.w.lock().await.shutdown().await;
        let mut sink = [0u8; 4096];
        while let Ok(1..) = rd.read(&mut sink).await {}
    })
    .await;
}

/// Handles every complete frame in `buf`.
async fn frames(
    buf: &mut BytesMut,
    sh: &Arc<Shared>,
    out: &Arc<Out>,
    subs: &mut Subs,
    mine: &mut HashSet<u16>,
) -> Result<(), End> {
    let max = sh.cfg.max_frame;
    let refuse = |code: Code, topic: u16| async move {
        let mut e = Vec::new();
        wire::error(&mut e, code, &format!("topic {topic}"));
        out.send(&e).await
    };
    loop {
        let (kind, total) = match wire::next_frame(buf, max) {
            Ok(Some(f)) => f,
            Ok(None) => return Ok(()),
            Err(WireError::Empty) => return Err(fatal(Code::Malformed, "frame length 0")),
            Err(WireError::Oversize(n)) => {
                return Err(fatal(Code::Oversize, format!("frame length {n} > {max}")));
            }
        };
        let frame = buf.split_to(total).freeze();
        match kind {
            wire::PUBLISH => {
                let Some(t) = wire::topic(&frame[wire::HEADER..]) else {
                    return Err(fatal(Code::Malformed, "PUBLISH without a topic"));
                };
                let Some(topic) = sh.topics.get(t as usize) else {
                    refuse(Code::UnknownTopic, t).await?;
                    continue;
                };
                topic.n.msgs_in.fetch_add(1, Relaxed);
                if topic.tx.send(frame).is_err() {
                    topic.n.drops.fetch_add(1, Relaxed); // no subscriber
                }
            }
            wire::SUBSCRIBE => {
                let (t, policy) = wire::parse_subscribe(&frame[wire::HEADER..])
                    .map_err(|c| fatal(c, "SUBSCRIBE body is not topic:u16 policy:0|1"))?;
                let Some(topic) = sh.topics.get(t as usize) else {
                    refuse(Code::UnknownTopic, t).await?;
                    continue;
                };
                if !mine.insert(t) {
                    refuse(Code::Duplicate, t).await?;
                    continue;
                }
                // Policy::Block is served as Drop: see the module doc.
                let (rx, sub) = (topic.tx.subscribe(), Sub::new(sh, t));
                let mut ok = Vec::with_capacity(wire::HEADER + 3);
                wire::subscribe(&mut ok, wire::SUBSCRIBED, t, policy);
                out.send(&ok).await?;
                subs.spawn(forward(sub, rx, out.clone()));
            }
            wire::HEARTBEAT => {}
            k => return Err(fatal(Code::UnknownKind, format!("kind {k} from a client"))),
        }
    }
}
