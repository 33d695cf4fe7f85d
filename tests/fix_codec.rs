//! The FIX codec and session state of `examples/fix_session.rs`, without
//! sockets: frames written by QuickFIX 1.15 (copied from its message logs
//! during the interop test) decode to what they say, our frames carry a
//! BodyLength and CheckSum recomputed here independently, garbled and
//! hostile input is skipped or refused within the documented bounds, and
//! the sequence-number rules beside the session type hold.
#![cfg(not(corelane_loom))]

#[allow(dead_code)]
#[path = "../examples/fix/codec.rs"]
mod codec;
#[allow(dead_code)]
#[path = "../examples/fix/msg.rs"]
mod msg;
#[allow(dead_code)]
#[path = "../examples/fix/outcome.rs"]
mod outcome;
#[allow(dead_code)]
#[path = "../examples/fix/proto.rs"]
mod proto;
#[allow(dead_code)]
#[path = "../examples/fix/state.rs"]
mod state;
#[allow(dead_code)]
#[path = "../examples/fix/wire.rs"]
mod wire;

use std::time::{Duration, Instant};

use bytes::BytesMut;
use codec::{FixCodec, MAX_GARBLED, MAX_JUNK};
use corelane::session::codec::Codec;
use corelane::session::Error;
use msg::*;
use proto::Incoming;
use state::{Config, Duty, Outcome, Replay, State, Verdict};

/// Frames QuickFIX 1.15 wrote (SOH shown as `|`).
const QUICKFIX: [&str; 10] = [
    "8=FIX.4.4|9=74|35=A|34=1|49=QFINIT|52=20261205-12:36:00.603|56=CORELANE|98=0|108=1|141=Y|10=007|",
    "8=FIX.4.4|9=57|35=0|34=2|49=QFINIT|52=20261205-12:36:01.605|56=CORELANE|10=231|",
    "8=FIX.4.4|9=69|35=1|34=4|49=QFINIT|52=20261205-12:36:03.107|56=CORELANE|112=QF-TR-1|10=134|",
    "8=FIX.4.4|9=101|35=4|34=25|43=Y|49=QFINIT|52=20261205-12:36:03.110|56=CORELANE|122=20261205-12:36:03.110|36=40|123=Y|10=106|",
    "8=FIX.4.4|9=66|35=5|34=49|49=QFINIT|52=20261205-12:36:13.114|56=CORELANE|58=done|10=118|",
    "8=FIX.4.4|9=121|35=D|34=5|49=QFINIT|52=20261205-12:36:03.108|56=CORELANE|11=C0|21=1|38=100|40=2|44=100|54=1|55=CLNE|60=20261205-12:36:03|10=248|",
    "8=FIX.4.4|9=123|35=D|34=30|49=QFINIT|52=20261205-12:36:03.109|56=CORELANE|11=C20|21=1|38=106|40=2|44=105|54=1|55=CLNE|60=20261205-12:36:03|10=102|",
    "8=FIX.4.4|9=137|35=8|34=4|49=QFACC|52=20261205-12:37:12.645|56=CORELANE|6=100|11=C0|14=50|17=X2|31=100|32=50|37=Q1|38=100|39=1|54=1|55=CLNE|150=F|151=50|10=122|",
    "8=FIX.4.4|9=143|35=8|34=7|49=QFACC|52=20261205-12:37:12.645|56=CORELANE|6=100.25|11=C1|14=50|17=X5|31=100.25|32=50|37=Q2|38=101|39=1|54=2|55=CLNE|150=F|151=51|10=172|",
    // Ours, as QuickFIX logged it on receipt.
    "8=FIX.4.4|9=68|35=2|49=CORELANE|56=QFINIT|34=61|52=20261205-12:36:03.109|7=25|16=0|10=210|",
];

fn soh(s: &str) -> Vec<u8> {
    s.bytes().map(|b| if b == b'|' { 1 } else { b }).collect()
}

fn decode_all(c: &mut FixCodec, bytes: &[u8]) -> Result<Vec<(u8, FixMsg)>, Error> {
    let mut buf = BytesMut::from(bytes);
    let mut out = Vec::new();
    while let Some(m) = c.decode(&mut buf)? {
        out.push(m);
    }
    Ok(out)
}

fn one(s: &str) -> (u8, FixMsg) {
    let mut got = decode_all(&mut FixCodec::default(), &soh(s)).expect("decodes");
    assert_eq!(got.len(), 1, "{s}");
    got.remove(0)
}

/// BodyLength and CheckSum of a frame, recomputed from its bytes.
fn check_frame(f: &[u8]) {
    let s = std::str::from_utf8(f).expect("ASCII");
    let body_start = s.find("\u{1}35=").expect("MsgType") + 1;
    let trailer = s.rfind("10=").expect("CheckSum");
    let declared: usize = s["8=FIX.4.4\u{1}9=".len()..body_start - 1]
        .parse()
        .expect("digits");
    assert_eq!(declared, trailer - body_start, "BodyLength of {s:?}");
    let sum = f[..trailer].iter().map(|&b| u32::from(b)).sum::<u32>() % 256;
    assert_eq!(
        &s[trailer + 3..trailer + 6],
        format!("{sum:03}"),
        "CheckSum of {s:?}"
    );
    assert!(s.ends_with('\u{1}'));
}

#[test]
fn quickfix_frames_decode_to_what_they_say() {
    for s in QUICKFIX {
        check_frame(&soh(s)); // the table itself is well formed
    }
    let (l, m) = one(QUICKFIX[0]);
    assert_eq!(l, label::LOGON);
    let FixMsg::Logon(m) = m else { panic!("{m:?}") };
    assert_eq!((m.body.heart_bt_int, m.body.reset_seq_num), (1, true));
    assert_eq!(
        (m.hdr.seq, m.hdr.sender.as_str(), m.hdr.target.as_str()),
        (1, "QFINIT", "CORELANE")
    );
    assert_eq!(
        m.hdr.sending_time,
        wire::parse_time(b"20261205-12:36:00.603").unwrap()
    );
    let (l, m) = one(QUICKFIX[2]);
    assert_eq!(l, label::TEST_REQUEST);
    let FixMsg::TestRequest(m) = m else { panic!() };
    assert_eq!(m.body.test_req_id.as_str(), "QF-TR-1");
    let (l, m) = one(QUICKFIX[3]);
    assert_eq!(l, label::SEQUENCE_RESET);
    let FixMsg::SequenceReset(m) = m else {
        panic!()
    };
    assert!(m.hdr.poss_dup && m.body.gap_fill && m.hdr.orig_sending_time.is_some());
    assert_eq!((m.hdr.seq, m.body.new_seq), (25, 40));
    let (_, m) = one(QUICKFIX[4]);
    let FixMsg::Logout(m) = m else { panic!() };
    assert_eq!(m.body.text.map(|t| t.to_string()).as_deref(), Some("done"));
    let (l, m) = one(QUICKFIX[6]);
    assert_eq!(l, label::NEW_ORDER_SINGLE);
    let FixMsg::NewOrderSingle(o) = m else {
        panic!()
    };
    assert_eq!(
        (o.body.cl_ord_id.as_str(), o.body.qty, o.body.side),
        ("C20", 106, side::BUY)
    );
    assert_eq!(o.body.price, Some(Price(105 * Price::SCALE)));
    let (l, m) = one(QUICKFIX[8]);
    assert_eq!(l, label::EXECUTION_REPORT);
    let FixMsg::ExecutionReport(r) = m else {
        panic!()
    };
    let r = r.body;
    assert_eq!(
        (r.exec_type, r.ord_status),
        (exec_type::TRADE, ord_status::PARTIALLY_FILLED)
    );
    assert_eq!(
        (r.last_qty, r.cum_qty, r.leaves_qty, r.qty),
        (50, 50, 51, 101)
    );
    assert_eq!(
        (r.avg_px, r.last_px),
        (Price(1_002_500), Some(Price(1_002_500)))
    );
    let (l, m) = one(QUICKFIX[9]);
    assert_eq!(l, label::RESEND_REQUEST);
    let FixMsg::ResendRequest(m) = m else {
        panic!()
    };
    assert_eq!((m.body.begin, m.body.end), (25, 0));
}

#[test]
fn round_trip_through_our_encoding() {
    for s in QUICKFIX {
        let (l, m) = one(s);
        let mut out = BytesMut::new();
        FixCodec::default().encode(l, m, &mut out).expect("encodes");
        check_frame(&out);
        let again = decode_all(&mut FixCodec::default(), &out).expect("decodes");
        let (l2, m2) = &again[0];
        assert_eq!(*l2, l);
        assert_eq!(format!("{m2:?}"), format!("{:?}", one(s).1), "{s}");
    }
}

#[test]
fn the_label_must_be_the_msg_type() {
    let (_, m) = one(QUICKFIX[1]);
    let r = FixCodec::default().encode(label::TEST_REQUEST, m, &mut BytesMut::new());
    assert!(matches!(r, Err(Error::Malformed(_))));
}

#[test]
fn partial_frames_wait_and_byte_at_a_time_works() {
    let all: Vec<u8> = QUICKFIX.iter().flat_map(|s| soh(s)).collect();
    let mut c = FixCodec::default();
    let mut buf = BytesMut::new();
    let mut n = 0;
    for &b in &all {
        buf.extend_from_slice(&[b]);
        while c.decode(&mut buf).expect("no error").is_some() {
            n += 1;
        }
    }
    assert_eq!(n, QUICKFIX.len());
    assert!(buf.is_empty());
}

#[test]
fn garbled_frames_are_skipped_and_the_next_one_decodes() {
    let good = soh(QUICKFIX[1]);
    let mut bad_sum = good.clone();
    let at = bad_sum.len() - 2;
    bad_sum[at] = if bad_sum[at] == b'9' { b'0' } else { b'9' };
    let mut bad_len = soh(QUICKFIX[2]);
    bad_len[13] = b'8'; // 9=69 -> 9=89: lands past the trailer
    let mut input = b"garbage before".to_vec();
    input.extend(&bad_sum);
    input.extend(&bad_len);
    input.extend(&good);
    let mut c = FixCodec::default();
    let got = decode_all(&mut c, &input).expect("garbled frames are not errors");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, label::HEARTBEAT);
    assert!(c.stats.garbled >= 2, "{:?}", c.stats);
    assert!(c.stats.junk >= 14);
}

#[test]
fn hostile_input_is_refused_within_bounds() {
    let mut c = FixCodec::default();
    let huge = soh("8=FIX.4.4|9=99999999|35=0|");
    assert!(matches!(
        decode_all(&mut c, &huge),
        Err(Error::Malformed(_))
    ));
    let junk = vec![b'x'; MAX_JUNK + 10];
    assert!(matches!(
        decode_all(&mut FixCodec::default(), &junk),
        Err(Error::Malformed(_))
    ));
    let mut bad = soh(QUICKFIX[1]);
    let at = bad.len() - 2;
    bad[at] ^= 1;
    let many: Vec<u8> = (0..=MAX_GARBLED).flat_map(|_| bad.clone()).collect();
    assert!(matches!(
        decode_all(&mut FixCodec::default(), &many),
        Err(Error::Malformed(_))
    ));
    // A frame that checks out but lacks MsgSeqNum.
    let mut no_seq = b"8=FIX.4.4\x019=".to_vec();
    let body = b"35=0\x0149=A\x0156=B\x0152=20260101-00:00:00\x01";
    no_seq.extend(body.len().to_string().bytes());
    no_seq.push(1);
    no_seq.extend(body);
    let sum = no_seq.iter().map(|&b| u32::from(b)).sum::<u32>() % 256;
    no_seq.extend(format!("10={sum:03}\x01").bytes());
    check_frame(&no_seq);
    assert!(matches!(
        decode_all(&mut FixCodec::default(), &no_seq),
        Err(Error::Malformed(_))
    ));
}

#[test]
fn unknown_msg_types_get_the_unknown_label() {
    let mut f = b"8=FIX.4.4\x019=".to_vec();
    let body = b"35=AE\x0134=2\x0149=A\x0156=B\x0152=20260101-00:00:00\x01";
    f.extend(body.len().to_string().bytes());
    f.push(1);
    f.extend(body);
    let sum = f.iter().map(|&b| u32::from(b)).sum::<u32>() % 256;
    f.extend(format!("10={sum:03}\x01").bytes());
    let got = decode_all(&mut FixCodec::default(), &f).expect("decodes");
    assert_eq!(got[0].0, UNKNOWN);
    assert!(matches!(&got[0].1, FixMsg::Unknown(u) if u.body.msg_type.as_str() == "AE"));
}

#[test]
fn timestamps_and_prices() {
    for s in [
        "19700101-00:00:00",
        "20000229-23:59:59.999",
        "20261205-12:36:00.603",
        "21000301-01:02:03.004",
    ] {
        let t = wire::parse_time(s.as_bytes()).expect(s);
        let mut out = Vec::new();
        wire::put_time(&mut out, t);
        let back = wire::parse_time(&out).expect("ours parses");
        assert_eq!(back, t, "{s}");
    }
    assert_eq!(
        wire::parse_time(b"20261205-12:36:00.603123").unwrap().0 % 1000,
        603
    );
    for bad in [
        "20260230-00:00:00",
        "20261305-00:00:00",
        "2026120512:36:00",
        "20261205-24:00:00",
    ] {
        assert!(wire::parse_time(bad.as_bytes()).is_err(), "{bad}");
    }
    for (s, p) in [
        ("100", 1_000_000),
        ("100.25", 1_002_500),
        ("-0.5", -5000),
        ("1.00000", 10_000),
    ] {
        assert_eq!(wire::parse_price(s.as_bytes()), Ok(Price(p)), "{s}");
        let mut out = Vec::new();
        wire::put_price(&mut out, Price(p));
        assert_eq!(wire::parse_price(&out), Ok(Price(p)));
    }
    for bad in ["1.00001", "", "-", "1e5", "12345678901234"] {
        assert!(wire::parse_price(bad.as_bytes()).is_err(), "{bad}");
    }
}

// ----- the state beside the type ---------------------------------------------------

fn cid(s: &str) -> CompId {
    CompId::new(s.as_bytes()).unwrap()
}

fn state() -> State {
    let mut st = State::new(Config::new(cid("US"), cid("THEM")), Instant::now());
    st.on_logon(1, Instant::now());
    st
}

fn hb(seq: u64, poss_dup: bool) -> Incoming {
    Incoming::Heartbeat(Fix {
        hdr: Header {
            seq,
            poss_dup,
            sender: cid("THEM"),
            target: cid("US"),
            sending_time: UtcMillis(0),
            orig_sending_time: None,
        },
        body: Heartbeat { test_req_id: None },
    })
}

fn duties(st: &mut State) -> Vec<Duty> {
    std::iter::from_fn(|| st.next_duty()).collect()
}

#[test]
fn a_gap_asks_for_a_resend_once_and_a_low_number_ends_the_session() {
    let mut st = state();
    let now = Instant::now();
    assert_eq!(st.on_incoming(&hb(1, false), now), Verdict::Process);
    assert_eq!(st.on_incoming(&hb(4, false), now), Verdict::Ignore);
    assert_eq!(st.on_incoming(&hb(5, false), now), Verdict::Ignore);
    assert_eq!(duties(&mut st), [Duty::ResendRequest(2)]);
    for seq in 2..=5 {
        assert_eq!(st.on_incoming(&hb(seq, true), now), Verdict::Process);
    }
    assert_eq!(st.on_incoming(&hb(3, true), now), Verdict::Ignore); // a duplicate
    assert_eq!(st.on_incoming(&hb(3, false), now), Verdict::End);
    assert_eq!(
        st.outcome(),
        Some(&Outcome::SeqTooLow {
            expected: 6,
            got: 3
        })
    );
    assert!(matches!(duties(&mut st)[..], [Duty::Logout(Some(_))]));
}

#[test]
fn wrong_comp_ids_end_the_session() {
    let mut st = state();
    let Incoming::Heartbeat(mut m) = hb(1, false) else {
        unreachable!()
    };
    m.hdr.sender = cid("SOMEONE");
    assert_eq!(
        st.on_incoming(&Incoming::Heartbeat(m), Instant::now()),
        Verdict::End
    );
    assert_eq!(st.outcome(), Some(&Outcome::WrongCompId));
}

#[test]
fn replay_resends_stored_messages_and_gap_fills_the_rest() {
    let mut st = state();
    let now = UtcMillis(1);
    st.stamp(now); // 1: admin
    let order = App::Order(msg_order());
    st.stamp_app(&order, now); // 2
    st.stamp(now); // 3
    st.stamp(now); // 4
    st.stamp_app(&order, now); // 5
    let end = st.replay_end(0);
    assert_eq!(end, 5);
    let mut from = 1;
    let mut plan = Vec::new();
    while let Some(r) = st.replay(from, end) {
        from = match r {
            Replay::App(seq, _, _) => seq + 1,
            Replay::GapFill(_, new) => new,
        };
        plan.push(r);
    }
    assert_eq!(
        plan,
        [
            Replay::GapFill(1, 2),
            Replay::App(2, now, order),
            Replay::GapFill(3, 5),
            Replay::App(5, now, order)
        ]
    );
}

fn msg_order() -> NewOrderSingle {
    NewOrderSingle {
        cl_ord_id: Id::new(b"C1").unwrap(),
        symbol: Symbol::new(b"X").unwrap(),
        side: side::BUY,
        qty: 1,
        ord_type: ord_type::LIMIT,
        price: Some(Price(1)),
        transact_time: UtcMillis(0),
    }
}

#[test]
fn silence_probes_then_ends() {
    let mut st = state();
    let t0 = Instant::now();
    let d1 = st.rx_deadline();
    assert!(d1 >= t0 + Duration::from_millis(1400));
    st.on_silence(d1);
    assert!(matches!(duties(&mut st)[..], [Duty::TestRequest(_)]));
    assert_eq!(st.outcome(), None);
    let d2 = st.rx_deadline();
    assert!(d2 > d1);
    st.on_silence(d2);
    assert_eq!(
        st.outcome(),
        Some(&Outcome::Timeout("no answer to a TestRequest"))
    );
}

#[test]
fn a_reset_may_not_lower_the_expected_number() {
    let mut st = state();
    let now = Instant::now();
    let reset = |new_seq| {
        Incoming::SequenceReset(Fix {
            hdr: match hb(1, false) {
                Incoming::Heartbeat(m) => m.hdr,
                _ => unreachable!(),
            },
            body: SequenceReset {
                gap_fill: false,
                new_seq,
            },
        })
    };
    assert_eq!(st.on_incoming(&reset(10), now), Verdict::Ignore);
    assert_eq!(st.next_in(), 10);
    assert_eq!(st.on_incoming(&reset(5), now), Verdict::Ignore);
    assert!(matches!(duties(&mut st)[..], [Duty::Reject(1, 5, _)]));
    assert_eq!(st.next_in(), 10);
}
