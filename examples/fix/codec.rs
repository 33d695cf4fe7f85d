//! FIX 4.4 framing for a byte stream: [`FixCodec`] implements
//! `corelane::session::codec::Codec<FixMsg>`, mapping MsgType(35) to the
//! session label and back.
//!
//! Ground rules:
//! - A frame is `8=FIX.4.4␁9=<BodyLength>␁<body>10=<CheckSum>␁`, where
//!   BodyLength counts the bytes from MsgType(35) up to `10=` and CheckSum
//!   is the byte sum of everything before `10=`, modulo 256, in three
//!   digits. Both are checked.
//! - A *garbled* frame (a BodyLength that does not land on `10=`, a wrong
//!   CheckSum) is skipped, as FIX says: no Reject, the sequence gap it
//!   leaves brings the ResendRequest path. Bytes that do not start with
//!   `8=FIX.4.4␁` are skipped up to the next one. Both are bounded:
//!   [`MAX_JUNK`] bytes skipped or [`MAX_GARBLED`] garbled frames in a row
//!   end the session as `Malformed`.
//! - A BodyLength that would make the frame longer than the frame cap is
//!   `Malformed` at once: the codec never buffers more than one frame.
//! - A frame that checks out but whose fields do not make a message (a
//!   missing required tag, a number that is not one) is `Malformed`: the
//!   session ends with a Logout saying why.
//! - The codec stamps nothing: MsgSeqNum, SendingTime and the CompIDs are
//!   in the message's header, set by the session engine.

use bytes::{Buf, BytesMut};
use corelane::session::codec::Codec;
use corelane::session::Error;

use super::msg::{label_of, msg_type_of, FixMsg};
use super::wire::{self, Fields, Writer, SOH};

/// The frame start this codec accepts.
pub const BEGIN: &[u8] = b"8=FIX.4.4\x01";
/// Bytes skipped (outside any frame, or in garbled frames) since the last
/// good frame before the session is `Malformed`.
pub const MAX_JUNK: usize = 64 * 1024;
/// Garbled frames in a row before the session is `Malformed`.
pub const MAX_GARBLED: u32 = 64;
/// The default frame cap (whole frame, BeginString to CheckSum).
pub const DEFAULT_MAX_FRAME: usize = 8 * 1024;

/// What the codec saw (for the fuzz test and the example's report).
#[derive(Clone, Copy, Debug, Default)]
pub struct CodecStats {
    /// Frames decoded into messages.
    pub frames: u64,
    /// Garbled frames skipped.
    pub garbled: u64,
    /// Bytes skipped outside frames.
    pub junk: u64,
}

/// FIX 4.4 tag=value framing.
pub struct FixCodec {
    max_frame: usize,
    /// Bytes skipped since the last good frame.
    junk: usize,
    /// Garbled frames since the last good frame.
    garbled: u32,
    /// The body being written (reused: no allocation per frame once warm).
    scratch: Vec<u8>,
    /// Counters.
    pub stats: CodecStats,
}

impl Default for FixCodec {
    fn default() -> Self {
        FixCodec::new(DEFAULT_MAX_FRAME)
    }
}

impl FixCodec {
    /// A codec refusing frames longer than `max_frame` bytes.
    pub fn new(max_frame: usize) -> FixCodec {
        FixCodec {
            max_frame,
            junk: 0,
            garbled: 0,
            scratch: Vec::with_capacity(512),
            stats: CodecStats::default(),
        }
    }

    fn skip(&mut self, src: &mut BytesMut, n: usize) -> Result<(), Error> {
        src.advance(n);
        self.junk += n;
        self.stats.junk += n as u64;
        if self.junk > MAX_JUNK {
            return Err(Error::Malformed("no FIX.4.4 frame in 64 KiB of input"));
        }
        Ok(())
    }

    /// Skips a garbled frame's first `n` bytes (1 to resynchronise on the
    /// next BeginString, the whole frame when only its CheckSum is wrong).
    fn garbled(&mut self, src: &mut BytesMut, n: usize) -> Result<(), Error> {
        self.garbled += 1;
        self.stats.garbled += 1;
        if self.garbled > MAX_GARBLED {
            return Err(Error::Malformed("too many garbled frames in a row"));
        }
        self.skip(src, n)
    }
}

/// Where `BEGIN` starts in `s`, or how many trailing bytes of `s` could
/// still be its start (as `Err`).
fn find_begin(s: &[u8]) -> Result<usize, usize> {
    if let Some(i) = s.windows(BEGIN.len()).position(|w| w == BEGIN) {
        return Ok(i);
    }
    let keep = (1..BEGIN.len().min(s.len() + 1))
        .rev()
        .find(|&k| s[s.len() - k..] == BEGIN[..k])
        .unwrap_or(0);
    Err(keep)
}

/// The outcome of looking at the front of the buffer.
enum Front {
    /// Need more bytes.
    More,
    /// A garbled frame: skip this many bytes and look again.
    Garbled(usize),
    /// A whole frame: header length (to the body), body length, total.
    Frame(usize, usize, usize),
}

/// Looks at a buffer that starts with `BEGIN`.
fn front(s: &[u8], max_frame: usize) -> Result<Front, Error> {
    let rest = &s[BEGIN.len()..];
    if rest.len() < 2 {
        return Ok(Front::More);
    }
    let Some(digits) = rest.strip_prefix(b"9=".as_slice()) else {
        return Ok(Front::Garbled(1));
    };
    let Some(n) = digits.iter().take(20).position(|&b| b == SOH) else {
        return Ok(if digits.len() >= 20 {
            Front::Garbled(1)
        } else {
            Front::More
        });
    };
    let Ok(body) = wire::parse_u64(&digits[..n]) else {
        return Ok(Front::Garbled(1));
    };
    let head = BEGIN.len() + 2 + n + 1;
    let total = head as u64 + body + 7;
    if total > max_frame as u64 {
        return Err(Error::Malformed("BodyLength over the frame cap"));
    }
    let (body, total) = (body as usize, total as usize);
    if s.len() < total {
        return Ok(Front::More);
    }
    let t = &s[head + body..total];
    let sum_ok = t.starts_with(b"10=") && t[3..6].iter().all(u8::is_ascii_digit) && t[6] == SOH;
    if !sum_ok {
        return Ok(Front::Garbled(1));
    }
    let want = s[..head + body].iter().fold(0u8, |a, &b| a.wrapping_add(b));
    let got = (t[3] - b'0') as u32 * 100 + (t[4] - b'0') as u32 * 10 + (t[5] - b'0') as u32;
    if u32::from(want) != got {
        return Ok(Front::Garbled(total));
    }
    Ok(Front::Frame(head, body, total))
}

/// Reads a checked body into `(label, message)`.
fn message(body: &[u8]) -> Result<(u8, FixMsg), Error> {
    let fields = Fields::parse(body).map_err(Error::Malformed)?;
    let msg_type = fields.get(35).unwrap_or_default();
    let label = label_of(msg_type);
    let msg = wire::read(label, msg_type, &fields).map_err(Error::Malformed)?;
    Ok((label, msg))
}

impl Codec<FixMsg> for FixCodec {
    fn encode(&mut self, label: u8, payload: FixMsg, dst: &mut BytesMut) -> Result<(), Error> {
        let (Some(l), Some(hdr)) = (payload.label(), payload.header()) else {
            return Err(Error::Malformed("a frame without a FIX message"));
        };
        if l != label {
            return Err(Error::Malformed("the label is not the message's MsgType"));
        }
        let body = &mut self.scratch;
        body.clear();
        let mut w = Writer(body);
        match (&payload, msg_type_of(label)) {
            (FixMsg::Unknown(u), _) => w.bytes(35, u.body.msg_type.as_bytes()),
            (_, Some(t)) => w.ch(35, t),
            (_, None) => return Err(Error::Malformed("a label with no MsgType")),
        }
        wire::write_header(&mut w, hdr);
        wire::write_body(&mut w, &payload);
        let mut digits = [0u8; 20];
        let len = wire::digits(body.len() as u64, &mut digits);
        if BEGIN.len() + 3 + len.len() + body.len() + 7 > self.max_frame {
            return Err(Error::Malformed("message longer than the frame cap"));
        }
        let start = dst.len();
        dst.extend_from_slice(BEGIN);
        dst.extend_from_slice(b"9=");
        dst.extend_from_slice(len);
        dst.extend_from_slice(&[SOH]);
        dst.extend_from_slice(body);
        let sum = dst[start..].iter().fold(0u8, |a, &b| a.wrapping_add(b));
        dst.extend_from_slice(&[
            b'1',
            b'0',
            b'=',
            b'0' + sum / 100,
            b'0' + sum / 10 % 10,
            b'0' + sum % 10,
            SOH,
        ]);
        Ok(())
    }

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<(u8, FixMsg)>, Error> {
        loop {
            if !src.starts_with(BEGIN) {
                match find_begin(src) {
                    Ok(at) => self.skip(src, at)?,
                    Err(keep) => {
                        let n = src.len() - keep;
                        self.skip(src, n)?;
                        return Ok(None);
                    }
                }
            }
            match front(src, self.max_frame)? {
                Front::More => return Ok(None),
                Front::Garbled(n) => self.garbled(src, n)?,
                Front::Frame(head, body, total) => {
                    let r = message(&src[head..head + body]);
                    src.advance(total);
                    if r.is_ok() {
                        self.junk = 0;
                        self.garbled = 0;
                        self.stats.frames += 1;
                    }
                    return r.map(Some);
                }
            }
        }
    }
}
