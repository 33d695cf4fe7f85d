//! FIX tag=value fields: reading a frame's body into a typed message and
//! writing one back. Framing (BeginString, BodyLength, CheckSum) is
//! `codec.rs`'s; this file sees only the fields between them.
//!
//! Ground rules:
//! - Reading never allocates and never panics: every value is checked
//!   (digits only, lengths capped by the inline strings of `msg.rs`), and a
//!   failure is a `&'static str` the codec turns into `Malformed`.
//! - A known tag twice in one message is malformed; unknown tags are
//!   skipped (repeating groups the example does not use included).
//! - Writing appends to a `Vec<u8>` the codec reuses, header fields first
//!   (35, 49, 56, 34, 52, 43, 122), as FIX requires.

use super::msg::*;

/// The field separator.
pub const SOH: u8 = 0x01;

/// Why a body did not decode.
pub type Bad = &'static str;

/// The tags this example reads, one slot each.
const TAGS: [u32; 34] = [
    35, 34, 43, 49, 52, 56, 122, 98, 108, 141, 112, 7, 16, 45, 373, 58, 123, 36, 11, 55, 54, 38,
    40, 44, 60, 37, 17, 150, 39, 151, 14, 6, 32, 31,
];

fn slot(tag: u32) -> Option<usize> {
    TAGS.iter().position(|&t| t == tag)
}

/// The known fields of one body, by tag.
pub struct Fields<'a> {
    vals: [Option<&'a [u8]>; TAGS.len()],
}

impl<'a> Fields<'a> {
    /// Splits `body` (from `35=` up to, not including, `10=`) into fields.
    pub fn parse(body: &'a [u8]) -> Result<Fields<'a>, Bad> {
        let mut f = Fields {
            vals: [None; TAGS.len()],
        };
        let mut rest = body;
        let mut first = true;
        while !rest.is_empty() {
            let eq = rest
                .iter()
                .position(|&b| b == b'=')
                .ok_or("a field without '='")?;
            let tag = parse_u64(&rest[..eq]).map_err(|_| "a tag that is not a number")?;
            let after = &rest[eq + 1..];
            let end = after
                .iter()
                .position(|&b| b == SOH)
                .ok_or("a field without SOH")?;
            let val = &after[..end];
            if val.is_empty() {
                return Err("an empty field value");
            }
            if first && tag != 35 {
                return Err("MsgType(35) is not the third field");
            }
            first = false;
            if matches!(tag, 8..=10) {
                return Err("BeginString, BodyLength or CheckSum inside the body");
            }
            if let Some(i) = u32::try_from(tag).ok().and_then(slot) {
                if f.vals[i].replace(val).is_some() {
                    return Err("a tag appears twice");
                }
            }
            rest = &after[end + 1..];
        }
        if first {
            return Err("an empty body");
        }
        Ok(f)
    }

    /// The value of `tag`, if present (only tags in the table).
    pub fn get(&self, tag: u32) -> Option<&'a [u8]> {
        slot(tag).and_then(|i| self.vals[i])
    }

    fn req(&self, tag: u32, missing: Bad) -> Result<&'a [u8], Bad> {
        self.get(tag).ok_or(missing)
    }

    fn num(&self, tag: u32, missing: Bad) -> Result<u64, Bad> {
        parse_u64(self.req(tag, missing)?)
    }

    fn opt_num(&self, tag: u32) -> Result<Option<u64>, Bad> {
        self.get(tag).map(parse_u64).transpose()
    }

    fn flag(&self, tag: u32) -> Result<bool, Bad> {
        match self.get(tag) {
            None | Some(b"N") => Ok(false),
            Some(b"Y") => Ok(true),
            Some(_) => Err("a boolean that is not Y or N"),
        }
    }

    fn id<const N: usize>(&self, tag: u32, missing: Bad) -> Result<Str<N>, Bad> {
        Str::new(self.req(tag, missing)?).ok_or("an identifier too long or unprintable")
    }

    fn opt_text(&self) -> Option<Text> {
        self.get(58).map(Text::lossy)
    }

    fn ch(&self, tag: u32, missing: Bad) -> Result<u8, Bad> {
        match self.req(tag, missing)? {
            [c] => Ok(*c),
            _ => Err("a one-character field longer than one character"),
        }
    }

    /// The standard header.
    pub fn header(&self) -> Result<Header, Bad> {
        let seq = self.num(34, "no MsgSeqNum(34)")?;
        if seq == 0 {
            return Err("MsgSeqNum(34) is 0");
        }
        Ok(Header {
            seq,
            poss_dup: self.flag(43)?,
            sender: self.id(49, "no SenderCompID(49)")?,
            target: self.id(56, "no TargetCompID(56)")?,
            sending_time: parse_time(self.req(52, "no SendingTime(52)")?)?,
            orig_sending_time: self.get(122).map(parse_time).transpose()?,
        })
    }
}

/// Reads the body of MsgType `label` (already mapped from 35) into a
/// message.
pub fn read(label: u8, msg_type: &[u8], f: &Fields<'_>) -> Result<FixMsg, Bad> {
    let hdr = f.header()?;
    Ok(match label {
        label::LOGON => FixMsg::Logon(Fix {
            hdr,
            body: read_logon(f)?,
        }),
        label::HEARTBEAT => FixMsg::Heartbeat(Fix {
            hdr,
            body: Heartbeat {
                test_req_id: f.get(112).map(|_| f.id(112, "")).transpose()?,
            },
        }),
        label::TEST_REQUEST => FixMsg::TestRequest(Fix {
            hdr,
            body: TestRequest {
                test_req_id: f.id(112, "no TestReqID(112)")?,
            },
        }),
        label::RESEND_REQUEST => FixMsg::ResendRequest(Fix {
            hdr,
            body: ResendRequest {
                begin: f.num(7, "no BeginSeqNo(7)")?,
                end: f.num(16, "no EndSeqNo(16)")?,
            },
        }),
        label::REJECT => FixMsg::Reject(Fix {
            hdr,
            body: read_reject(f)?,
        }),
        label::SEQUENCE_RESET => FixMsg::SequenceReset(Fix {
            hdr,
            body: SequenceReset {
                gap_fill: f.flag(123)?,
                new_seq: f.num(36, "no NewSeqNo(36)")?,
            },
        }),
        label::LOGOUT => FixMsg::Logout(Fix {
            hdr,
            body: Logout { text: f.opt_text() },
        }),
        label::NEW_ORDER_SINGLE => FixMsg::NewOrderSingle(Fix {
            hdr,
            body: read_order(f)?,
        }),
        label::EXECUTION_REPORT => FixMsg::ExecutionReport(Fix {
            hdr,
            body: read_report(f)?,
        }),
        _ => FixMsg::Unknown(Fix {
            hdr,
            body: Unknown {
                msg_type: Str::lossy(msg_type),
            },
        }),
    })
}

fn read_logon(f: &Fields<'_>) -> Result<Logon, Bad> {
    if f.req(98, "no EncryptMethod(98)")? != b"0" {
        return Err("EncryptMethod(98) is not 0");
    }
    let hb = f.num(108, "no HeartBtInt(108)")?;
    Ok(Logon {
        heart_bt_int: u32::try_from(hb).map_err(|_| "HeartBtInt(108) out of range")?,
        reset_seq_num: f.flag(141)?,
    })
}

fn read_reject(f: &Fields<'_>) -> Result<Reject, Bad> {
    let reason = f
        .opt_num(373)?
        .map(|r| u32::try_from(r).map_err(|_| "SessionRejectReason(373) out of range"))
        .transpose()?;
    Ok(Reject {
        ref_seq: f.num(45, "no RefSeqNum(45)")?,
        reason,
        text: f.opt_text(),
    })
}

fn read_order(f: &Fields<'_>) -> Result<NewOrderSingle, Bad> {
    Ok(NewOrderSingle {
        cl_ord_id: f.id(11, "no ClOrdID(11)")?,
        symbol: f.id(55, "no Symbol(55)")?,
        side: f.ch(54, "no Side(54)")?,
        qty: parse_qty(f.req(38, "no OrderQty(38)")?)?,
        ord_type: f.ch(40, "no OrdType(40)")?,
        price: f.get(44).map(parse_price).transpose()?,
        transact_time: parse_time(f.req(60, "no TransactTime(60)")?)?,
    })
}

fn read_report(f: &Fields<'_>) -> Result<ExecutionReport, Bad> {
    Ok(ExecutionReport {
        order_id: f.id(37, "no OrderID(37)")?,
        exec_id: f.id(17, "no ExecID(17)")?,
        cl_ord_id: f.id(11, "no ClOrdID(11)")?,
        exec_type: f.ch(150, "no ExecType(150)")?,
        ord_status: f.ch(39, "no OrdStatus(39)")?,
        symbol: f.id(55, "no Symbol(55)")?,
        side: f.ch(54, "no Side(54)")?,
        qty: f.get(38).map(parse_qty).transpose()?.unwrap_or(0),
        last_qty: f.get(32).map(parse_qty).transpose()?.unwrap_or(0),
        last_px: f.get(31).map(parse_price).transpose()?,
        leaves_qty: parse_qty(f.req(151, "no LeavesQty(151)")?)?,
        cum_qty: parse_qty(f.req(14, "no CumQty(14)")?)?,
        avg_px: parse_price(f.req(6, "no AvgPx(6)")?)?,
        text: f.opt_text(),
    })
}

/// A non-negative integer of at most 18 digits.
pub fn parse_u64(v: &[u8]) -> Result<u64, Bad> {
    if v.is_empty() || v.len() > 18 || !v.iter().all(u8::is_ascii_digit) {
        return Err("a number that is not 1 to 18 digits");
    }
    Ok(v.iter().fold(0, |n, d| n * 10 + u64::from(d - b'0')))
}

/// A decimal with at most 4 significant decimals (more are allowed if
/// they are zeros), in units of 10^-4.
pub fn parse_price(v: &[u8]) -> Result<Price, Bad> {
    let (neg, v) = match v.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, v),
    };
    let (int, frac) = match v.iter().position(|&b| b == b'.') {
        Some(i) => (&v[..i], &v[i + 1..]),
        None => (v, &[][..]),
    };
    if (int.is_empty() && frac.is_empty())
        || int.len() > 12
        || frac.len() > 12
        || !frac.iter().all(u8::is_ascii_digit)
    {
        return Err("a price that is not a decimal of at most 12.12 digits");
    }
    let whole = if int.is_empty() { 0 } else { parse_u64(int)? } as i64;
    let mut units = 0i64;
    for (i, d) in frac.iter().enumerate() {
        let d = i64::from(d - b'0');
        if i < 4 {
            units += d * 10i64.pow(3 - i as u32);
        } else if d != 0 {
            return Err("a price with more than 4 decimals");
        }
    }
    let p = whole * Price::SCALE + units;
    Ok(Price(if neg { -p } else { p }))
}

/// A quantity: a whole number, written with or without zero decimals.
pub fn parse_qty(v: &[u8]) -> Result<u64, Bad> {
    let p = parse_price(v)?;
    if p.0 < 0 || p.0 % Price::SCALE != 0 {
        return Err("a quantity that is not a whole non-negative number");
    }
    Ok((p.0 / Price::SCALE) as u64)
}

/// `YYYYMMDD-HH:MM:SS` with 0, 3, 6 or 9 decimals of seconds (kept to
/// the millisecond).
pub fn parse_time(v: &[u8]) -> Result<UtcMillis, Bad> {
    const BAD: Bad = "a UTCTimestamp that is not YYYYMMDD-HH:MM:SS[.sss]";
    if v.len() < 17 || v[8] != b'-' || v[11] != b':' || v[14] != b':' {
        return Err(BAD);
    }
    let d = |r: core::ops::Range<usize>| parse_u64(&v[r]).map_err(|_| BAD);
    let (y, mo, da) = (d(0..4)?, d(4..6)?, d(6..8)?);
    let (h, mi, s) = (d(9..11)?, d(12..14)?, d(15..17)?);
    let ms = match &v[17..] {
        [] => 0,
        [b'.', frac @ ..] if matches!(frac.len(), 3 | 6 | 9) => d(18..21)?,
        _ => return Err(BAD),
    };
    if !(1..=12).contains(&mo) || da == 0 || da > days_in_month(y, mo) || h > 23 || mi > 59 {
        return Err(BAD);
    }
    if s > 60 || (18..v.len()).any(|i| !v[i].is_ascii_digit()) {
        return Err(BAD);
    }
    let days = days_from_civil(y as i64, mo as i64, da as i64);
    if days < 0 {
        return Err(BAD);
    }
    let secs = days as u64 * 86_400 + h * 3600 + mi * 60 + s;
    Ok(UtcMillis(secs * 1000 + ms))
}

fn days_in_month(y: u64, m: u64) -> u64 {
    match m {
        2 if (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01 (`civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u64, u64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u64;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u64;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `n` in decimal, written at the end of `buf`.
pub fn digits(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

/// Appends `n` in decimal.
pub fn put_u64(out: &mut Vec<u8>, n: u64) {
    let mut buf = [0u8; 20];
    out.extend_from_slice(digits(n, &mut buf));
}

/// Appends `n` with exactly `width` digits (zero-padded).
fn put_padded(out: &mut Vec<u8>, n: u64, width: usize) {
    let mut buf = [b'0'; 20];
    let mut n = n;
    for i in (0..width.min(20)).rev() {
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    out.extend_from_slice(&buf[..width.min(20)]);
}

/// Appends a price (trailing zero decimals dropped).
pub fn put_price(out: &mut Vec<u8>, p: Price) {
    if p.0 < 0 {
        out.push(b'-');
    }
    let a = p.0.unsigned_abs();
    put_u64(out, a / Price::SCALE as u64);
    let mut frac = a % Price::SCALE as u64;
    if frac != 0 {
        out.push(b'.');
        let mut digits = 4;
        while frac.is_multiple_of(10) {
            frac /= 10;
            digits -= 1;
        }
        put_padded(out, frac, digits);
    }
}

/// Appends `YYYYMMDD-HH:MM:SS.sss`.
pub fn put_time(out: &mut Vec<u8>, t: UtcMillis) {
    let secs = t.0 / 1000;
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let s = secs % 86_400;
    put_padded(out, y.max(0) as u64, 4);
    put_padded(out, m, 2);
    put_padded(out, d, 2);
    out.push(b'-');
    put_padded(out, s / 3600, 2);
    out.push(b':');
    put_padded(out, s / 60 % 60, 2);
    out.push(b':');
    put_padded(out, s % 60, 2);
    out.push(b'.');
    put_padded(out, t.0 % 1000, 3);
}

/// Writes fields: `tag=` then the value through the closure, then SOH.
pub struct Writer<'a>(pub &'a mut Vec<u8>);

impl Writer<'_> {
    fn tag(&mut self, tag: u32) {
        put_u64(self.0, u64::from(tag));
        self.0.push(b'=');
    }
    /// A raw value.
    pub fn bytes(&mut self, tag: u32, v: &[u8]) {
        self.tag(tag);
        self.0.extend_from_slice(v);
        self.0.push(SOH);
    }
    /// A number.
    pub fn num(&mut self, tag: u32, v: u64) {
        self.tag(tag);
        put_u64(self.0, v);
        self.0.push(SOH);
    }
    /// A price.
    pub fn price(&mut self, tag: u32, v: Price) {
        self.tag(tag);
        put_price(self.0, v);
        self.0.push(SOH);
    }
    /// A timestamp.
    pub fn time(&mut self, tag: u32, v: UtcMillis) {
        self.tag(tag);
        put_time(self.0, v);
        self.0.push(SOH);
    }
    /// Y.
    pub fn yes(&mut self, tag: u32) {
        self.bytes(tag, b"Y");
    }
    /// A one-character value.
    pub fn ch(&mut self, tag: u32, v: u8) {
        self.bytes(tag, &[v]);
    }
}

/// Appends the header fields after MsgType.
pub fn write_header(w: &mut Writer<'_>, h: &Header) {
    w.bytes(49, h.sender.as_bytes());
    w.bytes(56, h.target.as_bytes());
    w.num(34, h.seq);
    w.time(52, h.sending_time);
    if h.poss_dup {
        w.yes(43);
    }
    if let Some(t) = h.orig_sending_time {
        w.time(122, t);
    }
}

/// Appends the body fields of `m` (after the header).
pub fn write_body(w: &mut Writer<'_>, m: &FixMsg) {
    match m {
        FixMsg::Logon(m) => {
            w.num(98, 0);
            w.num(108, u64::from(m.body.heart_bt_int));
            if m.body.reset_seq_num {
                w.yes(141);
            }
        }
        FixMsg::Heartbeat(m) => {
            if let Some(id) = &m.body.test_req_id {
                w.bytes(112, id.as_bytes());
            }
        }
        FixMsg::TestRequest(m) => w.bytes(112, m.body.test_req_id.as_bytes()),
        FixMsg::ResendRequest(m) => {
            w.num(7, m.body.begin);
            w.num(16, m.body.end);
        }
        FixMsg::Reject(m) => {
            w.num(45, m.body.ref_seq);
            if let Some(r) = m.body.reason {
                w.num(373, u64::from(r));
            }
            write_text(w, &m.body.text);
        }
        FixMsg::SequenceReset(m) => {
            if m.body.gap_fill {
                w.yes(123);
            }
            w.num(36, m.body.new_seq);
        }
        FixMsg::Logout(m) => write_text(w, &m.body.text),
        FixMsg::NewOrderSingle(m) => write_order(w, &m.body),
        FixMsg::ExecutionReport(m) => write_report(w, &m.body),
        _ => {}
    }
}

fn write_text(w: &mut Writer<'_>, t: &Option<Text>) {
    if let Some(t) = t.as_ref().filter(|t| !t.is_empty()) {
        w.bytes(58, t.as_bytes());
    }
}

fn write_order(w: &mut Writer<'_>, o: &NewOrderSingle) {
    w.bytes(11, o.cl_ord_id.as_bytes());
    w.ch(21, b'1');
    w.bytes(55, o.symbol.as_bytes());
    w.ch(54, o.side);
    w.time(60, o.transact_time);
    w.num(38, o.qty);
    w.ch(40, o.ord_type);
    if let Some(p) = o.price {
        w.price(44, p);
    }
}

fn write_report(w: &mut Writer<'_>, r: &ExecutionReport) {
    w.bytes(37, r.order_id.as_bytes());
    w.bytes(17, r.exec_id.as_bytes());
    w.ch(150, r.exec_type);
    w.ch(39, r.ord_status);
    w.bytes(11, r.cl_ord_id.as_bytes());
    w.bytes(55, r.symbol.as_bytes());
    w.ch(54, r.side);
    w.num(38, r.qty);
    w.num(32, r.last_qty);
    if let Some(p) = r.last_px {
        w.price(31, p);
    }
    w.num(151, r.leaves_qty);
    w.num(14, r.cum_qty);
    w.price(6, r.avg_px);
    write_text(w, &r.text);
}
