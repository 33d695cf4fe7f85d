//! The endpoint: a transport and, in its type only, the protocol state.

// The step signatures spell out the protocol state; naming each one
// would hide exactly what the reader needs to see.
#![allow(clippy::type_complexity)]

use core::future::poll_fn;
use core::marker::PhantomData;
use core::mem::ManuallyDrop;

use super::choice::{Choice, Label, Offerable};
use super::error::Error;
use super::message::Message;
use super::transport::{
    BlockingReceiver, BlockingSender, Endpoint, Receiver, Sender, SplitTransport,
};
use super::types::{
    ChooseStep, EndStep, OfferStep, RecStep, RecvStep, SendStep, SplitStep, VarStep,
};

/// A session endpoint in state `S` over the transport `Tr`; `E` is the
/// stack of enclosing loop bodies ([`Env`](super::Env), `()` outside any
/// loop). Each step consumes the channel and returns the continuation;
/// the state exists only in the type, so a `Chan` is exactly its transport
/// (`size_of::<Chan<S, Tr>>() == size_of::<Tr>()`).
///
/// Dropping a channel before [`End`](super::End) aborts the session (the
/// peer's next step returns [`Error::Cancelled`] where the transport can
/// say so). A failed step consumes the channel too: the session is
/// poisoned.
///
/// # Examples
///
/// ```
/// use corelane::session::{self, Chan, End, Send, Recv, ring::Ring};
/// assert_eq!(
///     std::mem::size_of::<Chan<Send<u64, Recv<u64, End>>, Ring<u64>>>(),
///     std::mem::size_of::<Ring<u64>>(),
/// );
/// let (a, b) = session::ring::pair::<Send<u64, End>, u64>(1);
/// let a = a.send_blocking(1)?;
/// let (v, b) = b.recv_blocking()?;
/// assert_eq!(v, 1);
/// a.close();
/// b.close();
/// # Ok::<(), session::Error>(())
/// ```
#[must_use = "a session endpoint must be followed to its End: dropping it aborts the session"]
#[repr(transparent)]
pub struct Chan<S, Tr: Endpoint, E = ()> {
    pub(super) tr: Tr,
    _state: PhantomData<fn() -> (S, E)>,
}

/// Wraps a transport in a channel at any state (for the transports and
/// the choice macro; not an API: a channel made here skips the handshake
/// and the duality check).
#[doc(hidden)]
#[inline(always)]
pub fn new_chan<S, Tr: Endpoint, E>(tr: Tr) -> Chan<S, Tr, E> {
    Chan {
        tr,
        _state: PhantomData,
    }
}

impl<S, Tr: Endpoint, E> core::fmt::Debug for Chan<S, Tr, E> {
    /// The protocol state (the transport is not shown).
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Chan")
            .field("state", &core::any::type_name::<S>())
            .finish_non_exhaustive()
    }
}

impl<S, Tr: Endpoint, E> Drop for Chan<S, Tr, E> {
    fn drop(&mut self) {
        self.tr.abort();
    }
}

#[inline(always)]
pub(super) fn decode<T: Message<P>, P>(label: u8, p: P) -> Result<T, Error> {
    let expected = core::any::type_name::<T>();
    if label != 0 {
        return Err(Error::Violation {
            expected,
            got: label,
        });
    }
    T::from_payload(p).map_err(|_| Error::Violation { expected, got: 0 })
}

// Each step names what it produces as parameters of its own, bound through
// the step trait (`S: RecvStep<Msg = M, Next = N>`), instead of projecting
// `S::Msg` in the signature. With a projection, a step the protocol is not
// at fails method lookup ("the method exists but its trait bounds were not
// satisfied", E0599) and the step trait's `on_unimplemented` message never
// shows; a bound on the method is checked after lookup, and the error says
// which step the protocol is at (E0277; see `tests/ui/session_*.stderr`).
impl<S, Tr: Endpoint, E> Chan<S, Tr, E> {
    #[inline(always)]
    pub(super) fn into_transport(self) -> Tr {
        let me = ManuallyDrop::new(self);
        // SAFETY: `me` is never used or dropped again (ManuallyDrop), so
        // the transport is moved out exactly once and `Chan`'s Drop (the
        // abort) does not run for it.
        unsafe { core::ptr::read(&me.tr) }
    }

    #[inline(always)]
    pub(super) fn cast<S2, E2>(self) -> Chan<S2, Tr, E2> {
        new_chan(self.into_transport())
    }

    /// The transport, for reading its state (statistics, addresses).
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::session::{self, End};
    /// let (a, b) = session::ring::pair::<End, u64>(4);
    /// assert!(a.transport().capacity() >= 4);
    /// a.close();
    /// b.close();
    /// ```
    pub fn transport(&self) -> &Tr {
        &self.tr
    }

    /// Sends `msg` (this step is a [`Send`](super::Send)).
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] if the peer is gone, or the transport's error; the
    /// session is over.
    ///
    /// # Examples
    ///
    /// ```
    /// # corelane::sched::Runtime::builder().cores([0]).pin(false).build().unwrap().block_on(async {
    /// use corelane::session::{self, End, Send};
    /// let (a, b) = session::ring::pair::<Send<u64, End>, u64>(1);
    /// a.send(7).await?.close();
    /// let (v, b) = b.recv().await?;
    /// assert_eq!(v, 7);
    /// b.close();
    /// # Ok::<(), session::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn send<M, N>(mut self, msg: M) -> Result<Chan<N, Tr, E>, Error>
    where
        S: SendStep<Msg = M, Next = N>,
        M: Message<Tr::Payload>,
        Tr: Sender,
    {
        self.tr.begin_send();
        poll_fn(|cx| self.tr.poll_ready(cx)).await?;
        self.tr.start_send(0, msg.into_payload())?;
        Ok(self.cast())
    }

    /// [`send`](Chan::send), waiting on this thread.
    ///
    /// # Errors
    ///
    /// As [`send`](Chan::send).
    ///
    /// # Examples
    ///
    /// See [`Chan`].
    #[inline(always)]
    pub fn send_blocking<M, N>(mut self, msg: M) -> Result<Chan<N, Tr, E>, Error>
    where
        S: SendStep<Msg = M, Next = N>,
        M: Message<Tr::Payload>,
        Tr: BlockingSender,
    {
        self.tr.send_blocking(0, msg.into_payload())?;
        Ok(self.cast())
    }

    /// Receives the message (this step is a [`Recv`](super::Recv)).
    ///
    /// # Errors
    ///
    /// [`Error::Violation`] for a label or a message type the step does not
    /// allow, [`Error::Cancelled`] / [`Error::Closed`] if the peer went
    /// away, [`Error::Malformed`] or the transport's error; the session is
    /// over.
    ///
    /// # Examples
    ///
    /// See [`send`](Chan::send).
    pub async fn recv<M, N>(mut self) -> Result<(M, Chan<N, Tr, E>), Error>
    where
        S: RecvStep<Msg = M, Next = N>,
        M: Message<Tr::Payload>,
        Tr: Receiver,
    {
        self.tr.begin_recv();
        let (label, p) = poll_fn(|cx| self.tr.poll_recv(cx)).await?;
        let v = decode(label, p)?;
        Ok((v, self.cast()))
    }

    /// [`recv`](Chan::recv), waiting on this thread.
    ///
    /// # Errors
    ///
    /// As [`recv`](Chan::recv).
    ///
    /// # Examples
    ///
    /// See [`Chan`].
    #[inline(always)]
    pub fn recv_blocking<M, N>(mut self) -> Result<(M, Chan<N, Tr, E>), Error>
    where
        S: RecvStep<Msg = M, Next = N>,
        M: Message<Tr::Payload>,
        Tr: BlockingReceiver,
    {
        match self.tr.recv_blocking(None)? {
            Some((label, p)) => {
                let v = decode(label, p)?;
                Ok((v, self.cast()))
            }
            None => Err(Error::Timeout),
        }
    }

    /// Picks the arm `L` of this [`Choose`](super::Choose) and sends its
    /// message in the same frame as the label.
    ///
    /// # Errors
    ///
    /// As [`send`](Chan::send).
    ///
    /// # Examples
    ///
    /// See the [module docs](super) (the blocking form).
    pub async fn choose<L, C>(mut self, _arm: L, msg: L::Msg) -> Result<Chan<L::Next, Tr, E>, Error>
    where
        S: ChooseStep<Choice = C>,
        C: Choice,
        L: Label<C>,
        L::Msg: Message<Tr::Payload>,
        Tr: Sender,
    {
        self.tr.begin_send();
        poll_fn(|cx| self.tr.poll_ready(cx)).await?;
        self.tr.start_send(L::INDEX, msg.into_payload())?;
        Ok(self.cast())
    }

    /// [`choose`](Chan::choose), waiting on this thread.
    ///
    /// # Errors
    ///
    /// As [`send`](Chan::send).
    ///
    /// # Examples
    ///
    /// See the [module docs](super).
    #[inline(always)]
    pub fn choose_blocking<L, C>(
        mut self,
        _arm: L,
        msg: L::Msg,
    ) -> Result<Chan<L::Next, Tr, E>, Error>
    where
        S: ChooseStep<Choice = C>,
        C: Choice,
        L: Label<C>,
        L::Msg: Message<Tr::Payload>,
        Tr: BlockingSender,
    {
        self.tr.send_blocking(L::INDEX, msg.into_payload())?;
        Ok(self.cast())
    }

    #[inline(always)]
    pub(super) fn branch<C: Offerable<Tr, E>>(
        self,
        label: u8,
        p: Tr::Payload,
    ) -> Result<C::Branch, Error>
    where
        Tr: Receiver,
    {
        C::branch(label, p, self.into_transport()).map_err(|(e, mut tr)| {
            tr.abort();
            e
        })
    }

    /// Waits for the peer's pick of this [`Offer`](super::Offer): the
    /// choice's `Branch` enum, with the arm's message and continuation.
    ///
    /// # Errors
    ///
    /// As [`recv`](Chan::recv) ([`Error::Violation`] for a label that is
    /// not one of the arms).
    ///
    /// # Examples
    ///
    /// See the [module docs](super) (the blocking form).
    pub async fn offer<C, B>(mut self) -> Result<B, Error>
    where
        S: OfferStep<Choice = C>,
        C: Offerable<Tr, E, Branch = B>,
        Tr: Receiver,
    {
        self.tr.begin_recv();
        let (label, p) = poll_fn(|cx| self.tr.poll_recv(cx)).await?;
        self.branch::<C>(label, p)
    }

    /// [`offer`](Chan::offer), waiting on this thread.
    ///
    /// # Errors
    ///
    /// As [`offer`](Chan::offer).
    ///
    /// # Examples
    ///
    /// See the [module docs](super).
    #[inline(always)]
    pub fn offer_blocking<C, B>(mut self) -> Result<B, Error>
    where
        S: OfferStep<Choice = C>,
        C: Offerable<Tr, E, Branch = B>,
        Tr: BlockingReceiver,
    {
        match self.tr.recv_blocking(None)? {
            Some((label, p)) => self.branch::<C>(label, p),
            None => Err(Error::Timeout),
        }
    }

    /// Enters the loop at this [`Rec`](super::Rec) (free: a type change).
    ///
    /// # Examples
    ///
    /// See the [module docs](super).
    #[inline(always)]
    pub fn enter<B>(self) -> Chan<B, Tr, (B, E)>
    where
        S: RecStep<Body = B>,
    {
        self.cast()
    }

    /// Jumps back to the loop head this [`Var`](super::Var) names (free: a
    /// type change).
    ///
    /// # Examples
    ///
    /// See the [module docs](super).
    #[inline(always)]
    pub fn recurse<B, St>(self) -> Chan<B, Tr, St>
    where
        S: VarStep<E, Body = B, Stack = St>,
    {
        self.cast()
    }

    /// Splits at this [`Split`](super::Split) into the transmit half and
    /// the receive half, which then run independently (on one task, two
    /// tasks, or for the rings two threads).
    ///
    /// # Examples
    ///
    /// See [`Split`](super::Split).
    pub fn split<Tx, Rx>(self) -> (Chan<Tx, Tr::Tx>, Chan<Rx, Tr::Rx>)
    where
        S: SplitStep<Tx = Tx, Rx = Rx>,
        Tr: SplitTransport,
        Tr::Tx: Endpoint,
        Tr::Rx: Endpoint,
    {
        let (tx, rx) = self.into_transport().split();
        (new_chan(tx), new_chan(rx))
    }

    /// Ends the session (this step is [`End`](super::End)): the transport is
    /// dropped without an abort (over TCP, queued bytes still go out).
    ///
    /// # Examples
    ///
    /// See [`End`](super::End).
    #[inline(always)]
    pub fn close(self)
    where
        S: EndStep,
    {
        drop(self.into_transport());
    }
}
