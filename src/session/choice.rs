//! n-ary choice: up to 256 arms, the label fused into the arm's first
//! frame. Choices are made with [`session_choice!`](crate::session_choice).

use super::chan::Chan;
use super::error::Error;
use super::transport::{Endpoint, Receiver};

/// A choice between arms, written from the chooser's side. Made by
/// [`session_choice!`](crate::session_choice); do not implement it by hand
/// (the macro numbers the arms and builds the matching [`Label`]s and
/// branch enum).
///
/// # Examples
///
/// ```
/// use corelane::session::{Choice, End};
/// corelane::session_choice! {
///     /// Yes or no.
///     pub mod answer { Yes(()) => End, No(()) => End }
/// }
/// assert_eq!(<answer::Choice as Choice>::ARMS, 2);
/// assert_eq!(<answer::Choice as Choice>::NAMES, ["Yes", "No"]);
/// ```
pub trait Choice: 'static {
    /// How many arms (1 to 256).
    const ARMS: usize;
    /// The arms' names, in label order.
    const NAMES: &'static [&'static str];
    /// What a violation of this choice says was expected.
    const EXPECTED: &'static str;
}

/// One arm of the choice `C`: its label, the message that carries it, and
/// what the chooser does next. Made by
/// [`session_choice!`](crate::session_choice) as a unit struct per arm,
/// which is what [`Chan::choose`] takes; only the macro's arms implement
/// it (a hand-made arm would let the two ends disagree).
///
/// # Examples
///
/// ```
/// use corelane::session::{End, Label};
/// corelane::session_choice! {
///     /// Yes or no.
///     pub mod answer { Yes(()) => End, No(u8) => End }
/// }
/// assert_eq!(<answer::No as Label<answer::Choice>>::INDEX, 1);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an arm of the choice `{C}`",
    label = "pick one of the arms declared in that `session_choice!`"
)]
pub trait Label<C: Choice>: ArmOf<C> {
    /// The label on the wire.
    const INDEX: u8;
    /// The message sent with the label.
    type Msg;
    /// The chooser's continuation.
    type Next;
}

/// Marks the arms [`session_choice!`](crate::session_choice) declared (a
/// supertrait of [`Label`] and [`Offerable`]). Not API: implementing it,
/// or anything else under `__private`, by hand steps outside what the
/// types guarantee (a forged arm can make the two ends disagree).
#[doc(hidden)]
pub trait ArmOf<C> {}

/// Decoding an offered choice over the transport `Tr` (made by
/// [`session_choice!`](crate::session_choice)).
///
/// # Examples
///
/// See the [module docs](super).
#[diagnostic::on_unimplemented(
    message = "the arms of `{Self}` cannot be received over `{Tr}`",
    label = "every arm's message must be a `Message` of the transport's payload"
)]
pub trait Offerable<Tr: Endpoint + Receiver, E>: Choice {
    /// The enum of arms, each with its message and continuation.
    type Branch;
    /// Builds the arm for `label`, or says why not (and gives the
    /// transport back, so the caller can abort it).
    ///
    /// # Errors
    ///
    /// [`Error::Violation`] for a label that is not an arm, or a message
    /// that is not the arm's type.
    fn branch(label: u8, p: Tr::Payload, tr: Tr) -> Result<Self::Branch, (Error, Tr)>;
}

/// The chooser's arms of `Self` only transmit (a choice that can appear in
/// the transmit half of a [`Split`](super::Split)). Made by
/// [`session_choice!`](crate::session_choice); `X` is only there so the
/// macro's bounds are checked where the choice is used, not where it is
/// declared.
///
/// # Examples
///
/// ```
/// use corelane::session::{End, Rec, Send, SendOnly, Var, Z, Choose};
/// corelane::session_choice! {
///     /// One more, or done.
///     pub mod more { More(u64) => Var<Z>, Done(()) => End }
/// }
/// fn tx<S: SendOnly>() {}
/// tx::<Rec<Choose<more::Choice>>>();
/// ```
pub trait ChoiceSendOnly<X = ()>: Choice {}

/// The fingerprint of a choice's arms (names, message types,
/// continuations, in label order). Made by
/// [`session_choice!`](crate::session_choice); `X` as for
/// [`ChoiceSendOnly`].
///
/// # Examples
///
/// ```
/// use corelane::session::{End, Fingerprint, Offer, Choose};
/// corelane::session_choice! {
///     /// Yes or no.
///     pub mod answer { Yes(()) => End, No(()) => End }
/// }
/// assert_ne!(<Choose<answer::Choice>>::FINGERPRINT, <Offer<answer::Choice>>::FINGERPRINT);
/// ```
pub trait ChoiceFingerprint<X = ()>: Choice {
    /// The hash.
    const ARMS_FINGERPRINT: u64;
}

/// Builds the continuation of an offered arm (for
/// [`session_choice!`](crate::session_choice) only).
#[doc(hidden)]
#[inline]
pub fn __arm<C, L, Tr, E>(tr: Tr) -> Chan<super::Dual<L::Next>, Tr, E>
where
    C: Choice,
    L: Label<C>,
    L::Next: super::Session,
    Tr: Endpoint,
{
    super::chan::new_chan(tr)
}

/// Helper bounds for [`session_choice!`](crate::session_choice): a bound on
/// `(T, X)` mentions the generic `X`, so it is checked where the choice is
/// used rather than rejected where it is declared.
#[doc(hidden)]
pub trait __SendOnlyWith<X> {}
impl<S: super::SendOnly, X> __SendOnlyWith<X> for S {}
#[doc(hidden)]
pub trait __FingerprintWith<X> {
    const FP: u64;
}
impl<S: super::Fingerprint, X> __FingerprintWith<X> for S {
    const FP: u64 = S::FINGERPRINT;
}
#[doc(hidden)]
pub trait __NamedWith<X> {
    const ID: u64;
}
impl<T: super::Named, X> __NamedWith<X> for T {
    const ID: u64 = T::ID;
}

/// Declares an n-ary choice (1 to 256 arms) in a module of its own: the
/// choice type `Choice` (for [`Choose`](crate::session::Choose) and
/// [`Offer`](crate::session::Offer)), a unit struct per arm (what
/// [`Chan::choose`](crate::session::Chan::choose) takes), and the enum
/// `Branch<Tr, E = ()>` that [`Chan::offer`](crate::session::Chan::offer)
/// returns (each variant holds the arm's message and the offerer's
/// continuation). Arms are written from the chooser's side: `Arm(Msg) =>
/// Next` sends `Msg` (use `()` for none) with the label and continues as
/// `Next`; the offerer continues as its dual. Labels count from 0 in
/// declaration order; `Arm(Msg) = 7 => Next` fixes an arm's label (as in
/// a Rust enum, later arms count on from it), for wire formats whose
/// message tags must stay put across states (FIX's MsgType). Inside, the names of the
/// enclosing module and of [`session`](crate::session) are in scope
/// (declare choices at module level: a function's local names are not).
///
/// # Examples
///
/// ```
/// use corelane::session::{self, End, Offer, Recv};
///
/// corelane::session_choice! {
///     /// A quote request's outcome.
///     pub mod outcome {
///         /// A price, then the client says how many.
///         Quote(u64) => Recv<u64, End>,
///         /// No price.
///         Reject(()) => End,
///     }
/// }
///
/// let (server, client) = session::ring::pair::<session::Choose<outcome::Choice>, u64>(2);
/// let server = server.choose_blocking(outcome::Quote, 101)?;
/// match client.offer_blocking()? {
///     outcome::Branch::Quote(px, c) => {
///         assert_eq!(px, 101);
///         c.send_blocking(5)?.close();
///     }
///     outcome::Branch::Reject((), c) => c.close(),
/// }
/// # let _ = server;
/// # Ok::<(), session::Error>(())
/// ```
///
/// (One payload type, `u64`, carries everything here; protocols with
/// several message types use [`session_payload!`](crate::session_payload).)
#[macro_export]
macro_rules! session_choice {
    (
        $(#[$m:meta])*
        $vis:vis mod $name:ident {
            $($(#[$am:meta])* $arm:ident($ty:ty) $(= $label:literal)? => $next:ty),+ $(,)?
        }
    ) => {
        $(#[$m])*
        $vis mod $name {
            #![allow(unused_imports, non_camel_case_types)]
            use super::*;
            use $crate::session::*;

            /// The choice (for `Choose` and `Offer`).
            pub enum Choice {}

            #[repr(u8)]
            #[allow(dead_code, clippy::upper_case_acronyms)]
            enum __Index { $($arm $(= $label)?),+ }

            $(
                $(#[$am])*
                #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
                pub struct $arm;

                impl $crate::session::__private::ArmOf<Choice> for $arm {}
                impl $crate::session::Label<Choice> for $arm {
                    const INDEX: u8 = __Index::$arm as u8;
                    type Msg = $ty;
                    type Next = $next;
                }
            )+

            impl $crate::session::Choice for Choice {
                const ARMS: usize = [$(stringify!($arm)),+].len();
                const NAMES: &'static [&'static str] = &[$(stringify!($arm)),+];
                const EXPECTED: &'static str =
                    concat!("one of ", stringify!($name), "::{", stringify!($($arm),+), "}");
            }

            impl<__X> $crate::session::ChoiceSendOnly<__X> for Choice
            where
                $($next: $crate::session::__private::SendOnlyWith<__X>),+
            {}

            impl<__X> $crate::session::ChoiceFingerprint<__X> for Choice
            where
                $($next: $crate::session::__private::FingerprintWith<__X>,
                  $ty: $crate::session::__private::NamedWith<__X>),+
            {
                const ARMS_FINGERPRINT: u64 = {
                    // (label, name, message, continuation) per arm, mixed
                    // in label order whatever the declaration order (the
                    // same wire protocol, the same fingerprint).
                    let arms = [$((
                        __Index::$arm as u8,
                        $crate::session::fnv1a(stringify!($arm).as_bytes()),
                        <$ty as $crate::session::__private::NamedWith<__X>>::ID,
                        <$next as $crate::session::__private::FingerprintWith<__X>>::FP,
                    )),+];
                    let mut h = $crate::session::fnv1a(b"choice");
                    let mut label = 0usize;
                    while label < 256 {
                        let mut i = 0;
                        while i < arms.len() {
                            if arms[i].0 as usize == label {
                                h = $crate::session::mix(h, label as u64);
                                h = $crate::session::mix(h, arms[i].1);
                                h = $crate::session::mix(h, arms[i].2);
                                h = $crate::session::mix(h, arms[i].3);
                            }
                            i += 1;
                        }
                        label += 1;
                    }
                    h
                };
            }

            /// The arm the peer chose: its message and this side's continuation.
            pub enum Branch<__Tr: $crate::session::Endpoint, __E = ()> {
                $(
                    $(#[$am])*
                    $arm($ty, $crate::session::Chan<$crate::session::Dual<$next>, __Tr, __E>),
                )+
            }

            impl<__Tr: $crate::session::Endpoint, __E> ::core::fmt::Debug for Branch<__Tr, __E> {
                fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                    match self {
                        $(Branch::$arm(..) => f.write_str(concat!(stringify!($name), "::", stringify!($arm))),)+
                    }
                }
            }

            impl<__Tr, __E> $crate::session::Offerable<__Tr, __E> for Choice
            where
                __Tr: $crate::session::Endpoint + $crate::session::Receiver,
                $($ty: $crate::session::Message<__Tr::Payload>),+
            {
                type Branch = Branch<__Tr, __E>;

                #[inline(always)]
                fn branch(
                    label: u8,
                    p: __Tr::Payload,
                    tr: __Tr,
                ) -> ::core::result::Result<Branch<__Tr, __E>, ($crate::session::Error, __Tr)> {
                    $(
                        if label == __Index::$arm as u8 {
                            return match <$ty as $crate::session::Message<__Tr::Payload>>::from_payload(p) {
                                Ok(v) => Ok(Branch::$arm(
                                    v,
                                    $crate::session::__private::arm::<Choice, $arm, __Tr, __E>(tr),
                                )),
                                Err(_) => Err((
                                    $crate::session::Error::Violation {
                                        expected: <Choice as $crate::session::Choice>::EXPECTED,
                                        got: label,
                                    },
                                    tr,
                                )),
                            };
                        }
                    )+
                    Err((
                        $crate::session::Error::Violation {
                            expected: <Choice as $crate::session::Choice>::EXPECTED,
                            got: label,
                        },
                        tr,
                    ))
                }
            }
        }
    };
}
