//! How message types map into the one payload type a transport carries.

/// The one type a transport carries for a protocol: an enum made with
/// [`session_payload!`](crate::session_payload), or a single message type
/// (the integers, `bool`, `()`, and with feature `io` `bytes::Bytes`) when
/// a protocol sends nothing else. A choice arm that carries no message
/// sends [`Payload::unit`].
///
/// # Examples
///
/// ```
/// use corelane::session::Payload;
/// assert_eq!(<u64 as Payload>::unit(), 0);
/// ```
pub trait Payload: Sized + 'static {
    /// What a frame without a message carries.
    fn unit() -> Self;
    /// Whether `self` is what [`unit`](Payload::unit) made (single-type
    /// payloads cannot tell and say yes).
    fn is_unit(&self) -> bool {
        true
    }
}

/// A message type of a protocol whose transport carries `P`.
///
/// # Examples
///
/// ```
/// use corelane::session::Message;
/// assert_eq!(<u64 as Message<u64>>::from_payload(7).ok(), Some(7));
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a message of a protocol whose transport carries `{P}`",
    label = "add it to the payload enum (`corelane::session_payload!`)",
    note = "over TCP the payload also needs a wire encoding; an endpoint (`Chan`) never has one, so it can be delegated only in-process"
)]
pub trait Message<P>: Sized {
    /// Into the payload.
    fn into_payload(self) -> P;
    /// Back out, or the payload if it holds another message type.
    ///
    /// # Errors
    ///
    /// The payload itself, if it holds another message type.
    fn from_payload(p: P) -> Result<Self, P>;
}

impl<P: Payload> Message<P> for () {
    #[inline]
    fn into_payload(self) -> P {
        P::unit()
    }
    #[inline]
    fn from_payload(p: P) -> Result<Self, P> {
        if p.is_unit() {
            Ok(())
        } else {
            Err(p)
        }
    }
}

macro_rules! single {
    ($($t:ty = $unit:expr),*) => {$(
        impl Payload for $t {
            #[inline]
            fn unit() -> Self { $unit }
        }
        impl Message<$t> for $t {
            #[inline]
            fn into_payload(self) -> $t { self }
            #[inline]
            fn from_payload(p: $t) -> Result<Self, $t> { Ok(p) }
        }
    )*};
}
single!(
    bool = false,
    u8 = 0,
    u16 = 0,
    u32 = 0,
    u64 = 0,
    u128 = 0,
    usize = 0,
    i8 = 0,
    i16 = 0,
    i32 = 0,
    i64 = 0,
    i128 = 0,
    isize = 0
);
impl Payload for () {
    fn unit() -> Self {}
}
#[cfg(feature = "io")]
single!(bytes::Bytes = bytes::Bytes::new());

/// Makes a payload enum: one variant per message type (each type at most
/// once), a hidden variant for frames without a message, and the
/// [`Message`] impls that map each type in and out.
///
/// # Examples
///
/// ```
/// use corelane::session::{self, End, Message, Recv, Send};
///
/// pub struct Order { pub qty: u32 }
/// pub struct Fill { pub qty: u32, pub px: u64 }
/// corelane::session_payload! {
///     /// What the order protocol carries.
///     pub enum Msg { Order(Order), Fill(Fill) }
/// }
///
/// let (a, b) = session::ring::pair::<Send<Order, Recv<Fill, End>>, Msg>(2);
/// let a = a.send_blocking(Order { qty: 5 })?;
/// let (o, b) = b.recv_blocking()?;
/// let b = b.send_blocking(Fill { qty: o.qty, px: 100 })?;
/// let (f, a) = a.recv_blocking()?;
/// assert_eq!((f.qty, f.px), (5, 100));
/// a.close();
/// b.close();
/// # Ok::<(), session::Error>(())
/// ```
#[macro_export]
macro_rules! session_payload {
    (
        $(#[$m:meta])*
        $vis:vis enum $name:ident {
            $($(#[$vm:meta])* $var:ident($ty:ty)),+ $(,)?
        }
    ) => {
        $(#[$m])*
        $vis enum $name {
            $($(#[$vm])* #[allow(missing_docs)] $var($ty),)+
            /// A frame without a message (a choice arm that carries none).
            #[doc(hidden)]
            __Unit,
        }
        impl $crate::session::Payload for $name {
            #[inline]
            fn unit() -> Self {
                $name::__Unit
            }
            #[inline]
            fn is_unit(&self) -> bool {
                matches!(self, $name::__Unit)
            }
        }
        $(
            impl $crate::session::Message<$name> for $ty {
                #[inline]
                fn into_payload(self) -> $name {
                    $name::$var(self)
                }
                #[inline]
                fn from_payload(p: $name) -> ::core::result::Result<Self, $name> {
                    match p {
                        $name::$var(v) => Ok(v),
                        #[allow(unreachable_patterns)]
                        other => Err(other),
                    }
                }
            }
        )+
    };
}
