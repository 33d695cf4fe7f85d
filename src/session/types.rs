//! The protocol types, their duals, and one trait per kind of step.

use core::marker::PhantomData;

use super::choice::Choice;

pub(crate) mod sealed {
    /// Only this module's protocol types are sessions.
    pub trait Sealed {}
    /// Only the loop stacks this module builds resolve a [`Var`](super::Var).
    pub trait EnvSeal<N> {}
    /// Only [`Z`](super::Z) and [`Succ`](super::Succ) are loop indices.
    pub trait NatSeal {}
}

/// Send a `T`, then continue as `S`.
///
/// # Examples
///
/// ```
/// use corelane::session::{Dual, End, Recv, Send};
/// fn same<A, B>() where A: corelane::session::Session<Dual = B> {}
/// same::<Send<u64, End>, Recv<u64, End>>();
/// let _: Option<Dual<Send<u64, End>>> = None::<Recv<u64, End>>;
/// ```
pub struct Send<T, S = End>(PhantomData<fn() -> (T, S)>);

/// Receive a `T`, then continue as `S`.
///
/// # Examples
///
/// ```
/// use corelane::session::{Dual, End, Recv, Send};
/// let _: Option<Dual<Recv<u8, End>>> = None::<Send<u8, End>>;
/// ```
pub struct Recv<T, S = End>(PhantomData<fn() -> (T, S)>);

/// Pick one arm of the choice `C` (made with
/// [`session_choice!`](crate::session_choice)); its label goes out in the
/// frame of the arm's first message.
///
/// # Examples
///
/// See the [module docs](super).
pub struct Choose<C>(PhantomData<fn() -> C>);

/// Let the peer pick one arm of the choice `C` (written from the chooser's
/// side: here each arm continues as the dual of what the chooser does).
///
/// # Examples
///
/// See the [module docs](super).
pub struct Offer<C>(PhantomData<fn() -> C>);

/// A loop head: continue as `S`, where [`Var<Z>`] jumps back here.
///
/// # Examples
///
/// See the [module docs](super).
pub struct Rec<S>(PhantomData<fn() -> S>);

/// Jump back to the `N`th enclosing [`Rec`] ([`Z`] the innermost,
/// [`Succ<Z>`] the one around it, …).
///
/// # Examples
///
/// See the [module docs](super).
pub struct Var<N>(PhantomData<fn() -> N>);

/// Zero, the innermost loop (a type-level number for [`Var`]).
///
/// # Examples
///
/// ```
/// use corelane::session::{Rec, Recv, Var, Z};
/// type Forever = Rec<Recv<u64, Var<Z>>>;
/// ```
pub struct Z;

/// One more than `N` (a type-level number for [`Var`]).
///
/// # Examples
///
/// ```
/// use corelane::session::{Rec, Recv, Send, Succ, Var, Z};
/// // An outer loop around an inner one; `Var<Succ<Z>>` continues the outer.
/// type Nested = Rec<Send<u8, Rec<Recv<u8, Var<Succ<Z>>>>>>;
/// ```
pub struct Succ<N>(PhantomData<fn() -> N>);

/// Split into a transmit-only half following `Tx` and a receive-only half
/// following `Rx`, which then run independently (full duplex). Each half
/// is a session of its own that ends with [`End`]; a split is the last
/// step of the session it splits.
///
/// # Examples
///
/// ```
/// use corelane::session::{self, End, Rec, Recv, Send, Split, Var, Z};
///
/// type Ticker = Split<Rec<Send<u64, Var<Z>>>, Recv<u64, End>>;
/// let (a, b) = session::ring::pair::<Ticker, u64>(8);
/// let (a_tx, a_rx) = a.split();
/// let (b_tx, b_rx) = b.split();
/// let a_tx = a_tx.enter().send_blocking(1)?;
/// let b_tx = b_tx.send_blocking(9)?;
/// let (v, b_rx) = b_rx.enter().recv_blocking()?;
/// assert_eq!(v, 1);
/// let (w, a_rx) = a_rx.recv_blocking()?;
/// assert_eq!(w, 9);
/// b_tx.close();
/// a_rx.close();
/// drop((a_tx, b_rx)); // a loop with no end: dropping it aborts
/// # Ok::<(), session::Error>(())
/// ```
pub struct Split<Tx, Rx>(PhantomData<fn() -> (Tx, Rx)>);

/// The session is over.
///
/// # Examples
///
/// ```
/// use corelane::session::{self, End};
/// let (a, b) = session::ring::pair::<End, u8>(1);
/// a.close();
/// b.close();
/// ```
pub struct End;

/// A protocol type. Sealed: only this module's types are sessions.
///
/// # Examples
///
/// ```
/// use corelane::session::{Dual, End, Offer, Recv, Send, Session};
/// fn dual_of_dual_is_self<S: Session>() where S::Dual: Session<Dual = S> {}
/// dual_of_dual_is_self::<Send<u8, Recv<u16, End>>>();
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a session type",
    label = "expected a protocol built from Send, Recv, Choose, Offer, Rec, Var, Split and End",
    note = "a choice is made with `corelane::session_choice!`; a message type is not a session"
)]
pub trait Session: sealed::Sealed + 'static {
    /// The peer's view of this protocol.
    type Dual: Session<Dual = Self>;
}

/// The peer's view of the protocol `S`.
///
/// # Examples
///
/// ```
/// use corelane::session::{Dual, End, Recv, Send};
/// let _: Option<Dual<Send<u8, End>>> = None::<Recv<u8, End>>;
/// ```
pub type Dual<S> = <S as Session>::Dual;

impl<T, S> sealed::Sealed for Send<T, S> {}
impl<T, S> sealed::Sealed for Recv<T, S> {}
impl<C> sealed::Sealed for Choose<C> {}
impl<C> sealed::Sealed for Offer<C> {}
impl<S> sealed::Sealed for Rec<S> {}
impl<N> sealed::Sealed for Var<N> {}
impl<A, B> sealed::Sealed for Split<A, B> {}
impl sealed::Sealed for End {}

impl<T: 'static, S: Session> Session for Send<T, S> {
    type Dual = Recv<T, S::Dual>;
}
impl<T: 'static, S: Session> Session for Recv<T, S> {
    type Dual = Send<T, S::Dual>;
}
impl<C: Choice> Session for Choose<C> {
    type Dual = Offer<C>;
}
impl<C: Choice> Session for Offer<C> {
    type Dual = Choose<C>;
}
impl<S: Session> Session for Rec<S> {
    type Dual = Rec<S::Dual>;
}
impl<N: super::fingerprint::Nat + 'static> Session for Var<N> {
    type Dual = Var<N>;
}
impl<A: SendOnly, B: RecvOnly> Session for Split<A, B>
where
    A::Dual: RecvOnly,
    B::Dual: SendOnly,
{
    // The peer transmits what this side receives and vice versa.
    type Dual = Split<B::Dual, A::Dual>;
}
impl Session for End {
    type Dual = End;
}

/// A session that only transmits (the `Tx` half of a [`Split`]): built
/// from [`Send`], [`Choose`] (whose arms only transmit), [`Rec`], [`Var`]
/// and [`End`].
///
/// # Examples
///
/// ```
/// use corelane::session::{End, Rec, Send, SendOnly, Var, Z};
/// fn tx<S: SendOnly>() {}
/// tx::<Rec<Send<u8, Var<Z>>>>();
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` receives, but the transmit half of a `Split` may only send",
    label = "this half must be built from Send, Choose, Rec, Var and End",
    note = "the peer's halves are the duals of this side's (its transmit half is the dual of this side's receive half), so one wrong half may be reported twice"
)]
pub trait SendOnly: Session {}
/// A session that only receives (the `Rx` half of a [`Split`]): built
/// from [`Recv`], [`Offer`], [`Rec`], [`Var`] and [`End`].
///
/// # Examples
///
/// ```
/// use corelane::session::{End, Recv, RecvOnly};
/// fn rx<S: RecvOnly>() {}
/// rx::<Recv<u8, End>>();
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` sends, but the receive half of a `Split` may only receive",
    label = "this half must be built from Recv, Offer, Rec, Var and End",
    note = "the peer's halves are the duals of this side's (its receive half is the dual of this side's transmit half), so one wrong half may be reported twice"
)]
pub trait RecvOnly: Session {}
impl<T: 'static, S: SendOnly> SendOnly for Send<T, S> {}
impl<C: super::choice::ChoiceSendOnly> SendOnly for Choose<C> {}
impl<S: SendOnly> SendOnly for Rec<S> {}
impl<N: super::fingerprint::Nat + 'static> SendOnly for Var<N> {}
impl SendOnly for End {}
impl<T: 'static, S: RecvOnly> RecvOnly for Recv<T, S> {}
impl<C: super::choice::ChoiceSendOnly> RecvOnly for Offer<C> {}
impl<S: RecvOnly> RecvOnly for Rec<S> {}
impl<N: super::fingerprint::Nat + 'static> RecvOnly for Var<N> {}
impl RecvOnly for End {}

/// The loop heads a [`Var<N>`] can jump to: a type-level stack of the
/// enclosing [`Rec`] bodies, innermost first (`(Body, Outer)`), `()` at the
/// top level.
///
/// # Examples
///
/// ```
/// use corelane::session::{Env, Send, Succ, End, Z};
/// fn body<E: Env<Succ<Z>, Body = End>>() {}
/// body::<(Send<u8, End>, (End, ()))>();
/// ```
#[diagnostic::on_unimplemented(
    message = "a `Var` jumps further out than the loops (`Rec`s) around it",
    label = "no `Rec` this far out",
    note = "`Var<Z>` continues the innermost enclosing `Rec`, `Var<Succ<Z>>` the one around that, and so on: count the `Rec`s between the `Var` and the loop it should continue"
)]
pub trait Env<N>: sealed::EnvSeal<N> {
    /// The body of the loop `Var<N>` jumps to.
    type Body;
    /// The stack of loop heads after the jump (that loop innermost).
    type Stack;
}
impl<S, E> sealed::EnvSeal<Z> for (S, E) {}
impl<N, S, E: Env<N>> sealed::EnvSeal<Succ<N>> for (S, E) {}
impl<S, E> Env<Z> for (S, E) {
    type Body = S;
    type Stack = (S, E);
}
impl<N, S, E: Env<N>> Env<Succ<N>> for (S, E) {
    type Body = E::Body;
    type Stack = E::Stack;
}

/// A step that sends: [`Send<T, S>`].
///
/// # Examples
///
/// ```
/// use corelane::session::{step::SendStep, End, Send};
/// fn sends<S: SendStep<Msg = u8, Next = End>>() {}
/// sends::<Send<u8, End>>();
/// ```
#[diagnostic::on_unimplemented(
    message = "the protocol is at `{Self}` here, not at a `Send`",
    label = "this step does not send",
    note = "the step is the first type parameter of `Chan`; follow it (a `Rec` needs `enter()`, a `Var` needs `recurse()`)"
)]
pub trait SendStep {
    /// What is sent.
    type Msg;
    /// The continuation.
    type Next;
}
impl<T, S> SendStep for Send<T, S> {
    type Msg = T;
    type Next = S;
}

/// A step that receives: [`Recv<T, S>`].
///
/// # Examples
///
/// ```
/// use corelane::session::{step::RecvStep, End, Recv};
/// fn receives<S: RecvStep<Msg = u8, Next = End>>() {}
/// receives::<Recv<u8, End>>();
/// ```
#[diagnostic::on_unimplemented(
    message = "the protocol is at `{Self}` here, not at a `Recv`",
    label = "this step does not receive",
    note = "the step is the first type parameter of `Chan`; follow it (a `Rec` needs `enter()`, a `Var` needs `recurse()`)"
)]
pub trait RecvStep {
    /// What is received.
    type Msg;
    /// The continuation.
    type Next;
}
impl<T, S> RecvStep for Recv<T, S> {
    type Msg = T;
    type Next = S;
}

/// A step that chooses: [`Choose<C>`].
///
/// # Examples
///
/// See the [module docs](super).
#[diagnostic::on_unimplemented(
    message = "the protocol is at `{Self}` here, not at a `Choose`",
    label = "this side does not choose here"
)]
pub trait ChooseStep {
    /// The choice.
    type Choice: Choice;
}
impl<C: Choice> ChooseStep for Choose<C> {
    type Choice = C;
}

/// A step that offers: [`Offer<C>`].
///
/// # Examples
///
/// See the [module docs](super).
#[diagnostic::on_unimplemented(
    message = "the protocol is at `{Self}` here, not at an `Offer`",
    label = "this side does not offer a choice here"
)]
pub trait OfferStep {
    /// The choice.
    type Choice: Choice;
}
impl<C: Choice> OfferStep for Offer<C> {
    type Choice = C;
}

/// A loop head: [`Rec<S>`].
///
/// # Examples
///
/// See the [module docs](super).
#[diagnostic::on_unimplemented(
    message = "the protocol is at `{Self}` here, not at a loop head (`Rec`)",
    label = "nothing to enter here"
)]
pub trait RecStep {
    /// The loop body.
    type Body;
}
impl<S> RecStep for Rec<S> {
    type Body = S;
}

/// A jump back to a loop head: [`Var<N>`].
///
/// # Examples
///
/// See the [module docs](super).
#[diagnostic::on_unimplemented(
    message = "the protocol is at `{Self}` here, not at a `Var` (a jump back to a loop)",
    label = "nothing to recurse into here"
)]
pub trait VarStep<E> {
    /// The body jumped to.
    type Body;
    /// The loop stack after the jump.
    type Stack;
}
impl<N, E: Env<N>> VarStep<E> for Var<N> {
    type Body = E::Body;
    type Stack = E::Stack;
}

/// A split into two half-duplex halves: [`Split<Tx, Rx>`].
///
/// # Examples
///
/// See [`Split`].
#[diagnostic::on_unimplemented(
    message = "the protocol is at `{Self}` here, not at a `Split`",
    label = "nothing to split here"
)]
pub trait SplitStep {
    /// The transmit half's protocol.
    type Tx;
    /// The receive half's protocol.
    type Rx;
}
impl<A, B> SplitStep for Split<A, B> {
    type Tx = A;
    type Rx = B;
}

/// The end of a session: [`End`].
///
/// # Examples
///
/// See [`End`].
#[diagnostic::on_unimplemented(
    message = "the protocol is at `{Self}` here, not at `End`",
    label = "the session is not over: it cannot be closed here"
)]
pub trait EndStep {}
impl EndStep for End {}
