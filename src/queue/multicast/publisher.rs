//! Publishers: the single-producer [`Publisher`] and the cloneable
//! [`MultiPublisher`]. The protocol (gating, claims, lossy marking) and its
//! ground rules are in `claim.rs`.

use std::fmt;
use std::marker::PhantomData;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::claim::ClaimState;
use super::ring::Ring;
use super::Joiner;
use crate::queue::wait::{self, SendFuture, WaitStrategy};
use crate::queue::{Disconnected, PushError, PushTimeoutError};
use crate::sync::Arc;

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::Single {}
    impl Sealed for super::Multi {}
}

/// How a [`Publisher`] claims positions: [`Single`] (one thread publishes;
/// plain stores) or [`Multi`] (the handle is `Clone`; claims by CAS).
///
/// # Examples
///
/// ```
/// use corelane::queue::multicast::{Builder, Multi, Publisher};
///
/// let (tx, _h): (Publisher<u8, Multi>, _) = Builder::new(4, || 0u8).build_multi().unwrap();
/// let _tx2 = tx.clone();
/// ```
pub trait Mode: sealed::Sealed + 'static {
    #[doc(hidden)]
    const MULTI: bool;
}

/// One publishing thread (the default [`Mode`]).
///
/// # Examples
///
/// ```
/// use corelane::queue::multicast::{Publisher, Single};
///
/// let (tx, _cs) = corelane::queue::multicast::broadcast(4, || 0u8, 1);
/// let _: &Publisher<u8, Single> = &tx;
/// ```
#[derive(Debug)]
pub enum Single {}

/// Many publishing threads, each with a clone of the handle.
///
/// # Examples
///
/// ```
/// use corelane::queue::multicast::{Builder, MultiPublisher};
///
/// let (tx, _h) = Builder::new(4, || 0u8).build_multi().unwrap();
/// let _: MultiPublisher<u8> = tx;
/// ```
#[derive(Debug)]
pub enum Multi {}

impl Mode for Single {
    const MULTI: bool = false;
}

impl Mode for Multi {
    const MULTI: bool = true;
}

/// A publisher that many threads share, each through its own clone.
pub type MultiPublisher<T> = Publisher<T, Multi>;

/// The producing end of a multicast ring. Pushes fill a preallocated slot
/// in place (`push_with`: the closure gets `&mut T`), or move a value in
/// (`push`).
///
/// `Publisher<T>` (mode [`Single`]) is for one thread; [`MultiPublisher<T>`]
/// is `Clone`. Dropping every publisher ends the stream: cursors read what
/// is left, then see `Disconnected`.
///
/// The calls follow the [vocabulary](crate::queue#one-vocabulary) of every
/// ring, with one addition: a push that succeeds returns the item's
/// sequence number (`Ok(u64)`), which cursors see in
/// [`Item::sequence`](super::Item::sequence). [`send`](Self::send) is the
/// exception: its [`SendFuture`] completes with `()`, like every ring's.
/// Errors hand back the value (or the filling closure, uncalled).
///
/// # Examples
///
/// ```
/// use corelane::queue::multicast;
///
/// #[derive(Default)]
/// struct Order { id: u64, qty: u32 }
///
/// let (mut tx, mut cs) = multicast::broadcast(1024, Order::default, 1);
/// tx.push_with(|o| { o.id = 7; o.qty = 100; }).unwrap();
/// let o = cs[0].pop().unwrap();
/// assert_eq!((o.id, o.qty), (7, 100));
/// ```
pub struct Publisher<T, M: Mode = Single> {
    ring: Arc<Ring<T>>,
    state: ClaimState,
    _mode: PhantomData<fn() -> M>,
}

impl<T, M: Mode> fmt::Debug for Publisher<T, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("multicast::Publisher")
            .field("multi", &M::MULTI)
            .field("sequence", &self.sequence())
            .field("capacity", &self.capacity())
            .finish()
    }
}

impl<T, M: Mode> Publisher<T, M> {
    pub(crate) fn new(ring: Arc<Ring<T>>) -> Self {
        let state = ClaimState::new(&ring, 0);
        Publisher {
            ring,
            state,
            _mode: PhantomData,
        }
    }

    /// Publishes `value` (moved into the slot; the slot's previous value is
    /// dropped), returning its sequence number. Never blocks.
    ///
    /// # Errors
    ///
    /// [`PushError::Full`] (with the value) if the slowest gating node has
    /// not released the slot; [`PushError::Disconnected`] if no subscriber is
    /// left (the item would reach nobody; a later join makes pushing work
    /// again). Never [`PushError::Busy`].
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::{multicast, PushError};
    ///
    /// let (mut tx, cs) = multicast::broadcast(1, || 0u32, 1);
    /// assert_eq!(tx.push(1), Ok(0));
    /// assert_eq!(tx.push(2), Err(PushError::Full(2)));
    /// drop(cs);
    /// assert_eq!(tx.push(3), Err(PushError::Disconnected(3)));
    /// ```
    #[inline]
    pub fn push(&mut self, value: T) -> Result<u64, PushError<T>> {
        self.state
            .put::<T, M, T, _>(&self.ring, true, value, |v, slot| *slot = v)
    }

    /// Fills the next slot in place with `fill` and publishes it, returning
    /// its sequence number. Never blocks. The slot holds whatever the last
    /// lap left there (or the factory's value): `fill` should set every
    /// field it cares about. If `fill` panics, the slot is published anyway,
    /// holding whatever `fill` left.
    ///
    /// # Errors
    ///
    /// As [`push`](Self::push); the closure is handed back uncalled.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut cs) = corelane::queue::multicast::broadcast(4, Vec::<u8>::new, 1);
    /// tx.push_with(|v| { v.clear(); v.extend_from_slice(b"abc"); }).unwrap();
    /// assert_eq!(&cs[0].pop().unwrap()[..], b"abc");
    /// ```
    #[inline]
    pub fn push_with<F: FnOnce(&mut T)>(&mut self, fill: F) -> Result<u64, PushError<F>> {
        self.state
            .put::<T, M, F, _>(&self.ring, true, fill, |f, slot| f(slot))
    }

    /// [`push`](Self::push) without the wake-up check, to measure what the
    /// check costs. Parked readers are not woken. Only with the
    /// `bench-internals` feature.
    #[cfg(feature = "bench-internals")]
    #[doc(hidden)]
    #[inline]
    pub fn __push_without_notify(&mut self, value: T) -> Result<u64, PushError<T>> {
        self.state
            .put::<T, M, T, _>(&self.ring, false, value, |v, slot| *slot = v)
    }

    /// Publishes `value`, waiting per `strategy` while the ring is full.
    ///
    /// # Errors
    ///
    /// [`Disconnected`] (with the value) if no subscriber is left.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::{multicast, wait::WaitStrategy};
    ///
    /// let (mut tx, mut cs) = multicast::broadcast(1, || 0u32, 1);
    /// tx.push_blocking(1, WaitStrategy::Park).unwrap();
    /// let mut c = cs.pop().unwrap();
    /// let t = std::thread::spawn(move || {
    ///     let first = *c.pop_blocking(WaitStrategy::Park).unwrap();
    ///     (first, c) // keep the cursor subscribed
    /// });
    /// tx.push_blocking(2, WaitStrategy::Park).unwrap(); // waits for the release
    /// assert_eq!(t.join().unwrap().0, 1);
    /// ```
    pub fn push_blocking(
        &mut self,
        value: T,
        strategy: WaitStrategy,
    ) -> Result<u64, Disconnected<T>> {
        self.blocking(value, strategy, |state, ring, v| {
            state.put::<T, M, T, _>(ring, true, v, |v, slot| *slot = v)
        })
    }

    /// Fills the next slot in place, waiting per `strategy` while the ring
    /// is full.
    ///
    /// # Errors
    ///
    /// [`Disconnected`] (with the closure, uncalled) if no subscriber is
    /// left.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::{multicast, wait::WaitStrategy};
    ///
    /// let (mut tx, mut cs) = multicast::broadcast(2, || 0u32, 1);
    /// tx.push_with_blocking(|v| *v = 5, WaitStrategy::Backoff).unwrap();
    /// assert_eq!(*cs[0].pop().unwrap(), 5);
    /// ```
    pub fn push_with_blocking<F: FnOnce(&mut T)>(
        &mut self,
        fill: F,
        strategy: WaitStrategy,
    ) -> Result<u64, Disconnected<F>> {
        self.blocking(fill, strategy, |state, ring, f| {
            state.put::<T, M, F, _>(ring, true, f, |f, slot| f(slot))
        })
    }

    /// Publishes `value`, waiting per `strategy` at most `timeout` while the
    /// ring is full.
    ///
    /// # Errors
    ///
    /// [`PushTimeoutError::Timeout`] (with the value) if no slot was
    /// released in time; [`PushTimeoutError::Disconnected`] (with the value)
    /// if no subscriber is left.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::{multicast, wait::WaitStrategy, PushTimeoutError};
    /// use std::time::Duration;
    ///
    /// let (mut tx, _cs) = multicast::broadcast(1, || 0u8, 1);
    /// let wait = Duration::from_millis(1);
    /// assert_eq!(tx.push_timeout(1, wait, WaitStrategy::Park), Ok(0));
    /// assert_eq!(tx.push_timeout(2, wait, WaitStrategy::Park), Err(PushTimeoutError::Timeout(2)));
    /// ```
    pub fn push_timeout(
        &mut self,
        value: T,
        timeout: Duration,
        strategy: WaitStrategy,
    ) -> Result<u64, PushTimeoutError<T>> {
        let deadline = wait::deadline_after(timeout);
        self.until(value, strategy, deadline, |state, ring, v| {
            state.put::<T, M, T, _>(ring, true, v, |v, slot| *slot = v)
        })
    }

    /// Publishes `value`, waiting per `strategy` until `deadline` while the
    /// ring is full (a deadline in the past still tries once).
    ///
    /// # Errors
    ///
    /// As [`push_timeout`](Self::push_timeout).
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::{multicast, wait::WaitStrategy};
    /// use std::time::Instant;
    ///
    /// let (mut tx, mut cs) = multicast::broadcast(1, || 0u8, 1);
    /// assert_eq!(tx.push_until(1, Instant::now(), WaitStrategy::Yield), Ok(0));
    /// assert!(tx.push_until(2, Instant::now(), WaitStrategy::Yield).is_err());
    /// assert_eq!(*cs[0].pop().unwrap(), 1);
    /// ```
    pub fn push_until(
        &mut self,
        value: T,
        deadline: Instant,
        strategy: WaitStrategy,
    ) -> Result<u64, PushTimeoutError<T>> {
        self.until(value, strategy, Some(deadline), |state, ring, v| {
            state.put::<T, M, T, _>(ring, true, v, |v, slot| *slot = v)
        })
    }

    /// Fills the next slot in place, waiting per `strategy` at most
    /// `timeout` while the ring is full.
    ///
    /// # Errors
    ///
    /// As [`push_timeout`](Self::push_timeout), with the closure handed back
    /// uncalled.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::{multicast, wait::WaitStrategy};
    /// use std::time::Duration;
    ///
    /// let (mut tx, _cs) = multicast::broadcast(1, || 0u8, 1);
    /// let wait = Duration::from_millis(1);
    /// assert_eq!(tx.push_with_timeout(|v| *v = 1, wait, WaitStrategy::Park).ok(), Some(0));
    /// assert!(tx.push_with_timeout(|v| *v = 2, wait, WaitStrategy::Park).is_err());
    /// ```
    pub fn push_with_timeout<F: FnOnce(&mut T)>(
        &mut self,
        fill: F,
        timeout: Duration,
        strategy: WaitStrategy,
    ) -> Result<u64, PushTimeoutError<F>> {
        let deadline = wait::deadline_after(timeout);
        self.until(fill, strategy, deadline, |state, ring, f| {
            state.put::<T, M, F, _>(ring, true, f, |f, slot| f(slot))
        })
    }

    /// Fills the next slot in place, waiting per `strategy` until `deadline`
    /// while the ring is full.
    ///
    /// # Errors
    ///
    /// As [`push_with_timeout`](Self::push_with_timeout).
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::{multicast, wait::WaitStrategy};
    /// use std::time::Instant;
    ///
    /// let (mut tx, mut cs) = multicast::broadcast(2, || 0u8, 1);
    /// tx.push_with_until(|v| *v = 3, Instant::now(), WaitStrategy::Yield).unwrap();
    /// assert_eq!(*cs[0].pop().unwrap(), 3);
    /// ```
    pub fn push_with_until<F: FnOnce(&mut T)>(
        &mut self,
        fill: F,
        deadline: Instant,
        strategy: WaitStrategy,
    ) -> Result<u64, PushTimeoutError<F>> {
        self.until(fill, strategy, Some(deadline), |state, ring, f| {
            state.put::<T, M, F, _>(ring, true, f, |f, slot| f(slot))
        })
    }

    /// Publishes `value`, waiting asynchronously while the ring is full.
    /// Works under any executor (it registers the task's
    /// [`Waker`](std::task::Waker)).
    ///
    /// The returned [`SendFuture`] owns `value` until it completes; see its
    /// docs for cancel safety (a pending send dropped in a `select!` drops
    /// the value unless you take it back with [`SendFuture::cancel`]). It
    /// completes with `()`: read [`sequence`](Self::sequence) first if you
    /// need the item's number (a single publisher's is exact).
    ///
    /// # Errors
    ///
    /// [`Disconnected`] (with the value) if no subscriber is left.
    ///
    /// # Examples
    ///
    /// ```
    /// # let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// # rt.block_on(async {
    /// let (mut tx, mut cs) = corelane::queue::multicast::broadcast(2, || 0u32, 1);
    /// tx.send(3).await.unwrap();
    /// assert_eq!(*cs[0].recv().await.unwrap(), 3);
    /// # });
    /// ```
    pub fn send(
        &mut self,
        value: T,
    ) -> SendFuture<'_, T, impl FnMut(T) -> Result<(), PushError<T>> + Unpin + '_> {
        let Publisher { ring, state, .. } = self;
        let ring: &Ring<T> = ring;
        SendFuture::new(&ring.released, value, move |v| {
            state
                .put::<T, M, T, _>(ring, true, v, |v, slot| *slot = v)
                .map(drop)
        })
    }

    /// `Ready(Ok(()))` once a [`push`](Self::push) would find a free slot
    /// (for a single publisher it stays free until it pushes; with many,
    /// another clone may take it first), `Ready(Err(Disconnected))` if no
    /// subscriber is left, else `Pending` with the task's waker registered
    /// to be woken by the next release. The `Sink::poll_ready` half of a
    /// hand-written sink.
    ///
    /// # Errors
    ///
    /// `Ready(Err(Disconnected))` while no subscriber is left.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::task::{Context, Poll, Waker};
    ///
    /// let (mut tx, mut cs) = corelane::queue::multicast::broadcast(1, || 0u8, 1);
    /// let mut cx = Context::from_waker(Waker::noop());
    /// assert_eq!(tx.poll_ready(&mut cx), Poll::Ready(Ok(())));
    /// tx.push(1).unwrap();
    /// assert!(tx.poll_ready(&mut cx).is_pending());
    /// drop(cs[0].pop().unwrap());
    /// assert_eq!(tx.poll_ready(&mut cx), Poll::Ready(Ok(())));
    /// ```
    pub fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Disconnected>> {
        let Publisher { ring, state, .. } = self;
        wait::poll_retry(&ring.released, cx, || {
            match state.has_room::<T, M>(ring, 1) {
                Ok(true) => Some(Ok(())),
                Ok(false) => None,
                Err(e) => Some(Err(e)),
            }
        })
    }

    /// Fills `n` consecutive slots in place — `fill(i, slot)` for `i` in
    /// `0..n` — and publishes them together with one fence; returns the
    /// first one's sequence number. All or nothing: never fewer than `n`.
    /// Never blocks. `n == 0` publishes nothing.
    ///
    /// # Errors
    ///
    /// [`PushError::Full`] (with the closure, uncalled) if fewer than `n`
    /// slots are free; [`PushError::Disconnected`] if no subscriber is left.
    ///
    /// # Panics
    ///
    /// If `n` exceeds the capacity (it could never fit).
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut cs) = corelane::queue::multicast::broadcast(8, || 0u32, 1);
    /// assert_eq!(tx.push_batch(3, |i, v| *v = i as u32).unwrap(), 0);
    /// assert!(tx.push_batch(6, |_, _| {}).is_err());
    /// assert_eq!(cs[0].pop_batch(8).unwrap().len(), 3);
    /// ```
    #[inline]
    pub fn push_batch<F: FnMut(usize, &mut T)>(
        &mut self,
        n: usize,
        fill: F,
    ) -> Result<u64, PushError<F>> {
        self.state.put_batch::<T, M, F>(&self.ring, n, fill)
    }

    /// Like [`push_batch`](Self::push_batch), waiting per `strategy` until
    /// `n` slots are free.
    ///
    /// # Errors
    ///
    /// [`Disconnected`] (with the closure) if no subscriber is left.
    ///
    /// # Panics
    ///
    /// If `n` exceeds the capacity.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::wait::WaitStrategy;
    ///
    /// let (mut tx, mut cs) = corelane::queue::multicast::broadcast(4, || 0u32, 1);
    /// tx.push_batch_blocking(4, |i, v| *v = i as u32, WaitStrategy::Yield).unwrap();
    /// assert_eq!(cs[0].pop_batch(4).unwrap().len(), 4);
    /// ```
    pub fn push_batch_blocking<F: FnMut(usize, &mut T)>(
        &mut self,
        n: usize,
        fill: F,
        strategy: WaitStrategy,
    ) -> Result<u64, Disconnected<F>> {
        self.blocking(fill, strategy, |state, ring, f| {
            state.put_batch::<T, M, F>(ring, n, f)
        })
    }

    /// Like [`push_batch`](Self::push_batch), waiting per `strategy` at most
    /// `timeout` until `n` slots are free.
    ///
    /// # Errors
    ///
    /// [`PushTimeoutError::Timeout`] (with the closure) if `n` slots were not
    /// free in time; [`PushTimeoutError::Disconnected`] (with the closure)
    /// if no subscriber is left.
    ///
    /// # Panics
    ///
    /// If `n` exceeds the capacity.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::wait::WaitStrategy;
    /// use std::time::Duration;
    ///
    /// let (mut tx, _cs) = corelane::queue::multicast::broadcast(4, || 0u32, 1);
    /// let wait = Duration::from_millis(1);
    /// assert!(tx.push_batch_timeout(3, |_, _| {}, wait, WaitStrategy::Park).is_ok());
    /// let r = tx.push_batch_timeout(3, |_, _| {}, wait, WaitStrategy::Park);
    /// assert!(r.is_err_and(|e| !e.is_disconnected()));
    /// ```
    pub fn push_batch_timeout<F: FnMut(usize, &mut T)>(
        &mut self,
        n: usize,
        fill: F,
        timeout: Duration,
        strategy: WaitStrategy,
    ) -> Result<u64, PushTimeoutError<F>> {
        let deadline = wait::deadline_after(timeout);
        self.until(fill, strategy, deadline, |state, ring, f| {
            state.put_batch::<T, M, F>(ring, n, f)
        })
    }

    /// Like [`push_batch`](Self::push_batch), waiting per `strategy` until
    /// `deadline` for `n` free slots.
    ///
    /// # Errors
    ///
    /// As [`push_batch_timeout`](Self::push_batch_timeout).
    ///
    /// # Panics
    ///
    /// If `n` exceeds the capacity.
    ///
    /// # Examples
    ///
    /// ```
    /// use corelane::queue::wait::WaitStrategy;
    /// use std::time::Instant;
    ///
    /// let (mut tx, mut cs) = corelane::queue::multicast::broadcast(4, || 0u32, 1);
    /// tx.push_batch_until(2, |i, v| *v = i as u32, Instant::now(), WaitStrategy::Yield).unwrap();
    /// assert_eq!(cs[0].pop_batch(4).unwrap().len(), 2);
    /// ```
    pub fn push_batch_until<F: FnMut(usize, &mut T)>(
        &mut self,
        n: usize,
        fill: F,
        deadline: Instant,
        strategy: WaitStrategy,
    ) -> Result<u64, PushTimeoutError<F>> {
        self.until(fill, strategy, Some(deadline), |state, ring, f| {
            state.put_batch::<T, M, F>(ring, n, f)
        })
    }

    /// The wait of every blocking push: retries `put` per `strategy` (the
    /// shared loop of [`wait::push_blocking`]), keeping its sequence number.
    fn blocking<V>(
        &mut self,
        value: V,
        strategy: WaitStrategy,
        mut put: impl FnMut(&mut ClaimState, &Ring<T>, V) -> Result<u64, PushError<V>>,
    ) -> Result<u64, Disconnected<V>> {
        let Publisher { ring, state, .. } = self;
        let mut seq = 0;
        wait::push_blocking(strategy, &ring.released, value, |v| {
            put(state, ring, v).map(|s| seq = s)
        })?;
        Ok(seq)
    }

    /// The wait of every push with a deadline ([`wait::push_until`]).
    fn until<V>(
        &mut self,
        value: V,
        strategy: WaitStrategy,
        deadline: Option<Instant>,
        mut put: impl FnMut(&mut ClaimState, &Ring<T>, V) -> Result<u64, PushError<V>>,
    ) -> Result<u64, PushTimeoutError<V>> {
        let Publisher { ring, state, .. } = self;
        let mut seq = 0;
        wait::push_until(strategy, &ring.released, deadline, value, |v| {
            put(state, ring, v).map(|s| seq = s)
        })?;
        Ok(seq)
    }

    /// Items published and not yet released by every gating node (every
    /// node but lossy cursors): how far the slowest one is behind. May only
    /// shrink concurrently (for many publishers: and grow by the others'
    /// claims). Reads the gating positions (under the registry lock if the
    /// graph changed since this handle last looked).
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, mut cs) = corelane::queue::multicast::broadcast(4, || 0u8, 2);
    /// tx.push(1).unwrap();
    /// tx.push(2).unwrap();
    /// drop(cs[0].pop_batch(2).unwrap());
    /// assert_eq!(tx.len(), 2, "cs[1] has read nothing");
    /// ```
    pub fn len(&self) -> usize {
        let own = self.state.own::<T, M>(&self.ring);
        let floor = self.state.floor(&self.ring, own);
        (own.wrapping_sub(floor) as isize).max(0) as usize
    }

    /// True if every gating node has released everything published.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _cs) = corelane::queue::multicast::broadcast(4, || 0u8, 1);
    /// assert!(tx.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Slots a push could fill now: the capacity less [`len`](Self::len).
    /// For a single publisher a snapshot that can only grow until it
    /// pushes.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, _cs) = corelane::queue::multicast::broadcast(4, || 0u8, 1);
    /// tx.push(1).unwrap();
    /// assert_eq!(tx.free_len(), 3);
    /// ```
    pub fn free_len(&self) -> usize {
        self.capacity().saturating_sub(self.len())
    }

    /// True if no slot is free now; for a single publisher, a `false`
    /// guarantees the next [`push`](Self::push) finds room (unless every
    /// subscriber leaves meanwhile).
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, _cs) = corelane::queue::multicast::broadcast(1, || 0u8, 1);
    /// tx.push(1).unwrap();
    /// assert!(tx.is_full());
    /// ```
    pub fn is_full(&self) -> bool {
        self.free_len() == 0
    }

    /// Number of slots (a power of two).
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _cs) = corelane::queue::multicast::broadcast(1000, || 0u8, 1);
    /// assert_eq!(tx.capacity(), 1024);
    /// ```
    pub fn capacity(&self) -> usize {
        self.ring.capacity()
    }

    /// True while no subscriber is left (pushes fail with `Disconnected`).
    /// Unlike the rings, this can end: a subscriber that joins through a
    /// [`Joiner`] reconnects the publisher.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, cs) = corelane::queue::multicast::broadcast(4, || 0u8, 1);
    /// let joiner = tx.joiner();
    /// drop(cs);
    /// assert!(tx.is_disconnected());
    /// let _late = joiner.subscribe();
    /// assert!(!tx.is_disconnected());
    /// ```
    pub fn is_disconnected(&self) -> bool {
        self.state.live(&self.ring) == 0
    }

    /// The sequence number the next push gets (for many publishers: the
    /// next unclaimed one, a snapshot).
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, _cs) = corelane::queue::multicast::broadcast(4, || 0u8, 1);
    /// tx.push(1).unwrap();
    /// assert_eq!(tx.sequence(), 1);
    /// ```
    pub fn sequence(&self) -> u64 {
        self.state.own::<T, M>(&self.ring) as u64
    }

    /// Live subscriber handles (cursors, workers, lossy cursors). Takes the
    /// registry lock: for monitoring, not for the hot path.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, mut cs) = corelane::queue::multicast::broadcast(4, || 0u8, 2);
    /// cs.pop();
    /// assert_eq!(tx.subscribers(), 1);
    /// ```
    pub fn subscribers(&self) -> usize {
        self.ring.registry.lock().live()
    }

    /// A handle to subscribe cursors to this ring at run time.
    ///
    /// # Examples
    ///
    /// ```
    /// let (mut tx, _cs) = corelane::queue::multicast::broadcast(4, || 0u8, 1);
    /// tx.push(1).unwrap();
    /// let late = tx.joiner().subscribe();
    /// assert_eq!(late.sequence(), 1); // starts at the published position
    /// ```
    pub fn joiner(&self) -> Joiner<T> {
        Joiner::new(self.ring.clone())
    }
}

impl<T> Clone for Publisher<T, Multi> {
    fn clone(&self) -> Self {
        self.ring.add_publisher();
        let own = self.ring.producer.get_relaxed();
        Publisher {
            ring: self.ring.clone(),
            state: ClaimState::new(&self.ring, own),
            _mode: PhantomData,
        }
    }
}

impl<T, M: Mode> Drop for Publisher<T, M> {
    fn drop(&mut self) {
        let at = (!M::MULTI).then_some(self.state.next());
        self.ring.remove_publisher(at);
    }
}
