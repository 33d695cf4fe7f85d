//! A compile-time hash of a protocol type, sent in the TCP handshake so
//! that two programs that do not follow dual protocols never exchange a
//! message.

use super::choice::ChoiceFingerprint;
use super::types::{Choose, End, Offer, Rec, Recv, Send, Session, Split, Succ, Var, Z};

/// FNV-1a over `bytes`, at compile time.
///
/// # Examples
///
/// ```
/// assert_eq!(corelane::session::fnv1a(b""), 0xcbf2_9ce4_8422_2325);
/// ```
pub const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        h ^= bytes[i] as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    h
}

/// Combines two hashes, order-sensitively (a splitmix64 finaliser over
/// `a` rotated and `b`).
///
/// # Examples
///
/// ```
/// use corelane::session::mix;
/// assert_ne!(mix(1, 2), mix(2, 1));
/// ```
pub const fn mix(a: u64, b: u64) -> u64 {
    let mut z = a.rotate_left(23) ^ b.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A message type's name on the wire, part of every fingerprint that
/// sends it. Two programs agree on a protocol only if they agree on these
/// names, so give each message type a stable one.
///
/// # Examples
///
/// ```
/// use corelane::session::Named;
/// struct Order { id: u64 }
/// impl Named for Order {
///     const NAME: &'static str = "Order";
/// }
/// assert_eq!(<Order as Named>::ID, corelane::session::fnv1a(b"Order"));
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no wire name, so a protocol sending it has no fingerprint",
    label = "implement `corelane::session::Named` for it (`const NAME: &'static str = \"...\";`)"
)]
pub trait Named {
    /// The stable name.
    const NAME: &'static str;
    /// Its hash.
    const ID: u64 = fnv1a(Self::NAME.as_bytes());
}

macro_rules! named {
    ($($t:ty),*) => { $(impl Named for $t { const NAME: &'static str = stringify!($t); })* };
}
named!(
    (),
    bool,
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    f32,
    f64,
    char,
    String,
    Vec<u8>
);
#[cfg(feature = "io")]
named!(bytes::Bytes);
impl<T: Named, const N: usize> Named for [T; N] {
    const NAME: &'static str = "[T; N]";
    const ID: u64 = mix(mix(fnv1a(b"array"), T::ID), N as u64);
}

/// A type-level number's value (for [`Var`]'s fingerprint). Sealed: only
/// [`Z`] and [`Succ`] are loop indices.
///
/// # Examples
///
/// ```
/// use corelane::session::{Succ, Z};
/// use corelane::session::__private::Nat;
/// assert_eq!(<Succ<Succ<Z>> as Nat>::VALUE, 2);
/// ```
pub trait Nat: super::types::sealed::NatSeal {
    /// The number.
    const VALUE: u64;
}
impl super::types::sealed::NatSeal for Z {}
impl<N: Nat> super::types::sealed::NatSeal for Succ<N> {}
impl Nat for Z {
    const VALUE: u64 = 0;
}
impl<N: Nat> Nat for Succ<N> {
    const VALUE: u64 = N::VALUE + 1;
}

/// The compile-time hash of a protocol type in a canonical form: de Bruijn
/// loop indices, choice arms in label order with their names, message
/// types by their [`Named`] names. A type and its dual have different
/// fingerprints; the TCP handshake checks that the peer's is the dual of
/// ours.
///
/// # Examples
///
/// ```
/// use corelane::session::{Dual, End, Fingerprint, Recv, Send};
/// type P = Send<u64, Recv<u32, End>>;
/// assert_ne!(P::FINGERPRINT, <Dual<P>>::FINGERPRINT);
/// assert_eq!(<Dual<Dual<P>>>::FINGERPRINT, P::FINGERPRINT);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no fingerprint",
    label = "every message type it sends or receives needs `corelane::session::Named`"
)]
pub trait Fingerprint: Session {
    /// The hash.
    const FINGERPRINT: u64;
}

const fn tag(name: &[u8]) -> u64 {
    fnv1a(name)
}

impl<T: Named + 'static, S: Fingerprint> Fingerprint for Send<T, S> {
    const FINGERPRINT: u64 = mix(mix(tag(b"send"), T::ID), S::FINGERPRINT);
}
impl<T: Named + 'static, S: Fingerprint> Fingerprint for Recv<T, S> {
    const FINGERPRINT: u64 = mix(mix(tag(b"recv"), T::ID), S::FINGERPRINT);
}
impl<C: ChoiceFingerprint> Fingerprint for Choose<C> {
    const FINGERPRINT: u64 = mix(tag(b"choose"), C::ARMS_FINGERPRINT);
}
impl<C: ChoiceFingerprint> Fingerprint for Offer<C> {
    const FINGERPRINT: u64 = mix(tag(b"offer"), C::ARMS_FINGERPRINT);
}
impl<S: Fingerprint> Fingerprint for Rec<S> {
    const FINGERPRINT: u64 = mix(tag(b"rec"), S::FINGERPRINT);
}
impl<N: Nat + 'static> Fingerprint for Var<N> {
    const FINGERPRINT: u64 = mix(tag(b"var"), N::VALUE);
}
impl<A, B> Fingerprint for Split<A, B>
where
    Split<A, B>: Session,
    A: Fingerprint,
    B: Fingerprint,
{
    const FINGERPRINT: u64 = mix(mix(tag(b"split"), A::FINGERPRINT), B::FINGERPRINT);
}
impl Fingerprint for End {
    const FINGERPRINT: u64 = tag(b"end");
}
