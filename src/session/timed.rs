//! Receives with a deadline: the typed timeout arm ([`Timed`]) and the
//! deadline that ends the session ([`Error::Timeout`]); async ones run on
//! the current core's timer wheel.

// The step signatures spell out the protocol state; naming each one
// would hide exactly what the reader needs to see.
#![allow(clippy::type_complexity)]

use core::future::{poll_fn, Future};
use core::pin::pin;
use core::task::Poll;
use std::time::{Duration, Instant};

use super::chan::{decode, Chan};
use super::choice::Offerable;
use super::error::Error;
use super::message::Message;
use super::transport::{BlockingReceiver, Endpoint, Receiver};
use super::types::{OfferStep, RecvStep};

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

/// `now + d`, or about 30 years from now where that overflows (a
/// `Duration::MAX` timeout).
pub(super) fn deadline_after(d: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(d)
        .unwrap_or_else(|| now + Duration::from_secs(86_400 * 365 * 30))
}

impl<S, Tr: Endpoint, E> Chan<S, Tr, E> {
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
        self.tr.begin_recv();
        match until(deadline, |cx| self.tr.poll_recv(cx)).await? {
            None => Ok(Timed::TimedOut(self)),
            Some((label, p)) => {
                let v = decode(label, p)?;
                Ok(Timed::Ready((v, self.cast())))
            }
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
        self.tr.begin_recv();
        match until(deadline, |cx| self.tr.poll_recv(cx)).await? {
            None => Ok(Timed::TimedOut(self)),
            Some((label, p)) => self.branch::<C>(label, p).map(Timed::Ready),
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
}
