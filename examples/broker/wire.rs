//! The broker's wire format, shared by the corelane broker, the tokio
//! reference broker, the load generator and the integration test.
//!
//! Every frame, both ways, little-endian:
//!
//! ```text
//! frame       = len:u32  kind:u8  body        len = 1 + body length, 1..=max_frame
//!
//! kind  name         body                     direction
//! 1     PUBLISH      topic:u16 payload...     client -> broker; broker -> subscriber,
//!                                             byte for byte the frame the publisher sent
//! 2     SUBSCRIBE    topic:u16 policy:u8      client -> broker; policy 0 = block, 1 = drop
//! 3     SUBSCRIBED   topic:u16 policy:u8      broker -> client: messages published from
//!                                             now on reach this subscription
//! 4     HEARTBEAT    (empty)                  both ways, when nothing else was sent
//!                                             for one heartbeat interval
//! 5     GAP          topic:u16 missed:u64     broker -> drop-policy subscriber: that many
//!                                             messages of the topic were skipped here
//! 6     ERROR        code:u8 text:utf8        broker -> client (see `Code`); after a
//!                                             fatal one the broker closes the connection
//! ```
//!
//! A connection may publish and subscribe at once. Topics are numbered
//! `0..topics` when the broker starts; there is no replay store: a
//! subscription (or a reconnecting subscriber) starts from "now".

#![allow(dead_code)] // each binary that includes this uses a different part

/// PUBLISH: `topic:u16 payload`.
pub const PUBLISH: u8 = 1;
/// SUBSCRIBE: `topic:u16 policy:u8`.
pub const SUBSCRIBE: u8 = 2;
/// SUBSCRIBED: `topic:u16 policy:u8`.
pub const SUBSCRIBED: u8 = 3;
/// HEARTBEAT: empty.
pub const HEARTBEAT: u8 = 4;
/// GAP: `topic:u16 missed:u64`.
pub const GAP: u8 = 5;
/// ERROR: `code:u8 text`.
pub const ERROR: u8 = 6;

/// Bytes before the body: the length word and the kind.
pub const HEADER: usize = 5;

/// What a slow subscriber costs, chosen per subscription.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// A gating cursor: the topic's publishers wait for this subscriber;
    /// nothing is lost.
    Block,
    /// A lossy cursor: never holds anyone back; a GAP frame says how many
    /// messages were skipped.
    Drop,
}

impl Policy {
    pub fn from_u8(b: u8) -> Option<Policy> {
        match b {
            0 => Some(Policy::Block),
            1 => Some(Policy::Drop),
            _ => None,
        }
    }
    pub fn as_u8(self) -> u8 {
        match self {
            Policy::Block => 0,
            Policy::Drop => 1,
        }
    }
}

/// ERROR codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Code {
    /// A frame that does not parse (length 0, a short body, a bad
    /// policy). Fatal: the stream cannot be resynchronised.
    Malformed = 1,
    /// A topic number the broker does not have. The frame is skipped.
    UnknownTopic = 2,
    /// A frame longer than the broker's limit. Fatal.
    Oversize = 3,
    /// Nothing received for the configured number of heartbeat intervals.
    /// Fatal.
    Silent = 4,
    /// A kind the broker does not know (or one only it sends). Fatal.
    UnknownKind = 5,
    /// The connection did not take what the broker sent for the configured
    /// number of heartbeat intervals. Reserved: the broker closes such a
    /// connection without it (nothing more gets through).
    Stalled = 6,
    /// The topic is already subscribed on this connection. Skipped.
    Duplicate = 7,
}

impl Code {
    pub fn from_u8(b: u8) -> Option<Code> {
        Some(match b {
            1 => Code::Malformed,
            2 => Code::UnknownTopic,
            3 => Code::Oversize,
            4 => Code::Silent,
            5 => Code::UnknownKind,
            6 => Code::Stalled,
            7 => Code::Duplicate,
            _ => return None,
        })
    }
    /// Whether the broker closes the connection after sending it.
    pub fn is_fatal(self) -> bool {
        !matches!(self, Code::UnknownTopic | Code::Duplicate)
    }
}

/// Why a byte stream is not a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireError {
    /// A zero length word.
    Empty,
    /// A length word past the limit (the length it announced).
    Oversize(u32),
}

/// The first frame of `buf`: `Ok(Some((kind, total length)))` when it is
/// all there (its body is `buf[HEADER..total]`), `Ok(None)` when more
/// bytes are needed, an error when the length word is 0 or past
/// `max_frame` (the limit on `len`, kind included).
#[inline]
pub fn next_frame(buf: &[u8], max_frame: u32) -> Result<Option<(u8, usize)>, WireError> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let len = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]);
    if len == 0 {
        return Err(WireError::Empty);
    }
    if len > max_frame {
        return Err(WireError::Oversize(len));
    }
    let total = 4 + len as usize;
    if buf.len() < total {
        return Ok(None);
    }
    Ok(Some((buf[4], total)))
}

/// The topic of a body that starts with one.
#[inline]
pub fn topic(body: &[u8]) -> Option<u16> {
    Some(u16::from_le_bytes(body.get(..2)?.try_into().ok()?))
}

/// Appends a frame of `kind` with `body` to `out`.
pub fn put_frame(out: &mut Vec<u8>, kind: u8, body: &[u8]) {
    out.extend_from_slice(&(1 + body.len() as u32).to_le_bytes());
    out.push(kind);
    out.extend_from_slice(body);
}

/// A PUBLISH frame of `payload` on `topic`.
pub fn publish(out: &mut Vec<u8>, topic: u16, payload: &[u8]) {
    out.extend_from_slice(&(3 + payload.len() as u32).to_le_bytes());
    out.push(PUBLISH);
    out.extend_from_slice(&topic.to_le_bytes());
    out.extend_from_slice(payload);
}

/// A SUBSCRIBE (or, from the broker, SUBSCRIBED) frame.
pub fn subscribe(out: &mut Vec<u8>, kind: u8, topic: u16, policy: Policy) {
    let t = topic.to_le_bytes();
    put_frame(out, kind, &[t[0], t[1], policy.as_u8()]);
}

/// A GAP frame.
pub fn gap(out: &mut Vec<u8>, topic: u16, missed: u64) {
    let mut b = [0u8; 10];
    b[..2].copy_from_slice(&topic.to_le_bytes());
    b[2..].copy_from_slice(&missed.to_le_bytes());
    put_frame(out, GAP, &b);
}

/// An ERROR frame.
pub fn error(out: &mut Vec<u8>, code: Code, text: &str) {
    let mut b = Vec::with_capacity(1 + text.len());
    b.push(code as u8);
    b.extend_from_slice(text.as_bytes());
    put_frame(out, ERROR, &b);
}

/// A HEARTBEAT frame.
pub fn heartbeat(out: &mut Vec<u8>) {
    put_frame(out, HEARTBEAT, &[]);
}

/// What a SUBSCRIBE body asks for: `Err` if it is malformed.
pub fn parse_subscribe(body: &[u8]) -> Result<(u16, Policy), Code> {
    if body.len() != 3 {
        return Err(Code::Malformed);
    }
    let policy = Policy::from_u8(body[2]).ok_or(Code::Malformed)?;
    Ok((topic(body).ok_or(Code::Malformed)?, policy))
}

/// The load generator's payload header (the rest is padding):
/// `publisher:u32 seq:u64 stamp_ns:u64`, stamp on `CLOCK_MONOTONIC`
/// (the same clock in every process of the machine).
pub const STAMP: usize = 20;

/// Writes the load generator's header into `payload[..STAMP]`.
pub fn stamp(payload: &mut [u8], publisher: u32, seq: u64, ns: u64) {
    payload[..4].copy_from_slice(&publisher.to_le_bytes());
    payload[4..12].copy_from_slice(&seq.to_le_bytes());
    payload[12..20].copy_from_slice(&ns.to_le_bytes());
}

/// Reads the load generator's header from a payload.
pub fn read_stamp(payload: &[u8]) -> Option<(u32, u64, u64)> {
    let p = payload.get(..STAMP)?;
    Some((
        u32::from_le_bytes(p[..4].try_into().ok()?),
        u64::from_le_bytes(p[4..12].try_into().ok()?),
        u64::from_le_bytes(p[12..20].try_into().ok()?),
    ))
}

/// `CLOCK_MONOTONIC` in nanoseconds.
pub fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC exists
    // on every Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}
