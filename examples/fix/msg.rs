//! The FIX 4.4 messages the example speaks, as plain values: no field is
//! heap-allocated (strings are inline and capped), so a frame costs the
//! same whatever the peer sends, and one payload enum ([`FixMsg`]) carries
//! every message over the rings and through the codec.
//!
//! Ground rules:
//! - A message is a [`Header`] (what the session engine stamps: MsgSeqNum,
//!   PossDupFlag, CompIDs, SendingTime, OrigSendingTime) and a body
//!   ([`Fix<B>`]). The body holds what the application or the session
//!   logic decides; the codec writes both and checks neither.
//! - Every FIX MsgType has one fixed session label ([`label_of`]), the same
//!   in every choice of `proto.rs`: `'0'..='9'` are 0..=9 and `'A'..='Z'`
//!   are 10..=35; a MsgType the example does not speak is [`UNKNOWN`],
//!   which no choice has, so receiving it is a typed `Violation`.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// A short printable-ASCII string kept inline (at most `N` bytes, `N` <
/// 256): FIX identifiers and texts without an allocation.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Str<const N: usize> {
    len: u8,
    buf: [u8; N],
}

impl<const N: usize> Str<N> {
    /// The empty string.
    pub const EMPTY: Self = Str {
        len: 0,
        buf: [0; N],
    };

    /// `bytes` if it fits and is printable ASCII (`0x20..=0x7e`).
    pub fn new(bytes: &[u8]) -> Option<Self> {
        if bytes.len() > N || N > 255 || !bytes.iter().all(|b| (0x20..=0x7e).contains(b)) {
            return None;
        }
        let mut s = Self::EMPTY;
        s.buf[..bytes.len()].copy_from_slice(bytes);
        s.len = bytes.len() as u8;
        Some(s)
    }

    /// The first `N` bytes of `bytes`, anything unprintable replaced by
    /// `?` (for free text, which may be cut).
    pub fn lossy(bytes: &[u8]) -> Self {
        let n = bytes.len().min(N).min(255);
        let mut s = Self::EMPTY;
        for (d, &b) in s.buf.iter_mut().zip(&bytes[..n]) {
            *d = if (0x20..=0x7e).contains(&b) { b } else { b'?' };
        }
        s.len = n as u8;
        s
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len as usize]
    }

    /// As text (always ASCII).
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).unwrap_or("")
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl<const N: usize> fmt::Debug for Str<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl<const N: usize> fmt::Display for Str<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// SenderCompID(49) / TargetCompID(56).
pub type CompId = Str<32>;
/// ClOrdID(11), OrderID(37), ExecID(17), TestReqID(112).
pub type Id = Str<32>;
/// Symbol(55).
pub type Symbol = Str<16>;
/// Text(58): longer texts are cut.
pub type Text = Str<96>;

/// A UTC time in milliseconds since the Unix epoch (SendingTime(52),
/// TransactTime(60)), written `YYYYMMDD-HH:MM:SS.sss`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct UtcMillis(pub u64);

impl UtcMillis {
    /// Now, from the system clock.
    pub fn now() -> UtcMillis {
        let d = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        UtcMillis(d.as_millis() as u64)
    }
}

/// A price in units of 10^-4 (FIX prices are decimal strings).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Price(pub i64);

impl Price {
    /// Decimal places kept.
    pub const SCALE: i64 = 10_000;
}

/// What the session engine stamps on every message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// MsgSeqNum(34).
    pub seq: u64,
    /// PossDupFlag(43)=Y: a resent message.
    pub poss_dup: bool,
    /// SenderCompID(49).
    pub sender: CompId,
    /// TargetCompID(56).
    pub target: CompId,
    /// SendingTime(52).
    pub sending_time: UtcMillis,
    /// OrigSendingTime(122), on resent messages.
    pub orig_sending_time: Option<UtcMillis>,
}

/// One message: the header and the body `B`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fix<B> {
    /// What the engine stamps.
    pub hdr: Header,
    /// The message itself.
    pub body: B,
}

/// Logon (35=A).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Logon {
    /// HeartBtInt(108), seconds.
    pub heart_bt_int: u32,
    /// ResetSeqNumFlag(141)=Y.
    pub reset_seq_num: bool,
}

/// Heartbeat (35=0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Heartbeat {
    /// TestReqID(112), when it answers a TestRequest.
    pub test_req_id: Option<Id>,
}

/// TestRequest (35=1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TestRequest {
    /// TestReqID(112).
    pub test_req_id: Id,
}

/// ResendRequest (35=2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResendRequest {
    /// BeginSeqNo(7).
    pub begin: u64,
    /// EndSeqNo(16); 0 means "everything from `begin`".
    pub end: u64,
}

/// Reject (35=3), for a message that broke a session rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reject {
    /// RefSeqNum(45).
    pub ref_seq: u64,
    /// SessionRejectReason(373).
    pub reason: Option<u32>,
    /// Text(58).
    pub text: Option<Text>,
}

/// SequenceReset (35=4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SequenceReset {
    /// GapFillFlag(123)=Y (else Reset mode).
    pub gap_fill: bool,
    /// NewSeqNo(36).
    pub new_seq: u64,
}

/// Logout (35=5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Logout {
    /// Text(58).
    pub text: Option<Text>,
}

/// Side(54).
pub mod side {
    /// Buy.
    pub const BUY: u8 = b'1';
    /// Sell.
    pub const SELL: u8 = b'2';
}

/// OrdType(40).
pub mod ord_type {
    /// Market.
    pub const MARKET: u8 = b'1';
    /// Limit (needs Price(44)).
    pub const LIMIT: u8 = b'2';
}

/// ExecType(150).
pub mod exec_type {
    /// New (the ack).
    pub const NEW: u8 = b'0';
    /// Rejected.
    pub const REJECTED: u8 = b'8';
    /// Trade (a fill or partial fill).
    pub const TRADE: u8 = b'F';
}

/// OrdStatus(39).
pub mod ord_status {
    /// New.
    pub const NEW: u8 = b'0';
    /// Partially filled.
    pub const PARTIALLY_FILLED: u8 = b'1';
    /// Filled.
    pub const FILLED: u8 = b'2';
    /// Rejected.
    pub const REJECTED: u8 = b'8';
}

/// NewOrderSingle (35=D).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewOrderSingle {
    /// ClOrdID(11).
    pub cl_ord_id: Id,
    /// Symbol(55).
    pub symbol: Symbol,
    /// Side(54), see [`side`].
    pub side: u8,
    /// OrderQty(38), whole units.
    pub qty: u64,
    /// OrdType(40), see [`ord_type`].
    pub ord_type: u8,
    /// Price(44).
    pub price: Option<Price>,
    /// TransactTime(60).
    pub transact_time: UtcMillis,
}

/// ExecutionReport (35=8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExecutionReport {
    /// OrderID(37).
    pub order_id: Id,
    /// ExecID(17).
    pub exec_id: Id,
    /// ClOrdID(11).
    pub cl_ord_id: Id,
    /// ExecType(150), see [`exec_type`].
    pub exec_type: u8,
    /// OrdStatus(39), see [`ord_status`].
    pub ord_status: u8,
    /// Symbol(55).
    pub symbol: Symbol,
    /// Side(54).
    pub side: u8,
    /// OrderQty(38).
    pub qty: u64,
    /// LastQty(32).
    pub last_qty: u64,
    /// LastPx(31).
    pub last_px: Option<Price>,
    /// LeavesQty(151).
    pub leaves_qty: u64,
    /// CumQty(14).
    pub cum_qty: u64,
    /// AvgPx(6).
    pub avg_px: Price,
    /// Text(58), e.g. why an order was rejected.
    pub text: Option<Text>,
}

/// A message whose MsgType the example does not speak (label
/// [`UNKNOWN`]); kept so that receiving one is a typed violation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unknown {
    /// MsgType(35) as received (cut to 8 bytes).
    pub msg_type: Str<8>,
}

corelane::session_payload! {
    /// Every message of the example: what the rings and the codec carry.
    #[derive(Debug)]
    pub enum FixMsg {
        Logon(Fix<Logon>),
        Heartbeat(Fix<Heartbeat>),
        TestRequest(Fix<TestRequest>),
        ResendRequest(Fix<ResendRequest>),
        Reject(Fix<Reject>),
        SequenceReset(Fix<SequenceReset>),
        Logout(Fix<Logout>),
        NewOrderSingle(Fix<NewOrderSingle>),
        ExecutionReport(Fix<ExecutionReport>),
        Unknown(Fix<Unknown>),
    }
}

/// The application messages (what the resend store keeps).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum App {
    /// 35=D, initiator to acceptor.
    Order(NewOrderSingle),
    /// 35=8, acceptor to initiator.
    Report(ExecutionReport),
}

/// The session label of MsgType `t` (see the module's ground rules).
pub fn label_of(t: &[u8]) -> u8 {
    match t {
        [c @ b'0'..=b'9'] => c - b'0',
        [c @ b'A'..=b'Z'] => c - b'A' + 10,
        _ => UNKNOWN,
    }
}

/// The MsgType of label `l`, if it is one.
pub fn msg_type_of(l: u8) -> Option<u8> {
    match l {
        0..=9 => Some(b'0' + l),
        10..=35 => Some(b'A' + l - 10),
        _ => None,
    }
}

/// The label of a MsgType the example does not speak.
pub const UNKNOWN: u8 = 255;
/// Labels of the MsgTypes the example speaks.
pub mod label {
    /// 35=0.
    pub const HEARTBEAT: u8 = 0;
    /// 35=1.
    pub const TEST_REQUEST: u8 = 1;
    /// 35=2.
    pub const RESEND_REQUEST: u8 = 2;
    /// 35=3.
    pub const REJECT: u8 = 3;
    /// 35=4.
    pub const SEQUENCE_RESET: u8 = 4;
    /// 35=5.
    pub const LOGOUT: u8 = 5;
    /// 35=8.
    pub const EXECUTION_REPORT: u8 = 8;
    /// 35=A.
    pub const LOGON: u8 = 10;
    /// 35=D.
    pub const NEW_ORDER_SINGLE: u8 = 13;
}

impl FixMsg {
    /// The label of this message's MsgType (`None` for the hidden unit
    /// frame, which FIX has no encoding for).
    pub fn label(&self) -> Option<u8> {
        Some(match self {
            FixMsg::Logon(_) => label::LOGON,
            FixMsg::Heartbeat(_) => label::HEARTBEAT,
            FixMsg::TestRequest(_) => label::TEST_REQUEST,
            FixMsg::ResendRequest(_) => label::RESEND_REQUEST,
            FixMsg::Reject(_) => label::REJECT,
            FixMsg::SequenceReset(_) => label::SEQUENCE_RESET,
            FixMsg::Logout(_) => label::LOGOUT,
            FixMsg::NewOrderSingle(_) => label::NEW_ORDER_SINGLE,
            FixMsg::ExecutionReport(_) => label::EXECUTION_REPORT,
            FixMsg::Unknown(_) => UNKNOWN,
            _ => return None,
        })
    }

    /// The header, if this is a message.
    pub fn header(&self) -> Option<&Header> {
        Some(match self {
            FixMsg::Logon(m) => &m.hdr,
            FixMsg::Heartbeat(m) => &m.hdr,
            FixMsg::TestRequest(m) => &m.hdr,
            FixMsg::ResendRequest(m) => &m.hdr,
            FixMsg::Reject(m) => &m.hdr,
            FixMsg::SequenceReset(m) => &m.hdr,
            FixMsg::Logout(m) => &m.hdr,
            FixMsg::NewOrderSingle(m) => &m.hdr,
            FixMsg::ExecutionReport(m) => &m.hdr,
            FixMsg::Unknown(m) => &m.hdr,
            _ => return None,
        })
    }
}
