//! The tokio reference broker's self-check (`broker --self-check`): a
//! broker on a free port checked with plain `std::net` clients.

#![allow(dead_code)]

use super::config::Config;
use super::tokio_ref::{start, Running, TopicStats};
use super::wire::{self, Code};
use corelane::topology::CpuId;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

/// A blocking client for [`self_check`]; it sends a HEARTBEAT whenever it
/// reads and has sent nothing for 50 ms.
struct Client {
    s: std::net::TcpStream,
    buf: Vec<u8>,
    sent: std::time::Instant,
}

impl Client {
    fn new(addr: SocketAddr) -> Result<Client, String> {
        let s = std::net::TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
        let _ = s.set_read_timeout(Some(Duration::from_secs(3)));
        Ok(Client {
            s,
            buf: Vec::new(),
            sent: std::time::Instant::now(),
        })
    }
    fn send(&mut self, b: &[u8]) -> Result<(), String> {
        self.sent = std::time::Instant::now();
        io::Write::write_all(&mut self.s, b).map_err(|e| format!("send: {e}"))
    }
    fn beat(&mut self) -> Result<(), String> {
        match self.sent.elapsed() < Duration::from_millis(50) {
            true => Ok(()),
            false => self.send(&frame(wire::HEARTBEAT, &[])),
        }
    }
    /// The next whole frame, header included; `None` at EOF.
    fn frame(&mut self) -> Result<Option<Vec<u8>>, String> {
        let mut tmp = [0u8; 65536];
        loop {
            if let Ok(Some((_, total))) = wire::next_frame(&self.buf, u32::MAX) {
                return Ok(Some(self.buf.drain(..total).collect()));
            }
            match io::Read::read(&mut self.s, &mut tmp) {
                Ok(0) if self.buf.is_empty() => return Ok(None),
                Ok(0) => return Err("EOF in the middle of a frame".into()),
                Ok(n) => self.buf.extend_from_slice(&tmp[..n]),
                Err(e) => return Err(format!("read: {e}")),
            }
        }
    }
    /// The next frame that is not a HEARTBEAT.
    fn next(&mut self) -> Result<Vec<u8>, String> {
        loop {
            self.beat()?;
            match self.frame()? {
                Some(f) if f[4] == wire::HEARTBEAT => {}
                Some(f) => return Ok(f),
                None => return Err("unexpected EOF".into()),
            }
        }
    }
    fn expect(&mut self, want: &[u8]) -> Result<(), String> {
        let f = self.next()?;
        let show = |f: &[u8]| format!("{:?}", &f[..f.len().min(24)]);
        check(f == want, &format!("got {}, want {}", show(&f), show(want)))
    }
    /// An ERROR of `code` (a fatal one if `None`), then EOF if fatal.
    fn error(&mut self, code: Option<Code>) -> Result<(), String> {
        let f = self.next()?;
        let got = f
            .get(5)
            .and_then(|&c| Code::from_u8(c))
            .filter(|_| f[4] == wire::ERROR);
        let fatal = got.is_some_and(Code::is_fatal);
        check(
            got.is_some() && (code.is_none() && fatal || got == code),
            &format!("{code:?}"),
        )?;
        if fatal {
            let _ = self.s.shutdown(std::net::Shutdown::Write); // ends the broker's drain
            check(self.frame()?.is_none(), "EOF after a fatal ERROR")?;
        }
        Ok(())
    }
}

fn frame(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    wire::put_frame(&mut v, kind, body);
    v
}

fn sub(kind: u8, topic: u16, p: wire::Policy) -> Vec<u8> {
    let mut v = Vec::new();
    wire::subscribe(&mut v, kind, topic, p);
    v
}

fn publish(topic: u16, seq: u64, len: usize) -> Vec<u8> {
    let (mut p, mut f) = (vec![0xa5; wire::STAMP + len], Vec::new());
    wire::stamp(&mut p, 7, seq, 0);
    wire::publish(&mut f, topic, &p);
    f
}

fn check(ok: bool, what: &str) -> Result<(), String> {
    ok.then_some(()).ok_or_else(|| format!("failed: {what}"))
}

/// Starts a broker on a free port and checks it with plain `std::net`
/// clients: subscribe replies, byte-for-byte delivery with exact GAP
/// accounting, counters, every kind of bad input (fatal ones close only
/// that connection), heartbeats, Silent, Stalled, and a bounded stop.
pub fn self_check() -> Result<(), String> {
    let allowed = corelane::topology::allowed_cpus().map_err(|e| e.to_string())?;
    let cfg = Config {
        port: 0,
        topics: 4,
        ring: 64,
        heartbeat: Duration::from_millis(100),
        missed: 4,
        cpus: allowed.iter().take(2).map(CpuId::get).collect(),
        run_for: Some(Duration::from_secs(60)),
        ..Config::default()
    };
    let run = start(&cfg).map_err(|e| format!("start: {e}"))?;
    let res = checks(&run, &cfg);
    let t = std::time::Instant::now();
    run.stop();
    res.and(check(
        t.elapsed() < Duration::from_secs(2),
        "stop within 2 s",
    ))
}

fn checks(run: &Running, cfg: &Config) -> Result<(), String> {
    use wire::Policy::{Block, Drop};
    use wire::{GAP, PUBLISH, SUBSCRIBE as SUB, SUBSCRIBED as ACK};
    let (stats, addr) = (|t: usize| run.stats()[t], run.addr);
    let mut s1 = Client::new(addr)?;
    s1.send(&sub(SUB, 1, Drop))?;
    s1.expect(&sub(ACK, 1, Drop))?;
    s1.send(&sub(SUB, 1, Drop))?;
    s1.error(Some(Code::Duplicate))?;
    s1.send(&sub(SUB, 9, Drop))?;
    s1.error(Some(Code::UnknownTopic))?;
    s1.send(&sub(SUB, 2, Block))?;
    s1.expect(&sub(ACK, 2, Block))?;

    // One write of 20000 publishes to topic 1 (a 64-slot ring: it lags),
    // 10 to topic 3 (no subscriber), one to 2, one to unknown topic 9.
    let n = 20_000;
    let sent: Vec<Vec<u8>> = (0..n).map(|s| publish(1, s, s as usize % 300)).collect();
    let mut all = sent.concat();
    (0..10).for_each(|s| all.extend(publish(3, s, 0)));
    all.extend([publish(2, 0, 0), publish(9, 0, 0)].concat());
    let mut pb = Client::new(addr)?;
    pb.send(&all)?;
    pb.error(Some(Code::UnknownTopic))?;
    // Every message arrives whole, in order, or is counted by a GAP.
    let (mut next, mut got, mut gaps, mut on2) = (0, 0, 0, false);
    while next < n || !on2 {
        let f = s1.next()?;
        match (f[4], wire::topic(&f[5..])) {
            (PUBLISH, Some(1)) => {
                check(f == sent[next as usize], "message == the publisher's frame")?;
                (next, got) = (next + 1, got + 1);
            }
            (GAP, Some(1)) => {
                let missed: [u8; 8] = f[7..15].try_into().map_err(|_| "short GAP")?;
                (next, gaps) = (next + u64::from_le_bytes(missed), gaps + 1);
            }
            (PUBLISH, Some(2)) => on2 = true,
            _ => return Err(format!("unexpected frame {:?}", &f[..f.len().min(24)])),
        }
    }
    let (drops, subscribers) = (n - got, 1);
    let want = TopicStats {
        topic: 1,
        msgs_in: n,
        msgs_out: got,
        drops,
        lagged: gaps,
        subscribers,
    };
    let t = std::time::Instant::now();
    while stats(1) != want && t.elapsed() < Duration::from_secs(1) {
        std::thread::sleep(Duration::from_millis(5));
    }
    check(
        stats(1) == want,
        &format!("topic 1 {:?} == {want:?}", stats(1)),
    )?;
    let no_sub = TopicStats {
        topic: 3,
        msgs_in: 10,
        drops: 10,
        ..TopicStats::default()
    };
    check(
        stats(3) == no_sub,
        &format!("topic 3 {:?} == {no_sub:?}", stats(3)),
    )?;
    println!("self-check: {got} of {n} delivered, {drops} skipped in {gaps} GAPs");

    // Bad input: each client gets its ERROR and EOF; the others go on.
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut garbage = Vec::with_capacity(100_000);
    for _ in 0..100_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        garbage.push(x as u8);
    }
    let (malformed, kind, too_long) = (
        Some(Code::Malformed),
        Some(Code::UnknownKind),
        cfg.max_frame + 1,
    );
    let cases: [(Vec<u8>, Option<Code>); 10] = [
        (vec![0, 0, 0, 0, 1, 2, 3], malformed),
        (too_long.to_le_bytes().into(), Some(Code::Oversize)),
        (frame(9, &[]), kind),
        (frame(GAP, &[0; 10]), kind),
        (frame(ACK, &[1, 0, 1]), kind),
        (frame(wire::ERROR, &[1]), kind),
        (frame(SUB, &[1, 0]), malformed),
        (frame(SUB, &[1, 0, 9]), malformed),
        (frame(PUBLISH, &[1]), malformed),
        (garbage, None),
    ];
    for (i, (bytes, code)) in cases.into_iter().enumerate() {
        let mut bad = Client::new(addr)?;
        bad.send(&bytes)?;
        bad.error(code).map_err(|e| format!("bad input {i}: {e}"))?;
        s1.beat()?;
    }
    let mut half = Client::new(addr)?;
    half.send(&[9, 0, 0, 0, 1, 1])?;
    let _ = half.s.shutdown(std::net::Shutdown::Write);
    check(half.frame()?.is_none(), "EOF after half a frame and EOF")?;
    Client::new(addr)?.send(&sent[0])?;
    s1.expect(&sent[0])?;
    drop((s1, pb));

    // Silence: HEARTBEATs every interval, then ERROR Silent and EOF.
    let (mut quiet, t, mut beats) = (Client::new(addr)?, std::time::Instant::now(), 0);
    let f = loop {
        match quiet.frame()? {
            Some(f) if f == frame(wire::HEARTBEAT, &[]) => beats += 1,
            Some(f) => break f,
            None => return Err("EOF before ERROR Silent".into()),
        }
    };
    let stall = cfg.heartbeat * cfg.missed;
    check(
        beats + 1 >= cfg.missed && t.elapsed() >= stall,
        "HEARTBEATs until Silent",
    )?;
    check(f[4..6] == [wire::ERROR, Code::Silent as u8], "ERROR Silent")?;
    check(quiet.frame()?.is_none(), "EOF after ERROR Silent")?;

    // Stall: a subscriber that sends HEARTBEATs but never reads, flooded
    // with 60 KB messages, is dropped; the flood's publisher is not.
    let mut slow = Client::new(addr)?;
    slow.send(&sub(SUB, 0, Drop))?;
    slow.expect(&sub(ACK, 0, Drop))?;
    let (mut flood, big, t) = (
        Client::new(addr)?,
        publish(0, 0, 60_000),
        std::time::Instant::now(),
    );
    while stats(0).subscribers > 0 {
        check(
            t.elapsed() < stall + Duration::from_secs(5),
            "the stalled subscriber dropped",
        )?;
        flood.send(&big)?;
        slow.beat()?;
        std::thread::sleep(Duration::from_millis(1));
    }
    let dropped_after = t.elapsed();
    check(
        dropped_after >= stall,
        "no Stalled before heartbeat × missed",
    )?;
    let mut s0 = Client::new(addr)?;
    s0.send(&sub(SUB, 0, Drop))?;
    s0.expect(&sub(ACK, 0, Drop))?;
    let last = publish(0, 1, 1);
    flood.send(&last)?;
    // Earlier floods may still be on their way; a lagging subscriber never
    // skips the last message.
    while s0.next()? != last {}
    // The stalled one reads what its buffers held, then EOF (or a cut frame).
    let (mut frames, mut error) = (0, false);
    let end = loop {
        match slow.frame() {
            Ok(Some(f)) => {
                (frames, error) = (frames + 1, error || f[4] == wire::ERROR);
                check(
                    f[4] != wire::ERROR || f[5] == Code::Stalled as u8,
                    "ERROR Stalled",
                )?;
            }
            Ok(None) => break "EOF".to_string(),
            Err(e) => break e,
        }
    };
    println!("self-check: a stalled subscriber dropped after {dropped_after:?}; it then read {frames} frames (ERROR Stalled among them: {error}), then {end}");
    Ok(())
}
