//! How a session's frames become bytes on a stream (the TCP transport).

use bytes::BytesMut;

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
