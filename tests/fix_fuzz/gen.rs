//! The seeded generator of hostile FIX peers: each call to [`script`]
//! returns the bytes one peer sends, what it does afterwards, and the
//! outcomes the acceptor may end that session with.
//!
//! Kinds (the first word of `Script::kind`): `good` (a whole session,
//! Logout at the end), `good+<tail>` (a good prefix of 20..500 frames, then
//! one hostile element), `pre-<x>` (hostile before or instead of the
//! Logon), `garbled` (a good session with one frame in ten carrying a bad
//! CheckSum: skipped, leaving gaps), `mutated` (a good session with random
//! bytes flipped: any outcome).

use bytes::BytesMut;
use corelane::session::codec::Codec;

use super::codec::FixCodec;
use super::mem::After;
use super::msg::*;

/// splitmix64.
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    /// True `pct` percent of the time.
    pub fn chance(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// The peer's CompID (the acceptor's TargetCompID).
pub const PEER: &[u8] = b"FUZZ";
/// The acceptor's CompID.
pub const US: &[u8] = b"CORELANE";

/// One hostile peer.
pub struct Script {
    /// What it does (for the tally).
    pub kind: &'static str,
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// Frames in them (well formed or not).
    pub frames: u64,
    /// What it does afterwards.
    pub after: After,
    /// Delivery chunk size.
    pub chunk: usize,
    /// Stops reading after this many of our frames.
    pub deaf_after: Option<u64>,
    /// The outcome kinds allowed (empty: any typed outcome).
    pub expect: &'static [&'static str],
    /// Valid orders in a `good` session (the venue must have seen them all).
    pub orders: Option<u64>,
    /// Hand the bytes over one chunk per this interval.
    pub drip: Option<std::time::Duration>,
    /// The session must end within this long.
    pub within: Option<std::time::Duration>,
}

/// Writes a peer's frames with consecutive MsgSeqNums.
struct W {
    codec: FixCodec,
    out: BytesMut,
    seq: u64,
    frames: u64,
    orders: u64,
}

fn id(s: &[u8]) -> Id {
    Id::new(s).unwrap_or(Id::EMPTY)
}

impl W {
    fn new() -> W {
        W {
            codec: FixCodec::new(64 * 1024),
            out: BytesMut::new(),
            seq: 1,
            frames: 0,
            orders: 0,
        }
    }

    fn header(&mut self, seq: u64) -> Header {
        Header {
            seq,
            poss_dup: false,
            sender: CompId::new(PEER).unwrap_or(CompId::EMPTY),
            target: CompId::new(US).unwrap_or(CompId::EMPTY),
            sending_time: UtcMillis(1_780_000_000_000),
            orig_sending_time: None,
        }
    }

    /// Encodes `m` (whose header has the next MsgSeqNum).
    fn put(&mut self, m: FixMsg) {
        let label = m.label().unwrap_or(UNKNOWN);
        if self.codec.encode(label, m, &mut self.out).is_ok() {
            self.frames += 1;
        }
    }

    fn next_hdr(&mut self) -> Header {
        let h = self.header(self.seq);
        self.seq += 1;
        h
    }

    fn logon(&mut self, hb: u32) {
        let hdr = self.next_hdr();
        let body = Logon {
            heart_bt_int: hb,
            reset_seq_num: true,
        };
        self.put(FixMsg::Logon(Fix { hdr, body }));
    }

    fn logout(&mut self) {
        let hdr = self.next_hdr();
        let body = Logout { text: None };
        self.put(FixMsg::Logout(Fix { hdr, body }));
    }

    /// One message of a good session.
    fn activity(&mut self, rng: &mut Rng) {
        let hdr = self.next_hdr();
        let m = match rng.below(200) {
            0..=59 => FixMsg::Heartbeat(Fix {
                hdr,
                body: Heartbeat {
                    test_req_id: rng.chance(20).then(|| id(b"T")),
                },
            }),
            60..=89 => FixMsg::TestRequest(Fix {
                hdr,
                body: TestRequest {
                    test_req_id: id(format!("T{}", rng.below(1000)).as_bytes()),
                },
            }),
            90..=179 => {
                let n = rng.below(1_000_000);
                let qty = if rng.chance(10) {
                    0
                } else {
                    1 + rng.below(500)
                };
                self.orders += 1;
                FixMsg::NewOrderSingle(Fix {
                    hdr,
                    body: NewOrderSingle {
                        cl_ord_id: id(format!("F{n}").as_bytes()),
                        symbol: Symbol::new(b"FZ").unwrap_or(Symbol::EMPTY),
                        side: if rng.chance(50) {
                            side::BUY
                        } else {
                            side::SELL
                        },
                        qty,
                        ord_type: ord_type::LIMIT,
                        price: Some(Price(1 + rng.below(1 << 30) as i64)),
                        transact_time: UtcMillis(1_780_000_000_000),
                    },
                })
            }
            180..=189 => FixMsg::Reject(Fix {
                hdr,
                body: Reject {
                    ref_seq: rng.below(100),
                    reason: Some(5),
                    text: Some(Text::lossy(b"fuzz")),
                },
            }),
            190..=197 => {
                // A gap fill over nothing: NewSeqNo = the next number.
                let new_seq = hdr.seq + 1;
                FixMsg::SequenceReset(Fix {
                    hdr,
                    body: SequenceReset {
                        gap_fill: true,
                        new_seq,
                    },
                })
            }
            _ => {
                let begin = 1 + rng.below(30);
                FixMsg::ResendRequest(Fix {
                    hdr,
                    body: ResendRequest {
                        begin,
                        end: begin + rng.below(10),
                    },
                })
            }
        };
        self.put(m);
    }

    /// A frame with a correct BodyLength and CheckSum around `body`.
    fn framed(&mut self, body: &[u8]) {
        let start = self.out.len();
        self.out.extend_from_slice(b"8=FIX.4.4\x019=");
        self.out
            .extend_from_slice(body.len().to_string().as_bytes());
        self.out.extend_from_slice(b"\x01");
        self.out.extend_from_slice(body);
        let sum = self.out[start..]
            .iter()
            .fold(0u8, |a, &b| a.wrapping_add(b));
        self.out
            .extend_from_slice(format!("10={sum:03}\x01").as_bytes());
        self.frames += 1;
    }

    /// A heartbeat whose CheckSum is wrong (it uses up a MsgSeqNum the
    /// peer never resends).
    fn garbled(&mut self) {
        let start = self.out.len();
        let hdr = self.next_hdr();
        self.put(FixMsg::Heartbeat(Fix {
            hdr,
            body: Heartbeat { test_req_id: None },
        }));
        let at = self.out.len() - 2;
        if at > start {
            self.out[at] = if self.out[at] == b'0' { b'1' } else { b'0' };
        }
    }

    fn done(self, kind: &'static str, after: After, expect: &'static [&'static str]) -> Script {
        Script {
            kind,
            bytes: self.out.to_vec(),
            frames: self.frames,
            after,
            chunk: usize::MAX,
            deaf_after: None,
            expect,
            orders: None,
            drip: None,
            within: None,
        }
    }
}

/// The next hostile peer.
pub fn script(rng: &mut Rng) -> Script {
    let mut s = match rng.below(100) {
        0..=9 => good(rng),
        10..=54 => good_then(rng),
        55..=74 => before_logon(rng),
        75..=84 => garbled(rng),
        _ => mutated(rng),
    };
    if s.drip.is_none() {
        s.chunk = match rng.below(10) {
            0 => 1 + rng.below(16) as usize,
            1..=2 => 64 + rng.below(512) as usize,
            _ => usize::MAX,
        };
    }
    s
}

fn good_prefix(rng: &mut Rng, min: u64, max: u64) -> W {
    let mut w = W::new();
    w.logon(1 + rng.below(3) as u32);
    for _ in 0..min + rng.below(max - min) {
        w.activity(rng);
    }
    w
}

fn good(rng: &mut Rng) -> Script {
    let mut w = good_prefix(rng, 5, 300);
    w.logout();
    let orders = w.orders;
    let mut s = w.done("good", After::Silence, &["logged-out"]);
    s.orders = Some(orders);
    s
}

fn good_then(rng: &mut Rng) -> Script {
    let mut w = good_prefix(rng, 20, 500);
    match rng.below(14) {
        0 => {
            let hdr = w.next_hdr();
            let m = match rng.below(3) {
                0 => FixMsg::Logon(Fix {
                    hdr,
                    body: Logon {
                        heart_bt_int: 1,
                        reset_seq_num: false,
                    },
                }),
                1 => FixMsg::Unknown(Fix {
                    hdr,
                    body: Unknown {
                        msg_type: Str::new(b"AE").unwrap_or(Str::EMPTY),
                    },
                }),
                _ => FixMsg::ExecutionReport(Fix {
                    hdr,
                    body: ExecutionReport {
                        order_id: id(b"O"),
                        exec_id: id(b"E"),
                        cl_ord_id: id(b"C"),
                        exec_type: exec_type::NEW,
                        ord_status: ord_status::NEW,
                        symbol: Symbol::new(b"X").unwrap_or(Symbol::EMPTY),
                        side: side::BUY,
                        qty: 1,
                        last_qty: 0,
                        last_px: None,
                        leaves_qty: 1,
                        cum_qty: 0,
                        avg_px: Price(0),
                        text: None,
                    },
                }),
            };
            w.put(m);
            w.done("good+wrong-msgtype", After::Silence, &["violation"])
        }
        1 => {
            let seq = 1 + rng.below(w.seq - 1);
            let hdr = w.header(seq);
            w.put(FixMsg::Heartbeat(Fix {
                hdr,
                body: Heartbeat { test_req_id: None },
            }));
            w.done("good+seq-too-low", After::Silence, &["seq-too-low"])
        }
        2 => {
            let mut hdr = w.next_hdr();
            hdr.sender = CompId::new(b"INTRUDER").unwrap_or(CompId::EMPTY);
            w.put(FixMsg::Heartbeat(Fix {
                hdr,
                body: Heartbeat { test_req_id: None },
            }));
            w.done("good+wrong-comp-id", After::Silence, &["wrong-comp-id"])
        }
        3 => {
            let body = format!(
                "35=0\x0134=x{}\x0149=FUZZ\x0156=CORELANE\x0152=2026\x01",
                w.seq
            );
            w.framed(body.as_bytes());
            w.done("good+bad-field", After::Silence, &["malformed"])
        }
        4 => {
            w.out
                .extend_from_slice(b"8=FIX.4.4\x019=9999999\x0135=0\x01");
            w.frames += 1;
            w.done("good+huge-length", After::Silence, &["malformed"])
        }
        5 => {
            let start = w.out.len();
            w.activity(rng);
            let len = w.out.len() - start;
            w.out
                .truncate(start + 1 + rng.below(len as u64 - 1) as usize);
            w.done("good+mid-frame-close", After::Close, &["malformed"])
        }
        6 => w.done("good+silence", After::Silence, &["timeout"]),
        7 => w.done("good+close", After::Close, &["closed"]),
        8 => {
            for _ in 0..=super::codec::MAX_GARBLED {
                w.garbled();
            }
            w.done("good+garbled-run", After::Silence, &["malformed"])
        }
        9 => {
            let junk = rng.bytes(super::codec::MAX_JUNK + 1024);
            w.out.extend_from_slice(&junk);
            w.done("good+junk", After::Silence, &["malformed"])
        }
        10 => {
            let n = 1 + rng.below(2000) as usize;
            let junk = rng.bytes(n);
            w.out.extend_from_slice(&junk);
            w.frames += 1;
            w.done("good+random-tail", After::Close, &[])
        }
        11 => {
            for _ in 0..200 {
                let hdr = w.next_hdr();
                w.put(FixMsg::NewOrderSingle(Fix { hdr, body: order() }));
            }
            let mut s = w.done("good+deaf", After::Silence, &["overload", "timeout"]);
            s.deaf_after = Some(1 + rng.below(3));
            s
        }
        12 => deaf_trickle(200),
        _ => {
            let mut s = w.done("good+mutated-tail", After::Close, &[]);
            let n = s.bytes.len() as u64;
            for _ in 0..1 + rng.below(5) {
                let at = (n * 3 / 4 + rng.below(n / 4)) as usize;
                s.bytes[at] = rng.next() as u8;
            }
            s
        }
    }
}

/// A peer that trickles `n` heartbeats, one per millisecond (well inside
/// its HeartBtInt of 3), but never reads after our first frame.
pub fn deaf_trickle(n: usize) -> Script {
    let mut w = W::new();
    w.logon(3);
    let start = w.out.len();
    for _ in 0..n {
        let hdr = w.next_hdr();
        let body = Heartbeat { test_req_id: None };
        w.put(FixMsg::Heartbeat(Fix { hdr, body }));
    }
    let per = (w.out.len() - start) / n.max(1);
    let mut s = w.done("good+deaf-trickle", After::Silence, &["timeout"]);
    (s.deaf_after, s.drip) = (Some(1), Some(std::time::Duration::from_millis(1)));
    s.chunk = per;
    s
}

fn order() -> NewOrderSingle {
    NewOrderSingle {
        cl_ord_id: id(b"D"),
        symbol: Symbol::new(b"FZ").unwrap_or(Symbol::EMPTY),
        side: side::BUY,
        qty: 10,
        ord_type: ord_type::LIMIT,
        price: Some(Price(10)),
        transact_time: UtcMillis(1_780_000_000_000),
    }
}

fn before_logon(rng: &mut Rng) -> Script {
    let mut w = W::new();
    match rng.below(10) {
        0 => {
            let n = 1 + rng.below(300) as usize;
            let junk = rng.bytes(n);
            w.out.extend_from_slice(&junk);
            w.frames += 1;
            let after = if rng.chance(50) {
                After::Close
            } else {
                After::Silence
            };
            w.done(
                "pre-random-bytes",
                after,
                &["malformed", "closed", "timeout"],
            )
        }
        1 => {
            w.activity(rng);
            w.done("pre-wrong-first-message", After::Silence, &["violation"])
        }
        2 => {
            w.logon(if rng.chance(50) {
                0
            } else {
                301 + rng.below(1000) as u32
            });
            w.done("pre-bad-heartbeat", After::Silence, &["refused"])
        }
        3 => {
            let hdr = {
                let mut h = w.next_hdr();
                h.target = CompId::new(b"SOMEONE").unwrap_or(CompId::EMPTY);
                h
            };
            let body = Logon {
                heart_bt_int: 1,
                reset_seq_num: true,
            };
            w.put(FixMsg::Logon(Fix { hdr, body }));
            w.done("pre-wrong-comp-id", After::Silence, &["wrong-comp-id"])
        }
        4 => {
            w.out.extend_from_slice(b"8=FIX.4.4\x019=1000000\x01");
            w.frames += 1;
            w.done("pre-huge-length", After::Silence, &["malformed"])
        }
        5 => w.done("pre-silence", After::Silence, &["timeout"]),
        6 => w.done("pre-close", After::Close, &["closed"]),
        7 => {
            w.logon(1);
            let n = w.out.len() as u64;
            w.out.truncate(1 + rng.below(n - 1) as usize);
            w.done("pre-truncated-logon", After::Close, &["malformed"])
        }
        8 => {
            w.logon(1);
            w.done("pre-logon-then-close", After::Close, &["closed"])
        }
        _ => {
            // Never reads: not even the Logon answer goes out.
            w.logon(1);
            let mut s = w.done("pre-deaf", After::Silence, &["timeout"]);
            s.deaf_after = Some(0);
            s
        }
    }
}

fn garbled(rng: &mut Rng) -> Script {
    let mut w = W::new();
    w.logon(1 + rng.below(3) as u32);
    for _ in 0..10 + rng.below(300) {
        if rng.chance(10) {
            w.garbled();
        } else {
            w.activity(rng);
        }
    }
    w.logout();
    w.done("garbled", After::Silence, &["logged-out"])
}

fn mutated(rng: &mut Rng) -> Script {
    let mut w = good_prefix(rng, 5, 200);
    w.logout();
    let mut s = w.done("mutated", After::Close, &[]);
    let n = s.bytes.len() as u64;
    for _ in 0..1 + rng.below(8) {
        let at = rng.below(n) as usize;
        s.bytes[at] = rng.next() as u8;
    }
    s
}
