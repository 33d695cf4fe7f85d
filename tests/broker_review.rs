//! Hostile review of the corelane broker example: misbehaving peers that
//! must get an ERROR or a disconnect while everyone else is served.
#![cfg(not(corelane_loom))] // no io driver under the loom build

#[path = "../examples/broker/config.rs"]
mod config;
#[allow(dead_code)]
#[path = "../examples/broker/fanout.rs"]
mod fanout;
#[path = "common/io.rs"]
mod io_common;
#[allow(dead_code)]
#[path = "../examples/broker/server.rs"]
mod server;
#[path = "../examples/broker/wire.rs"]
mod wire;

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use config::Config;
use wire::{Code, Policy};

fn cfg(hb_ms: u64, missed: u32) -> Config {
    Config {
        port: 0,
        topics: 2,
        ring: 16,
        heartbeat: Duration::from_millis(hb_ms),
        missed,
        max_frame: 1024,
        cpus: vec![0],
        stats_every: None,
        run_for: None,
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

/// A socket whose receive buffer is as small as the kernel allows, so a
/// peer that stops reading fills it at once.
fn connect_small(addr: SocketAddr) -> TcpStream {
    // SAFETY: plain syscalls on a descriptor this function owns.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) };
    assert!(fd >= 0);
    let one: libc::c_int = 1;
    // SAFETY: `one` outlives the call; its size is passed.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&one as *const libc::c_int).cast(),
            4,
        );
    }
    let SocketAddr::V4(a) = addr else { panic!() };
    let sin = libc::sockaddr_in {
        sin_family: libc::AF_INET as _,
        sin_port: a.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(*a.ip()).to_be(),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: `sin` is a valid sockaddr_in of the size passed.
    let r = unsafe {
        libc::connect(
            fd,
            (&sin as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as u32,
        )
    };
    assert_eq!(r, 0);
    // SAFETY: `fd` is a connected socket nobody else owns.
    let s: TcpStream = unsafe { std::os::fd::FromRawFd::from_raw_fd(fd) };
    s.set_nodelay(true).unwrap();
    s
}

/// Frames a background thread reads off a stream: (when, kind, body),
/// and when the stream ended (EOF or error).
type Log = Arc<Mutex<Vec<(Instant, u8, Vec<u8>)>>>;

#[derive(Clone, Default)]
struct Seen {
    frames: Log,
    ended: Arc<Mutex<Option<Instant>>>,
}

impl Seen {
    fn errors(&self) -> Vec<Code> {
        let f = self.frames.lock().unwrap();
        f.iter()
            .filter(|(_, k, _)| *k == wire::ERROR)
            .map(|(_, _, b)| Code::from_u8(b[0]).unwrap())
            .collect()
    }
    fn count(&self, kind: u8) -> usize {
        let f = self.frames.lock().unwrap();
        f.iter().filter(|(_, k, _)| *k == kind).count()
    }
    fn ended(&self) -> Option<Instant> {
        *self.ended.lock().unwrap()
    }
    fn wait_for(&self, kind: u8, n: usize, within: Duration) -> bool {
        let t = Instant::now() + within;
        while Instant::now() < t {
            if self.count(kind) >= n {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        false
    }
}

fn reader(mut s: TcpStream, stop: Arc<AtomicBool>) -> (Seen, JoinHandle<()>) {
    let seen = Seen::default();
    let sn = seen.clone();
    s.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    let h = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let mut chunk = vec![0u8; 64 * 1024];
        while !stop.load(Relaxed) {
            match s.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => {
                    let now = Instant::now();
                    buf.extend_from_slice(&chunk[..n]);
                    let mut f = sn.frames.lock().unwrap();
                    while let Ok(Some((kind, total))) = wire::next_frame(&buf, u32::MAX) {
                        f.push((now, kind, buf[wire::HEADER..total].to_vec()));
                        buf.drain(..total);
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                    ) => {}
                Err(_) => break,
            }
        }
        *sn.ended.lock().unwrap() = Some(Instant::now());
    });
    (seen, h)
}

/// Sends a HEARTBEAT every `every` until `stop` (or the write fails).
fn beater(mut s: TcpStream, every: Duration, stop: Arc<AtomicBool>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut hb = Vec::new();
        wire::heartbeat(&mut hb);
        while !stop.load(Relaxed) {
            if s.write_all(&hb).is_err() {
                break;
            }
            std::thread::sleep(every);
        }
    })
}

fn subscribe(s: &mut TcpStream, topic: u16, policy: Policy) {
    let mut out = Vec::new();
    wire::subscribe(&mut out, wire::SUBSCRIBE, topic, policy);
    s.write_all(&out).unwrap();
}

fn rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap()
        .parse()
        .unwrap()
}

/// A block-policy subscriber stops reading (but keeps sending heartbeats):
/// it must be disconnected (Stalled) after about `missed` intervals, while
/// its publisher — which never stopped sending — is held, then resumes,
/// and never gets an ERROR; a drop-policy subscriber is served again.
/// Run a few times: the publisher's silence clock and the subscriber's
/// stall clock race.
#[test]
fn a_stalled_block_subscriber_is_cut_off_and_its_publisher_is_not() {
    if io_common::skip() {
        return;
    }
    for round in 0..2 {
        stalled_round(round);
    }
}

fn stalled_round(round: u32) {
    let cfg = cfg(100, 3);
    let limit = cfg.heartbeat * cfg.missed;
    let broker = server::start(&cfg).expect("broker starts");
    let addr = broker.addr;
    let stop = Arc::new(AtomicBool::new(false));

    // The stuck one: subscribes, sees SUBSCRIBED, then never reads again.
    let mut b = connect_small(addr);
    subscribe(&mut b, 0, Policy::Block);
    let mut got = [0u8; 8];
    b.read_exact(&mut got).unwrap();
    assert_eq!(got[4], wire::SUBSCRIBED);
    let hb_b = beater(b.try_clone().unwrap(), cfg.heartbeat / 2, stop.clone());

    // A drop-policy subscriber that reads everything.
    let mut d = connect(addr);
    subscribe(&mut d, 0, Policy::Drop);
    let (d_seen, d_rd) = reader(d.try_clone().unwrap(), stop.clone());
    let hb_d = beater(d, cfg.heartbeat / 2, stop.clone());
    assert!(d_seen.wait_for(wire::SUBSCRIBED, 1, Duration::from_secs(2)));

    // The publisher: writes as fast as the broker takes it; its payload
    // is a counter.
    let p = connect(addr);
    let (p_seen, p_rd) = reader(p.try_clone().unwrap(), stop.clone());
    let published = Arc::new(AtomicU64::new(0));
    let (pc, ps, mut pw) = (published.clone(), stop.clone(), p.try_clone().unwrap());
    let writer = std::thread::spawn(move || {
        let mut n = 0u64;
        let mut out = Vec::new();
        while !ps.load(Relaxed) {
            out.clear();
            for _ in 0..8 {
                let mut payload = [0u8; 200];
                payload[..8].copy_from_slice(&n.to_le_bytes());
                wire::publish(&mut out, 0, &payload);
                n += 1;
            }
            if pw.write_all(&out).is_err() {
                break;
            }
            pc.store(n, Relaxed);
        }
    });

    let t0 = Instant::now();
    std::thread::sleep(limit * 4);
    let stalled = broker.ended().1[Code::Stalled as usize];
    let p_errors = p_seen.errors();
    let p_ended = p_seen.ended();
    let subs = broker.stats()[0].subscribers;
    // The longest pause in what the drop-policy subscriber received.
    let gap = {
        let f = d_seen.frames.lock().unwrap();
        let mut pubs = f
            .iter()
            .filter(|(_, k, _)| *k == wire::PUBLISH)
            .map(|(t, _, _)| *t);
        let mut last = pubs.next().unwrap_or(t0);
        let mut worst = Duration::ZERO;
        for t in pubs {
            worst = worst.max(t - last);
            last = t;
        }
        worst.max(Instant::now() - last)
    };
    let d_errors = d_seen.errors();

    stop.store(true, Relaxed);
    let _ = p.shutdown(Shutdown::Both);
    let _ = b.shutdown(Shutdown::Both);
    for h in [hb_b, hb_d, d_rd, p_rd, writer] {
        h.join().unwrap();
    }
    drop(broker);
    eprintln!(
        "round {round}: published {} stalled {stalled} subscribers {subs} P errors {p_errors:?} \
         P ended {:?} longest pause at the drop subscriber {gap:?}",
        published.load(Relaxed),
        p_ended.map(|e| e - t0)
    );
    assert_eq!(
        stalled, 1,
        "round {round}: the stuck subscriber was not cut off"
    );
    assert_eq!(
        subs, 1,
        "round {round}: only the drop-policy subscriber is left"
    );
    assert!(d_errors.is_empty(), "round {round}: {d_errors:?}");
    assert!(
        p_errors.is_empty() && p_ended.is_none(),
        "round {round}: the publisher, which never stopped sending, was cut off: {p_errors:?}"
    );
    assert!(
        gap < limit * 2,
        "round {round}: the others were held {gap:?} (limit {limit:?})"
    );
}

/// A peer that sends frames the broker answers (here: duplicate
/// SUBSCRIBEs, each answered by an ERROR) and never reads: the answers
/// cannot go out, so the broker must stop reading it rather than queue
/// them without bound. Within the stall limit (10 s here) its memory
/// must stay bounded.
#[test]
fn a_peer_that_never_reads_cannot_grow_the_brokers_memory() {
    if io_common::skip() {
        return;
    }
    let cfg = cfg(1000, 10);
    let broker = server::start(&cfg).expect("broker starts");
    let addr = broker.addr;
    let before = rss_kib();

    let mut c = connect_small(addr);
    subscribe(&mut c, 0, Policy::Drop);
    let mut flood = Vec::new();
    for _ in 0..8192 {
        wire::subscribe(&mut flood, wire::SUBSCRIBE, 0, Policy::Drop);
    }
    c.set_write_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let t = Instant::now();
    let mut written = 0usize;
    let mut peak = before;
    while t.elapsed() < Duration::from_millis(1500) {
        match c.write(&flood) {
            Ok(n) => written += n,
            Err(_) => break, // the broker stopped reading: good
        }
        peak = peak.max(rss_kib());
    }
    // Someone else is still served meanwhile.
    let mut o = connect(addr);
    o.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    subscribe(&mut o, 1, Policy::Block);
    let mut got = [0u8; 8];
    o.read_exact(&mut got).unwrap();
    assert_eq!(got[4], wire::SUBSCRIBED);
    let grown = peak.saturating_sub(before);
    eprintln!(
        "wrote {} KiB of duplicate SUBSCRIBEs in {:?}; broker RSS grew {} KiB",
        written / 1024,
        t.elapsed(),
        grown
    );
    drop(c);
    drop(broker);
    assert!(
        grown < 32 * 1024,
        "the broker queued {grown} KiB of answers for a peer that never reads"
    );
}

/// A peer that sends many answered frames, then reads: once it reads,
/// every one is answered (none stranded while the broker held off).
#[test]
fn a_backlog_of_answers_all_arrive_once_the_peer_reads() {
    if io_common::skip() {
        return;
    }
    let broker = server::start(&cfg(1000, 10)).expect("broker starts");
    let mut c = connect(broker.addr);
    subscribe(&mut c, 0, Policy::Drop);
    let frames = 40_000; // 320 KiB in, 1.25 MiB of ERROR frames out
    let mut flood = Vec::new();
    for _ in 0..frames {
        wire::subscribe(&mut flood, wire::SUBSCRIBE, 0, Policy::Drop);
    }
    let mut w = c.try_clone().unwrap();
    let writer = std::thread::spawn(move || w.write_all(&flood).unwrap());
    std::thread::sleep(Duration::from_millis(300));
    let (f, _) = read_frames(&mut c, Duration::from_secs(5), has(wire::ERROR, frames));
    writer.join().unwrap();
    let dups = f
        .iter()
        .filter(|(k, b)| *k == wire::ERROR && b[0] == Code::Duplicate as u8)
        .count();
    assert_eq!(dups, frames);
    drop(broker);
}

/// Reads frames until `n` of `kind` arrived, EOF, or `within`.
fn read_frames(
    s: &mut TcpStream,
    within: Duration,
    until: impl Fn(&[(u8, Vec<u8>)]) -> bool,
) -> (Vec<(u8, Vec<u8>)>, bool) {
    s.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    let deadline = Instant::now() + within;
    let (mut buf, mut out) = (Vec::new(), Vec::new());
    let mut chunk = [0u8; 8192];
    while Instant::now() < deadline && !until(&out) {
        match s.read(&mut chunk) {
            Ok(0) => return (out, true),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return (out, true),
        }
        while let Ok(Some((kind, total))) = wire::next_frame(&buf, u32::MAX) {
            out.push((kind, buf[wire::HEADER..total].to_vec()));
            buf.drain(..total);
        }
    }
    (out, false)
}

fn has(kind: u8, n: usize) -> impl Fn(&[(u8, Vec<u8>)]) -> bool {
    move |f| f.iter().filter(|(k, _)| *k == kind).count() >= n
}

/// A frame of exactly `max_frame` passes through whole; one byte more is
/// ERROR Oversize and a close; frames written one byte at a time arrive
/// whole and in order.
#[test]
fn frame_limits_and_byte_by_byte_frames() {
    if io_common::skip() {
        return;
    }
    let cfg = cfg(1000, 3);
    let broker = server::start(&cfg).expect("broker starts");
    let addr = broker.addr;
    let mut sub = connect(addr);
    subscribe(&mut sub, 0, Policy::Block);
    assert!(
        read_frames(&mut sub, Duration::from_secs(2), has(wire::SUBSCRIBED, 1))
            .0
            .len()
            == 1
    );

    let max_payload = cfg.max_frame as usize - 3; // kind + topic
    let mut p = connect(addr);
    let mut out = Vec::new();
    wire::publish(&mut out, 0, &vec![7u8; max_payload]);
    p.write_all(&out).unwrap();
    let (f, _) = read_frames(&mut sub, Duration::from_secs(2), has(wire::PUBLISH, 1));
    assert_eq!(
        f.len(),
        1,
        "{:?}",
        f.iter().map(|x| x.0).collect::<Vec<_>>()
    );
    assert_eq!(f[0].1.len(), 2 + max_payload);

    out.clear();
    wire::publish(&mut out, 0, &vec![8u8; max_payload + 1]);
    p.write_all(&out).unwrap();
    let (f, closed) = read_frames(&mut p, Duration::from_secs(2), |_| false);
    assert!(closed, "no close after an oversize frame");
    let codes: Vec<_> = f
        .iter()
        .filter(|(k, _)| *k == wire::ERROR)
        .map(|(_, b)| b[0])
        .collect();
    assert_eq!(codes, [Code::Oversize as u8]);

    // Byte by byte.
    let mut p = connect(addr);
    out.clear();
    for i in 0..4u8 {
        wire::publish(&mut out, 0, &[i; 5]);
    }
    wire::heartbeat(&mut out);
    for b in &out {
        p.write_all(std::slice::from_ref(b)).unwrap();
        std::thread::sleep(Duration::from_micros(300));
    }
    let (f, _) = read_frames(&mut sub, Duration::from_secs(2), has(wire::PUBLISH, 4));
    let got: Vec<_> = f
        .iter()
        .filter(|(k, _)| *k == wire::PUBLISH)
        .map(|(_, b)| b[2])
        .collect();
    assert_eq!(got, [0, 1, 2, 3]);
    drop(broker);
}

/// A client that sends a bad frame and half-closes (`shutdown(Write)`,
/// like `nc -N`) must still get its ERROR before the broker closes, also
/// while the broker has a send in flight to it (it is subscribed to a
/// busy topic).
#[test]
fn a_half_closing_client_still_gets_its_error() {
    if io_common::skip() {
        return;
    }
    let cfg = cfg(1000, 3);
    let broker = server::start(&cfg).expect("broker starts");
    let addr = broker.addr;
    let stop = Arc::new(AtomicBool::new(false));
    // A busy topic 0.
    let (ps, mut pw) = (stop.clone(), connect(addr));
    let writer = std::thread::spawn(move || {
        let mut out = Vec::new();
        for _ in 0..16 {
            wire::publish(&mut out, 0, &[1u8; 64]);
        }
        while !ps.load(Relaxed) {
            if pw.write_all(&out).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    });
    let mut lost = 0;
    let tries = 30;
    for _ in 0..tries {
        let mut c = connect(addr);
        subscribe(&mut c, 0, Policy::Drop);
        read_frames(&mut c, Duration::from_secs(2), has(wire::PUBLISH, 1));
        let mut out = Vec::new();
        wire::publish(&mut out, 999, b"nobody");
        c.write_all(&out).unwrap();
        c.shutdown(Shutdown::Write).unwrap();
        let (f, closed) = read_frames(&mut c, Duration::from_secs(3), |_| false);
        assert!(closed, "the broker did not close a half-closed client");
        if !f
            .iter()
            .any(|(k, b)| *k == wire::ERROR && b[0] == Code::UnknownTopic as u8)
        {
            lost += 1;
        }
    }
    stop.store(true, Relaxed);
    writer.join().unwrap();
    drop(broker);
    assert_eq!(
        lost, 0,
        "{lost} of {tries} half-closing clients never got their ERROR"
    );
}

/// Many connections opened and dropped (some mid-frame, some reset, some
/// subscribed): the counters come back to zero and the broker serves.
#[test]
fn churn_of_connections_leaves_no_subscriber_behind() {
    if io_common::skip() {
        return;
    }
    let cfg = cfg(1000, 3);
    let broker = server::start(&cfg).expect("broker starts");
    let addr = broker.addr;
    for i in 0..600 {
        let mut s = connect(addr);
        match i % 3 {
            0 => subscribe(
                &mut s,
                1,
                if i % 2 == 0 {
                    Policy::Block
                } else {
                    Policy::Drop
                },
            ),
            1 => s
                .write_all(&[200, 0, 0, 0, wire::PUBLISH, 1, 0, 9, 9])
                .unwrap(),
            _ => {
                subscribe(&mut s, 1, Policy::Block);
                s.write_all(&[200, 0, 0]).unwrap();
                // Reset: SO_LINGER 0.
                let l = libc::linger {
                    l_onoff: 1,
                    l_linger: 0,
                };
                // SAFETY: `l` outlives the call; its size is passed.
                unsafe {
                    libc::setsockopt(
                        std::os::fd::AsRawFd::as_raw_fd(&s),
                        libc::SOL_SOCKET,
                        libc::SO_LINGER,
                        (&l as *const libc::linger).cast(),
                        std::mem::size_of::<libc::linger>() as u32,
                    );
                }
            }
        }
    }
    let t = Instant::now();
    let ended = |b: &server::Running| {
        let (gone, fatal) = b.ended();
        gone + fatal.iter().sum::<u64>()
    };
    while ended(&broker) < 600 && t.elapsed() < Duration::from_secs(3) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        broker.stats()[1].subscribers,
        0,
        "after {:?}: {:?}",
        t.elapsed(),
        broker.ended()
    );
    let mut sub = connect(addr);
    subscribe(&mut sub, 1, Policy::Block);
    assert!(
        read_frames(&mut sub, Duration::from_secs(2), has(wire::SUBSCRIBED, 1))
            .0
            .len()
            == 1
    );
    let mut p = connect(addr);
    let mut out = Vec::new();
    wire::publish(&mut out, 1, b"after the churn");
    p.write_all(&out).unwrap();
    let (f, _) = read_frames(&mut sub, Duration::from_secs(2), has(wire::PUBLISH, 1));
    assert_eq!(f.len(), 1);
    assert_eq!(broker.stats()[1].subscribers, 1);
    drop(broker);
}
