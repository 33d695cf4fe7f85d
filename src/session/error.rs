//! What can go wrong in a session: always a value, never a panic.

use core::fmt;

/// Why a session step failed. The step consumed the channel: after an
/// error the session is over (poisoned) on this side, and the transport
/// was told to abort where it can, so the peer learns it too.
///
/// # Examples
///
/// ```
/// use corelane::session::{self, End, Recv};
///
/// let (a, b) = session::ring::pair::<Recv<u64, End>, u64>(1);
/// drop(b); // the peer goes away before sending
/// assert!(matches!(a.recv_blocking(), Err(session::Error::Cancelled)));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The peer sent something the protocol does not allow here: a label
    /// that is not one of this step's arms, or a message of another type.
    Violation {
        /// The step that was expected (`"Recv"`, or the choice's arms).
        expected: &'static str,
        /// The label that came (0 for a plain message).
        got: u8,
    },
    /// A frame that does not decode: a bad header, a length over the cap, a
    /// payload the codec rejects.
    Malformed(&'static str),
    /// Nothing arrived before the deadline.
    Timeout,
    /// The peer went away (end of stream, ring disconnected) in the middle
    /// of the session.
    Closed,
    /// The peer dropped its endpoint before the end of the session and said
    /// so (an abort frame).
    Cancelled,
    /// The handshake was refused: the peer follows a protocol whose
    /// fingerprint is not the dual of ours, or speaks another wire version.
    Refused {
        /// The fingerprint the peer was expected to send (the dual of ours).
        expected: u64,
        /// The one it sent (0 if the preamble itself was wrong).
        got: u64,
    },
    /// The transport failed (a socket error).
    Io(std::io::Error),
}

impl Error {
    /// True for the errors the peer caused by breaking the protocol
    /// (`Violation`, `Malformed`, `Refused`), as opposed to time, a gone
    /// peer or the transport.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::session::Error;
    /// assert!(Error::Malformed("length").is_protocol_error());
    /// assert!(!Error::Timeout.is_protocol_error());
    /// ```
    pub fn is_protocol_error(&self) -> bool {
        matches!(
            self,
            Error::Violation { .. } | Error::Malformed(_) | Error::Refused { .. }
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Violation { expected, got } => {
                write!(
                    f,
                    "protocol violation: expected {expected}, got label {got}"
                )
            }
            Error::Malformed(why) => write!(f, "malformed frame: {why}"),
            Error::Timeout => f.write_str("timed out waiting for the peer"),
            Error::Closed => f.write_str("the peer closed the connection mid-session"),
            Error::Cancelled => f.write_str("the peer abandoned the session"),
            Error::Refused { expected, got } => write!(
                f,
                "handshake refused: expected protocol {expected:#018x}, peer sent {got:#018x}"
            ),
            Error::Io(e) => write!(f, "transport error: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e)
    }
}
