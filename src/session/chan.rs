//! The endpoint: a transport and, in its type only, the protocol state.

// The step signatures spell out the protocol state; naming each one
// would hide exactly what the reader needs to see.
#![allow(clippy::type_complexity)]

use core::future::poll_fn;
use core::marker::PhantomData;
use core::mem::ManuallyDrop;
use core::pin::pin;
use core::task::Poll;
use std::time::{Duration, Instant};

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
    tr: Tr,
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

/// The outcome of a receive with a deadline that does not end the session:
/// either what came, or the channel back, still at the same step.
///
/// # Examples
///
/// ```
/// use corelane::session::{self, End, Recv, Timed};
/// use std::time::{Duration, Instant};
///
/// let (a, b) = session::ring::pair::<Recv<u64, End>, u64>(1);
/// let soon = Instant::now() + Duration::from_millis(1);
/// let a = match a.recv_blocking_until(soon)? {
///     Timed::Ready(_) => unreachable!("nothing was sent"),
///     Timed::TimedOut(a) => a, // still waiting for the u64
/// };
/// let b = b.send_blocking(5)?;
/// let (v, a) = a.recv_blocking()?;
/// assert_eq!(v, 5);
/// a.close();
/// b.close();
/// # Ok::<(), session::Error>(())
/// ```
#[derive(Debug)]
pub enum Timed<T, C> {
    /// It came in time.
    Ready(T),
    /// The deadline passed first; nothing was consumed.
    TimedOut(C),
}

#[inline]
fn decode<T: Message<P>, P>(label: u8, p: P) -> Result<T, Error> {
    let expected = core::any::type_name::<T>();
    if label != 0 {
        return Err(Error::Violation {
            expected,
            got: label,
        });
    }
    T::from_payload(p).map_err(|_| Error::Violation { expected, got: 0 })
}

/// Waits for `poll` until `deadline` on the current core's timer wheel;
/// `Ok(None)` once it passed.
async fn until<R>(
    deadline: Instant,
    mut poll: impl FnMut(&mut core::task::Context<'_>) -> Poll<Result<R, Error>>,
) -> Result<Option<R>, Error> {
    let sleep = crate::sched::try_sleep_until(deadline).map_err(|_| {
        Error::Io(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "an async session deadline needs a corelane::sched runtime (its timer wheel)",
        ))
    })?;
    let mut sleep = pin!(sleep);
    poll_fn(|cx| {
        if let Poll::Ready(r) = poll(cx) {
            return Poll::Ready(r.map(Some));
        }
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Ok(None)),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

use core::future::Future;

// Each step names what it produces as parameters of its own, bound through
// the step trait (`S: RecvStep<Msg = M, Next = N>`), instead of projecting
// `S::Msg` in the signature. With a projection, a step the protocol is not
// at fails method lookup ("the method exists but its trait bounds were not
// satisfied", E0599) and the step trait's `on_unimplemented` message never
// shows; a bound on the method is checked after lookup, and the error says
// which step the protocol is at (E0277; see `tests/ui/session_*.stderr`).
impl<S, Tr: Endpoint, E> Chan<S, Tr, E> {
    #[inline(always)]
    fn into_transport(self) -> Tr {
        let me = ManuallyDrop::new(self);
        // SAFETY: `me` is never used or dropped again (ManuallyDrop), so
        // the transport is moved out exactly once and `Chan`'s Drop (the
        // abort) does not run for it.
        unsafe { core::ptr::read(&me.tr) }
    }

    #[inline(always)]
    fn cast<S2, E2>(self) -> Chan<S2, Tr, E2> {
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
    #[inline]
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
        let (label, p) = poll_fn(|cx| self.tr.poll_recv(cx)).await?;
        let v = decode(label, p)?;
        Ok((v, self.cast()))
    }

    /// [`recv`](Chan::recv) with a deadline that ends the session:
    /// [`Error::Timeout`] if nothing came within `timeout`. Runs on the
    /// current core's timer wheel (needs a [`sched`](crate::sched)
    /// runtime).
    ///
    /// # Errors
    ///
    /// As [`recv`](Chan::recv), and [`Error::Timeout`]; outside a corelane
    /// runtime [`Error::Io`] (`Unsupported`).
    ///
    /// # Examples
    ///
    /// ```
    /// # corelane::sched::Runtime::builder().cores([0]).pin(false).build().unwrap().block_on(async {
    /// use corelane::session::{self, End, Recv};
    /// use std::time::Duration;
    /// let (a, _b) = session::ring::pair::<Recv<u64, End>, u64>(1);
    /// let r = a.recv_timeout(Duration::from_micros(300)).await;
    /// assert!(matches!(r, Err(session::Error::Timeout)));
    /// # });
    /// ```
    pub async fn recv_timeout<M, N>(self, timeout: Duration) -> Result<(M, Chan<N, Tr, E>), Error>
    where
        S: RecvStep<Msg = M, Next = N>,
        M: Message<Tr::Payload>,
        Tr: Receiver,
    {
        match self.recv_until(deadline_after(timeout)).await? {
            Timed::Ready(r) => Ok(r),
            Timed::TimedOut(c) => {
                drop(c);
                Err(Error::Timeout)
            }
        }
    }

    /// [`recv`](Chan::recv) with a deadline that does not end the session:
    /// the channel comes back at the same step if nothing came by
    /// `deadline` (a typed timeout arm). Runs on the current core's timer
    /// wheel (needs a [`sched`](crate::sched) runtime).
    ///
    /// # Errors
    ///
    /// As [`recv_timeout`](Chan::recv_timeout), except `Timeout`.
    ///
    /// # Examples
    ///
    /// ```
    /// # corelane::sched::Runtime::builder().cores([0]).pin(false).build().unwrap().block_on(async {
    /// use corelane::session::{self, End, Recv, Timed};
    /// use std::time::{Duration, Instant};
    /// let (a, b) = session::ring::pair::<Recv<u64, End>, u64>(1);
    /// let soon = Instant::now() + Duration::from_micros(300);
    /// let Timed::TimedOut(a) = a.recv_until(soon).await? else { unreachable!() };
    /// b.send(3).await?.close();
    /// let (v, a) = a.recv().await?;
    /// assert_eq!(v, 3);
    /// a.close();
    /// # Ok::<(), session::Error>(())
    /// # }).unwrap();
    /// ```
    pub async fn recv_until<M, N>(
        mut self,
        deadline: Instant,
    ) -> Result<Timed<(M, Chan<N, Tr, E>), Self>, Error>
    where
        S: RecvStep<Msg = M, Next = N>,
        M: Message<Tr::Payload>,
        Tr: Receiver,
    {
        match until(deadline, |cx| self.tr.poll_recv(cx)).await? {
            None => Ok(Timed::TimedOut(self)),
            Some((label, p)) => {
                let v = decode(label, p)?;
                Ok(Timed::Ready((v, self.cast())))
            }
        }
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
    #[inline]
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

    /// [`recv_until`](Chan::recv_until), waiting on this thread.
    ///
    /// # Errors
    ///
    /// As [`recv`](Chan::recv).
    ///
    /// # Examples
    ///
    /// See [`Timed`].
    pub fn recv_blocking_until<M, N>(
        mut self,
        deadline: Instant,
    ) -> Result<Timed<(M, Chan<N, Tr, E>), Self>, Error>
    where
        S: RecvStep<Msg = M, Next = N>,
        M: Message<Tr::Payload>,
        Tr: BlockingReceiver,
    {
        match self.tr.recv_blocking(Some(deadline))? {
            Some((label, p)) => {
                let v = decode(label, p)?;
                Ok(Timed::Ready((v, self.cast())))
            }
            None => Ok(Timed::TimedOut(self)),
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
    #[inline]
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

    #[inline]
    fn branch<C: Offerable<Tr, E>>(self, label: u8, p: Tr::Payload) -> Result<C::Branch, Error>
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
        let (label, p) = poll_fn(|cx| self.tr.poll_recv(cx)).await?;
        self.branch::<C>(label, p)
    }

    /// [`offer`](Chan::offer) with a deadline that ends the session
    /// ([`Error::Timeout`]); needs a [`sched`](crate::sched) runtime.
    ///
    /// # Errors
    ///
    /// As [`recv_timeout`](Chan::recv_timeout).
    ///
    /// # Examples
    ///
    /// As [`recv_timeout`](Chan::recv_timeout).
    pub async fn offer_timeout<C, B>(self, timeout: Duration) -> Result<B, Error>
    where
        S: OfferStep<Choice = C>,
        C: Offerable<Tr, E, Branch = B>,
        Tr: Receiver,
    {
        match self.offer_until(deadline_after(timeout)).await? {
            Timed::Ready(b) => Ok(b),
            Timed::TimedOut(c) => {
                drop(c);
                Err(Error::Timeout)
            }
        }
    }

    /// [`offer`](Chan::offer) with a deadline that does not end the
    /// session: the channel back, at the same step, if the peer had not
    /// picked by `deadline`; needs a [`sched`](crate::sched) runtime.
    ///
    /// # Errors
    ///
    /// As [`offer`](Chan::offer).
    ///
    /// # Examples
    ///
    /// As [`recv_until`](Chan::recv_until).
    pub async fn offer_until<C, B>(mut self, deadline: Instant) -> Result<Timed<B, Self>, Error>
    where
        S: OfferStep<Choice = C>,
        C: Offerable<Tr, E, Branch = B>,
        Tr: Receiver,
    {
        match until(deadline, |cx| self.tr.poll_recv(cx)).await? {
            None => Ok(Timed::TimedOut(self)),
            Some((label, p)) => self.branch::<C>(label, p).map(Timed::Ready),
        }
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
    #[inline]
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

    /// [`offer_until`](Chan::offer_until), waiting on this thread.
    ///
    /// # Errors
    ///
    /// As [`offer`](Chan::offer).
    ///
    /// # Examples
    ///
    /// As [`recv_blocking_until`](Chan::recv_blocking_until).
    pub fn offer_blocking_until<C, B>(mut self, deadline: Instant) -> Result<Timed<B, Self>, Error>
    where
        S: OfferStep<Choice = C>,
        C: Offerable<Tr, E, Branch = B>,
        Tr: BlockingReceiver,
    {
        match self.tr.recv_blocking(Some(deadline))? {
            Some((label, p)) => self.branch::<C>(label, p).map(Timed::Ready),
            None => Ok(Timed::TimedOut(self)),
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
    #[inline]
    pub fn close(self)
    where
        S: EndStep,
    {
        drop(self.into_transport());
    }
}

fn deadline_after(d: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(d)
        .unwrap_or_else(|| now + Duration::from_secs(86_400 * 365 * 30))
}
