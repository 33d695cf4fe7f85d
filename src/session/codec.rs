//! How a session's frames become bytes on a stream (the TCP transport).

use bytes::{Buf, BufMut};
pub use bytes::{Bytes, BytesMut};

use super::error::Error;

/// Turns `(label, payload)` frames into bytes and back, for a stream
/// transport. The transport owns the buffers: `encode` appends one frame
/// to `dst`; `decode` takes one whole frame off the front of `src` if one
/// is there (`Ok(None)` asks for more bytes) and must reject, not buffer,
/// a frame longer than its cap.
///
/// A label is the arm index of a [`Choose`](super::Choose) (0 for a plain
/// [`Send`](super::Send)). An encoding of a foreign wire format (FIX) maps
/// its own message tag to that index.
///
/// # Examples
///
/// ```
/// use bytes::{Buf, BufMut, BytesMut};
/// use corelane::session::{codec::Codec, Error};
///
/// /// One byte of label, eight of payload.
/// struct Fixed;
/// impl Codec<u64> for Fixed {
///     fn encode(&mut self, label: u8, p: u64, dst: &mut BytesMut) -> Result<(), Error> {
///         dst.put_u8(label);
///         dst.put_u64_le(p);
///         Ok(())
///     }
///     fn decode(&mut self, src: &mut BytesMut) -> Result<Option<(u8, u64)>, Error> {
///         if src.len() < 9 {
///             return Ok(None);
///         }
///         let label = src.get_u8();
///         Ok(Some((label, src.get_u64_le())))
///     }
/// }
/// let mut buf = BytesMut::new();
/// Fixed.encode(3, 42, &mut buf)?;
/// assert_eq!(Fixed.decode(&mut buf)?, Some((3, 42)));
/// # Ok::<(), Error>(())
/// ```
pub trait Codec<P> {
    /// Appends one frame.
    ///
    /// # Errors
    ///
    /// [`Error::Malformed`] if the payload cannot be encoded (too large).
    fn encode(&mut self, label: u8, payload: P, dst: &mut BytesMut) -> Result<(), Error>;

    /// Takes one frame off the front of `src`, or `Ok(None)` if `src` does
    /// not hold a whole one yet.
    ///
    /// # Errors
    ///
    /// [`Error::Malformed`] for bytes that are not a frame (the session
    /// ends); [`Error::Cancelled`] for the peer's abort frame.
    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<(u8, P)>, Error>;

    /// Appends the frame that tells the peer this side abandoned the
    /// session, if the format has one (the default has none: the peer sees
    /// the connection close).
    fn encode_abort(&mut self, dst: &mut BytesMut) {
        let _ = dst;
    }
}

/// How a payload becomes the bytes of a frame's body and back (the
/// pluggable half of [`Framed`]).
///
/// # Examples
///
/// ```
/// use bytes::BytesMut;
/// use corelane::session::codec::{Encoding, Pod};
/// let mut buf = BytesMut::new();
/// Pod.encode(7u32, &mut buf)?;
/// let v: u32 = Pod.decode(buf.freeze())?;
/// assert_eq!(v, 7);
/// # Ok::<(), corelane::session::Error>(())
/// ```
pub trait Encoding<P> {
    /// Appends `payload`'s bytes.
    ///
    /// # Errors
    ///
    /// [`Error::Malformed`] if it cannot be encoded.
    fn encode(&mut self, payload: P, dst: &mut BytesMut) -> Result<(), Error>;
    /// Decodes a whole frame body.
    ///
    /// # Errors
    ///
    /// [`Error::Malformed`] if the bytes are not one `P` exactly.
    fn decode(&mut self, body: Bytes) -> Result<P, Error>;
}

/// A plain-old-data wire encoding: little-endian integers, length-prefixed
/// byte strings; a struct is its fields in order (made with
/// [`session_wire!`](crate::session_wire)), a payload enum a one-byte tag
/// then the variant. Decoding never allocates more than the frame holds
/// and never panics.
///
/// # Examples
///
/// ```
/// use bytes::{Bytes, BytesMut};
/// use corelane::session::codec::Wire;
/// let mut buf = BytesMut::new();
/// (7u16, Bytes::from_static(b"abc")).put(&mut buf);
/// let mut body = buf.freeze();
/// assert_eq!(<(u16, Bytes)>::get(&mut body)?, (7, Bytes::from_static(b"abc")));
/// # Ok::<(), corelane::session::Error>(())
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no wire encoding",
    label = "give it one with `corelane::session_wire!`",
    note = "a session endpoint (`Chan`) never has one: endpoints can be delegated only over in-process transports"
)]
pub trait Wire: Sized {
    /// Appends the encoding.
    fn put(&self, dst: &mut BytesMut);
    /// Takes one value off the front of `src`.
    ///
    /// # Errors
    ///
    /// [`Error::Malformed`] if `src` is too short or holds an invalid value.
    fn get(src: &mut Bytes) -> Result<Self, Error>;
}

const SHORT: Error = Error::Malformed("frame body too short");

macro_rules! wire_int {
    ($($t:ty: $put:ident $get:ident),*) => {$(
        impl Wire for $t {
            #[inline]
            fn put(&self, dst: &mut BytesMut) {
                dst.$put(*self);
            }
            #[inline]
            fn get(src: &mut Bytes) -> Result<Self, Error> {
                if src.remaining() < core::mem::size_of::<$t>() {
                    return Err(SHORT);
                }
                Ok(src.$get())
            }
        }
    )*};
}
wire_int!(
    u8: put_u8 get_u8, i8: put_i8 get_i8,
    u16: put_u16_le get_u16_le, i16: put_i16_le get_i16_le,
    u32: put_u32_le get_u32_le, i32: put_i32_le get_i32_le,
    u64: put_u64_le get_u64_le, i64: put_i64_le get_i64_le,
    u128: put_u128_le get_u128_le, i128: put_i128_le get_i128_le,
    f32: put_f32_le get_f32_le, f64: put_f64_le get_f64_le
);

impl Wire for bool {
    fn put(&self, dst: &mut BytesMut) {
        dst.put_u8(*self as u8);
    }
    fn get(src: &mut Bytes) -> Result<Self, Error> {
        match u8::get(src)? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(Error::Malformed("a bool that is neither 0 nor 1")),
        }
    }
}

impl Wire for () {
    fn put(&self, _: &mut BytesMut) {}
    fn get(_: &mut Bytes) -> Result<Self, Error> {
        Ok(())
    }
}

impl Wire for Bytes {
    fn put(&self, dst: &mut BytesMut) {
        dst.put_u32_le(self.len() as u32);
        dst.extend_from_slice(self);
    }
    fn get(src: &mut Bytes) -> Result<Self, Error> {
        let n = u32::get(src)? as usize;
        if src.remaining() < n {
            return Err(SHORT);
        }
        // Zero copy: a slice of the received frame.
        Ok(src.split_to(n))
    }
}

impl Wire for Vec<u8> {
    fn put(&self, dst: &mut BytesMut) {
        dst.put_u32_le(self.len() as u32);
        dst.extend_from_slice(self);
    }
    fn get(src: &mut Bytes) -> Result<Self, Error> {
        Bytes::get(src).map(|b| b.to_vec())
    }
}

impl Wire for String {
    fn put(&self, dst: &mut BytesMut) {
        dst.put_u32_le(self.len() as u32);
        dst.extend_from_slice(self.as_bytes());
    }
    fn get(src: &mut Bytes) -> Result<Self, Error> {
        String::from_utf8(Bytes::get(src)?.to_vec())
            .map_err(|_| Error::Malformed("a string that is not UTF-8"))
    }
}

impl<const N: usize> Wire for [u8; N] {
    fn put(&self, dst: &mut BytesMut) {
        dst.extend_from_slice(self);
    }
    fn get(src: &mut Bytes) -> Result<Self, Error> {
        if src.remaining() < N {
            return Err(SHORT);
        }
        let mut a = [0u8; N];
        src.copy_to_slice(&mut a);
        Ok(a)
    }
}

impl<T: Wire> Wire for Option<T> {
    fn put(&self, dst: &mut BytesMut) {
        match self {
            None => dst.put_u8(0),
            Some(v) => {
                dst.put_u8(1);
                v.put(dst);
            }
        }
    }
    fn get(src: &mut Bytes) -> Result<Self, Error> {
        match u8::get(src)? {
            0 => Ok(None),
            1 => T::get(src).map(Some),
            _ => Err(Error::Malformed("an Option tag that is neither 0 nor 1")),
        }
    }
}

macro_rules! wire_tuple {
    ($($n:tt $t:ident),+) => {
        impl<$($t: Wire),+> Wire for ($($t,)+) {
            fn put(&self, dst: &mut BytesMut) {
                $(self.$n.put(dst);)+
            }
            fn get(src: &mut Bytes) -> Result<Self, Error> {
                Ok(($($t::get(src)?,)+))
            }
        }
    };
}
wire_tuple!(0 A, 1 B);
wire_tuple!(0 A, 1 B, 2 C);
wire_tuple!(0 A, 1 B, 2 C, 3 D);

/// The [`Wire`] encoding as an [`Encoding`]: the frame body is exactly the
/// payload's wire form (trailing bytes are [`Error::Malformed`]).
///
/// # Examples
///
/// See [`Encoding`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Pod;

impl<P: Wire> Encoding<P> for Pod {
    #[inline]
    fn encode(&mut self, payload: P, dst: &mut BytesMut) -> Result<(), Error> {
        payload.put(dst);
        Ok(())
    }
    #[inline]
    fn decode(&mut self, mut body: Bytes) -> Result<P, Error> {
        let p = P::get(&mut body)?;
        if body.has_remaining() {
            return Err(Error::Malformed("trailing bytes after the payload"));
        }
        Ok(p)
    }
}

/// The default frame format: `u32` little-endian length of what follows,
/// a kind byte (0 message, 1 abort), the label byte, then the body in the
/// encoding `E`. Frames over `max_frame` bytes are rejected on both sides.
///
/// # Examples
///
/// ```
/// use bytes::BytesMut;
/// use corelane::session::codec::{Codec, Framed};
/// let mut c = Framed::pod(1024);
/// let mut buf = BytesMut::new();
/// Codec::<u64>::encode(&mut c, 2, 99, &mut buf)?;
/// assert_eq!(buf.len(), 4 + 2 + 8);
/// assert_eq!(Codec::<u64>::decode(&mut c, &mut buf)?, Some((2, 99)));
/// # Ok::<(), corelane::session::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Framed<E = Pod> {
    encoding: E,
    max_frame: usize,
}

impl Framed<Pod> {
    /// Frames whose bodies are [`Wire`]-encoded, at most `max_frame` bytes
    /// each (header included).
    ///
    /// # Examples
    ///
    /// See [`Framed`].
    pub fn pod(max_frame: usize) -> Self {
        Framed::new(Pod, max_frame)
    }
}

impl<E> Framed<E> {
    /// Frames whose bodies use `encoding`, at most `max_frame` bytes each
    /// (header included; at least 6).
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::session::codec::{Framed, Pod};
    /// let c = Framed::new(Pod, 64 * 1024);
    /// assert_eq!(c.max_frame(), 64 * 1024);
    /// ```
    pub fn new(encoding: E, max_frame: usize) -> Self {
        Framed {
            encoding,
            max_frame: max_frame.clamp(HEADER, u32::MAX as usize),
        }
    }

    /// The cap on a frame's size, header included.
    ///
    /// # Examples
    ///
    /// See [`new`](Framed::new).
    pub fn max_frame(&self) -> usize {
        self.max_frame
    }
}

const HEADER: usize = 6;
const KIND_MSG: u8 = 0;
const KIND_ABORT: u8 = 1;

impl<P, E: Encoding<P>> Codec<P> for Framed<E> {
    fn encode(&mut self, label: u8, payload: P, dst: &mut BytesMut) -> Result<(), Error> {
        let start = dst.len();
        dst.put_u32_le(0);
        dst.put_u8(KIND_MSG);
        dst.put_u8(label);
        if let Err(e) = self.encoding.encode(payload, dst) {
            // Nothing of a frame that failed stays behind (its header
            // would reach the peer before whatever is sent next).
            dst.truncate(start);
            return Err(e);
        }
        let len = dst.len() - start;
        if len > self.max_frame {
            dst.truncate(start);
            return Err(Error::Malformed("a frame over max_frame (not sent)"));
        }
        dst[start..start + 4].copy_from_slice(&((len - 4) as u32).to_le_bytes());
        Ok(())
    }

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<(u8, P)>, Error> {
        if src.len() < 4 {
            return Ok(None);
        }
        let mut len = [0u8; 4];
        len.copy_from_slice(&src[..4]);
        let len = u32::from_le_bytes(len) as usize;
        if len < HEADER - 4 || len + 4 > self.max_frame {
            return Err(Error::Malformed("frame length out of bounds"));
        }
        if src.len() < len + 4 {
            // A header is a peer's claim: reserve a bounded step, not the
            // whole (possibly huge) length at once.
            src.reserve((len + 4 - src.len()).min(64 * 1024));
            return Ok(None);
        }
        let mut frame = src.split_to(len + 4).freeze();
        frame.advance(4);
        let kind = frame.get_u8();
        let label = frame.get_u8();
        match kind {
            KIND_MSG => self.encoding.decode(frame).map(|p| Some((label, p))),
            KIND_ABORT => Err(Error::Cancelled),
            _ => Err(Error::Malformed("unknown frame kind")),
        }
    }

    fn encode_abort(&mut self, dst: &mut BytesMut) {
        dst.put_u32_le(2);
        dst.put_u8(KIND_ABORT);
        dst.put_u8(0);
    }
}

/// Gives structs and payload enums a [`Wire`] encoding.
///
/// - `session_wire!(struct Name { field, field, … });` — the fields in
///   order (each must be `Wire`).
/// - `session_wire!(enum Name { Variant, Variant, … });` — for an enum made
///   by [`session_payload!`](crate::session_payload): a tag byte (the
///   variant's position; 255 for a frame without a message), then the
///   variant's value. List every variant.
///
/// # Examples
///
/// ```
/// use bytes::BytesMut;
/// use corelane::session::codec::Wire;
///
/// pub struct Order { pub id: u64, pub qty: u32 }
/// pub struct Cancel { pub id: u64 }
/// corelane::session_wire!(struct Order { id, qty });
/// corelane::session_wire!(struct Cancel { id });
/// corelane::session_payload! {
///     /// The order protocol's messages.
///     pub enum Msg { Order(Order), Cancel(Cancel) }
/// }
/// corelane::session_wire!(enum Msg { Order, Cancel });
///
/// let mut buf = BytesMut::new();
/// Msg::Cancel(Cancel { id: 9 }).put(&mut buf);
/// match Msg::get(&mut buf.freeze())? {
///     Msg::Cancel(c) => assert_eq!(c.id, 9),
///     _ => unreachable!(),
/// }
/// # Ok::<(), corelane::session::Error>(())
/// ```
#[macro_export]
macro_rules! session_wire {
    (struct $name:ident { $($field:ident),* $(,)? }) => {
        impl $crate::session::codec::Wire for $name {
            fn put(&self, dst: &mut $crate::session::codec::BytesMut) {
                $($crate::session::codec::Wire::put(&self.$field, dst);)*
            }
            fn get(
                src: &mut $crate::session::codec::Bytes,
            ) -> ::core::result::Result<Self, $crate::session::Error> {
                Ok($name { $($field: $crate::session::codec::Wire::get(src)?),* })
            }
        }
    };
    (enum $name:ident { $($var:ident),+ $(,)? }) => {
        const _: () = assert!(
            [$(stringify!($var)),+].len() < 255,
            "session_wire!: at most 254 variants (tag 255 is the frame without a message)"
        );
        impl $crate::session::codec::Wire for $name {
            fn put(&self, dst: &mut $crate::session::codec::BytesMut) {
                #[allow(dead_code)]
                #[repr(u8)]
                enum __Tag { $($var),+ }
                match self {
                    $($name::$var(v) => {
                        $crate::session::codec::Wire::put(&(__Tag::$var as u8), dst);
                        $crate::session::codec::Wire::put(v, dst);
                    })+
                    $name::__Unit => $crate::session::codec::Wire::put(&255u8, dst),
                }
            }
            fn get(
                src: &mut $crate::session::codec::Bytes,
            ) -> ::core::result::Result<Self, $crate::session::Error> {
                #[allow(dead_code)]
                #[repr(u8)]
                enum __Tag { $($var),+ }
                let tag = <u8 as $crate::session::codec::Wire>::get(src)?;
                $(if tag == __Tag::$var as u8 {
                    return Ok($name::$var($crate::session::codec::Wire::get(src)?));
                })+
                if tag == 255 {
                    return Ok($name::__Unit);
                }
                Err($crate::session::Error::Malformed("unknown payload tag"))
            }
        }
    };
}

/// An [`Encoding`] for payloads that implement serde's `Serialize` and
/// `DeserializeOwned` (feature `serde`): each frame body is one JSON
/// document. Slower and larger than [`Pod`], for protocols whose types
/// already derive serde's traits.
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "serde")] {
/// use bytes::BytesMut;
/// use corelane::session::codec::{Encoding, Json};
/// let mut buf = BytesMut::new();
/// Json.encode((1u32, "two".to_string()), &mut buf)?;
/// let back: (u32, String) = Json.decode(buf.freeze())?;
/// assert_eq!(back, (1, "two".to_string()));
/// # }
/// # Ok::<(), corelane::session::Error>(())
/// ```
#[cfg(feature = "serde")]
#[derive(Clone, Copy, Debug, Default)]
pub struct Json;

#[cfg(feature = "serde")]
impl<P: serde::Serialize + serde::de::DeserializeOwned> Encoding<P> for Json {
    fn encode(&mut self, payload: P, dst: &mut BytesMut) -> Result<(), Error> {
        serde_json::to_writer(dst.writer(), &payload)
            .map_err(|_| Error::Malformed("the payload does not serialise"))
    }
    fn decode(&mut self, body: Bytes) -> Result<P, Error> {
        serde_json::from_slice(&body)
            .map_err(|_| Error::Malformed("not a JSON payload of this type"))
    }
}
