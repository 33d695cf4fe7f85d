//! The broker example end to end, in-process on an ephemeral port: a load
//! with two block-policy subscribers and one drop-policy subscriber that
//! stops reading for a while, two publishers, and hostile clients at the
//! same time; then a second load to show the broker still serves.
#![cfg(not(corelane_loom))] // no io driver under the loom build

#[path = "../examples/broker/config.rs"]
mod config;
#[path = "../examples/broker/fanout.rs"]
mod fanout;
#[path = "common/io.rs"]
mod io_common;
#[path = "../examples/broker/load.rs"]
mod load;
#[allow(dead_code)]
#[path = "../examples/broker/server.rs"]
mod server;
#[path = "../examples/broker/wire.rs"]
mod wire;

use std::io::{Read, Write};
use std::sync::Arc;
use std::task::{Context, Waker};

use bytes::{Bytes, BytesMut};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use config::Config;
use load::{Shape, Stall};
use wire::{Code, Policy};

fn cfg() -> Config {
    Config {
        port: 0,
        topics: 2,
        // Small, so a paused drop-policy subscriber is lapped soon.
        ring: 64,
        heartbeat: Duration::from_millis(300),
        missed: 5,
        max_frame: 8192,
        cpus: vec![0],
        stats_every: None,
        run_for: None,
    }
}

/// Every frame the broker sends until it closes (or 10 s pass):
/// (kind, body).
fn frames_until_close(s: &mut TcpStream) -> Vec<(u8, Vec<u8>)> {
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let (mut buf, mut out) = (Vec::new(), Vec::new());
    let mut chunk = [0u8; 4096];
    while Instant::now() < deadline {
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::Interrupted
                ) => {}
            Err(_) => break,
        }
        while let Ok(Some((kind, total))) = wire::next_frame(&buf, u32::MAX) {
            out.push((kind, buf[wire::HEADER..total].to_vec()));
            buf.drain(..total);
        }
    }
    assert!(
        Instant::now() < deadline,
        "the broker never closed: {out:?}"
    );
    out
}

fn errors(frames: &[(u8, Vec<u8>)]) -> Vec<Code> {
    frames
        .iter()
        .filter(|(k, _)| *k == wire::ERROR)
        .map(|(_, b)| Code::from_u8(b[0]).expect("a known code"))
        .collect()
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = loop {
        match TcpStream::connect(addr) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => break other.unwrap(),
        }
    };
    s.set_nodelay(true).unwrap();
    s
}

/// Bad input of every kind the broker documents; each must end with the
/// right ERROR (and a close when fatal).
fn hostile(addr: SocketAddr) {
    // A zero length word.
    let mut s = connect(addr);
    s.write_all(&0u32.to_le_bytes()).unwrap();
    assert_eq!(errors(&frames_until_close(&mut s)), [Code::Malformed]);

    // Not our protocol at all: "GET " is a length of 0x20544547.
    let mut s = connect(addr);
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert_eq!(errors(&frames_until_close(&mut s)), [Code::Oversize]);

    // An unknown topic and a duplicate subscription are skipped (the
    // connection carries on); a kind only the broker sends is fatal.
    let mut s = connect(addr);
    let mut out = Vec::new();
    wire::publish(&mut out, 999, b"nobody");
    wire::subscribe(&mut out, wire::SUBSCRIBE, 1, Policy::Drop);
    wire::subscribe(&mut out, wire::SUBSCRIBE, 1, Policy::Block);
    wire::subscribe(&mut out, wire::SUBSCRIBE, 7, Policy::Block);
    wire::gap(&mut out, 1, 5);
    s.write_all(&out).unwrap();
    let f = frames_until_close(&mut s);
    assert_eq!(
        errors(&f),
        [
            Code::UnknownTopic,
            Code::Duplicate,
            Code::UnknownTopic,
            Code::UnknownKind
        ]
    );
    assert!(f
        .iter()
        .any(|(k, b)| *k == wire::SUBSCRIBED && b[..] == [1, 0, 1]));

    // A bad policy byte.
    let mut s = connect(addr);
    let mut out = Vec::new();
    wire::put_frame(&mut out, wire::SUBSCRIBE, &[0, 0, 9]);
    s.write_all(&out).unwrap();
    assert_eq!(errors(&frames_until_close(&mut s)), [Code::Malformed]);

    // Half a frame, then silence: heartbeats come, then ERROR Silent
    // after `missed` intervals, then the close.
    let mut s = connect(addr);
    let t = Instant::now();
    s.write_all(&[10, 0, 0, 0, wire::PUBLISH, 0]).unwrap();
    let f = frames_until_close(&mut s);
    assert_eq!(errors(&f), [Code::Silent]);
    assert!(
        f.iter().filter(|(k, _)| *k == wire::HEARTBEAT).count() >= 3,
        "{f:?}"
    );
    let cfg = cfg();
    assert!(t.elapsed() >= cfg.heartbeat * cfg.missed);

    // A client that connects and vanishes.
    drop(connect(addr));
}

#[test]
fn broker_serves_block_and_drop_subscribers_through_hostile_clients() {
    if io_common::skip() {
        return;
    }
    let broker = server::start(&cfg()).expect("broker starts");
    let addr = broker.addr;
    let bad = std::thread::spawn(move || hostile(addr));

    let shape = Shape {
        publishers: 2,
        subscribers: 3,
        size: 1024,
        rate: None,
        window: Duration::from_millis(1500),
        policy: Policy::Block,
        stall: Some(Stall {
            sub: 2,
            policy: Policy::Drop,
            after: Duration::from_millis(200),
            pause: Duration::from_millis(800),
        }),
    };
    let t = load::round(addr, &shape).expect("load round");
    bad.join().expect("hostile clients saw what they should");
    eprintln!(
        "published {} delivered {} per subscriber {:?}",
        t.published, t.delivered, t.per_sub
    );
    assert!(t.errors.is_empty(), "{:?}", t.errors);
    assert!(t.published > 1000, "only {} published", t.published);
    // Block: every message, in order (`lost` counts sequence jumps and the
    // tail never seen; `reordered` steps back).
    for (i, s) in t.per_sub[..2].iter().enumerate() {
        assert_eq!(
            (s.got, s.lost, s.reordered),
            (t.published, 0, 0),
            "block subscriber {i}"
        );
    }
    // Drop: lapped while paused, every skipped message announced by GAP.
    let d = &t.per_sub[2];
    assert!(
        d.gapped > 0,
        "the paused subscriber was never lapped: {d:?}"
    );
    assert_eq!(d.lost, d.gapped, "{d:?}");
    assert_eq!(d.got + d.lost, t.published, "{d:?}");
    assert_eq!(d.reordered, 0);

    // Still serving, and reconnecting subscribers start from now.
    let again = Shape {
        publishers: 1,
        subscribers: 2,
        size: 64,
        window: Duration::from_millis(200),
        stall: None,
        ..shape
    };
    let t2 = load::round(addr, &again).expect("second round");
    assert!(t2.errors.is_empty(), "{:?}", t2.errors);
    assert!(t2.published > 0);
    assert_eq!((t2.lost, t2.reordered), (0, 0));
    assert_eq!(t2.delivered, 2 * t2.published);

    let stats = broker.stats();
    assert!(stats[0].msgs_in >= t.published + t2.published);
    assert!(stats[0].msgs_out >= t.delivered + t2.delivered);
    assert!(stats[0].lagged > 0 && stats[0].drops >= d.gapped);
    let (_gone, fatal) = broker.ended();
    for code in [
        Code::Malformed,
        Code::Oversize,
        Code::UnknownKind,
        Code::Silent,
    ] {
        assert!(
            fatal[code as usize] >= 1,
            "no connection ended with {code:?}: {fatal:?}"
        );
    }
    broker.stop();
}

/// Zero-copy fan-out: every subscriber's next send holds the very
/// allocation its publisher's connection split off its arena (the
/// vectored send then hands the kernel these pointers).
#[test]
fn fan_out_sends_the_publishers_allocation_to_every_subscriber() {
    let topics = Arc::new(fanout::Topics::new(1, 64).unwrap());
    let mut subs: Vec<fanout::Subscriptions> = (0..3)
        .map(|_| fanout::Subscriptions::new(topics.clone()))
        .collect();
    subs[0].subscribe(0, Policy::Block).unwrap();
    subs[1].subscribe(0, Policy::Block).unwrap();
    subs[2].subscribe(0, Policy::Drop).unwrap();
    assert_eq!(subs[0].subscribe(0, Policy::Drop), Err(Code::Duplicate));
    assert_eq!(subs[0].subscribe(1, Policy::Drop), Err(Code::UnknownTopic));

    // Frames as a publisher's connection cuts them off its arena.
    let mut wire_bytes = Vec::new();
    for i in 0..10u8 {
        wire::publish(&mut wire_bytes, 0, &[i; 40]);
    }
    let mut arena = BytesMut::from(&wire_bytes[..]);
    let mut frames: Vec<Bytes> = Vec::new();
    while let Ok(Some((_, total))) = wire::next_frame(&arena, 1024) {
        frames.push(arena.split_to(total).freeze());
    }
    assert_eq!(frames.len(), 10);
    let mut pubs = fanout::Publishers::new(&topics);
    for f in &frames {
        assert!(matches!(
            pubs.push(&topics, 0, f.clone()),
            fanout::Pushed::Done
        ));
    }

    let mut cx = Context::from_waker(Waker::noop());
    for (i, s) in subs.iter_mut().enumerate() {
        let mut out = Vec::new();
        assert_eq!(s.gather(&mut out, 256, &mut cx), 10, "subscriber {i}");
        for (o, f) in out.iter().zip(&frames) {
            assert_eq!(o.as_ptr(), f.as_ptr(), "subscriber {i}: a copy");
            assert_eq!(o.len(), f.len());
        }
    }
    let st = &topics.stats()[0];
    assert_eq!((st.msgs_in, st.msgs_out, st.subscribers), (10, 30, 3));

    // A block-policy subscriber that reads nothing more holds the
    // publisher at one ring; a drop-policy one never does.
    subs.remove(1);
    let mut pushed = 0;
    while let fanout::Pushed::Done = pubs.push(&topics, 0, frames[0].clone()) {
        pushed += 1;
        assert!(pushed <= 64);
        let mut out = Vec::new();
        subs[1].gather(&mut out, 256, &mut cx); // the drop-policy one keeps up
    }
    assert_eq!(pushed, 64, "the block-policy cursor gates at one ring");
    drop(subs.remove(0)); // it leaves: the publisher runs free
    assert!(matches!(
        pubs.push(&topics, 0, frames[0].clone()),
        fanout::Pushed::Done
    ));
    assert_eq!(topics.stats()[0].subscribers, 1);
}
